/* Chain and policy verification of a client chain, turning GnuTLS's status
 * bits into the reason codes of DESIGN.md §6. Pure CPU, no I/O: safe on a worker. */
#ifndef PKI_VERIFY_H
#define PKI_VERIFY_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include <time.h>
#include "common/cg_reason.h"
#include "pki/pki_trust.h"

struct pki_policy {
	const char *eku_oid;     /* required EKU OID (clientAuth = GNUTLS_KP_TLS_WWW_CLIENT), NULL = any */
	unsigned max_chain_depth; /* certificates in the presented chain, leaf included */
};

struct pki_verdict {
	enum cg_reason reason;   /* CG_REASON_OK or a chain reason */
	char detail[256];        /* human text; "" when ok */
	char anchor_sha256[65];  /* hex SHA-256 of the trust anchor's DER that ended the chain ("" unless ok) */
};

/* Verify chain[0..n) (leaf first) against trust at time now (0 = current
 * time). Checks signature, validity, CRLs, KU digitalSignature when the
 * extension is present, EKU per policy, and the depth. Always fills *v. */
void pki_verify_chain(const struct pki_trust *trust, const gnutls_datum_t *chain, unsigned n,
		      const struct pki_policy *policy, time_t now, struct pki_verdict *v);

/* "clientAuth" → GNUTLS_KP_TLS_WWW_CLIENT, "any" → NULL (*oid), a dotted
 * OID → itself. Returns CG_ERR_ARG for anything else. *oid points into a
 * static string or into value (the caller keeps value alive). */
CG_MUST_CHECK enum cg_err pki_eku_parse(const char *value, const char **oid);

#endif
