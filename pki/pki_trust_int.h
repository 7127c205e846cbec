/* Inside pki/ only: the shape of struct pki_trust, shared by pki_trust.c
 * (which builds it) and pki_verify.c (which finds the anchor of a chain). */
#ifndef PKI_TRUST_INT_H
#define PKI_TRUST_INT_H

#include <stdint.h>
#include "pki/pki_trust.h"

struct pki_anchor {
	gnutls_x509_crt_t crt;  /* our own copy, owned by the trust */
	uint8_t sha256[32];     /* of its DER */
};

struct pki_trust {
	gnutls_x509_trust_list_t list;  /* anchors + accepted CRLs; deinit(list, 1) */
	struct pki_anchor *anchors;
	size_t n_anchors;
	size_t n_crls;
	time_t crl_next_update;
};

/* The anchor whose DER has this SHA-256, or NULL. Borrowed from t. */
const struct pki_anchor *pki_trust_anchor_find(const struct pki_trust *t, const uint8_t sha256[32]);

#endif
