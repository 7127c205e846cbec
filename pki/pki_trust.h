/* Trust anchors and CRLs: loaded once per runtime into a GnuTLS trust list,
 * then read-only and shared by every worker. */
#ifndef PKI_TRUST_H
#define PKI_TRUST_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stddef.h>
#include <time.h>
#include "common/cg_err.h"

struct pki_trust;

/* Load every anchor from ca_paths (each a PEM file or a directory of PEM
 * files) and every CRL from crl_paths (PEM). Zero anchors is an error; a
 * CRL whose issuer is not an anchor (GnuTLS would drop it silently) is an
 * error; an unreadable or malformed file is an error. On failure err holds
 * a message naming the file. On CG_OK *out is the caller's (pki_trust_free). */
CG_MUST_CHECK enum cg_err pki_trust_load(const char *const *ca_paths, size_t n_ca,
					 const char *const *crl_paths, size_t n_crl,
					 struct pki_trust **out, char *err, size_t errlen);
void pki_trust_free(struct pki_trust *t);

gnutls_x509_trust_list_t pki_trust_list(const struct pki_trust *t);
size_t pki_trust_anchor_count(const struct pki_trust *t);
size_t pki_trust_crl_count(const struct pki_trust *t);
/* Earliest nextUpdate of the loaded CRLs, or 0 when there are none. */
time_t pki_trust_crl_next_update(const struct pki_trust *t);

#endif
