/* The directory decision for one certificate (DESIGN.md §1 step 3, §5): the
 * mapping rules in order find exactly one entry, certgate fetches the entry's
 * certificate values and compares them with the presented DER itself (never a
 * server-side match: OpenLDAP's certificateExactMatch looks at serial and
 * issuer only), then deny_filter and require_group. Every LDAP answer is
 * hostile: counts and sizes are bounded, an oversized answer denies. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "common/cg_buf.h"
#include "common/cg_log.h"
#include "common/cg_time.h"
#include "ldap/dir_check.h"
#include "ldap/dir_escape.h"
#include "ldap/dir_match.h"
#include "ldap/dir_template.h"

#define DIR_MAX_CERT_VALUES  256
#define DIR_MAX_CERT_LEN     65536
#define DIR_MAX_MEMBEROF     4096
#define DIR_MAX_VALUE_SETS   8     /* attribute descriptions of one type (;binary and friends) */

static const char *const dir_scope_names[] = { "base", "one", "sub" };

/* What the winning entry holds, borrowed from libldap until dir_entry_clear. */
struct dir_entry_vals {
	struct berval **certs[DIR_MAX_VALUE_SETS];
	size_t n_sets;
	struct berval **member_of;
	size_t n_certs;          /* distinct certificate values */
	bool cert_match;
	bool oversized;
};

struct dir_run {
	LDAP *ld;
	const struct dir_config *c;
	const struct pki_facts *f;
	struct dir_result res;
	json_t *ex;              /* explain object or NULL */
	enum cg_err r;
};

/* jansson helpers that ignore allocation failure of an explain field: the
 * trace is best effort, the decision never depends on it. */
static void dir_ex_str(json_t *o, const char *k, const char *v)
{
	if (o != NULL && v != NULL)
		json_object_set_new(o, k, json_string(v));
}

static void dir_run_fail(struct dir_run *run, enum cg_reason reason, enum cg_err r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void dir_run_fail(struct dir_run *run, enum cg_reason reason, enum cg_err r, const char *fmt, ...)
{
	va_list ap;
	run->res.reason = reason;
	run->r = r;
	va_start(ap, fmt);
	vsnprintf(run->res.detail, sizeof(run->res.detail), fmt, ap);
	va_end(ap);
}

static struct timeval dir_tv(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((ms % 1000) * 1000) };
	return tv;
}

static int dir_ldap_scope(enum dir_scope s)
{
	return s == DIR_SCOPE_BASE ? LDAP_SCOPE_BASE : s == DIR_SCOPE_ONE ? LDAP_SCOPE_ONELEVEL
									 : LDAP_SCOPE_SUBTREE;
}

/* One bounded search; on LDAP_SUCCESS or LDAP_SIZELIMIT_EXCEEDED *res is the
 * caller's (ldap_msgfree), otherwise freed here. */
static int dir_search(struct dir_run *run, const char *base, int scope, const char *filter,
		      char **attrs, int sizelimit, LDAPMessage **res)
{
	struct timeval tv = dir_tv(run->c->timeout_ms);
	LDAPMessage *m = NULL;
	int rc = ldap_search_ext_s(run->ld, base, scope, filter, attrs, 0, NULL, NULL, &tv, sizelimit, &m);
	*res = NULL;
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
		*res = m;
		return rc;
	}
	if (m != NULL)
		ldap_msgfree(m);
	return rc;
}

static bool dir_attr_is(const char *desc, const char *type)
{
	size_t n = strlen(type);
	return strncasecmp(desc, type, n) == 0 && (desc[n] == '\0' || desc[n] == ';');
}

static void dir_entry_clear(struct dir_entry_vals *v)
{
	for (size_t i = 0; i < v->n_sets; i++)
		ldap_value_free_len(v->certs[i]);
	if (v->member_of != NULL)
		ldap_value_free_len(v->member_of);
	memset(v, 0, sizeof(*v));
}

/* Collect the certificate values (every description of cert_attribute, so
 * both plain and ;binary) and memberOf of entry e; count distinct values and
 * compare each with the presented DER byte for byte. */
static void dir_entry_read(struct dir_run *run, LDAPMessage *e, struct dir_entry_vals *v)
{
	BerElement *ber = NULL;
	size_t total = 0;
	const gnutls_datum_t *der = &run->f->der;
	for (char *a = ldap_first_attribute(run->ld, e, &ber); a != NULL;
	     a = ldap_next_attribute(run->ld, e, ber)) {
		struct berval **vals = ldap_get_values_len(run->ld, e, a);
		if (vals != NULL && dir_attr_is(a, run->c->cert_attribute) && v->n_sets < DIR_MAX_VALUE_SETS) {
			v->certs[v->n_sets++] = vals;
			vals = NULL;
		} else if (vals != NULL && strcasecmp(a, "memberOf") == 0 && v->member_of == NULL) {
			v->member_of = vals;
			vals = NULL;
		} else if (vals != NULL && dir_attr_is(a, run->c->cert_attribute)) {
			v->oversized = true;
		}
		if (vals != NULL)
			ldap_value_free_len(vals);
		ldap_memfree(a);
	}
	if (ber != NULL)
		ber_free(ber, 0);
	for (size_t s = 0; s < v->n_sets; s++) {
		for (size_t i = 0; v->certs[s][i] != NULL; i++) {
			const struct berval *bv = v->certs[s][i];
			bool dup = false;
			if (++total > DIR_MAX_CERT_VALUES || bv->bv_len > DIR_MAX_CERT_LEN) {
				v->oversized = true;
				return;
			}
			/* the same value under "attr" and "attr;binary" counts once */
			for (size_t t = 0; t <= s && !dup; t++) {
				for (size_t j = 0; v->certs[t][j] != NULL; j++) {
					const struct berval *o = v->certs[t][j];
					if (t == s && j == i)
						break;
					if (o->bv_len == bv->bv_len && memcmp(o->bv_val, bv->bv_val, bv->bv_len) == 0) {
						dup = true;
						break;
					}
				}
			}
			if (dup)
				continue;
			v->n_certs++;
			if (bv->bv_len == der->size && der->size > 0 &&
			    memcmp(bv->bv_val, der->data, der->size) == 0)
				v->cert_match = true;
		}
	}
	if (v->member_of != NULL && ldap_count_values_len(v->member_of) > DIR_MAX_MEMBEROF)
		v->oversized = true;
}

/* Run the rules; on a single entry *winner (caller's, ldap_msgfree) holds the
 * search answer and *entry points into it. Returns false when a decision was
 * already made (ambiguous or unavailable). */
static bool dir_find_entry(struct dir_run *run, const char *anchor_sha256, LDAPMessage **winner,
			   LDAPMessage **entry, json_t *jrules)
{
	const struct dir_config *c = run->c;
	char *attrs[4] = { NULL, NULL, "memberOf", NULL };
	char binary[96];
	snprintf(binary, sizeof(binary), "%s;binary", c->cert_attribute);
	attrs[0] = c->cert_attribute;
	attrs[1] = binary;
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct dir_rule *rule = &c->rules[i];
		json_t *jr = jrules != NULL ? json_object() : NULL;
		char *rendered = NULL;
		char why[256] = "";
		LDAPMessage *res = NULL;
		const char *base;
		int scope, rc, n;
		if (jr != NULL) {
			json_array_append_new(jrules, jr);
			dir_ex_str(jr, "rule", rule->name);
		}
		if (rule->match != NULL && !dir_match_eval(rule->match, run->f)) {
			dir_ex_str(jr, "skipped", "match does not apply to this certificate");
			continue;
		}
		if (rule->anchor_sha256[0] != '\0' &&
		    (anchor_sha256 == NULL || strcasecmp(rule->anchor_sha256, anchor_sha256) != 0)) {
			dir_ex_str(jr, "skipped", "the chain ends in another trust anchor");
			continue;
		}
		enum cg_err tr = dir_template_render(rule->filter != NULL ? rule->filter : rule->dn, run->f,
						     rule->filter != NULL ? DIR_ESCAPE_CTX_FILTER : DIR_ESCAPE_CTX_DN,
						     &rendered, why, sizeof(why));
		if (tr == CG_ERR_DIR_MISSING_VAR || tr == CG_ERR_RANGE || tr == CG_ERR_ARG) {
			char skip[300];
			snprintf(skip, sizeof(skip), "%s: %s",
				 tr == CG_ERR_DIR_MISSING_VAR ? "missing variable" : "cannot render", why);
			dir_ex_str(jr, "skipped", skip);
			continue;
		}
		if (tr != CG_OK) {
			dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_OK, "rule %s: %s", rule->name,
				     cg_err_name(tr));
			return false;
		}
		if (rule->filter != NULL) {
			base = rule->base;
			scope = dir_ldap_scope(rule->scope);
			dir_ex_str(jr, "filter", rendered);
		} else {
			base = rendered;
			scope = LDAP_SCOPE_BASE;
			dir_ex_str(jr, "dn", rendered);
		}
		dir_ex_str(jr, "base", base);
		dir_ex_str(jr, "scope", rule->filter != NULL ? dir_scope_names[rule->scope] : "base");
		rc = dir_search(run, base, scope, rule->filter != NULL ? rendered : "(objectClass=*)", attrs,
				DIR_MAX_CANDIDATES + 1, &res);
		free(rendered);
		if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_INVALID_DN_SYNTAX && rule->dn != NULL)) {
			if (jr != NULL)
				json_object_set_new(jr, "candidates", json_array());
			continue;
		}
		if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
			cg_warn("directory: rule %s: search: %s", rule->name, ldap_err2string(rc));
			dir_ex_str(jr, "error", ldap_err2string(rc));
			dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_ERR_DIR, "rule %s: search: %s",
				     rule->name, ldap_err2string(rc));
			return false;
		}
		json_t *jc = jr != NULL ? json_array() : NULL;
		n = 0;
		LDAPMessage *first = NULL;
		for (LDAPMessage *e = ldap_first_entry(run->ld, res); e != NULL; e = ldap_next_entry(run->ld, e)) {
			char *dn = ldap_get_dn(run->ld, e);
			if (n == 0)
				first = e;
			if (dn != NULL && jc != NULL)
				json_array_append_new(jc, json_string(dn));
			if (dn != NULL && (size_t)n < DIR_MAX_CANDIDATES) {
				run->res.candidates[run->res.n_candidates] = strdup(dn);
				if (run->res.candidates[run->res.n_candidates] != NULL)
					run->res.n_candidates++;
			}
			if (dn != NULL)
				ldap_memfree(dn);
			n++;
		}
		if (jr != NULL)
			json_object_set_new(jr, "candidates", jc);
		if (n == 0) {
			ldap_msgfree(res);
			continue;
		}
		run->res.rule = strdup(rule->name);
		if (n >= 2 || rc == LDAP_SIZELIMIT_EXCEEDED) {
			dir_run_fail(run, CG_REASON_AMBIGUOUS_ENTRY, CG_OK, "rule %s found %s%d entries", rule->name,
				     rc == LDAP_SIZELIMIT_EXCEEDED ? "more than " : "", n);
			ldap_msgfree(res);
			return false;
		}
		/* exactly one: the candidate list of the result is for ambiguity only */
		for (size_t k = 0; k < run->res.n_candidates; k++) {
			free(run->res.candidates[k]);
			run->res.candidates[k] = NULL;
		}
		run->res.n_candidates = 0;
		char *dn = ldap_get_dn(run->ld, first);
		if (dn == NULL) {
			ldap_msgfree(res);
			dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_ERR_DIR, "rule %s: entry without DN",
				     rule->name);
			return false;
		}
		run->res.entry = strdup(dn);
		ldap_memfree(dn);
		if (run->res.rule == NULL || run->res.entry == NULL) {
			ldap_msgfree(res);
			dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_OK, "out of memory");
			return false;
		}
		*winner = res;
		*entry = first;
		return true;
	}
	dir_run_fail(run, CG_REASON_NO_ENTRY, CG_OK, "no rule found an entry");
	return false;
}

/* deny_filter on the entry itself: a match denies. Returns false when the
 * decision is made (disabled or unavailable). */
static bool dir_check_deny(struct dir_run *run)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	LDAPMessage *res = NULL;
	json_t *jd = NULL;
	int rc = dir_search(run, run->res.entry, LDAP_SCOPE_BASE, run->c->deny_filter, attrs, 1, &res);
	bool matched = false;
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		cg_warn("directory: deny_filter search: %s", ldap_err2string(rc));
		dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_ERR_DIR, "deny_filter: %s",
			     ldap_err2string(rc));
		return false;
	}
	matched = ldap_count_entries(run->ld, res) > 0;
	ldap_msgfree(res);
	if (run->ex != NULL && (jd = json_object()) != NULL) {
		dir_ex_str(jd, "filter", run->c->deny_filter);
		json_object_set_new(jd, "matched", json_boolean(matched));
		json_object_set_new(run->ex, "deny_filter", jd);
	}
	if (matched) {
		dir_run_fail(run, CG_REASON_ACCOUNT_DISABLED, CG_OK, "entry matches deny_filter %s",
			     run->c->deny_filter);
		return false;
	}
	return true;
}

/* dn normalized (LDAPv3, lower-cased by strcasecmp at the caller); NULL on a bad DN. */
static char *dir_dn_norm(const char *dn)
{
	char *out = NULL;
	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAPV3, &out, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return NULL;
	return out;
}

/* require_group: member/uniqueMember on the group, or memberOf on the entry. */
static bool dir_check_group(struct dir_run *run, const struct dir_entry_vals *v)
{
	const char *group = run->c->require_group;
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	struct cg_buf esc, filter;
	LDAPMessage *res = NULL;
	const char *via = NULL;
	bool ok = false;
	int rc;
	cg_buf_init(&esc, 16384);
	cg_buf_init(&filter, 40000);
	if (dir_escape_filter(run->res.entry, strlen(run->res.entry), &esc) != CG_OK ||
	    cg_buf_printf(&filter, "(|(member=%s)(uniqueMember=%s))", esc.data, esc.data) != CG_OK) {
		dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_OK, "group filter too long");
		goto out;
	}
	rc = dir_search(run, group, LDAP_SCOPE_BASE, filter.data, attrs, 1, &res);
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
		if (ldap_count_entries(run->ld, res) > 0)
			via = "member";
		ldap_msgfree(res);
	} else if (rc != LDAP_NO_SUCH_OBJECT) {
		cg_warn("directory: require_group search: %s", ldap_err2string(rc));
		dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_ERR_DIR, "require_group: %s",
			     ldap_err2string(rc));
		goto out;
	}
	if (via == NULL && v->member_of != NULL) {
		char *g = dir_dn_norm(group);
		for (size_t i = 0; g != NULL && v->member_of[i] != NULL && via == NULL; i++) {
			const struct berval *bv = v->member_of[i];
			char *raw, *m;
			if (bv->bv_len == 0 || bv->bv_len > 16384 || memchr(bv->bv_val, '\0', bv->bv_len) != NULL)
				continue;
			raw = strndup(bv->bv_val, bv->bv_len);
			m = raw != NULL ? dir_dn_norm(raw) : NULL;
			if (m != NULL && strcasecmp(m, g) == 0)
				via = "memberOf";
			if (m != NULL)
				ldap_memfree(m);
			free(raw);
		}
		if (g != NULL)
			ldap_memfree(g);
	}
	if (run->ex != NULL) {
		json_t *jg = json_object();
		dir_ex_str(jg, "dn", group);
		json_object_set_new(jg, "member", json_boolean(via != NULL));
		dir_ex_str(jg, "via", via);
		json_object_set_new(run->ex, "group", jg);
	}
	if (via == NULL) {
		dir_run_fail(run, CG_REASON_NOT_IN_GROUP, CG_OK, "entry is not a member of %s", group);
		goto out;
	}
	ok = true;
out:
	cg_buf_free(&esc);
	cg_buf_free(&filter);
	return ok;
}

/* The presence check per verify. Returns false when it denies. */
static bool dir_check_presence(struct dir_run *run, const struct dir_entry_vals *v)
{
	const char *cmp;
	bool ok;
	if (v->oversized) {
		dir_run_fail(run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_OK,
			     "oversized answer: more than %d certificate values or one over %d bytes",
			     DIR_MAX_CERT_VALUES, DIR_MAX_CERT_LEN);
		return false;
	}
	if (run->c->verify == DIR_VERIFY_NEVER || (run->c->verify == DIR_VERIFY_IFPRESENT && v->n_certs == 0)) {
		cmp = "skipped";
		ok = true;
	} else {
		cmp = v->cert_match ? "match" : "no match";
		ok = v->cert_match;
	}
	if (run->ex != NULL) {
		json_object_set_new(run->ex, "certificates_in_entry", json_integer((json_int_t)v->n_certs));
		dir_ex_str(run->ex, "comparison", cmp);
	}
	if (!ok)
		dir_run_fail(run, CG_REASON_CERT_NOT_IN_ENTRY, CG_OK, "entry has %zu certificate%s, none matches",
			     v->n_certs, v->n_certs == 1 ? "" : "s");
	return ok;
}

enum cg_err dir_check_run(LDAP *ld, const struct dir_config *c, const struct pki_facts *f,
			  const char *anchor_sha256, bool want_explain, struct dir_result *out)
{
	struct dir_run run = { .ld = ld, .c = c, .f = f, .r = CG_OK };
	struct dir_entry_vals vals = { .n_sets = 0 };
	LDAPMessage *winner = NULL, *entry = NULL;
	json_t *jrules = NULL;
	uint64_t start = cg_mono_us();
	run.res.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
	if (want_explain) {
		run.ex = json_object();
		jrules = json_array();
		if (run.ex != NULL && jrules != NULL)
			json_object_set(run.ex, "rules", jrules);
	}
	if (ld == NULL) {
		dir_run_fail(&run, CG_REASON_DIRECTORY_UNAVAILABLE, CG_ERR_DIR, "not connected");
		goto out;
	}
	if (!dir_find_entry(&run, anchor_sha256, &winner, &entry, jrules))
		goto out;
	dir_ex_str(run.ex, "entry", run.res.entry);
	dir_entry_read(&run, entry, &vals);
	if (!dir_check_presence(&run, &vals))
		goto out;
	if (c->deny_filter != NULL && !dir_check_deny(&run))
		goto out;
	if (c->require_group != NULL && !dir_check_group(&run, &vals))
		goto out;
	run.res.reason = CG_REASON_OK;
	snprintf(run.res.detail, sizeof(run.res.detail), "certificate found in %s", run.res.entry);
out:
	dir_entry_clear(&vals);
	if (winner != NULL)
		ldap_msgfree(winner);
	if (jrules != NULL)
		json_decref(jrules);
	run.res.latency_us = cg_mono_us() - start;
	if (run.ex != NULL) {
		dir_ex_str(run.ex, "reason", cg_reason_name(run.res.reason));
		if (run.res.detail[0] != '\0')
			dir_ex_str(run.ex, "detail", run.res.detail);
		if (run.res.n_candidates > 0) {
			json_t *jc = json_array();
			for (size_t i = 0; i < run.res.n_candidates; i++)
				json_array_append_new(jc, json_string(run.res.candidates[i]));
			json_object_set_new(run.ex, "candidates", jc);
		}
	}
	run.res.explain = run.ex;
	*out = run.res;
	return run.r;
}

void dir_result_clear(struct dir_result *r)
{
	if (r == NULL)
		return;
	free(r->rule);
	free(r->entry);
	for (size_t i = 0; i < r->n_candidates && i < DIR_MAX_CANDIDATES; i++)
		free(r->candidates[i]);
	if (r->explain != NULL)
		json_decref(r->explain);
	memset(r, 0, sizeof(*r));
}
