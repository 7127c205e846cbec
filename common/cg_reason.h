/* The stable decision reason codes of DESIGN.md §6. The names are contract. */
#ifndef CG_REASON_H
#define CG_REASON_H

#include <stdbool.h>

enum cg_reason {
	CG_REASON_OK = 0,
	/* during the handshake */
	CG_REASON_NO_CLIENT_CERT,
	CG_REASON_UNTRUSTED_ISSUER,
	CG_REASON_CERT_EXPIRED,
	CG_REASON_CERT_NOT_YET_VALID,
	CG_REASON_CERT_REVOKED,
	CG_REASON_BAD_SIGNATURE,
	CG_REASON_EKU_MISMATCH,
	CG_REASON_PROTOCOL_VERSION,
	CG_REASON_HANDSHAKE_FAILED,
	CG_REASON_HANDSHAKE_TIMEOUT,
	CG_REASON_OVERLOADED,
	/* by the directory */
	CG_REASON_NO_ENTRY,
	CG_REASON_AMBIGUOUS_ENTRY,
	CG_REASON_CERT_NOT_IN_ENTRY,
	CG_REASON_ACCOUNT_DISABLED,
	CG_REASON_NOT_IN_GROUP,
	CG_REASON_DIRECTORY_UNAVAILABLE,
	/* an open connection closed by a re-check */
	CG_REASON_REVOKED_LIVE,
	CG_REASON__COUNT
};

/* "ok", "no_client_cert", ... */
const char *cg_reason_name(enum cg_reason r);
/* Reverse of cg_reason_name; returns -1 for an unknown name. */
int cg_reason_parse(const char *name);

#endif
