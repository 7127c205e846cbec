/* The event journal: a bounded in-memory ring of the last N events (DESIGN §7)
 * that the admin API pages through, an identities table (one row per
 * certificate seen), and an optional JSON-lines audit file written by a thread
 * of its own so that a worker never waits for the disk.
 *
 * Threads: api_journal_record() is called from many worker threads and only
 * takes a lock for a few pointer moves (no I/O, no serialisation under the
 * lock); queries come from the API threads. All functions are thread-safe. */
#ifndef API_JOURNAL_H
#define API_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "common/cg_err.h"

/* [events] fsync: always (fdatasync before the durable callback runs),
 * interval (fdatasync at most once a second), never (leave it to the kernel). */
enum api_fsync { API_FSYNC_NEVER = 0, API_FSYNC_INTERVAL, API_FSYNC_ALWAYS };

struct api_journal;

/* Called once per recorded event. written is true when the event's line is in
 * the audit file (and fdatasync'ed for fsync=always), or when there is nothing
 * to wait for (no audit file, fsync != always); false when the line could not
 * be queued or written (counted in events_dropped): the caller decides, and
 * the server fails closed. */
typedef void (*api_durable_fn)(void *arg, bool written);

#define API_EVENTS_LIMIT_DEFAULT 100
#define API_EVENTS_LIMIT_MAX     1000
#define API_IDENTITIES_MAX       100000

/* Filters for api_journal_query(); zero/NULL fields do not filter. */
struct api_event_query {
	unsigned limit;         /* 1..1000, 0 = 100 */
	uint64_t before;        /* only ids < before (0 = no bound) */
	uint64_t after;         /* only ids > after */
	const char *outcome;    /* "allowed" or "denied" */
	const char *reason;     /* a reason code name */
	const char *subject;    /* substring of cert.subject */
};

struct api_journal_counters {
	uint64_t recorded;      /* events recorded since start */
	uint64_t dropped;       /* events that did not reach the audit file */
	uint64_t written;       /* lines written to the audit file */
	uint64_t identities;    /* rows in the identities table */
};

/* Make a journal keeping the last capacity (>= 1) events. With audit_path the
 * file is opened (O_APPEND|O_CREAT, 0640) now, so a bad path fails here, and a
 * writer thread is started. On CG_OK *out is the caller's (api_journal_destroy);
 * on error err holds a message. */
CG_MUST_CHECK enum cg_err api_journal_create(size_t capacity, const char *audit_path, enum api_fsync mode,
					     struct api_journal **out, char *err, size_t errlen);

/* Write what is queued, sync, stop the writer thread and free everything.
 * Pending durable callbacks are called (written = true once the line is out).
 * NULL is a no-op. */
void api_journal_destroy(struct api_journal *j);

/* Record one event (a JSON object; the reference is stolen, also on error).
 * Sets "id" (strictly increasing from 1), keeps it in the ring (evicting the
 * oldest), updates the identities table and queues it for the audit file.
 * durable (may be NULL) is called exactly once: from the writer thread after
 * write + fdatasync with fsync=always and an audit file, else at once in the
 * caller's thread. Returns the id, 0 when event is not an object. */
uint64_t api_journal_record(struct api_journal *j, json_t *event, api_durable_fn durable, void *arg);

/* Ask the writer thread to close and reopen the audit file (SIGUSR1 after
 * logrotate renamed it). Lines of events recorded after this returns go to the
 * new file. Not async-signal-safe: call it from the main loop, not a handler. */
void api_journal_reopen(struct api_journal *j);

/* Block until every event recorded before the call has been written to the
 * audit file (and synced unless fsync=never). No-op without an audit file. */
void api_journal_flush(struct api_journal *j);

/* {"events": [newest first], "next": ID} where next (absent when nothing older
 * matches) is the value of before= for the next page. The events are shared
 * with the ring: treat them as read-only. New reference, NULL on ENOMEM or a
 * bad limit. */
json_t *api_journal_query(struct api_journal *j, const struct api_event_query *q);

/* The event with this id (new reference; read-only) or NULL when it is not (or
 * no longer) in the ring. */
json_t *api_journal_get(struct api_journal *j, uint64_t id);

/* {"identities": [{"sha256", "subject", "entry", "first_seen", "last_seen",
 * "allowed", "denied", "not_after"}...]} most recently seen first. With
 * expiring_within_s >= 0 only certificates whose not_after is at most that many
 * seconds from now (already expired ones included). New reference or NULL. */
json_t *api_identities_query(struct api_journal *j, int64_t expiring_within_s);

void api_journal_counters(struct api_journal *j, struct api_journal_counters *out);

#endif
