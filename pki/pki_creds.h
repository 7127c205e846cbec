/* Server credentials: certificate chain (leaf first) and private key. */
#ifndef PKI_CREDS_H
#define PKI_CREDS_H

#include <gnutls/gnutls.h>
#include <stddef.h>
#include "common/cg_err.h"

/* Load cert_file (PEM chain, leaf first) and key_file (PEM, ECDSA or RSA,
 * PKCS#8 or traditional, unencrypted) and check that they match. On CG_OK
 * *out is the caller's (gnutls_certificate_free_credentials). On failure
 * err names the file and the GnuTLS reason; key material is never logged. */
CG_MUST_CHECK enum cg_err pki_creds_load(const char *cert_file, const char *key_file,
					 gnutls_certificate_credentials_t *out, char *err, size_t errlen);

#endif
