/* Unit tests for pki/pki_trust.c and pki/pki_verify.c with real chains made
 * in the test: every chain reason code, CRL loading rules, depth, EKU and
 * key usage policy, and the anchor reported for a good chain. */
#include <check.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cg_buf.h"
#include "pki/pki_trust.h"
#include "pki/pki_verify.h"
#include "tests/unit/pki_testcerts.h"

static char *dir;
static struct tc_cert root, issuing;
static char ca_pem[512], root_pem[512];
static const struct pki_policy client_policy = { GNUTLS_KP_TLS_WWW_CLIENT, 4 };

static void setup(void)
{
	dir = tc_tempdir();
	struct tc_spec sr = { .dn = "CN=Test Root CA,O=Example", .ca = true, .na_offset = 86400 * 3650,
			      .nb_offset = -86400 };
	tc_make(&sr, &root);
	struct tc_spec si = { .dn = "CN=Test Issuing CA,O=Example", .ca = true, .issuer = &root,
			      .na_offset = 86400 * 1000, .nb_offset = -86400 };
	tc_make(&si, &issuing);
	snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
	snprintf(root_pem, sizeof(root_pem), "%s/root.pem", dir);
	const struct tc_cert *bundle[] = { &issuing, &root };
	tc_write_pem(ca_pem, bundle, 2);
	tc_write_pem(root_pem, bundle + 1, 1);
}

static void teardown(void)
{
	tc_free(&issuing);
	tc_free(&root);
	tc_rmdir(dir);
	free(dir);
}

static struct pki_trust *trust_of(const char *ca, const char *crl)
{
	struct pki_trust *t = NULL;
	char err[512];
	const char *cas[] = { ca }, *crls[] = { crl };
	enum cg_err r = pki_trust_load(cas, 1, crls, crl != NULL ? 1 : 0, &t, err, sizeof(err));
	ck_assert_msg(r == CG_OK, "trust load: %s", err);
	return t;
}

static void leaf_of(struct tc_cert *out, const struct tc_cert *issuer, long nb, long na)
{
	struct tc_spec s = { .dn = "CN=alice,O=Example", .issuer = issuer, .nb_offset = nb, .na_offset = na,
			     .eku = { GNUTLS_KP_TLS_WWW_CLIENT, NULL } };
	tc_make(&s, out);
}

static void sha256_hex(const gnutls_datum_t *d, char out[65])
{
	uint8_t h[32];
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, d->size, d->data);
	sha256_digest(&c, 32, h);
	cg_hex_encode(h, 32, out);
}

static enum cg_reason verify(const struct pki_trust *t, const struct tc_cert *const *chain, unsigned n,
			     const struct pki_policy *p, struct pki_verdict *v)
{
	gnutls_datum_t d[8];
	for (unsigned i = 0; i < n; i++)
		d[i] = chain[i]->der;
	pki_verify_chain(t, d, n, p, 0, v);
	return v->reason;
}

START_TEST(good_chain_and_anchor)
{
	struct tc_cert leaf;
	struct pki_verdict v;
	char want[65];
	leaf_of(&leaf, &issuing, 0, 0);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	ck_assert_uint_eq(pki_trust_anchor_count(t), 2);
	ck_assert_uint_eq(pki_trust_crl_count(t), 0);
	ck_assert_int_eq(pki_trust_crl_next_update(t), 0);

	const struct tc_cert *c1[] = { &leaf };
	ck_assert_int_eq(verify(t, c1, 1, &client_policy, &v), CG_REASON_OK);
	ck_assert_str_eq(v.detail, "");
	sha256_hex(&issuing.der, want);
	ck_assert_str_eq(v.anchor_sha256, want);
	/* the issuing CA presented too: it is an anchor, so it ends the chain */
	const struct tc_cert *c2[] = { &leaf, &issuing };
	ck_assert_int_eq(verify(t, c2, 2, &client_policy, &v), CG_REASON_OK);
	ck_assert_str_eq(v.anchor_sha256, want);
	pki_trust_free(t);

	/* only the root trusted: the presented issuing CA leads to it */
	t = trust_of(root_pem, NULL);
	ck_assert_uint_eq(pki_trust_anchor_count(t), 1);
	ck_assert_int_eq(verify(t, c2, 2, &client_policy, &v), CG_REASON_OK);
	sha256_hex(&root.der, want);
	ck_assert_str_eq(v.anchor_sha256, want);
	/* without the intermediate the root alone cannot vouch for the leaf */
	ck_assert_int_eq(verify(t, c1, 1, &client_policy, &v), CG_REASON_UNTRUSTED_ISSUER);
	ck_assert_str_eq(v.anchor_sha256, "");
	pki_trust_free(t);
	tc_free(&leaf);
}
END_TEST

START_TEST(unknown_ca)
{
	struct tc_cert other, leaf;
	struct pki_verdict v;
	struct tc_spec so = { .dn = "CN=Test Issuing CA,O=Example", .ca = true }; /* same name, other key */
	tc_make(&so, &other);
	leaf_of(&leaf, &other, 0, 0);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	const struct tc_cert *c[] = { &leaf, &other };
	ck_assert_int_eq(verify(t, c, 1, &client_policy, &v), CG_REASON_UNTRUSTED_ISSUER);
	ck_assert_str_ne(v.detail, "");
	ck_assert_int_eq(verify(t, c, 2, &client_policy, &v), CG_REASON_UNTRUSTED_ISSUER);
	/* the anchor itself presented as a client certificate is not trusted as-is */
	const struct tc_cert *ca_only[] = { &issuing };
	ck_assert_int_ne(verify(t, ca_only, 1, &client_policy, &v), CG_REASON_OK);
	pki_trust_free(t);
	tc_free(&leaf);
	tc_free(&other);
}
END_TEST

START_TEST(validity)
{
	struct tc_cert expired, future, good;
	struct pki_verdict v;
	leaf_of(&expired, &issuing, -10 * 86400, -86400);
	leaf_of(&future, &issuing, 86400, 10 * 86400);
	leaf_of(&good, &issuing, 0, 0);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	const struct tc_cert *c1[] = { &expired }, *c2[] = { &future }, *c3[] = { &good };
	ck_assert_int_eq(verify(t, c1, 1, &client_policy, &v), CG_REASON_CERT_EXPIRED);
	ck_assert_msg(strstr(v.detail, "expired") != NULL, "%s", v.detail);
	ck_assert_int_eq(verify(t, c2, 1, &client_policy, &v), CG_REASON_CERT_NOT_YET_VALID);
	ck_assert_msg(strstr(v.detail, "not valid before") != NULL, "%s", v.detail);
	/* a caller-supplied clock */
	pki_verify_chain(t, &good.der, 1, &client_policy, time(NULL) + 40 * 86400, &v);
	ck_assert_int_eq(v.reason, CG_REASON_CERT_EXPIRED);
	pki_verify_chain(t, &good.der, 1, &client_policy, time(NULL) - 2 * 86400, &v);
	ck_assert_int_eq(v.reason, CG_REASON_CERT_NOT_YET_VALID);
	pki_verify_chain(t, &good.der, 1, &client_policy, time(NULL) + 86400, &v);
	ck_assert_int_eq(v.reason, CG_REASON_OK);
	pki_verify_chain(t, &expired.der, 1, &client_policy, time(NULL) - 5 * 86400, &v);
	ck_assert_int_eq(v.reason, CG_REASON_OK);
	ck_assert_int_eq(verify(t, c3, 1, &client_policy, &v), CG_REASON_OK);
	pki_trust_free(t);
	tc_free(&expired);
	tc_free(&future);
	tc_free(&good);
}
END_TEST

START_TEST(revoked_by_crl)
{
	struct tc_cert bad, good, old;
	struct pki_verdict v;
	char crl_path[600];
	leaf_of(&bad, &issuing, 0, 0);
	leaf_of(&good, &issuing, 0, 0);
	leaf_of(&old, &issuing, -10 * 86400, -86400);
	const struct tc_cert *rev[] = { &bad, &old };
	char *crl = tc_crl_pem(&issuing, rev, 2, 7 * 86400);
	snprintf(crl_path, sizeof(crl_path), "%s/crl.pem", dir);
	tc_write_text(crl_path, crl);
	free(crl);

	/* without the CRL the certificate passes */
	struct pki_trust *t = trust_of(ca_pem, NULL);
	const struct tc_cert *c1[] = { &bad }, *c2[] = { &good }, *c3[] = { &old };
	ck_assert_int_eq(verify(t, c1, 1, &client_policy, &v), CG_REASON_OK);
	pki_trust_free(t);

	t = trust_of(ca_pem, crl_path);
	ck_assert_uint_eq(pki_trust_crl_count(t), 1);
	time_t nu = pki_trust_crl_next_update(t);
	ck_assert(nu > time(NULL) + 6 * 86400 && nu <= time(NULL) + 7 * 86400);
	ck_assert_int_eq(verify(t, c1, 1, &client_policy, &v), CG_REASON_CERT_REVOKED);
	ck_assert_msg(strstr(v.detail, "revoked") != NULL, "%s", v.detail);
	ck_assert_int_eq(verify(t, c2, 1, &client_policy, &v), CG_REASON_OK);
	/* revoked and expired: revocation is the stronger statement */
	ck_assert_int_eq(verify(t, c3, 1, &client_policy, &v), CG_REASON_CERT_REVOKED);
	pki_trust_free(t);
	tc_free(&bad);
	tc_free(&good);
	tc_free(&old);
}
END_TEST

START_TEST(crl_issuer_not_anchor)
{
	struct tc_cert leaf;
	struct pki_trust *t = NULL;
	char err[512], crl_path[600];
	leaf_of(&leaf, &issuing, 0, 0);
	const struct tc_cert *rev[] = { &leaf };
	char *crl = tc_crl_pem(&issuing, rev, 1, 7 * 86400);
	snprintf(crl_path, sizeof(crl_path), "%s/crl.pem", dir);
	tc_write_text(crl_path, crl);
	free(crl);
	/* only the root is an anchor: GnuTLS would drop the issuing CA's CRL */
	const char *cas[] = { root_pem }, *crls[] = { crl_path };
	ck_assert_int_ne(pki_trust_load(cas, 1, crls, 1, &t, err, sizeof(err)), CG_OK);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, "CRL issuer is not a trust anchor") != NULL, "%s", err);
	ck_assert_msg(strstr(err, crl_path) != NULL, "%s", err);

	/* an expired CRL is refused too, not silently ignored */
	const struct tc_cert *none[] = { NULL };
	crl = tc_crl_pem(&issuing, none, 0, -60);
	tc_write_text(crl_path, crl);
	free(crl);
	const char *cas2[] = { ca_pem };
	ck_assert_int_ne(pki_trust_load(cas2, 1, crls, 1, &t, err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, "out of date") != NULL, "%s", err);
	/* a file with no CRL */
	tc_write_text(crl_path, "nothing here\n");
	ck_assert_int_ne(pki_trust_load(cas2, 1, crls, 1, &t, err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, crl_path) != NULL, "%s", err);
	tc_free(&leaf);
}
END_TEST

START_TEST(trust_paths)
{
	struct pki_trust *t = NULL;
	char err[512], path[700], sub[600];
	const char *missing[] = { "/nonexistent/ca.pem" };
	ck_assert_int_ne(pki_trust_load(missing, 1, NULL, 0, &t, err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, "/nonexistent/ca.pem") != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/empty.pem", dir);
	tc_write_text(path, "no certificates\n");
	const char *empty[] = { path };
	ck_assert_int_ne(pki_trust_load(empty, 1, NULL, 0, &t, err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_ptr_null(t);
	/* a directory: every file's anchors; an empty directory is an error naming it */
	snprintf(sub, sizeof(sub), "%s/anchors", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	const char *d[] = { sub };
	ck_assert_int_ne(pki_trust_load(d, 1, NULL, 0, &t, err, sizeof(err)), CG_OK);
	ck_assert_msg(strstr(err, sub) != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/a.pem", sub);
	const struct tc_cert *both[] = { &issuing, &root };
	tc_write_pem(path, both, 2);
	t = trust_of(sub, NULL);
	ck_assert_uint_eq(pki_trust_anchor_count(t), 2);
	pki_trust_free(t);
}
END_TEST

START_TEST(eku_policy)
{
	struct tc_cert server, noeku, anyeku;
	struct pki_verdict v;
	struct tc_spec s = { .dn = "CN=server", .issuer = &issuing, .eku = { GNUTLS_KP_TLS_WWW_SERVER, NULL } };
	tc_make(&s, &server);
	struct tc_spec s2 = { .dn = "CN=noeku", .issuer = &issuing };
	tc_make(&s2, &noeku);
	struct tc_spec s3 = { .dn = "CN=both", .issuer = &issuing,
			      .eku = { GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_KP_TLS_WWW_CLIENT, NULL } };
	tc_make(&s3, &anyeku);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	const struct tc_cert *c[] = { &server }, *c2[] = { &noeku }, *c3[] = { &anyeku };
	ck_assert_int_eq(verify(t, c, 1, &client_policy, &v), CG_REASON_EKU_MISMATCH);
	ck_assert_msg(strstr(v.detail, GNUTLS_KP_TLS_WWW_CLIENT) != NULL, "%s", v.detail);
	const struct pki_policy any = { NULL, 4 };
	ck_assert_int_eq(verify(t, c, 1, &any, &v), CG_REASON_OK);
	const struct pki_policy srv = { GNUTLS_KP_TLS_WWW_SERVER, 4 };
	ck_assert_int_eq(verify(t, c, 1, &srv, &v), CG_REASON_OK);
	/* no EKU extension: any purpose */
	ck_assert_int_eq(verify(t, c2, 1, &client_policy, &v), CG_REASON_OK);
	ck_assert_int_eq(verify(t, c3, 1, &client_policy, &v), CG_REASON_OK);
	pki_trust_free(t);
	tc_free(&server);
	tc_free(&noeku);
	tc_free(&anyeku);
}
END_TEST

START_TEST(key_usage_policy)
{
	struct tc_cert enc, nok;
	struct pki_verdict v;
	struct tc_spec s = { .dn = "CN=enc", .issuer = &issuing, .ku = GNUTLS_KEY_KEY_ENCIPHERMENT };
	tc_make(&s, &enc);
	struct tc_spec s2 = { .dn = "CN=noku", .issuer = &issuing, .no_ku = true };
	tc_make(&s2, &nok);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	const struct tc_cert *c[] = { &enc }, *c2[] = { &nok };
	ck_assert_int_eq(verify(t, c, 1, &client_policy, &v), CG_REASON_EKU_MISMATCH);
	ck_assert_msg(strstr(v.detail, "key usage") != NULL, "%s", v.detail);
	ck_assert_int_eq(verify(t, c2, 1, &client_policy, &v), CG_REASON_OK);
	pki_trust_free(t);
	tc_free(&enc);
	tc_free(&nok);
}
END_TEST

START_TEST(depth)
{
	struct tc_cert sub1, sub2, leaf;
	struct pki_verdict v;
	struct tc_spec s1 = { .dn = "CN=Sub 1", .ca = true, .issuer = &issuing };
	tc_make(&s1, &sub1);
	struct tc_spec s2 = { .dn = "CN=Sub 2", .ca = true, .issuer = &sub1 };
	tc_make(&s2, &sub2);
	leaf_of(&leaf, &sub2, 0, 0);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	const struct tc_cert *c[] = { &leaf, &sub2, &sub1 };
	ck_assert_int_eq(verify(t, c, 3, &client_policy, &v), CG_REASON_OK);
	char want[65];
	sha256_hex(&issuing.der, want);
	ck_assert_str_eq(v.anchor_sha256, want);
	const struct pki_policy shallow = { GNUTLS_KP_TLS_WWW_CLIENT, 2 };
	ck_assert_int_eq(verify(t, c, 3, &shallow, &v), CG_REASON_UNTRUSTED_ISSUER);
	ck_assert_str_eq(v.detail, "chain of 3 certificates exceeds max_chain_depth 2");
	pki_trust_free(t);
	tc_free(&leaf);
	tc_free(&sub2);
	tc_free(&sub1);
}
END_TEST

START_TEST(tampered_signature)
{
	struct tc_cert leaf;
	struct pki_verdict v;
	leaf_of(&leaf, &issuing, 0, 0);
	struct pki_trust *t = trust_of(ca_pem, NULL);
	leaf.der.data[leaf.der.size - 1] ^= 0x01; /* last byte of the signature value */
	const struct tc_cert *c[] = { &leaf };
	ck_assert_int_eq(verify(t, c, 1, &client_policy, &v), CG_REASON_BAD_SIGNATURE);
	/* garbage where a certificate should be */
	gnutls_datum_t junk = { (unsigned char *)"junk", 4 };
	pki_verify_chain(t, &junk, 1, &client_policy, 0, &v);
	ck_assert_int_eq(v.reason, CG_REASON_UNTRUSTED_ISSUER);
	pki_verify_chain(t, NULL, 0, &client_policy, 0, &v);
	ck_assert_int_eq(v.reason, CG_REASON_NO_CLIENT_CERT);
	pki_trust_free(t);
	tc_free(&leaf);
}
END_TEST

START_TEST(eku_parse)
{
	const char *oid = "x";
	ck_assert_int_eq(pki_eku_parse("clientAuth", &oid), CG_OK);
	ck_assert_str_eq(oid, GNUTLS_KP_TLS_WWW_CLIENT);
	ck_assert_int_eq(pki_eku_parse("serverAuth", &oid), CG_OK);
	ck_assert_str_eq(oid, GNUTLS_KP_TLS_WWW_SERVER);
	ck_assert_int_eq(pki_eku_parse("any", &oid), CG_OK);
	ck_assert_ptr_null(oid);
	ck_assert_int_eq(pki_eku_parse("1.3.6.1.4.1.311.20.2.2", &oid), CG_OK);
	ck_assert_str_eq(oid, "1.3.6.1.4.1.311.20.2.2");
	const char *bad[] = { "", "client", "1", "1.", ".1.2", "1..2", "3.1", "1.2.x", "01.2", "1.02", NULL };
	for (int i = 0; bad[i] != NULL; i++)
		ck_assert_msg(pki_eku_parse(bad[i], &oid) == CG_ERR_ARG, "accepted '%s'", bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pki_verify");
	TCase *tc = tcase_create("verify");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_chain_and_anchor);
	tcase_add_test(tc, unknown_ca);
	tcase_add_test(tc, validity);
	tcase_add_test(tc, revoked_by_crl);
	tcase_add_test(tc, crl_issuer_not_anchor);
	tcase_add_test(tc, trust_paths);
	tcase_add_test(tc, eku_policy);
	tcase_add_test(tc, key_usage_policy);
	tcase_add_test(tc, depth);
	tcase_add_test(tc, tampered_signature);
	tcase_add_test(tc, eku_parse);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
