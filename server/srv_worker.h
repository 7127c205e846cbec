/* Worker threads: each owns an epoll instance, its own SO_REUSEPORT socket
 * per listen address, its timers and its connections. Directory answers come
 * back through the worker's eventfd. */
#ifndef SRV_WORKER_H
#define SRV_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "api/api_stats.h"
#include "common/cg_err.h"
#include "ldap/dir_cache.h"
#include "ldap/dir_pool.h"
#include "server/srv_conn.h"
#include "server/srv_runtime.h"

struct srv_listener {
	enum srv_fd_kind kind;   /* SRV_FD_LISTENER: must stay first */
	int fd;
	char text[80];
};

struct srv_wake {
	enum srv_fd_kind kind;   /* SRV_FD_WAKE */
	int fd;                  /* eventfd */
};

/* Shared by every worker. */
struct srv_shared {
	atomic_uint_fast64_t active;       /* open connections, all workers */
	atomic_bool stopping;
	uint64_t stop_deadline_ms;         /* set before stopping is raised */
	struct dir_pool *pool;             /* NULL without a directory */
	struct dir_cache *cache;           /* NULL without a directory */
};

struct srv_worker {
	unsigned index;
	pthread_t thread;
	int epfd;
	struct srv_wake wake;
	struct srv_listener listeners[16];
	unsigned n_listeners;
	struct srv_shared *shared;
	struct srv_runtime *rt;            /* cached current runtime (our reference) */
	struct srv_conn *conns;            /* every connection of this worker */
	unsigned n_conns;
	struct srv_conn *timers_head[3], *timers_tail[3];
	pthread_mutex_t done_lock;
	struct dir_job *done;              /* directory answers handed back by the pool */
	struct srv_conn *audit_done;       /* durable-event answers handed back by the journal */
	struct api_stats_worker *stats;    /* this worker's counters */
	bool audit_always;                 /* fsync = always with an audit log */
	struct srv_relay *relays_dead;     /* closed relays, freed after the epoll batch */
	struct srv_conn *rc_head, *rc_tail; /* open connections in re-check order */
	uint64_t cache_epoch_seen;         /* the decision cache's epoch at the last sweep */
	bool listening;
};

/* Create the worker's epoll, eventfd and one SO_REUSEPORT socket per listen
 * address of rt. err names the address on failure. */
CG_MUST_CHECK enum cg_err srv_worker_init(struct srv_worker *w, unsigned index, struct srv_shared *shared,
					  struct srv_runtime *rt, char *err, size_t errlen);
CG_MUST_CHECK enum cg_err srv_worker_start(struct srv_worker *w);
/* Wake the worker (stop, reload). Thread-safe. */
void srv_worker_wake(struct srv_worker *w);
void srv_worker_join(struct srv_worker *w);
/* After the workers stopped: hand back every answer still queued for them
 * (directory, journal), over and over until none is left. */
void srv_workers_drain(struct srv_worker *workers, unsigned n);
void srv_worker_destroy(struct srv_worker *w);

/* For srv_conn.c: timers and epoll interest. */
void srv_worker_timer_set(struct srv_worker *w, struct srv_conn *c, enum srv_timer_list list, uint64_t deadline_ms);
void srv_worker_timer_clear(struct srv_worker *w, struct srv_conn *c);
void srv_worker_poll(struct srv_worker *w, struct srv_conn *c, uint32_t events);
/* Move fd (registered with data ptr) from the interest *cur to events (0:
 * unregistered); who names it in an error. For the client and backend fds alike. */
void srv_worker_epoll_set(struct srv_worker *w, int fd, void *ptr, uint32_t *cur, uint32_t events,
			  const char *who);
/* A connection joins / leaves the worker (counted in active and the stats;
 * the caller already took its slot in shared->active). */
void srv_worker_conn_add(struct srv_worker *w, struct srv_conn *c);
void srv_worker_conn_gone(struct srv_worker *w, struct srv_conn *c);
/* Re-checks: put an open connection on the list (due after recheck_interval;
 * not at all when it is 0) / take it off. */
void srv_worker_recheck_schedule(struct srv_worker *w, struct srv_conn *c);
void srv_worker_recheck_cancel(struct srv_worker *w, struct srv_conn *c);
/* Pool callback (runs on a pool thread): queue the job for its worker. */
void srv_worker_directory_done(struct dir_job *job);

#endif
