/* The directory pool: pool_size threads, one LDAP handle each. Workers hand
 * it jobs and never wait; a finished job is handed back through the job's
 * complete() callback, called on a pool thread (the server's callback queues
 * it for the owning worker and writes that worker's eventfd). */
#ifndef DIR_POOL_H
#define DIR_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include "common/cg_err.h"
#include "ldap/dir_check.h"
#include "ldap/dir_config.h"
#include "pki/pki_facts.h"

#define DIR_POOL_MAX_QUEUE 65536

struct dir_job {
	const struct dir_config *cfg;     /* borrowed: the submitter keeps its runtime alive until complete() */
	uint64_t generation;              /* the runtime generation cfg belongs to; a change makes threads rebind */
	const struct pki_facts *facts;    /* borrowed, same lifetime */
	char anchor_sha256[65];
	struct dir_result result;         /* filled by the pool before complete() */
	void (*complete)(struct dir_job *job);
	void *owner;
	struct dir_job *next;             /* the pool's queue link until complete(); then the owner's */
};

struct dir_health {
	bool up;                  /* the last operation on any handle succeeded */
	char uri[256];            /* the URI last bound */
	char last_error[256];     /* "" when none */
	uint64_t latency_us;      /* of the last successful check */
};

struct dir_pool;

/* Start n threads (at least 1). Threads connect lazily, on their first job.
 * On CG_OK *out is the caller's (dir_pool_stop). */
CG_MUST_CHECK enum cg_err dir_pool_start(unsigned n, struct dir_pool **out);
/* Queue a job; never blocks on the directory. CG_ERR_RANGE when the queue is
 * full: the caller decides directory_unavailable itself. */
CG_MUST_CHECK enum cg_err dir_pool_submit(struct dir_pool *p, struct dir_job *job);
/* Finish queued jobs with directory_unavailable, join the threads, free. */
void dir_pool_stop(struct dir_pool *p);
void dir_pool_health(struct dir_pool *p, struct dir_health *out);

#endif
