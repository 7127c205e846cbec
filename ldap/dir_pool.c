/* The directory pool: n threads behind one bounded FIFO. Each thread owns one
 * LDAP handle, opened lazily for the job's configuration and reopened when the
 * runtime generation changes or a check says the handle is broken (the job is
 * then retried once on a fresh connection, so a restarted directory is picked
 * up at once). Failed connection attempts back off (100 ms doubling to 5 s)
 * pool-wide; while backing off, jobs are answered directory_unavailable at
 * once instead of queueing behind a dead directory. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "ldap/dir_conn.h"
#include "ldap/dir_pool.h"

#define DIR_BACKOFF_MIN_MS  100
#define DIR_BACKOFF_MAX_MS  5000

struct dir_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct dir_job *head, *tail;
	size_t queued;
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
	/* connection backoff, shared by all threads (under mu) */
	uint64_t backoff_ms;
	uint64_t next_attempt_ms;
	/* health (under hmu) */
	pthread_mutex_t hmu;
	struct dir_health health;
};

struct dir_worker {
	LDAP *ld;
	uint64_t generation;
	const struct dir_config *cfg;
};

static void dir_pool_set_health(struct dir_pool *p, bool up, const char *uri, const char *error,
				uint64_t latency_us)
{
	pthread_mutex_lock(&p->hmu);
	p->health.up = up;
	if (uri != NULL && uri[0] != '\0')
		snprintf(p->health.uri, sizeof(p->health.uri), "%s", uri);
	snprintf(p->health.last_error, sizeof(p->health.last_error), "%s", error != NULL ? error : "");
	if (up && latency_us > 0)
		p->health.latency_us = latency_us;
	pthread_mutex_unlock(&p->hmu);
}

static void dir_job_unavailable(struct dir_job *job, const char *why)
{
	memset(&job->result, 0, sizeof(job->result));
	job->result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
	snprintf(job->result.detail, sizeof(job->result.detail), "%s", why);
}

static void dir_worker_close(struct dir_worker *w)
{
	if (w->ld != NULL)
		ldap_unbind_ext_s(w->ld, NULL, NULL);
	w->ld = NULL;
	w->cfg = NULL;
}

/* Make sure w holds a handle bound for job. false (err filled) when backing
 * off or when the attempt failed. */
static bool dir_worker_connect(struct dir_pool *p, struct dir_worker *w, const struct dir_job *job,
			       char *err, size_t errlen)
{
	char uri[256] = "";
	uint64_t now;
	if (w->ld != NULL && w->generation == job->generation && w->cfg == job->cfg)
		return true;
	dir_worker_close(w);
	now = cg_mono_ms();
	pthread_mutex_lock(&p->mu);
	bool waiting = now < p->next_attempt_ms;
	pthread_mutex_unlock(&p->mu);
	if (waiting) {
		pthread_mutex_lock(&p->hmu);
		snprintf(err, errlen, "directory unreachable, retrying shortly: %.200s", p->health.last_error);
		pthread_mutex_unlock(&p->hmu);
		return false;
	}
	if (dir_conn_open(job->cfg, &w->ld, uri, sizeof(uri), err, errlen) != CG_OK) {
		pthread_mutex_lock(&p->mu);
		p->backoff_ms = p->backoff_ms == 0 ? DIR_BACKOFF_MIN_MS : p->backoff_ms * 2;
		if (p->backoff_ms > DIR_BACKOFF_MAX_MS)
			p->backoff_ms = DIR_BACKOFF_MAX_MS;
		p->next_attempt_ms = cg_mono_ms() + p->backoff_ms;
		pthread_mutex_unlock(&p->mu);
		dir_pool_set_health(p, false, NULL, err, 0);
		return false;
	}
	pthread_mutex_lock(&p->mu);
	p->backoff_ms = 0;
	p->next_attempt_ms = 0;
	pthread_mutex_unlock(&p->mu);
	w->generation = job->generation;
	w->cfg = job->cfg;
	dir_pool_set_health(p, true, uri, NULL, 0);
	return true;
}

/* Decide one job on w's handle, retrying once on a fresh connection. */
static void dir_worker_run(struct dir_pool *p, struct dir_worker *w, struct dir_job *job)
{
	char err[256] = "";
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!dir_worker_connect(p, w, job, err, sizeof(err))) {
			dir_job_unavailable(job, err);
			return;
		}
		enum cg_err r = dir_check_run(w->ld, job->cfg, job->facts, job->anchor_sha256, false,
					      &job->result);
		if (r == CG_OK) {
			dir_pool_set_health(p, true, NULL, NULL, job->result.latency_us);
			return;
		}
		snprintf(err, sizeof(err), "%s", job->result.detail);
		dir_pool_set_health(p, false, NULL, err, 0);
		dir_worker_close(w);
		if (attempt == 0)
			dir_result_clear(&job->result);
	}
}

static void *dir_pool_thread(void *arg)
{
	struct dir_pool *p = arg;
	struct dir_worker w = { .ld = NULL };
	for (;;) {
		struct dir_job *job;
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		job = p->head;
		p->head = job->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->mu);
		job->next = NULL;
		dir_worker_run(p, &w, job);
		job->complete(job);
	}
	dir_worker_close(&w);
	return NULL;
}

CG_MUST_CHECK enum cg_err dir_pool_start(unsigned n, struct dir_pool **out)
{
	struct dir_pool *p;
	*out = NULL;
	if (n == 0)
		n = 1;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return CG_ERR_NOMEM;
	p->threads = calloc(n, sizeof(*p->threads));
	if (p->threads == NULL) {
		free(p);
		return CG_ERR_NOMEM;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_mutex_init(&p->hmu, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, dir_pool_thread, p) != 0) {
			cg_err_log("directory pool: cannot start thread %u of %u", i + 1, n);
			break;
		}
		p->n_threads++;
	}
	if (p->n_threads == 0) {
		dir_pool_stop(p);
		return CG_ERR_NOMEM;
	}
	*out = p;
	return CG_OK;
}

CG_MUST_CHECK enum cg_err dir_pool_submit(struct dir_pool *p, struct dir_job *job)
{
	enum cg_err r = CG_ERR_RANGE;
	job->next = NULL;
	memset(&job->result, 0, sizeof(job->result));
	pthread_mutex_lock(&p->mu);
	if (!p->stopping && p->queued < DIR_POOL_MAX_QUEUE) {
		if (p->tail != NULL)
			p->tail->next = job;
		else
			p->head = job;
		p->tail = job;
		p->queued++;
		pthread_cond_signal(&p->cv);
		r = CG_OK;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

void dir_pool_stop(struct dir_pool *p)
{
	struct dir_job *left;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	left = p->head;
	p->head = p->tail = NULL;
	while (left != NULL) {
		struct dir_job *next = left->next;
		left->next = NULL;
		dir_job_unavailable(left, "directory pool stopping");
		left->complete(left);
		left = next;
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->hmu);
	free(p->threads);
	free(p);
}

void dir_pool_health(struct dir_pool *p, struct dir_health *out)
{
	pthread_mutex_lock(&p->hmu);
	*out = p->health;
	pthread_mutex_unlock(&p->hmu);
}
