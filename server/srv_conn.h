/* One client connection: an explicit state with one step function per
 * state. "Would block" is a normal outcome, never an error. A connection
 * lives and dies on the worker that accepted it. */
#ifndef SRV_CONN_H
#define SRV_CONN_H

#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/cg_reason.h"
#include "ldap/dir_pool.h"
#include "pki/pki_facts.h"
#include "pki/pki_verify.h"
#include "server/srv_runtime.h"

#define SRV_MAX_STEPS   24
#define SRV_REQ_MAX     8192   /* bytes of HTTP request head the responder reads */
#define SRV_RESP_MAX    4096

struct srv_worker;

/* What an epoll registration points at: the first member of each kind. */
enum srv_fd_kind { SRV_FD_LISTENER, SRV_FD_CONN, SRV_FD_WAKE, SRV_FD_BACKEND };

enum srv_conn_state {
	SRV_CONN_HANDSHAKE,    /* TLS handshake in progress */
	SRV_CONN_DIRECTORY,    /* waiting for the directory pool (fd not polled) */
	SRV_CONN_AUDIT,        /* allowed; waiting until the event is on disk (fsync = always) */
	SRV_CONN_OPEN,         /* allowed: responder reads the request */
	SRV_CONN_WRITING,      /* responder writes its answer */
	SRV_CONN_RELAY,        /* allowed: bytes relayed to and from the backend */
	SRV_CONN_LINGER,       /* our side is shut; draining the client's bytes briefly */
	SRV_CONN_CLOSING,      /* closed; waiting only for an outstanding directory job */
};

struct srv_step {
	const char *name;
	uint32_t t_us;
};

enum srv_timer_list { SRV_TIMER_NONE, SRV_TIMER_HANDSHAKE, SRV_TIMER_IDLE };

struct srv_conn {
	enum srv_fd_kind kind;            /* SRV_FD_CONN: must stay first */
	enum srv_conn_state state;
	int fd;
	uint32_t epoll_events;            /* current interest; 0 = not registered */
	struct srv_worker *w;
	struct srv_runtime *rt;           /* our reference */
	gnutls_session_t tls;
	uint64_t t0_us;                   /* accept time (monotonic) */
	uint64_t wall0_us;                /* accept time (wall clock) */
	/* timer list membership */
	enum srv_timer_list timer;
	uint64_t deadline_ms;
	struct srv_conn *tprev, *tnext;
	/* all connections of the worker */
	struct srv_conn *prev, *next;

	char peer[64];
	const char *listener;             /* the listen address text (the runtime's config) */
	struct srv_step steps[SRV_MAX_STEPS];
	unsigned n_steps;
	bool negotiated;                  /* our ServerHello went out: the "tls" facts mean something */

	struct pki_facts *facts;
	struct pki_verdict verdict;
	bool job_pending;                 /* the pool (or a lookup in flight) holds job */
	bool job_leader;                  /* job is the lookup others wait on (dir_cache_inflight_*) */
	uint64_t cache_epoch;             /* the cache's invalidation epoch when the lookup started */
	const char *cache_use;            /* "hit", "miss" or "stale" for the event */
	struct dir_job job;
	bool directory_used;
	uint64_t event_id;
	enum cg_reason reason;

	size_t in_len;
	char in[SRV_REQ_MAX];
	size_t out_len, out_off;
	char out[SRV_RESP_MAX];
	atomic_uint_fast64_t io_in, io_out; /* application bytes, read by the API */
	size_t linger_drained;            /* bytes thrown away while lingering */
	/* registry of open connections (srv_api.c) */
	bool registered;
	struct srv_conn *reg_prev, *reg_next;
	struct srv_relay *relay;          /* with a backend, once allowed */
	/* re-checks of an open connection (recheck_interval, a reload, a dropped decision) */
	struct dir_job *rjob;             /* the re-check's directory job, while the pool holds it */
	struct srv_runtime *rjob_rt;      /* the runtime rjob->cfg belongs to (our reference) */
	uint64_t rjob_epoch;              /* the cache's epoch when the re-check started */
	bool rc_listed;                   /* on the worker's re-check list */
	uint64_t recheck_ms;
	struct srv_conn *rc_prev, *rc_next;
	bool audit_pending;               /* the journal still holds a durable callback for us */
	bool audit_written;
	struct srv_conn *audit_next;      /* worker's queue of durable answers */
};

/* Record a transcript step at the current time (bounded; extra steps are dropped). */
void srv_conn_step(struct srv_conn *c, const char *name);

/* Create the connection for an accepted fd and start its handshake.
 * Takes over fd (closed on failure). */
struct srv_conn *srv_conn_new(struct srv_worker *w, int fd, const char *peer,
			      const char *listener, struct srv_runtime *rt);
/* Drive the connection after epoll reported events on its fd. */
void srv_conn_on_io(struct srv_conn *c, uint32_t events);
/* The connection's timer expired. */
void srv_conn_on_timeout(struct srv_conn *c);
/* The directory pool answered c->job. */
void srv_conn_on_directory(struct srv_conn *c);
/* The journal answered for an allowed connection's event (fsync = always). */
void srv_conn_on_audit(struct srv_conn *c);
/* Check an open connection again with the current runtime: chain, CRLs and
 * directory. A denial closes it with a "recheck" event (revoked_live). */
void srv_conn_recheck(struct srv_conn *c);
/* The pool answered c->rjob. */
void srv_conn_on_recheck(struct srv_conn *c);
/* The relay is over: close_notify (unless failed), then a lingering close. */
void srv_conn_finish(struct srv_conn *c, bool failed);
/* Close at once (shutdown). */
void srv_conn_abort(struct srv_conn *c);

#endif
