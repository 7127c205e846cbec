/* synctest: a driver for the decision cache and its RFC 4533 sync thread,
 * used by tests/integration/dir_sync.t.
 *
 *   synctest [--ttl MS] [--negative-ttl MS] [--stale-ttl MS] CONFIG_INI
 *
 * CONFIG_INI holds [directory] and [map:*] sections (as for dircheck). The
 * driver makes a cache (sync on, 1000 entries), starts dir_sync on it and
 * then reads one command a line on stdin, answering one line on stdout:
 *   put KEY REASON DN...      store a decision (DN "-" for none) -> "put ok|refused ERR"
 *   get KEY [stale]           -> "miss" | "hit REASON DN" | "stale REASON DN"
 *   waitget KEY WANT MS [stale]  poll get every 20 ms until its first word is
 *                             WANT or MS passed -> the last answer + " after=Nms"
 *   health                    -> "healthy=0|1 error=TEXT"
 *   waithealth 0|1 MS         poll -> "healthy=X after=Nms" (X the last state)
 *   stats                     -> the cache JSON and the sync JSON on one line
 *   quit
 * KEY is any word; its bytes (zero-padded, at most 32) stand for the SHA-256.
 * Exit 0 after quit or EOF, 2 on a setup error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cg_log.h"
#include "common/cg_reason.h"
#include "common/cg_time.h"
#include "ldap/dir_cache.h"
#include "ldap/dir_config.h"
#include "ldap/dir_sync.h"
#include "tests/tools/tool_dirconf.h"

#define SYNCTEST_GEN 1


static void synctest_key(const char *word, uint8_t key[32])
{
	size_t n = strlen(word);
	memset(key, 0, 32);
	memcpy(key, word, n > 32 ? 32 : n);
}

static void synctest_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One get; the answer into buf. */
static enum dir_cache_result synctest_get(struct dir_cache *c, const char *word, bool stale, char *buf, size_t len)
{
	uint8_t key[32];
	struct dir_result r;
	synctest_key(word, key);
	enum dir_cache_result res = dir_cache_get(c, key, SYNCTEST_GEN, cg_mono_ms(), stale, &r);
	if (res == DIR_CACHE_MISS)
		snprintf(buf, len, "miss");
	else
		snprintf(buf, len, "%s %s %s", res == DIR_CACHE_HIT ? "hit" : "stale", cg_reason_name(r.reason),
			 r.entry != NULL ? r.entry : "-");
	dir_result_clear(&r);
	return res;
}

static void synctest_put(struct dir_cache *c, char *args)
{
	char *word = strtok(args, " "), *reason = strtok(NULL, " "), *dn = strtok(NULL, "");
	struct dir_result r;
	uint8_t key[32];
	int code;
	if (word == NULL || reason == NULL || dn == NULL || (code = cg_reason_parse(reason)) < 0) {
		printf("put refused usage\n");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.reason = (enum cg_reason)code;
	r.entry = strcmp(dn, "-") == 0 ? NULL : dn;
	snprintf(r.detail, sizeof(r.detail), "synctest");
	synctest_key(word, key);
	enum cg_err e = dir_cache_put(c, key, SYNCTEST_GEN, &r, cg_mono_ms());
	if (e == CG_OK)
		printf("put ok\n");
	else
		printf("put refused %s\n", cg_err_name(e));
}

static void synctest_loop(struct dir_cache *cache, struct dir_sync *sync)
{
	char line[2048], out[2300];
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char *cmd = strtok(line, " ");
		char *rest = strtok(NULL, "");
		if (cmd == NULL)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "put") == 0 && rest != NULL) {
			synctest_put(cache, rest);
		} else if (strcmp(cmd, "get") == 0 && rest != NULL) {
			char *word = strtok(rest, " "), *opt = strtok(NULL, " ");
			synctest_get(cache, word, opt != NULL && strcmp(opt, "stale") == 0, out, sizeof(out));
			printf("%s\n", out);
		} else if (strcmp(cmd, "waitget") == 0 && rest != NULL) {
			char *word = strtok(rest, " "), *want = strtok(NULL, " "), *ms = strtok(NULL, " ");
			char *opt = strtok(NULL, " ");
			if (word == NULL || want == NULL || ms == NULL) {
				printf("usage\n");
			} else {
				uint64_t start = cg_mono_ms(), limit = strtoull(ms, NULL, 10);
				for (;;) {
					synctest_get(cache, word, opt != NULL && strcmp(opt, "stale") == 0, out, sizeof(out));
					size_t wl = strlen(want);
					if ((strncmp(out, want, wl) == 0 && (out[wl] == ' ' || out[wl] == '\0')) ||
					    cg_mono_ms() - start >= limit)
						break;
					synctest_sleep_ms(20);
				}
				printf("%s after=%llums\n", out, (unsigned long long)(cg_mono_ms() - start));
			}
		} else if (strcmp(cmd, "health") == 0) {
			char err[256];
			dir_sync_last_error(sync, err, sizeof(err));
			printf("healthy=%d error=%s\n", dir_sync_healthy(sync), err);
		} else if (strcmp(cmd, "waithealth") == 0 && rest != NULL) {
			char *want = strtok(rest, " "), *ms = strtok(NULL, " ");
			bool w = want != NULL && strcmp(want, "1") == 0;
			uint64_t start = cg_mono_ms(), limit = ms != NULL ? strtoull(ms, NULL, 10) : 10000;
			while (dir_sync_healthy(sync) != w && cg_mono_ms() - start < limit)
				synctest_sleep_ms(20);
			/* the cache's view must agree with the thread's */
			printf("healthy=%d cache_healthy=%d after=%llums\n", dir_sync_healthy(sync),
			       dir_cache_sync_healthy(cache), (unsigned long long)(cg_mono_ms() - start));
		} else if (strcmp(cmd, "stats") == 0) {
			json_t *a = dir_cache_json(cache), *b = dir_sync_json(sync);
			char *sa = a != NULL ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
			char *sb = b != NULL ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
			printf("%s %s\n", sa != NULL ? sa : "null", sb != NULL ? sb : "null");
			free(sa);
			free(sb);
			json_decref(a);
			json_decref(b);
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	struct dir_config cfg;
	char err[600];
	struct dir_cache_config cc = { .ttl_ms = 600000, .negative_ttl_ms = 600000, .stale_ttl_ms = 600000,
				       .max_entries = 1000, .sync = true };
	struct dir_cache *cache = NULL;
	struct dir_sync *sync = NULL;
	bool cfg_ok = false;
	int argi = 1, status = 2;

	cg_log_init(getenv("SYNCTEST_DEBUG") != NULL ? CG_LOG_DEBUG : CG_LOG_ERROR, false);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (; argi + 1 < argc && strncmp(argv[argi], "--", 2) == 0; argi += 2) {
		uint64_t v = strtoull(argv[argi + 1], NULL, 10);
		if (strcmp(argv[argi], "--ttl") == 0)
			cc.ttl_ms = v;
		else if (strcmp(argv[argi], "--negative-ttl") == 0)
			cc.negative_ttl_ms = v;
		else if (strcmp(argv[argi], "--stale-ttl") == 0)
			cc.stale_ttl_ms = v;
		else
			break;
	}
	if (argc - argi != 1) {
		fprintf(stderr, "usage: synctest [--ttl MS] [--negative-ttl MS] [--stale-ttl MS] CONFIG_INI\n");
		return 2;
	}
	if (tool_dir_config_load(argv[argi], &cfg, err, sizeof(err)) != CG_OK) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	cfg_ok = true;
	if (dir_cache_create(&cc, &cache) != CG_OK || dir_sync_start(&cfg, cache, &sync) != CG_OK) {
		fprintf(stderr, "synctest: cannot start the cache or the sync\n");
		goto out;
	}
	printf("started\n");
	synctest_loop(cache, sync);
	uint64_t t0 = cg_mono_ms();
	dir_sync_stop(sync);
	sync = NULL;
	fprintf(stderr, "synctest: stopped in %llu ms\n", (unsigned long long)(cg_mono_ms() - t0));
	status = 0;
out:
	dir_sync_stop(sync);
	dir_cache_free(cache);
	if (cfg_ok)
		dir_config_free(&cfg);
	return status;
}
