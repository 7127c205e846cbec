/* The directory decision for one certificate on one bound LDAP handle:
 * rules in order, the entry, the presence check (DER compared byte for byte
 * by certgate, never by the server), deny_filter and require_group.
 * Blocking: runs on a pool thread or in `certgate check`, never on a worker. */
#ifndef DIR_CHECK_H
#define DIR_CHECK_H

#include <jansson.h>
#include <ldap.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/cg_reason.h"
#include "ldap/dir_config.h"
#include "pki/pki_facts.h"

#define DIR_MAX_CANDIDATES 16

struct dir_result {
	enum cg_reason reason;     /* ok or one of the directory reasons */
	char *rule;                /* the rule that found the entry, or NULL */
	char *entry;               /* the entry DN, or NULL */
	char *candidates[DIR_MAX_CANDIDATES]; /* every DN found when ambiguous */
	size_t n_candidates;
	char detail[256];          /* "entry has 1 certificate, none matches" */
	uint64_t latency_us;
	json_t *explain;           /* the trace when asked for (certgate check), else NULL */
};

/* Decide for f on ld (bound). anchor_sha256 is the hex SHA-256 of the chain's
 * trust anchor ("" if unknown). Always fills *out (free with dir_result_clear):
 * CG_REASON_DIRECTORY_UNAVAILABLE on any LDAP error, timeout or oversized
 * answer. Returns CG_ERR_DIR when the handle looks broken and should be
 * reconnected, else CG_OK. */
enum cg_err dir_check_run(LDAP *ld, const struct dir_config *c, const struct pki_facts *f,
			  const char *anchor_sha256, bool want_explain, struct dir_result *out);
void dir_result_clear(struct dir_result *r);

#endif
