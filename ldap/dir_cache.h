/* The decision cache (DESIGN.md §3, §5 [cache]) and the coalescing of
 * concurrent misses. Thread-safe: worker threads, pool threads, the sync
 * thread and the admin API call it at once. Sharded (one mutex each, hash
 * table + LRU list + DN index per shard); critical sections copy nothing
 * bigger than one dir_result.
 *
 * Key: SHA-256 of the certificate DER + the runtime generation (a reload
 * makes old entries unreachable; they age out through the LRU). Value: a
 * deep copy of the dir_result (never explain). ok lives ttl, the directory
 * denials negative_ttl; directory_unavailable is never stored. Each entry may
 * be served stale (on_unavailable = stale) until expiry + stale_ttl.
 *
 * The security rule: while sync is configured but not healthy (we cannot
 * hear the directory's changes), positive entries are never served fresh.
 * Every invalidation bumps an epoch; dir_cache_put_since refuses a result
 * whose lookup started before an invalidation, so a lookup racing a change
 * cannot store the old answer after the change was heard.
 *
 * Small caches (max_entries < 1024) use one shard, so their LRU is exact;
 * bigger ones use 16 shards and the LRU is per shard. The total never
 * exceeds max_entries. */
#ifndef DIR_CACHE_H
#define DIR_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/cg_err.h"
#include "ldap/dir_check.h"
#include "ldap/dir_pool.h"

#define DIR_CACHE_MAX_FOLLOWERS 1024   /* jobs queued behind one in-flight lookup */

struct dir_cache_config {
	uint64_t ttl_ms;           /* ok decisions; 0 disables the cache */
	uint64_t negative_ttl_ms;  /* directory denials; 0: not stored */
	uint64_t stale_ttl_ms;     /* how long past expiry an entry may be served stale */
	size_t max_entries;        /* 0 disables the cache */
	bool sync;                 /* [cache] sync = on: positives need a healthy sync */
};

enum dir_cache_result { DIR_CACHE_MISS = 0, DIR_CACHE_HIT, DIR_CACHE_STALE };

struct dir_cache_stats {
	bool enabled;
	size_t entries;
	size_t max_entries;
	uint64_t hits, misses, stale;
	uint64_t evictions;        /* removed to make room (LRU) */
	uint64_t invalidations;    /* removed by drop_dn, drop_sha256, flush, flush_positive */
	uint64_t coalesced;        /* jobs that joined an in-flight lookup */
	bool sync;                 /* sync configured */
	bool sync_healthy;
};

struct dir_cache;

/* Make a cache. A disabled configuration (ttl_ms or max_entries 0) still
 * gives a valid object: get always misses, put stores nothing, coalescing
 * works. On CG_OK *out is the caller's (dir_cache_free). A cache with sync
 * starts unhealthy (nothing heard yet). */
CG_MUST_CHECK enum cg_err dir_cache_create(const struct dir_cache_config *cfg, struct dir_cache **out);
/* Free everything. Call after the pool and the sync thread are stopped;
 * followers still queued are completed with directory_unavailable. */
void dir_cache_free(struct dir_cache *c);
bool dir_cache_enabled(const struct dir_cache *c);

/* Look up (sha256, generation) at now_ms. DIR_CACHE_HIT: a fresh entry;
 * DIR_CACHE_STALE: only when want_stale and the entry is past its expiry but
 * within stale_ttl, or a positive entry hidden by an unhealthy sync;
 * DIR_CACHE_MISS otherwise. On HIT and STALE *out is a deep copy the caller
 * frees with dir_result_clear; on MISS *out is zeroed. Counts hits, misses
 * and stale (a want_stale call that finds nothing counts nothing). */
enum dir_cache_result dir_cache_get(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
				    uint64_t now_ms, bool want_stale, struct dir_result *out);

/* The invalidation epoch: read it before a lookup is submitted and hand it
 * to dir_cache_put_since when the result comes back. */
uint64_t dir_cache_epoch(struct dir_cache *c);

/* Store a deep copy of r (explain is never copied). CG_OK stored;
 * CG_ERR_ARG when r is not cacheable (directory_unavailable, a reason that
 * is not a directory decision, its TTL is 0, the cache is disabled);
 * CG_ERR_AGAIN (put_since only) when an invalidation happened after epoch:
 * the result may predate a change and is not stored; CG_ERR_NOMEM. A
 * failed put is harmless: the caller just uses r. Replaces an older entry
 * for the same key; evicts the least recently used one when full.
 * dir_cache_put is unguarded: only for callers that cannot race an
 * invalidation (tests); the server uses dir_cache_put_since. */
enum cg_err dir_cache_put(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
			  const struct dir_result *r, uint64_t now_ms);
enum cg_err dir_cache_put_since(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
				const struct dir_result *r, uint64_t now_ms, uint64_t epoch);

/* Drop every entry whose entry DN equals dn (compared normalized: RFC 4514
 * parsing, so spaces after separators do not matter, and case-insensitive).
 * A DN that cannot be parsed drops every positive entry instead (fail
 * safe). Returns the number dropped; always bumps the epoch. */
size_t dir_cache_drop_dn(struct dir_cache *c, const char *dn);
/* Drop the entries of one certificate (every generation); returns how many. */
size_t dir_cache_drop_sha256(struct dir_cache *c, const uint8_t sha256[32]);
/* Drop everything / every ok entry; return how many. */
size_t dir_cache_flush(struct dir_cache *c);
size_t dir_cache_flush_positive(struct dir_cache *c);

/* Set by the sync thread: false at once on any connection trouble, true only
 * after a complete refresh. A change either way bumps the epoch. */
void dir_cache_set_sync_healthy(struct dir_cache *c, bool healthy);
bool dir_cache_sync_healthy(struct dir_cache *c);

void dir_cache_stats(struct dir_cache *c, struct dir_cache_stats *out);
/* GET /v1/cache: {"enabled": false} or {"enabled": true, "entries", "max_entries",
 * "hits", "misses", "stale", "evictions", "invalidations", "coalesced",
 * "ttl_s", "negative_ttl_s", "stale_ttl_s", "sync": {"enabled", "healthy"}}.
 * New reference, NULL on ENOMEM. */
json_t *dir_cache_json(struct dir_cache *c);

/* Coalescing. A worker that missed calls join with the job it would submit
 * (sha256 must be job->facts->sha256). true: another lookup for the same
 * key is in flight and job is queued behind it; the caller must not submit
 * it: job->result is filled and job->complete(job) called by whoever calls
 * dir_cache_inflight_done for the leader. false: the caller leads (or the key
 * already has DIR_CACHE_MAX_FOLLOWERS followers, or memory ran out) and must
 * submit job to the pool itself, then call dir_cache_inflight_done(job)
 * exactly once with its final result (also when the submit failed and the
 * caller filled directory_unavailable itself). */
bool dir_cache_inflight_join(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
			     struct dir_job *job);
/* Called by the leader's completion path (the worker that owns the leader,
 * after it received the leader's complete()): deep-copies leader_job->result
 * into every follower's result (directory_unavailable if a copy fails) and
 * calls each follower's complete(), outside any lock. A job that was not a
 * registered leader is a no-op. Returns the number of followers completed.
 * The leader's own result is left alone (the caller puts and uses it). */
size_t dir_cache_inflight_done(struct dir_cache *c, struct dir_job *leader_job);

/* The form dir_cache_drop_dn compares: dn parsed as RFC 4514 and printed
 * again (no spaces around separators, minimal escaping), lower-cased. NULL
 * when dn cannot be parsed or memory ran out; the caller frees with free. */
char *dir_cache_dn_normalize(const char *dn);

/* Deep copy of src without explain into *dst (overwritten). CG_OK or
 * CG_ERR_NOMEM (then *dst is zeroed). */
CG_MUST_CHECK enum cg_err dir_cache_copy_result(struct dir_result *dst, const struct dir_result *src);

#endif
