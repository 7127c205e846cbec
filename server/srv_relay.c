/* Relaying an allowed client to its backend. */
#include "server/srv_relay.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "server/srv_conn.h"
#include "server/srv_proxy.h"
#include "server/srv_worker.h"

#define SRV_RELAY_BUF 16384   /* bytes in flight each way */

struct srv_relay {
	enum srv_fd_kind kind;       /* SRV_FD_BACKEND: must stay first */
	struct srv_conn *c;
	int fd;
	uint32_t epoll_events;
	bool connecting;
	bool client_eof, backend_eof, backend_shut, client_bye;
	/* client → backend: the PROXY header first, then the client's bytes */
	uint8_t *c2b;
	size_t c2b_cap, c2b_off, c2b_len;
	/* backend → client; b2c_pending is the length of a gnutls_record_send that
	 * returned GNUTLS_E_AGAIN: GnuTLS wants it retried with the same data */
	uint8_t b2c[SRV_RELAY_BUF];
	size_t b2c_off, b2c_len, b2c_pending;
	struct srv_worker *w;
	struct srv_relay *next_dead;     /* the worker's list of relays to free after the epoll batch */
};

static void relay_poll_backend(struct srv_relay *r, uint32_t events)
{
	srv_worker_epoll_set(r->w, r->fd, r, &r->epoll_events, events, r->c->peer);
}

/* The PROXY v2 header for this connection, appended to hdr. */
static enum cg_err relay_build_header(const struct srv_conn *c, struct cg_buf *hdr)
{
	const struct srv_runtime *rt = c->rt;
	struct sockaddr_storage src, dst;
	socklen_t sl = sizeof(src), dl = sizeof(dst);
	gnutls_protocol_t v = gnutls_protocol_get_version(c->tls);

	if (getpeername(c->fd, (struct sockaddr *)&src, &sl) != 0 ||
	    getsockname(c->fd, (struct sockaddr *)&dst, &dl) != 0)
		return CG_ERR_IO;
	struct srv_proxy_info in = {
		.src = (struct sockaddr *)&src,
		.dst = (struct sockaddr *)&dst,
		.resumed = gnutls_session_is_resumed(c->tls) != 0,
		.tls_version = v == GNUTLS_TLS1_3 ? "TLSv1.3" : v == GNUTLS_TLS1_2 ? "TLSv1.2" : NULL,
		.cn = c->facts->cn,
		.cipher = gnutls_ciphersuite_get(c->tls),
		.sig_alg = c->facts->sig_alg[0] ? c->facts->sig_alg : NULL,
		.key_alg = c->facts->key_alg[0] ? c->facts->key_alg : NULL,
		.cert_der = rt->cfg->backend_send_cert ? &c->facts->der : NULL,
		.entry = c->directory_used ? c->job.result.entry : NULL,
		.sha256_hex = c->facts->sha256_hex,
		.hmac_key = rt->hmac_key,
		.hmac_key_len = rt->hmac_key_len,
	};
	return srv_proxy_v2_build(&in, hdr);
}

enum cg_err srv_relay_start(struct srv_conn *c)
{
	const struct srv_runtime *rt = c->rt;
	struct srv_relay *r = calloc(1, sizeof(*r));
	struct cg_buf hdr;
	enum cg_err e = CG_ERR_NOMEM;
	int one = 1;

	cg_buf_init(&hdr, SRV_PP2_MAX_HEADER);
	if (r == NULL)
		goto out;
	r->kind = SRV_FD_BACKEND;
	r->c = c;
	r->w = c->w;
	r->fd = -1;
	if (rt->cfg->backend_proxy == SRV_PROXY_V2 && (e = relay_build_header(c, &hdr)) != CG_OK) {
		cg_err_log("%s: PROXY v2 header: %s", c->peer, cg_err_name(e));
		goto out;
	}
	e = CG_ERR_NOMEM;
	r->c2b_cap = hdr.len + SRV_RELAY_BUF;
	r->c2b = malloc(r->c2b_cap);
	if (r->c2b == NULL)
		goto out;
	if (hdr.len > 0)
		memcpy(r->c2b, hdr.data, hdr.len);
	r->c2b_len = hdr.len;
	e = CG_ERR_IO;
	r->fd = socket(rt->backend_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0 ||
	    (connect(r->fd, (const struct sockaddr *)&rt->backend_addr, rt->backend_addr_len) != 0 &&
	     errno != EINPROGRESS)) {
		cg_warn("%s: backend %s: %s", c->peer, rt->cfg->backend.text, strerror(errno));
		goto out;
	}
	setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r->connecting = true;
	c->relay = r;
	c->state = SRV_CONN_RELAY;
	relay_poll_backend(r, EPOLLOUT);
	r = NULL;
	e = CG_OK;
out:
	if (r != NULL)
		srv_relay_free(r);
	cg_buf_free(&hdr);
	return e;
}

void srv_relay_free(struct srv_relay *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0) {
		relay_poll_backend(r, 0);
		close(r->fd);
		r->fd = -1;
	}
	free(r->c2b);
	r->c2b = NULL;
	r->c = NULL;
	/* an event for this relay may still sit in the worker's current epoll batch */
	r->next_dead = r->w->relays_dead;
	r->w->relays_dead = r;
}

void srv_relay_reap(struct srv_worker *w)
{
	while (w->relays_dead != NULL) {
		struct srv_relay *r = w->relays_dead;
		w->relays_dead = r->next_dead;
		free(r);
	}
}

/* Stop relaying: the backend goes, the client gets a lingering close. */
static void relay_end(struct srv_conn *c, const char *why)
{
	if (why != NULL)
		cg_warn("%s: relay closed: %s (event %llu)", c->peer, why, (unsigned long long)c->event_id);
	srv_relay_free(c->relay);
	c->relay = NULL;
	srv_conn_finish(c, why != NULL);
}

/* Move bytes as far as they go without blocking, then set both interests.
 * Returns false when the relay ended (c may be gone). */
static bool relay_pump(struct srv_conn *c)
{
	struct srv_relay *r = c->relay;
	bool progress = true;

	while (progress) {
		progress = false;
		/* client → c2b */
		if (!r->client_eof && r->c2b_len < r->c2b_cap) {
			if (r->c2b_off > 0 && r->c2b_off == r->c2b_len)
				r->c2b_off = r->c2b_len = 0;
			ssize_t n = gnutls_record_recv(c->tls, r->c2b + r->c2b_len, r->c2b_cap - r->c2b_len);
			if (n > 0) {
				r->c2b_len += (size_t)n;
				atomic_fetch_add_explicit(&c->io_in, (uint64_t)n, memory_order_relaxed);
				progress = true;
			} else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
				r->client_eof = true;
				progress = true;
			} else if (n == GNUTLS_E_REHANDSHAKE) {
				gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_NO_RENEGOTIATION);
				relay_end(c, "client-initiated renegotiation refused");
				return false;
			} else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
				relay_end(c, gnutls_strerror((int)n));
				return false;
			}
		}
		/* c2b → backend */
		if (!r->connecting && r->c2b_off < r->c2b_len) {
			ssize_t n = send(r->fd, r->c2b + r->c2b_off, r->c2b_len - r->c2b_off, MSG_NOSIGNAL);
			if (n > 0) {
				r->c2b_off += (size_t)n;
				if (r->c2b_off == r->c2b_len)
					r->c2b_off = r->c2b_len = 0;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				relay_end(c, "backend write failed");
				return false;
			}
		}
		if (r->client_eof && !r->connecting && r->c2b_len == 0 && !r->backend_shut) {
			shutdown(r->fd, SHUT_WR);  /* pass the client's half-close on */
			r->backend_shut = true;
		}
		/* backend → b2c */
		if (!r->connecting && !r->backend_eof && r->b2c_len < sizeof(r->b2c) && r->b2c_pending == 0) {
			if (r->b2c_off > 0) {
				memmove(r->b2c, r->b2c + r->b2c_off, r->b2c_len - r->b2c_off);
				r->b2c_len -= r->b2c_off;
				r->b2c_off = 0;
			}
			ssize_t n = recv(r->fd, r->b2c + r->b2c_len, sizeof(r->b2c) - r->b2c_len, 0);
			if (n > 0) {
				r->b2c_len += (size_t)n;
				progress = true;
			} else if (n == 0) {
				r->backend_eof = true;
				progress = true;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				relay_end(c, "backend read failed");
				return false;
			}
		}
		/* b2c → client */
		if (r->b2c_off < r->b2c_len) {
			size_t len = r->b2c_pending ? r->b2c_pending : r->b2c_len - r->b2c_off;
			ssize_t n = gnutls_record_send(c->tls, r->b2c + r->b2c_off, len);
			if (n > 0) {
				r->b2c_pending = 0;
				r->b2c_off += (size_t)n;
				atomic_fetch_add_explicit(&c->io_out, (uint64_t)n, memory_order_relaxed);
				if (r->b2c_off == r->b2c_len)
					r->b2c_off = r->b2c_len = 0;
				progress = true;
			} else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				r->b2c_pending = len;
			} else {
				relay_end(c, "client write failed");
				return false;
			}
		}
	}
	if (r->backend_eof && r->b2c_len == 0) {
		/* the backend is done and everything it said reached the client */
		relay_end(c, NULL);
		return false;
	}
	uint32_t cev = 0, bev = 0;
	if (!r->client_eof && r->c2b_len < r->c2b_cap)
		cev |= EPOLLIN;
	if (r->b2c_len > 0)
		cev |= EPOLLOUT;
	if (r->connecting || r->c2b_len > 0)
		bev |= EPOLLOUT;
	if (!r->connecting && !r->backend_eof && r->b2c_len < sizeof(r->b2c))
		bev |= EPOLLIN;
	srv_worker_poll(c->w, c, cev);
	relay_poll_backend(r, bev);
	srv_worker_timer_set(c->w, c, SRV_TIMER_IDLE, cg_mono_ms() + c->rt->cfg->idle_timeout_ms);
	return true;
}

void srv_relay_on_client(struct srv_conn *c, uint32_t events)
{
	(void)events;
	relay_pump(c);
}

void srv_relay_on_backend(struct srv_relay *r, uint32_t events)
{
	struct srv_conn *c = r->c;
	if (c == NULL)
		return;  /* freed earlier in this epoll batch */
	if (r->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == EINPROGRESS || (err == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))))
			return;
		if (err != 0) {
			char why[160];
			snprintf(why, sizeof(why), "backend %s: connect: %s", c->rt->cfg->backend.text, strerror(err));
			relay_end(c, why);
			return;
		}
		r->connecting = false;
	}
	relay_pump(c);
}
