/* Unit tests for ldap/dir_match.c: every component type, && and ||, mixed
 * operators rejected, bad regexes and unknown tags rejected, KU/EKU names,
 * numbers and OIDs, SAN types, the component and regex bounds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/dir_match.h"
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

/* Compile expr (must succeed) and evaluate it against F. */
static bool eval(const char *expr)
{
	char err[256] = "";
	struct dir_match *m = (struct dir_match *)1;
	enum cg_err r = dir_match_compile(expr, &m, err, sizeof(err));
	ck_assert_msg(r == CG_OK, "compile '%s': %s (%s)", expr, cg_err_name(r), err);
	bool ok = dir_match_eval(m, F);
	dir_match_free(m);
	return ok;
}

#define YES(e) ck_assert_msg(eval(e), "'%s' should match", e)
#define NO(e) ck_assert_msg(!eval(e), "'%s' should not match", e)

/* Compile must fail with CG_ERR_ARG and err must mention needle. */
static void bad(const char *expr, const char *needle)
{
	char err[256] = "";
	struct dir_match *m = (struct dir_match *)1;
	ck_assert_msg(dir_match_compile(expr, &m, err, sizeof(err)) == CG_ERR_ARG, "accepted '%s'", expr);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s': err '%s' lacks '%s'", expr, err, needle);
}

START_TEST(subject_and_issuer)
{
	YES("<SUBJECT>^CN=Alice Example,");
	YES("<SUBJECT>UID=alice");
	YES("UID=alice,OU=People");                  /* no tag: <SUBJECT> */
	YES("<SUBJECT>,DC=example,DC=org$");
	YES("<SUBJECT>(Alice|Bob) Example");
	NO("<SUBJECT>^CN=Bob");
	NO("^UID=alice");                            /* unanchored, but not at the start */
	YES("<ISSUER>^CN=Example Issuing CA,");
	NO("<ISSUER>^CN=Other CA");
	NO("<ISSUER>Alice");
	facts_fixture_set(&F->subject_dn, NULL);
	NO("<SUBJECT>.*");
}
END_TEST

START_TEST(key_usage)
{
	YES("<KU>digitalSignature");
	YES("<KU>digitalSignature,keyEncipherment");
	YES("<KU> keyEncipherment , digitalSignature ");
	YES("<KU>128");
	YES("<KU>0x80,32");
	YES("<KU>160");
	NO("<KU>nonRepudiation");
	NO("<KU>digitalSignature,keyCertSign");
	NO("<KU>dataEncipherment");
	NO("<KU>keyAgreement");
	NO("<KU>cRLSign");
	NO("<KU>encipherOnly");
	NO("<KU>decipherOnly");
	NO("<KU>32768");
	F->key_usage = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN | GNUTLS_KEY_DECIPHER_ONLY |
		       GNUTLS_KEY_ENCIPHER_ONLY | GNUTLS_KEY_KEY_AGREEMENT | GNUTLS_KEY_DATA_ENCIPHERMENT |
		       GNUTLS_KEY_NON_REPUDIATION;
	YES("<KU>keyCertSign,cRLSign,decipherOnly,encipherOnly,keyAgreement,dataEncipherment,nonRepudiation");
	YES("<KU>32768");
	NO("<KU>digitalSignature");
	F->has_key_usage = false;
	F->key_usage = 0;
	NO("<KU>digitalSignature");

	bad("<KU>foo", "unknown key usage 'foo'");
	bad("<KU>DigitalSignature", "unknown key usage");
	bad("<KU>", "empty key usage");
	bad("<KU>digitalSignature,,cRLSign", "empty key usage");
	bad("<KU>digitalSignature,", "empty key usage");
	bad("<KU>0", "unknown key usage '0'");
	bad("<KU>65536", "unknown key usage");
	bad("<KU>256", "unknown key usage");
	bad("<KU>12x", "unknown key usage");
	bad("<KU>-1", "unknown key usage");
}
END_TEST

START_TEST(extended_key_usage)
{
	YES("<EKU>clientAuth");
	YES("<EKU>clientAuth,emailProtection");
	YES("<EKU>1.3.6.1.5.5.7.3.2");
	YES("<EKU>emailProtection, 1.3.6.1.5.5.7.3.2");
	NO("<EKU>serverAuth");
	NO("<EKU>clientAuth,codeSigning");
	NO("<EKU>timeStamping");
	NO("<EKU>OCSPSigning");
	NO("<EKU>pkinit");
	NO("<EKU>msScLogin");
	NO("<EKU>1.3.6.1.5.5.7.3.20");
	static const char *const smartcard[] = { "1.3.6.1.5.2.3.4", "1.3.6.1.4.1.311.20.2.2",
						 "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.3",
						 "1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9" };
	facts_fixture_set_list(&F->eku, smartcard, 6);
	YES("<EKU>pkinit,msScLogin");
	YES("<EKU>KPClientAuth");
	YES("<EKU>1.3.6.1.4.1.311.20.2.2");
	YES("<EKU>serverAuth,codeSigning,timeStamping,OCSPSigning");
	NO("<EKU>clientAuth");
	facts_fixture_set_list(&F->eku, NULL, 0);
	NO("<EKU>clientAuth");

	bad("<EKU>clientauth", "unknown extended key usage 'clientauth'");
	bad("<EKU>1", "unknown extended key usage");
	bad("<EKU>1.2.", "unknown extended key usage");
	bad("<EKU>.1.2", "unknown extended key usage");
	bad("<EKU>1..2", "unknown extended key usage");
	bad("<EKU>01.2", "unknown extended key usage");
	bad("<EKU>1.2a", "unknown extended key usage");
	bad("<EKU>", "empty extended key usage");
	bad("<EKU>clientAuth,", "empty extended key usage");
}
END_TEST

START_TEST(san)
{
	YES("<SAN:rfc822Name>^alice@example\\.org$");
	YES("<SAN:rfc822Name>^a\\.example@mail\\.example\\.org$");   /* any value counts */
	NO("<SAN:rfc822Name>^bob@");
	YES("<SAN:dNSName>^alice\\.example\\.org$");
	NO("<SAN:dNSName>^www\\.");
	YES("<SAN:uniformResourceIdentifier>^https://id\\.example\\.org/");
	NO("<SAN:uniformResourceIdentifier>^ldap:");
	YES("<SAN:Principal>@EXAMPLE\\.ORG$");
	YES("<SAN>^alice@");
	NO("<SAN:Principal>@OTHER$");
	facts_fixture_set_list(&F->san_dns, NULL, 0);
	NO("<SAN:dNSName>.*");
	bad("<SAN:otherName>x", "unknown tag <SAN:otherName>");
	bad("<SAN:dnsname>x", "unknown tag");
}
END_TEST

START_TEST(operators)
{
	YES("<EKU>clientAuth&&<ISSUER>^CN=Example Issuing CA,");
	YES("<EKU>clientAuth && <KU>digitalSignature && <SAN:dNSName>example");
	NO("<EKU>clientAuth && <SUBJECT>Bob");
	NO("<SUBJECT>Bob && <EKU>clientAuth");
	YES("<SUBJECT>Bob || <SAN:rfc822Name>alice@");
	YES("<SAN:rfc822Name>alice@||<SUBJECT>Bob");
	NO("<SUBJECT>Bob||<EKU>serverAuth||<KU>cRLSign");
	YES("  \t<EKU>clientAuth  &&  <KU>digitalSignature  ");
	YES("<SUBJECT>a|b|c|Alice");                 /* a single '|' is ERE alternation */
	NO("<SUBJECT>R&D");                          /* a single '&' is a literal */
	facts_fixture_set(&F->subject_dn, "CN=Alice,OU=R&D,O=Example");
	YES("<SUBJECT>OU=R&D,");

	bad("<KU>digitalSignature && <EKU>clientAuth || <SUBJECT>x", "but not both");
	bad("<SUBJECT>a||<SUBJECT>b&&<SUBJECT>c", "offset 22");
	bad("", "empty match rule");
	bad("   ", "empty match rule");
	bad("<SUBJECT>a&&", "component 2");
	bad("&&<SUBJECT>a", "component 1");
	bad("<SUBJECT>a&& &&<SUBJECT>b", "component 2 at offset 13 is empty");
	ck_assert_int_eq(dir_match_compile(NULL, &(struct dir_match *){ NULL }, NULL, 0), CG_ERR_ARG);
	ck_assert(dir_match_eval(NULL, F));          /* no match rule: every certificate */
}
END_TEST

START_TEST(errors_name_the_component)
{
	bad("<SUBJECT>(unclosed", "component 1");
	bad("<SUBJECT>(unclosed", "bad regular expression");
	bad("<KU>digitalSignature&&<ISSUER>[z-a]", "component 2 ('<ISSUER>[z-a]') at offset 22");
	bad("<KU>digitalSignature && <ISSUER>a{2,1}", "bad regular expression");
	bad("<FOO>x", "unknown tag <FOO>");
	bad("<subject>x", "unknown tag <subject>");
	bad("<SUBJECTx", "'<' without '>'");
	bad("<SUBJECT>", "empty regular expression");
	bad("<EKU>clientAuth||<KU>nope", "component 2");
}
END_TEST

START_TEST(bounds)
{
	char *expr = malloc(33 * 24 + 1);
	char err[256];
	struct dir_match *m = NULL;
	ck_assert_ptr_nonnull(expr);
	expr[0] = '\0';
	for (int i = 0; i < 32; i++)
		strcat(expr, i == 0 ? "<KU>digitalSignature" : "&&<KU>digitalSignature");
	ck_assert_int_eq(dir_match_compile(expr, &m, err, sizeof(err)), CG_OK);
	ck_assert(dir_match_eval(m, F));
	dir_match_free(m);
	strcat(expr, "&&<KU>digitalSignature");
	bad(expr, "component 33");
	free(expr);

	char re[9 + 1025 + 1] = "<SUBJECT>";
	memset(re + 9, 'a', 1024);
	re[9 + 1024] = '\0';
	m = NULL;
	ck_assert_int_eq(dir_match_compile(re, &m, err, sizeof(err)), CG_OK);
	ck_assert(!dir_match_eval(m, F));
	dir_match_free(m);
	re[9 + 1024] = 'a';
	re[9 + 1025] = '\0';
	bad(re, "longer than 1024");

	char eku[40 * 12] = "<EKU>";
	for (int i = 0; i < 33; i++)
		strcat(eku, i == 0 ? "clientAuth" : ",clientAuth");
	bad(eku, "more than 32");
}
END_TEST

/* Regexes whose compilation would blow up (glibc duplicates the tree per repeat) are
 * refused at load; ordinary ones still work. The first came from the fuzzer. */
START_TEST(pathological_regexes)
{
	bad("]u++++++++++++++++++++++++", "repetition applied to a repetition");
	bad("<SUBJECT>a**", "repetition applied to a repetition");
	bad("<SUBJECT>(a{1,1000}){1,1000}", "bound over 100");
	bad("<SUBJECT>a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*", "too many repetition");
	bad("<SUBJECT>(((a{1,9}){1,9}){1,9})", "more than 2");
	YES("<SUBJECT>^CN=[A-Za-z +*]+,.*$");            /* '+' and '*' inside brackets are literals */
	YES("<SUBJECT>UID=al\\+?ice");               /* an escaped '+' is a literal too */
	NO("<SUBJECT>^(uid=[a-z]{1,8},){2}$");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dir_match");
	TCase *tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, subject_and_issuer);
	tcase_add_test(tc, key_usage);
	tcase_add_test(tc, extended_key_usage);
	tcase_add_test(tc, san);
	tcase_add_test(tc, operators);
	tcase_add_test(tc, errors_name_the_component);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, pathological_regexes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
