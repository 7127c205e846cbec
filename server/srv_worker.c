/* Worker event loops: accept, epoll dispatch, timers, directory answers. */
#include "server/srv_worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "server/srv_event.h"
#include "server/srv_relay.h"

#define ACCEPT_BATCH 64

/* Open one listening socket with SO_REUSEPORT on addr. */
static enum cg_err listen_on(const struct srv_addr *a, int *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	int fd = -1, one = 1;

	snprintf(port, sizeof(port), "%u", a->port);
	int rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s: %s", a->text, gai_strerror(rc));
		return CG_ERR_ARG;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0)
		goto fail;
	freeaddrinfo(res);
	*out = fd;
	return CG_OK;
fail:
	snprintf(err, errlen, "listen %s: %s", a->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return CG_ERR_IO;
}

enum cg_err srv_worker_init(struct srv_worker *w, unsigned index, struct srv_shared *shared,
			    struct srv_runtime *rt, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	w->shared = shared;
	w->epfd = -1;
	w->wake.kind = SRV_FD_WAKE;
	w->wake.fd = -1;
	pthread_mutex_init(&w->done_lock, NULL);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->wake.fd < 0) {
		snprintf(err, errlen, "worker %u: %s", index, strerror(errno));
		return CG_ERR_IO;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->wake };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake.fd, &ev) != 0) {
		snprintf(err, errlen, "worker %u: epoll: %s", index, strerror(errno));
		return CG_ERR_IO;
	}
	for (size_t i = 0; i < rt->cfg->n_listen && i < sizeof(w->listeners) / sizeof(w->listeners[0]); i++) {
		struct srv_listener *l = &w->listeners[i];
		l->kind = SRV_FD_LISTENER;
		snprintf(l->text, sizeof(l->text), "%s", rt->cfg->listen[i].text);
		CG_GUARD(listen_on(&rt->cfg->listen[i], &l->fd, err, errlen));
		w->n_listeners++;
		struct epoll_event lev = { .events = EPOLLIN, .data.ptr = l };
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, l->fd, &lev) != 0) {
			snprintf(err, errlen, "listen %s: epoll: %s", l->text, strerror(errno));
			return CG_ERR_IO;
		}
	}
	w->listening = true;
	w->rt = srv_runtime_ref(rt);
	return CG_OK;
}

void srv_worker_wake(struct srv_worker *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->wake.fd, &one, sizeof(one));
	(void)n;  /* a full counter already means "wake up" */
}

void srv_worker_epoll_set(struct srv_worker *w, int fd, void *ptr, uint32_t *cur, uint32_t events,
			  const char *who)
{
	if (events == *cur)
		return;
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	int op = *cur == 0 ? EPOLL_CTL_ADD : (events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
	if (epoll_ctl(w->epfd, op, fd, &ev) != 0)
		cg_err_log("%s: epoll_ctl: %s", who, strerror(errno));
	*cur = events;
}

void srv_worker_poll(struct srv_worker *w, struct srv_conn *c, uint32_t events)
{
	srv_worker_epoll_set(w, c->fd, c, &c->epoll_events, events, c->peer);
}

/* Timers: one FIFO list per kind. Deadlines within a list are (nearly) in
 * order because each kind has one timeout per runtime; the loop checks the
 * heads only. */
void srv_worker_timer_clear(struct srv_worker *w, struct srv_conn *c)
{
	if (c->timer == SRV_TIMER_NONE)
		return;
	unsigned k = c->timer;
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		w->timers_head[k] = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	else
		w->timers_tail[k] = c->tprev;
	c->tprev = c->tnext = NULL;
	c->timer = SRV_TIMER_NONE;
}

void srv_worker_timer_set(struct srv_worker *w, struct srv_conn *c, enum srv_timer_list list,
			  uint64_t deadline_ms)
{
	srv_worker_timer_clear(w, c);
	c->timer = list;
	c->deadline_ms = deadline_ms;
	c->tprev = w->timers_tail[list];
	c->tnext = NULL;
	if (c->tprev)
		c->tprev->tnext = c;
	else
		w->timers_head[list] = c;
	w->timers_tail[list] = c;
}

#define SRV_RECHECK_DEFAULT_MS 300000  /* without a [directory]: CRLs and dates */

void srv_worker_recheck_cancel(struct srv_worker *w, struct srv_conn *c)
{
	if (!c->rc_listed)
		return;
	if (c->rc_prev)
		c->rc_prev->rc_next = c->rc_next;
	else
		w->rc_head = c->rc_next;
	if (c->rc_next)
		c->rc_next->rc_prev = c->rc_prev;
	else
		w->rc_tail = c->rc_prev;
	c->rc_prev = c->rc_next = NULL;
	c->rc_listed = false;
}

void srv_worker_recheck_schedule(struct srv_worker *w, struct srv_conn *c)
{
	uint64_t every = w->rt->has_directory ? w->rt->cfg->dir.recheck_interval_ms : SRV_RECHECK_DEFAULT_MS;
	srv_worker_recheck_cancel(w, c);
	if (every == 0)
		return;
	c->recheck_ms = cg_mono_ms() + every;
	c->rc_prev = w->rc_tail;
	c->rc_next = NULL;
	if (w->rc_tail)
		w->rc_tail->rc_next = c;
	else
		w->rc_head = c;
	w->rc_tail = c;
	c->rc_listed = true;
}

/* Re-check now every listed connection for which want() says so. */
static void recheck_listed(struct srv_worker *w, bool (*want)(struct srv_worker *w, struct srv_conn *c))
{
	/* the list is rebuilt as re-checks reschedule: walk a detached copy */
	struct srv_conn *list = w->rc_head;
	unsigned n = 0;
	for (struct srv_conn *c = list; c != NULL; c = c->rc_next)
		n++;
	struct srv_conn **due = calloc(n ? n : 1, sizeof(*due));
	if (due == NULL)
		return;
	unsigned k = 0;
	for (struct srv_conn *c = list; c != NULL && k < n; c = c->rc_next)
		if (want == NULL || want(w, c))
			due[k++] = c;
	for (unsigned i = 0; i < k; i++)
		srv_conn_recheck(due[i]);
	free(due);
}

/* After a sync invalidation: has this connection's decision left the cache? */
static bool decision_dropped(struct srv_worker *w, struct srv_conn *c)
{
	struct dir_result r;
	if (!c->directory_used)
		return false;
	if (dir_cache_get(w->shared->cache, c->facts->sha256, w->rt->generation, cg_mono_ms(), false, &r) ==
	    DIR_CACHE_MISS)
		return true;
	dir_result_clear(&r);
	return false;
}

void srv_worker_conn_add(struct srv_worker *w, struct srv_conn *c)
{
	c->prev = NULL;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	api_stats_conn_open(w->stats);
}

void srv_worker_conn_gone(struct srv_worker *w, struct srv_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	atomic_fetch_sub(&w->shared->active, 1);
	api_stats_conn_close(w->stats);
}

void srv_worker_directory_done(struct dir_job *job)
{
	struct srv_conn *c = job->owner;
	struct srv_worker *w = c->w;
	pthread_mutex_lock(&w->done_lock);
	job->next = w->done;
	w->done = job;
	pthread_mutex_unlock(&w->done_lock);
	srv_worker_wake(w);
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(a->sin_port));
	}
}

/* Refresh the cached runtime when a reload installed a new one. */
static void refresh_runtime(struct srv_worker *w)
{
	if (w->rt != NULL && w->rt->generation == srv_runtime_current_generation())
		return;
	struct srv_runtime *rt = srv_runtime_current();
	if (rt == NULL)
		return;
	srv_runtime_unref(w->rt);
	w->rt = rt;
}

static void overloaded(struct srv_worker *w, int fd, const char *peer, const char *listener)
{
	struct srv_event_input in = {
		.wall_us = cg_wall_us(), .peer = peer, .listener = listener,
		.reason = CG_REASON_OVERLOADED, .detail = "max_connections reached",
	};
	close(fd);
	api_stats_handshake(w->stats, CG_REASON_OVERLOADED, 0);
	srv_event_emit(srv_event_build(&in));
}

static void on_accept(struct srv_worker *w, struct srv_listener *l)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cg_warn("accept on %s: %s", l->text, strerror(errno));
			return;
		}
		char peer[64];
		format_peer(&ss, peer, sizeof(peer));
		refresh_runtime(w);
		uint64_t active = atomic_fetch_add(&w->shared->active, 1);
		if (active >= w->rt->cfg->max_connections) {
			atomic_fetch_sub(&w->shared->active, 1);
			overloaded(w, fd, peer, l->text);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* listener text lives in the worker, which outlives its connections */
		/* on failure srv_conn_new has closed fd and given back the slot */
		(void)srv_conn_new(w, fd, peer, l->text, w->rt);
	}
}

/* Returns whether there was anything to hand back. */
static bool on_wake(struct srv_worker *w)
{
	uint64_t v;
	while (read(w->wake.fd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&w->done_lock);
	struct dir_job *list = w->done;
	struct srv_conn *audits = w->audit_done;
	w->done = NULL;
	w->audit_done = NULL;
	pthread_mutex_unlock(&w->done_lock);
	bool any = list != NULL || audits != NULL;
	while (audits != NULL) {
		struct srv_conn *next = audits->audit_next;
		srv_conn_on_audit(audits);
		audits = next;
	}
	while (list != NULL) {
		struct dir_job *next = list->next;
		struct srv_conn *c = list->owner;
		if (list == c->rjob)
			srv_conn_on_recheck(c);
		else
			srv_conn_on_directory(c);
		list = next;
	}
	if (!atomic_load(&w->shared->stopping) && w->rt != NULL &&
	    w->rt->generation != srv_runtime_current_generation()) {
		refresh_runtime(w);
		recheck_listed(w, NULL);  /* a reload: every open connection under the new rules */
	}
	return any;
}

void srv_workers_drain(struct srv_worker *workers, unsigned n)
{
	for (bool any = true; any;) {
		any = false;
		for (unsigned i = 0; i < n; i++)
			any |= on_wake(&workers[i]);
	}
}

static void close_listeners(struct srv_worker *w)
{
	for (unsigned i = 0; i < w->n_listeners; i++) {
		if (w->listeners[i].fd >= 0) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[i].fd, NULL);
			close(w->listeners[i].fd);
			w->listeners[i].fd = -1;
		}
	}
	w->listening = false;
}

/* Run expired timers; returns the epoll timeout until the next one. */
static int run_timers(struct srv_worker *w)
{
	uint64_t now = cg_mono_ms();
	int timeout = 1000;
	struct dir_cache *cache = w->shared->cache;
	if (cache != NULL && w->rc_head != NULL && dir_cache_epoch(cache) != w->cache_epoch_seen) {
		w->cache_epoch_seen = dir_cache_epoch(cache);
		recheck_listed(w, decision_dropped);  /* sync dropped decisions: check those now */
	}
	for (int n = 0; n < 1024 && w->rc_head != NULL && w->rc_head->recheck_ms <= now; n++)
		srv_conn_recheck(w->rc_head);  /* takes it off the list; back at the tail when still allowed */
	for (unsigned k = 1; k < 3; k++) {
		/* a bounded number per round keeps the loop responsive */
		for (int n = 0; n < 1024 && w->timers_head[k] != NULL; n++) {
			struct srv_conn *c = w->timers_head[k];
			if (c->deadline_ms > now) {
				uint64_t d = c->deadline_ms - now;
				if (d < (uint64_t)timeout)
					timeout = (int)d;
				break;
			}
			srv_worker_timer_clear(w, c);
			srv_conn_on_timeout(c);
		}
	}
	return timeout;
}

static void *worker_main(void *arg)
{
	struct srv_worker *w = arg;
	struct epoll_event evs[128];

	for (;;) {
		int timeout = run_timers(w);
		if (atomic_load(&w->shared->stopping)) {
			if (w->listening)
				close_listeners(w);
			uint64_t now = cg_mono_ms();
			if (w->n_conns == 0 || now >= w->shared->stop_deadline_ms)
				break;
			uint64_t left = w->shared->stop_deadline_ms - now;
			if (left < (uint64_t)timeout)
				timeout = (int)left;
		}
		int n = epoll_wait(w->epfd, evs, 128, timeout);
		if (n < 0 && errno != EINTR) {
			cg_err_log("worker %u: epoll_wait: %s", w->index, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			enum srv_fd_kind *kind = evs[i].data.ptr;
			switch (*kind) {
			case SRV_FD_LISTENER:
				if (w->listening)
					on_accept(w, evs[i].data.ptr);
				break;
			case SRV_FD_WAKE:
				(void)on_wake(w);
				break;
			case SRV_FD_CONN:
				srv_conn_on_io(evs[i].data.ptr, evs[i].events);
				break;
			case SRV_FD_BACKEND:
				srv_relay_on_backend(evs[i].data.ptr, evs[i].events);
				break;
			}
		}
		srv_relay_reap(w);
	}
	/* grace is over: close what is left (jobs still in the pool are answered at pool stop) */
	/* a connection still waiting for the pool stays listed in state CLOSING and is
	 * freed when the pool, stopping, hands its job back (srv_worker_destroy) */
	for (struct srv_conn *c = w->conns, *next; c != NULL; c = next) {
		next = c->next;
		srv_conn_abort(c);
	}
	return NULL;
}

enum cg_err srv_worker_start(struct srv_worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return CG_ERR_NOMEM;
	return CG_OK;
}

void srv_worker_join(struct srv_worker *w)
{
	pthread_join(w->thread, NULL);
}

void srv_worker_destroy(struct srv_worker *w)
{
	/* connections whose directory job came back after the loop ended */
	(void)on_wake(w);
	srv_relay_reap(w);
	close_listeners(w);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->wake.fd >= 0)
		close(w->wake.fd);
	srv_runtime_unref(w->rt);
	pthread_mutex_destroy(&w->done_lock);
}
