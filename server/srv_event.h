/* Events: one per connection attempt (DESIGN.md §7), built here and handed
 * to the journal and the log. Fields that do not apply are absent. */
#ifndef SRV_EVENT_H
#define SRV_EVENT_H

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/cg_reason.h"
#include "ldap/dir_check.h"
#include "pki/pki_facts.h"
#include "server/srv_conn.h"

struct srv_event_input {
	const char *kind;                 /* NULL, or "recheck" */
	uint64_t connection;              /* with kind: the id of the connection's first event */
	uint64_t wall_us;                 /* start of the attempt */
	const char *peer;                 /* NULL for /v1/check and `certgate check` */
	const char *listener;
	enum cg_reason reason;            /* CG_REASON_OK = allowed */
	const char *detail;               /* NULL or "" = absent */
	gnutls_session_t tls;             /* NULL = no "tls" part */
	const struct pki_facts *facts;    /* NULL = no "cert" part */
	const struct dir_result *dir;     /* NULL = no "directory" part */
	const char *cache;                /* "miss", "hit", "stale", or NULL */
	const struct srv_step *steps;     /* NULL = no "steps" */
	unsigned n_steps;
	uint64_t duration_us;
};

/* Build the event. New reference (NULL only when out of memory). */
json_t *srv_event_build(const struct srv_event_input *in);

/* Record ev (the reference is stolen): the journal assigns its id, the log
 * gets one JSON line. Returns the id. Thread-safe. */
uint64_t srv_event_emit(json_t *ev);
/* Same, and durable(arg, written) is called once the event is on disk (with
 * fsync = always and an audit log; else at once, possibly in this thread). */
uint64_t srv_event_emit_durable(json_t *ev, void (*durable)(void *arg, bool written), void *arg);

/* Where events go besides the log (set once at start-up, before workers run). */
struct api_journal;
void srv_event_set_journal(struct api_journal *j);

#endif
