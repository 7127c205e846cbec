/* Statistics: one counter block per worker thread (cache-line aligned, written
 * by that worker only, read by the API with relaxed atomics) plus one shared
 * block for every other thread (API, directory pool) updated with atomic adds.
 * Readers sum the blocks; histograms have the fixed bucket bounds below.
 * Rendered as JSON for /v1/stats and as Prometheus text for /metrics. */
#ifndef API_STATS_H
#define API_STATS_H

#include <stdint.h>
#include <jansson.h>

#include "common/cg_buf.h"
#include "common/cg_err.h"
#include "common/cg_reason.h"

struct api_journal;

/* Upper bounds (seconds) of the histogram buckets; +Inf follows. */
#define API_HIST_BOUNDS 14
extern const double api_hist_bounds_s[API_HIST_BOUNDS];

enum api_dir_result { API_DIR_OK = 0, API_DIR_ERROR, API_DIR_TIMEOUT, API_DIR__COUNT };
enum api_cache_result { API_CACHE_HIT = 0, API_CACHE_MISS, API_CACHE_STALE, API_CACHE__COUNT };

struct api_stats;
struct api_stats_worker;

/* Counters for workers (>= 1) worker threads plus the shared block. NULL on
 * ENOMEM. Free with api_stats_free. */
struct api_stats *api_stats_create(unsigned workers);
void api_stats_free(struct api_stats *s);
unsigned api_stats_workers(const struct api_stats *s);

/* Worker i's block (i < workers): only that worker may count into it. Any
 * other index returns the shared block, which any thread may use. */
struct api_stats_worker *api_stats_worker(struct api_stats *s, unsigned i);
/* The shared block for non-worker threads. */
struct api_stats_worker *api_stats_shared(struct api_stats *s);

/* A connection was accepted (accepted++, active++) / closed (active--). */
void api_stats_conn_open(struct api_stats_worker *w);
void api_stats_conn_close(struct api_stats_worker *w);
/* A connection attempt ended with this reason (ok = allowed, any other =
 * denied) after duration_us from accept. */
void api_stats_handshake(struct api_stats_worker *w, enum cg_reason reason, uint64_t duration_us);
/* One directory request and its latency. */
void api_stats_directory(struct api_stats_worker *w, enum api_dir_result r, uint64_t latency_us);
/* One decision-cache lookup. */
void api_stats_cache(struct api_stats_worker *w, enum api_cache_result r);

/* A summed snapshot, for tests and the renderers. Histogram buckets are per
 * bucket (not cumulative); bucket[API_HIST_BOUNDS] is the +Inf overflow. */
struct api_hist_snapshot {
	uint64_t bucket[API_HIST_BOUNDS + 1];
	uint64_t count;
	uint64_t sum_us;
};
struct api_stats_snapshot {
	uint64_t accepted;
	int64_t active;
	uint64_t handshakes[CG_REASON__COUNT];
	struct api_hist_snapshot handshake_duration;
	uint64_t directory[API_DIR__COUNT];
	struct api_hist_snapshot directory_duration;
	uint64_t cache[API_CACHE__COUNT];
};
void api_stats_read(const struct api_stats *s, struct api_stats_snapshot *out);

/* The /v1/stats document (new reference, NULL on ENOMEM). j may be NULL. */
json_t *api_stats_json(const struct api_stats *s, struct api_journal *j);

/* Append the /metrics page (Prometheus text format 0.0.4, names of DESIGN §8)
 * to out. j may be NULL (events dropped then reads 0). */
CG_MUST_CHECK enum cg_err api_metrics_render(const struct api_stats *s, struct api_journal *j, struct cg_buf *out);

#endif
