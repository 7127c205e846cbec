/* Server credentials: the certificate chain and private key GnuTLS presents
 * to clients. Error text names the file and GnuTLS's reason, never the key. */
#include "pki/pki_creds.h"

#include <stdio.h>

enum cg_err pki_creds_load(const char *cert_file, const char *key_file,
			   gnutls_certificate_credentials_t *out, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t c = NULL;
	enum cg_err r = CG_ERR_PKI;
	int rc;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (gnutls_certificate_allocate_credentials(&c) < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return CG_ERR_NOMEM;
	}
	/* returns the index of the new certificate-key pair (>= 0) on success */
	rc = gnutls_certificate_set_x509_key_file2(c, cert_file, key_file, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "cert %s / key %s: %s", cert_file, key_file, gnutls_strerror(rc));
		goto out;
	}
	*out = c;
	c = NULL;
	r = CG_OK;
out:
	if (c != NULL)
		gnutls_certificate_free_credentials(c);
	return r;
}
