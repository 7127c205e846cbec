/* Per-worker counters summed on read, /v1/stats JSON and /metrics text. */
#include "api_stats.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api_journal.h"

const double api_hist_bounds_s[API_HIST_BOUNDS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
/* The same bounds in microseconds, so that bucketing is exact. */
static const uint64_t hist_bounds_us[API_HIST_BOUNDS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};

struct api_hist {
	atomic_uint_fast64_t bucket[API_HIST_BOUNDS + 1];
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

struct api_stats_worker {
	alignas(64) atomic_uint_fast64_t accepted;
	atomic_int_fast64_t active;
	atomic_uint_fast64_t handshakes[CG_REASON__COUNT];
	struct api_hist handshake_duration;
	atomic_uint_fast64_t directory[API_DIR__COUNT];
	struct api_hist directory_duration;
	atomic_uint_fast64_t cache[API_CACHE__COUNT];
	bool shared;            /* many writers: use atomic read-modify-write */
};

struct api_stats {
	unsigned workers;
	struct api_stats_worker *blocks;        /* workers + 1; the last is shared */
};

struct api_stats *api_stats_create(unsigned workers)
{
	struct api_stats *s = NULL;
	if (workers == 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->workers = workers;
	s->blocks = aligned_alloc(64, sizeof(*s->blocks) * ((size_t)workers + 1));
	if (s->blocks == NULL) {
		free(s);
		return NULL;
	}
	memset(s->blocks, 0, sizeof(*s->blocks) * ((size_t)workers + 1));
	s->blocks[workers].shared = true;
	return s;
}

void api_stats_free(struct api_stats *s)
{
	if (s == NULL)
		return;
	free(s->blocks);
	free(s);
}

unsigned api_stats_workers(const struct api_stats *s)
{
	return s->workers;
}

struct api_stats_worker *api_stats_worker(struct api_stats *s, unsigned i)
{
	return &s->blocks[i < s->workers ? i : s->workers];
}

struct api_stats_worker *api_stats_shared(struct api_stats *s)
{
	return &s->blocks[s->workers];
}

/* One writer: a plain load and store (no locked instruction); shared: fetch_add. */
static inline void add_u(const struct api_stats_worker *w, atomic_uint_fast64_t *c, uint64_t n)
{
	if (w->shared)
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
	else
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void add_i(const struct api_stats_worker *w, atomic_int_fast64_t *c, int64_t n)
{
	if (w->shared)
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
	else
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static void hist_observe(const struct api_stats_worker *w, struct api_hist *h, uint64_t us)
{
	unsigned i = 0;
	while (i < API_HIST_BOUNDS && us > hist_bounds_us[i])
		i++;
	add_u(w, &h->bucket[i], 1);
	add_u(w, &h->count, 1);
	add_u(w, &h->sum_us, us);
}

void api_stats_conn_open(struct api_stats_worker *w)
{
	add_u(w, &w->accepted, 1);
	add_i(w, &w->active, 1);
}

void api_stats_conn_close(struct api_stats_worker *w)
{
	add_i(w, &w->active, -1);
}

void api_stats_handshake(struct api_stats_worker *w, enum cg_reason reason, uint64_t duration_us)
{
	if ((unsigned)reason >= CG_REASON__COUNT)
		reason = CG_REASON_HANDSHAKE_FAILED;
	add_u(w, &w->handshakes[reason], 1);
	hist_observe(w, &w->handshake_duration, duration_us);
}

void api_stats_directory(struct api_stats_worker *w, enum api_dir_result r, uint64_t latency_us)
{
	if ((unsigned)r >= API_DIR__COUNT)
		r = API_DIR_ERROR;
	add_u(w, &w->directory[r], 1);
	hist_observe(w, &w->directory_duration, latency_us);
}

void api_stats_cache(struct api_stats_worker *w, enum api_cache_result r)
{
	if ((unsigned)r < API_CACHE__COUNT)
		add_u(w, &w->cache[r], 1);
}

static uint64_t ld(const atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void hist_sum(struct api_hist_snapshot *dst, const struct api_hist *h)
{
	for (unsigned i = 0; i <= API_HIST_BOUNDS; i++)
		dst->bucket[i] += ld(&h->bucket[i]);
	dst->count += ld(&h->count);
	dst->sum_us += ld(&h->sum_us);
}

void api_stats_read(const struct api_stats *s, struct api_stats_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned b = 0; b <= s->workers; b++) {
		const struct api_stats_worker *w = &s->blocks[b];
		out->accepted += ld(&w->accepted);
		out->active += atomic_load_explicit(&w->active, memory_order_relaxed);
		for (unsigned i = 0; i < CG_REASON__COUNT; i++)
			out->handshakes[i] += ld(&w->handshakes[i]);
		hist_sum(&out->handshake_duration, &w->handshake_duration);
		for (unsigned i = 0; i < API_DIR__COUNT; i++)
			out->directory[i] += ld(&w->directory[i]);
		hist_sum(&out->directory_duration, &w->directory_duration);
		for (unsigned i = 0; i < API_CACHE__COUNT; i++)
			out->cache[i] += ld(&w->cache[i]);
	}
	/* Counters are read one by one while workers run; keep the derived
	 * count consistent with the buckets a scraper sums up. */
	uint64_t n = 0;
	for (unsigned i = 0; i <= API_HIST_BOUNDS; i++)
		n += out->handshake_duration.bucket[i];
	out->handshake_duration.count = n;
	n = 0;
	for (unsigned i = 0; i <= API_HIST_BOUNDS; i++)
		n += out->directory_duration.bucket[i];
	out->directory_duration.count = n;
	if (out->active < 0)
		out->active = 0;
}

static const char *const dir_names[API_DIR__COUNT] = { "ok", "error", "timeout" };
static const char *const cache_names[API_CACHE__COUNT] = { "hit", "miss", "stale" };

static json_t *hist_json(const struct api_hist_snapshot *h)
{
	json_t *buckets = json_object();
	char le[32];
	uint64_t cum = 0;
	if (buckets == NULL)
		return NULL;
	for (unsigned i = 0; i <= API_HIST_BOUNDS; i++) {
		cum += h->bucket[i];
		if (i < API_HIST_BOUNDS)
			snprintf(le, sizeof(le), "%g", api_hist_bounds_s[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		if (json_object_set_new(buckets, le, json_integer((json_int_t)cum)) != 0) {
			json_decref(buckets);
			return NULL;
		}
	}
	return json_pack("{s:I, s:f, s:f, s:o}", "count", (json_int_t)h->count,
			 "sum_s", (double)h->sum_us / 1e6,
			 "avg_ms", h->count ? (double)h->sum_us / 1e3 / (double)h->count : 0.0,
			 "buckets_le_s", buckets);
}

json_t *api_stats_json(const struct api_stats *s, struct api_journal *j)
{
	struct api_stats_snapshot sn;
	struct api_journal_counters jc = { 0 };
	json_t *by_reason = json_object();
	uint64_t allowed = 0, denied = 0;

	api_stats_read(s, &sn);
	if (j != NULL)
		api_journal_counters(j, &jc);
	if (by_reason == NULL)
		return NULL;
	for (unsigned i = 0; i < CG_REASON__COUNT; i++) {
		if (i == CG_REASON_OK)
			allowed += sn.handshakes[i];
		else
			denied += sn.handshakes[i];
		if (json_object_set_new(by_reason, cg_reason_name((enum cg_reason)i),
					json_integer((json_int_t)sn.handshakes[i])) != 0) {
			json_decref(by_reason);
			return NULL;
		}
	}
	uint64_t dir_total = sn.directory[API_DIR_OK] + sn.directory[API_DIR_ERROR] + sn.directory[API_DIR_TIMEOUT];
	/* json_pack's "o" steals even on failure, so nothing leaks on NULL */
	return json_pack("{s:{s:I, s:I}, s:{s:I, s:I, s:I, s:o, s:o},"
			 " s:{s:I, s:I, s:I, s:I, s:o}, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}",
			 "connections", "accepted", (json_int_t)sn.accepted, "active", (json_int_t)sn.active,
			 "handshakes", "total", (json_int_t)(allowed + denied), "allowed", (json_int_t)allowed,
			 "denied", (json_int_t)denied, "by_reason", by_reason,
			 "duration", hist_json(&sn.handshake_duration),
			 "directory", "requests", (json_int_t)dir_total,
			 "ok", (json_int_t)sn.directory[API_DIR_OK],
			 "errors", (json_int_t)sn.directory[API_DIR_ERROR],
			 "timeouts", (json_int_t)sn.directory[API_DIR_TIMEOUT],
			 "latency", hist_json(&sn.directory_duration),
			 "cache", "hits", (json_int_t)sn.cache[API_CACHE_HIT],
			 "misses", (json_int_t)sn.cache[API_CACHE_MISS],
			 "stale", (json_int_t)sn.cache[API_CACHE_STALE],
			 "events", "recorded", (json_int_t)jc.recorded, "dropped", (json_int_t)jc.dropped,
			 "written", (json_int_t)jc.written);
}

static enum cg_err render_hist(struct cg_buf *out, const char *name, const char *help,
			       const struct api_hist_snapshot *h)
{
	uint64_t cum = 0;
	CG_GUARD(cg_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name));
	for (unsigned i = 0; i < API_HIST_BOUNDS; i++) {
		cum += h->bucket[i];
		CG_GUARD(cg_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, api_hist_bounds_s[i],
				       (unsigned long long)cum));
	}
	cum += h->bucket[API_HIST_BOUNDS];
	CG_GUARD(cg_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum));
	CG_GUARD(cg_buf_printf(out, "%s_sum %.6f\n", name, (double)h->sum_us / 1e6));
	CG_GUARD(cg_buf_printf(out, "%s_count %llu\n", name, (unsigned long long)cum));
	return CG_OK;
}

enum cg_err api_metrics_render(const struct api_stats *s, struct api_journal *j, struct cg_buf *out)
{
	struct api_stats_snapshot sn;
	struct api_journal_counters jc = { 0 };

	api_stats_read(s, &sn);
	if (j != NULL)
		api_journal_counters(j, &jc);
	CG_GUARD(cg_buf_printf(out, "# HELP certgate_connections_active Client connections open now.\n"
			       "# TYPE certgate_connections_active gauge\n"
			       "certgate_connections_active %lld\n", (long long)sn.active));
	CG_GUARD(cg_buf_append_str(out, "# HELP certgate_handshakes_total Connection attempts by outcome"
				   " and reason.\n# TYPE certgate_handshakes_total counter\n"));
	for (unsigned i = 0; i < CG_REASON__COUNT; i++)
		CG_GUARD(cg_buf_printf(out, "certgate_handshakes_total{outcome=\"%s\",reason=\"%s\"} %llu\n",
				       i == CG_REASON_OK ? "allowed" : "denied", cg_reason_name((enum cg_reason)i),
				       (unsigned long long)sn.handshakes[i]));
	CG_GUARD(render_hist(out, "certgate_handshake_duration_seconds",
			     "Time from accept to the decision.", &sn.handshake_duration));
	CG_GUARD(cg_buf_append_str(out, "# HELP certgate_directory_requests_total Directory requests by result.\n"
				   "# TYPE certgate_directory_requests_total counter\n"));
	for (unsigned i = 0; i < API_DIR__COUNT; i++)
		CG_GUARD(cg_buf_printf(out, "certgate_directory_requests_total{result=\"%s\"} %llu\n",
				       dir_names[i], (unsigned long long)sn.directory[i]));
	CG_GUARD(render_hist(out, "certgate_directory_duration_seconds",
			     "Directory request latency.", &sn.directory_duration));
	CG_GUARD(cg_buf_append_str(out, "# HELP certgate_cache_lookups_total Decision cache lookups by result.\n"
				   "# TYPE certgate_cache_lookups_total counter\n"));
	for (unsigned i = 0; i < API_CACHE__COUNT; i++)
		CG_GUARD(cg_buf_printf(out, "certgate_cache_lookups_total{result=\"%s\"} %llu\n",
				       cache_names[i], (unsigned long long)sn.cache[i]));
	CG_GUARD(cg_buf_printf(out, "# HELP certgate_events_dropped_total Events that did not reach the audit log.\n"
			       "# TYPE certgate_events_dropped_total counter\n"
			       "certgate_events_dropped_total %llu\n", (unsigned long long)jc.dropped));
	CG_GUARD(cg_buf_printf(out, "# HELP certgate_build_info Build information.\n"
			       "# TYPE certgate_build_info gauge\n"
			       "certgate_build_info{version=\"%s\"} 1\n", VERSION));
	return CG_OK;
}
