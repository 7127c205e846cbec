/* Unit tests for api/api_stats.c: sums across worker blocks and the shared
 * block, cumulative histogram buckets, the JSON and Prometheus renderings. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_stats.h"
#include "common/cg_buf.h"

START_TEST(sums_across_workers)
{
	struct api_stats *s = api_stats_create(3);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(api_stats_workers(s), 3);
	for (unsigned w = 0; w < 3; w++) {
		struct api_stats_worker *b = api_stats_worker(s, w);
		for (unsigned i = 0; i <= w; i++) {
			api_stats_conn_open(b);
			api_stats_handshake(b, CG_REASON_OK, 300);
		}
		api_stats_handshake(b, CG_REASON_CERT_EXPIRED, 2000);
		api_stats_cache(b, API_CACHE_HIT);
	}
	api_stats_conn_close(api_stats_worker(s, 2));
	api_stats_directory(api_stats_shared(s), API_DIR_OK, 400);
	api_stats_directory(api_stats_shared(s), API_DIR_TIMEOUT, 2000000);
	api_stats_directory(api_stats_worker(s, 99), API_DIR_ERROR, 20000000);     /* out of range: shared */
	api_stats_cache(api_stats_shared(s), API_CACHE_STALE);

	struct api_stats_snapshot sn;
	api_stats_read(s, &sn);
	ck_assert_uint_eq(sn.accepted, 6);
	ck_assert_int_eq(sn.active, 5);
	ck_assert_uint_eq(sn.handshakes[CG_REASON_OK], 6);
	ck_assert_uint_eq(sn.handshakes[CG_REASON_CERT_EXPIRED], 3);
	ck_assert_uint_eq(sn.handshake_duration.count, 9);
	ck_assert_uint_eq(sn.handshake_duration.sum_us, 6 * 300 + 3 * 2000);
	ck_assert_uint_eq(sn.handshake_duration.bucket[0], 6);        /* <= 0.5 ms */
	ck_assert_uint_eq(sn.handshake_duration.bucket[2], 3);        /* <= 2.5 ms */
	ck_assert_uint_eq(sn.directory[API_DIR_OK], 1);
	ck_assert_uint_eq(sn.directory[API_DIR_TIMEOUT], 1);
	ck_assert_uint_eq(sn.directory[API_DIR_ERROR], 1);
	ck_assert_uint_eq(sn.directory_duration.bucket[API_HIST_BOUNDS], 1);     /* 20 s: +Inf */
	ck_assert_uint_eq(sn.directory_duration.bucket[11], 1);                  /* 2 s: <= 2.5 */
	ck_assert_uint_eq(sn.cache[API_CACHE_HIT], 3);
	ck_assert_uint_eq(sn.cache[API_CACHE_STALE], 1);

	json_t *j = api_stats_json(s, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "connections"), "active")), 5);
	json_t *hs = json_object_get(j, "handshakes");
	ck_assert_int_eq(json_integer_value(json_object_get(hs, "allowed")), 6);
	ck_assert_int_eq(json_integer_value(json_object_get(hs, "denied")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(hs, "by_reason"), "cert_expired")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "directory"), "requests")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "cache"), "stale")), 1);
	json_decref(j);
	api_stats_free(s);
}
END_TEST

START_TEST(bucket_edges)
{
	struct api_stats *s = api_stats_create(1);
	struct api_stats_worker *w = api_stats_worker(s, 0);
	api_stats_handshake(w, CG_REASON_OK, 500);       /* exactly 0.0005 s: first bucket */
	api_stats_handshake(w, CG_REASON_OK, 501);
	api_stats_handshake(w, CG_REASON_OK, 10000000);  /* exactly 10 s */
	api_stats_handshake(w, CG_REASON_OK, 10000001);
	struct api_stats_snapshot sn;
	api_stats_read(s, &sn);
	ck_assert_uint_eq(sn.handshake_duration.bucket[0], 1);
	ck_assert_uint_eq(sn.handshake_duration.bucket[1], 1);
	ck_assert_uint_eq(sn.handshake_duration.bucket[API_HIST_BOUNDS - 1], 1);
	ck_assert_uint_eq(sn.handshake_duration.bucket[API_HIST_BOUNDS], 1);
	api_stats_free(s);
}
END_TEST

#define N_THREADS 4
#define N_EACH 100000

static struct api_stats *shared_stats;

static void *hammer(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	struct api_stats_worker *own = api_stats_worker(shared_stats, idx);
	for (int i = 0; i < N_EACH; i++) {
		api_stats_cache(own, API_CACHE_MISS);
		api_stats_cache(api_stats_shared(shared_stats), API_CACHE_HIT);
	}
	return NULL;
}

START_TEST(concurrent_counting)
{
	pthread_t t[N_THREADS];
	shared_stats = api_stats_create(N_THREADS);
	for (uintptr_t i = 0; i < N_THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	struct api_stats_snapshot sn;
	api_stats_read(shared_stats, &sn);
	ck_assert_uint_eq(sn.cache[API_CACHE_MISS], (uint64_t)N_THREADS * N_EACH);
	ck_assert_uint_eq(sn.cache[API_CACHE_HIT], (uint64_t)N_THREADS * N_EACH);
	api_stats_free(shared_stats);
}
END_TEST

static const char *find_line(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);
	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, n) == 0)
			return p + n;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

START_TEST(metrics_text)
{
	struct api_stats *s = api_stats_create(2);
	struct cg_buf out;
	api_stats_conn_open(api_stats_worker(s, 0));
	api_stats_handshake(api_stats_worker(s, 0), CG_REASON_OK, 700);
	api_stats_handshake(api_stats_worker(s, 1), CG_REASON_NO_ENTRY, 30000);
	api_stats_directory(api_stats_worker(s, 1), API_DIR_OK, 400);
	cg_buf_init(&out, 1 << 20);
	ck_assert_int_eq(api_metrics_render(s, NULL, &out), CG_OK);
	const char *t = out.data;
	ck_assert_ptr_nonnull(find_line(t, "# TYPE certgate_connections_active gauge\n"));
	ck_assert_str_eq(strtok(strdupa(find_line(t, "certgate_connections_active ")), "\n"), "1");
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshakes_total{outcome=\"allowed\",reason=\"ok\"} 1\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshakes_total{outcome=\"denied\",reason=\"no_entry\"} 1\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshakes_total{outcome=\"denied\",reason=\"revoked_live\"} 0\n"));
	ck_assert_ptr_nonnull(find_line(t, "# TYPE certgate_handshake_duration_seconds histogram\n"));
	/* cumulative: 0.7 ms is in le=0.001 and everything after; 30 ms from le=0.05 on */
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_bucket{le=\"0.0005\"} 0\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_bucket{le=\"0.001\"} 1\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_bucket{le=\"0.025\"} 1\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_bucket{le=\"0.05\"} 2\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_bucket{le=\"10\"} 2\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_count 2\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_handshake_duration_seconds_sum 0.030700\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_directory_requests_total{result=\"ok\"} 1\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_directory_requests_total{result=\"timeout\"} 0\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_directory_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_cache_lookups_total{result=\"stale\"} 0\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_events_dropped_total 0\n"));
	ck_assert_ptr_nonnull(find_line(t, "certgate_build_info{version=\"" VERSION "\"} 1\n"));
	/* buckets never decrease */
	const char *p = t;
	unsigned long long prev = 0;
	while ((p = strstr(p, "certgate_handshake_duration_seconds_bucket{")) != NULL) {
		p = strchr(p, '}') + 2;
		unsigned long long v = strtoull(p, NULL, 10);
		ck_assert_uint_ge(v, prev);
		prev = v;
	}
	cg_buf_free(&out);
	api_stats_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_stats");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sums_across_workers);
	tcase_add_test(tc, bucket_edges);
	tcase_add_test(tc, concurrent_counting);
	tcase_add_test(tc, metrics_text);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
