/* The admin HTTP API (DESIGN §8) on libmicrohttpd.
 *
 * Request life: the first call of the access handler (headers complete) checks
 * the token, the route, the method and Content-Length, and answers 401, 404,
 * 405 or 413 at once without reading a body; the next calls collect the body
 * into a buffer bounded by API_BODY_MAX (a chunked body that grows past it is
 * answered 413 if MHD still lets us, else the connection is closed); the last
 * call dispatches. Every answer is JSON except /metrics, errors are
 * {"error": {"code", "message"}}.
 *
 * Cache routes when the server has no cache (NULL cache hooks): GET /v1/cache
 * is 200 {"enabled": false}; DELETE /v1/cache and DELETE /v1/cache/SHA256 are
 * 409 cache_disabled. An unknown SHA-256 with a cache is 404. */
#include "api_http.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "api_journal.h"
#include "api_stats.h"
#include "common/cg_buf.h"
#include "common/cg_log.h"
#include "common/cg_parse.h"
#include "common/cg_reason.h"

#define API_TOKEN_MAX     512
#define SUBJECT_PARAM_MAX 256
#define HEADER_VALUE_MAX  1024          /* X-Certgate-* after escaping */
#define METRICS_MAX       (1024 * 1024)

struct api_http {
	struct MHD_Daemon *daemon;
	char token[API_TOKEN_MAX];
	size_t token_len;               /* 0 = no auth */
	struct api_hooks hooks;
	struct api_journal *journal;
	struct api_stats *stats;
	uint16_t port;
};

enum route_id {
	R_HEALTH, R_STATS, R_EVENTS, R_EVENT_ONE, R_CONNECTIONS, R_IDENTITIES, R_CHECK,
	R_AUTHZ, R_CACHE, R_CACHE_ONE, R_RELOAD, R_CONFIG, R_METRICS, R_DASHBOARD,
};

enum { M_GET = 1, M_POST = 2, M_DELETE = 4 };

struct route {
	const char *path;
	bool prefix;            /* path is "/x/" and something non-empty follows */
	enum route_id id;
	unsigned methods;
	const char *allow;
};

static const struct route routes[] = {
	{ "/v1/health", false, R_HEALTH, M_GET, "GET, HEAD" },
	{ "/v1/stats", false, R_STATS, M_GET, "GET, HEAD" },
	{ "/v1/events", false, R_EVENTS, M_GET, "GET, HEAD" },
	{ "/v1/events/", true, R_EVENT_ONE, M_GET, "GET, HEAD" },
	{ "/v1/connections", false, R_CONNECTIONS, M_GET, "GET, HEAD" },
	{ "/v1/identities", false, R_IDENTITIES, M_GET, "GET, HEAD" },
	{ "/v1/check", false, R_CHECK, M_POST, "POST" },
	{ "/v1/authz", false, R_AUTHZ, M_GET, "GET, HEAD" },
	{ "/v1/cache", false, R_CACHE, M_GET | M_DELETE, "GET, HEAD, DELETE" },
	{ "/v1/cache/", true, R_CACHE_ONE, M_DELETE, "DELETE" },
	{ "/v1/reload", false, R_RELOAD, M_POST, "POST" },
	{ "/v1/config", false, R_CONFIG, M_GET, "GET, HEAD" },
	{ "/metrics", false, R_METRICS, M_GET, "GET, HEAD" },
	{ "/", false, R_DASHBOARD, M_GET, "GET, HEAD" },
};

/* GET /: a static page that polls the API from the browser (same origin, so
 * it works where the API needs no token, or behind a proxy that adds one). */
static const char dashboard_html[] =
	"<!doctype html><html><head><meta charset=\"utf-8\"><title>certgate</title>"
	"<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}"
	"td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.denied{color:#b00}</style></head>"
	"<body><h1>certgate</h1><p id=\"h\"></p><p id=\"s\"></p><table><thead><tr><th>id</th><th>time</th>"
	"<th>peer</th><th>outcome</th><th>reason</th><th>subject</th><th>entry</th></tr></thead>"
	"<tbody id=\"e\"></tbody></table><script>"
	"function t(x){return x==null?'':String(x)}"
	"function cell(r,v){var d=document.createElement('td');d.textContent=t(v);r.appendChild(d)}"
	"async function j(u){var r=await fetch(u);return r.json()}"
	"async function tick(){try{var h=await j('/v1/health');"
	"document.getElementById('h').textContent='status: '+t(h.status)+' ('+t(h.message)+'), version '+t(h.version);"
	"var s=await j('/v1/stats');document.getElementById('s').textContent='active connections: '+"
	"t(s.connections&&s.connections.active)+', allowed: '+t(s.handshakes&&s.handshakes.allowed)+"
	"', denied: '+t(s.handshakes&&s.handshakes.denied);"
	"var e=await j('/v1/events?limit=50'),b=document.getElementById('e');b.textContent='';"
	"(e.events||[]).forEach(function(v){var r=document.createElement('tr');r.className=v.outcome;"
	"cell(r,v.id);cell(r,v.time);cell(r,v.peer);cell(r,v.outcome);cell(r,v.reason);"
	"cell(r,v.cert&&v.cert.subject);cell(r,v.directory&&v.directory.entry);b.appendChild(r)})}"
	"catch(x){document.getElementById('h').textContent='API unreachable: '+x}}"
	"tick();setInterval(tick,5000);</script></body></html>\n";

/* Per-request state, freed in on_completed. */
struct req {
	const struct route *route;
	unsigned method;
	bool answered;          /* a response was queued before the body was read */
	struct cg_buf body;
};

struct hdr {
	const char *name;
	const char *value;
};

/* ---- responses ---- */

/* Queue buf (malloc'ed, taken in every case) as the answer. */
static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, char *buf, size_t len,
				const char *ctype, const struct hdr *hdrs, size_t nhdrs)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(buf);      /* MHD owns the buffer only once the response exists */
		return MHD_NO;
	}
	enum MHD_Result ok = MHD_YES;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
		ok = MHD_NO;
	for (size_t i = 0; i < nhdrs && ok == MHD_YES; i++)
		if (hdrs[i].value != NULL && MHD_add_response_header(resp, hdrs[i].name, hdrs[i].value) != MHD_YES)
			ok = MHD_NO;
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ok;
}

/* Queue obj (reference taken) as a JSON answer. */
static enum MHD_Result send_json_h(struct MHD_Connection *c, unsigned status, json_t *obj,
				   const struct hdr *hdrs, size_t nhdrs)
{
	static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
	char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (text == NULL) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
									    MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		enum MHD_Result r = MHD_queue_response(c, MHD_HTTP_INTERNAL_SERVER_ERROR, resp);
		MHD_destroy_response(resp);
		return r;
	}
	return send_buf(c, status, text, strlen(text), "application/json", hdrs, nhdrs);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *obj)
{
	return send_json_h(c, status, obj, NULL, 0);
}

static enum MHD_Result send_error_h(struct MHD_Connection *c, unsigned status, const char *code,
				    const char *message, const struct hdr *hdrs, size_t nhdrs)
{
	return send_json_h(c, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message),
			   hdrs, nhdrs);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
				  const char *message)
{
	return send_error_h(c, status, code, message, NULL, 0);
}

static enum MHD_Result bad_request(struct MHD_Connection *c, const char *message)
{
	return send_error(c, MHD_HTTP_BAD_REQUEST, "bad_request", message);
}

static enum MHD_Result not_implemented(struct MHD_Connection *c)
{
	return send_error(c, MHD_HTTP_NOT_IMPLEMENTED, "not_implemented", "not available in this server");
}

/* ---- query parameters ---- */

#define MAX_PARAMS 8

struct params {
	const char *const *allowed;     /* NULL-terminated */
	const char *value[MAX_PARAMS];  /* by index in allowed */
	char msg[160];                  /* first problem, "" if none */
};

static enum MHD_Result param_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				const char *value, size_t value_size)
{
	struct params *p = cls;
	(void)kind;
	for (unsigned i = 0; p->allowed[i] != NULL && i < MAX_PARAMS; i++) {
		if (strcmp(key, p->allowed[i]) != 0 || strlen(key) != key_size)
			continue;
		if (p->value[i] != NULL) {
			snprintf(p->msg, sizeof(p->msg), "%s: given more than once", p->allowed[i]);
			return MHD_NO;
		}
		if (value == NULL || strlen(value) != value_size) {
			snprintf(p->msg, sizeof(p->msg), "%s: needs a value", p->allowed[i]);
			return MHD_NO;
		}
		p->value[i] = value;
		return MHD_YES;
	}
	snprintf(p->msg, sizeof(p->msg), "unknown parameter '%.64s'", key_size == strlen(key) ? key : "?");
	return MHD_NO;
}

/* Collect the query parameters; false (and p->msg) on an unknown or repeated one. */
static bool get_params(struct MHD_Connection *c, struct params *p, const char *const *allowed)
{
	memset(p, 0, sizeof(*p));
	p->allowed = allowed;
	MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, param_cb, p);
	return p->msg[0] == '\0';
}

/* ---- handlers ---- */

static enum MHD_Result h_health(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { NULL };
	struct params p;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (h->hooks.health == NULL)
		return not_implemented(c);
	json_t *o = h->hooks.health(h->hooks.ctx);
	const char *st = json_string_value(json_object_get(o, "status"));
	unsigned status = st != NULL && strcmp(st, "down") == 0 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
	return send_json(c, status, o);
}

static enum MHD_Result h_events(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { "limit", "before", "after", "outcome", "reason", "subject", NULL };
	struct params p;
	struct api_event_query q = { 0 };
	uint64_t v;

	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (p.value[0] != NULL) {
		if (cg_parse_uint(p.value[0], 1, API_EVENTS_LIMIT_MAX, &v) != CG_OK)
			return bad_request(c, "limit: must be 1..1000");
		q.limit = (unsigned)v;
	}
	if (p.value[1] != NULL) {
		if (cg_parse_uint(p.value[1], 1, INT64_MAX, &v) != CG_OK)
			return bad_request(c, "before: must be an event id");
		q.before = v;
	}
	if (p.value[2] != NULL) {
		if (cg_parse_uint(p.value[2], 0, INT64_MAX, &v) != CG_OK)
			return bad_request(c, "after: must be an event id");
		q.after = v;
	}
	if (p.value[3] != NULL) {
		if (strcmp(p.value[3], "allowed") != 0 && strcmp(p.value[3], "denied") != 0)
			return bad_request(c, "outcome: must be allowed or denied");
		q.outcome = p.value[3];
	}
	if (p.value[4] != NULL) {
		if (cg_reason_parse(p.value[4]) < 0)
			return bad_request(c, "reason: not a reason code");
		q.reason = p.value[4];
	}
	if (p.value[5] != NULL) {
		if (strlen(p.value[5]) > SUBJECT_PARAM_MAX)
			return bad_request(c, "subject: at most 256 bytes");
		q.subject = p.value[5];
	}
	return send_json(c, MHD_HTTP_OK, api_journal_query(h->journal, &q));
}

static enum MHD_Result h_event_one(struct api_http *h, struct MHD_Connection *c, const char *id_text)
{
	static const char *const names[] = { NULL };
	struct params p;
	uint64_t id;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (cg_parse_uint(id_text, 1, INT64_MAX, &id) != CG_OK)
		return bad_request(c, "id: must be an event id");
	json_t *ev = api_journal_get(h->journal, id);
	if (ev == NULL)
		return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such event (or no longer kept)");
	return send_json(c, MHD_HTTP_OK, ev);
}

static enum MHD_Result h_identities(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { "expiring", NULL };
	struct params p;
	int64_t within = -1;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (p.value[0] != NULL) {
		uint64_t ms;
		if (cg_parse_duration_ms(p.value[0], &ms) != CG_OK || ms / 1000 > (uint64_t)INT64_MAX / 2)
			return bad_request(c, "expiring: must be a duration such as 30d");
		within = (int64_t)(ms / 1000);
	}
	return send_json(c, MHD_HTTP_OK, api_identities_query(h->journal, within));
}

/* Run the check hook; on CG_OK *event is the caller's. */
static enum cg_err run_check(struct api_http *h, const char *pem, size_t len, json_t **event,
			     char *err, size_t errlen)
{
	json_t *ev = NULL;
	*event = NULL;
	snprintf(err, errlen, "not a usable certificate");
	enum cg_err r = h->hooks.check(h->hooks.ctx, pem, len, &ev, err, errlen);
	if (r == CG_OK && !json_is_object(ev))
		r = CG_ERR_IO;
	if (r != CG_OK) {
		json_decref(ev);
		return r;
	}
	*event = ev;
	return CG_OK;
}

static bool looks_like_json(struct MHD_Connection *c, const struct cg_buf *body)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct != NULL && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	size_t i = 0;
	while (i < body->len && (body->data[i] == ' ' || body->data[i] == '\t' || body->data[i] == '\r' ||
				 body->data[i] == '\n'))
		i++;
	return i < body->len && body->data[i] == '{';
}

static enum MHD_Result h_check(struct api_http *h, struct MHD_Connection *c, struct req *rq)
{
	static const char *const names[] = { NULL };
	struct params p;
	json_t *doc = NULL, *event = NULL;
	const char *pem;
	size_t len;
	char err[256];
	enum MHD_Result ret;

	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (h->hooks.check == NULL)
		return not_implemented(c);
	if (rq->body.len == 0)
		return bad_request(c, "body: a PEM certificate or {\"pem\": \"...\"} is required");
	if (looks_like_json(c, &rq->body)) {
		json_error_t jerr;
		doc = json_loadb(rq->body.data, rq->body.len, JSON_REJECT_DUPLICATES, &jerr);
		json_t *v = json_object_get(doc, "pem");
		if (!json_is_object(doc) || !json_is_string(v) || json_object_size(doc) != 1) {
			json_decref(doc);
			return bad_request(c, "body: expected {\"pem\": \"-----BEGIN CERTIFICATE-----...\"}");
		}
		pem = json_string_value(v);
		len = json_string_length(v);
	} else {
		pem = rq->body.data;
		len = rq->body.len;
	}
	enum cg_err r = run_check(h, pem, len, &event, err, sizeof(err));
	if (r == CG_OK)
		ret = send_json(c, MHD_HTTP_OK, event);
	else if (r == CG_ERR_ARG || r == CG_ERR_PKI || r == CG_ERR_RANGE)
		ret = send_error(c, MHD_HTTP_BAD_REQUEST, "bad_certificate", err);
	else
		ret = send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", err);
	json_decref(doc);
	return ret;
}

/* Header-safe copy of s into out: bytes outside printable ASCII become %XX.
 * false when it does not fit. */
static bool header_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch < 0x7f && ch != '%') {
			if (o + 1 >= outlen)
				return false;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= outlen)
				return false;
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return true;
}

static enum MHD_Result authz_deny(struct MHD_Connection *c, const char *why)
{
	return send_error(c, MHD_HTTP_FORBIDDEN, "forbidden", why);
}

/* nginx auth_request: never 5xx for what the client sent; any doubt is 403. */
static enum MHD_Result h_authz(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { NULL };
	struct params p;
	const char *raw = NULL;
	size_t rawlen = 0;
	char *pem = NULL;
	size_t len = 0;
	json_t *event = NULL;
	char err[256];
	enum MHD_Result ret;

	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (h->hooks.check == NULL)
		return authz_deny(c, "no decision pipeline");
	if (MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, "X-SSL-Client-Cert", strlen("X-SSL-Client-Cert"),
					  &raw, &rawlen) != MHD_YES || raw == NULL || rawlen == 0)
		return authz_deny(c, "no client certificate");
	pem = malloc(rawlen + 1);
	if (pem == NULL)
		return authz_deny(c, "out of memory");
	if (api_url_decode(raw, rawlen, pem, rawlen + 1, &len) != CG_OK || len == 0) {
		ret = authz_deny(c, "malformed X-SSL-Client-Cert");
		goto out;
	}
	if (run_check(h, pem, len, &event, err, sizeof(err)) != CG_OK) {
		ret = authz_deny(c, err);
		goto out;
	}
	const char *outcome = json_string_value(json_object_get(event, "outcome"));
	const char *reason = json_string_value(json_object_get(event, "reason"));
	if (outcome == NULL || strcmp(outcome, "allowed") != 0) {
		ret = authz_deny(c, reason != NULL ? reason : "denied");
		goto out;
	}
	const char *entry = json_string_value(json_object_get(json_object_get(event, "directory"), "entry"));
	const char *subject = json_string_value(json_object_get(json_object_get(event, "cert"), "subject"));
	char entry_h[HEADER_VALUE_MAX], subject_h[HEADER_VALUE_MAX];
	struct hdr hdrs[2] = {
		{ "X-Certgate-Entry", NULL }, { "X-Certgate-Subject", NULL },
	};
	if (entry != NULL && header_escape(entry, entry_h, sizeof(entry_h)))
		hdrs[0].value = entry_h;
	if (subject != NULL && header_escape(subject, subject_h, sizeof(subject_h)))
		hdrs[1].value = subject_h;
	/* a check is not recorded: no event id (fields that do not apply are absent) */
	json_t *body = json_pack("{s:s, s:s*, s:s*}", "outcome", "allowed", "subject", subject, "entry", entry);
	ret = send_json_h(c, MHD_HTTP_OK, body, hdrs, 2);
out:
	json_decref(event);
	free(pem);
	return ret;
}

static bool parse_sha256(const char *s, char out[65])
{
	size_t n = 0;
	for (; s[n] != '\0' && n < 64; n++) {
		char ch = s[n];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
		out[n] = ch;
	}
	out[n] = '\0';
	return n == 64 && s[64] == '\0';
}

static enum MHD_Result h_cache(struct api_http *h, struct MHD_Connection *c, struct req *rq)
{
	static const char *const names[] = { NULL };
	struct params p;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (rq->method == M_DELETE) {
		if (h->hooks.cache_flush == NULL)
			return send_error(c, MHD_HTTP_CONFLICT, "cache_disabled", "the decision cache is off");
		return send_json(c, MHD_HTTP_OK, h->hooks.cache_flush(h->hooks.ctx));
	}
	if (h->hooks.cache_info == NULL)
		return send_json(c, MHD_HTTP_OK, json_pack("{s:b}", "enabled", 0));
	return send_json(c, MHD_HTTP_OK, h->hooks.cache_info(h->hooks.ctx));
}

static enum MHD_Result h_cache_one(struct api_http *h, struct MHD_Connection *c, const char *hex)
{
	static const char *const names[] = { NULL };
	struct params p;
	char sha[65];
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (!parse_sha256(hex, sha))
		return bad_request(c, "sha256: must be 64 hex digits");
	if (h->hooks.cache_drop == NULL)
		return send_error(c, MHD_HTTP_CONFLICT, "cache_disabled", "the decision cache is off");
	enum cg_err r = h->hooks.cache_drop(h->hooks.ctx, sha);
	if (r == CG_ERR_NOTFOUND)
		return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no cached decision for this certificate");
	if (r != CG_OK)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", cg_err_name(r));
	return send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "dropped", sha));
}

static enum MHD_Result h_reload(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { NULL };
	struct params p;
	json_t *result = NULL;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (h->hooks.reload == NULL)
		return not_implemented(c);
	bool ok = h->hooks.reload(h->hooks.ctx, &result);
	return send_json(c, ok ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST, result);
}

static enum MHD_Result h_simple(struct MHD_Connection *c, json_t *(*fn)(void *), void *ctx)
{
	static const char *const names[] = { NULL };
	struct params p;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	if (fn == NULL)
		return not_implemented(c);
	return send_json(c, MHD_HTTP_OK, fn(ctx));
}

static enum MHD_Result h_metrics(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { NULL };
	struct params p;
	struct cg_buf out;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	cg_buf_init(&out, METRICS_MAX);
	if (api_metrics_render(h->stats, h->journal, &out) != CG_OK || out.data == NULL) {
		cg_buf_free(&out);
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "cannot render metrics");
	}
	size_t len = out.len;
	return send_buf(c, MHD_HTTP_OK, cg_buf_steal(&out), len, "text/plain; version=0.0.4; charset=utf-8",
			NULL, 0);
}

static enum MHD_Result h_stats(struct api_http *h, struct MHD_Connection *c)
{
	static const char *const names[] = { NULL };
	struct params p;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	return send_json(c, MHD_HTTP_OK, api_stats_json(h->stats, h->journal));
}

static enum MHD_Result h_dashboard(struct MHD_Connection *c)
{
	static const char *const names[] = { NULL };
	struct params p;
	if (!get_params(c, &p, names))
		return bad_request(c, p.msg);
	char *page = strdup(dashboard_html);
	if (page == NULL)
		return MHD_NO;
	return send_buf(c, MHD_HTTP_OK, page, strlen(page), "text/html; charset=utf-8", NULL, 0);
}

static enum MHD_Result dispatch(struct api_http *h, struct MHD_Connection *c, struct req *rq, const char *url)
{
	const char *rest = url + strlen(rq->route->path);
	switch (rq->route->id) {
	case R_HEALTH:          return h_health(h, c);
	case R_STATS:           return h_stats(h, c);
	case R_EVENTS:          return h_events(h, c);
	case R_EVENT_ONE:       return h_event_one(h, c, rest);
	case R_CONNECTIONS:     return h_simple(c, h->hooks.connections, h->hooks.ctx);
	case R_IDENTITIES:      return h_identities(h, c);
	case R_CHECK:           return h_check(h, c, rq);
	case R_AUTHZ:           return h_authz(h, c);
	case R_CACHE:           return h_cache(h, c, rq);
	case R_CACHE_ONE:       return h_cache_one(h, c, rest);
	case R_RELOAD:          return h_reload(h, c);
	case R_CONFIG:          return h_simple(c, h->hooks.config, h->hooks.ctx);
	case R_METRICS:         return h_metrics(h, c);
	case R_DASHBOARD:       return h_dashboard(c);
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
}

/* ---- request plumbing ---- */

static const struct route *find_route(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);
		if (r->prefix ? strncmp(url, r->path, n) == 0 && url[n] != '\0' : strcmp(url, r->path) == 0)
			return r;
	}
	return NULL;
}

static unsigned method_bit(const char *m)
{
	if (strcmp(m, MHD_HTTP_METHOD_GET) == 0 || strcmp(m, MHD_HTTP_METHOD_HEAD) == 0)
		return M_GET;
	if (strcmp(m, MHD_HTTP_METHOD_POST) == 0)
		return M_POST;
	if (strcmp(m, MHD_HTTP_METHOD_DELETE) == 0)
		return M_DELETE;
	return 0;
}

/* Constant time in the configured token's length: the presented token is
 * copied into a buffer of that length and compared as a whole; its own length
 * is compared last without a branch on the content. */
static bool authorized(const struct api_http *h, struct MHD_Connection *c)
{
	char given[API_TOKEN_MAX];
	if (h->token_len == 0)
		return true;
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	const char *p = auth + 7;
	size_t plen = strlen(p);
	memset(given, 0, h->token_len);
	memcpy(given, p, plen < h->token_len ? plen : h->token_len);
	int diff = cg_memcmp_ct(given, h->token, h->token_len);
	return ((diff == 0) & (plen == h->token_len)) != 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct api_http *h = cls;
	struct req *rq = *con_cls;
	(void)version;

	if (rq == NULL) {
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		cg_buf_init(&rq->body, API_BODY_MAX);
		*con_cls = rq;
		rq->answered = true;    /* unless we decide to read on */
		if (!authorized(h, c)) {
			struct hdr www = { MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"certgate\"" };
			return send_error_h(c, MHD_HTTP_UNAUTHORIZED, "unauthorized", "a valid bearer token is required",
					    &www, 1);
		}
		rq->route = find_route(url);
		if (rq->route == NULL)
			return send_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such path");
		rq->method = method_bit(method);
		if ((rq->method & rq->route->methods) == 0) {
			struct hdr allow = { MHD_HTTP_HEADER_ALLOW, rq->route->allow };
			return send_error_h(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
					    "method not allowed on this path", &allow, 1);
		}
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t clen;
		if (cl != NULL && (cg_parse_uint(cl, 0, API_BODY_MAX, &clen) != CG_OK))
			return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
					  "request bodies are limited to 64 KiB");
		rq->answered = false;
		return MHD_YES;
	}
	if (rq->answered) {             /* discard whatever MHD still hands us */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (cg_buf_append(&rq->body, upload_data, *upload_data_size) != CG_OK) {
			rq->answered = true;
			*upload_data_size = 0;
			cg_buf_free(&rq->body);
			return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large",
					  "request bodies are limited to 64 KiB");
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	rq->answered = true;
	return dispatch(h, c, rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (rq == NULL)
		return;
	cg_buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	cg_warn("admin api: %s", msg);
}

/* ---- public ---- */

enum cg_err api_url_decode(const char *in, size_t inlen, char *out, size_t outlen, size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < inlen; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == '%') {
			int v = 0;
			if (inlen - i < 3)
				return CG_ERR_ARG;
			for (int k = 1; k <= 2; k++) {
				unsigned char d = (unsigned char)in[i + (size_t)k];
				v <<= 4;
				if (d >= '0' && d <= '9')
					v |= d - '0';
				else if (d >= 'a' && d <= 'f')
					v |= d - 'a' + 10;
				else if (d >= 'A' && d <= 'F')
					v |= d - 'A' + 10;
				else
					return CG_ERR_ARG;
			}
			ch = (unsigned char)v;
			i += 2;
		}
		if (ch == '\0')
			return CG_ERR_ARG;
		if (o + 1 >= outlen)
			return CG_ERR_RANGE;
		out[o++] = (char)ch;
	}
	if (outlen == 0)
		return CG_ERR_RANGE;
	out[o] = '\0';
	*len = o;
	return CG_OK;
}

bool api_addr_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (host == NULL)
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

enum cg_err api_http_start(const char *host, uint16_t port, const char *token, const struct api_hooks *hooks,
			   struct api_journal *j, struct api_stats *s, struct api_http **out, char *err, size_t errlen)
{
	struct api_http *h = NULL;
	struct addrinfo hints = { 0 }, *ai = NULL;
	enum cg_err r = CG_ERR_ARG;
	char portstr[8];

	*out = NULL;
	if (host == NULL || hooks == NULL || j == NULL || s == NULL) {
		snprintf(err, errlen, "admin api: missing argument");
		return CG_ERR_ARG;
	}
	if (token != NULL && strlen(token) >= API_TOKEN_MAX) {
		snprintf(err, errlen, "admin token longer than %d bytes", API_TOKEN_MAX - 1);
		return CG_ERR_ARG;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return CG_ERR_NOMEM;
	}
	if (token != NULL) {
		h->token_len = strlen(token);
		memcpy(h->token, token, h->token_len);
	}
	h->hooks = *hooks;
	h->journal = j;
	h->stats = s;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (strcasecmp(host, "localhost") == 0 ? 0 : AI_NUMERICHOST);
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	int gai = getaddrinfo(host, portstr, &hints, &ai);
	if (gai != 0 || ai == NULL) {
		snprintf(err, errlen, "admin listen %s: %s", host, gai != 0 ? gai_strerror(gai) : "no address");
		goto out;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(flags, port, NULL, NULL, on_request, h,
				     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				     MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)API_POOL_THREADS,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)128,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
				     MHD_OPTION_END);
	if (h->daemon == NULL) {
		snprintf(err, errlen, "admin listen %s:%u: cannot start the HTTP server (address in use?)",
			 host, (unsigned)port);
		r = CG_ERR_IO;
		goto out;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info != NULL && info->port != 0 ? info->port : port;
	*out = h;
	h = NULL;
	r = CG_OK;
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	if (h != NULL) {
		explicit_bzero(h->token, sizeof(h->token));
		free(h);
	}
	return r;
}

uint16_t api_http_port(const struct api_http *h)
{
	return h->port;
}

void api_http_stop(struct api_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	explicit_bzero(h->token, sizeof(h->token));
	free(h);
}
