/* The decision cache and the in-flight table (see dir_cache.h for the
 * contract). Layout: n shards (1 or 16), chosen by the first byte of the
 * SHA-256. Each shard has its own mutex and holds
 *   - a chained hash table (sha256, generation) -> entry,
 *   - a doubly linked LRU list (head = most recent),
 *   - a DN index: chained hash table normalized entry DN -> entries, so that
 *     dir_cache_drop_dn costs one bucket per shard, not a scan,
 *   - the in-flight lookups whose key falls in the shard.
 * Entries are never shared: get and put copy under the lock, and the copy is
 * the only thing that leaves it. Counters are atomics, read without locks. */
#include <ctype.h>
#include <ldap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_log.h"
#include "ldap/dir_cache.h"

#define DIR_CACHE_SHARDS_BIG     16
#define DIR_CACHE_SMALL_LIMIT    1024   /* below: one shard, exact LRU */
#define DIR_CACHE_FLIGHT_BUCKETS 64

struct dir_cache_entry {
	uint8_t sha256[32];
	uint64_t generation;
	uint64_t expires_ms;
	uint64_t stale_until_ms;
	bool positive;
	struct dir_result res;           /* deep copy, explain NULL */
	char *dn_norm;                   /* normalized entry DN, NULL when none */
	uint64_t dn_hash;
	struct dir_cache_entry *key_next;
	struct dir_cache_entry *dn_next;
	struct dir_cache_entry *lru_prev, *lru_next;
};

struct dir_cache_flight {
	uint8_t sha256[32];
	uint64_t generation;
	struct dir_job *leader;
	struct dir_job *head, *tail;     /* followers, linked through job->next */
	size_t n_followers;
	struct dir_cache_flight *next;
};

struct dir_cache_shard {
	pthread_mutex_t mu;
	struct dir_cache_entry **keys;   /* n_buckets */
	struct dir_cache_entry **dns;    /* n_buckets */
	size_t n_buckets;                /* power of two */
	struct dir_cache_entry *lru_head, *lru_tail;
	size_t count;
	size_t cap;
	struct dir_cache_flight *flights[DIR_CACHE_FLIGHT_BUCKETS];
};

struct dir_cache {
	struct dir_cache_config cfg;
	bool enabled;
	size_t n_shards;
	struct dir_cache_shard *shards;
	atomic_uint_fast64_t epoch;
	atomic_bool sync_healthy;
	atomic_uint_fast64_t hits, misses, stale, evictions, invalidations, coalesced;
};

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t dir_cache_fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t dir_cache_key_hash(const uint8_t sha256[32], uint64_t generation)
{
	uint64_t h;
	memcpy(&h, sha256 + 8, sizeof(h));
	return h ^ (generation * 0x9E3779B97F4A7C15ULL);
}

static struct dir_cache_shard *dir_cache_shard_of(struct dir_cache *c, const uint8_t sha256[32])
{
	return &c->shards[sha256[0] % c->n_shards];
}

static bool dir_cache_reason_storable(enum cg_reason r)
{
	switch (r) {
	case CG_REASON_OK:
	case CG_REASON_NO_ENTRY:
	case CG_REASON_AMBIGUOUS_ENTRY:
	case CG_REASON_CERT_NOT_IN_ENTRY:
	case CG_REASON_ACCOUNT_DISABLED:
	case CG_REASON_NOT_IN_GROUP:
		return true;
	default:
		return false;
	}
}

/* The normalized form of dn (RFC 4514 parse and print, then lower case), or
 * NULL when it cannot be parsed or memory ran out. Caller frees with free. */
char *dir_cache_dn_normalize(const char *dn)
{
	LDAPDN parsed = NULL;
	char *s = NULL, *out = NULL;
	if (dn == NULL || ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return NULL;
	if (ldap_dn2str(parsed, &s, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && s != NULL) {
		out = strdup(s);
		for (char *p = out; p != NULL && *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	if (s != NULL)
		ldap_memfree(s);
	ldap_dnfree(parsed);
	return out;
}

CG_MUST_CHECK enum cg_err dir_cache_copy_result(struct dir_result *dst, const struct dir_result *src)
{
	struct dir_result r;
	memset(&r, 0, sizeof(r));
	r.reason = src->reason;
	r.latency_us = src->latency_us;
	memcpy(r.detail, src->detail, sizeof(r.detail));
	r.detail[sizeof(r.detail) - 1] = '\0';
	if ((src->rule != NULL && (r.rule = strdup(src->rule)) == NULL) ||
	    (src->entry != NULL && (r.entry = strdup(src->entry)) == NULL))
		goto fail;
	for (size_t i = 0; i < src->n_candidates && i < DIR_MAX_CANDIDATES; i++) {
		if (src->candidates[i] == NULL)
			continue;
		if ((r.candidates[r.n_candidates] = strdup(src->candidates[i])) == NULL)
			goto fail;
		r.n_candidates++;
	}
	*dst = r;
	return CG_OK;
fail:
	dir_result_clear(&r);
	memset(dst, 0, sizeof(*dst));
	return CG_ERR_NOMEM;
}

static void dir_cache_entry_free(struct dir_cache_entry *e)
{
	dir_result_clear(&e->res);
	free(e->dn_norm);
	free(e);
}

/* ---- shard internals (called with the shard's mutex held) --------------------- */

static void dir_cache_lru_unlink(struct dir_cache_shard *s, struct dir_cache_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		s->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		s->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void dir_cache_lru_push_front(struct dir_cache_shard *s, struct dir_cache_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = s->lru_head;
	if (s->lru_head != NULL)
		s->lru_head->lru_prev = e;
	s->lru_head = e;
	if (s->lru_tail == NULL)
		s->lru_tail = e;
}

/* Unlink e from every structure of s; the caller frees it (after unlocking). */
static void dir_cache_unlink(struct dir_cache_shard *s, struct dir_cache_entry *e)
{
	size_t b = dir_cache_key_hash(e->sha256, e->generation) & (s->n_buckets - 1);
	for (struct dir_cache_entry **pp = &s->keys[b]; *pp != NULL; pp = &(*pp)->key_next) {
		if (*pp == e) {
			*pp = e->key_next;
			break;
		}
	}
	if (e->dn_norm != NULL) {
		size_t d = e->dn_hash & (s->n_buckets - 1);
		for (struct dir_cache_entry **pp = &s->dns[d]; *pp != NULL; pp = &(*pp)->dn_next) {
			if (*pp == e) {
				*pp = e->dn_next;
				break;
			}
		}
	}
	dir_cache_lru_unlink(s, e);
	e->key_next = e->dn_next = NULL;
	s->count--;
}

static struct dir_cache_entry *dir_cache_find(struct dir_cache_shard *s, const uint8_t sha256[32],
					      uint64_t generation)
{
	size_t b = dir_cache_key_hash(sha256, generation) & (s->n_buckets - 1);
	for (struct dir_cache_entry *e = s->keys[b]; e != NULL; e = e->key_next)
		if (e->generation == generation && memcmp(e->sha256, sha256, 32) == 0)
			return e;
	return NULL;
}

/* Move the entries of s matching keep() == false onto *dead (linked through
 * key_next) and return how many. */
static size_t dir_cache_shard_sweep(struct dir_cache_shard *s, bool positive_only, struct dir_cache_entry **dead)
{
	size_t n = 0;
	struct dir_cache_entry *e = s->lru_head;
	while (e != NULL) {
		struct dir_cache_entry *next = e->lru_next;
		if (!positive_only || e->positive) {
			dir_cache_unlink(s, e);
			e->key_next = *dead;
			*dead = e;
			n++;
		}
		e = next;
	}
	return n;
}

static void dir_cache_free_list(struct dir_cache_entry *dead)
{
	while (dead != NULL) {
		struct dir_cache_entry *next = dead->key_next;
		dir_cache_entry_free(dead);
		dead = next;
	}
}

/* ---- lifecycle --------------------------------------------------------------- */

CG_MUST_CHECK enum cg_err dir_cache_create(const struct dir_cache_config *cfg, struct dir_cache **out)
{
	struct dir_cache *c = NULL;
	enum cg_err r = CG_ERR_NOMEM;
	size_t per = 0;
	*out = NULL;
	if (cfg == NULL)
		return CG_ERR_ARG;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CG_ERR_NOMEM;
	c->cfg = *cfg;
	c->enabled = cfg->ttl_ms > 0 && cfg->max_entries > 0;
	c->n_shards = c->enabled && cfg->max_entries >= DIR_CACHE_SMALL_LIMIT ? DIR_CACHE_SHARDS_BIG : 1;
	atomic_init(&c->epoch, 1);
	atomic_init(&c->sync_healthy, false);
	atomic_init(&c->hits, 0);
	atomic_init(&c->misses, 0);
	atomic_init(&c->stale, 0);
	atomic_init(&c->evictions, 0);
	atomic_init(&c->invalidations, 0);
	atomic_init(&c->coalesced, 0);
	c->shards = calloc(c->n_shards, sizeof(*c->shards));
	if (c->shards == NULL)
		goto out;
	if (c->enabled)
		per = cfg->max_entries / c->n_shards;
	for (size_t i = 0; i < c->n_shards; i++) {
		struct dir_cache_shard *s = &c->shards[i];
		s->cap = c->enabled ? per + (i < cfg->max_entries % c->n_shards ? 1 : 0) : 0;
		s->n_buckets = 16;
		while (s->n_buckets < s->cap && s->n_buckets < ((size_t)1 << 24))
			s->n_buckets <<= 1;
		s->keys = calloc(s->n_buckets, sizeof(*s->keys));
		s->dns = calloc(s->n_buckets, sizeof(*s->dns));
		pthread_mutex_init(&s->mu, NULL);
		if (s->keys == NULL || s->dns == NULL) {
			c->n_shards = i + 1;
			goto out;
		}
	}
	*out = c;
	c = NULL;
	r = CG_OK;
out:
	if (c != NULL)
		dir_cache_free(c);
	return r;
}

void dir_cache_free(struct dir_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->shards != NULL && i < c->n_shards; i++) {
		struct dir_cache_shard *s = &c->shards[i];
		struct dir_cache_entry *e = s->lru_head;
		while (e != NULL) {
			struct dir_cache_entry *next = e->lru_next;
			dir_cache_entry_free(e);
			e = next;
		}
		for (size_t b = 0; b < DIR_CACHE_FLIGHT_BUCKETS; b++) {
			struct dir_cache_flight *f = s->flights[b];
			while (f != NULL) {
				struct dir_cache_flight *fn = f->next;
				struct dir_job *j = f->head;
				while (j != NULL) {
					struct dir_job *jn = j->next;
					j->next = NULL;
					memset(&j->result, 0, sizeof(j->result));
					j->result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
					snprintf(j->result.detail, sizeof(j->result.detail), "decision cache stopping");
					j->complete(j);
					j = jn;
				}
				free(f);
				f = fn;
			}
		}
		free(s->keys);
		free(s->dns);
		pthread_mutex_destroy(&s->mu);
	}
	free(c->shards);
	free(c);
}

bool dir_cache_enabled(const struct dir_cache *c)
{
	return c != NULL && c->enabled;
}

/* ---- get / put --------------------------------------------------------------- */

enum dir_cache_result dir_cache_get(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
				    uint64_t now_ms, bool want_stale, struct dir_result *out)
{
	enum dir_cache_result res = DIR_CACHE_MISS;
	struct dir_cache_entry *dead = NULL;
	struct dir_cache_shard *s;
	memset(out, 0, sizeof(*out));
	if (!c->enabled) {
		if (!want_stale)
			atomic_fetch_add(&c->misses, 1);
		return DIR_CACHE_MISS;
	}
	bool hide_positive = c->cfg.sync && !atomic_load(&c->sync_healthy);
	s = dir_cache_shard_of(c, sha256);
	pthread_mutex_lock(&s->mu);
	struct dir_cache_entry *e = dir_cache_find(s, sha256, generation);
	if (e != NULL) {
		bool fresh = now_ms < e->expires_ms;
		bool stale_ok = now_ms < e->stale_until_ms;
		if (fresh && !(e->positive && hide_positive))
			res = DIR_CACHE_HIT;
		else if (want_stale && stale_ok)
			res = DIR_CACHE_STALE;
		if (res != DIR_CACHE_MISS) {
			if (dir_cache_copy_result(out, &e->res) != CG_OK)
				res = DIR_CACHE_MISS;
			else {
				dir_cache_lru_unlink(s, e);
				dir_cache_lru_push_front(s, e);
			}
		} else if (!stale_ok) {
			dir_cache_unlink(s, e);
			dead = e;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (dead != NULL)
		dir_cache_entry_free(dead);
	if (res == DIR_CACHE_HIT)
		atomic_fetch_add(&c->hits, 1);
	else if (res == DIR_CACHE_STALE)
		atomic_fetch_add(&c->stale, 1);
	else if (!want_stale)
		atomic_fetch_add(&c->misses, 1);
	return res;
}

uint64_t dir_cache_epoch(struct dir_cache *c)
{
	return atomic_load(&c->epoch);
}

static void dir_cache_bump(struct dir_cache *c)
{
	atomic_fetch_add(&c->epoch, 1);
}

/* put with an optional epoch check (check == false: unguarded). */
static enum cg_err dir_cache_store(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
				   const struct dir_result *r, uint64_t now_ms, bool check, uint64_t epoch)
{
	struct dir_cache_entry *e = NULL, *dead = NULL, *old;
	struct dir_cache_shard *s;
	enum cg_err ret = CG_ERR_NOMEM;
	bool positive;
	uint64_t ttl;
	if (!c->enabled || r == NULL || !dir_cache_reason_storable(r->reason))
		return CG_ERR_ARG;
	positive = r->reason == CG_REASON_OK;
	ttl = positive ? c->cfg.ttl_ms : c->cfg.negative_ttl_ms;
	if (ttl == 0)
		return CG_ERR_ARG;
	if (check && atomic_load(&c->epoch) != epoch)
		return CG_ERR_AGAIN;
	/* build the entry outside the lock */
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return CG_ERR_NOMEM;
	memcpy(e->sha256, sha256, 32);
	e->generation = generation;
	e->positive = positive;
	e->expires_ms = now_ms + ttl;
	e->stale_until_ms = e->expires_ms + c->cfg.stale_ttl_ms;
	if (dir_cache_copy_result(&e->res, r) != CG_OK)
		goto out;
	if (r->entry != NULL) {
		e->dn_norm = dir_cache_dn_normalize(r->entry);
		if (e->dn_norm == NULL) {
			/* unparseable: index the raw lower-cased text (drop_dn of the same
			 * text still finds it; an unparseable drop flushes positives) */
			e->dn_norm = strdup(r->entry);
			if (e->dn_norm == NULL)
				goto out;
			for (char *p = e->dn_norm; *p != '\0'; p++)
				*p = (char)tolower((unsigned char)*p);
		}
		e->dn_hash = dir_cache_fnv(e->dn_norm, strlen(e->dn_norm), 14695981039346656037ULL);
	}
	s = dir_cache_shard_of(c, sha256);
	pthread_mutex_lock(&s->mu);
	if (check && atomic_load(&c->epoch) != epoch) {
		pthread_mutex_unlock(&s->mu);
		ret = CG_ERR_AGAIN;
		goto out;
	}
	old = dir_cache_find(s, sha256, generation);
	if (old != NULL) {
		dir_cache_unlink(s, old);
		old->key_next = dead;
		dead = old;
	}
	if (s->cap == 0) {
		pthread_mutex_unlock(&s->mu);
		ret = CG_ERR_ARG;
		goto out;
	}
	while (s->count >= s->cap && s->lru_tail != NULL) {
		struct dir_cache_entry *v = s->lru_tail;
		dir_cache_unlink(s, v);
		v->key_next = dead;
		dead = v;
		atomic_fetch_add(&c->evictions, 1);
	}
	size_t b = dir_cache_key_hash(sha256, generation) & (s->n_buckets - 1);
	e->key_next = s->keys[b];
	s->keys[b] = e;
	if (e->dn_norm != NULL) {
		size_t d = e->dn_hash & (s->n_buckets - 1);
		e->dn_next = s->dns[d];
		s->dns[d] = e;
	}
	dir_cache_lru_push_front(s, e);
	s->count++;
	pthread_mutex_unlock(&s->mu);
	e = NULL;
	ret = CG_OK;
out:
	if (e != NULL)
		dir_cache_entry_free(e);
	dir_cache_free_list(dead);
	return ret;
}

enum cg_err dir_cache_put(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
			  const struct dir_result *r, uint64_t now_ms)
{
	return dir_cache_store(c, sha256, generation, r, now_ms, false, 0);
}

enum cg_err dir_cache_put_since(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
				const struct dir_result *r, uint64_t now_ms, uint64_t epoch)
{
	return dir_cache_store(c, sha256, generation, r, now_ms, true, epoch);
}

/* ---- invalidation ------------------------------------------------------------- */

size_t dir_cache_drop_dn(struct dir_cache *c, const char *dn)
{
	size_t n = 0;
	char *norm;
	uint64_t h;
	dir_cache_bump(c);
	if (!c->enabled || dn == NULL)
		return 0;
	norm = dir_cache_dn_normalize(dn);
	if (norm == NULL) {
		cg_warn("decision cache: cannot parse DN \"%.200s\": dropping every allowed decision", dn);
		return dir_cache_flush_positive(c);
	}
	h = dir_cache_fnv(norm, strlen(norm), 14695981039346656037ULL);
	for (size_t i = 0; i < c->n_shards; i++) {
		struct dir_cache_shard *s = &c->shards[i];
		struct dir_cache_entry *dead = NULL;
		pthread_mutex_lock(&s->mu);
		struct dir_cache_entry *e = s->dns[h & (s->n_buckets - 1)];
		while (e != NULL) {
			struct dir_cache_entry *next = e->dn_next;
			if (e->dn_hash == h && strcmp(e->dn_norm, norm) == 0) {
				dir_cache_unlink(s, e);
				e->key_next = dead;
				dead = e;
				n++;
			}
			e = next;
		}
		pthread_mutex_unlock(&s->mu);
		dir_cache_free_list(dead);
	}
	free(norm);
	atomic_fetch_add(&c->invalidations, n);
	return n;
}

size_t dir_cache_drop_sha256(struct dir_cache *c, const uint8_t sha256[32])
{
	struct dir_cache_entry *dead = NULL;
	struct dir_cache_shard *s;
	size_t n = 0;
	dir_cache_bump(c);
	if (!c->enabled)
		return 0;
	s = dir_cache_shard_of(c, sha256);
	pthread_mutex_lock(&s->mu);
	struct dir_cache_entry *e = s->lru_head;
	while (e != NULL) {
		struct dir_cache_entry *next = e->lru_next;
		if (memcmp(e->sha256, sha256, 32) == 0) {
			dir_cache_unlink(s, e);
			e->key_next = dead;
			dead = e;
			n++;
		}
		e = next;
	}
	pthread_mutex_unlock(&s->mu);
	dir_cache_free_list(dead);
	atomic_fetch_add(&c->invalidations, n);
	return n;
}

static size_t dir_cache_sweep_all(struct dir_cache *c, bool positive_only)
{
	size_t n = 0;
	dir_cache_bump(c);
	if (!c->enabled)
		return 0;
	for (size_t i = 0; i < c->n_shards; i++) {
		struct dir_cache_entry *dead = NULL;
		pthread_mutex_lock(&c->shards[i].mu);
		n += dir_cache_shard_sweep(&c->shards[i], positive_only, &dead);
		pthread_mutex_unlock(&c->shards[i].mu);
		dir_cache_free_list(dead);
	}
	atomic_fetch_add(&c->invalidations, n);
	return n;
}

size_t dir_cache_flush(struct dir_cache *c)
{
	return dir_cache_sweep_all(c, false);
}

size_t dir_cache_flush_positive(struct dir_cache *c)
{
	return dir_cache_sweep_all(c, true);
}

void dir_cache_set_sync_healthy(struct dir_cache *c, bool healthy)
{
	if (atomic_exchange(&c->sync_healthy, healthy) != healthy)
		dir_cache_bump(c);
}

bool dir_cache_sync_healthy(struct dir_cache *c)
{
	return atomic_load(&c->sync_healthy);
}

/* ---- figures ----------------------------------------------------------------- */

void dir_cache_stats(struct dir_cache *c, struct dir_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->enabled = c->enabled;
	out->max_entries = c->enabled ? c->cfg.max_entries : 0;
	for (size_t i = 0; c->enabled && i < c->n_shards; i++) {
		pthread_mutex_lock(&c->shards[i].mu);
		out->entries += c->shards[i].count;
		pthread_mutex_unlock(&c->shards[i].mu);
	}
	out->hits = atomic_load(&c->hits);
	out->misses = atomic_load(&c->misses);
	out->stale = atomic_load(&c->stale);
	out->evictions = atomic_load(&c->evictions);
	out->invalidations = atomic_load(&c->invalidations);
	out->coalesced = atomic_load(&c->coalesced);
	out->sync = c->cfg.sync;
	out->sync_healthy = atomic_load(&c->sync_healthy);
}

json_t *dir_cache_json(struct dir_cache *c)
{
	struct dir_cache_stats st;
	if (c == NULL || !c->enabled)
		return json_pack("{s:b}", "enabled", 0);
	dir_cache_stats(c, &st);
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:b, s:b}}",
			 "enabled", 1,
			 "entries", (json_int_t)st.entries,
			 "max_entries", (json_int_t)st.max_entries,
			 "hits", (json_int_t)st.hits,
			 "misses", (json_int_t)st.misses,
			 "stale", (json_int_t)st.stale,
			 "evictions", (json_int_t)st.evictions,
			 "invalidations", (json_int_t)st.invalidations,
			 "coalesced", (json_int_t)st.coalesced,
			 "ttl_s", (json_int_t)(c->cfg.ttl_ms / 1000),
			 "negative_ttl_s", (json_int_t)(c->cfg.negative_ttl_ms / 1000),
			 "stale_ttl_s", (json_int_t)(c->cfg.stale_ttl_ms / 1000),
			 "sync", "enabled", st.sync, "healthy", st.sync_healthy);
}

/* ---- coalescing --------------------------------------------------------------- */

static size_t dir_cache_flight_bucket(const uint8_t sha256[32], uint64_t generation)
{
	return dir_cache_key_hash(sha256, generation) % DIR_CACHE_FLIGHT_BUCKETS;
}

bool dir_cache_inflight_join(struct dir_cache *c, const uint8_t sha256[32], uint64_t generation,
			     struct dir_job *job)
{
	struct dir_cache_shard *s = dir_cache_shard_of(c, sha256);
	size_t b = dir_cache_flight_bucket(sha256, generation);
	struct dir_cache_flight *f, *fresh;
	bool joined = false;
	/* allocate before locking; freed if not needed */
	fresh = calloc(1, sizeof(*fresh));
	pthread_mutex_lock(&s->mu);
	for (f = s->flights[b]; f != NULL; f = f->next)
		if (f->generation == generation && memcmp(f->sha256, sha256, 32) == 0)
			break;
	if (f != NULL) {
		if (f->n_followers < DIR_CACHE_MAX_FOLLOWERS) {
			memset(&job->result, 0, sizeof(job->result));
			job->next = NULL;
			if (f->tail != NULL)
				f->tail->next = job;
			else
				f->head = job;
			f->tail = job;
			f->n_followers++;
			joined = true;
		}
	} else if (fresh != NULL) {
		memcpy(fresh->sha256, sha256, 32);
		fresh->generation = generation;
		fresh->leader = job;
		fresh->next = s->flights[b];
		s->flights[b] = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	free(fresh);
	if (joined)
		atomic_fetch_add(&c->coalesced, 1);
	return joined;
}

size_t dir_cache_inflight_done(struct dir_cache *c, struct dir_job *leader_job)
{
	const uint8_t *sha256;
	struct dir_cache_shard *s;
	struct dir_cache_flight *f = NULL;
	struct dir_job *j;
	size_t n = 0, b;
	if (leader_job == NULL || leader_job->facts == NULL)
		return 0;
	sha256 = leader_job->facts->sha256;
	s = dir_cache_shard_of(c, sha256);
	b = dir_cache_flight_bucket(sha256, leader_job->generation);
	pthread_mutex_lock(&s->mu);
	for (struct dir_cache_flight **pp = &s->flights[b]; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->leader == leader_job) {
			f = *pp;
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (f == NULL)
		return 0;
	j = f->head;
	free(f);
	while (j != NULL) {
		struct dir_job *next = j->next;
		j->next = NULL;
		if (dir_cache_copy_result(&j->result, &leader_job->result) != CG_OK) {
			j->result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
			snprintf(j->result.detail, sizeof(j->result.detail), "out of memory");
		}
		j->complete(j);
		n++;
		j = next;
	}
	return n;
}
