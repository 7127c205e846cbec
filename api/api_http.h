/* The admin HTTP API of DESIGN §8 on libmicrohttpd: routes, query validation,
 * bearer-token auth, body limits, JSON errors, /metrics. It runs its own
 * threads (a small MHD thread pool, since /v1/check may wait for the
 * directory) and never touches a worker. Everything it needs from the layers
 * above (the decision pipeline, health, config, cache, reload) comes through
 * struct api_hooks, which server/main.c fills in. See schema/openapi.yaml. */
#ifndef API_HTTP_H
#define API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/cg_err.h"

struct api_journal;
struct api_stats;

#define API_BODY_MAX    (64 * 1024)     /* request bodies; larger is 413 */
#define API_POOL_THREADS 4

/* Call-outs into the server. Every hook runs on an API thread, may block (up
 * to the directory timeout) and must be thread-safe. JSON results are new
 * references that the API releases. A NULL function pointer means "not
 * available": 501 for health/check/connections/config/reload (and 403 for
 * /v1/authz); for the three cache hooks it means the cache is disabled (see
 * the route notes in api_http.c and schema/openapi.yaml). */
struct api_hooks {
	void *ctx;
	/* The /v1/health object; must hold "status": "ok"|"degraded"|"down". */
	json_t *(*health)(void *ctx);
	/* Decide on one PEM certificate (len bytes, not NUL-terminated) without a
	 * handshake. CG_OK: *event is the decision as an event (no tls, no steps).
	 * CG_ERR_ARG / CG_ERR_PKI / CG_ERR_RANGE: the input is not a usable
	 * certificate (400, message in err); anything else is a server fault (500). */
	enum cg_err (*check)(void *ctx, const char *pem, size_t len, json_t **event, char *err, size_t errlen);
	/* {"connections": [{peer, subject, entry, since, bytes_in, bytes_out}...]} */
	json_t *(*connections)(void *ctx);
	/* The effective configuration with secrets already redacted. */
	json_t *(*config)(void *ctx);
	/* Reload. true: *result is {"generation": N}; false: *result is
	 * {"errors": ["FILE:LINE: message", ...]} and the old runtime is kept. */
	bool (*reload)(void *ctx, json_t **result);
	/* Cache figures, e.g. {"enabled": true, "entries": N, "max_entries": M, ...}. */
	json_t *(*cache_info)(void *ctx);
	/* Drop every cached decision; returns {"flushed": N} (or NULL on ENOMEM). */
	json_t *(*cache_flush)(void *ctx);
	/* Drop one decision by certificate SHA-256 (64 lower-case hex):
	 * CG_OK, or CG_ERR_NOTFOUND when nothing was cached for it. */
	enum cg_err (*cache_drop)(void *ctx, const char *sha256_hex);
};

struct api_http;

/* Start the admin server on host (IPv4 or IPv6 literal, or "localhost") and
 * port (0 = any free port; see api_http_port). token (NULL or "" = no auth) is
 * copied; with one, every request needs "Authorization: Bearer TOKEN". hooks,
 * j and s are borrowed and must outlive the server. On CG_OK *out is the
 * caller's (api_http_stop); on error err holds a message. */
CG_MUST_CHECK enum cg_err api_http_start(const char *host, uint16_t port, const char *token,
					 const struct api_hooks *hooks, struct api_journal *j,
					 struct api_stats *s, struct api_http **out, char *err, size_t errlen);

/* The port actually bound. */
uint16_t api_http_port(const struct api_http *h);

/* Stop listening, finish the requests in flight, join the threads, free.
 * NULL is a no-op. */
void api_http_stop(struct api_http *h);

/* true for 127.0.0.0/8, ::1 (also ::ffff:127.x.y.z) and "localhost": the
 * server refuses a non-loopback admin listen address without a token. */
bool api_addr_is_loopback(const char *host);

/* Decode nginx's $ssl_client_escaped_cert (%XX escapes; '+' is literal) into
 * out (outlen bytes, NUL-terminated). CG_ERR_ARG on a bad escape or an
 * escaped NUL, CG_ERR_RANGE when it does not fit. On CG_OK *len is the
 * decoded length. Exposed for tests and fuzzing. */
CG_MUST_CHECK enum cg_err api_url_decode(const char *in, size_t inlen, char *out, size_t outlen, size_t *len);

#endif
