/* Names of the decision reason codes (DESIGN.md §6). */
#include "cg_reason.h"

#include <string.h>

static const char *const names[CG_REASON__COUNT] = {
	[CG_REASON_OK] = "ok",
	[CG_REASON_NO_CLIENT_CERT] = "no_client_cert",
	[CG_REASON_UNTRUSTED_ISSUER] = "untrusted_issuer",
	[CG_REASON_CERT_EXPIRED] = "cert_expired",
	[CG_REASON_CERT_NOT_YET_VALID] = "cert_not_yet_valid",
	[CG_REASON_CERT_REVOKED] = "cert_revoked",
	[CG_REASON_BAD_SIGNATURE] = "bad_signature",
	[CG_REASON_EKU_MISMATCH] = "eku_mismatch",
	[CG_REASON_PROTOCOL_VERSION] = "protocol_version",
	[CG_REASON_HANDSHAKE_FAILED] = "handshake_failed",
	[CG_REASON_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[CG_REASON_OVERLOADED] = "overloaded",
	[CG_REASON_NO_ENTRY] = "no_entry",
	[CG_REASON_AMBIGUOUS_ENTRY] = "ambiguous_entry",
	[CG_REASON_CERT_NOT_IN_ENTRY] = "cert_not_in_entry",
	[CG_REASON_ACCOUNT_DISABLED] = "account_disabled",
	[CG_REASON_NOT_IN_GROUP] = "not_in_group",
	[CG_REASON_DIRECTORY_UNAVAILABLE] = "directory_unavailable",
	[CG_REASON_REVOKED_LIVE] = "revoked_live",
};

const char *cg_reason_name(enum cg_reason r)
{
	if ((unsigned)r >= CG_REASON__COUNT)
		return "handshake_failed";
	return names[r];
}

int cg_reason_parse(const char *name)
{
	for (int i = 0; i < CG_REASON__COUNT; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}
