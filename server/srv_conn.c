/* The connection state machine: handshake, chain verdict, directory check,
 * built-in identity responder, lingering close. */
#include "server/srv_conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "server/srv_api.h"
#include "ldap/dir_cache.h"
#include "server/srv_event.h"
#include "server/srv_relay.h"
#include "server/srv_worker.h"

#define SRV_LINGER_MS      2000   /* how long a closing connection may drain the client's bytes */
#define SRV_LINGER_BYTES   65536


static void conn_free(struct srv_conn *c);
static void conn_decide(struct srv_conn *c, enum cg_reason reason, const char *detail);
static void conn_step_read(struct srv_conn *c);
static void conn_step_write(struct srv_conn *c);
static void conn_open(struct srv_conn *c);
static void conn_directory_start(struct srv_conn *c);

void srv_conn_step(struct srv_conn *c, const char *name)
{
	if (c->n_steps >= SRV_MAX_STEPS)
		return;
	uint64_t dt = cg_mono_us() - c->t0_us;
	c->steps[c->n_steps].name = name;
	c->steps[c->n_steps].t_us = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	c->n_steps++;
}

/* The handshake transcript: one step per handshake message (DESIGN.md §7). */
static int handshake_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
			  const gnutls_datum_t *msg)
{
	struct srv_conn *c = gnutls_session_get_ptr(s);
	const char *name = NULL;
	(void)when;
	(void)msg;
	switch (htype) {
	case GNUTLS_HANDSHAKE_CLIENT_HELLO: name = incoming ? "client_hello" : NULL; break;
	case GNUTLS_HANDSHAKE_SERVER_HELLO:
		name = incoming ? NULL : "server_hello";
		if (c != NULL && !incoming)
			c->negotiated = true;
		break;
	case GNUTLS_HANDSHAKE_ENCRYPTED_EXTENSIONS: name = "encrypted_extensions"; break;
	case GNUTLS_HANDSHAKE_CERTIFICATE_PKT: name = incoming ? "client_certificate" : "server_certificate"; break;
	case GNUTLS_HANDSHAKE_SERVER_KEY_EXCHANGE: name = "server_key_exchange"; break;
	case GNUTLS_HANDSHAKE_CERTIFICATE_REQUEST: name = "certificate_request"; break;
	case GNUTLS_HANDSHAKE_SERVER_HELLO_DONE: name = "server_hello_done"; break;
	case GNUTLS_HANDSHAKE_CLIENT_KEY_EXCHANGE: name = "client_key_exchange"; break;
	case GNUTLS_HANDSHAKE_CERTIFICATE_VERIFY:
		name = incoming ? "client_certificate_verify" : "server_certificate_verify";
		break;
	case GNUTLS_HANDSHAKE_FINISHED: name = incoming ? "client_finished" : "server_finished"; break;
	case GNUTLS_HANDSHAKE_NEW_SESSION_TICKET: name = "session_ticket"; break;
	default: break;
	}
	if (c != NULL && name != NULL)
		srv_conn_step(c, name);
	return 0;
}

struct srv_conn *srv_conn_new(struct srv_worker *w, int fd, const char *peer, const char *listener,
			      struct srv_runtime *rt)
{
	struct srv_conn *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL) {
		close(fd);
		atomic_fetch_sub(&w->shared->active, 1);
		return NULL;
	}
	c->kind = SRV_FD_CONN;
	c->state = SRV_CONN_HANDSHAKE;
	c->fd = fd;
	c->w = w;
	srv_worker_conn_add(w, c);
	c->rt = srv_runtime_ref(rt);
	c->t0_us = cg_mono_us();
	c->wall0_us = cg_wall_us();
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->listener = listener;
	c->reason = CG_REASON_HANDSHAKE_FAILED;
	atomic_init(&c->io_in, 0);
	atomic_init(&c->io_out, 0);

	rc = gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
	if (rc < 0)
		goto fail;
	gnutls_session_set_ptr(c->tls, c);
	if ((rc = gnutls_priority_set(c->tls, rt->priority)) < 0 ||
	    (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, rt->creds)) < 0)
		goto fail;
	gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUIRE);
	/* no CA names in the CertificateRequest: clients send what they have, and we judge it */
	gnutls_certificate_send_x509_rdn_sequence(c->tls, 1);
	if (rt->cfg->tickets && gnutls_session_ticket_enable_server(c->tls, srv_runtime_ticket_key()) < 0)
		cg_warn("%s: session tickets could not be enabled", peer);
	gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_POST, handshake_hook);
	gnutls_transport_set_int(c->tls, fd);
	srv_worker_timer_set(w, c, SRV_TIMER_HANDSHAKE, cg_mono_ms() + rt->cfg->handshake_timeout_ms);
	srv_worker_poll(w, c, EPOLLIN);
	return c;
fail:
	cg_err_log("%s: TLS session setup failed: %s", peer, gnutls_strerror(rc));
	conn_free(c);
	return NULL;
}

/* Emit the event for this connection's decision (and count it). With
 * durable, the journal calls back once the event is on disk. */
static void conn_emit_durable(struct srv_conn *c, const char *detail, bool durable);

static void conn_emit(struct srv_conn *c, const char *detail)
{
	conn_emit_durable(c, detail, false);
}

static void conn_audit_done(void *arg, bool written)
{
	struct srv_conn *c = arg;
	struct srv_worker *w = c->w;
	c->audit_written = written;
	pthread_mutex_lock(&w->done_lock);
	c->audit_next = w->audit_done;
	w->audit_done = c;
	pthread_mutex_unlock(&w->done_lock);
	srv_worker_wake(w);
}

static void conn_emit_durable(struct srv_conn *c, const char *detail, bool durable)
{
	struct srv_event_input in = {
		.wall_us = c->wall0_us,
		.peer = c->peer,
		.listener = c->listener,
		.reason = c->reason,
		.detail = detail,
		.tls = c->negotiated ? c->tls : NULL,  /* before ServerHello nothing was agreed */
		.facts = c->facts,
		.dir = c->directory_used ? &c->job.result : NULL,
		.cache = c->directory_used ? c->cache_use : NULL,
		.steps = c->n_steps > 0 ? c->steps : NULL,
		.n_steps = c->n_steps,
		.duration_us = cg_mono_us() - c->t0_us,
	};
	api_stats_handshake(c->w->stats, c->reason, in.duration_us);
	if (durable) {
		c->audit_pending = true;
		c->event_id = srv_event_emit_durable(srv_event_build(&in), conn_audit_done, c);
	} else {
		c->event_id = srv_event_emit(srv_event_build(&in));
	}
}

static gnutls_alert_description_t alert_for(enum cg_reason r)
{
	switch (r) {
	case CG_REASON_UNTRUSTED_ISSUER: return GNUTLS_A_UNKNOWN_CA;
	case CG_REASON_CERT_EXPIRED: return GNUTLS_A_CERTIFICATE_EXPIRED;
	case CG_REASON_CERT_REVOKED: return GNUTLS_A_CERTIFICATE_REVOKED;
	case CG_REASON_CERT_NOT_YET_VALID:
	case CG_REASON_BAD_SIGNATURE: return GNUTLS_A_BAD_CERTIFICATE;
	case CG_REASON_EKU_MISMATCH: return GNUTLS_A_UNSUPPORTED_CERTIFICATE;
	default: return GNUTLS_A_ACCESS_DENIED;
	}
}

/* Stop talking TLS, shut our side and drain the client's bytes for a short,
 * bounded time, so that a client with unread data still sees our last
 * record instead of a reset. */
static void conn_linger(struct srv_conn *c)
{
	if (c->fd < 0) {
		conn_free(c);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	srv_worker_recheck_cancel(c->w, c);
	c->state = SRV_CONN_LINGER;
	c->linger_drained = 0;
	srv_worker_timer_set(c->w, c, SRV_TIMER_IDLE, cg_mono_ms() + SRV_LINGER_MS);
	srv_worker_poll(c->w, c, EPOLLIN | EPOLLRDHUP);
}

static void conn_step_linger(struct srv_conn *c)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			c->linger_drained += (size_t)n;
			if (c->linger_drained > SRV_LINGER_BYTES)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;  /* EOF or error */
	}
	conn_free(c);
}

/* Deny: alert, event, lingering close. */
static void conn_deny(struct srv_conn *c, enum cg_reason reason, const char *detail, int alert)
{
	c->reason = reason;
	if (alert >= 0 && c->tls != NULL)
		gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, (gnutls_alert_description_t)alert);
	conn_emit(c, detail);
	conn_linger(c);
}

static enum cg_reason reason_for_tls_error(int rc)
{
	switch (rc) {
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		return CG_REASON_NO_CLIENT_CERT;
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		return CG_REASON_PROTOCOL_VERSION;
	case GNUTLS_E_PK_SIG_VERIFY_FAILED:
		return CG_REASON_BAD_SIGNATURE;
	default:
		return CG_REASON_HANDSHAKE_FAILED;
	}
}

/* The chain and policy verdict, then the directory or the decision. */
static void conn_after_handshake(struct srv_conn *c)
{
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(c->tls, &n);
	srv_worker_timer_clear(c->w, c);
	if (chain == NULL || n == 0) {
		conn_deny(c, CG_REASON_NO_CLIENT_CERT, "the client sent no certificate",
			  GNUTLS_A_CERTIFICATE_REQUIRED);
		return;
	}
	if (pki_facts_from_der(&chain[0], &c->facts) != CG_OK) {
		c->facts = NULL;
		conn_deny(c, CG_REASON_HANDSHAKE_FAILED, "client certificate could not be parsed",
			  GNUTLS_A_BAD_CERTIFICATE);
		return;
	}
	pki_verify_chain(c->rt->trust, chain, n, &c->rt->policy, 0, &c->verdict);
	if (c->verdict.reason != CG_REASON_OK) {
		conn_deny(c, c->verdict.reason, c->verdict.detail, (int)alert_for(c->verdict.reason));
		return;
	}
	srv_conn_step(c, "chain_verified");
	if (!c->rt->has_directory) {
		conn_decide(c, CG_REASON_OK, NULL);
		return;
	}
	conn_directory_start(c);
}

/* The directory step: a cached decision, a lookup already in flight for the
 * same certificate, or a new job for the pool. */
static void conn_directory_start(struct srv_conn *c)
{
	struct dir_pool *pool = c->w->shared->pool;
	struct dir_cache *cache = c->w->shared->cache;

	c->directory_used = true;
	c->cache_use = "miss";
	srv_runtime_dir_job(c->rt, c->facts, c->verdict.anchor_sha256, srv_worker_directory_done, c, &c->job);
	if (cache != NULL && dir_cache_enabled(cache)) {
		if (dir_cache_get(cache, c->facts->sha256, c->rt->generation, cg_mono_ms(), false, &c->job.result) ==
		    DIR_CACHE_HIT) {
			api_stats_cache(c->w->stats, API_CACHE_HIT);
			c->cache_use = "hit";
			srv_worker_timer_clear(c->w, c);
			srv_conn_step(c, "directory_checked");
			conn_decide(c, c->job.result.reason, c->job.result.detail[0] ? c->job.result.detail : NULL);
			return;
		}
		api_stats_cache(c->w->stats, API_CACHE_MISS);
		c->cache_epoch = dir_cache_epoch(cache);
	}
	c->state = SRV_CONN_DIRECTORY;
	srv_worker_poll(c->w, c, 0);  /* nothing to read until the verdict */
	/* the directory answers within its own timeouts; the handshake deadline is the backstop */
	srv_worker_timer_set(c->w, c, SRV_TIMER_HANDSHAKE, cg_mono_ms() + c->rt->cfg->handshake_timeout_ms);
	c->job_pending = true;
	if (cache != NULL && dir_cache_inflight_join(cache, c->facts->sha256, c->rt->generation, &c->job))
		return;  /* another connection's lookup answers for us */
	c->job_leader = cache != NULL;
	c->job.result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
	if (pool == NULL || dir_pool_submit(pool, &c->job) != CG_OK) {
		snprintf(c->job.result.detail, sizeof(c->job.result.detail), "directory queue full");
		srv_conn_on_directory(c);
	}
}

void srv_conn_on_directory(struct srv_conn *c)
{
	struct dir_cache *cache = c->w->shared->cache;
	struct dir_result *r = &c->job.result;

	c->job_pending = false;
	if (c->job_leader || cache == NULL)  /* our own lookup, not one we waited on */
		api_stats_directory(c->w->stats, r->reason == CG_REASON_DIRECTORY_UNAVAILABLE ? API_DIR_ERROR : API_DIR_OK,
				    r->latency_us);
	if (c->job_leader) {
		/* answer every connection that waited on this lookup, then remember it */
		c->job_leader = false;
		dir_cache_inflight_done(cache, &c->job);
		(void)dir_cache_put_since(cache, c->facts->sha256, c->rt->generation, r, cg_mono_ms(), c->cache_epoch);
	}
	if (c->state == SRV_CONN_CLOSING) {
		conn_free(c);
		return;
	}
	if (r->reason == CG_REASON_DIRECTORY_UNAVAILABLE && c->rt->cfg->dir.on_unavailable_stale && cache != NULL) {
		struct dir_result stale;
		if (dir_cache_get(cache, c->facts->sha256, c->rt->generation, cg_mono_ms(), true, &stale) ==
		    DIR_CACHE_STALE) {
			api_stats_cache(c->w->stats, API_CACHE_STALE);
			dir_result_clear(r);
			*r = stale;
			c->cache_use = "stale";
		}
	}
	srv_worker_timer_clear(c->w, c);
	srv_conn_step(c, "directory_checked");
	conn_decide(c, r->reason, r->detail[0] ? r->detail : NULL);
}

static void conn_decide(struct srv_conn *c, enum cg_reason reason, const char *detail)
{
	if (reason != CG_REASON_OK) {
		conn_deny(c, reason, detail, GNUTLS_A_ACCESS_DENIED);
		return;
	}
	c->reason = CG_REASON_OK;
	if (c->w->audit_always) {
		/* fsync = always: the client waits until its event is on disk */
		c->state = SRV_CONN_AUDIT;
		srv_worker_poll(c->w, c, 0);
		conn_emit_durable(c, detail, true);
		return;
	}
	conn_emit(c, detail);
	conn_open(c);
}

void srv_conn_on_audit(struct srv_conn *c)
{
	c->audit_pending = false;
	if (c->state == SRV_CONN_CLOSING) {
		conn_free(c);
		return;
	}
	if (!c->audit_written) {
		cg_err_log("%s: event %llu could not be written to the audit log; closing (fail closed)",
			   c->peer, (unsigned long long)c->event_id);
		gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
		conn_linger(c);
		return;
	}
	conn_open(c);
}

/* Allowed and recorded: relay to the backend or answer with the identity. */
static void conn_open(struct srv_conn *c)
{
	srv_api_conn_register(c);
	srv_worker_recheck_schedule(c->w, c);
	if (c->rt->cfg->has_backend) {
		if (srv_relay_start(c) != CG_OK) {
			gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_INTERNAL_ERROR);
			conn_linger(c);
			return;
		}
		srv_worker_timer_set(c->w, c, SRV_TIMER_IDLE, cg_mono_ms() + c->rt->cfg->idle_timeout_ms);
		srv_worker_poll(c->w, c, EPOLLIN);
		return;
	}
	c->state = SRV_CONN_OPEN;
	srv_worker_timer_set(c->w, c, SRV_TIMER_IDLE, cg_mono_ms() + c->rt->cfg->idle_timeout_ms);
	srv_worker_poll(c->w, c, EPOLLIN);
	conn_step_read(c);  /* the request may already sit in GnuTLS's buffer */
}

static void conn_step_handshake(struct srv_conn *c)
{
	int rc = gnutls_handshake(c->tls);
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		srv_worker_poll(c->w, c, gnutls_record_get_direction(c->tls) ? EPOLLOUT : EPOLLIN);
		return;
	}
	if (rc == GNUTLS_E_SUCCESS) {
		conn_after_handshake(c);
		return;
	}
	char detail[160];
	enum cg_reason reason = reason_for_tls_error(rc);
	const char *name = gnutls_strerror_name(rc);
	snprintf(detail, sizeof(detail), "%s: %s", name ? name : "GNUTLS_E", gnutls_strerror(rc));
	srv_worker_timer_clear(c->w, c);
	/* with a certificate in hand (a bad CertificateVerify, say), the event says whose it was */
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(c->tls, &n);
	if (chain != NULL && n > 0 && pki_facts_from_der(&chain[0], &c->facts) != CG_OK)
		c->facts = NULL;
	/* GnuTLS has already sent its alert for a missing certificate; a gone peer gets none */
	if (reason != CG_REASON_NO_CLIENT_CERT && rc != GNUTLS_E_PULL_ERROR && rc != GNUTLS_E_PUSH_ERROR &&
	    rc != GNUTLS_E_PREMATURE_TERMINATION)
		gnutls_alert_send_appropriate(c->tls, rc);
	conn_deny(c, reason, detail, -1);
}

/* Build the identity response for an allowed client. */
static void conn_respond(struct srv_conn *c, int status, const char *text)
{
	json_t *body;
	if (status == 200) {
		body = json_pack("{s:s}", "outcome", "allowed");
		if (body != NULL && c->facts != NULL && c->facts->subject_dn != NULL)
			json_object_set_new(body, "subject", json_string(c->facts->subject_dn));
		if (body != NULL && c->directory_used && c->job.result.entry != NULL)
			json_object_set_new(body, "entry", json_string(c->job.result.entry));
		if (body != NULL)
			json_object_set_new(body, "event", json_integer((json_int_t)c->event_id));
	} else {
		body = json_pack("{s:{s:s s:s}}", "error", "code", "bad_request", "message", text);
	}
	char *js = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	int n = snprintf(c->out, sizeof(c->out),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\nCache-Control: no-store\r\n\r\n%s\n",
			 status, text, js ? strlen(js) + 1 : 1, js ? js : "");
	free(js);
	c->out_len = (n < 0 || (size_t)n >= sizeof(c->out)) ? 0 : (size_t)n;
	c->out_off = 0;
	c->state = SRV_CONN_WRITING;
	srv_worker_poll(c->w, c, EPOLLOUT);
	conn_step_write(c);
}

/* Is in[0..len) the head of an HTTP/1.x request? */
static bool looks_like_http(const char *in, size_t len)
{
	const char *eol = memchr(in, '\r', len);
	if (eol == NULL)
		return false;
	size_t l = (size_t)(eol - in);
	return l > 9 && memcmp(eol - 8, "HTTP/1.", 7) == 0 && memchr(in, ' ', l) != NULL;
}

static void conn_step_read(struct srv_conn *c)
{
	for (;;) {
		if (c->in_len >= sizeof(c->in) - 1) {
			conn_respond(c, 431, "Request Header Fields Too Large");
			return;
		}
		ssize_t n = gnutls_record_recv(c->tls, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return;
		if (n == GNUTLS_E_REHANDSHAKE) {
			/* client-initiated renegotiation is refused */
			gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_NO_RENEGOTIATION);
			conn_linger(c);
			return;
		}
		if (n <= 0) {
			conn_linger(c);
			return;
		}
		atomic_fetch_add_explicit(&c->io_in, (uint64_t)n, memory_order_relaxed);
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		srv_worker_timer_set(c->w, c, SRV_TIMER_IDLE, cg_mono_ms() + c->rt->cfg->idle_timeout_ms);
		if (memmem(c->in, c->in_len, "\r\n\r\n", 4) != NULL || memmem(c->in, c->in_len, "\n\n", 2) != NULL) {
			if (looks_like_http(c->in, c->in_len))
				conn_respond(c, 200, "OK");
			else
				conn_respond(c, 400, "Bad Request");
			return;
		}
	}
}

static void conn_step_write(struct srv_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = gnutls_record_send(c->tls, c->out + c->out_off, c->out_len - c->out_off);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return;
		if (n < 0) {
			conn_linger(c);
			return;
		}
		c->out_off += (size_t)n;
		atomic_fetch_add_explicit(&c->io_out, (uint64_t)n, memory_order_relaxed);
	}
	gnutls_bye(c->tls, GNUTLS_SHUT_WR);  /* best effort: a would-block close_notify is dropped */
	conn_linger(c);
}

void srv_conn_finish(struct srv_conn *c, bool failed)
{
	if (!failed)
		gnutls_bye(c->tls, GNUTLS_SHUT_WR);  /* best effort, as after the responder */
	conn_linger(c);
}

void srv_conn_on_io(struct srv_conn *c, uint32_t events)
{
	switch (c->state) {
	case SRV_CONN_RELAY:
		srv_relay_on_client(c, events);
		break;
	case SRV_CONN_HANDSHAKE:
		conn_step_handshake(c);
		break;
	case SRV_CONN_OPEN:
		conn_step_read(c);
		break;
	case SRV_CONN_WRITING:
		conn_step_write(c);
		break;
	case SRV_CONN_LINGER:
		conn_step_linger(c);
		break;
	default:
		(void)events;
		break;
	}
}

void srv_conn_on_timeout(struct srv_conn *c)
{
	switch (c->state) {
	case SRV_CONN_HANDSHAKE:
		conn_deny(c, CG_REASON_HANDSHAKE_TIMEOUT, "no complete handshake within handshake_timeout", -1);
		break;
	case SRV_CONN_DIRECTORY:
		/* the job still points at us: answer the client now, free on the job's return */
		c->reason = CG_REASON_DIRECTORY_UNAVAILABLE;
		gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
		conn_emit(c, "directory did not answer in time");
		srv_worker_timer_clear(c->w, c);
		srv_worker_poll(c->w, c, 0);
		gnutls_deinit(c->tls);
		c->tls = NULL;
		close(c->fd);
		c->fd = -1;
		c->state = SRV_CONN_CLOSING;
		break;
	default:
		conn_free(c);  /* idle, or a lingering close that took too long */
		break;
	}
}

/* The pool or the journal still holds a pointer to c: it must not be freed yet. */
static bool conn_held(const struct srv_conn *c)
{
	return c->job_pending || c->audit_pending || c->rjob != NULL;
}

void srv_conn_abort(struct srv_conn *c)
{
	if (conn_held(c)) {
		srv_worker_timer_clear(c->w, c);
		srv_worker_recheck_cancel(c->w, c);
		srv_worker_poll(c->w, c, 0);
		if (c->tls != NULL)
			gnutls_deinit(c->tls);
		c->tls = NULL;
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		c->state = SRV_CONN_CLOSING;
		return;
	}
	conn_free(c);
}

static void conn_free(struct srv_conn *c)
{
	if (conn_held(c)) {
		srv_conn_abort(c);
		return;
	}
	srv_worker_timer_clear(c->w, c);
	srv_worker_recheck_cancel(c->w, c);
	srv_api_conn_unregister(c);
	srv_relay_free(c->relay);
	c->relay = NULL;
	if (c->fd >= 0)
		srv_worker_poll(c->w, c, 0);
	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	dir_result_clear(&c->job.result);
	pki_facts_free(c->facts);
	srv_runtime_unref(c->rt);
	srv_worker_conn_gone(c->w, c);
	free(c);
}

/* ---- re-checks of open connections ---- */

static bool conn_is_open(const struct srv_conn *c)
{
	return c->state == SRV_CONN_OPEN || c->state == SRV_CONN_WRITING || c->state == SRV_CONN_RELAY;
}

/* Close an open connection whose certificate no longer passes: a second event
 * ("kind": "recheck", reason revoked_live) names the first. */
static void conn_revoke(struct srv_conn *c, enum cg_reason why, const char *detail, const struct dir_result *dir)
{
	char text[400];
	snprintf(text, sizeof(text), "%s%s%s", cg_reason_name(why), detail != NULL && detail[0] ? ": " : "",
		 detail != NULL ? detail : "");
	struct srv_event_input in = {
		.kind = "recheck",
		.connection = c->event_id,
		.wall_us = cg_wall_us(),
		.peer = c->peer,
		.listener = c->listener,
		.reason = CG_REASON_REVOKED_LIVE,
		.detail = text,
		.facts = c->facts,
		.dir = dir,
		.cache = dir != NULL ? "miss" : NULL,
		.duration_us = cg_mono_us() - c->t0_us,
	};
	api_stats_handshake(c->w->stats, CG_REASON_REVOKED_LIVE, 0);
	(void)srv_event_emit(srv_event_build(&in));
	gnutls_alert_send(c->tls, GNUTLS_AL_FATAL, GNUTLS_A_ACCESS_DENIED);
	srv_relay_free(c->relay);
	c->relay = NULL;
	conn_linger(c);
}

void srv_conn_recheck(struct srv_conn *c)
{
	struct srv_runtime *rt = c->w->rt;
	struct dir_cache *cache = c->w->shared->cache;
	struct pki_verdict v;
	unsigned n = 0;

	srv_worker_recheck_cancel(c->w, c);
	if (!conn_is_open(c) || c->rjob != NULL)
		return;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(c->tls, &n);
	if (chain == NULL || n == 0) {
		conn_revoke(c, CG_REASON_NO_CLIENT_CERT, "the session holds no certificate", NULL);
		return;
	}
	pki_verify_chain(rt->trust, chain, n, &rt->policy, 0, &v);  /* today's CRLs and dates */
	if (v.reason != CG_REASON_OK) {
		conn_revoke(c, v.reason, v.detail, NULL);
		return;
	}
	if (!rt->has_directory || c->w->shared->pool == NULL) {
		srv_worker_recheck_schedule(c->w, c);
		return;
	}
	if (cache != NULL && dir_cache_enabled(cache)) {
		struct dir_result hit;
		if (dir_cache_get(cache, c->facts->sha256, rt->generation, cg_mono_ms(), false, &hit) == DIR_CACHE_HIT) {
			if (hit.reason == CG_REASON_OK)
				srv_worker_recheck_schedule(c->w, c);
			else
				conn_revoke(c, hit.reason, hit.detail, &hit);
			dir_result_clear(&hit);
			return;
		}
	}
	struct dir_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		srv_worker_recheck_schedule(c->w, c);  /* try again later */
		return;
	}
	srv_runtime_dir_job(rt, c->facts, v.anchor_sha256, srv_worker_directory_done, c, j);
	c->rjob = j;
	c->rjob_rt = srv_runtime_ref(rt);
	c->rjob_epoch = cache != NULL ? dir_cache_epoch(cache) : 0;
	if (dir_pool_submit(c->w->shared->pool, j) != CG_OK) {
		snprintf(j->result.detail, sizeof(j->result.detail), "directory queue full");
		srv_conn_on_recheck(c);
	}
}

void srv_conn_on_recheck(struct srv_conn *c)
{
	struct dir_job *j = c->rjob;
	struct dir_result *r = &j->result;
	struct dir_cache *cache = c->w->shared->cache;

	c->rjob = NULL;
	api_stats_directory(c->w->stats, r->reason == CG_REASON_DIRECTORY_UNAVAILABLE ? API_DIR_ERROR : API_DIR_OK,
			    r->latency_us);
	if (c->state == SRV_CONN_CLOSING || !conn_is_open(c)) {
		/* closed meanwhile */
	} else if (r->reason == CG_REASON_OK) {
		if (cache != NULL)
			(void)dir_cache_put_since(cache, c->facts->sha256, c->rjob_rt->generation, r, cg_mono_ms(),
						  c->rjob_epoch);
		srv_worker_recheck_schedule(c->w, c);
	} else if (r->reason == CG_REASON_DIRECTORY_UNAVAILABLE && c->rjob_rt->cfg->dir.on_unavailable_stale) {
		srv_worker_recheck_schedule(c->w, c);  /* the admin chose to ride out outages */
	} else {
		conn_revoke(c, r->reason, r->detail, r);
	}
	dir_result_clear(r);
	free(j);
	srv_runtime_unref(c->rjob_rt);
	c->rjob_rt = NULL;
	if (c->state == SRV_CONN_CLOSING)
		conn_free(c);  /* still held by another answer: it only closes again */
}
