/* Unit tests for common/cg_parse.c: durations, sizes, booleans, host:port. */
#include <check.h>
#include <stdlib.h>

#include "common/cg_parse.h"

START_TEST(durations)
{
	uint64_t ms;
	ck_assert_int_eq(cg_parse_duration_ms("250ms", &ms), CG_OK); ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(cg_parse_duration_ms("10s", &ms), CG_OK); ck_assert_uint_eq(ms, 10000);
	ck_assert_int_eq(cg_parse_duration_ms("5m", &ms), CG_OK); ck_assert_uint_eq(ms, 300000);
	ck_assert_int_eq(cg_parse_duration_ms("1h", &ms), CG_OK); ck_assert_uint_eq(ms, 3600000);
	ck_assert_int_eq(cg_parse_duration_ms(" 2d ", &ms), CG_OK); ck_assert_uint_eq(ms, 172800000);
	ck_assert_int_eq(cg_parse_duration_ms("30", &ms), CG_OK); ck_assert_uint_eq(ms, 30000);
	ck_assert_int_eq(cg_parse_duration_ms("0s", &ms), CG_OK); ck_assert_uint_eq(ms, 0);
}
END_TEST

START_TEST(bad_durations)
{
	uint64_t ms = 77;
	const char *bad[] = { "", " ", "s", "10 s", "10x", "-1s", "1.5s", "10sec", "ms10",
			      "99999999999999999999s", "18446744073709551615h", "0x10s", "+5s" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cg_parse_duration_ms(bad[i], &ms) == CG_ERR_ARG, "accepted '%s'", bad[i]);
	ck_assert_uint_eq(ms, 77); /* untouched on failure */
}
END_TEST

START_TEST(sizes)
{
	uint64_t b;
	ck_assert_int_eq(cg_parse_size("64KiB", &b), CG_OK); ck_assert_uint_eq(b, 65536);
	ck_assert_int_eq(cg_parse_size("1MiB", &b), CG_OK); ck_assert_uint_eq(b, 1048576);
	ck_assert_int_eq(cg_parse_size("2GiB", &b), CG_OK); ck_assert_uint_eq(b, 2147483648ull);
	ck_assert_int_eq(cg_parse_size("512", &b), CG_OK); ck_assert_uint_eq(b, 512);
	ck_assert_int_eq(cg_parse_size("10kB", &b), CG_OK); ck_assert_uint_eq(b, 10000);
	ck_assert_int_eq(cg_parse_size("1MB", &b), CG_OK); ck_assert_uint_eq(b, 1000000);
	ck_assert_int_eq(cg_parse_size("100B", &b), CG_OK); ck_assert_uint_eq(b, 100);
	ck_assert_int_eq(cg_parse_size("64kib", &b), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_size("KiB", &b), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_size("1 KiB", &b), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_size("-1", &b), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_size("99999999999999GiB", &b), CG_ERR_ARG);
}
END_TEST

START_TEST(bools_and_uints)
{
	bool v;
	uint64_t u;
	ck_assert_int_eq(cg_parse_bool("on", &v), CG_OK); ck_assert(v);
	ck_assert_int_eq(cg_parse_bool("OFF", &v), CG_OK); ck_assert(!v);
	ck_assert_int_eq(cg_parse_bool("maybe", &v), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_uint("42", 1, 100, &u), CG_OK); ck_assert_uint_eq(u, 42);
	ck_assert_int_eq(cg_parse_uint("0", 1, 100, &u), CG_ERR_RANGE);
	ck_assert_int_eq(cg_parse_uint("101", 1, 100, &u), CG_ERR_RANGE);
	ck_assert_int_eq(cg_parse_uint("4x", 1, 100, &u), CG_ERR_ARG);
}
END_TEST

START_TEST(hostports)
{
	char host[64];
	uint16_t port;
	ck_assert_int_eq(cg_parse_hostport("0.0.0.0:8443", host, sizeof(host), &port), CG_OK);
	ck_assert_str_eq(host, "0.0.0.0"); ck_assert_uint_eq(port, 8443);
	ck_assert_int_eq(cg_parse_hostport("[::1]:9090", host, sizeof(host), &port), CG_OK);
	ck_assert_str_eq(host, "::1"); ck_assert_uint_eq(port, 9090);
	ck_assert_int_eq(cg_parse_hostport("::1:9090", host, sizeof(host), &port), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_hostport("127.0.0.1", host, sizeof(host), &port), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_hostport("127.0.0.1:0", host, sizeof(host), &port), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_hostport("127.0.0.1:65536", host, sizeof(host), &port), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_hostport(":80", host, sizeof(host), &port), CG_ERR_ARG);
	ck_assert_int_eq(cg_parse_hostport("[::1]9090", host, sizeof(host), &port), CG_ERR_ARG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cg_parse");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, bad_durations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, bools_and_uints);
	tcase_add_test(tc, hostports);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
