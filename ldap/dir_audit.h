/* The directory walk of `certgate audit-directory`: every entry under the
 * configured rules' bases that holds a certificate, and each of its distinct
 * certificate values. Blocking, bounded; for the command line only. */
#ifndef DIR_AUDIT_H
#define DIR_AUDIT_H

#include <ldap.h>
#include <stdbool.h>
#include <stddef.h>
#include "common/cg_err.h"
#include "ldap/dir_config.h"

#define DIR_AUDIT_MAX_BASES 16

/* Called once per (entry, certificate value); der is only valid during the call. */
typedef void (*dir_audit_fn)(void *arg, const char *entry_dn, const struct berval *der);

/* Search each distinct base of the filter rules (and, when a dn = rule exists,
 * every namingContexts value of the rootDSE) for entries holding cert_attribute
 * (with or without ;binary), at most max_entries of them in all (*truncated
 * says the walk stopped early: the cap, or a size limit the server enforces
 * on the whole paged search). Searches use RFC 2696 paged results, so a
 * server's per-search page limit (AD's MaxPageSize) does not cut the walk. A base inside another is not walked twice.
 * CG_ERR_DIR with err on an LDAP failure. */
CG_MUST_CHECK enum cg_err dir_audit_scan(LDAP *ld, const struct dir_config *c, size_t max_entries,
					 dir_audit_fn fn, void *arg, bool *truncated,
					 char *err, size_t errlen);

#endif
