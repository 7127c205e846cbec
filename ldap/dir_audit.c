/* Walking the directory's certificate-holding entries for the audit. */
#include "ldap/dir_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cg_buf.h"

#define DIR_AUDIT_PAGE 200   /* entries per paged-results page */

struct audit_bases {
	char *v[DIR_AUDIT_MAX_BASES];
	size_t n;
};

static void bases_add(struct audit_bases *b, const char *dn)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcasecmp(b->v[i], dn) == 0)
			return;
	if (b->n < DIR_AUDIT_MAX_BASES && (b->v[b->n] = strdup(dn)) != NULL)
		b->n++;
}

/* Is dn inside (or equal to) base? Case-insensitive on the string form. */
static bool dn_under(const char *dn, const char *base)
{
	size_t l = strlen(dn), lb = strlen(base);
	if (l == lb)
		return strcasecmp(dn, base) == 0;
	return l > lb && dn[l - lb - 1] == ',' && strcasecmp(dn + l - lb, base) == 0;
}

/* Drop every base that lies inside another: each entry is then walked once. */
static void bases_prune(struct audit_bases *b)
{
	for (size_t i = 0; i < b->n;) {
		bool inside = false;
		for (size_t j = 0; j < b->n && !inside; j++)
			inside = j != i && dn_under(b->v[i], b->v[j]);
		if (inside) {
			free(b->v[i]);
			b->v[i] = b->v[--b->n];
		} else {
			i++;
		}
	}
}

static void bases_free(struct audit_bases *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i]);
	b->n = 0;
}

static struct timeval audit_tv(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	return tv;
}

/* The rootDSE's namingContexts, for dn = rules (their entries can be anywhere). */
static enum cg_err naming_contexts(LDAP *ld, const struct dir_config *c, struct audit_bases *b,
				   char *err, size_t errlen)
{
	char *attrs[] = { "namingContexts", NULL };
	LDAPMessage *res = NULL;
	struct timeval tv = audit_tv(c->timeout_ms);
	int rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 1, &res);
	if (rc != LDAP_SUCCESS) {
		cg_errf(err, errlen, "rootDSE namingContexts: %s", ldap_err2string(rc));
		ldap_msgfree(res);
		return CG_ERR_DIR;
	}
	LDAPMessage *e = ldap_first_entry(ld, res);
	struct berval **vals = e != NULL ? ldap_get_values_len(ld, e, "namingContexts") : NULL;
	for (int i = 0; vals != NULL && vals[i] != NULL; i++) {
		char dn[1024];
		if (vals[i]->bv_len < sizeof(dn)) {
			memcpy(dn, vals[i]->bv_val, vals[i]->bv_len);
			dn[vals[i]->bv_len] = '\0';
			bases_add(b, dn);
		}
	}
	ldap_value_free_len(vals);
	ldap_msgfree(res);
	return CG_OK;
}

/* Hand every distinct certificate value of entry e to fn. */
static void audit_entry(LDAP *ld, LDAPMessage *e, const char *dn, char **attrs, dir_audit_fn fn, void *arg)
{
	struct berval *done[512];
	size_t n_done = 0;
	for (int a = 0; attrs[a] != NULL; a++) {
		struct berval **vals = ldap_get_values_len(ld, e, attrs[a]);
		for (int i = 0; vals != NULL && vals[i] != NULL; i++) {
			bool dup = false;
			for (size_t k = 0; k < n_done && !dup; k++)
				dup = done[k]->bv_len == vals[i]->bv_len &&
				      memcmp(done[k]->bv_val, vals[i]->bv_val, vals[i]->bv_len) == 0;
			if (dup)
				continue;
			fn(arg, dn, vals[i]);
			if (n_done < sizeof(done) / sizeof(done[0]))
				done[n_done++] = ber_bvdup(vals[i]);
		}
		ldap_value_free_len(vals);
	}
	for (size_t k = 0; k < n_done; k++)
		ber_bvfree(done[k]);
}

/* One page (RFC 2696 paged results, DIR_AUDIT_PAGE entries) of the search under base.
 * *cookie carries the server's position from page to page (empty: the last page). */
static enum cg_err audit_page(LDAP *ld, const struct dir_config *c, const char *base, const char *filter,
			      char **attrs, struct berval *cookie, size_t max_entries, size_t *visited,
			      dir_audit_fn fn, void *arg, bool *truncated, char *err, size_t errlen)
{
	LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL;
	LDAPMessage *res = NULL;
	struct timeval tv = audit_tv(c->timeout_ms * 10);
	enum cg_err r = CG_ERR_DIR;
	int rc, code = LDAP_SUCCESS;

	if (ldap_create_page_control(ld, DIR_AUDIT_PAGE, cookie, 0, &page) != LDAP_SUCCESS) {
		cg_errf(err, errlen, "search %s: cannot make a paged-results control", base);
		return CG_ERR_DIR;
	}
	ctrls[0] = page;
	ber_memfree(cookie->bv_val);
	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL, &tv, 0, &res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED || rc == LDAP_ADMINLIMIT_EXCEEDED) {
		*truncated = true;
	} else if (rc == LDAP_NO_SUCH_OBJECT) {
		r = CG_OK;
		goto out;
	} else if (rc != LDAP_SUCCESS) {
		cg_errf(err, errlen, "search %s: %s", base, ldap_err2string(rc));
		goto out;
	}
	for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
		char *dn = ldap_get_dn(ld, e);
		if (dn == NULL)
			continue;
		if (*visited == max_entries) {
			*truncated = true;
			ldap_memfree(dn);
			break;
		}
		(*visited)++;
		audit_entry(ld, e, dn, attrs, fn, arg);
		ldap_memfree(dn);
	}
	if (!*truncated && ldap_parse_result(ld, res, &code, NULL, NULL, NULL, &rctrls, 0) == LDAP_SUCCESS) {
		LDAPControl *pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
		ber_int_t estimate = 0;
		if (pr != NULL && ldap_parse_pageresponse_control(ld, pr, &estimate, cookie) != LDAP_SUCCESS) {
			cookie->bv_val = NULL;
			cookie->bv_len = 0;
		}
	}
	r = CG_OK;
out:
	ldap_controls_free(rctrls);
	ldap_control_free(page);
	ldap_msgfree(res);
	return r;
}

enum cg_err dir_audit_scan(LDAP *ld, const struct dir_config *c, size_t max_entries, dir_audit_fn fn, void *arg,
			   bool *truncated, char *err, size_t errlen)
{
	struct audit_bases bases = { .n = 0 };
	enum cg_err r = CG_OK;
	size_t visited = 0;
	bool need_contexts = false;
	char filter[256], binary[96];

	*truncated = false;
	for (size_t i = 0; i < c->n_rules; i++) {
		if (c->rules[i].filter != NULL)
			bases_add(&bases, c->rules[i].base);
		else
			need_contexts = true;
	}
	if (need_contexts && (r = naming_contexts(ld, c, &bases, err, errlen)) != CG_OK)
		goto out;
	bases_prune(&bases);
	snprintf(binary, sizeof(binary), "%s;binary", c->cert_attribute);
	snprintf(filter, sizeof(filter), "(%s=*)", c->cert_attribute);  /* matches the ;binary values too */
	char *attrs[] = { c->cert_attribute, binary, NULL };
	for (size_t b = 0; b < bases.n && !*truncated; b++) {
		struct berval cookie = { 0, NULL };
		do {
			r = audit_page(ld, c, bases.v[b], filter, attrs, &cookie, max_entries, &visited, fn, arg,
				       truncated, err, errlen);
		} while (r == CG_OK && cookie.bv_len > 0 && !*truncated);
		ber_memfree(cookie.bv_val);
		if (r != CG_OK)
			goto out;
	}
out:
	bases_free(&bases);
	return r;
}
