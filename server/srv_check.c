/* One decision without a handshake, and the `certgate check` report. */
#include "server/srv_check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "ldap/dir_conn.h"
#include "ldap/dir_template.h"
#include "pki/pki_facts.h"
#include "pki/pki_verify.h"
#include "server/srv_event.h"

#define SRV_CHECK_MAX_CHAIN 16
#define SRV_CHECK_MAX_PEM   (64 * 1024)

enum cg_err srv_check_load_runtime(const char *config_path, struct cg_buf *errors)
{
	struct srv_runtime *rt = NULL;
	enum cg_err r = srv_runtime_build(config_path, 1, &rt, errors);
	srv_runtime_unref(rt);
	return r;
}

/* Waiting for a pool answer from a non-worker thread. */
struct check_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void check_job_done(struct dir_job *job)
{
	struct check_wait *w = job->owner;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void directory_via_pool(struct dir_pool *pool, struct dir_job *job)
{
	struct check_wait w = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	job->complete = check_job_done;
	job->owner = &w;
	if (dir_pool_submit(pool, job) != CG_OK) {
		job->result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
		snprintf(job->result.detail, sizeof(job->result.detail), "directory queue full");
		return;
	}
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
}

static void directory_direct(struct dir_job *job, bool want_explain)
{
	LDAP *ld = NULL;
	char uri[256], err[256];
	if (dir_conn_open(job->cfg, &ld, uri, sizeof(uri), err, sizeof(err)) != CG_OK) {
		job->result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
		snprintf(job->result.detail, sizeof(job->result.detail), "%s", err);
		return;
	}
	(void)dir_check_run(ld, job->cfg, job->facts, job->anchor_sha256, want_explain, &job->result);
	ldap_unbind_ext_s(ld, NULL, NULL);
}

enum cg_err srv_check_decide(struct srv_runtime *rt, struct dir_pool *pool, const char *pem, size_t len,
			     json_t **event, json_t **explain, char *err, size_t errlen)
{
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	gnutls_datum_t chain[SRV_CHECK_MAX_CHAIN];
	struct pki_facts *facts = NULL;
	struct pki_verdict verdict;
	struct dir_job job;
	enum cg_err r = CG_ERR_ARG;
	uint64_t t0 = cg_mono_us(), wall0 = cg_wall_us();

	*event = NULL;
	if (explain != NULL)
		*explain = NULL;
	memset(&job, 0, sizeof(job));
	memset(chain, 0, sizeof(chain));
	if (len > SRV_CHECK_MAX_PEM) {
		snprintf(err, errlen, "certificate text larger than %d bytes", SRV_CHECK_MAX_PEM);
		return CG_ERR_ARG;
	}
	gnutls_datum_t in = { .data = (unsigned char *)pem, .size = (unsigned)len };
	int rc = gnutls_x509_crt_list_import2(&crts, &n, &in, GNUTLS_X509_FMT_PEM,
					      GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (rc < 0 || n == 0) {
		snprintf(err, errlen, "no PEM certificate: %s", rc < 0 ? gnutls_strerror(rc) : "empty");
		goto out;
	}
	if (n > SRV_CHECK_MAX_CHAIN) {
		snprintf(err, errlen, "more than %d certificates", SRV_CHECK_MAX_CHAIN);
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		if (gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_DER, &chain[i]) < 0) {
			snprintf(err, errlen, "certificate %u could not be encoded", i);
			goto out;
		}
	}
	if (pki_facts_from_der(&chain[0], &facts) != CG_OK) {
		facts = NULL;
		snprintf(err, errlen, "certificate could not be parsed");
		goto out;
	}
	pki_verify_chain(rt->trust, chain, n, &rt->policy, 0, &verdict);
	enum cg_reason reason = verdict.reason;
	const char *detail = verdict.detail;
	bool used_dir = false;
	if (reason == CG_REASON_OK && rt->has_directory) {
		used_dir = true;
		srv_runtime_dir_job(rt, facts, verdict.anchor_sha256, NULL, NULL, &job);
		if (pool != NULL && explain == NULL)
			directory_via_pool(pool, &job);
		else
			directory_direct(&job, explain != NULL);
		reason = job.result.reason;
		detail = job.result.detail;
		if (explain != NULL && job.result.explain != NULL)
			*explain = json_incref(job.result.explain);
	}
	struct srv_event_input ev = {
		.wall_us = wall0, .reason = reason, .detail = detail, .facts = facts,
		.dir = used_dir ? &job.result : NULL, .cache = used_dir ? "miss" : NULL,
		.duration_us = cg_mono_us() - t0,
	};
	*event = srv_event_build(&ev);
	if (*event != NULL)
		json_object_del(*event, "id");  /* a check is not a recorded event */
	r = *event != NULL ? CG_OK : CG_ERR_NOMEM;
out:
	dir_result_clear(&job.result);
	pki_facts_free(facts);
	for (unsigned i = 0; i < n && i < SRV_CHECK_MAX_CHAIN; i++)
		gnutls_free(chain[i].data);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return r;
}

/* The certificate's identifiers in every rendering a template can use. */
static json_t *identifiers(const char *pem, size_t len)
{
	struct pki_facts *f = NULL;
	json_t *o = json_object();
	if (o == NULL || pki_facts_from_pem(pem, len, &f) != CG_OK)
		return o;
	for (size_t i = 0; dir_template_variables[i] != NULL; i++) {
		char tmpl[64], err[128];
		char *v = NULL;
		snprintf(tmpl, sizeof(tmpl), "{%s}", dir_template_variables[i]);
		if (strcmp(dir_template_variables[i], "cert") == 0)
			continue;  /* the DER, escaped, is long and says nothing new */
		if (dir_template_render(tmpl, f, DIR_ESCAPE_CTX_FILTER, &v, err, sizeof(err)) == CG_OK)
			json_object_set_new(o, dir_template_variables[i], json_string(v));
		free(v);
	}
	static const char *const mods[] = { "{serial!dec}", "{serial!hex_u}", "{serial!hex_r}",
					    "{serial!hex_ur}", "{subject.dn!x500}", "{issuer.dn!x500}" };
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		char err[128];
		char *v = NULL;
		if (dir_template_render(mods[i], f, DIR_ESCAPE_CTX_FILTER, &v, err, sizeof(err)) == CG_OK) {
			char key[64];
			snprintf(key, sizeof(key), "%.*s", (int)strlen(mods[i]) - 2, mods[i] + 1);
			json_object_set_new(o, key, json_string(v));
		}
		free(v);
	}
	pki_facts_free(f);
	return o;
}

static void print_human(json_t *event, json_t *explain, json_t *ids)
{
	const char *k;
	json_t *v;
	printf("decision: %s (%s)\n", json_string_value(json_object_get(event, "outcome")),
	       json_string_value(json_object_get(event, "reason")));
	if (json_object_get(event, "detail"))
		printf("detail:   %s\n", json_string_value(json_object_get(event, "detail")));
	json_t *cert = json_object_get(event, "cert");
	if (cert != NULL) {
		printf("\ncertificate:\n");
		json_object_foreach(cert, k, v)
			printf("  %-12s %s\n", k, json_string_value(v));
	}
	printf("\nidentifiers (template variables, filter-escaped):\n");
	json_object_foreach(ids, k, v)
		printf("  {%s} = %s\n", k, json_string_value(v));
	json_t *dir = json_object_get(event, "directory");
	if (explain != NULL) {
		printf("\ndirectory:\n");
		char *s = json_dumps(explain, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (s != NULL)
			printf("%s\n", s);
		free(s);
	} else if (dir == NULL) {
		printf("\ndirectory: not consulted\n");
	}
}

int srv_check_main(const char *config_path, const char *cert_path, bool json)
{
	struct srv_runtime *rt = NULL;
	struct cg_buf errors;
	char *pem = NULL;
	size_t len = 0;
	json_t *event = NULL, *explain = NULL, *ids = NULL;
	char err[512];
	int code = 2;

	cg_buf_init(&errors, 64 * 1024);
	cg_log_init(CG_LOG_WARN, false);
	if (srv_runtime_build(config_path, 1, &rt, &errors) != CG_OK) {
		fputs(errors.data ? errors.data : "", stderr);
		goto out;
	}
	enum cg_err r = cg_read_file(cert_path, SRV_CHECK_MAX_PEM, &pem, &len);
	if (r != CG_OK) {
		fprintf(stderr, "%s: %s\n", cert_path, r == CG_ERR_NOTFOUND ? "No such file or directory" : cg_err_name(r));
		goto out;
	}
	if (srv_check_decide(rt, NULL, pem, len, &event, &explain, err, sizeof(err)) != CG_OK) {
		fprintf(stderr, "%s: %s\n", cert_path, err);
		goto out;
	}
	ids = identifiers(pem, len);
	if (json) {
		json_t *out = json_pack("{s:O s:O s:O}", "event", event, "identifiers", ids,
					"directory", explain ? explain : json_null());
		char *s = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(out);
	} else {
		print_human(event, explain, ids);
	}
	code = strcmp(json_string_value(json_object_get(event, "outcome")), "allowed") == 0 ? 0 : 1;
out:
	json_decref(event);
	json_decref(explain);
	json_decref(ids);
	free(pem);
	srv_runtime_unref(rt);
	cg_buf_free(&errors);
	return code;
}
