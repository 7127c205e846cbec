/* RFC 4533 refreshAndPersist consumer that invalidates the decision cache
 * (contract in dir_sync.h).
 *
 * Why not libldap's ldap_sync_init/ldap_sync_poll: in OpenLDAP 2.5 both hand
 * the first message of a chain (res, not msg) to every callback, so a second
 * message received in the same ldap_result call is never seen (a missed
 * change is a missed revocation), and ldap_sync_init loops without a stop
 * hook until the refresh ends (a silent server keeps it for ever). So this
 * file speaks the protocol itself with libldap's primitives: one search per
 * base with the critical Sync Request control, ldap_result with a 200 ms
 * timeout (the stop flag is checked in between), the Sync State control of
 * each entry, and the Sync Info intermediate messages.
 *
 * What is synced: when every rule is a filter rule, the deepest common
 * suffix of all rule bases and of require_group (one search); when a rule is
 * a dn = template (its entry could be anywhere) or the bases share no
 * suffix, every namingContext of the server's rootDSE (one search each, at
 * most DIR_SYNC_MAX_BASES). Attributes requested: none ("1.1"): only the DN
 * matters, and syncprov reports a change of any attribute.
 *
 * Renames: a modify reports the new DN under the same entryUUID, so the
 * thread keeps entryUUID -> DN for every entry in scope (filled by the
 * refresh) and drops the old DN as well. If that map is full, a modify of an
 * unknown entry drops every allowed decision.
 *
 * A silent connection (half-open TCP, a frozen server) is found by a probe:
 * every DIR_SYNC_PROBE_MS a rootDSE read on the same connection must answer
 * within timeout_ms, or the sync is unhealthy and reconnects. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "ldap/dir_conn.h"
#include "ldap/dir_sync.h"

#define DIR_SYNC_MAX_BASES    8
#define DIR_SYNC_POLL_MS      200
#define DIR_SYNC_PROBE_MS     5000
#define DIR_SYNC_BACKOFF_MIN  100
#define DIR_SYNC_BACKOFF_MAX  5000
#define DIR_SYNC_UUID_BUCKETS 65536
#define DIR_SYNC_MAX_UUIDS    (1u << 20)
#define DIR_SYNC_UUID_LEN     16

struct dir_sync_uuid {
	unsigned char uuid[DIR_SYNC_UUID_LEN];
	char *dn;
	struct dir_sync_uuid *next;
};

struct dir_sync {
	const struct dir_config *cfg;
	struct dir_cache *cache;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	pthread_mutex_t mu;          /* guards the fields below and the wait */
	pthread_cond_t cv;
	bool healthy;
	char last_error[256];
	char uri[256];
	uint64_t changes;
	uint64_t refreshes;
	/* thread-owned */
	char *fixed_base;            /* the common suffix, or NULL: naming contexts */
	char *bases[DIR_SYNC_MAX_BASES];
	size_t n_bases;
	char *group_norm;            /* require_group normalized, or NULL */
	struct dir_sync_uuid **uuids;
	size_t n_uuids;
	bool uuids_incomplete;
};

/* ---- small helpers -------------------------------------------------------------- */

static void dir_sync_set(struct dir_sync *s, bool healthy, const char *uri, const char *error)
{
	pthread_mutex_lock(&s->mu);
	s->healthy = healthy;
	if (uri != NULL)
		snprintf(s->uri, sizeof(s->uri), "%s", uri);
	if (error != NULL)
		snprintf(s->last_error, sizeof(s->last_error), "%s", error);
	pthread_mutex_unlock(&s->mu);
	dir_cache_set_sync_healthy(s->cache, healthy);
}

static void dir_sync_fail(struct dir_sync *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dir_sync_fail(struct dir_sync *s, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cg_warn("directory sync: %s", buf);
	dir_sync_set(s, false, NULL, buf);
}

/* Sleep ms or until stop; true when stopping. */
static bool dir_sync_wait(struct dir_sync *s, uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop)) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return atomic_load(&s->stop);
}

static uint64_t dir_sync_uuid_hash(const unsigned char *u, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= u[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void dir_sync_uuids_clear(struct dir_sync *s)
{
	for (size_t b = 0; s->uuids != NULL && b < DIR_SYNC_UUID_BUCKETS; b++) {
		struct dir_sync_uuid *u = s->uuids[b];
		while (u != NULL) {
			struct dir_sync_uuid *next = u->next;
			free(u->dn);
			free(u);
			u = next;
		}
		s->uuids[b] = NULL;
	}
	s->n_uuids = 0;
	s->uuids_incomplete = false;
}

static struct dir_sync_uuid **dir_sync_uuid_slot(struct dir_sync *s, const struct berval *uuid)
{
	size_t b = dir_sync_uuid_hash((const unsigned char *)uuid->bv_val, uuid->bv_len) % DIR_SYNC_UUID_BUCKETS;
	struct dir_sync_uuid **pp = &s->uuids[b];
	for (; *pp != NULL; pp = &(*pp)->next)
		if (memcmp((*pp)->uuid, uuid->bv_val, DIR_SYNC_UUID_LEN) == 0)
			break;
	return pp;
}

/* The DN last seen for uuid (borrowed), or NULL. */
static const char *dir_sync_uuid_get(struct dir_sync *s, const struct berval *uuid)
{
	if (uuid == NULL || uuid->bv_len != DIR_SYNC_UUID_LEN)
		return NULL;
	struct dir_sync_uuid *u = *dir_sync_uuid_slot(s, uuid);
	return u != NULL ? u->dn : NULL;
}

static void dir_sync_uuid_put(struct dir_sync *s, const struct berval *uuid, const char *dn)
{
	struct dir_sync_uuid **pp, *u;
	char *copy;
	if (uuid == NULL || uuid->bv_len != DIR_SYNC_UUID_LEN) {
		s->uuids_incomplete = true;
		return;
	}
	pp = dir_sync_uuid_slot(s, uuid);
	copy = strdup(dn);
	if (copy == NULL) {
		s->uuids_incomplete = true;
		return;
	}
	if (*pp != NULL) {
		free((*pp)->dn);
		(*pp)->dn = copy;
		return;
	}
	if (s->n_uuids >= DIR_SYNC_MAX_UUIDS || (u = calloc(1, sizeof(*u))) == NULL) {
		free(copy);
		s->uuids_incomplete = true;
		return;
	}
	memcpy(u->uuid, uuid->bv_val, DIR_SYNC_UUID_LEN);
	u->dn = copy;
	*pp = u;
	s->n_uuids++;
}

static void dir_sync_uuid_del(struct dir_sync *s, const struct berval *uuid)
{
	if (uuid == NULL || uuid->bv_len != DIR_SYNC_UUID_LEN)
		return;
	struct dir_sync_uuid **pp = dir_sync_uuid_slot(s, uuid);
	struct dir_sync_uuid *u = *pp;
	if (u == NULL)
		return;
	*pp = u->next;
	free(u->dn);
	free(u);
	s->n_uuids--;
}

/* ---- what to sync ---------------------------------------------------------------- */

/* The RDNs of dn as normalized strings (most significant last), or false. */
static bool dir_sync_rdns(const char *dn, char ***out, size_t *n)
{
	LDAPDN parsed = NULL;
	char **v = NULL;
	size_t k = 0;
	bool ok = false;
	*out = NULL;
	*n = 0;
	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return false;
	while (parsed != NULL && parsed[k] != NULL)
		k++;
	v = calloc(k + 1, sizeof(*v));
	if (v == NULL)
		goto out;
	for (size_t i = 0; i < k; i++) {
		char *r = NULL;
		if (ldap_rdn2str(parsed[i], &r, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || r == NULL)
			goto out;
		v[i] = strdup(r);
		ldap_memfree(r);
		if (v[i] == NULL)
			goto out;
	}
	*out = v;
	*n = k;
	v = NULL;
	ok = true;
out:
	if (v != NULL) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
	}
	if (parsed != NULL)
		ldap_dnfree(parsed);
	return ok;
}

static void dir_sync_rdns_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* The deepest common suffix of every rule base and require_group, or NULL
 * (then the naming contexts are synced). */
static char *dir_sync_common_suffix(const struct dir_config *cfg)
{
	char **first = NULL;
	size_t n_first = 0, common = 0, len = 0;
	char *out = NULL;
	size_t n_dns = 0;
	const char *dns[64];
	for (size_t i = 0; i < cfg->n_rules; i++) {
		if (cfg->rules[i].dn != NULL || cfg->rules[i].base == NULL || n_dns >= 63)
			return NULL;
		dns[n_dns++] = cfg->rules[i].base;
	}
	if (cfg->require_group != NULL)
		dns[n_dns++] = cfg->require_group;
	if (n_dns == 0 || !dir_sync_rdns(dns[0], &first, &n_first))
		return NULL;
	common = n_first;
	for (size_t d = 1; d < n_dns && common > 0; d++) {
		char **v = NULL;
		size_t n = 0, k = 0;
		if (!dir_sync_rdns(dns[d], &v, &n)) {
			common = 0;
			break;
		}
		while (k < common && k < n && strcasecmp(first[n_first - 1 - k], v[n - 1 - k]) == 0)
			k++;
		common = k;
		dir_sync_rdns_free(v, n);
	}
	if (common > 0) {
		for (size_t i = n_first - common; i < n_first; i++)
			len += strlen(first[i]) + 1;
		out = calloc(1, len + 1);
		for (size_t i = n_first - common; out != NULL && i < n_first; i++) {
			if (i > n_first - common)
				strcat(out, ",");
			strcat(out, first[i]);
		}
	}
	dir_sync_rdns_free(first, n_first);
	return out;
}

static void dir_sync_bases_clear(struct dir_sync *s)
{
	for (size_t i = 0; i < s->n_bases; i++)
		free(s->bases[i]);
	s->n_bases = 0;
}

/* Fill s->bases for this connection. false (error logged) on failure. */
static bool dir_sync_pick_bases(struct dir_sync *s, LDAP *ld)
{
	char *attrs[] = { "namingContexts", NULL };
	struct timeval tv = { .tv_sec = (time_t)(s->cfg->timeout_ms / 1000),
			      .tv_usec = (suseconds_t)((s->cfg->timeout_ms % 1000) * 1000) };
	LDAPMessage *res = NULL;
	struct berval **vals = NULL;
	int rc;
	dir_sync_bases_clear(s);
	if (s->fixed_base != NULL) {
		s->bases[0] = strdup(s->fixed_base);
		if (s->bases[0] == NULL)
			return false;
		s->n_bases = 1;
		return true;
	}
	rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS) {
		if (res != NULL)
			ldap_msgfree(res);
		dir_sync_fail(s, "rootDSE namingContexts: %s", ldap_err2string(rc));
		return false;
	}
	LDAPMessage *e = ldap_first_entry(ld, res);
	if (e != NULL)
		vals = ldap_get_values_len(ld, e, "namingContexts");
	for (size_t i = 0; vals != NULL && vals[i] != NULL && s->n_bases < DIR_SYNC_MAX_BASES; i++) {
		if (vals[i]->bv_len == 0 || vals[i]->bv_len > 4096 || memchr(vals[i]->bv_val, '\0', vals[i]->bv_len))
			continue;
		s->bases[s->n_bases] = strndup(vals[i]->bv_val, vals[i]->bv_len);
		if (s->bases[s->n_bases] != NULL)
			s->n_bases++;
	}
	if (vals != NULL)
		ldap_value_free_len(vals);
	ldap_msgfree(res);
	if (s->n_bases == 0) {
		dir_sync_fail(s, "the server names no namingContexts to sync");
		return false;
	}
	return true;
}

/* ---- one session ------------------------------------------------------------------ */

struct dir_sync_search {
	int msgid;
	bool refreshed;
};

static int dir_sync_send(LDAP *ld, const char *base, int *msgid)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	LDAPControl ctrl, *ctrls[2] = { &ctrl, NULL };
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	int rc;
	if (ber == NULL)
		return LDAP_NO_MEMORY;
	memset(&ctrl, 0, sizeof(ctrl));
	if (ber_printf(ber, "{e}", (ber_int_t)LDAP_SYNC_REFRESH_AND_PERSIST) < 0 ||
	    ber_flatten2(ber, &ctrl.ldctl_value, 0) < 0) {
		ber_free(ber, 1);
		return LDAP_ENCODING_ERROR;
	}
	ctrl.ldctl_oid = LDAP_CONTROL_SYNC;
	ctrl.ldctl_iscritical = 1;
	rc = ldap_search_ext(ld, base, LDAP_SCOPE_SUBTREE, "(objectClass=*)", attrs, 0, ctrls, NULL, NULL, 0,
			     msgid);
	ber_free(ber, 1);
	return rc;
}

/* Drop the decisions for dn (and the group rule when dn is the group). */
static void dir_sync_invalidate(struct dir_sync *s, const char *dn)
{
	size_t n = dir_cache_drop_dn(s->cache, dn);
	cg_debug("directory sync: %s changed, %zu decision%s dropped", dn, n, n == 1 ? "" : "s");
	if (s->group_norm != NULL) {
		char *norm = dir_cache_dn_normalize(dn);
		if (norm == NULL || strcmp(norm, s->group_norm) == 0) {
			n = dir_cache_flush_positive(s->cache);
			cg_debug("directory sync: group %s changed, %zu allowed decision%s dropped", dn, n,
				 n == 1 ? "" : "s");
		}
		free(norm);
	}
}

static void dir_sync_count_change(struct dir_sync *s)
{
	pthread_mutex_lock(&s->mu);
	s->changes++;
	pthread_mutex_unlock(&s->mu);
}

/* One search entry with its Sync State control. */
static void dir_sync_entry(struct dir_sync *s, LDAP *ld, LDAPMessage *msg, bool persist)
{
	LDAPControl **ctrls = NULL;
	BerElement *ber = NULL;
	struct berval uuid = { 0, NULL };
	ber_int_t state = LDAP_SYNC_MODIFY;
	bool have_uuid = false;
	const char *old;
	char *dn = ldap_get_dn(ld, msg);
	if (ldap_get_entry_controls(ld, msg, &ctrls) == LDAP_SUCCESS && ctrls != NULL) {
		for (size_t i = 0; ctrls[i] != NULL; i++) {
			if (strcmp(ctrls[i]->ldctl_oid, LDAP_CONTROL_SYNC_STATE) != 0)
				continue;
			ber = ber_init(&ctrls[i]->ldctl_value);
			if (ber != NULL && ber_scanf(ber, "{em", &state, &uuid) != LBER_ERROR)
				have_uuid = true;
			else
				state = LDAP_SYNC_MODIFY;
			break;
		}
	}
	if (!persist) {
		/* refresh: learn the map; the cache is flushed when the refresh ends */
		if (dn != NULL && state != LDAP_SYNC_DELETE && have_uuid)
			dir_sync_uuid_put(s, &uuid, dn);
		else if (have_uuid)
			dir_sync_uuid_del(s, &uuid);
		goto out;
	}
	dir_sync_count_change(s);
	old = have_uuid ? dir_sync_uuid_get(s, &uuid) : NULL;
	if (dn == NULL) {
		dir_sync_fail(s, "change without a DN: dropping every allowed decision");
		dir_cache_flush_positive(s->cache);
		goto out;
	}
	dir_sync_invalidate(s, dn);
	if (old != NULL && strcasecmp(old, dn) != 0)
		dir_sync_invalidate(s, old);                     /* renamed */
	else if (old == NULL && state == LDAP_SYNC_MODIFY && (s->uuids_incomplete || !have_uuid))
		dir_cache_flush_positive(s->cache);              /* maybe renamed, cannot tell */
	if (state == LDAP_SYNC_DELETE)
		dir_sync_uuid_del(s, have_uuid ? &uuid : NULL);
	else if (have_uuid)
		dir_sync_uuid_put(s, &uuid, dn);
out:
	if (ber != NULL)
		ber_free(ber, 1);
	if (ctrls != NULL)
		ldap_controls_free(ctrls);
	if (dn != NULL)
		ldap_memfree(dn);
}

/* A Sync Info message. Sets *refreshed when it ends this search's refresh.
 * false on a message that cannot be parsed. */
static bool dir_sync_info(struct dir_sync *s, LDAP *ld, LDAPMessage *msg, bool persist, bool *refreshed)
{
	char *oid = NULL;
	struct berval *data = NULL, cookie;
	BerElement *ber = NULL;
	ber_len_t len;
	ber_tag_t tag;
	bool ok = false;
	int rc = ldap_parse_intermediate(ld, msg, &oid, &data, NULL, 0);
	if (rc != LDAP_SUCCESS || oid == NULL || strcmp(oid, LDAP_SYNC_INFO) != 0 || data == NULL)
		goto out;
	ber = ber_init(data);
	if (ber == NULL)
		goto out;
	tag = ber_peek_tag(ber, &len);
	if (tag == LDAP_TAG_SYNC_NEW_COOKIE) {
		ok = true;
	} else if (tag == LDAP_TAG_SYNC_REFRESH_DELETE || tag == LDAP_TAG_SYNC_REFRESH_PRESENT) {
		ber_int_t done = 1;
		if (ber_scanf(ber, "{") == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE && ber_scanf(ber, "m", &cookie) == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDONE && ber_scanf(ber, "b", &done) == LBER_ERROR)
			goto out;
		if (done)
			*refreshed = true;
		ok = true;
	} else if (tag == LDAP_TAG_SYNC_ID_SET) {
		ber_int_t deletes = 0;
		BerVarray ids = NULL;
		if (ber_scanf(ber, "{") == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE && ber_scanf(ber, "m", &cookie) == LBER_ERROR)
			goto out;
		if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDELETES && ber_scanf(ber, "b", &deletes) == LBER_ERROR)
			goto out;
		if (ber_scanf(ber, "[W]}", &ids) == LBER_ERROR)
			goto out;
		for (size_t i = 0; deletes && ids != NULL && ids[i].bv_val != NULL; i++) {
			const char *dn = dir_sync_uuid_get(s, &ids[i]);
			if (persist) {
				dir_sync_count_change(s);
				if (dn != NULL)
					dir_sync_invalidate(s, dn);
				else
					dir_cache_flush_positive(s->cache);
			}
			dir_sync_uuid_del(s, &ids[i]);
		}
		if (ids != NULL)
			ber_bvarray_free(ids);
		ok = true;
	}
out:
	if (ber != NULL)
		ber_free(ber, 1);
	if (oid != NULL)
		ldap_memfree(oid);
	if (data != NULL)
		ber_bvfree(data);
	return ok;
}

/* Run one connection until an error or stop. Healthy only in between the
 * end of every search's refresh and the first trouble. */
static void dir_sync_session(struct dir_sync *s, LDAP *ld)
{
	struct dir_sync_search srch[DIR_SYNC_MAX_BASES];
	int probe = -1;
	uint64_t probe_due = 0, probe_deadline = 0;
	bool healthy = false;
	int rc;
	dir_sync_uuids_clear(s);
	if (!dir_sync_pick_bases(s, ld))
		return;
	for (size_t i = 0; i < s->n_bases; i++) {
		srch[i].refreshed = false;
		rc = dir_sync_send(ld, s->bases[i], &srch[i].msgid);
		if (rc != LDAP_SUCCESS) {
			dir_sync_fail(s, "sync search on %s: %s", s->bases[i], ldap_err2string(rc));
			return;
		}
	}
	while (!atomic_load(&s->stop)) {
		struct timeval tv = { .tv_sec = 0, .tv_usec = DIR_SYNC_POLL_MS * 1000 };
		LDAPMessage *msg = NULL;
		uint64_t now = cg_mono_ms();
		if (healthy && probe < 0 && now >= probe_due) {
			char *attrs[] = { LDAP_NO_ATTRS, NULL };
			rc = ldap_search_ext(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, NULL, 1,
					     &probe);
			if (rc != LDAP_SUCCESS) {
				dir_sync_fail(s, "probe: %s", ldap_err2string(rc));
				return;
			}
			probe_deadline = now + s->cfg->timeout_ms;
		}
		if (probe >= 0 && now > probe_deadline) {
			dir_sync_fail(s, "the directory did not answer a probe within %llu ms",
				      (unsigned long long)s->cfg->timeout_ms);
			return;
		}
		rc = ldap_result(ld, LDAP_RES_ANY, LDAP_MSG_ONE, &tv, &msg);
		if (rc == 0)
			continue;
		if (rc < 0) {
			int err = LDAP_SERVER_DOWN;
			ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
			dir_sync_fail(s, "connection lost: %s", ldap_err2string(err));
			return;
		}
		int id = ldap_msgid(msg), type = ldap_msgtype(msg);
		if (id == probe) {
			if (type == LDAP_RES_SEARCH_RESULT) {
				probe = -1;
				probe_due = cg_mono_ms() + DIR_SYNC_PROBE_MS;
			}
			ldap_msgfree(msg);
			continue;
		}
		size_t i = 0;
		while (i < s->n_bases && srch[i].msgid != id)
			i++;
		if (i == s->n_bases) {
			ldap_msgfree(msg);
			continue;
		}
		bool persist = srch[i].refreshed;
		if (type == LDAP_RES_SEARCH_ENTRY) {
			dir_sync_entry(s, ld, msg, persist);
		} else if (type == LDAP_RES_INTERMEDIATE) {
			bool refreshed = false;
			if (!dir_sync_info(s, ld, msg, persist, &refreshed)) {
				ldap_msgfree(msg);
				dir_sync_fail(s, "unreadable Sync Info message on %s", s->bases[i]);
				return;
			}
			if (refreshed && !srch[i].refreshed) {
				srch[i].refreshed = true;
				bool all = true;
				for (size_t k = 0; k < s->n_bases; k++)
					all = all && srch[k].refreshed;
				if (all && !healthy) {
					size_t n = dir_cache_flush(s->cache);
					healthy = true;
					probe_due = cg_mono_ms() + DIR_SYNC_PROBE_MS;
					pthread_mutex_lock(&s->mu);
					s->refreshes++;
					pthread_mutex_unlock(&s->mu);
					dir_sync_set(s, true, NULL, "");
					cg_info("directory sync: refresh done (%zu entries known), %zu cached decision%s "
						"flushed", s->n_uuids, n, n == 1 ? "" : "s");
				}
			}
		} else if (type == LDAP_RES_SEARCH_RESULT) {
			int err = LDAP_OTHER;
			char *text = NULL;
			if (ldap_parse_result(ld, msg, &err, NULL, &text, NULL, NULL, 0) != LDAP_SUCCESS)
				err = LDAP_OTHER;
			ldap_msgfree(msg);
			dir_sync_fail(s, "sync search on %s ended: %s%s%s", s->bases[i], ldap_err2string(err),
				      text != NULL && text[0] != '\0' ? ": " : "", text != NULL ? text : "");
			if (text != NULL)
				ldap_memfree(text);
			return;
		}
		ldap_msgfree(msg);
	}
}

static void *dir_sync_thread(void *arg)
{
	struct dir_sync *s = arg;
	uint64_t backoff = 0;
	while (!atomic_load(&s->stop)) {
		char uri[256] = "", err[256] = "";
		LDAP *ld = NULL;
		if (backoff > 0 && dir_sync_wait(s, backoff))
			break;
		backoff = backoff == 0 ? DIR_SYNC_BACKOFF_MIN : backoff * 2;
		if (backoff > DIR_SYNC_BACKOFF_MAX)
			backoff = DIR_SYNC_BACKOFF_MAX;
		if (dir_conn_open(s->cfg, &ld, uri, sizeof(uri), err, sizeof(err)) != CG_OK) {
			dir_sync_fail(s, "connect: %s", err);
			continue;
		}
		dir_sync_set(s, false, uri, NULL);
		uint64_t before;
		pthread_mutex_lock(&s->mu);
		before = s->refreshes;
		pthread_mutex_unlock(&s->mu);
		dir_sync_session(s, ld);
		dir_sync_set(s, false, NULL, NULL);
		ldap_unbind_ext_s(ld, NULL, NULL);
		pthread_mutex_lock(&s->mu);
		if (s->refreshes != before)
			backoff = DIR_SYNC_BACKOFF_MIN;   /* it worked for a while: retry soon */
		pthread_mutex_unlock(&s->mu);
	}
	dir_sync_uuids_clear(s);
	dir_sync_bases_clear(s);
	return NULL;
}

/* ---- public -------------------------------------------------------------------- */

static void dir_sync_free(struct dir_sync *s)
{
	dir_sync_uuids_clear(s);
	dir_sync_bases_clear(s);
	free(s->uuids);
	free(s->fixed_base);
	free(s->group_norm);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

CG_MUST_CHECK enum cg_err dir_sync_start(const struct dir_config *cfg, struct dir_cache *cache,
					 struct dir_sync **out)
{
	pthread_condattr_t ca;
	struct dir_sync *s;
	*out = NULL;
	if (cfg == NULL || cache == NULL || !cfg->present || cfg->n_uris == 0)
		return CG_ERR_ARG;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CG_ERR_NOMEM;
	s->cfg = cfg;
	s->cache = cache;
	atomic_init(&s->stop, false);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->uuids = calloc(DIR_SYNC_UUID_BUCKETS, sizeof(*s->uuids));
	s->fixed_base = dir_sync_common_suffix(cfg);
	if (cfg->require_group != NULL) {
		s->group_norm = dir_cache_dn_normalize(cfg->require_group);
		if (s->group_norm == NULL) {
			cg_err_log("directory sync: cannot parse require_group %s", cfg->require_group);
			dir_sync_free(s);
			return CG_ERR_ARG;
		}
	}
	if (s->uuids == NULL) {
		dir_sync_free(s);
		return CG_ERR_NOMEM;
	}
	snprintf(s->last_error, sizeof(s->last_error), "not connected yet");
	dir_cache_set_sync_healthy(cache, false);
	if (pthread_create(&s->thread, NULL, dir_sync_thread, s) != 0) {
		dir_sync_free(s);
		return CG_ERR_NOMEM;
	}
	s->started = true;
	cg_info("directory sync: syncing %s", s->fixed_base != NULL ? s->fixed_base : "the namingContexts");
	*out = s;
	return CG_OK;
}

void dir_sync_stop(struct dir_sync *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, true);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->thread, NULL);
	dir_cache_set_sync_healthy(s->cache, false);
	dir_sync_free(s);
}

bool dir_sync_healthy(struct dir_sync *s)
{
	bool h;
	pthread_mutex_lock(&s->mu);
	h = s->healthy;
	pthread_mutex_unlock(&s->mu);
	return h;
}

void dir_sync_last_error(struct dir_sync *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->mu);
	snprintf(buf, len, "%s", s->last_error);
	pthread_mutex_unlock(&s->mu);
}

json_t *dir_sync_json(struct dir_sync *s)
{
	json_t *o;
	pthread_mutex_lock(&s->mu);
	o = json_pack("{s:b, s:s, s:s, s:I, s:I, s:s*}", "healthy", s->healthy, "uri", s->uri,
		      "last_error", s->last_error, "changes", (json_int_t)s->changes,
		      "refreshes", (json_int_t)s->refreshes, "base", s->fixed_base);
	pthread_mutex_unlock(&s->mu);
	return o;
}
