/* The server's side of the admin API: the hook table api/ calls into, the
 * registry of open connections, and the process-wide journal and stats. */
#ifndef SRV_API_H
#define SRV_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "api/api_http.h"
#include "api/api_journal.h"
#include "api/api_stats.h"
#include "ldap/dir_cache.h"
#include "ldap/dir_pool.h"

struct srv_conn;

/* Process-wide state the hooks read; set up by srv_serve_main. */
struct srv_api_state {
	struct api_journal *journal;
	struct api_stats *stats;
	struct dir_pool *pool;
	struct dir_cache *cache;          /* NULL without a directory */
	uint64_t started_mono_ms;
	time_t last_reload;
	atomic_bool reloading;
	atomic_bool stopping;
};

extern struct srv_api_state srv_api;

/* Fill hooks with the server's implementations (the cache hooks only when the
 * decision cache is enabled). */
void srv_api_hooks_init(struct api_hooks *hooks);

/* Registry of open (allowed) connections for GET /v1/connections. */
void srv_api_conn_register(struct srv_conn *c);
void srv_api_conn_unregister(struct srv_conn *c);

#endif
