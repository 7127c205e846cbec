/* Unit tests for pki/pki_tool.c: `certgate pki init|issue|revoke|ldif` run
 * in-process in a temporary directory, its output checked with pki_facts,
 * pki_trust, pki_verify and pki_creds. */
#include <check.h>
#include <fcntl.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cg_buf.h"
#include "pki/pki_creds.h"
#include "pki/pki_facts.h"
#include "pki/pki_tool.h"
#include "pki/pki_trust.h"
#include "pki/pki_verify.h"
#include "tests/unit/pki_testcerts.h"

static char *tmp, dir[512];
static const struct pki_policy client_policy = { GNUTLS_KP_TLS_WWW_CLIENT, 4 };

#define RUN(...) run((const char *[]){ "pki", __VA_ARGS__, NULL })

static int run(const char **args)
{
	int argc = 0;
	while (args[argc] != NULL)
		argc++;
	return pki_tool_main(argc, (char **)args);
}

static char *file_in(const char *name)
{
	static char p[4][700];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* Every certificate of a PEM file as DER datums (gnutls_free each data). */
static unsigned chain_of(const char *path, gnutls_datum_t *out, unsigned max)
{
	gnutls_datum_t text = { NULL, 0 };
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	ck_assert_int_eq(gnutls_load_file(path, &text), 0);
	ck_assert_int_eq(gnutls_x509_crt_list_import2(&crts, &n, &text, GNUTLS_X509_FMT_PEM, 0), 0);
	ck_assert_uint_le(n, max);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(gnutls_x509_crt_export2(crts[i], GNUTLS_X509_FMT_DER, &out[i]), 0);
		gnutls_x509_crt_deinit(crts[i]);
	}
	gnutls_free(crts);
	gnutls_free(text.data);
	return n;
}

static void chain_free(gnutls_datum_t *d, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gnutls_free(d[i].data);
}

static struct pki_facts *facts_file(const char *path)
{
	gnutls_datum_t d[4];
	unsigned n = chain_of(path, d, 4);
	struct pki_facts *f = NULL;
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(pki_facts_from_der(&d[0], &f), CG_OK);
	chain_free(d, n);
	return f;
}

static struct pki_trust *trust_dir(void)
{
	struct pki_trust *t = NULL;
	char err[512];
	const char *ca[] = { file_in("ca.pem") }, *crl[] = { file_in("crl.pem") };
	ck_assert_msg(pki_trust_load(ca, 1, crl, 1, &t, err, sizeof(err)) == CG_OK, "%s", err);
	return t;
}

static enum cg_reason verify_file(const struct pki_trust *t, const char *name, struct pki_verdict *v)
{
	gnutls_datum_t d[8];
	unsigned n = chain_of(file_in(name), d, 8);
	pki_verify_chain(t, d, n, &client_policy, 0, v);
	chain_free(d, n);
	return v->reason;
}

static void setup(void)
{
	tmp = tc_tempdir();
	snprintf(dir, sizeof(dir), "%s/pki", tmp);
	umask(0); /* the tool must set key modes itself */
	ck_assert_int_eq(RUN("init", dir), 0);
}

static void teardown(void)
{
	tc_rmdir(tmp);
	free(tmp);
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "%s", path);
	return st.st_mode & 07777;
}

START_TEST(init_layout)
{
	const char *files[] = { "root.pem", "root.key", "issuing.pem", "issuing.key", "ca.pem",
				"server.pem", "server.key", "crl.pem", "state" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		ck_assert_msg(access(file_in(files[i]), R_OK) == 0, "%s missing", files[i]);
	ck_assert_uint_eq(mode_of(file_in("root.key")), 0600);
	ck_assert_uint_eq(mode_of(file_in("issuing.key")), 0600);
	ck_assert_uint_eq(mode_of(file_in("server.key")), 0600);
	ck_assert_uint_eq(mode_of(file_in("ca.pem")), 0644);

	/* ca.pem: the issuing CA, then the root */
	gnutls_datum_t d[4];
	unsigned n = chain_of(file_in("ca.pem"), d, 4);
	ck_assert_uint_eq(n, 2);
	struct pki_facts *a = NULL, *b = NULL;
	ck_assert_int_eq(pki_facts_from_der(&d[0], &a), CG_OK);
	ck_assert_int_eq(pki_facts_from_der(&d[1], &b), CG_OK);
	ck_assert_str_eq(a->subject_dn, "CN=certgate demo issuing CA,O=certgate demo");
	ck_assert_str_eq(a->issuer_dn, "CN=certgate demo root CA,O=certgate demo");
	ck_assert_str_eq(b->subject_dn, b->issuer_dn);
	ck_assert(b->not_after - b->not_before > 9 * 365 * 86400L);
	ck_assert_uint_eq(a->key_usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	pki_facts_free(a);
	pki_facts_free(b);
	chain_free(d, n);

	/* server.pem: leaf for localhost then the issuing CA; loads as credentials */
	n = chain_of(file_in("server.pem"), d, 4);
	ck_assert_uint_eq(n, 2);
	chain_free(d, n);
	struct pki_facts *s = facts_file(file_in("server.pem"));
	ck_assert_str_eq(s->subject_dn, "CN=localhost");
	ck_assert_uint_eq(s->san_dns.n, 1);
	ck_assert_str_eq(s->san_dns.v[0], "localhost");
	ck_assert_uint_eq(s->eku.n, 1);
	ck_assert_str_eq(s->eku.v[0], GNUTLS_KP_TLS_WWW_SERVER);
	ck_assert_str_eq(s->key_alg, "ECDSA-P256");
	pki_facts_free(s);
	gnutls_certificate_credentials_t cred = NULL;
	char err[512];
	ck_assert_int_eq(pki_creds_load(file_in("server.pem"), file_in("server.key"), &cred, err, sizeof(err)), CG_OK);
	gnutls_certificate_free_credentials(cred);
	ck_assert_int_ne(pki_creds_load(file_in("server.pem"), file_in("root.key"), &cred, err, sizeof(err)), CG_OK);
	ck_assert_ptr_null(cred);
	ck_assert_msg(strstr(err, "root.key") != NULL, "%s", err);
	ck_assert_int_ne(pki_creds_load(file_in("nope.pem"), file_in("server.key"), &cred, err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, "nope.pem") != NULL, "%s", err);

	/* the trust bundle and the empty CRL load together */
	struct pki_trust *t = trust_dir();
	ck_assert_uint_eq(pki_trust_anchor_count(t), 2);
	ck_assert_uint_eq(pki_trust_crl_count(t), 1);
	ck_assert(pki_trust_crl_next_update(t) > time(NULL) + 29 * 86400L);
	pki_trust_free(t);

	/* a second init refuses to replace the PKI */
	ck_assert_int_eq(RUN("init", dir), 1);
}
END_TEST

START_TEST(issue_revoke)
{
	ck_assert_int_eq(RUN("issue", dir, "alice", "--uid", "alice", "--email", "alice@example.org"), 0);
	ck_assert_uint_eq(mode_of(file_in("alice.key")), 0600);
	struct pki_facts *f = facts_file(file_in("alice.pem"));
	ck_assert_str_eq(f->subject_dn, "CN=alice,UID=alice,EMAIL=alice@example.org");
	ck_assert_str_eq(f->cn, "alice");
	ck_assert_str_eq(f->uid, "alice");
	ck_assert_str_eq(f->email, "alice@example.org");
	ck_assert_uint_eq(f->san_email.n, 1);
	ck_assert_str_eq(f->san_email.v[0], "alice@example.org");
	ck_assert_str_eq(f->issuer_dn, "CN=certgate demo issuing CA,O=certgate demo");
	ck_assert_uint_eq(f->eku.n, 1);
	ck_assert_str_eq(f->eku.v[0], GNUTLS_KP_TLS_WWW_CLIENT);
	ck_assert_uint_eq(f->key_usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
	ck_assert_uint_eq(f->serial_len, 16);
	ck_assert_uint_lt(f->serial[0], 0x80);
	ck_assert_str_eq(f->key_alg, "ECDSA-P256");
	ck_assert(f->not_before <= time(NULL) - 3500 && f->not_before >= time(NULL) - 3700);
	ck_assert(f->not_after >= time(NULL) + 364 * 86400L && f->not_after <= time(NULL) + 365 * 86400L);
	pki_facts_free(f);

	ck_assert_int_eq(RUN("issue", dir, "bob", "--key", "rsa", "--days", "10"), 0);
	f = facts_file(file_in("bob.pem"));
	ck_assert_str_eq(f->key_alg, "RSA-3072");
	ck_assert_str_eq(f->subject_dn, "CN=bob");
	ck_assert(f->not_after <= time(NULL) + 10 * 86400L);
	pki_facts_free(f);
	ck_assert_uint_eq(mode_of(file_in("bob.key")), 0600);
	gnutls_certificate_credentials_t cred = NULL;
	char err[256];
	ck_assert_int_eq(pki_creds_load(file_in("bob.pem"), file_in("bob.key"), &cred, err, sizeof(err)), CG_OK);
	gnutls_certificate_free_credentials(cred);

	struct pki_verdict v;
	struct pki_trust *t = trust_dir();
	ck_assert_int_eq(verify_file(t, "alice.pem", &v), CG_REASON_OK);
	gnutls_datum_t d[2];
	unsigned n = chain_of(file_in("issuing.pem"), d, 2);
	struct pki_facts *ca = NULL;
	ck_assert_int_eq(pki_facts_from_der(&d[0], &ca), CG_OK);
	ck_assert_str_eq(v.anchor_sha256, ca->sha256_hex);
	pki_facts_free(ca);
	chain_free(d, n);
	ck_assert_int_eq(verify_file(t, "bob.pem", &v), CG_REASON_OK);
	pki_trust_free(t);

	ck_assert_int_eq(RUN("revoke", dir, "alice"), 0);
	t = trust_dir();
	ck_assert_int_eq(verify_file(t, "alice.pem", &v), CG_REASON_CERT_REVOKED);
	ck_assert_int_eq(verify_file(t, "bob.pem", &v), CG_REASON_OK);
	pki_trust_free(t);
	/* revoking twice keeps one entry; a second name adds one */
	ck_assert_int_eq(RUN("revoke", dir, "alice"), 0);
	ck_assert_int_eq(RUN("revoke", dir, "bob"), 0);
	t = trust_dir();
	ck_assert_int_eq(verify_file(t, "bob.pem", &v), CG_REASON_CERT_REVOKED);
	ck_assert_int_eq(verify_file(t, "alice.pem", &v), CG_REASON_CERT_REVOKED);
	pki_trust_free(t);
	gnutls_datum_t crl_text = { NULL, 0 };
	gnutls_x509_crl_t crl;
	ck_assert_int_eq(gnutls_load_file(file_in("crl.pem"), &crl_text), 0);
	ck_assert_int_eq(gnutls_x509_crl_init(&crl), 0);
	ck_assert_int_eq(gnutls_x509_crl_import(crl, &crl_text, GNUTLS_X509_FMT_PEM), 0);
	ck_assert_int_eq(gnutls_x509_crl_get_crt_count(crl), 2);
	gnutls_x509_crl_deinit(crl);
	gnutls_free(crl_text.data);

	ck_assert_int_eq(RUN("revoke", dir, "nobody"), 1);
}
END_TEST

START_TEST(test_options)
{
	struct pki_verdict v;
	ck_assert_int_eq(RUN("issue", dir, "old", "--not-before", "-10d", "--not-after", "-1d"), 0);
	ck_assert_int_eq(RUN("issue", dir, "early", "--not-before", "+1h", "--not-after", "+30d"), 0);
	ck_assert_int_eq(RUN("issue", dir, "web", "--eku", "serverAuth"), 0);
	ck_assert_int_eq(RUN("issue", dir, "sub", "--ca"), 0);
	ck_assert_int_eq(RUN("issue", dir, "sub2", "--ca", "--issuer", "sub"), 0);
	ck_assert_int_eq(RUN("issue", dir, "deep", "--issuer", "sub2", "--san-dns", "deep.example",
			     "--san-uri", "urn:x:deep", "--upn", "deep@corp.example"), 0);
	ck_assert_int_eq(RUN("issue", dir, "nul", "--cn-hex", "61005c62"), 0);
	ck_assert_int_eq(RUN("issue", dir, "subj", "--subject", "CN=Carol\\, Jr.,OU=people,O=Acme"), 0);

	struct pki_trust *t = trust_dir();
	ck_assert_int_eq(verify_file(t, "old.pem", &v), CG_REASON_CERT_EXPIRED);
	ck_assert_int_eq(verify_file(t, "early.pem", &v), CG_REASON_CERT_NOT_YET_VALID);
	ck_assert_int_eq(verify_file(t, "web.pem", &v), CG_REASON_EKU_MISMATCH);
	gnutls_datum_t d[8];
	unsigned n = chain_of(file_in("deep.pem"), d, 8);
	ck_assert_uint_eq(n, 3);
	pki_verify_chain(t, d, n, &client_policy, 0, &v);
	ck_assert_msg(v.reason == CG_REASON_OK, "%s", v.detail);
	const struct pki_policy shallow = { GNUTLS_KP_TLS_WWW_CLIENT, 2 };
	pki_verify_chain(t, d, n, &shallow, 0, &v);
	ck_assert_int_eq(v.reason, CG_REASON_UNTRUSTED_ISSUER);
	chain_free(d, n);
	pki_trust_free(t);

	struct pki_facts *f = facts_file(file_in("deep.pem"));
	ck_assert_str_eq(f->san_dns.v[0], "deep.example");
	ck_assert_str_eq(f->san_uri.v[0], "urn:x:deep");
	ck_assert_str_eq(f->san_upn.v[0], "deep@corp.example");
	ck_assert_str_eq(f->issuer_dn, "CN=sub2");
	pki_facts_free(f);
	f = facts_file(file_in("sub.pem"));
	ck_assert_uint_eq(f->key_usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
	ck_assert_uint_eq(f->eku.n, 0);
	pki_facts_free(f);
	f = facts_file(file_in("nul.pem"));
	ck_assert_ptr_null(f->cn);
	ck_assert_str_eq(f->subject_dn, "CN=#0c0461005c62");
	pki_facts_free(f);
	f = facts_file(file_in("subj.pem"));
	ck_assert_str_eq(f->subject_dn, "CN=Carol\\, Jr.,OU=people,O=Acme");
	ck_assert_str_eq(f->subject_dn_x500, "O=Acme,OU=people,CN=Carol\\, Jr.");
	ck_assert_str_eq(f->cn, "Carol, Jr.");
	pki_facts_free(f);
	/* revoke refuses a certificate the issuing CA did not sign */
	ck_assert_int_eq(RUN("revoke", dir, "deep"), 1);
}
END_TEST

START_TEST(ldif)
{
	ck_assert_int_eq(RUN("issue", dir, "alice"), 0);
	char *out = file_in("ldif.out");
	fflush(stdout);
	int saved = dup(1), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, 1), 0);
	int rc = RUN("ldif", dir, "alice", "--dn", "uid=alice,ou=people,dc=example,dc=org");
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);
	ck_assert_int_eq(rc, 0);

	char *text = NULL;
	size_t len = 0;
	ck_assert_int_eq(cg_read_file(out, 1 << 20, &text, &len), CG_OK);
	gnutls_datum_t d[2];
	unsigned n = chain_of(file_in("alice.pem"), d, 2);
	char *b64 = malloc(BASE64_ENCODE_RAW_LENGTH(d[0].size) + 1);
	base64_encode_raw(b64, d[0].size, d[0].data);
	b64[BASE64_ENCODE_RAW_LENGTH(d[0].size)] = '\0';
	char *want = NULL;
	ck_assert_int_ge(asprintf(&want, "dn: uid=alice,ou=people,dc=example,dc=org\nchangetype: modify\n"
				  "add: userCertificate;binary\nuserCertificate;binary:: %s\n-\n", b64), 0);
	ck_assert_str_eq(text, want);
	free(want);
	free(b64);
	free(text);
	chain_free(d, n);
}
END_TEST

START_TEST(usage_and_errors)
{
	const char *a0[] = { "pki", NULL };
	ck_assert_int_eq(run(a0), 2);
	ck_assert_int_eq(RUN("frobnicate", dir), 2);
	ck_assert_int_eq(RUN("issue", dir), 2);
	ck_assert_int_eq(RUN("issue", dir, "root"), 2);
	ck_assert_int_eq(RUN("issue", dir, "../escape"), 2);
	ck_assert_int_eq(RUN("issue", dir, "x", "--days", "abc"), 2);
	ck_assert_int_eq(RUN("issue", dir, "x", "--key", "dsa"), 2);
	ck_assert_int_eq(RUN("issue", dir, "x", "--not-after", "tomorrow"), 2);
	ck_assert_int_eq(RUN("issue", dir, "x", "--bogus"), 2);
	ck_assert_int_eq(RUN("issue", dir, "x", "--uid"), 2);
	ck_assert_int_eq(RUN("ldif", dir, "x"), 2);
	ck_assert_int_eq(RUN("issue", file_in("nowhere"), "x"), 1);
	ck_assert_int_eq(RUN("issue", dir, "x", "--issuer", "missing"), 1);
	ck_assert_int_eq(RUN("issue", dir, "x", "--subject", "CN=a+OU=b"), 1);
	ck_assert_int_eq(RUN("ldif", dir, "missing", "--dn", "uid=x"), 1);
	ck_assert_int_eq(access(file_in("x.pem"), F_OK), -1);
	ck_assert_int_eq(access(file_in("x.key"), F_OK), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pki_tool");
	TCase *tc = tcase_create("tool");
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_layout);
	tcase_add_test(tc, issue_revoke);
	tcase_add_test(tc, test_options);
	tcase_add_test(tc, ldif);
	tcase_add_test(tc, usage_and_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
