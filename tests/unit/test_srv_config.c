/* Unit tests for server/srv_config.c: every key of [server], [pki], [cache],
 * [events] and [admin] with a bad value, unknown sections and keys, repeated
 * keys, missing required keys and files, over-long lines — each reported as
 * FILE:LINE: with the key named — and a good file with every key set. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "server/srv_config.h"

static char dir[256];
static char conf[512];

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

static void setup(void)
{
	char path[512];
	snprintf(dir, sizeof(dir), "/tmp/test_srv_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	static const char *const files[] = { "server.pem", "server.key", "ca.pem", "crl.pem", "pw" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		write_file(path, "x\n");
	}
	snprintf(path, sizeof(path), "%s/token", dir);
	write_file(path, "0123456789abcdef0123456789abcdef\n");
	snprintf(path, sizeof(path), "%s/short-token", dir);
	write_file(path, "short\n");
	snprintf(conf, sizeof(conf), "%s/certgate.conf", dir);
}

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The first eight lines of every test file: a valid minimal gate. */
static const char base[] =
	"[server]\n"                        /* 1 */
	"listen = 127.0.0.1:8443\n"         /* 2 */
	"cert = server.pem\n"               /* 3 */
	"key = server.key\n"                /* 4 */
	"\n"                                /* 5 */
	"[pki]\n"                           /* 6 */
	"ca = ca.pem\n"                     /* 7 */
	"\n";                               /* 8 */

/* Load base + extra; returns the result and leaves the error text in errors. */
static enum cg_err load(const char *extra, struct cg_buf *errors, struct srv_config **out)
{
	char text[16384];
	snprintf(text, sizeof(text), "%s%s", base, extra);
	write_file(conf, text);
	cg_buf_init(errors, 64 * 1024);
	*out = NULL;
	return srv_config_load(conf, out, errors);
}

/* extra must fail with "certgate.conf:LINE:" and a message holding want. */
static void expect_error(const char *extra, unsigned line, const char *want)
{
	struct cg_buf errors;
	struct srv_config *c;
	char prefix[600];
	enum cg_err r = load(extra, &errors, &c);
	ck_assert_msg(r == CG_ERR_CONFIG, "accepted: %s", extra);
	ck_assert_ptr_null(c);
	snprintf(prefix, sizeof(prefix), "%s:%u: ", conf, line);
	ck_assert_msg(errors.data != NULL && strstr(errors.data, prefix) != NULL,
		      "for %s: want '%s' in:\n%s", extra, prefix, errors.data ? errors.data : "");
	ck_assert_msg(strstr(errors.data, want) != NULL, "for %s: want '%s' in:\n%s", extra, want, errors.data);
	cg_buf_free(&errors);
}

START_TEST(good_file_every_key)
{
	struct cg_buf errors;
	struct srv_config *c;
	const char *extra =
		"[server]\nlisten = [::1]:8444\npriority = NORMAL\nworkers = 3\nmax_connections = 50\n"
		"handshake_timeout = 250ms\nidle_timeout = 5m\nshutdown_grace = 1s\ntickets = off\nuser = nobody\n"
		"[pki]\ncrl = crl.pem\nrequire_eku = any\nmax_chain_depth = 3\n"
		"[cache]\nttl = 30s\nnegative_ttl = 1s\nstale_ttl = 2h\nmax_entries = 10\nsync = off\n"
		"[events]\nbuffer = 100\naudit_log = audit.jsonl\nfsync = never\n"
		"[admin]\nlisten = 127.0.0.1:9090\ntoken_file = token\n";
	enum cg_err r = load(extra, &errors, &c);
	ck_assert_msg(r == CG_OK, "%s", errors.data ? errors.data : "");
	ck_assert_uint_eq(c->n_listen, 2);
	ck_assert_str_eq(c->listen[1].host, "::1");
	ck_assert_uint_eq(c->workers, 3);
	ck_assert_uint_eq(c->handshake_timeout_ms, 250);
	ck_assert_uint_eq(c->idle_timeout_ms, 300000);
	ck_assert(!c->tickets);
	ck_assert_ptr_null(c->eku_oid);
	ck_assert_uint_eq(c->max_chain_depth, 3);
	ck_assert_uint_eq(c->cache_stale_ttl_ms, 7200000);
	ck_assert_int_eq(c->events_fsync, SRV_FSYNC_NEVER);
	ck_assert_str_eq(c->admin_token, "0123456789abcdef0123456789abcdef");
	/* relative paths are resolved against the file's directory */
	char want[600];
	snprintf(want, sizeof(want), "%s/server.pem", dir);
	ck_assert_str_eq(c->cert, want);
	/* the JSON view never shows the token */
	json_t *j = srv_config_to_json(c);
	char *s = json_dumps(j, 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_null(strstr(s, "0123456789abcdef"));
	free(s);
	json_decref(j);
	srv_config_free(c);
	cg_buf_free(&errors);
}
END_TEST

/* Every key with a bad value: line 10 is the key (line 9 its section). */
static const struct { const char *text; const char *want; } bad_values[] = {
	{ "[server]\nlisten = 127.0.0.1\n", "listen" },
	{ "[server]\nlisten = 127.0.0.1:0\n", "listen" },
	{ "[server]\nworkers = many\n", "workers" },
	{ "[server]\nworkers = 0\n", "workers" },
	{ "[server]\nmax_connections = -5\n", "max_connections" },
	{ "[server]\nhandshake_timeout = soon\n", "handshake_timeout" },
	{ "[server]\nhandshake_timeout = 0s\n", "handshake_timeout" },
	{ "[server]\nidle_timeout = 10 s\n", "idle_timeout" },
	{ "[server]\nshutdown_grace = -1s\n", "shutdown_grace" },
	{ "[server]\nbackend = nowhere\n", "backend" },
	{ "[server]\nbackend_proxy_protocol = v1\n", "backend_proxy_protocol" },
	{ "[server]\nbackend_send_cert = maybe\n", "backend_send_cert" },
	{ "[server]\ntickets = sometimes\n", "tickets" },
	{ "[server]\nuser = no-such-user-here\n", "no such user" },
	{ "[server]\ncolour = blue\n", "colour" },
	{ "[server]\ncert = server.pem\n", "given twice" },
	{ "[pki]\nrequire_eku = sometimes\n", "require_eku" },
	{ "[pki]\nmax_chain_depth = 0\n", "max_chain_depth" },
	{ "[pki]\nmax_chain_depth = 99\n", "max_chain_depth" },
	{ "[pki]\ncrl = missing-crl.pem\n", "missing-crl.pem" },
	{ "[pki]\nca = missing-ca.pem\n", "missing-ca.pem" },
	{ "[pki]\nflavour = x\n", "flavour" },
	{ "[cache]\nttl = forever\n", "ttl" },
	{ "[cache]\nnegative_ttl = x\n", "negative_ttl" },
	{ "[cache]\nstale_ttl = x\n", "stale_ttl" },
	{ "[cache]\nmax_entries = lots\n", "max_entries" },
	{ "[cache]\nsync = perhaps\n", "sync" },
	{ "[cache]\nsize = 1\n", "size" },
	{ "[events]\nbuffer = 0\n", "buffer" },
	{ "[events]\nfsync = sometimes\n", "fsync" },
	{ "[events]\naudit_log = /nonexistent-dir/audit.jsonl\n", "audit_log" },
	{ "[events]\nformat = xml\n", "format" },
	{ "[admin]\nlisten = localhost\n", "listen" },
	{ "[admin]\ntoken_file = missing-token\n", "missing-token" },
	{ "[admin]\ntoken_file = short-token\n", "at least 16" },
	{ "[admin]\nport = 1\n", "port" },
	{ "[admin]\nlisten = 0.0.0.0:9090\n", "token_file is required" },
	{ "[bogus]\nkey = value\n", "unknown section [bogus]" },
	{ "[map:]\nbase = x\n", "unknown section" },
	{ "[directory]\nuri = ldap://127.0.0.1\nbind_password_file = pw\n", "[map:" },
	{ "[map:people]\nbase = ou=people\nfilter = (uid={subject.uid})\n", "[directory]" },
	{ "[server]\nthis line has no equals sign\n", "syntax" },
};

START_TEST(bad_value)
{
	/* the section header is line 9, the key line 10 (unknown sections: line 9) */
	const char *text = bad_values[_i].text;
	unsigned line = strncmp(text, "[bogus]", 7) == 0 || strncmp(text, "[map:]", 6) == 0 ? 9 : 10;
	if (strncmp(text, "[directory]", 11) == 0 || strncmp(text, "[map:people]", 12) == 0)
		line = strncmp(text, "[map:people]", 12) == 0 ? 9 : 11;
	expect_error(text, line, bad_values[_i].want);
}
END_TEST

START_TEST(missing_required)
{
	struct cg_buf errors;
	struct srv_config *c;
	write_file(conf, "[server]\nlisten = 127.0.0.1:8443\n");
	cg_buf_init(&errors, 64 * 1024);
	ck_assert_int_eq(srv_config_load(conf, &c, &errors), CG_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(errors.data, "[server] cert: required"));
	ck_assert_ptr_nonnull(strstr(errors.data, "[server] key: required"));
	ck_assert_ptr_nonnull(strstr(errors.data, "[pki] ca: required"));
	cg_buf_free(&errors);
}
END_TEST

START_TEST(missing_key_file_names_its_line)
{
	struct cg_buf errors;
	struct srv_config *c;
	write_file(conf, "[server]\nlisten = 127.0.0.1:8443\ncert = server.pem\nkey = gone.key\n[pki]\nca = ca.pem\n");
	cg_buf_init(&errors, 64 * 1024);
	ck_assert_int_eq(srv_config_load(conf, &c, &errors), CG_ERR_CONFIG);
	char want[1200];
	snprintf(want, sizeof(want), "%s:4: [server] key: %s/gone.key", conf, dir);
	ck_assert_msg(strstr(errors.data, want) != NULL, "want '%s' in %s", want, errors.data);
	cg_buf_free(&errors);
}
END_TEST

START_TEST(overlong_line)
{
	char extra[SRV_MAX_LINE + 64];
	int n = snprintf(extra, sizeof(extra), "[server]\npriority = ");
	memset(extra + n, 'A', SRV_MAX_LINE + 10);
	extra[n + SRV_MAX_LINE + 10] = '\0';
	strcat(extra, "\n");
	expect_error(extra, 10, "longer than");
}
END_TEST

START_TEST(unreadable_file)
{
	struct cg_buf errors;
	struct srv_config *c;
	cg_buf_init(&errors, 4096);
	ck_assert_int_eq(srv_config_load("/nonexistent/certgate.conf", &c, &errors), CG_ERR_IO);
	ck_assert_ptr_nonnull(strstr(errors.data, "/nonexistent/certgate.conf"));
	cg_buf_free(&errors);
}
END_TEST

int main(void)
{
	cg_log_init(CG_LOG_ERROR, false);
	Suite *s = suite_create("srv_config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_file_every_key);
	tcase_add_loop_test(tc, bad_value, 0, (int)(sizeof(bad_values) / sizeof(bad_values[0])));
	tcase_add_test(tc, missing_required);
	tcase_add_test(tc, missing_key_file_names_its_line);
	tcase_add_test(tc, overlong_line);
	tcase_add_test(tc, unreadable_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
