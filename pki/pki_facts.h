/* Certificate facts: everything certgate reads out of a client certificate,
 * extracted once (after the chain is verified) and then read-only. Every
 * string is NUL-terminated and bounded; an attribute value that holds a NUL
 * byte, is not valid UTF-8 or is longer than 1024 bytes is left out of the
 * convenience fields (cn, uid, email, o, ou: NULL, so rules that need it are
 * skipped) but stays, escaped, in the RFC 4514 DN strings (a value GnuTLS
 * cannot decode as text appears as "#" + the hex of its BER, never truncated).
 * SAN values under the same conditions are left out of the SAN lists. */
#ifndef PKI_FACTS_H
#define PKI_FACTS_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "common/cg_err.h"

#define PKI_MAX_DN_LEN     8192  /* longer subject or issuer DNs are rejected */
#define PKI_MAX_SANS       64    /* per type; more are ignored */
#define PKI_MAX_SERIAL     20    /* RFC 5280 */

struct pki_strlist {
	char **v;
	size_t n;
};

struct pki_facts {
	gnutls_datum_t der;          /* own copy of the DER certificate */
	char *subject_dn;            /* RFC 4514 (least significant RDN first) */
	char *subject_dn_x500;       /* most significant RDN first, comma-joined (AD "X509:<S>") */
	char *issuer_dn;
	char *issuer_dn_x500;
	char *cn, *uid, *email, *o, *ou; /* first value of each subject attribute in RFC 4514
					  * order (least significant RDN first), or NULL */
	struct pki_strlist san_email, san_dns, san_uri, san_upn;
	uint8_t serial[PKI_MAX_SERIAL + 1];        /* as in DER: 21 bytes only with a leading 00 */
	size_t serial_len;
	char serial_hex[2 * PKI_MAX_SERIAL + 3];   /* lower-case, leading zero bytes kept as in DER */
	char serial_dec[64];                       /* decimal (of the unsigned magnitude) */
	uint8_t sha256[32];
	char sha256_hex[65];
	char sha1_hex[41];
	char spki_sha256_hex[65];                  /* "" when GnuTLS cannot read the key */
	char *ski_hex;                             /* NULL when the extension is absent */
	time_t not_before, not_after;
	unsigned key_usage;                        /* GNUTLS_KEY_* bits; 0 when absent */
	bool has_key_usage;
	struct pki_strlist eku;                    /* OIDs */
	char key_alg[32];                          /* "ECDSA-P256", "RSA-3072", ... or "unknown" */
	char sig_alg[48];                          /* "ECDSA-SHA256", ... */
};

/* Parse a DER certificate and extract every fact. On CG_OK *out is the
 * caller's (pki_facts_free). Hostile input: malformed DER, over-long names
 * (> PKI_MAX_DN_LEN) or a serial over 20 bytes are CG_ERR_PKI. */
CG_MUST_CHECK enum cg_err pki_facts_from_der(const gnutls_datum_t *der, struct pki_facts **out);
/* Same, from the first certificate of a PEM text. */
CG_MUST_CHECK enum cg_err pki_facts_from_pem(const char *pem, size_t len, struct pki_facts **out);
void pki_facts_free(struct pki_facts *f);

/* Serial renderings used by the template modifiers; out must hold
 * sizeof(f->serial_hex) bytes (2 * serial_len + 1; a shorter out gets "").
 * hex_u: upper-case; hex_r / hex_ur: bytes reversed (AD "<SR>"). */
void pki_serial_hex(const struct pki_facts *f, bool upper, bool reversed, char *out, size_t len);

#endif
