/* Unit tests for api/api_http.c: the admin server on a free loopback port with
 * fake hooks, driven by a tiny raw HTTP/1.1 client over a socket. Every route
 * and status of DESIGN §8, query validation, token auth, body limits, authz
 * headers and the Prometheus text format. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "api/api_http.h"
#include "api/api_journal.h"
#include "api/api_stats.h"

/* ---- fake server ---- */

static const char *health_status = "ok";
static bool reload_ok = true;
static char last_pem[8192];

static json_t *fake_health(void *ctx)
{
	(void)ctx;
	return json_pack("{s:s, s:s, s:s}", "status", health_status, "message", "listening", "version", VERSION);
}

static enum cg_err fake_check(void *ctx, const char *pem, size_t len, json_t **event, char *err, size_t errlen)
{
	(void)ctx;
	snprintf(last_pem, sizeof(last_pem), "%.*s", (int)len, pem);
	if (memmem(pem, len, "-----BEGIN CERTIFICATE-----", 27) == NULL) {
		snprintf(err, errlen, "no PEM certificate");
		return CG_ERR_ARG;
	}
	bool allow = memmem(pem, len, "ALLOW", 5) != NULL;
	*event = json_pack("{s:I, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:i}", "id", (json_int_t)77,
			   "time", "2026-12-04T19:30:00.000000Z", "outcome", allow ? "allowed" : "denied",
			   "reason", allow ? "ok" : "cert_not_in_entry",
			   "cert", "subject", "CN=alice,O=Example\r\nX-Evil: 1", "sha256", "ab",
			   "directory", "entry", "uid=alice,ou=people,dc=example,dc=org", "duration_us", 5);
	return CG_OK;
}

static json_t *fake_connections(void *ctx)
{
	(void)ctx;
	return json_pack("{s:[{s:s}]}", "connections", "peer", "127.0.0.1:4000");
}

static json_t *fake_config(void *ctx)
{
	(void)ctx;
	return json_pack("{s:{s:s}}", "directory", "bind_password_file", "(redacted)");
}

static bool fake_reload(void *ctx, json_t **result)
{
	(void)ctx;
	*result = reload_ok ? json_pack("{s:i}", "generation", 2) : json_pack("{s:[s]}", "errors", "x.conf:3: bad");
	return reload_ok;
}

static json_t *fake_cache_info(void *ctx)
{
	(void)ctx;
	return json_pack("{s:b, s:i}", "enabled", 1, "entries", 3);
}

static json_t *fake_cache_flush(void *ctx)
{
	(void)ctx;
	return json_pack("{s:i}", "flushed", 3);
}

static enum cg_err fake_cache_drop(void *ctx, const char *sha)
{
	(void)ctx;
	return sha[0] == '0' ? CG_ERR_NOTFOUND : CG_OK;
}

static const struct api_hooks full_hooks = {
	.health = fake_health, .check = fake_check, .connections = fake_connections, .config = fake_config,
	.reload = fake_reload, .cache_info = fake_cache_info, .cache_flush = fake_cache_flush,
	.cache_drop = fake_cache_drop,
};

static struct api_journal *journal;
static struct api_stats *stats;
static struct api_http *server;
static uint16_t port;
static int family = AF_INET;

static void start(const char *host, const char *token, const struct api_hooks *hooks)
{
	char err[256] = "";
	ck_assert_int_eq(api_journal_create(100, NULL, API_FSYNC_NEVER, &journal, err, sizeof(err)), CG_OK);
	stats = api_stats_create(2);
	ck_assert_ptr_nonnull(stats);
	enum cg_err r = api_http_start(host, 0, token, hooks, journal, stats, &server, err, sizeof(err));
	ck_assert_msg(r == CG_OK, "start: %s", err);
	port = api_http_port(server);
	ck_assert_uint_ne(port, 0);
	family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
}

/* Runs as a Check teardown too, so a failed assertion never leaves a server. */
static void stop(void)
{
	api_http_stop(server);
	server = NULL;
	api_journal_destroy(journal);
	journal = NULL;
	api_stats_free(stats);
	stats = NULL;
	health_status = "ok";
	reload_ok = true;
}

/* ---- raw HTTP/1.1 client ---- */

struct resp {
	int status;
	char *head;             /* status line + headers */
	char *body;
	size_t body_len;
	bool closed_early;      /* no status line at all */
};

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int connect_server(void)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		a.sin6_addr = in6addr_loopback;
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;         /* the server may close early (413) */
		p += w;
		n -= (size_t)w;
	}
}

static void read_response(int fd, struct resp *r)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		ssize_t got = recv(fd, buf + n, cap - n, 0);
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	buf[n] = '\0';
	char *sep = strstr(buf, "\r\n\r\n");
	if (n < 12 || sep == NULL || sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) {
		r->closed_early = true;
		r->head = buf;
		return;
	}
	*sep = '\0';
	r->head = buf;
	r->body_len = n - (size_t)(sep + 4 - buf);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
}

/* One request on a fresh connection (Connection: close). extra: header lines
 * each ending in \r\n, or NULL. body may be NULL. */
static void http(const char *method, const char *path, const char *extra, const char *body, size_t body_len,
		 struct resp *r)
{
	char head[16384];
	memset(r, 0, sizeof(*r));
	int fd = connect_server();
	int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s",
			 method, path, extra != NULL ? extra : "");
	if (body != NULL)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	ck_assert_int_lt(n, (int)sizeof(head));
	send_all(fd, head, (size_t)n);
	if (body != NULL)
		send_all(fd, body, body_len);
	read_response(fd, r);
	close(fd);
}

static void get(const char *path, struct resp *r)
{
	http("GET", path, NULL, NULL, 0, r);
}

/* The value of header name in r (static buffer), or NULL. */
static const char *header(const struct resp *r, const char *name)
{
	static char value[2048];
	size_t n = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			while (*v == ' ')
				v++;
			size_t len = strcspn(v, "\r\n");
			snprintf(value, sizeof(value), "%.*s", (int)len, v);
			return value;
		}
	}
	return NULL;
}

static json_t *body_json(const struct resp *r)
{
	json_error_t e;
	json_t *j = json_loadb(r->body, r->body_len, 0, &e);
	ck_assert_msg(j != NULL, "body is not JSON: %s (%s)", r->body, e.text);
	return j;
}

/* Assert status, JSON content type, and for errors the error code. */
static void expect(const char *method, const char *path, int status, const char *err_code)
{
	struct resp r;
	http(method, path, NULL, NULL, 0, &r);
	ck_assert_msg(r.status == status, "%s %s: %d, wanted %d: %s", method, path, r.status, status,
		      r.body != NULL ? r.body : "");
	ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
	json_t *j = body_json(&r);
	if (err_code != NULL) {
		json_t *e = json_object_get(j, "error");
		ck_assert_str_eq(json_string_value(json_object_get(e, "code")), err_code);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "message")));
	}
	json_decref(j);
	resp_free(&r);
}

static void record(const char *outcome, const char *reason)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s, s:s}}", "time", "2026-12-04T19:30:00.000000Z",
			       "peer", "127.0.0.1:1", "outcome", outcome, "reason", reason, "duration_us", 1,
			       "cert", "subject", "CN=bob", "sha256",
			       "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
			       "not_after", "2099-01-01T00:00:00Z");
	ck_assert_uint_ne(api_journal_record(journal, ev, NULL, NULL), 0);
}

/* ---- tests ---- */

START_TEST(routes_and_statuses)
{
	struct resp r;
	start("127.0.0.1", NULL, &full_hooks);
	for (int i = 0; i < 5; i++)
		record(i % 2 ? "allowed" : "denied", i % 2 ? "ok" : "no_entry");

	get("/v1/health", &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	json_decref(j);
	ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
	resp_free(&r);
	health_status = "down";
	expect("GET", "/v1/health", 503, NULL);
	health_status = "degraded";
	expect("GET", "/v1/health", 200, NULL);

	get("/v1/stats", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "events"), "recorded")), 5);
	ck_assert_ptr_nonnull(json_object_get(j, "connections"));
	json_decref(j);
	resp_free(&r);

	get("/v1/events?limit=2", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "events")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "next")), 4);
	json_decref(j);
	resp_free(&r);
	get("/v1/events?limit=1000&before=4&after=1&outcome=allowed&reason=ok&subject=CN%3Db", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "events")), 1);           /* id 2 */
	json_decref(j);
	resp_free(&r);

	get("/v1/events/3", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 3);
	json_decref(j);
	resp_free(&r);
	expect("GET", "/v1/events/999", 404, "not_found");
	expect("GET", "/v1/events/abc", 400, "bad_request");
	expect("GET", "/v1/events/-1", 400, "bad_request");
	expect("GET", "/v1/events/0", 400, "bad_request");
	expect("GET", "/v1/events/1x", 400, "bad_request");
	expect("GET", "/v1/events/99999999999999999999999", 400, "bad_request");
	expect("GET", "/v1/events/1/2", 400, "bad_request");

	expect("GET", "/v1/connections", 200, NULL);
	expect("GET", "/v1/config", 200, NULL);
	get("/v1/identities", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "identities")), 1);
	json_decref(j);
	resp_free(&r);
	get("/v1/identities?expiring=30d", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "identities")), 0);
	json_decref(j);
	resp_free(&r);
	expect("GET", "/v1/identities?expiring=soon", 400, "bad_request");
	expect("GET", "/v1/identities?expiring=-1d", 400, "bad_request");

	get("/", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(r.body, "/v1/events"));
	resp_free(&r);
	expect("GET", "/nope", 404, "not_found");
	expect("GET", "/v1", 404, "not_found");
	expect("GET", "/v1/events/", 404, "not_found");
	expect("GET", "/v1/healthz", 404, "not_found");

	http("DELETE", "/v1/health", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
	resp_free(&r);
	http("PUT", "/v1/cache", NULL, "x", 1, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD, DELETE");
	resp_free(&r);
	http("GET", "/v1/check", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(header(&r, "Allow"), "POST");
	resp_free(&r);
	expect("POST", "/v1/stats", 405, "method_not_allowed");
	expect("GET", "/v1/reload", 405, "method_not_allowed");
	stop();
}
END_TEST

START_TEST(bad_queries)
{
	static const char *const bad[] = {
		"/v1/events?limit=0", "/v1/events?limit=-1", "/v1/events?limit=1001", "/v1/events?limit=abc",
		"/v1/events?limit=99999999999999999999999", "/v1/events?limit=", "/v1/events?limit",
		"/v1/events?limit=1.5", "/v1/events?limit=%2B5", "/v1/events?limit=1&limit=2",
		"/v1/events?before=x", "/v1/events?before=0", "/v1/events?before=-3", "/v1/events?after=-3",
		"/v1/events?after=18446744073709551616", "/v1/events?outcome=maybe", "/v1/events?outcome=",
		"/v1/events?reason=nope", "/v1/events?reason=OK", "/v1/events?foo=1", "/v1/events?subject=a%00b",
		"/v1/health?x=1", "/v1/stats?limit=1", "/v1/metrics?x", "/v1/events/1?x=1",
	};
	struct resp r;
	start("127.0.0.1", NULL, &full_hooks);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect("GET", bad[i], strncmp(bad[i], "/v1/metrics", 11) == 0 ? 404 : 400,
		       strncmp(bad[i], "/v1/metrics", 11) == 0 ? "not_found" : "bad_request");
	get("/metrics?x=1", &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	get("/v1/events?limit=0", &r);
	json_t *j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
			 "limit: must be 1..1000");
	json_decref(j);
	resp_free(&r);
	char path[400];
	memset(path, 0, sizeof(path));
	strcpy(path, "/v1/events?subject=");
	memset(path + strlen(path), 'a', 257);
	expect("GET", path, 400, "bad_request");
	path[strlen(path) - 1] = '\0';  /* 256 is fine */
	expect("GET", path, 200, NULL);
	expect("GET", "/v1/events?limit=1000&after=0&subject=", 200, NULL);
	stop();
}
END_TEST

static const char pem_allow[] = "-----BEGIN CERTIFICATE-----\nMIIB+ALLOW/x=\n-----END CERTIFICATE-----\n";
static const char pem_deny[] = "-----BEGIN CERTIFICATE-----\nMIIB+DENY/x=\n-----END CERTIFICATE-----\n";

START_TEST(check_route)
{
	struct resp r;
	start("127.0.0.1", NULL, &full_hooks);
	http("POST", "/v1/check", NULL, pem_allow, strlen(pem_allow), &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "outcome")), "allowed");
	json_decref(j);
	resp_free(&r);
	ck_assert_str_eq(last_pem, pem_allow);

	json_t *doc = json_pack("{s:s}", "pem", pem_deny);
	char *text = json_dumps(doc, 0);
	json_decref(doc);
	http("POST", "/v1/check", "Content-Type: application/json\r\n", text, strlen(text), &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "reason")), "cert_not_in_entry");
	json_decref(j);
	resp_free(&r);
	ck_assert_str_eq(last_pem, pem_deny);
	/* starts with '{' without a content type: JSON too */
	http("POST", "/v1/check", NULL, text, strlen(text), &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	free(text);

	static const char *const bad_json[] = { "{", "{\"pem\": 5}", "{\"pem\": \"x\", \"more\": 1}", "[]",
						"{\"pem\": \"a\", \"pem\": \"b\"}" };
	for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		http("POST", "/v1/check", "Content-Type: application/json\r\n", bad_json[i], strlen(bad_json[i]), &r);
		ck_assert_msg(r.status == 400, "%s: %d", bad_json[i], r.status);
		resp_free(&r);
	}
	http("POST", "/v1/check", NULL, "", 0, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	http("POST", "/v1/check", NULL, "hello", 5, &r);
	ck_assert_int_eq(r.status, 400);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "bad_certificate");
	json_decref(j);
	resp_free(&r);
	stop();
}
END_TEST

START_TEST(body_limits)
{
	struct resp r;
	size_t big = 70 * 1024;
	char *body = malloc(big);
	memset(body, 'A', big);
	start("127.0.0.1", NULL, &full_hooks);

	/* announced length over the limit: 413 before the body is read */
	int fd = connect_server();
	char head[256];
	int n = snprintf(head, sizeof(head), "POST /v1/check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n", big);
	send_all(fd, head, (size_t)n);
	memset(&r, 0, sizeof(r));
	read_response(fd, &r);
	close(fd);
	ck_assert_int_eq(r.status, 413);
	resp_free(&r);

	/* and with the body sent along */
	http("POST", "/v1/check", NULL, body, big, &r);
	ck_assert_int_eq(r.status, 413);
	resp_free(&r);

	/* exactly 64 KiB is accepted (and is not a certificate) */
	http("POST", "/v1/check", NULL, body, 64 * 1024, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);

	/* chunked, no length: cut off at 64 KiB; MHD 0.9.75 cannot queue an answer
	 * in the middle of a body, so the connection is closed (413 if it ever can) */
	fd = connect_server();
	n = snprintf(head, sizeof(head), "POST /v1/check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n");
	send_all(fd, head, (size_t)n);
	for (int i = 0; i < 70; i++) {
		char sz[16];
		send_all(fd, sz, (size_t)snprintf(sz, sizeof(sz), "400\r\n"));
		send_all(fd, body, 1024);
		send_all(fd, "\r\n", 2);
	}
	send_all(fd, "0\r\n\r\n", 5);
	memset(&r, 0, sizeof(r));
	read_response(fd, &r);
	close(fd);
	ck_assert(r.closed_early || r.status == 413);
	resp_free(&r);

	/* the server is still fine */
	expect("GET", "/v1/health", 200, NULL);
	free(body);
	stop();
}
END_TEST

static char *url_escape(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '+')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

static void authz(const char *escaped_pem, struct resp *r)
{
	char extra[8192] = "";
	if (escaped_pem != NULL)
		snprintf(extra, sizeof(extra), "X-SSL-Client-Cert: %s\r\n", escaped_pem);
	http("GET", "/v1/authz", extra, NULL, 0, r);
}

START_TEST(authz_route)
{
	struct resp r;
	start("127.0.0.1", NULL, &full_hooks);
	char *allow = url_escape(pem_allow);
	char *deny = url_escape(pem_deny);

	authz(allow, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(header(&r, "X-Certgate-Entry"), "uid=alice,ou=people,dc=example,dc=org");
	/* CR LF in a subject cannot split the header */
	ck_assert_str_eq(header(&r, "X-Certgate-Subject"), "CN=alice,O=Example%0D%0AX-Evil: 1");
	ck_assert_ptr_null(header(&r, "X-Evil"));
	resp_free(&r);
	ck_assert_str_eq(last_pem, pem_allow);      /* '+' stays '+' */

	authz(deny, &r);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_null(header(&r, "X-Certgate-Entry"));
	resp_free(&r);
	authz(NULL, &r);
	ck_assert_int_eq(r.status, 403);
	resp_free(&r);
	static const char *const junk[] = { "%zz", "abc%4", "%00", "garbage", "%" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		authz(junk[i], &r);
		ck_assert_msg(r.status == 403, "%s: %d", junk[i], r.status);
		resp_free(&r);
	}
	free(allow);
	free(deny);
	stop();
}
END_TEST

START_TEST(cache_and_reload)
{
	struct resp r;
	char path[128];
	start("127.0.0.1", NULL, &full_hooks);
	get("/v1/cache", &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = body_json(&r);
	ck_assert(json_is_true(json_object_get(j, "enabled")));
	json_decref(j);
	resp_free(&r);
	expect("DELETE", "/v1/cache", 200, NULL);
	snprintf(path, sizeof(path), "/v1/cache/%064d", 0);
	expect("DELETE", path, 404, "not_found");
	snprintf(path, sizeof(path), "/v1/cache/%s", "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789");
	http("DELETE", path, NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "dropped")),
			 "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	json_decref(j);
	resp_free(&r);
	expect("DELETE", "/v1/cache/xyz", 400, "bad_request");
	snprintf(path, sizeof(path), "/v1/cache/%065d", 1);
	expect("DELETE", path, 400, "bad_request");
	expect("GET", "/v1/cache/abc", 405, "method_not_allowed");

	http("POST", "/v1/reload", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "generation")), 2);
	json_decref(j);
	resp_free(&r);
	reload_ok = false;
	http("POST", "/v1/reload", NULL, "", 0, &r);
	ck_assert_int_eq(r.status, 400);
	j = body_json(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "errors")), 1);
	json_decref(j);
	resp_free(&r);
	stop();

	/* no cache hooks: disabled */
	struct api_hooks no_cache = full_hooks;
	no_cache.cache_info = NULL;
	no_cache.cache_flush = NULL;
	no_cache.cache_drop = NULL;
	start("127.0.0.1", NULL, &no_cache);
	get("/v1/cache", &r);
	ck_assert_int_eq(r.status, 200);
	j = body_json(&r);
	ck_assert(json_is_false(json_object_get(j, "enabled")));
	json_decref(j);
	resp_free(&r);
	expect("DELETE", "/v1/cache", 409, "cache_disabled");
	snprintf(path, sizeof(path), "/v1/cache/%064d", 1);
	expect("DELETE", path, 409, "cache_disabled");
	stop();

	/* no hooks at all: 501 where the server must answer, authz fails closed */
	struct api_hooks none = { 0 };
	start("127.0.0.1", NULL, &none);
	expect("GET", "/v1/health", 501, "not_implemented");
	expect("POST", "/v1/reload", 501, "not_implemented");
	authz("x", &r);
	ck_assert_int_eq(r.status, 403);
	resp_free(&r);
	stop();
}
END_TEST

START_TEST(token_auth)
{
	struct resp r;
	start("127.0.0.1", "s3cret-token", &full_hooks);
	static const char *const wrong[] = {
		NULL, "Authorization: Bearer s3cret-tokex\r\n", "Authorization: Bearer s3cret\r\n",
		"Authorization: Bearer s3cret-token-and-more\r\n", "Authorization: Basic czNjcmV0\r\n",
		"Authorization: Bearer \r\n", "Authorization: s3cret-token\r\n",
	};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		http("GET", "/v1/stats", wrong[i], NULL, 0, &r);
		ck_assert_msg(r.status == 401, "%s: %d", wrong[i] != NULL ? wrong[i] : "(none)", r.status);
		ck_assert_ptr_nonnull(header(&r, "WWW-Authenticate"));
		ck_assert_int_eq(strncmp(header(&r, "WWW-Authenticate"), "Bearer", 6), 0);
		json_t *j = body_json(&r);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
				 "unauthorized");
		json_decref(j);
		resp_free(&r);
	}
	/* unknown paths are 401 too: nothing is revealed without the token */
	http("GET", "/nope", NULL, NULL, 0, &r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	http("GET", "/v1/stats", "Authorization: Bearer s3cret-token\r\n", NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	http("GET", "/metrics", "Authorization: bearer s3cret-token\r\n", NULL, 0, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	http("GET", "/nope", "Authorization: Bearer s3cret-token\r\n", NULL, 0, &r);
	ck_assert_int_eq(r.status, 404);
	resp_free(&r);
	/* an oversized body without the token: 401, not 413 */
	http("POST", "/v1/check", NULL, "x", 1, &r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	stop();
}
END_TEST

START_TEST(metrics_format)
{
	struct resp r;
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^[a-zA-Z_:][a-zA-Z0-9_:]*"
				 "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\\})?"
				 " -?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$", REG_EXTENDED | REG_NOSUB), 0);
	start("127.0.0.1", NULL, &full_hooks);
	api_stats_handshake(api_stats_worker(stats, 0), CG_REASON_OK, 1234);
	api_stats_conn_open(api_stats_worker(stats, 1));
	get("/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	unsigned samples = 0;
	for (char *line = strtok(r.body, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (line[0] == '#') {
			ck_assert(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
			continue;
		}
		ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "bad metrics line: %s", line);
		samples++;
	}
	ck_assert_uint_gt(samples, 40);
	resp_free(&r);
	regfree(&re);
	stop();
}
END_TEST

START_TEST(ipv6_listen)
{
	char err[256];
	struct api_journal *j = NULL;
	struct api_stats *s = api_stats_create(1);
	struct api_http *h = NULL;
	ck_assert_int_eq(api_journal_create(10, NULL, API_FSYNC_NEVER, &j, err, sizeof(err)), CG_OK);
	if (api_http_start("::1", 0, NULL, &full_hooks, j, s, &h, err, sizeof(err)) == CG_OK) {
		struct resp r;
		server = h;
		port = api_http_port(h);
		family = AF_INET6;
		get("/v1/health", &r);
		ck_assert_int_eq(r.status, 200);
		resp_free(&r);
		api_http_stop(h);
		server = NULL;
	}
	/* junk host names are refused */
	ck_assert_int_ne(api_http_start("not an address", 0, NULL, &full_hooks, j, s, &h, err, sizeof(err)), CG_OK);
	api_journal_destroy(j);
	api_stats_free(s);
}
END_TEST

START_TEST(helpers)
{
	ck_assert(api_addr_is_loopback("127.0.0.1"));
	ck_assert(api_addr_is_loopback("127.9.8.7"));
	ck_assert(api_addr_is_loopback("::1"));
	ck_assert(api_addr_is_loopback("::ffff:127.0.0.1"));
	ck_assert(api_addr_is_loopback("localhost"));
	ck_assert(!api_addr_is_loopback("0.0.0.0"));
	ck_assert(!api_addr_is_loopback("::"));
	ck_assert(!api_addr_is_loopback("10.0.0.1"));
	ck_assert(!api_addr_is_loopback("128.0.0.1"));
	ck_assert(!api_addr_is_loopback("localhost.example.org"));
	ck_assert(!api_addr_is_loopback(""));

	char out[64];
	size_t len;
	ck_assert_int_eq(api_url_decode("a%2Bb+c%0A", 10, out, sizeof(out), &len), CG_OK);
	ck_assert_str_eq(out, "a+b+c\n");
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(api_url_decode("%4", 2, out, sizeof(out), &len), CG_ERR_ARG);
	ck_assert_int_eq(api_url_decode("%", 1, out, sizeof(out), &len), CG_ERR_ARG);
	ck_assert_int_eq(api_url_decode("%g0", 3, out, sizeof(out), &len), CG_ERR_ARG);
	ck_assert_int_eq(api_url_decode("%00", 3, out, sizeof(out), &len), CG_ERR_ARG);
	ck_assert_int_eq(api_url_decode("abcd", 4, out, 4, &len), CG_ERR_RANGE);
	ck_assert_int_eq(api_url_decode("abc", 3, out, 4, &len), CG_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("api_http");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, NULL, stop);
	tcase_add_test(tc, routes_and_statuses);
	tcase_add_test(tc, bad_queries);
	tcase_add_test(tc, check_route);
	tcase_add_test(tc, body_limits);
	tcase_add_test(tc, authz_route);
	tcase_add_test(tc, cache_and_reload);
	tcase_add_test(tc, token_auth);
	tcase_add_test(tc, metrics_format);
	tcase_add_test(tc, ipv6_listen);
	tcase_add_test(tc, helpers);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
