/* Unit tests for ldap/dir_escape.c: RFC 4515 §4 and RFC 4514 vectors, the
 * UTF-8 rule of DN values, and the bound (CG_ERR_RANGE leaves the buffer as
 * it was). Expected strings are written out by hand from the RFCs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/dir_escape.h"

#define S(lit) lit, sizeof(lit) - 1  /* a literal with its length (NUL bytes kept) */

static char *esc(int dn, const void *v, size_t n)
{
	static char out[4096];
	struct cg_buf b;
	cg_buf_init(&b, sizeof(out) - 1);
	enum cg_err r = dn ? dir_escape_dn(v, n, &b) : dir_escape_filter(v, n, &b);
	ck_assert_int_eq(r, CG_OK);
	memcpy(out, b.data != NULL ? b.data : "", b.len);
	out[b.len] = '\0';
	ck_assert_uint_eq(strlen(out), b.len);
	cg_buf_free(&b);
	return out;
}

#define FLT(v) esc(0, S(v))
#define DN(v) esc(1, S(v))

START_TEST(filter_rfc4515_examples)
{
	ck_assert_str_eq(FLT("Parens R Us (for all your parenthetical needs)"),
			 "Parens R Us \\28for all your parenthetical needs\\29");
	ck_assert_str_eq(FLT("*"), "\\2a");
	ck_assert_str_eq(FLT("C:\\MyFile"), "C:\\5cMyFile");
	ck_assert_str_eq(FLT("\x00\x00\x00\x04"), "\\00\\00\\00\\04");
	ck_assert_str_eq(FLT("Lu\xc4\x8di\xc4\x87"), "Lu\\c4\\8di\\c4\\87");
	ck_assert_str_eq(FLT("\x04\x02\x48\x69"), "\\04\\02Hi");
}
END_TEST

START_TEST(filter_injection)
{
	ck_assert_str_eq(FLT("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
	ck_assert_str_eq(FLT("alice)(|(uid=*"), "alice\\29\\28|\\28uid=\\2a");
	ck_assert_str_eq(FLT("a\0b"), "a\\00b");
	ck_assert_str_eq(FLT("\\2a"), "\\5c2a");
	ck_assert_str_eq(FLT("x\ny\t\x7f"), "x\\0ay\\09\\7f");
	ck_assert_str_eq(FLT("plain text, with = & | ! ~ < > ;"), "plain text, with = & | ! ~ < > ;");
	ck_assert_str_eq(FLT(""), "");
}
END_TEST

START_TEST(filter_every_byte)
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned c = 0; c < 256; c++) {
		unsigned char in = (unsigned char)c;
		char want[4];
		if (c >= 0x20 && c < 0x7f && c != '*' && c != '(' && c != ')' && c != '\\') {
			want[0] = (char)c;
			want[1] = '\0';
		} else {
			want[0] = '\\';
			want[1] = hex[c >> 4];
			want[2] = hex[c & 15];
			want[3] = '\0';
		}
		ck_assert_str_eq(esc(0, &in, 1), want);
	}
}
END_TEST

START_TEST(dn_rfc4514)
{
	ck_assert_str_eq(DN("Sam, Jr."), "Sam\\, Jr.");
	ck_assert_str_eq(DN("James \"Jim\" Smith, III"), "James \\\"Jim\\\" Smith\\, III");
	ck_assert_str_eq(DN("a+b"), "a\\+b");
	ck_assert_str_eq(DN("<x>;y=z\\"), "\\<x\\>\\;y\\=z\\\\");
	ck_assert_str_eq(DN("#lead"), "\\#lead");
	ck_assert_str_eq(DN("a#b"), "a#b");
	ck_assert_str_eq(DN(" lead"), "\\ lead");
	ck_assert_str_eq(DN("trail "), "trail\\ ");
	ck_assert_str_eq(DN("in side"), "in side");
	ck_assert_str_eq(DN(" "), "\\ ");
	ck_assert_str_eq(DN("  "), "\\ \\ ");
	ck_assert_str_eq(DN("   "), "\\  \\ ");
	ck_assert_str_eq(DN("#"), "\\#");
	ck_assert_str_eq(DN("*()"), "*()");
	ck_assert_str_eq(DN(""), "");
}
END_TEST

START_TEST(dn_bytes)
{
	ck_assert_str_eq(DN("a\0b"), "a\\00b");
	ck_assert_str_eq(DN("\x01\x1f\x7f"), "\\01\\1f\\7f");
	ck_assert_str_eq(DN("Lu\xc4\x8di\xc4\x87"), "Lu\xc4\x8di\xc4\x87");      /* valid UTF-8 kept */
	ck_assert_str_eq(DN("\xe2\x82\xac \xf0\x9f\x98\x80"), "\xe2\x82\xac \xf0\x9f\x98\x80");
	ck_assert_str_eq(DN("\xff"), "\\ff");
	ck_assert_str_eq(DN("\xc0\x80"), "\\c0\\80");                       /* overlong NUL */
	ck_assert_str_eq(DN("\xe0\x80\xaf"), "\\e0\\80\\af");               /* overlong '/' */
	ck_assert_str_eq(DN("\xed\xa0\x80"), "\\ed\\a0\\80");               /* surrogate */
	ck_assert_str_eq(DN("\xf4\x90\x80\x80"), "\\f4\\90\\80\\80");       /* > U+10FFFF */
	ck_assert_str_eq(DN("x\xc4"), "x\\c4");                             /* truncated */
	ck_assert_str_eq(DN("\xc4\x8d\x8d"), "\xc4\x8d\\8d");               /* stray continuation */
}
END_TEST

START_TEST(appends_and_bound)
{
	struct cg_buf b;
	cg_buf_init(&b, 8);
	ck_assert_int_eq(cg_buf_append_str(&b, "ab"), CG_OK);
	ck_assert_int_eq(dir_escape_filter("*", 1, &b), CG_OK);         /* "ab\2a": 5 */
	ck_assert_str_eq(b.data, "ab\\2a");
	ck_assert_int_eq(dir_escape_filter("xy*", 3, &b), CG_ERR_RANGE); /* "xy" fits, "\2a" not */
	ck_assert_str_eq(b.data, "ab\\2a");
	ck_assert_uint_eq(b.len, 5);
	ck_assert_int_eq(dir_escape_dn("x, ", 3, &b), CG_ERR_RANGE);     /* would be "x\,\ " */
	ck_assert_str_eq(b.data, "ab\\2a");
	ck_assert_uint_eq(b.len, 5);
	ck_assert_int_eq(dir_escape_dn("x,", 2, &b), CG_OK);
	ck_assert_str_eq(b.data, "ab\\2ax\\,");
	ck_assert_int_eq(dir_escape_filter("", 0, &b), CG_OK);
	ck_assert_int_eq(dir_escape_dn("", 0, &b), CG_OK);
	ck_assert_int_eq(dir_escape_dn("y", 1, &b), CG_ERR_RANGE);
	ck_assert_str_eq(b.data, "ab\\2ax\\,");
	cg_buf_free(&b);

	cg_buf_init(&b, 0);                                              /* nothing allocated yet */
	ck_assert_int_eq(dir_escape_filter("a", 1, &b), CG_ERR_RANGE);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(dir_escape_filter("", 0, &b), CG_OK);
	cg_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dir_escape");
	TCase *tc = tcase_create("escape");
	tcase_add_test(tc, filter_rfc4515_examples);
	tcase_add_test(tc, filter_injection);
	tcase_add_test(tc, filter_every_byte);
	tcase_add_test(tc, dn_rfc4514);
	tcase_add_test(tc, dn_bytes);
	tcase_add_test(tc, appends_and_bound);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
