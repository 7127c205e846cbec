/* Unit tests for ldap/dir_cache.c: TTL, negative TTL and stale windows (time
 * is passed in, nothing sleeps), generations, what is never stored, LRU
 * eviction, drop by DN in several spellings, flushes, the sync-health rule,
 * the invalidation epoch, in-flight coalescing, deep copies and a threaded
 * smoke test. Run under ASan/UBSan it also proves that no copy is shared. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "ldap/dir_cache.h"

#define ALICE "uid=alice,ou=people,dc=example,dc=org"
#define BOB   "uid=bob,ou=people,dc=example,dc=org"

static struct dir_cache *mk(uint64_t ttl, uint64_t neg, uint64_t stale, size_t max, bool sync)
{
	struct dir_cache_config cfg = { .ttl_ms = ttl, .negative_ttl_ms = neg, .stale_ttl_ms = stale,
					.max_entries = max, .sync = sync };
	struct dir_cache *c = NULL;
	ck_assert_int_eq(dir_cache_create(&cfg, &c), CG_OK);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void key(uint8_t k[32], unsigned n)
{
	memset(k, 0, 32);
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)(n * 31u + (unsigned)i * 7u);
	k[0] = (uint8_t)n;
	k[1] = (uint8_t)(n >> 8);
}

/* A heap-allocated result, as the pool makes them. */
static void mkres(struct dir_result *r, enum cg_reason reason, const char *entry)
{
	memset(r, 0, sizeof(*r));
	r->reason = reason;
	r->rule = strdup("people");
	r->entry = entry != NULL ? strdup(entry) : NULL;
	snprintf(r->detail, sizeof(r->detail), "detail %s", cg_reason_name(reason));
	r->latency_us = 42;
}

static void put(struct dir_cache *c, unsigned n, uint64_t gen, enum cg_reason reason, const char *entry,
		uint64_t now)
{
	struct dir_result r;
	uint8_t k[32];
	key(k, n);
	mkres(&r, reason, entry);
	ck_assert_int_eq(dir_cache_put(c, k, gen, &r, now), CG_OK);
	dir_result_clear(&r);
}

static enum dir_cache_result get(struct dir_cache *c, unsigned n, uint64_t gen, uint64_t now, bool stale)
{
	struct dir_result r;
	uint8_t k[32];
	key(k, n);
	enum dir_cache_result res = dir_cache_get(c, k, gen, now, stale, &r);
	if (res == DIR_CACHE_MISS) {
		ck_assert_ptr_null(r.entry);
		ck_assert_ptr_null(r.rule);
	} else {
		ck_assert_ptr_null(r.explain);
		ck_assert_ptr_nonnull(r.rule);
	}
	dir_result_clear(&r);
	return res;
}

START_TEST(ttl_windows)
{
	struct dir_cache *c = mk(60000, 5000, 3600000, 100, false);
	put(c, 1, 7, CG_REASON_OK, ALICE, 1000);
	put(c, 2, 7, CG_REASON_CERT_NOT_IN_ENTRY, BOB, 1000);
	ck_assert_int_eq(get(c, 1, 7, 1000, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 1, 7, 60999, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 1, 7, 61000, false), DIR_CACHE_MISS);        /* expired */
	ck_assert_int_eq(get(c, 1, 7, 61000, true), DIR_CACHE_STALE);        /* within stale_ttl */
	ck_assert_int_eq(get(c, 1, 7, 61000 + 3599999, true), DIR_CACHE_STALE);
	ck_assert_int_eq(get(c, 1, 7, 61000 + 3600000, true), DIR_CACHE_MISS);  /* past the stale window */
	ck_assert_int_eq(get(c, 1, 7, 1000, false), DIR_CACHE_MISS);         /* and removed */
	/* negative_ttl */
	ck_assert_int_eq(get(c, 2, 7, 5999, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 2, 7, 6000, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 2, 7, 6000, true), DIR_CACHE_STALE);
	struct dir_cache_stats st;
	dir_cache_stats(c, &st);
	ck_assert(st.enabled);
	ck_assert_uint_eq(st.hits, 3);
	ck_assert_uint_eq(st.stale, 3);
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_uint_eq(st.entries, 1);
	dir_cache_free(c);
}
END_TEST

START_TEST(hit_is_a_deep_copy)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	struct dir_result r, out, out2;
	uint8_t k[32];
	key(k, 3);
	mkres(&r, CG_REASON_AMBIGUOUS_ENTRY, NULL);
	r.candidates[0] = strdup(ALICE);
	r.candidates[1] = strdup(BOB);
	r.n_candidates = 2;
	r.explain = json_object();
	ck_assert_int_eq(dir_cache_put(c, k, 1, &r, 0), CG_OK);
	dir_result_clear(&r);                          /* the cache kept its own copy */
	ck_assert_int_eq(dir_cache_get(c, k, 1, 1, false, &out), DIR_CACHE_HIT);
	ck_assert_int_eq(dir_cache_get(c, k, 1, 1, false, &out2), DIR_CACHE_HIT);
	ck_assert_int_eq(out.reason, CG_REASON_AMBIGUOUS_ENTRY);
	ck_assert_uint_eq(out.n_candidates, 2);
	ck_assert_str_eq(out.candidates[1], BOB);
	ck_assert_str_eq(out.rule, "people");
	ck_assert_str_eq(out.detail, "detail ambiguous_entry");
	ck_assert_ptr_null(out.explain);
	ck_assert_ptr_ne(out.candidates[0], out2.candidates[0]);
	ck_assert_ptr_ne(out.rule, out2.rule);
	dir_result_clear(&out);                        /* freeing one copy leaves the other */
	ck_assert_str_eq(out2.candidates[0], ALICE);
	dir_result_clear(&out2);
	dir_cache_free(c);
}
END_TEST

START_TEST(generations_are_separate)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	put(c, 1, 1, CG_REASON_OK, ALICE, 0);
	ck_assert_int_eq(get(c, 1, 2, 0, false), DIR_CACHE_MISS);
	put(c, 1, 2, CG_REASON_NOT_IN_GROUP, ALICE, 0);
	ck_assert_int_eq(get(c, 1, 1, 0, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 1, 2, 0, false), DIR_CACHE_HIT);
	uint8_t k[32];
	key(k, 1);
	ck_assert_uint_eq(dir_cache_drop_sha256(c, k), 2);   /* every generation */
	ck_assert_uint_eq(dir_cache_drop_sha256(c, k), 0);
	dir_cache_free(c);
}
END_TEST

START_TEST(never_stored)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	struct dir_result r;
	uint8_t k[32];
	key(k, 1);
	mkres(&r, CG_REASON_DIRECTORY_UNAVAILABLE, NULL);
	ck_assert_int_eq(dir_cache_put(c, k, 1, &r, 0), CG_ERR_ARG);
	dir_result_clear(&r);
	mkres(&r, CG_REASON_CERT_REVOKED, NULL);
	ck_assert_int_eq(dir_cache_put(c, k, 1, &r, 0), CG_ERR_ARG);
	dir_result_clear(&r);
	ck_assert_int_eq(get(c, 1, 1, 0, true), DIR_CACHE_MISS);
	dir_cache_free(c);
	/* negative_ttl 0: denials are not stored; ttl 0 / max 0: disabled */
	c = mk(60000, 0, 0, 100, false);
	mkres(&r, CG_REASON_NO_ENTRY, NULL);
	ck_assert_int_eq(dir_cache_put(c, k, 1, &r, 0), CG_ERR_ARG);
	dir_result_clear(&r);
	dir_cache_free(c);
	c = mk(0, 5000, 0, 100, false);
	ck_assert(!dir_cache_enabled(c));
	mkres(&r, CG_REASON_OK, ALICE);
	ck_assert_int_eq(dir_cache_put(c, k, 1, &r, 0), CG_ERR_ARG);
	ck_assert_int_eq(get(c, 1, 1, 0, false), DIR_CACHE_MISS);
	json_t *j = dir_cache_json(c);
	ck_assert(json_is_false(json_object_get(j, "enabled")));
	ck_assert_uint_eq(json_object_size(j), 1);
	json_decref(j);
	dir_cache_free(c);
	c = mk(60000, 5000, 0, 0, false);
	ck_assert(!dir_cache_enabled(c));
	ck_assert_int_eq(dir_cache_put(c, k, 1, &r, 0), CG_ERR_ARG);
	dir_result_clear(&r);
	dir_cache_free(c);
}
END_TEST

START_TEST(lru_eviction)
{
	struct dir_cache *c = mk(60000, 5000, 0, 3, false);
	put(c, 1, 1, CG_REASON_OK, ALICE, 0);
	put(c, 2, 1, CG_REASON_OK, BOB, 0);
	put(c, 3, 1, CG_REASON_OK, BOB, 0);
	ck_assert_int_eq(get(c, 1, 1, 1, false), DIR_CACHE_HIT);   /* 1 is now the most recent */
	put(c, 4, 1, CG_REASON_OK, BOB, 2);                         /* evicts 2, the least recent */
	ck_assert_int_eq(get(c, 2, 1, 3, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 1, 1, 3, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 3, 1, 3, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 4, 1, 3, false), DIR_CACHE_HIT);
	put(c, 4, 1, CG_REASON_NOT_IN_GROUP, BOB, 4);               /* replace: no eviction */
	struct dir_cache_stats st;
	dir_cache_stats(c, &st);
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_uint_eq(st.max_entries, 3);
	dir_cache_free(c);
	/* a big cache is sharded but never holds more than max_entries */
	c = mk(60000, 5000, 0, 2000, false);
	for (unsigned i = 0; i < 5000; i++)
		put(c, i, 1, CG_REASON_OK, ALICE, 0);
	dir_cache_stats(c, &st);
	ck_assert_uint_le(st.entries, 2000);
	ck_assert_uint_ge(st.entries, 1900);
	ck_assert_uint_eq(st.evictions, 5000 - st.entries);
	dir_cache_free(c);
}
END_TEST

START_TEST(drop_dn_spellings)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	put(c, 1, 1, CG_REASON_OK, ALICE, 0);
	put(c, 2, 1, CG_REASON_CERT_NOT_IN_ENTRY, "UID=Alice, OU=People, DC=Example, DC=Org", 0);
	put(c, 3, 2, CG_REASON_OK, "uid=alice,ou=people,dc=example,dc=org", 0);
	put(c, 4, 1, CG_REASON_OK, BOB, 0);
	put(c, 5, 1, CG_REASON_NO_ENTRY, NULL, 0);
	put(c, 6, 1, CG_REASON_OK, "uid=alice2,ou=people,dc=example,dc=org", 0);
	ck_assert_uint_eq(dir_cache_drop_dn(c, "uid=ALICE , ou=people,  dc=example,dc=ORG"), 3);
	ck_assert_int_eq(get(c, 1, 1, 0, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 2, 1, 0, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 3, 2, 0, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 4, 1, 0, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 5, 1, 0, false), DIR_CACHE_HIT);
	ck_assert_int_eq(get(c, 6, 1, 0, false), DIR_CACHE_HIT);
	/* escapes: uid=bo\62 is uid=bob */
	ck_assert_uint_eq(dir_cache_drop_dn(c, "uid=bo\\62,ou=people,dc=example,dc=org"), 1);
	ck_assert_int_eq(get(c, 4, 1, 0, false), DIR_CACHE_MISS);
	ck_assert_uint_eq(dir_cache_drop_dn(c, "ou=people,dc=example,dc=org"), 0);
	/* an unparseable DN drops every allowed decision (fail safe) */
	ck_assert_uint_eq(dir_cache_drop_dn(c, "this is not a dn"), 1);
	ck_assert_int_eq(get(c, 6, 1, 0, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 5, 1, 0, false), DIR_CACHE_HIT);
	struct dir_cache_stats st;
	dir_cache_stats(c, &st);
	ck_assert_uint_eq(st.invalidations, 5);
	dir_cache_free(c);
}
END_TEST

START_TEST(flushes)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	put(c, 1, 1, CG_REASON_OK, ALICE, 0);
	put(c, 2, 1, CG_REASON_OK, BOB, 0);
	put(c, 3, 1, CG_REASON_NOT_IN_GROUP, ALICE, 0);
	put(c, 4, 1, CG_REASON_NO_ENTRY, NULL, 0);
	ck_assert_uint_eq(dir_cache_flush_positive(c), 2);
	ck_assert_int_eq(get(c, 1, 1, 0, true), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 3, 1, 0, false), DIR_CACHE_HIT);
	ck_assert_uint_eq(dir_cache_flush(c), 2);
	ck_assert_int_eq(get(c, 4, 1, 0, false), DIR_CACHE_MISS);
	ck_assert_uint_eq(dir_cache_flush(c), 0);
	dir_cache_free(c);
}
END_TEST

START_TEST(sync_unhealthy_hides_positive)
{
	struct dir_cache *c = mk(60000, 5000, 100000, 100, true);
	ck_assert(!dir_cache_sync_healthy(c));            /* nothing heard yet */
	put(c, 1, 1, CG_REASON_OK, ALICE, 0);
	put(c, 2, 1, CG_REASON_CERT_NOT_IN_ENTRY, BOB, 0);
	ck_assert_int_eq(get(c, 1, 1, 10, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 1, 1, 10, true), DIR_CACHE_STALE);   /* on_unavailable = stale */
	ck_assert_int_eq(get(c, 2, 1, 10, false), DIR_CACHE_HIT);    /* a denial is still a denial */
	dir_cache_set_sync_healthy(c, true);
	ck_assert_int_eq(get(c, 1, 1, 10, false), DIR_CACHE_HIT);
	dir_cache_set_sync_healthy(c, false);
	ck_assert_int_eq(get(c, 1, 1, 10, false), DIR_CACHE_MISS);
	ck_assert_int_eq(get(c, 1, 1, 160001, true), DIR_CACHE_MISS); /* beyond stale_ttl */
	json_t *j = dir_cache_json(c);
	ck_assert(json_is_true(json_object_get(json_object_get(j, "sync"), "enabled")));
	ck_assert(json_is_false(json_object_get(json_object_get(j, "sync"), "healthy")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "max_entries")), 100);
	json_decref(j);
	dir_cache_free(c);
	/* without sync configured, health does not matter */
	c = mk(60000, 5000, 0, 100, false);
	put(c, 1, 1, CG_REASON_OK, ALICE, 0);
	ck_assert_int_eq(get(c, 1, 1, 10, false), DIR_CACHE_HIT);
	dir_cache_free(c);
}
END_TEST

START_TEST(epoch_guards_racing_puts)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	struct dir_result r;
	uint8_t k[32];
	key(k, 1);
	mkres(&r, CG_REASON_OK, ALICE);
	uint64_t e = dir_cache_epoch(c);
	ck_assert_int_eq(dir_cache_put_since(c, k, 1, &r, 0, e), CG_OK);
	e = dir_cache_epoch(c);
	/* the lookup is in flight; the directory reports a change of any entry */
	dir_cache_drop_dn(c, BOB);
	ck_assert_int_eq(dir_cache_put_since(c, k, 1, &r, 0, e), CG_ERR_AGAIN);
	e = dir_cache_epoch(c);
	dir_cache_set_sync_healthy(c, true);              /* a health change counts too */
	ck_assert_int_eq(dir_cache_put_since(c, k, 1, &r, 0, e), CG_ERR_AGAIN);
	e = dir_cache_epoch(c);
	dir_cache_set_sync_healthy(c, true);              /* no change: no bump */
	ck_assert_int_eq(dir_cache_put_since(c, k, 1, &r, 0, e), CG_OK);
	dir_result_clear(&r);
	dir_cache_free(c);
}
END_TEST

/* ---- coalescing ---- */

struct done_log {
	pthread_mutex_t mu;
	int completed;
};

static void job_complete(struct dir_job *job)
{
	struct done_log *l = job->owner;
	pthread_mutex_lock(&l->mu);
	l->completed++;
	pthread_mutex_unlock(&l->mu);
}

START_TEST(inflight_join_done)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	struct done_log log = { .completed = 0 };
	struct pki_facts f, g;
	struct dir_job leader, other, followers[5];
	pthread_mutex_init(&log.mu, NULL);
	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	key(f.sha256, 9);
	key(g.sha256, 10);
	memset(&leader, 0, sizeof(leader));
	leader.facts = &f;
	leader.generation = 3;
	leader.complete = job_complete;
	leader.owner = &log;
	other = leader;
	other.facts = &g;
	ck_assert(!dir_cache_inflight_join(c, f.sha256, 3, &leader));   /* leads */
	ck_assert(!dir_cache_inflight_join(c, g.sha256, 3, &other));    /* another key leads too */
	for (int i = 0; i < 5; i++) {
		followers[i] = leader;
		ck_assert(dir_cache_inflight_join(c, f.sha256, 3, &followers[i]));
	}
	/* the same certificate in another generation is not the same lookup */
	struct dir_job gen4 = leader;
	gen4.generation = 4;
	ck_assert(!dir_cache_inflight_join(c, f.sha256, 4, &gen4));
	ck_assert_uint_eq(dir_cache_inflight_done(c, &gen4), 0);
	/* the pool answers the leader */
	mkres(&leader.result, CG_REASON_OK, ALICE);
	ck_assert_uint_eq(dir_cache_inflight_done(c, &leader), 5);
	ck_assert_int_eq(log.completed, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(followers[i].result.reason, CG_REASON_OK);
		ck_assert_str_eq(followers[i].result.entry, ALICE);
		ck_assert_ptr_ne(followers[i].result.entry, leader.result.entry);
		dir_result_clear(&followers[i].result);
	}
	ck_assert_uint_eq(dir_cache_inflight_done(c, &leader), 0);          /* only once */
	ck_assert(!dir_cache_inflight_join(c, f.sha256, 3, &followers[0])); /* a new lookup leads */
	ck_assert_uint_eq(dir_cache_inflight_done(c, &followers[0]), 0);
	dir_result_clear(&leader.result);
	struct dir_cache_stats st;
	dir_cache_stats(c, &st);
	ck_assert_uint_eq(st.coalesced, 5);
	/* other's flight is still open: dir_cache_free completes nothing (no followers) */
	dir_cache_free(c);
	pthread_mutex_destroy(&log.mu);
}
END_TEST

START_TEST(inflight_bounded)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	struct done_log log = { .completed = 0 };
	struct pki_facts f;
	struct dir_job *jobs = calloc(DIR_CACHE_MAX_FOLLOWERS + 2, sizeof(*jobs));
	pthread_mutex_init(&log.mu, NULL);
	memset(&f, 0, sizeof(f));
	key(f.sha256, 1);
	for (int i = 0; i < DIR_CACHE_MAX_FOLLOWERS + 2; i++) {
		jobs[i].facts = &f;
		jobs[i].generation = 1;
		jobs[i].complete = job_complete;
		jobs[i].owner = &log;
	}
	ck_assert(!dir_cache_inflight_join(c, f.sha256, 1, &jobs[0]));
	for (int i = 1; i <= DIR_CACHE_MAX_FOLLOWERS; i++)
		ck_assert(dir_cache_inflight_join(c, f.sha256, 1, &jobs[i]));
	/* full: this one submits its own lookup */
	ck_assert(!dir_cache_inflight_join(c, f.sha256, 1, &jobs[DIR_CACHE_MAX_FOLLOWERS + 1]));
	ck_assert_uint_eq(dir_cache_inflight_done(c, &jobs[DIR_CACHE_MAX_FOLLOWERS + 1]), 0);
	/* the leader failed to submit: it answers directory_unavailable itself */
	jobs[0].result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
	snprintf(jobs[0].result.detail, sizeof(jobs[0].result.detail), "queue full");
	ck_assert_uint_eq(dir_cache_inflight_done(c, &jobs[0]), DIR_CACHE_MAX_FOLLOWERS);
	ck_assert_int_eq(log.completed, DIR_CACHE_MAX_FOLLOWERS);
	ck_assert_int_eq(jobs[7].result.reason, CG_REASON_DIRECTORY_UNAVAILABLE);
	ck_assert_str_eq(jobs[7].result.detail, "queue full");
	for (int i = 0; i < DIR_CACHE_MAX_FOLLOWERS + 2; i++)
		dir_result_clear(&jobs[i].result);
	free(jobs);
	dir_cache_free(c);
	pthread_mutex_destroy(&log.mu);
}
END_TEST

START_TEST(free_completes_followers)
{
	struct dir_cache *c = mk(60000, 5000, 0, 100, false);
	struct done_log log = { .completed = 0 };
	struct pki_facts f;
	struct dir_job a, b;
	pthread_mutex_init(&log.mu, NULL);
	memset(&f, 0, sizeof(f));
	memset(&a, 0, sizeof(a));
	a.facts = &f;
	a.complete = job_complete;
	a.owner = &log;
	b = a;
	ck_assert(!dir_cache_inflight_join(c, f.sha256, 0, &a));
	ck_assert(dir_cache_inflight_join(c, f.sha256, 0, &b));
	dir_cache_free(c);
	ck_assert_int_eq(log.completed, 1);
	ck_assert_int_eq(b.result.reason, CG_REASON_DIRECTORY_UNAVAILABLE);
	pthread_mutex_destroy(&log.mu);
}
END_TEST

/* ---- threads ---- */

struct hammer {
	struct dir_cache *c;
	unsigned seed;
	atomic_bool *stop;
	unsigned long ops;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	unsigned s = h->seed;
	while (!atomic_load(h->stop)) {
		unsigned n = (unsigned)rand_r(&s) % 300, op = (unsigned)rand_r(&s) % 10;
		uint64_t now = cg_mono_ms();
		uint8_t k[32];
		key(k, n);
		if (op < 4) {
			struct dir_result r;
			if (dir_cache_get(h->c, k, n % 2, now, op == 0, &r) != DIR_CACHE_MISS)
				ck_assert_ptr_nonnull(r.rule);
			dir_result_clear(&r);
		} else if (op < 8) {
			struct dir_result r;
			mkres(&r, op == 4 ? CG_REASON_NO_ENTRY : CG_REASON_OK, n % 3 ? ALICE : BOB);
			(void)dir_cache_put_since(h->c, k, n % 2, &r, now, dir_cache_epoch(h->c));
			dir_result_clear(&r);
		} else if (op == 8) {
			dir_cache_drop_dn(h->c, n % 2 ? "UID=alice, ou=people,dc=example,dc=org" : BOB);
		} else {
			if (n == 0)
				dir_cache_flush(h->c);
			else if (n < 5)
				dir_cache_flush_positive(h->c);
			else
				dir_cache_set_sync_healthy(h->c, n % 2);
		}
		h->ops++;
	}
	return NULL;
}

START_TEST(threads_smoke)
{
	struct dir_cache *c = mk(50, 20, 100, 1500, true);
	atomic_bool stop;
	struct hammer h[4];
	pthread_t t[4];
	struct timespec second = { .tv_sec = 1, .tv_nsec = 0 };
	atomic_init(&stop, false);
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .c = c, .seed = (unsigned)i * 7919u + 1u, .stop = &stop };
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
	}
	nanosleep(&second, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_gt(h[i].ops, 100);
	}
	struct dir_cache_stats st;
	dir_cache_stats(c, &st);
	ck_assert_uint_le(st.entries, 1500);
	dir_cache_free(c);
}
END_TEST

static Suite *dir_cache_suite(void)
{
	Suite *s = suite_create("dir_cache");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ttl_windows);
	tcase_add_test(tc, hit_is_a_deep_copy);
	tcase_add_test(tc, generations_are_separate);
	tcase_add_test(tc, never_stored);
	tcase_add_test(tc, lru_eviction);
	tcase_add_test(tc, drop_dn_spellings);
	tcase_add_test(tc, flushes);
	tcase_add_test(tc, sync_unhealthy_hides_positive);
	tcase_add_test(tc, epoch_guards_racing_puts);
	tcase_add_test(tc, inflight_join_done);
	tcase_add_test(tc, inflight_bounded);
	tcase_add_test(tc, free_completes_followers);
	tcase_add_test(tc, threads_smoke);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dir_cache_suite());
	int failed;
	cg_log_init(CG_LOG_ERROR, false);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
