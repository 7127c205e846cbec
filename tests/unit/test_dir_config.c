/* Unit tests for ldap/dir_config.c: every key of [directory] and [map:NAME],
 * defaults, every error path of dir_config_set and dir_config_finish, the
 * password file and the rule order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "ldap/dir_config.h"

static char tmpdir[256];
static char err[512];

static void write_file(const char *name, const char *content, mode_t mode)
{
	char path[512];
	FILE *fp;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(content, fp);
	fclose(fp);
	chmod(path, mode);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_dir_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	write_file("pw", "s3cret\n", 0600);
	write_file("pw_crlf", "s3cret\r\n", 0600);
	write_file("pw_empty", "\n", 0600);
	write_file("pw_two", "a\nb\n", 0600);
	write_file("pw_world", "s3cret", 0644);
	write_file("ca.pem", "not parsed here\n", 0644);
	char big[2048];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file("pw_big", big, 0600);
	err[0] = '\0';
}

static void teardown(void)
{
	const char *names[] = { "pw", "pw_crlf", "pw_empty", "pw_two", "pw_world", "ca.pem", "pw_big" };
	char path[512];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

static enum cg_err set(struct dir_config *c, const char *section, const char *key, const char *value)
{
	static unsigned line = 1;
	err[0] = '\0';
	return dir_config_set(c, section, key, value, ++line, err, sizeof(err));
}

/* A minimal valid configuration: uri, bind, one filter rule. */
static void minimal_pw(struct dir_config *c, const char *pwfile)
{
	ck_assert_int_eq(dir_config_init(c, tmpdir), CG_OK);
	ck_assert_int_eq(set(c, "directory", "uri", "ldap://127.0.0.1:389"), CG_OK);
	ck_assert_int_eq(set(c, "directory", "bind_dn", "cn=certgate,ou=services,dc=example,dc=org"), CG_OK);
	ck_assert_int_eq(set(c, "directory", "bind_password_file", pwfile), CG_OK);
	ck_assert_int_eq(set(c, "map:people", "base", "ou=people,dc=example,dc=org"), CG_OK);
	ck_assert_int_eq(set(c, "map:people", "filter", "(uid={subject.uid})"), CG_OK);
}

static void minimal(struct dir_config *c)
{
	minimal_pw(c, "pw");
}

/* dir_config_set must fail with CG_ERR_ARG and an error naming the key. */
static void expect_bad(const char *section, const char *key, const char *value, const char *needle)
{
	struct dir_config c;
	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_msg(set(&c, section, key, value) == CG_ERR_ARG, "[%s] %s = %s accepted", section, key, value);
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
	dir_config_free(&c);
}

/* dir_config_finish must fail and say needle. */
static void expect_finish_fails(struct dir_config *c, const char *needle)
{
	err[0] = '\0';
	ck_assert_int_ne(dir_config_finish(c, "t.conf", err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
	ck_assert_msg(strncmp(err, "t.conf:", 7) == 0, "error '%s' lacks FILE:LINE", err);
	dir_config_free(c);
}

START_TEST(defaults)
{
	struct dir_config c;
	ck_assert_int_eq(dir_config_init(&c, "/etc/certgate"), CG_OK);
	ck_assert(!c.present);
	ck_assert_uint_eq(c.timeout_ms, 2000);
	ck_assert_uint_eq(c.pool_size, 4);
	ck_assert_str_eq(c.cert_attribute, "userCertificate");
	ck_assert_int_eq(c.verify, DIR_VERIFY_ALWAYS);
	ck_assert(!c.on_unavailable_stale);
	ck_assert(!c.starttls);
	ck_assert_uint_eq(c.recheck_interval_ms, 300000);
	ck_assert_str_eq(c.basedir, "/etc/certgate");
	/* no [directory], no rules: fine, nothing to check */
	ck_assert_int_eq(dir_config_finish(&c, "t.conf", err, sizeof(err)), CG_OK);
	dir_config_free(&c);
	dir_config_free(&c); /* idempotent */
}
END_TEST

START_TEST(full)
{
	struct dir_config c;
	char path[512];
	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(dir_config_set(&c, "directory", NULL, NULL, 7, err, sizeof(err)), CG_OK);
	ck_assert(c.present);
	ck_assert_int_eq(set(&c, "directory", "uri", "ldap://a:389  ldaps://b:636\tldapi://%2Frun%2Fslapd"), CG_OK);
	ck_assert_uint_eq(c.n_uris, 3);
	ck_assert_str_eq(c.uris[1], "ldaps://b:636");
	ck_assert_int_eq(set(&c, "directory", "tls_ca", "ca.pem"), CG_OK);
	snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
	ck_assert_str_eq(c.tls_ca, path);
	ck_assert_int_eq(set(&c, "directory", "bind_dn", "cn=certgate,ou=services,dc=example,dc=org"), CG_OK);
	snprintf(path, sizeof(path), "%s/pw", tmpdir);
	ck_assert_int_eq(set(&c, "directory", "bind_password_file", path), CG_OK); /* absolute */
	ck_assert_int_eq(set(&c, "directory", "timeout", "250ms"), CG_OK);
	ck_assert_uint_eq(c.timeout_ms, 250);
	ck_assert_int_eq(set(&c, "directory", "pool_size", "8"), CG_OK);
	ck_assert_uint_eq(c.pool_size, 8);
	ck_assert_int_eq(set(&c, "directory", "cert_attribute", "userSMIMECertificate"), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "verify", "ifpresent"), CG_OK);
	ck_assert_int_eq(c.verify, DIR_VERIFY_IFPRESENT);
	ck_assert_int_eq(set(&c, "directory", "deny_filter", "(|(nsAccountLock=TRUE)(pwdAccountLockedTime=*))"),
			 CG_OK);
	ck_assert_int_eq(set(&c, "directory", "require_group", "cn=staff,ou=groups,dc=example,dc=org"), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "on_unavailable", "stale"), CG_OK);
	ck_assert(c.on_unavailable_stale);
	ck_assert_int_eq(set(&c, "directory", "recheck_interval", "0"), CG_OK);
	ck_assert_uint_eq(c.recheck_interval_ms, 0);
	ck_assert_int_eq(set(&c, "directory", "starttls", "off"), CG_OK);

	ck_assert_int_eq(dir_config_set(&c, "map:zeta", "priority", "10", 99, err, sizeof(err)), CG_OK);
	ck_assert_int_eq(set(&c, "map:zeta", "dn", "{subject.dn}"), CG_OK);
	ck_assert_int_eq(set(&c, "map:alpha", "priority", "10"), CG_OK);
	ck_assert_int_eq(set(&c, "map:alpha", "base", "ou=people,dc=example,dc=org"), CG_OK);
	ck_assert_int_eq(set(&c, "map:alpha", "scope", "one"), CG_OK);
	ck_assert_int_eq(set(&c, "map:alpha", "filter", "(&(objectClass=inetOrgPerson)(uid={subject.uid}))"),
			 CG_OK);
	ck_assert_int_eq(set(&c, "map:alpha", "anchor",
			     "SHA256:9C0B000000000000000000000000000000000000000000000000000000000AbC"), CG_OK);
	ck_assert_int_eq(set(&c, "map:first", "priority", "1"), CG_OK);
	ck_assert_int_eq(set(&c, "map:first", "base", "dc=example,dc=org"), CG_OK);
	ck_assert_int_eq(set(&c, "map:first", "scope", "base"), CG_OK);
	ck_assert_int_eq(set(&c, "map:first", "filter", "(mail={subject.email})"), CG_OK);
	ck_assert_int_eq(set(&c, "map:first", "match", "<EKU>clientAuth"), CG_OK);
	ck_assert_ptr_nonnull(c.rules[2].match);

	ck_assert_int_eq(dir_config_finish(&c, "t.conf", err, sizeof(err)), CG_OK);
	ck_assert_str_eq(c.bind_password, "s3cret");
	ck_assert_uint_eq(c.n_rules, 3);
	ck_assert_str_eq(c.rules[0].name, "first");
	ck_assert_int_eq(c.rules[0].scope, DIR_SCOPE_BASE);
	ck_assert_str_eq(c.rules[1].name, "alpha");
	ck_assert_str_eq(c.rules[1].anchor_sha256,
			 "9c0b000000000000000000000000000000000000000000000000000000000abc");
	ck_assert_int_eq(c.rules[1].scope, DIR_SCOPE_ONE);
	ck_assert_str_eq(c.rules[2].name, "zeta");
	ck_assert_ptr_null(c.rules[2].filter);
	ck_assert_str_eq(c.rules[2].dn, "{subject.dn}");
	ck_assert_uint_eq(c.rules[2].line, 99); /* line of its first key */
	dir_config_free(&c);
}
END_TEST

START_TEST(passwords)
{
	const char *ok[] = { "pw_crlf", "pw_world" };
	for (size_t i = 0; i < 2; i++) {
		struct dir_config c;
		minimal_pw(&c, ok[i]);
		ck_assert_int_eq(dir_config_finish(&c, "t.conf", err, sizeof(err)), CG_OK);
		ck_assert_str_eq(c.bind_password, "s3cret");
		dir_config_free(&c);
	}
	const struct { const char *file, *needle; } bad[] = {
		{ "pw_empty", "one non-empty line" },
		{ "pw_two", "one non-empty line" },
		{ "pw_big", "larger than 1024 bytes" },
		{ "missing", "cannot read" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dir_config c;
		minimal_pw(&c, bad[i].file);
		expect_finish_fails(&c, bad[i].needle);
	}
}
END_TEST

START_TEST(unknown)
{
	struct dir_config c;
	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(set(&c, "server", "listen", "x"), CG_ERR_NOTFOUND);
	ck_assert_int_eq(set(&c, NULL, "uri", "x"), CG_ERR_NOTFOUND);
	ck_assert_int_eq(set(&c, "directory", "url", "ldap://x"), CG_ERR_NOTFOUND);
	ck_assert_int_eq(set(&c, "map:people", "filtre", "(uid=x)"), CG_ERR_NOTFOUND);
	dir_config_free(&c);
}
END_TEST

START_TEST(bad_directory_values)
{
	expect_bad("directory", "uri", "http://x", "[directory] uri: 'http://x' is not");
	expect_bad("directory", "uri", "ldap://[::1", "[directory] uri: cannot parse");
	expect_bad("directory", "uri", "   ", "[directory] uri: empty");
	expect_bad("directory", "uri",
		   "ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a "
		   "ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a ldap://a", "more than 16 URIs");
	expect_bad("directory", "starttls", "maybe", "[directory] starttls:");
	expect_bad("directory", "tls_ca", "", "[directory] tls_ca: empty");
	expect_bad("directory", "bind_password_file", "", "[directory] bind_password_file: empty");
	expect_bad("directory", "bind_dn", "not a dn", "[directory] bind_dn:");
	expect_bad("directory", "bind_dn", "", "[directory] bind_dn:");
	expect_bad("directory", "timeout", "soon", "[directory] timeout:");
	expect_bad("directory", "timeout", "5ms", "[directory] timeout:");
	expect_bad("directory", "timeout", "1h", "[directory] timeout:");
	expect_bad("directory", "pool_size", "0", "[directory] pool_size:");
	expect_bad("directory", "pool_size", "257", "[directory] pool_size:");
	expect_bad("directory", "pool_size", "four", "[directory] pool_size:");
	expect_bad("directory", "cert_attribute", "userCertificate;binary", "[directory] cert_attribute:");
	expect_bad("directory", "cert_attribute", "", "[directory] cert_attribute:");
	expect_bad("directory", "cert_attribute", "1cert", "[directory] cert_attribute:");
	expect_bad("directory", "verify", "sometimes", "[directory] verify:");
	expect_bad("directory", "deny_filter", "nsAccountLock=TRUE", "[directory] deny_filter:");
	expect_bad("directory", "deny_filter", "()", "[directory] deny_filter:");
	expect_bad("directory", "deny_filter", "(a=b))(", "[directory] deny_filter:");
	expect_bad("directory", "deny_filter", "(a=b)(c=d)", "[directory] deny_filter:");
	expect_bad("directory", "deny_filter", "((a=b)", "[directory] deny_filter:");
	expect_bad("directory", "require_group", "staff", "[directory] require_group:");
	expect_bad("directory", "on_unavailable", "allow", "[directory] on_unavailable:");
	expect_bad("directory", "recheck_interval", "often", "[directory] recheck_interval:");
}
END_TEST

START_TEST(bad_rule_values)
{
	expect_bad("map:", "base", "dc=x", "the rule name");
	expect_bad("map:a b", "base", "dc=x", "[map:a b] the rule name");
	expect_bad("map:people", "priority", "-1", "[map:people] priority:");
	expect_bad("map:people", "priority", "high", "[map:people] priority:");
	expect_bad("map:people", "priority", "1000001", "[map:people] priority:");
	expect_bad("map:people", "match", "<NOPE>x", "[map:people] match:");
	expect_bad("map:people", "anchor", "9c0b", "[map:people] anchor:");
	expect_bad("map:people", "anchor", "sha1:0000000000000000000000000000000000000000000000000000000000000000",
		   "[map:people] anchor:");
	expect_bad("map:people", "anchor", "sha256:000000000000000000000000000000000000000000000000000000000000000g",
		   "[map:people] anchor:");
	expect_bad("map:people", "anchor", "sha256:00000000000000000000000000000000000000000000000000000000000000000",
		   "[map:people] anchor:");
	expect_bad("map:people", "base", "people", "[map:people] base:");
	expect_bad("map:people", "scope", "subtree", "[map:people] scope:");
	expect_bad("map:people", "filter", "(uid={subject.foo})", "[map:people] filter: ");
	expect_bad("map:people", "filter", "(uid={subject.uid)", "[map:people] filter: ");
	expect_bad("map:people", "filter", "uid={subject.uid}", "[map:people] filter: ");
	expect_bad("map:people", "dn", "uid={nope},dc=x", "[map:people] dn: ");
	expect_bad("map:people", "dn", "", "[map:people] dn: ");
	char longv[5000];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	expect_bad("map:people", "filter", longv, "[map:people] filter: longer than");
}
END_TEST

START_TEST(duplicates)
{
	struct dir_config c;
	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "timeout", "1s"), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "timeout", "2s"), CG_ERR_ARG);
	ck_assert_ptr_nonnull(strstr(err, "[directory] timeout: given twice (first on line"));
	ck_assert_uint_eq(c.timeout_ms, 1000);
	ck_assert_int_eq(set(&c, "map:x", "scope", "sub"), CG_OK);
	ck_assert_int_eq(set(&c, "map:x", "scope", "one"), CG_ERR_ARG);
	ck_assert_ptr_nonnull(strstr(err, "[map:x] scope: given twice"));
	dir_config_free(&c);
}
END_TEST

START_TEST(too_many_rules)
{
	struct dir_config c;
	char section[32];
	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	for (int i = 0; i < 256; i++) {
		snprintf(section, sizeof(section), "map:r%d", i);
		ck_assert_int_eq(set(&c, section, "priority", "1"), CG_OK);
	}
	ck_assert_int_eq(set(&c, "map:one-more", "priority", "1"), CG_ERR_ARG);
	ck_assert_ptr_nonnull(strstr(err, "more than 256 rules"));
	dir_config_free(&c);
}
END_TEST

START_TEST(finish_errors)
{
	struct dir_config c;

	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(dir_config_set(&c, "directory", NULL, NULL, 40, err, sizeof(err)), CG_OK);
	ck_assert_int_eq(set(&c, "map:p", "dn", "{subject.dn}"), CG_OK);
	expect_finish_fails(&c, "t.conf:40: [directory] uri is required");

	minimal(&c);
	ck_assert_int_eq(set(&c, "directory", "starttls", "on"), CG_OK);
	free(c.uris[0]);
	c.uris[0] = strdup("ldaps://127.0.0.1");
	expect_finish_fails(&c, "starttls = on with the ldaps:// URI");

	minimal(&c);
	ck_assert_int_eq(set(&c, "directory", "tls_ca", "nonexistent.pem"), CG_OK);
	expect_finish_fails(&c, "[directory] tls_ca: cannot read");

	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "uri", "ldap://x"), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "bind_dn", "cn=x"), CG_OK);
	ck_assert_int_eq(set(&c, "map:p", "dn", "{subject.dn}"), CG_OK);
	expect_finish_fails(&c, "bind_dn and bind_password_file go together");

	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "uri", "ldap://x"), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "bind_password_file", "pw"), CG_OK);
	ck_assert_int_eq(set(&c, "map:p", "dn", "{subject.dn}"), CG_OK);
	expect_finish_fails(&c, "bind_dn and bind_password_file go together");

	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(set(&c, "directory", "uri", "ldap://x"), CG_OK);
	expect_finish_fails(&c, "needs at least one [map:NAME] rule");

	ck_assert_int_eq(dir_config_init(&c, tmpdir), CG_OK);
	ck_assert_int_eq(dir_config_set(&c, "map:lonely", "dn", "{subject.dn}", 12, err, sizeof(err)), CG_OK);
	expect_finish_fails(&c, "t.conf:12: [map:lonely] mapping rules need a [directory] section");

	minimal(&c);
	ck_assert_int_eq(set(&c, "map:both", "dn", "{subject.dn}"), CG_OK);
	ck_assert_int_eq(set(&c, "map:both", "base", "dc=example,dc=org"), CG_OK);
	ck_assert_int_eq(set(&c, "map:both", "filter", "(uid={subject.uid})"), CG_OK);
	expect_finish_fails(&c, "[map:both] needs exactly one of filter (with base) or dn");

	minimal(&c);
	ck_assert_int_eq(set(&c, "map:neither", "priority", "3"), CG_OK);
	expect_finish_fails(&c, "[map:neither] needs exactly one of filter");

	minimal(&c);
	ck_assert_int_eq(dir_config_set(&c, "map:nobase", NULL, NULL, 31, err, sizeof(err)), CG_OK);
	ck_assert_int_eq(set(&c, "map:nobase", "filter", "(uid={subject.uid})"), CG_OK);
	expect_finish_fails(&c, "t.conf:31: [map:nobase] filter needs a base");

	minimal(&c);
	ck_assert_int_eq(set(&c, "map:dnbase", "dn", "{subject.dn}"), CG_OK);
	ck_assert_int_eq(set(&c, "map:dnbase", "base", "dc=example,dc=org"), CG_OK);
	expect_finish_fails(&c, "[map:dnbase] base and dn exclude each other");

	minimal(&c);
	ck_assert_int_eq(set(&c, "map:dnscope", "dn", "{subject.dn}"), CG_OK);
	ck_assert_int_eq(set(&c, "map:dnscope", "scope", "sub"), CG_OK);
	expect_finish_fails(&c, "[map:dnscope] scope applies only to filter rules");
}
END_TEST

START_TEST(minimal_ok)
{
	struct dir_config c;
	minimal(&c);
	ck_assert_int_eq(dir_config_finish(&c, "t.conf", err, sizeof(err)), CG_OK);
	ck_assert(c.present);
	ck_assert_str_eq(c.bind_password, "s3cret");
	ck_assert_int_eq(c.rules[0].scope, DIR_SCOPE_SUB);
	dir_config_free(&c);
}
END_TEST

static Suite *dir_config_suite(void)
{
	Suite *s = suite_create("dir_config");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full);
	tcase_add_test(tc, passwords);
	tcase_add_test(tc, unknown);
	tcase_add_test(tc, bad_directory_values);
	tcase_add_test(tc, bad_rule_values);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, too_many_rules);
	tcase_add_test(tc, finish_errors);
	tcase_add_test(tc, minimal_ok);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dir_config_suite());
	int failed;
	cg_log_init(CG_LOG_ERROR, false);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
