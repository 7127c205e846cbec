/* RFC 4533 sync-based invalidation of the decision cache: one thread with its
 * own LDAP connection runs a refreshAndPersist search and drops the cached
 * decisions of every entry the directory reports as added, modified, renamed
 * or deleted; a change to the require_group entry drops every allowed
 * decision. The cache's sync health is false from the start, false at once
 * on any connection trouble, and true only once a complete refresh after
 * (re)connecting has been seen and the cache flushed. Never blocks anyone
 * but its own thread. One dir_sync belongs to one runtime (its dir_config):
 * a reload stops the old one and starts a new one. */
#ifndef DIR_SYNC_H
#define DIR_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include "common/cg_err.h"
#include "ldap/dir_cache.h"
#include "ldap/dir_config.h"

struct dir_sync;

/* Start the sync thread for cfg (borrowed: must outlive dir_sync_stop) and
 * cache (borrowed, same). Returns at once; connecting happens on the thread,
 * retrying with backoff (100 ms doubling to 5 s). On CG_OK *out is the
 * caller's (dir_sync_stop). CG_ERR_ARG when cfg has no [directory]. */
CG_MUST_CHECK enum cg_err dir_sync_start(const struct dir_config *cfg, struct dir_cache *cache,
					 struct dir_sync **out);
/* Stop and free. Returns within about max(200 ms, one connect attempt bounded
 * by cfg->timeout_ms). Marks the cache's sync unhealthy. NULL is a no-op. */
void dir_sync_stop(struct dir_sync *s);
/* True after a complete refresh on the current connection. */
bool dir_sync_healthy(struct dir_sync *s);
/* The last error ("" when none) into buf. */
void dir_sync_last_error(struct dir_sync *s, char *buf, size_t len);
/* Figures for the API: {"healthy", "uri", "last_error", "changes", "refreshes",
 * "base"} ("base" absent when the namingContexts are synced).
 * New reference, NULL on ENOMEM. */
json_t *dir_sync_json(struct dir_sync *s);

#endif
