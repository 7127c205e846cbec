/* Unit tests for ldap/dir_template.c: every variable and modifier (AD's
 * reversed serial included), the AD strong mapping filter, {cert}, literal
 * braces, missing values, validation errors, the output bound, and injection
 * attempts through certificate values in filter and DN templates. Expected
 * strings are written out by hand (RFC 4515 / RFC 4514). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/dir_template.h"
#include "tests/unit/facts_fixture.h"

static struct pki_facts *F;

static void setup(void)
{
	F = facts_fixture_new();
}

static void teardown(void)
{
	facts_fixture_free(F);
	F = NULL;
}

/* Render and compare; fails the test on any error. */
static void expect(const char *tmpl, enum dir_escape_ctx ctx, const char *want)
{
	char err[256] = "";
	char *out = (char *)1;
	enum cg_err r = dir_template_render(tmpl, F, ctx, &out, err, sizeof(err));
	ck_assert_msg(r == CG_OK, "render '%s': %s (%s)", tmpl, cg_err_name(r), err);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, want);
	free(out);
}

#define FLT(t, w) expect(t, DIR_ESCAPE_CTX_FILTER, w)
#define DN(t, w) expect(t, DIR_ESCAPE_CTX_DN, w)

/* Render expecting error e; err must mention needle. */
static void expect_err(const char *tmpl, enum dir_escape_ctx ctx, enum cg_err e, const char *needle)
{
	char err[256] = "";
	char *out = (char *)1;
	enum cg_err r = dir_template_render(tmpl, F, ctx, &out, err, sizeof(err));
	ck_assert_msg(r == e, "render '%s' gave %s, want %s", tmpl, cg_err_name(r), cg_err_name(e));
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(err, needle) != NULL, "err '%s' lacks '%s'", err, needle);
}

START_TEST(every_variable)
{
	FLT("{subject.dn}", "CN=Alice Example,UID=alice,OU=People,O=Example,DC=example,DC=org");
	FLT("{subject.cn}", "Alice Example");
	FLT("{subject.uid}", "alice");
	FLT("{subject.email}", "alice@example.org");
	FLT("{subject.o}", "Example");
	FLT("{subject.ou}", "People");
	FLT("{issuer.dn}", "CN=Example Issuing CA,O=Example,DC=example,DC=org");
	FLT("{serial}", "3f9a0c01020a");
	FLT("{san.email}", "alice@example.org");
	FLT("{san.dns}", "alice.example.org");
	FLT("{san.uri}", "https://id.example.org/alice");
	FLT("{san.upn}", "alice@EXAMPLE.ORG");
	FLT("{sha256}", "9c0b5e6a1f2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccd");
	FLT("{sha1}", "0123456789abcdef0123456789abcdef01234567");
	FLT("{spki.sha256}", "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
	FLT("{ski}", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678");
	FLT("{cert}", "\\30\\0a\\02\\01\\2a\\0c\\05\\61\\28\\29\\5c\\00");
	FLT("(&(objectClass=inetOrgPerson)(uid={subject.uid}))",
	    "(&(objectClass=inetOrgPerson)(uid=alice))");
}
END_TEST

START_TEST(every_modifier)
{
	FLT("{serial!hex}", "3f9a0c01020a");
	FLT("{serial!hex_u}", "3F9A0C01020A");
	FLT("{serial!hex_r}", "0a02010c9a3f");
	FLT("{serial!hex_ur}", "0A02010C9A3F");
	FLT("{serial!dec}", "69930858906122");
	FLT("{subject.dn!x500}", "DC=org,DC=example,O=Example,OU=People,UID=alice,CN=Alice Example");
	FLT("{issuer.dn!x500}", "DC=org,DC=example,O=Example,CN=Example Issuing CA");

	static const uint8_t ad[] = { 0x01, 0x02, 0x0a };   /* AD's <SR>: bytes reversed */
	facts_fixture_set_serial(F, ad, sizeof(ad), "66058");
	FLT("{serial}", "01020a");
	FLT("{serial!hex_r}", "0a0201");
	FLT("{serial!hex_ur}", "0A0201");
	FLT("{serial!dec}", "66058");

	static const uint8_t lead0[] = { 0x00, 0x9a };      /* DER keeps the leading zero */
	facts_fixture_set_serial(F, lead0, sizeof(lead0), "154");
	FLT("{serial}", "009a");
	FLT("{serial!hex_ur}", "9A00");
}
END_TEST

START_TEST(ad_strong_mapping)
{
	FLT("(altSecurityIdentities=X509:<I>{issuer.dn!x500}<SR>{serial!hex_ur})",
	    "(altSecurityIdentities=X509:<I>DC=org,DC=example,O=Example,CN=Example Issuing CA"
	    "<SR>0A02010C9A3F)");
	FLT("(altSecurityIdentities=X509:<I>{issuer.dn!x500}<S>{subject.dn!x500})",
	    "(altSecurityIdentities=X509:<I>DC=org,DC=example,O=Example,CN=Example Issuing CA"
	    "<S>DC=org,DC=example,O=Example,OU=People,UID=alice,CN=Alice Example)");
}
END_TEST

START_TEST(cert_and_braces)
{
	FLT("(userCertificate;binary={cert})",
	    "(userCertificate;binary=\\30\\0a\\02\\01\\2a\\0c\\05\\61\\28\\29\\5c\\00)");
	static const uint8_t printable[] = { 'a', 'b', '0' };  /* even printable bytes are \hh */
	facts_fixture_set_der(F, printable, sizeof(printable));
	FLT("{cert}", "\\61\\62\\30");
	expect_err("uid={cert}", DIR_ESCAPE_CTX_DN, CG_ERR_ARG, "{cert}");

	FLT("{{x}} {{{subject.uid}}}", "{x} {alice}");
	FLT("}}{{", "}{");
	FLT("", "");
	FLT("no variables at all", "no variables at all");
}
END_TEST

START_TEST(dn_context)
{
	/* DN-valued variables stay DNs; everything else is one escaped value */
	DN("{subject.dn}", "CN=Alice Example,UID=alice,OU=People,O=Example,DC=example,DC=org");
	DN("{issuer.dn}", "CN=Example Issuing CA,O=Example,DC=example,DC=org");
	DN("uid={subject.uid},ou=people,dc=example,dc=org", "uid=alice,ou=people,dc=example,dc=org");
	DN("cn={subject.cn}+sn=x", "cn=Alice Example+sn=x");
	DN("x={issuer.dn!x500}", "x=DC\\=org\\,DC\\=example\\,O\\=Example\\,CN\\=Example Issuing CA");
	DN("serial={serial!hex_u}", "serial=3F9A0C01020A");
	facts_fixture_set(&F->subject_dn, "CN=Sam\\, Jr.,O=Example");
	DN("{subject.dn}", "CN=Sam\\, Jr.,O=Example");
	FLT("(x={subject.dn})", "(x=CN=Sam\\5c, Jr.,O=Example)");
}
END_TEST

START_TEST(filter_injection)
{
	const char *t = "(uid={subject.uid})";
	facts_fixture_set(&F->uid, "*");
	FLT(t, "(uid=\\2a)");
	facts_fixture_set(&F->uid, "*)(uid=*");
	FLT(t, "(uid=\\2a\\29\\28uid=\\2a)");
	facts_fixture_set(&F->uid, "alice)(|(uid=*");
	FLT(t, "(uid=alice\\29\\28|\\28uid=\\2a)");
	facts_fixture_set(&F->uid, "a\\2a\\");
	FLT(t, "(uid=a\\5c2a\\5c)");
	facts_fixture_set(&F->uid, "x\x01y\xc4\x8d");
	FLT(t, "(uid=x\\01y\\c4\\8d)");
	/* a C string ends at NUL: nothing after it can reach the filter */
	facts_fixture_set_bytes(&F->uid, "ali\0*)(uid=*", 12);
	FLT(t, "(uid=ali)");

	facts_fixture_set(&F->cn, "alice)(|(uid=*");
	FLT("(&(objectClass=person)(cn={subject.cn}))", "(&(objectClass=person)(cn=alice\\29\\28|\\28uid=\\2a))");
	facts_fixture_set(&F->email, "*)(mail=*");
	FLT("(mail={subject.email})", "(mail=\\2a\\29\\28mail=\\2a)");
	static const char *const evil[] = { "*)(objectClass=*" };
	facts_fixture_set_list(&F->san_email, evil, 1);
	FLT("(mail={san.email})", "(mail=\\2a\\29\\28objectClass=\\2a)");
	facts_fixture_set(&F->subject_dn, "CN=*)(uid=*");
	FLT("(x={subject.dn})", "(x=CN=\\2a\\29\\28uid=\\2a)");
}
END_TEST

START_TEST(dn_injection)
{
	const char *t = "uid={subject.uid},ou=people,dc=example,dc=org";
	facts_fixture_set(&F->uid, "alice,ou=admins");
	DN(t, "uid=alice\\,ou\\=admins,ou=people,dc=example,dc=org");
	facts_fixture_set(&F->uid, "*)(uid=*");
	DN(t, "uid=*)(uid\\=*,ou=people,dc=example,dc=org");
	facts_fixture_set(&F->uid, " #x+y ");
	DN(t, "uid=\\ #x\\+y\\ ,ou=people,dc=example,dc=org");
	facts_fixture_set(&F->uid, "#a");
	DN(t, "uid=\\#a,ou=people,dc=example,dc=org");
	facts_fixture_set(&F->uid, "a\\b\"c;d<e>");
	DN(t, "uid=a\\\\b\\\"c\\;d\\<e\\>,ou=people,dc=example,dc=org");
	facts_fixture_set(&F->uid, "x\ny");
	DN(t, "uid=x\\0ay,ou=people,dc=example,dc=org");
	facts_fixture_set_bytes(&F->uid, "ali\0,ou=admins", 14);
	DN(t, "uid=ali,ou=people,dc=example,dc=org");
	facts_fixture_set(&F->cn, "Sam, Jr.");
	DN("cn={subject.cn},o=x", "cn=Sam\\, Jr.,o=x");
}
END_TEST

START_TEST(missing_values)
{
	facts_fixture_set(&F->cn, NULL);
	expect_err("(cn={subject.cn})", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "subject.cn");
	facts_fixture_set(&F->uid, "");
	expect_err("(uid={subject.uid})", DIR_ESCAPE_CTX_DN, CG_ERR_DIR_MISSING_VAR, "subject.uid");
	facts_fixture_set(&F->email, NULL);
	expect_err("{subject.email}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "subject.email");
	facts_fixture_set(&F->o, NULL);
	expect_err("{subject.o}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "subject.o");
	facts_fixture_set(&F->ou, NULL);
	expect_err("{subject.ou}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "subject.ou");
	facts_fixture_set_list(&F->san_dns, NULL, 0);
	expect_err("{san.dns}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "san.dns");
	facts_fixture_set_list(&F->san_upn, NULL, 0);
	expect_err("{san.upn}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "san.upn");
	facts_fixture_set_list(&F->san_uri, NULL, 0);
	expect_err("{san.uri}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "san.uri");
	facts_fixture_set_list(&F->san_email, NULL, 0);
	expect_err("{san.email}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "san.email");
	facts_fixture_set(&F->ski_hex, NULL);
	expect_err("{ski}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "ski");
	F->sha1_hex[0] = '\0';
	expect_err("{sha1}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "sha1");
	facts_fixture_set(&F->issuer_dn_x500, NULL);
	expect_err("<I>{issuer.dn!x500}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "{issuer.dn!x500}");
	FLT("{issuer.dn}", "CN=Example Issuing CA,O=Example,DC=example,DC=org");
	facts_fixture_set(&F->subject_dn, NULL);
	expect_err("{subject.dn}", DIR_ESCAPE_CTX_DN, CG_ERR_DIR_MISSING_VAR, "subject.dn");
	facts_fixture_set_der(F, NULL, 0);
	expect_err("{cert}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "cert");
	facts_fixture_set_serial(F, NULL, 0, NULL);
	expect_err("{serial!hex_ur}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "serial");
	expect_err("{serial!dec}", DIR_ESCAPE_CTX_FILTER, CG_ERR_DIR_MISSING_VAR, "serial!dec");
}
END_TEST

static void expect_invalid(const char *tmpl, const char *needle)
{
	char err[256] = "";
	char *out = (char *)1;
	ck_assert_msg(dir_template_validate(tmpl, err, sizeof(err)) == CG_ERR_ARG, "accepted '%s'", tmpl);
	ck_assert_msg(strstr(err, needle) != NULL, "err '%s' lacks '%s'", err, needle);
	ck_assert_int_eq(dir_template_render(tmpl, F, DIR_ESCAPE_CTX_FILTER, &out, err, sizeof(err)),
			 CG_ERR_ARG);
	ck_assert_ptr_null(out);
}

START_TEST(validation)
{
	char err[256];
	const char *good[] = {
		"(&(objectClass=inetOrgPerson)(uid={subject.uid}))", "{subject.dn}",
		"(altSecurityIdentities=X509:<I>{issuer.dn!x500}<SR>{serial!hex_ur})",
		"(userCertificate;binary={cert})", "{{literal}}", "", "{serial!dec}{serial!hex}",
		"{subject.dn!x500}", "{serial!hex_u}{serial!hex_r}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(dir_template_validate(good[i], err, sizeof(err)) == CG_OK, "'%s': %s", good[i], err);

	expect_invalid("(uid={subject.userid})", "subject.userid");
	expect_invalid("{foo}", "unknown variable {foo}");
	expect_invalid("{}", "unknown variable {}");
	expect_invalid("{subject.cn!hex}", "subject.cn");
	expect_invalid("{subject.cn!hex}", "!hex");
	expect_invalid("{serial!x500}", "!x500");
	expect_invalid("{issuer.dn!hex_u}", "issuer.dn");
	expect_invalid("{serial!bogus}", "!bogus");
	expect_invalid("{serial!}", "modifier");
	expect_invalid("{serial!hex!dec}", "modifier");
	expect_invalid("{SERIAL}", "SERIAL");
	expect_invalid("{ serial}", "unknown variable");
	expect_invalid("(uid={subject.uid)", "unbalanced '{' at offset 5");
	expect_invalid("(uid=subject.uid})", "unbalanced '}' at offset 16");
	expect_invalid("{subject.uid{serial}}", "unbalanced '{' at offset 0");
	expect_invalid("{", "unbalanced '{'");
	expect_invalid("}", "unbalanced '}'");
	expect_invalid("{{{", "unbalanced '{' at offset 2");
	facts_fixture_set(&F->cn, NULL);   /* a syntax error wins over a missing value */
	expect_invalid("(cn={subject.cn}){subject.uid", "unbalanced '{' at offset 17");
	ck_assert_int_eq(dir_template_validate(NULL, err, sizeof(err)), CG_ERR_ARG);
	ck_assert_int_eq(dir_template_validate("{nope}", NULL, 0), CG_ERR_ARG);
}
END_TEST

START_TEST(variables_list)
{
	char t[64], err[128];
	size_t n = 0;
	for (; dir_template_variables[n] != NULL; n++) {
		snprintf(t, sizeof(t), "{%s}", dir_template_variables[n]);
		ck_assert_msg(dir_template_validate(t, err, sizeof(err)) == CG_OK, "%s: %s", t, err);
	}
	ck_assert_uint_eq(n, 17);
}
END_TEST

START_TEST(output_bound)
{
	char err[256] = "";
	char *out = NULL;
	size_t n = DIR_TEMPLATE_MAX_OUT - 5;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', n);
	big[n] = '\0';
	facts_fixture_set(&F->cn, big);
	ck_assert_int_eq(dir_template_render("(cn={subject.cn})", F, DIR_ESCAPE_CTX_FILTER, &out, err,
					     sizeof(err)), CG_OK);            /* exactly at the bound */
	ck_assert_uint_eq(strlen(out), DIR_TEMPLATE_MAX_OUT);
	free(out);
	out = NULL;
	ck_assert_int_eq(dir_template_render("(cn={subject.cn}) ", F, DIR_ESCAPE_CTX_FILTER, &out, err,
					     sizeof(err)), CG_ERR_RANGE);
	ck_assert_ptr_null(out);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	big[100] = '*';                                                /* escaping grows it */
	facts_fixture_set(&F->cn, big);
	ck_assert_int_eq(dir_template_render("(cn={subject.cn})", F, DIR_ESCAPE_CTX_FILTER, &out, err,
					     sizeof(err)), CG_ERR_RANGE);
	ck_assert_ptr_null(out);
	free(big);

	uint8_t *der = calloc(1, 30000);                               /* 90000 bytes as \hh */
	ck_assert_ptr_nonnull(der);
	facts_fixture_set_der(F, der, 30000);
	free(der);
	ck_assert_int_eq(dir_template_render("{cert}", F, DIR_ESCAPE_CTX_FILTER, &out, err, sizeof(err)),
			 CG_ERR_RANGE);
	ck_assert_ptr_null(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dir_template");
	TCase *tc = tcase_create("template");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_variable);
	tcase_add_test(tc, every_modifier);
	tcase_add_test(tc, ad_strong_mapping);
	tcase_add_test(tc, cert_and_braces);
	tcase_add_test(tc, dn_context);
	tcase_add_test(tc, filter_injection);
	tcase_add_test(tc, dn_injection);
	tcase_add_test(tc, missing_values);
	tcase_add_test(tc, validation);
	tcase_add_test(tc, variables_list);
	tcase_add_test(tc, output_bound);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
