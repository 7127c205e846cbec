/* certgate.conf: every key of DESIGN.md §5, parsed with libinih into one
 * immutable struct. Errors are collected as "FILE:LINE: message" lines;
 * every file the configuration names is checked for readability here, so
 * `certgate config-test` catches a missing key file before anything listens. */
#ifndef SRV_CONFIG_H
#define SRV_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/cg_buf.h"
#include "common/cg_err.h"
#include "ldap/dir_config.h"

#define SRV_MAX_LISTEN 16
#define SRV_MAX_PATHS  32
#define SRV_MAX_LINE   4096

struct srv_addr {
	char host[64];
	uint16_t port;
	char text[80];          /* as written: "127.0.0.1:8443", "[::1]:8443" */
};

enum srv_fsync { SRV_FSYNC_ALWAYS, SRV_FSYNC_INTERVAL, SRV_FSYNC_NEVER };
enum srv_proxy { SRV_PROXY_OFF, SRV_PROXY_V2 };

struct srv_config {
	char *path;             /* the configuration file */
	char *basedir;          /* its directory: relative paths are resolved against it */

	/* [server] */
	struct srv_addr listen[SRV_MAX_LISTEN];
	size_t n_listen;
	char *cert, *key;
	char *priority;         /* as configured; the runtime appends the hard exclusions */
	unsigned workers;       /* 0 = auto (online CPUs) */
	uint64_t max_connections;
	uint64_t handshake_timeout_ms, idle_timeout_ms, shutdown_grace_ms;
	bool has_backend;
	struct srv_addr backend;
	enum srv_proxy backend_proxy;
	bool backend_send_cert;
	char *backend_hmac_key_file;
	bool tickets;
	char *user;

	/* [pki] */
	char *ca[SRV_MAX_PATHS];
	size_t n_ca;
	char *crl[SRV_MAX_PATHS];
	size_t n_crl;
	char *require_eku;      /* text as configured */
	const char *eku_oid;    /* NULL = any; points into require_eku or a static string */
	unsigned max_chain_depth;

	/* [directory], [map:*] */
	struct dir_config dir;

	/* [cache] */
	uint64_t cache_ttl_ms, cache_negative_ttl_ms, cache_stale_ttl_ms, cache_max_entries;
	bool cache_sync;

	/* [events] */
	uint64_t events_buffer;
	char *audit_log;
	enum srv_fsync events_fsync;

	/* [admin] */
	bool has_admin;
	struct srv_addr admin_listen;
	char *admin_token_file;
	char *admin_token;      /* secret: never logged, never returned */
};

/* Parse path. On CG_OK *out is the caller's (srv_config_free). On
 * CG_ERR_CONFIG every problem found is appended to errors, one
 * "FILE:LINE: message" per line; other codes are I/O or memory failures
 * (also described in errors). */
CG_MUST_CHECK enum cg_err srv_config_load(const char *path, struct srv_config **out,
					  struct cg_buf *errors);
void srv_config_free(struct srv_config *c);

/* The effective configuration for GET /v1/config, secrets redacted (the
 * password and token files are named, their contents never). New reference. */
json_t *srv_config_to_json(const struct srv_config *c);

#endif
