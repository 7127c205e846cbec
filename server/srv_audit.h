/* `certgate audit-directory -c FILE [--json]`: before a rollout, walk the
 * directory's certificate-holding entries and report what would surprise:
 * certificates several entries or rules reach, certificates whose mapping
 * leads to another entry or none, and stored certificates that are expired,
 * not yet valid, revoked or from an untrusted issuer. */
#ifndef SRV_AUDIT_H
#define SRV_AUDIT_H

#include <stdbool.h>

#define SRV_AUDIT_MAX_ENTRIES 100000

/* Returns the exit code: 0 nothing found, 1 findings, 2 error. */
int srv_audit_main(const char *config_path, bool json);

#endif
