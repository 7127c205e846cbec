/* dircheck: a test driver for the directory layer, used by
 * tests/integration/dir_check.t.
 *
 *   dircheck [--pool] [--anchor HEX] CONFIG_INI CERT.pem
 *
 * CONFIG_INI holds only [directory] and [map:*] sections (parsed with inih
 * into dir_config_set). The certificate's facts come from pki_facts_from_pem.
 * Direct mode opens one connection (dir_conn_open) and runs dir_check_run
 * with explain; --pool runs the same job through a dir_pool of two threads.
 * Prints "reason=NAME entry=DN rule=RULE" ("-" for none), one "candidate=DN"
 * line per candidate, "detail=...", then the explain JSON on one line.
 * Exit 0 allowed, 1 denied, 2 usage or setup error. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"
#include "common/cg_log.h"
#include "common/cg_reason.h"
#include "ldap/dir_check.h"
#include "ldap/dir_config.h"
#include "ldap/dir_conn.h"
#include "ldap/dir_pool.h"
#include "pki/pki_facts.h"
#include "tests/tools/tool_dirconf.h"


struct pool_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void dircheck_complete(struct dir_job *job)
{
	struct pool_wait *w = job->owner;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void dircheck_print(const struct dir_result *res)
{
	printf("reason=%s entry=%s rule=%s\n", cg_reason_name(res->reason), res->entry ? res->entry : "-",
	       res->rule ? res->rule : "-");
	for (size_t i = 0; i < res->n_candidates; i++)
		printf("candidate=%s\n", res->candidates[i]);
	printf("detail=%s\n", res->detail);
	printf("latency_us=%llu\n", (unsigned long long)res->latency_us);
	if (res->explain != NULL) {
		char *js = json_dumps(res->explain, JSON_COMPACT | JSON_SORT_KEYS);
		if (js != NULL)
			printf("%s\n", js);
		free(js);
	}
}

int main(int argc, char **argv)
{
	struct dir_config cfg;
	char err[600];
	struct pki_facts *facts = NULL;
	struct dir_result res = { .reason = CG_REASON_DIRECTORY_UNAVAILABLE };
	const char *anchor = "";
	bool use_pool = false, cfg_ok = false;
	char *pem = NULL;
	size_t pem_len = 0;
	int argi = 1, status = 2;

	cg_log_init(getenv("DIRCHECK_DEBUG") != NULL ? CG_LOG_DEBUG : CG_LOG_ERROR, false);
	for (; argi < argc && strncmp(argv[argi], "--", 2) == 0; argi++) {
		if (strcmp(argv[argi], "--pool") == 0)
			use_pool = true;
		else if (strcmp(argv[argi], "--anchor") == 0 && argi + 1 < argc)
			anchor = argv[++argi];
		else
			break;
	}
	if (argc - argi != 2) {
		fprintf(stderr, "usage: dircheck [--pool] [--anchor HEX] CONFIG_INI CERT.pem\n");
		return 2;
	}
	if (tool_dir_config_load(argv[argi], &cfg, err, sizeof(err)) != CG_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	cfg_ok = true;
	if (cg_read_file(argv[argi + 1], 1 << 20, &pem, &pem_len) != CG_OK ||
	    pki_facts_from_pem(pem, pem_len, &facts) != CG_OK) {
		fprintf(stderr, "dircheck: cannot load a certificate from %s\n", argv[argi + 1]);
		goto out;
	}
	if (use_pool) {
		struct dir_pool *pool = NULL;
		struct pool_wait w = { .done = false };
		struct dir_job job = { .cfg = &cfg, .generation = 1, .facts = facts, .complete = dircheck_complete,
				       .owner = &w };
		snprintf(job.anchor_sha256, sizeof(job.anchor_sha256), "%s", anchor);
		pthread_mutex_init(&w.mu, NULL);
		pthread_cond_init(&w.cv, NULL);
		if (dir_pool_start(2, &pool) != CG_OK || dir_pool_submit(pool, &job) != CG_OK) {
			fprintf(stderr, "dircheck: pool start or submit failed\n");
			dir_pool_stop(pool);
			goto out;
		}
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		struct dir_health h;
		dir_pool_health(pool, &h);
		dir_pool_stop(pool);
		pthread_mutex_destroy(&w.mu);
		pthread_cond_destroy(&w.cv);
		res = job.result;
		printf("health up=%d uri=%s last_error=%s\n", h.up, h.uri[0] ? h.uri : "-",
		       h.last_error[0] ? h.last_error : "-");
	} else {
		LDAP *ld = NULL;
		char uri[256] = "", why[256] = "";
		if (dir_conn_open(&cfg, &ld, uri, sizeof(uri), why, sizeof(why)) != CG_OK) {
			res.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
			snprintf(res.detail, sizeof(res.detail), "%s", why);
		} else {
			printf("uri=%s\n", uri);
			(void)dir_check_run(ld, &cfg, facts, anchor, true, &res);
			ldap_unbind_ext_s(ld, NULL, NULL);
		}
	}
	dircheck_print(&res);
	status = res.reason == CG_REASON_OK ? 0 : 1;
out:
	dir_result_clear(&res);
	pki_facts_free(facts);
	free(pem);
	if (cfg_ok)
		dir_config_free(&cfg);
	return status;
}
