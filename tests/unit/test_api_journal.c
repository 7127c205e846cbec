/* Unit tests for api/api_journal.c: ids, eviction, queries and paging,
 * identities, the audit file (two writers, fsync=always callback, reopen). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api_journal.h"
#include "common/cg_time.h"

static json_t *make_event(const char *outcome, const char *reason, const char *subject, const char *sha,
			  time_t not_after)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i}", "time", "2026-12-04T19:30:00.123456Z",
			       "peer", "127.0.0.1:5000", "outcome", outcome, "reason", reason, "duration_us", 10);
	ck_assert_ptr_nonnull(ev);
	if (subject != NULL) {
		char na[32];
		json_t *cert = json_pack("{s:s}", "subject", subject);
		if (sha != NULL)
			json_object_set_new(cert, "sha256", json_string(sha));
		if (not_after != 0)
			json_object_set_new(cert, "not_after", json_string(cg_time_format_s(not_after, na, sizeof(na))));
		json_object_set_new(ev, "cert", cert);
		json_object_set_new(ev, "directory", json_pack("{s:s}", "entry", "uid=x,dc=example"));
	}
	return ev;
}

static uint64_t id_of(json_t *ev)
{
	return (uint64_t)json_integer_value(json_object_get(ev, "id"));
}

START_TEST(ids_and_eviction)
{
	struct api_journal *j = NULL;
	char err[128];
	ck_assert_int_eq(api_journal_create(5, NULL, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_OK);
	for (uint64_t i = 1; i <= 12; i++)
		ck_assert_uint_eq(api_journal_record(j, make_event("allowed", "ok", NULL, NULL, 0), NULL, NULL), i);
	ck_assert_ptr_null(api_journal_get(j, 7));
	ck_assert_ptr_null(api_journal_get(j, 0));
	ck_assert_ptr_null(api_journal_get(j, 13));
	for (uint64_t i = 8; i <= 12; i++) {
		json_t *ev = api_journal_get(j, i);
		ck_assert_ptr_nonnull(ev);
		ck_assert_uint_eq(id_of(ev), i);
		json_decref(ev);
	}
	json_t *all = api_journal_query(j, &(struct api_event_query){ .limit = 1000 });
	ck_assert_uint_eq(json_array_size(json_object_get(all, "events")), 5);
	ck_assert_ptr_null(json_object_get(all, "next"));
	json_decref(all);
	/* not an object: refused, reference still taken */
	ck_assert_uint_eq(api_journal_record(j, json_string("x"), NULL, NULL), 0);
	struct api_journal_counters c;
	api_journal_counters(j, &c);
	ck_assert_uint_eq(c.recorded, 12);
	api_journal_destroy(j);
}
END_TEST

static void fill(struct api_journal *j, unsigned n)
{
	static const char *const reasons[] = { "ok", "cert_expired", "no_entry" };
	for (unsigned i = 1; i <= n; i++) {
		char subj[64];
		snprintf(subj, sizeof(subj), "CN=user%u,O=Example", i);
		const char *reason = reasons[i % 3];
		api_journal_record(j, make_event(strcmp(reason, "ok") == 0 ? "allowed" : "denied", reason, subj, NULL, 0),
				   NULL, NULL);
	}
}

static void expect_ids(json_t *res, uint64_t first, uint64_t last, int64_t next)
{
	json_t *evs = json_object_get(res, "events");
	ck_assert_ptr_nonnull(evs);
	ck_assert_uint_eq(json_array_size(evs), first - last + 1);
	for (size_t i = 0; i < json_array_size(evs); i++)
		ck_assert_uint_eq(id_of(json_array_get(evs, i)), first - i);
	if (next < 0)
		ck_assert_ptr_null(json_object_get(res, "next"));
	else
		ck_assert_int_eq(json_integer_value(json_object_get(res, "next")), next);
	json_decref(res);
}

START_TEST(query_paging)
{
	struct api_journal *j = NULL;
	char err[128];
	ck_assert_int_eq(api_journal_create(100, NULL, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_OK);
	json_t *empty = api_journal_query(j, &(struct api_event_query){ 0 });
	ck_assert_uint_eq(json_array_size(json_object_get(empty, "events")), 0);
	json_decref(empty);
	fill(j, 30);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .limit = 10 }), 30, 21, 21);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .limit = 10, .before = 21 }), 20, 11, 11);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .limit = 10, .before = 11 }), 10, 1, -1);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .after = 25 }), 30, 26, -1);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .after = 20, .before = 23 }), 22, 21, -1);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .limit = 1 }), 30, 30, 30);
	expect_ids(api_journal_query(j, &(struct api_event_query){ .before = 1 }), 0, 1, -1);
	/* default limit 100 covers all 30 */
	expect_ids(api_journal_query(j, &(struct api_event_query){ 0 }), 30, 1, -1);
	ck_assert_ptr_null(api_journal_query(j, &(struct api_event_query){ .limit = 1001 }));
	api_journal_destroy(j);
}
END_TEST

START_TEST(query_filters)
{
	struct api_journal *j = NULL;
	char err[128];
	ck_assert_int_eq(api_journal_create(100, NULL, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_OK);
	fill(j, 30);
	/* ok is i % 3 == 0: ids 3, 6, ..., 30 */
	json_t *r = api_journal_query(j, &(struct api_event_query){ .outcome = "allowed", .limit = 4 });
	json_t *evs = json_object_get(r, "events");
	ck_assert_uint_eq(json_array_size(evs), 4);
	ck_assert_uint_eq(id_of(json_array_get(evs, 0)), 30);
	ck_assert_uint_eq(id_of(json_array_get(evs, 3)), 21);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "next")), 21);
	json_decref(r);
	r = api_journal_query(j, &(struct api_event_query){ .outcome = "allowed", .before = 21 });
	ck_assert_uint_eq(json_array_size(json_object_get(r, "events")), 6);
	json_decref(r);
	r = api_journal_query(j, &(struct api_event_query){ .reason = "cert_expired" });
	evs = json_object_get(r, "events");
	ck_assert_uint_eq(json_array_size(evs), 10);
	for (size_t i = 0; i < json_array_size(evs); i++)
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(evs, i), "reason")), "cert_expired");
	json_decref(r);
	r = api_journal_query(j, &(struct api_event_query){ .subject = "CN=user2" });     /* 2, 20..29 */
	ck_assert_uint_eq(json_array_size(json_object_get(r, "events")), 11);
	json_decref(r);
	r = api_journal_query(j, &(struct api_event_query){ .subject = "CN=user2,", .reason = "no_entry" });
	evs = json_object_get(r, "events");
	ck_assert_uint_eq(json_array_size(evs), 1);
	ck_assert_uint_eq(id_of(json_array_get(evs, 0)), 2);
	json_decref(r);
	r = api_journal_query(j, &(struct api_event_query){ .subject = "nobody" });
	ck_assert_uint_eq(json_array_size(json_object_get(r, "events")), 0);
	ck_assert_ptr_null(json_object_get(r, "next"));
	json_decref(r);
	api_journal_destroy(j);
}
END_TEST

static json_t *find_identity(json_t *res, const char *sha)
{
	json_t *arr = json_object_get(res, "identities");
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(arr, i), "sha256")), sha) == 0)
			return json_array_get(arr, i);
	return NULL;
}

START_TEST(identities)
{
	struct api_journal *j = NULL;
	char err[128];
	char sha_a[65], sha_b[65];
	memset(sha_a, 'a', 64);
	sha_a[64] = '\0';
	memset(sha_b, 'b', 64);
	sha_b[64] = '\0';
	time_t now = time(NULL);
	ck_assert_int_eq(api_journal_create(10, NULL, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_OK);
	api_journal_record(j, make_event("allowed", "ok", "CN=alice", sha_a, now + 10 * 86400), NULL, NULL);
	api_journal_record(j, make_event("denied", "no_entry", "CN=alice", sha_a, now + 10 * 86400), NULL, NULL);
	api_journal_record(j, make_event("allowed", "ok", "CN=alice", sha_a, now + 10 * 86400), NULL, NULL);
	api_journal_record(j, make_event("allowed", "ok", "CN=bob", sha_b, now + 100 * 86400), NULL, NULL);
	api_journal_record(j, make_event("denied", "no_client_cert", NULL, NULL, 0), NULL, NULL);

	json_t *all = api_identities_query(j, -1);
	ck_assert_uint_eq(json_array_size(json_object_get(all, "identities")), 2);
	/* most recently seen first */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(all, "identities"), 0),
							   "subject")), "CN=bob");
	json_t *a = find_identity(all, sha_a);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "allowed")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "denied")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(a, "entry")), "uid=x,dc=example");
	ck_assert_ptr_nonnull(json_object_get(a, "first_seen"));
	ck_assert_ptr_nonnull(json_object_get(a, "last_seen"));
	ck_assert_ptr_nonnull(json_object_get(a, "not_after"));
	json_decref(all);

	json_t *soon = api_identities_query(j, 30 * 86400);
	ck_assert_uint_eq(json_array_size(json_object_get(soon, "identities")), 1);
	ck_assert_ptr_nonnull(find_identity(soon, sha_a));
	json_decref(soon);
	json_t *none = api_identities_query(j, 86400);
	ck_assert_uint_eq(json_array_size(json_object_get(none, "identities")), 0);
	json_decref(none);
	struct api_journal_counters c;
	api_journal_counters(j, &c);
	ck_assert_uint_eq(c.identities, 2);
	api_journal_destroy(j);
}
END_TEST

/* ---- audit file ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cg-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static size_t count_lines(const char *path)
{
	size_t len, n = 0;
	char *s = slurp(path, &len);
	if (s == NULL)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	free(s);
	return n;
}

#define PER_THREAD 5000

static void *recorder(void *arg)
{
	struct api_journal *j = arg;
	for (int i = 0; i < PER_THREAD; i++)
		api_journal_record(j, make_event("denied", "no_entry", "CN=t", NULL, 0), NULL, NULL);
	return NULL;
}

START_TEST(audit_two_threads)
{
	struct api_journal *j = NULL;
	char err[128], path[128];
	pthread_t t1, t2;
	make_tmpdir();
	path_in_tmp(path, sizeof(path), "audit.jsonl");
	ck_assert_int_eq(api_journal_create(2 * PER_THREAD, path, API_FSYNC_INTERVAL, &j, err, sizeof(err)), CG_OK);
	pthread_create(&t1, NULL, recorder, j);
	pthread_create(&t2, NULL, recorder, j);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	api_journal_flush(j);
	struct api_journal_counters c;
	api_journal_counters(j, &c);
	ck_assert_uint_eq(c.recorded, 2 * PER_THREAD);
	ck_assert_uint_eq(c.dropped, 0);
	ck_assert_uint_eq(c.written, 2 * PER_THREAD);

	size_t len;
	char *text = slurp(path, &len);
	ck_assert_ptr_nonnull(text);
	char *seen = calloc(2 * PER_THREAD + 1, 1);
	size_t lines = 0;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		json_error_t jerr;
		json_t *ev = json_loads(line, 0, &jerr);
		ck_assert_msg(ev != NULL, "bad line: %s", jerr.text);
		uint64_t id = id_of(ev);
		ck_assert(id >= 1 && id <= 2 * PER_THREAD);
		ck_assert_int_eq(seen[id], 0);
		seen[id] = 1;
		lines++;
		json_decref(ev);
	}
	ck_assert_uint_eq(lines, 2 * PER_THREAD);
	free(seen);
	free(text);
	api_journal_destroy(j);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

struct durable_probe {
	const char *path;
	const char *marker;
	int calls;
	bool written;
	bool in_file;
	pthread_t thread;
};

static void on_durable(void *arg, bool written)
{
	struct durable_probe *p = arg;
	size_t len;
	char *s = slurp(p->path, &len);
	p->calls++;
	p->written = written;
	p->in_file = s != NULL && strstr(s, p->marker) != NULL;
	p->thread = pthread_self();
	free(s);
}

START_TEST(fsync_always_durable)
{
	struct api_journal *j = NULL;
	char err[128], path[128];
	make_tmpdir();
	path_in_tmp(path, sizeof(path), "audit.jsonl");
	ck_assert_int_eq(api_journal_create(10, path, API_FSYNC_ALWAYS, &j, err, sizeof(err)), CG_OK);
	struct durable_probe p[3] = {
		{ .path = path, .marker = "CN=first" },
		{ .path = path, .marker = "CN=second" },
		{ .path = path, .marker = "CN=third" },
	};
	for (int i = 0; i < 3; i++) {
		char subj[32];
		snprintf(subj, sizeof(subj), "%s", p[i].marker);
		api_journal_record(j, make_event("allowed", "ok", subj, NULL, 0), on_durable, &p[i]);
	}
	api_journal_flush(j);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(p[i].calls, 1);
		ck_assert(p[i].written);
		ck_assert(p[i].in_file);
		ck_assert(!pthread_equal(p[i].thread, pthread_self()));
	}
	api_journal_destroy(j);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

START_TEST(durable_immediate_without_audit)
{
	struct api_journal *j = NULL;
	char err[128], path[128];
	struct durable_probe p = { .path = "/nonexistent", .marker = "x" };
	ck_assert_int_eq(api_journal_create(10, NULL, API_FSYNC_ALWAYS, &j, err, sizeof(err)), CG_OK);
	api_journal_record(j, make_event("allowed", "ok", NULL, NULL, 0), on_durable, &p);
	ck_assert_int_eq(p.calls, 1);
	ck_assert(p.written);
	ck_assert(pthread_equal(p.thread, pthread_self()));
	api_journal_destroy(j);

	/* fsync=interval with a file: also at once, in the caller's thread */
	make_tmpdir();
	path_in_tmp(path, sizeof(path), "audit.jsonl");
	ck_assert_int_eq(api_journal_create(10, path, API_FSYNC_INTERVAL, &j, err, sizeof(err)), CG_OK);
	p.calls = 0;
	api_journal_record(j, make_event("allowed", "ok", NULL, NULL, 0), on_durable, &p);
	ck_assert_int_eq(p.calls, 1);
	ck_assert(pthread_equal(p.thread, pthread_self()));
	api_journal_destroy(j);
	ck_assert_uint_eq(count_lines(path), 1);
	unlink(path);
	rmdir(tmpdir);
}
END_TEST

START_TEST(reopen_after_rename)
{
	struct api_journal *j = NULL;
	char err[128], path[128], rotated[128];
	make_tmpdir();
	path_in_tmp(path, sizeof(path), "audit.jsonl");
	path_in_tmp(rotated, sizeof(rotated), "audit.jsonl.1");
	ck_assert_int_eq(api_journal_create(10, path, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_OK);
	for (int i = 0; i < 3; i++)
		api_journal_record(j, make_event("allowed", "ok", NULL, NULL, 0), NULL, NULL);
	api_journal_flush(j);
	ck_assert_int_eq(rename(path, rotated), 0);
	api_journal_reopen(j);
	for (int i = 0; i < 2; i++)
		api_journal_record(j, make_event("allowed", "ok", NULL, NULL, 0), NULL, NULL);
	api_journal_flush(j);
	ck_assert_uint_eq(count_lines(rotated), 3);
	ck_assert_uint_eq(count_lines(path), 2);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	api_journal_destroy(j);
	unlink(path);
	unlink(rotated);
	rmdir(tmpdir);
}
END_TEST

START_TEST(bad_audit_path)
{
	struct api_journal *j = NULL;
	char err[128] = "";
	ck_assert_int_eq(api_journal_create(10, "/nonexistent-dir/x/audit.jsonl", API_FSYNC_NEVER, &j, err,
					    sizeof(err)), CG_ERR_IO);
	ck_assert_ptr_null(j);
	ck_assert_ptr_nonnull(strstr(err, "audit log"));
	ck_assert_int_eq(api_journal_create(0, NULL, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_ERR_ARG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_journal");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ids_and_eviction);
	tcase_add_test(tc, query_paging);
	tcase_add_test(tc, query_filters);
	tcase_add_test(tc, identities);
	tcase_add_test(tc, audit_two_threads);
	tcase_add_test(tc, fsync_always_durable);
	tcase_add_test(tc, durable_immediate_without_audit);
	tcase_add_test(tc, reopen_after_rename);
	tcase_add_test(tc, bad_audit_path);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
