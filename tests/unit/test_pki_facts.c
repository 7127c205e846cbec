/* Unit tests for pki/pki_facts.c: facts from certificates made in the test,
 * with hostile subjects (escaping, multi-valued RDNs, UTF-8, NUL bytes,
 * over-long values), serial renderings, digests, SANs and EKU. */
#include <check.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"
#include "pki/pki_facts.h"
#include "tests/unit/pki_testcerts.h"

#define OID_CN  "2.5.4.3"
#define OID_O   "2.5.4.10"
#define OID_OU  "2.5.4.11"
#define OID_UID "0.9.2342.19200300.100.1.1"

static struct pki_facts *facts_of(const struct tc_cert *c)
{
	struct pki_facts *f = NULL;
	ck_assert_int_eq(pki_facts_from_der(&c->der, &f), CG_OK);
	ck_assert_ptr_nonnull(f);
	return f;
}

START_TEST(basic_facts)
{
	static const uint8_t serial[] = { 0x01, 0x02, 0x03, 0xff };
	struct tc_cert c;
	struct tc_spec s = { .dn = "CN=alice,OU=people,O=Example", .serial = serial, .serial_len = sizeof(serial),
			     .eku = { "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", NULL },
			     .san_email = "alice@example.org", .san_dns = "alice.example.org",
			     .san_uri = "urn:example:alice", .upn = "alice@corp.example" };
	tc_make(&s, &c);
	struct pki_facts *f = facts_of(&c);

	ck_assert_str_eq(f->subject_dn, "CN=alice,OU=people,O=Example");
	ck_assert_str_eq(f->subject_dn_x500, "O=Example,OU=people,CN=alice");
	ck_assert_str_eq(f->issuer_dn, "CN=alice,OU=people,O=Example");
	ck_assert_str_eq(f->issuer_dn_x500, "O=Example,OU=people,CN=alice");
	ck_assert_str_eq(f->cn, "alice");
	ck_assert_str_eq(f->ou, "people");
	ck_assert_str_eq(f->o, "Example");
	ck_assert_ptr_null(f->uid);
	ck_assert_ptr_null(f->email);

	ck_assert_uint_eq(f->serial_len, 4);
	ck_assert_str_eq(f->serial_hex, "010203ff");
	ck_assert_str_eq(f->serial_dec, "16909311");
	char hex[sizeof(f->serial_hex)];
	pki_serial_hex(f, false, false, hex, sizeof(hex));
	ck_assert_str_eq(hex, "010203ff");
	pki_serial_hex(f, true, false, hex, sizeof(hex));
	ck_assert_str_eq(hex, "010203FF");
	pki_serial_hex(f, false, true, hex, sizeof(hex));
	ck_assert_str_eq(hex, "ff030201");
	pki_serial_hex(f, true, true, hex, sizeof(hex));
	ck_assert_str_eq(hex, "FF030201");
	pki_serial_hex(f, true, true, hex, 8); /* too short: empty, never truncated */
	ck_assert_str_eq(hex, "");

	/* digests against nettle over the DER */
	uint8_t h[32], h1[20];
	char want[65], want1[41];
	struct sha256_ctx c2;
	sha256_init(&c2);
	sha256_update(&c2, c.der.size, c.der.data);
	sha256_digest(&c2, 32, h);
	ck_assert_mem_eq(f->sha256, h, 32);
	ck_assert_str_eq(f->sha256_hex, cg_hex_encode(h, 32, want));
	struct sha1_ctx c1;
	sha1_init(&c1);
	sha1_update(&c1, c.der.size, c.der.data);
	sha1_digest(&c1, 20, h1);
	ck_assert_str_eq(f->sha1_hex, cg_hex_encode(h1, 20, want1));
	ck_assert_uint_eq(strlen(f->spki_sha256_hex), 64);
	ck_assert_str_ne(f->spki_sha256_hex, f->sha256_hex);
	ck_assert_uint_eq(f->der.size, c.der.size);
	ck_assert_mem_eq(f->der.data, c.der.data, c.der.size);

	ck_assert_uint_eq(f->san_email.n, 1);
	ck_assert_str_eq(f->san_email.v[0], "alice@example.org");
	ck_assert_uint_eq(f->san_dns.n, 1);
	ck_assert_str_eq(f->san_dns.v[0], "alice.example.org");
	ck_assert_uint_eq(f->san_uri.n, 1);
	ck_assert_str_eq(f->san_uri.v[0], "urn:example:alice");
	ck_assert_uint_eq(f->san_upn.n, 1);
	ck_assert_str_eq(f->san_upn.v[0], "alice@corp.example");
	ck_assert_uint_eq(f->eku.n, 2);
	ck_assert_str_eq(f->eku.v[0], "1.3.6.1.5.5.7.3.2");
	ck_assert_str_eq(f->eku.v[1], "1.3.6.1.5.5.7.3.4");
	ck_assert(f->has_key_usage);
	ck_assert_uint_eq(f->key_usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
	ck_assert_str_eq(f->key_alg, "ECDSA-P256");
	ck_assert_str_eq(f->sig_alg, "ECDSA-SHA256");
	ck_assert_ptr_nonnull(f->ski_hex);
	ck_assert_uint_eq(strlen(f->ski_hex), 40);
	ck_assert(f->not_after - f->not_before > 29 * 86400);
	ck_assert(f->not_before < time(NULL));
	pki_facts_free(f);
	tc_free(&c);
}
END_TEST

START_TEST(long_serials)
{
	static const uint8_t s20[20] = { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t s21[21] = { 0x01, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct tc_cert c;
	struct tc_spec s = { .dn = "CN=serial", .serial = s20, .serial_len = sizeof(s20) };
	tc_make(&s, &c);
	struct pki_facts *f = facts_of(&c);
	ck_assert_str_eq(f->serial_hex, "7fffffffffffffffffffffffffffffffffffffff");
	ck_assert_str_eq(f->serial_dec, "730750818665451459101842416358141509827966271487");
	char hex[sizeof(f->serial_hex)];
	pki_serial_hex(f, true, true, hex, sizeof(hex));
	ck_assert_str_eq(hex, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF7F");
	pki_facts_free(f);
	tc_free(&c);

	/* 21 octets of magnitude: over RFC 5280's bound */
	s.serial = s21;
	s.serial_len = sizeof(s21);
	tc_make(&s, &c);
	f = (struct pki_facts *)0x1;
	ck_assert_int_eq(pki_facts_from_der(&c.der, &f), CG_ERR_PKI);
	ck_assert_ptr_null(f);
	tc_free(&c);
}
END_TEST

START_TEST(multivalued_and_escaped)
{
	struct tc_cert c;
	struct tc_spec s = { .dn = "CN=placeholder" };
	const struct tc_ava avas[] = {
		{ 0, OID_O, 0x0c, "Example, Inc.", 13 },
		{ 1, OID_OU, 0x0c, "people", 6 },
		{ 1, OID_UID, 0x0c, "x;y", 3 },
		{ 2, OID_CN, 0x0c, "alice+bob", 9 },
	};
	size_t len;
	uint8_t *name = tc_name_der(avas, 4, &len);
	tc_make(&s, &c);
	tc_set_subject_der(&c, name, len, NULL);
	free(name);
	struct pki_facts *f = facts_of(&c);
	ck_assert_str_eq(f->subject_dn, "CN=alice\\+bob,OU=people+UID=x\\;y,O=Example\\, Inc.");
	ck_assert_str_eq(f->subject_dn_x500, "O=Example\\, Inc.,OU=people+UID=x\\;y,CN=alice\\+bob");
	ck_assert_str_eq(f->cn, "alice+bob");
	ck_assert_str_eq(f->uid, "x;y");
	ck_assert_str_eq(f->ou, "people");
	ck_assert_str_eq(f->o, "Example, Inc.");
	/* the issuer is still the original self-signed name */
	ck_assert_str_eq(f->issuer_dn, "CN=placeholder");
	pki_facts_free(f);
	tc_free(&c);
}
END_TEST

START_TEST(utf8_backslash_hash)
{
	struct tc_cert c;
	struct tc_spec s = { .dn = "CN=Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac,O=\\#lead\\\\back" };
	tc_make(&s, &c);
	struct pki_facts *f = facts_of(&c);
	ck_assert_str_eq(f->cn, "Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac");
	ck_assert_str_eq(f->o, "#lead\\back");
	ck_assert_str_eq(f->subject_dn, "CN=Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac,O=\\#lead\\\\back");
	ck_assert_str_eq(f->subject_dn_x500, "O=\\#lead\\\\back,CN=Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac");
	pki_facts_free(f);
	tc_free(&c);

	/* BMPString is converted; invalid UTF-8 in a UTF8String is left out */
	const struct tc_ava avas[] = {
		{ 0, OID_O, 0x0c, "bad\xc3(", 5 },
		{ 1, OID_CN, 0x1e, "\0Z\0o\0\xeb", 6 },
	};
	size_t len;
	uint8_t *name = tc_name_der(avas, 2, &len);
	struct tc_spec s2 = { .dn = "CN=x" };
	tc_make(&s2, &c);
	tc_set_subject_der(&c, name, len, NULL);
	free(name);
	f = facts_of(&c);
	ck_assert_str_eq(f->cn, "Zo\xc3\xab");
	ck_assert_ptr_null(f->o);
	ck_assert_ptr_nonnull(strstr(f->subject_dn, "O="));
	pki_facts_free(f);
	tc_free(&c);
}
END_TEST

START_TEST(nul_in_cn)
{
	struct tc_cert c;
	struct tc_spec s = { .cn = "ab\0cd", .cn_len = 5 };
	tc_make(&s, &c);
	struct pki_facts *f = facts_of(&c);
	ck_assert_ptr_null(f->cn);
	/* the whole value, as the hex of its BER: escaped and not truncated at the NUL */
	ck_assert_str_eq(f->subject_dn, "CN=#0c056162006364");
	ck_assert_str_eq(f->subject_dn_x500, "CN=#0c056162006364");
	pki_facts_free(f);
	tc_free(&c);

}
END_TEST

START_TEST(long_values)
{
	char *big = malloc(9000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'A', 9000);
	struct tc_cert c;
	/* 4 KiB CN: the DN is within PKI_MAX_DN_LEN, the convenience field is not */
	struct tc_spec s = { .cn = big, .cn_len = 4096 };
	tc_make(&s, &c);
	struct pki_facts *f = facts_of(&c);
	ck_assert_ptr_null(f->cn);
	ck_assert_uint_eq(strlen(f->subject_dn), 3 + 4096);
	pki_facts_free(f);
	tc_free(&c);
	/* exactly 1024 bytes is still a usable CN */
	s.cn_len = 1024;
	tc_make(&s, &c);
	f = facts_of(&c);
	ck_assert_ptr_nonnull(f->cn);
	ck_assert_uint_eq(strlen(f->cn), 1024);
	pki_facts_free(f);
	tc_free(&c);
	/* a DN over PKI_MAX_DN_LEN is rejected */
	s.cn_len = 9000;
	tc_make(&s, &c);
	f = (struct pki_facts *)0x1;
	ck_assert_int_eq(pki_facts_from_der(&c.der, &f), CG_ERR_PKI);
	ck_assert_ptr_null(f);
	tc_free(&c);
	free(big);
}
END_TEST

START_TEST(pem_rsa_and_no_ku)
{
	struct tc_cert ca, leaf;
	struct tc_spec sca = { .dn = "CN=Test CA,O=Example", .ca = true };
	tc_make(&sca, &ca);
	struct tc_spec sl = { .dn = "CN=bob,UID=bob", .rsa = true, .no_ku = true, .issuer = &ca };
	tc_make(&sl, &leaf);
	gnutls_datum_t p1 = { NULL, 0 }, p2 = { NULL, 0 };
	ck_assert_int_eq(gnutls_x509_crt_export2(leaf.crt, GNUTLS_X509_FMT_PEM, &p1), 0);
	ck_assert_int_eq(gnutls_x509_crt_export2(ca.crt, GNUTLS_X509_FMT_PEM, &p2), 0);
	char *pem = malloc(p1.size + p2.size);
	memcpy(pem, p1.data, p1.size);
	memcpy(pem + p1.size, p2.data, p2.size);
	struct pki_facts *f = NULL;
	ck_assert_int_eq(pki_facts_from_pem(pem, p1.size + p2.size, &f), CG_OK);
	ck_assert_str_eq(f->subject_dn, "CN=bob,UID=bob");
	ck_assert_str_eq(f->uid, "bob");
	ck_assert_str_eq(f->issuer_dn, "CN=Test CA,O=Example");
	ck_assert_str_eq(f->issuer_dn_x500, "O=Example,CN=Test CA");
	ck_assert_str_eq(f->key_alg, "RSA-2048");
	ck_assert_str_eq(f->sig_alg, "ECDSA-SHA256");
	ck_assert(!f->has_key_usage);
	ck_assert_uint_eq(f->key_usage, 0);
	ck_assert_uint_eq(f->eku.n, 0);
	ck_assert_mem_eq(f->der.data, leaf.der.data, leaf.der.size);
	pki_facts_free(f);
	free(pem);
	gnutls_free(p1.data);
	gnutls_free(p2.data);
	tc_free(&leaf);
	tc_free(&ca);
}
END_TEST

START_TEST(malformed)
{
	struct tc_cert c;
	struct tc_spec s = { .dn = "CN=trunc" };
	struct pki_facts *f = (struct pki_facts *)0x1;
	tc_make(&s, &c);
	gnutls_datum_t t = { c.der.data, c.der.size / 2 };
	ck_assert_int_eq(pki_facts_from_der(&t, &f), CG_ERR_PKI);
	ck_assert_ptr_null(f);
	uint8_t junk[64];
	memset(junk, 0x30, sizeof(junk));
	gnutls_datum_t j = { junk, sizeof(junk) };
	ck_assert_int_eq(pki_facts_from_der(&j, &f), CG_ERR_PKI);
	gnutls_datum_t e = { junk, 0 };
	ck_assert_int_eq(pki_facts_from_der(&e, &f), CG_ERR_ARG);
	ck_assert_int_eq(pki_facts_from_pem("not pem", 7, &f), CG_ERR_PKI);
	ck_assert_ptr_null(f);
	pki_facts_free(NULL);
	tc_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pki_facts");
	TCase *tc = tcase_create("facts");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, basic_facts);
	tcase_add_test(tc, long_serials);
	tcase_add_test(tc, multivalued_and_escaped);
	tcase_add_test(tc, utf8_backslash_hash);
	tcase_add_test(tc, nul_in_cn);
	tcase_add_test(tc, long_values);
	tcase_add_test(tc, pem_rsa_and_no_ku);
	tcase_add_test(tc, malformed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
