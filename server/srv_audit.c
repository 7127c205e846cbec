/* The directory audit: every stored certificate checked as a client would be. */
#include "server/srv_audit.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cg_log.h"
#include "ldap/dir_audit.h"
#include "ldap/dir_check.h"
#include "ldap/dir_conn.h"
#include "pki/pki_facts.h"
#include "pki/pki_verify.h"
#include "server/srv_runtime.h"

struct audit {
	struct srv_runtime *rt;
	LDAP *ld;
	json_t *findings;
	size_t entries, certificates;
	char last_entry[1024];
	bool failed;              /* the directory failed under us */
	char error[256];
};

static void finding(struct audit *a, const char *kind, const char *entry, const struct pki_facts *f,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void finding(struct audit *a, const char *kind, const char *entry, const struct pki_facts *f,
		    const char *fmt, ...)
{
	char detail[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_t *o = json_pack("{s:s s:s s:s}", "kind", kind, "entry", entry, "detail", detail);
	if (o != NULL && f != NULL) {
		json_object_set_new(o, "subject", json_string(f->subject_dn ? f->subject_dn : ""));
		json_object_set_new(o, "sha256", json_string(f->sha256_hex));
	}
	json_array_append_new(a->findings, o);
}

/* The decision of one rule alone, mapping only (no presence, deny or group check). */
static enum cg_reason rule_alone(struct audit *a, size_t i, const struct pki_facts *f, const char *anchor,
				 struct dir_result *out)
{
	struct dir_config one = a->rt->cfg->dir;
	one.rules = &a->rt->cfg->dir.rules[i];
	one.n_rules = 1;
	one.verify = DIR_VERIFY_NEVER;
	one.deny_filter = NULL;
	one.require_group = NULL;
	(void)dir_check_run(a->ld, &one, f, anchor, false, out);
	return out->reason;
}

static void audit_certificate(void *arg, const char *entry, const struct berval *der)
{
	struct audit *a = arg;
	struct pki_facts *f = NULL;
	struct pki_verdict v;
	gnutls_datum_t d = { (unsigned char *)der->bv_val, (unsigned)der->bv_len };
	const struct dir_config *c = &a->rt->cfg->dir;

	if (a->failed)
		return;
	if (strcmp(entry, a->last_entry) != 0) {
		a->entries++;
		snprintf(a->last_entry, sizeof(a->last_entry), "%s", entry);
	}
	a->certificates++;
	if (pki_facts_from_der(&d, &f) != CG_OK) {
		finding(a, "unparsable", entry, NULL, "a value of %s is not a certificate (%lu bytes)",
			c->cert_attribute, (unsigned long)der->bv_len);
		return;
	}
	/* as a lone certificate: an intermediate its client would send is unknown here */
	pki_verify_chain(a->rt->trust, &d, 1, &a->rt->policy, 0, &v);
	static const struct { enum cg_reason r; const char *kind; } kinds[] = {
		{ CG_REASON_CERT_EXPIRED, "expired" }, { CG_REASON_CERT_NOT_YET_VALID, "not_yet_valid" },
		{ CG_REASON_CERT_REVOKED, "revoked" }, { CG_REASON_EKU_MISMATCH, "eku_mismatch" },
	};
	if (v.reason != CG_REASON_OK) {
		const char *kind = "untrusted_issuer";
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (kinds[i].r == v.reason)
				kind = kinds[i].kind;
		finding(a, kind, entry, f, "%s", v.detail);
	}
	/* which rules reach which entries */
	json_t *reached = json_object();   /* entry DN -> [rule names] */
	bool ambiguous = false;
	for (size_t i = 0; i < c->n_rules && reached != NULL; i++) {
		struct dir_result r;
		enum cg_reason rr = rule_alone(a, i, f, v.anchor_sha256, &r);
		if (rr == CG_REASON_DIRECTORY_UNAVAILABLE) {
			a->failed = true;
			snprintf(a->error, sizeof(a->error), "%s", r.detail);
		} else if (rr == CG_REASON_AMBIGUOUS_ENTRY) {
			char list[768] = "";
			ambiguous = true;
			for (size_t k = 0; k < r.n_candidates; k++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? "; " : "",
					 r.candidates[k]);
			finding(a, "several_entries", entry, f, "rule %s maps it to %zu entries: %s",
				c->rules[i].name, r.n_candidates, list);
		} else if (rr == CG_REASON_OK && r.entry != NULL) {
			json_t *names = json_object_get(reached, r.entry);
			if (names == NULL) {
				names = json_array();
				json_object_set_new(reached, r.entry, names);
			}
			json_array_append_new(names, json_string(c->rules[i].name));
		}
		dir_result_clear(&r);
	}
	const char *dn;
	json_t *names;
	size_t n_entries = json_object_size(reached);
	bool home = false;
	json_object_foreach(reached, dn, names) {
		if (strcasecmp(dn, entry) == 0)
			home = true;
		if (json_array_size(names) > 1) {
			char list[256] = "";
			for (size_t k = 0; k < json_array_size(names); k++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? ", " : "",
					 json_string_value(json_array_get(names, k)));
			finding(a, "several_rules", dn, f, "rules %s all reach this entry", list);
		}
	}
	if (!a->failed && n_entries == 0 && !ambiguous)
		finding(a, "unmapped", entry, f, "stored here, but no rule maps the certificate to an entry");
	else if (!a->failed && !home)
		finding(a, "maps_elsewhere", entry, f, "stored here, but the rules map the certificate elsewhere");
	else if (!a->failed && n_entries > 1)
		finding(a, "several_entries", entry, f, "different rules map the certificate to %zu different entries",
			n_entries);
	json_decref(reached);
	pki_facts_free(f);
}

int srv_audit_main(const char *config_path, bool json)
{
	struct audit a = { 0 };
	struct cg_buf errors;
	char uri[256], err[512];
	bool truncated = false;
	int code = 2;

	cg_buf_init(&errors, 64 * 1024);
	cg_log_init(CG_LOG_WARN, false);
	if (srv_runtime_build(config_path, 1, &a.rt, &errors) != CG_OK) {
		fputs(errors.data ? errors.data : "", stderr);
		goto out;
	}
	if (!a.rt->has_directory) {
		fprintf(stderr, "%s: no [directory] section: nothing to audit\n", config_path);
		goto out;
	}
	if (dir_conn_open(&a.rt->cfg->dir, &a.ld, uri, sizeof(uri), err, sizeof(err)) != CG_OK) {
		fprintf(stderr, "directory: %s\n", err);
		goto out;
	}
	a.findings = json_array();
	if (a.findings == NULL)
		goto out;
	if (dir_audit_scan(a.ld, &a.rt->cfg->dir, SRV_AUDIT_MAX_ENTRIES, audit_certificate, &a, &truncated, err,
			   sizeof(err)) != CG_OK || a.failed) {
		fprintf(stderr, "directory: %s\n", a.failed ? a.error : err);
		goto out;
	}
	if (json) {
		json_t *o = json_pack("{s:s s:I s:I s:b s:O}", "directory", uri, "entries", (json_int_t)a.entries,
				      "certificates", (json_int_t)a.certificates, "truncated", truncated,
				      "findings", a.findings);
		char *s = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		size_t i;
		json_t *f;
		json_array_foreach(a.findings, i, f)
			printf("%-16s %s\n%16s   %s%s%s\n", json_string_value(json_object_get(f, "kind")),
			       json_string_value(json_object_get(f, "entry")), "",
			       json_object_get(f, "subject") ? json_string_value(json_object_get(f, "subject")) : "",
			       json_object_get(f, "subject") ? ": " : "",
			       json_string_value(json_object_get(f, "detail")));
		printf("%s: %zu entries with certificates, %zu certificates, %zu findings%s\n", uri, a.entries,
		       a.certificates, json_array_size(a.findings),
		       truncated ? " (INCOMPLETE: the directory's size limit or the entry cap ended the walk)" : "");
	}
	code = json_array_size(a.findings) > 0 || truncated ? 1 : 0;
out:
	json_decref(a.findings);
	if (a.ld != NULL)
		ldap_unbind_ext_s(a.ld, NULL, NULL);
	srv_runtime_unref(a.rt);
	cg_buf_free(&errors);
	return code;
}
