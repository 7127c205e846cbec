/* The event journal: ring of recent events, identities table, audit writer
 * thread. Lock order: j->lock (rwlock) before j->qlock (audit queue). Nothing
 * under either lock does I/O; the writer thread serialises and writes with no
 * lock held. */
#include "api_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "common/cg_time.h"

#define IDENT_BUCKETS   (1u << 17)      /* > API_IDENTITIES_MAX, power of two */
#define AUDIT_QUEUE_MIN 4096u
#define AUDIT_QUEUE_MAX (1u << 20)
#define TIME_LEN        32

struct ident {
	char sha256[65];
	char *subject;
	char *entry;
	char first_seen[TIME_LEN];
	char last_seen[TIME_LEN];
	char not_after[TIME_LEN];       /* "" when unknown */
	int64_t not_after_s;            /* INT64_MAX when unknown */
	uint64_t allowed;
	uint64_t denied;
	struct ident *hnext;            /* hash chain */
	struct ident *newer;            /* recency list, head = most recent */
	struct ident *older;
};

struct audit_item {
	json_t *event;
	api_durable_fn durable;
	void *arg;
};

struct api_journal {
	pthread_rwlock_t lock;
	json_t **ring;
	size_t cap;
	uint64_t next_id;
	uint64_t recorded;
	struct ident **buckets;
	struct ident *newest;
	struct ident *oldest;
	size_t n_ident;

	/* audit writer */
	char *path;
	int fd;                         /* writer thread only after create */
	enum api_fsync mode;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;           /* writer waits for work */
	pthread_cond_t done_cond;       /* flushers wait for done_seq */
	struct audit_item *queue;
	struct audit_item *batch;       /* writer's private copy */
	bool *batch_ok;                 /* writer's: line i written */
	size_t qcap, qhead, qlen;
	uint64_t enq_seq, done_seq;
	bool reopen, stop;
	pthread_t thread;
	bool thread_started;
	atomic_uint_fast64_t dropped;
	atomic_uint_fast64_t written;
};

static const char *get_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static const char *get_str2(json_t *obj, const char *k1, const char *k2)
{
	return json_string_value(json_object_get(json_object_get(obj, k1), k2));
}

/* "2027-01-01T00:00:00Z" (fraction and offset Z only) to seconds; INT64_MAX on junk. */
static int64_t parse_rfc3339(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return INT64_MAX;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (strcmp(p, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return INT64_MAX;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	return (int64_t)timegm(&tm);
}

static void copy_time(char dst[TIME_LEN], const char *src)
{
	if (src == NULL || strlen(src) >= TIME_LEN)
		cg_time_format_us(cg_wall_us(), dst, TIME_LEN);
	else
		memcpy(dst, src, strlen(src) + 1);
}

static uint32_t ident_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h & (IDENT_BUCKETS - 1);
}

static void ident_unlink_list(struct api_journal *j, struct ident *id)
{
	if (id->newer != NULL)
		id->newer->older = id->older;
	else
		j->newest = id->older;
	if (id->older != NULL)
		id->older->newer = id->newer;
	else
		j->oldest = id->newer;
	id->newer = id->older = NULL;
}

static void ident_push_front(struct api_journal *j, struct ident *id)
{
	id->older = j->newest;
	id->newer = NULL;
	if (j->newest != NULL)
		j->newest->newer = id;
	j->newest = id;
	if (j->oldest == NULL)
		j->oldest = id;
}

static void ident_free(struct ident *id)
{
	free(id->subject);
	free(id->entry);
	free(id);
}

static void ident_evict_oldest(struct api_journal *j)
{
	struct ident *victim = j->oldest;
	struct ident **pp = &j->buckets[ident_hash(victim->sha256)];
	while (*pp != victim)
		pp = &(*pp)->hnext;
	*pp = victim->hnext;
	ident_unlink_list(j, victim);
	ident_free(victim);
	j->n_ident--;
}

static bool is_sha256_hex(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') || (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	return n == 64;
}

/* Under the write lock. Allocation failures only lose the identity row. */
static void ident_update(struct api_journal *j, json_t *ev)
{
	const char *sha = get_str2(ev, "cert", "sha256");
	if (sha == NULL || !is_sha256_hex(sha))
		return;
	const char *outcome = get_str(ev, "outcome");
	const char *entry = get_str2(ev, "directory", "entry");
	const char *na = get_str2(ev, "cert", "not_after");
	uint32_t h = ident_hash(sha);
	struct ident *id = j->buckets[h];
	while (id != NULL && strcmp(id->sha256, sha) != 0)
		id = id->hnext;
	if (id == NULL) {
		const char *subject = get_str2(ev, "cert", "subject");
		id = calloc(1, sizeof(*id));
		if (id == NULL)
			return;
		memcpy(id->sha256, sha, 65);
		id->subject = strdup(subject != NULL ? subject : "");
		if (id->subject == NULL) {
			free(id);
			return;
		}
		id->not_after_s = INT64_MAX;
		copy_time(id->first_seen, get_str(ev, "time"));
		if (j->n_ident >= API_IDENTITIES_MAX)
			ident_evict_oldest(j);
		id->hnext = j->buckets[h];
		j->buckets[h] = id;
		j->n_ident++;
	} else {
		ident_unlink_list(j, id);
	}
	ident_push_front(j, id);
	copy_time(id->last_seen, get_str(ev, "time"));
	if (outcome != NULL && strcmp(outcome, "allowed") == 0)
		id->allowed++;
	else
		id->denied++;
	if (entry != NULL && (id->entry == NULL || strcmp(id->entry, entry) != 0)) {
		char *e = strdup(entry);
		if (e != NULL) {
			free(id->entry);
			id->entry = e;
		}
	}
	if (na != NULL && strlen(na) < TIME_LEN) {
		memcpy(id->not_after, na, strlen(na) + 1);
		id->not_after_s = parse_rfc3339(na);
	}
}

/* ---- audit writer ---- */

static int open_audit(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void abs_deadline(struct timespec *ts, uint64_t mono_ms)
{
	ts->tv_sec = (time_t)(mono_ms / 1000);
	ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

static void *writer_main(void *arg)
{
	struct api_journal *j = arg;
	char *line = NULL;
	size_t line_cap = 0;
	bool dirty = false;             /* written since the last fdatasync */
	uint64_t last_sync_ms = cg_mono_ms();
	bool failed_logged = false;

	pthread_mutex_lock(&j->qlock);
	for (;;) {
		while (j->qlen == 0 && !j->reopen && !j->stop) {
			if (dirty && j->mode == API_FSYNC_INTERVAL) {
				struct timespec ts;
				if (cg_mono_ms() >= last_sync_ms + 1000)
					break;
				abs_deadline(&ts, last_sync_ms + 1000);
				pthread_cond_timedwait(&j->qcond, &j->qlock, &ts);
			} else {
				pthread_cond_wait(&j->qcond, &j->qlock);
			}
		}
		bool do_reopen = j->reopen;
		j->reopen = false;
		size_t n = j->qlen;
		for (size_t i = 0; i < n; i++)
			j->batch[i] = j->queue[(j->qhead + i) % j->qcap];
		j->qhead = (j->qhead + n) % j->qcap;
		j->qlen = 0;
		bool stopping = j->stop;
		pthread_mutex_unlock(&j->qlock);

		if (do_reopen) {
			int fd = open_audit(j->path);
			if (fd < 0) {
				cg_err_log("audit log %s: reopen: %s (still writing to the old file)",
					   j->path, strerror(errno));
			} else {
				if (dirty && j->mode != API_FSYNC_NEVER)
					(void)fdatasync(j->fd);
				close(j->fd);
				j->fd = fd;
				dirty = false;
				cg_info("audit log %s reopened", j->path);
			}
		}
		for (size_t i = 0; i < n; i++) {
			size_t need = json_dumpb(j->batch[i].event, NULL, 0, JSON_COMPACT);
			bool ok = need > 0;
			if (ok && need + 1 > line_cap) {
				char *p = realloc(line, need + 1);
				ok = p != NULL;
				if (ok) {
					line = p;
					line_cap = need + 1;
				}
			}
			if (ok) {
				json_dumpb(j->batch[i].event, line, need, JSON_COMPACT);
				line[need] = '\n';
				ok = write_all(j->fd, line, need + 1);
			}
			if (ok) {
				atomic_fetch_add_explicit(&j->written, 1, memory_order_relaxed);
				dirty = true;
			} else {
				atomic_fetch_add_explicit(&j->dropped, 1, memory_order_relaxed);
				if (!failed_logged)
					cg_err_log("audit log %s: write failed: %s", j->path, strerror(errno));
				failed_logged = true;
			}
			j->batch_ok[i] = ok;
		}
		bool synced = true;
		if (dirty && (j->mode == API_FSYNC_ALWAYS ||
			      (j->mode == API_FSYNC_INTERVAL && (cg_mono_ms() >= last_sync_ms + 1000 || stopping)))) {
			if (fdatasync(j->fd) != 0) {
				cg_err_log("audit log %s: fdatasync: %s", j->path, strerror(errno));
				synced = false;
			}
			dirty = false;
			last_sync_ms = cg_mono_ms();
		}
		for (size_t i = 0; i < n; i++) {
			if (j->batch[i].durable != NULL)
				j->batch[i].durable(j->batch[i].arg, j->batch_ok[i] && synced);
			json_decref(j->batch[i].event);
		}

		pthread_mutex_lock(&j->qlock);
		j->done_seq += n;
		pthread_cond_broadcast(&j->done_cond);
		if (stopping && j->qlen == 0)
			break;
	}
	pthread_mutex_unlock(&j->qlock);
	if (dirty && j->mode != API_FSYNC_NEVER)
		(void)fdatasync(j->fd);
	free(line);
	return NULL;
}

/* ---- life cycle ---- */

/* The journal's memory (not its threads, locks or file): for create's failure and destroy. */
static void journal_free_storage(struct api_journal *j)
{
	free(j->queue);
	free(j->batch);
	free(j->batch_ok);
	free(j->path);
	free(j->ring);
	free(j->buckets);
	free(j);
}

enum cg_err api_journal_create(size_t capacity, const char *audit_path, enum api_fsync mode,
			       struct api_journal **out, char *err, size_t errlen)
{
	enum cg_err r = CG_ERR_NOMEM;
	struct api_journal *j = NULL;
	bool rw_init = false, q_init = false;

	*out = NULL;
	if (capacity == 0 || capacity > SIZE_MAX / sizeof(json_t *)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "events buffer must be at least 1");
		return CG_ERR_ARG;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		goto out;
	j->fd = -1;
	j->cap = capacity;
	j->next_id = 1;
	j->mode = mode;
	j->ring = calloc(capacity, sizeof(*j->ring));
	j->buckets = calloc(IDENT_BUCKETS, sizeof(*j->buckets));
	if (j->ring == NULL || j->buckets == NULL)
		goto out;
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rw_init = pthread_rwlock_init(&j->lock, &ra) == 0;
	pthread_rwlockattr_destroy(&ra);
	if (!rw_init)
		goto out;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&j->qlock, NULL);
	pthread_cond_init(&j->qcond, &ca);
	pthread_cond_init(&j->done_cond, NULL);
	pthread_condattr_destroy(&ca);
	q_init = true;

	if (audit_path != NULL) {
		j->qcap = capacity < AUDIT_QUEUE_MIN ? AUDIT_QUEUE_MIN :
			  capacity > AUDIT_QUEUE_MAX ? AUDIT_QUEUE_MAX : capacity;
		j->queue = calloc(j->qcap, sizeof(*j->queue));
		j->batch = calloc(j->qcap, sizeof(*j->batch));
		j->batch_ok = calloc(j->qcap, sizeof(*j->batch_ok));
		j->path = strdup(audit_path);
		if (j->queue == NULL || j->batch == NULL || j->batch_ok == NULL || j->path == NULL)
			goto out;
		j->fd = open_audit(audit_path);
		if (j->fd < 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "audit log %s: %s", audit_path, strerror(errno));
			r = CG_ERR_IO;
			goto out;
		}
		if (pthread_create(&j->thread, NULL, writer_main, j) != 0) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "audit log %s: cannot start the writer thread", audit_path);
			r = CG_ERR_IO;
			goto out;
		}
		j->thread_started = true;
	}
	*out = j;
	j = NULL;
	r = CG_OK;
out:
	if (j != NULL) {
		if (j->fd >= 0)
			close(j->fd);
		if (q_init) {
			pthread_mutex_destroy(&j->qlock);
			pthread_cond_destroy(&j->qcond);
			pthread_cond_destroy(&j->done_cond);
		}
		if (rw_init)
			pthread_rwlock_destroy(&j->lock);
		journal_free_storage(j);
	}
	if (r == CG_ERR_NOMEM && err != NULL && errlen > 0)
		snprintf(err, errlen, "out of memory");
	return r;
}

void api_journal_destroy(struct api_journal *j)
{
	if (j == NULL)
		return;
	if (j->thread_started) {
		pthread_mutex_lock(&j->qlock);
		j->stop = true;
		pthread_cond_signal(&j->qcond);
		pthread_mutex_unlock(&j->qlock);
		pthread_join(j->thread, NULL);
	}
	if (j->fd >= 0)
		close(j->fd);
	for (size_t i = 0; i < j->cap; i++)
		json_decref(j->ring[i]);
	while (j->newest != NULL) {
		struct ident *id = j->newest;
		j->newest = id->older;
		ident_free(id);
	}
	pthread_mutex_destroy(&j->qlock);
	pthread_cond_destroy(&j->qcond);
	pthread_cond_destroy(&j->done_cond);
	pthread_rwlock_destroy(&j->lock);
	journal_free_storage(j);
}

/* ---- recording ---- */

uint64_t api_journal_record(struct api_journal *j, json_t *event, api_durable_fn durable, void *arg)
{
	json_t *idval = json_integer(0);
	json_t *old = NULL;
	uint64_t id = 0;
	bool queued = false, wait_for_writer = false;

	if (!json_is_object(event) || idval == NULL ||
	    json_object_set(event, "id", idval) != 0) {
		json_decref(idval);
		json_decref(event);
		if (durable != NULL)
			durable(arg, false);
		return 0;
	}
	pthread_rwlock_wrlock(&j->lock);
	id = j->next_id++;
	json_integer_set(idval, (json_int_t)id);
	size_t slot = (size_t)((id - 1) % j->cap);
	old = j->ring[slot];
	j->ring[slot] = event;          /* the ring owns the caller's reference */
	j->recorded++;
	ident_update(j, event);
	if (j->path != NULL) {
		pthread_mutex_lock(&j->qlock);
		if (j->qlen < j->qcap) {
			struct audit_item *it = &j->queue[(j->qhead + j->qlen) % j->qcap];
			it->event = json_incref(event);
			wait_for_writer = durable != NULL && j->mode == API_FSYNC_ALWAYS;
			it->durable = wait_for_writer ? durable : NULL;
			it->arg = arg;
			j->qlen++;
			j->enq_seq++;
			queued = true;
			pthread_cond_signal(&j->qcond);
		} else {
			atomic_fetch_add_explicit(&j->dropped, 1, memory_order_relaxed);
		}
		pthread_mutex_unlock(&j->qlock);
	}
	pthread_rwlock_unlock(&j->lock);

	json_decref(old);
	json_decref(idval);             /* the event holds its own reference */
	if (durable != NULL && !wait_for_writer)
		durable(arg, j->path == NULL || queued);
	return id;
}

void api_journal_reopen(struct api_journal *j)
{
	if (j->path == NULL)
		return;
	pthread_mutex_lock(&j->qlock);
	j->reopen = true;
	pthread_cond_signal(&j->qcond);
	pthread_mutex_unlock(&j->qlock);
}

void api_journal_flush(struct api_journal *j)
{
	if (j->path == NULL)
		return;
	pthread_mutex_lock(&j->qlock);
	uint64_t target = j->enq_seq;
	while (j->done_seq < target)
		pthread_cond_wait(&j->done_cond, &j->qlock);
	pthread_mutex_unlock(&j->qlock);
}

/* ---- queries ---- */

static bool event_matches(json_t *ev, const struct api_event_query *q)
{
	if (q->outcome != NULL) {
		const char *o = get_str(ev, "outcome");
		if (o == NULL || strcmp(o, q->outcome) != 0)
			return false;
	}
	if (q->reason != NULL) {
		const char *r = get_str(ev, "reason");
		if (r == NULL || strcmp(r, q->reason) != 0)
			return false;
	}
	if (q->subject != NULL) {
		const char *s = get_str2(ev, "cert", "subject");
		if (s == NULL || strstr(s, q->subject) == NULL)
			return false;
	}
	return true;
}

json_t *api_journal_query(struct api_journal *j, const struct api_event_query *q)
{
	unsigned limit = q->limit == 0 ? API_EVENTS_LIMIT_DEFAULT : q->limit;
	json_t *res = NULL, *arr = NULL;
	uint64_t last = 0;
	bool more = false, fail = false;

	if (limit > API_EVENTS_LIMIT_MAX)
		return NULL;
	arr = json_array();
	if (arr == NULL)
		return NULL;
	pthread_rwlock_rdlock(&j->lock);
	uint64_t newest = j->next_id - 1;
	uint64_t oldest = j->next_id > j->cap ? j->next_id - j->cap : 1;
	uint64_t lo = oldest;
	if (q->after >= lo)
		lo = q->after == UINT64_MAX ? UINT64_MAX : q->after + 1;
	uint64_t hi = newest;
	if (q->before != 0 && q->before - 1 < hi)
		hi = q->before - 1;
	unsigned n = 0;
	for (uint64_t id = hi; id >= lo && id >= 1 && hi >= lo; id--) {
		json_t *ev = j->ring[(id - 1) % j->cap];
		if (ev != NULL && event_matches(ev, q)) {
			if (n == limit) {
				more = true;
				break;
			}
			if (json_array_append(arr, ev) != 0) {
				fail = true;
				break;
			}
			n++;
			last = id;
		}
		if (id == lo)
			break;
	}
	pthread_rwlock_unlock(&j->lock);
	if (fail)
		goto out;
	res = json_object();
	if (res == NULL || json_object_set_new(res, "events", arr) != 0) {
		arr = NULL;
		json_decref(res);
		res = NULL;
		goto out;
	}
	arr = NULL;
	if (more && json_object_set_new(res, "next", json_integer((json_int_t)last)) != 0) {
		json_decref(res);
		res = NULL;
	}
out:
	json_decref(arr);
	return res;
}

json_t *api_journal_get(struct api_journal *j, uint64_t id)
{
	json_t *ev = NULL;
	pthread_rwlock_rdlock(&j->lock);
	uint64_t oldest = j->next_id > j->cap ? j->next_id - j->cap : 1;
	if (id >= oldest && id < j->next_id)
		ev = json_incref(j->ring[(id - 1) % j->cap]);
	pthread_rwlock_unlock(&j->lock);
	return ev;
}

static json_t *ident_json(const struct ident *id)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}",
			      "sha256", id->sha256, "subject", id->subject,
			      "first_seen", id->first_seen, "last_seen", id->last_seen,
			      "allowed", (json_int_t)id->allowed, "denied", (json_int_t)id->denied);
	if (o == NULL)
		return NULL;
	if ((id->entry != NULL && json_object_set_new(o, "entry", json_string(id->entry)) != 0) ||
	    (id->not_after[0] != '\0' && json_object_set_new(o, "not_after", json_string(id->not_after)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *api_identities_query(struct api_journal *j, int64_t expiring_within_s)
{
	json_t *arr = json_array();
	json_t *res = NULL;
	bool fail = arr == NULL;
	int64_t now = (int64_t)time(NULL);
	int64_t horizon = expiring_within_s < 0 ? 0 :
			  expiring_within_s > INT64_MAX - now ? INT64_MAX - 1 : now + expiring_within_s;

	pthread_rwlock_rdlock(&j->lock);
	for (const struct ident *id = j->newest; id != NULL && !fail; id = id->older) {
		if (expiring_within_s >= 0 && id->not_after_s > horizon)
			continue;
		if (json_array_append_new(arr, ident_json(id)) != 0)
			fail = true;
	}
	pthread_rwlock_unlock(&j->lock);
	if (!fail)
		res = json_pack("{s:o}", "identities", arr);    /* steals arr, also on error */
	else
		json_decref(arr);
	return res;
}

void api_journal_counters(struct api_journal *j, struct api_journal_counters *out)
{
	pthread_rwlock_rdlock(&j->lock);
	out->recorded = j->recorded;
	out->identities = j->n_ident;
	pthread_rwlock_unlock(&j->lock);
	out->dropped = atomic_load_explicit(&j->dropped, memory_order_relaxed);
	out->written = atomic_load_explicit(&j->written, memory_order_relaxed);
}
