/* Test helper for the pki/ unit tests: certificates, CRLs and hand-made
 * subject names built in-process with the GnuTLS API. Every function aborts
 * the test (ck_abort) on a GnuTLS failure, so callers need no checks. */
#ifndef PKI_TESTCERTS_H
#define PKI_TESTCERTS_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct tc_cert {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
	gnutls_datum_t der;      /* gnutls_malloc'd */
};

struct tc_spec {
	const char *dn;              /* RFC 4514 for gnutls_x509_crt_set_dn; NULL with cn */
	const void *cn;              /* raw CN bytes (set_dn_by_oid), may hold NUL */
	size_t cn_len;
	const uint8_t *serial;       /* NULL: 16 random bytes, positive */
	size_t serial_len;
	long nb_offset, na_offset;   /* seconds from now; 0/0 means -3600 / +30 days */
	bool ca;
	bool no_ku;                  /* omit the key usage extension */
	unsigned ku;                 /* 0: digitalSignature (leaf) or certSign|crlSign (CA) */
	const char *eku[4];          /* OIDs, NULL-terminated; eku[0] NULL: no extension */
	const char *san_email, *san_dns, *san_uri, *upn;
	bool rsa;                    /* RSA-2048 key instead of ECDSA P-256 */
	const struct tc_cert *issuer; /* NULL: self-signed */
};

/* Make a certificate per spec. Free with tc_free. */
void tc_make(const struct tc_spec *spec, struct tc_cert *out);
void tc_free(struct tc_cert *c);

/* A DER Name built from AVAs; consecutive AVAs with the same rdn number form
 * one multi-valued RDN. Returned buffer is malloc'd. */
struct tc_ava {
	unsigned rdn;
	const char *oid;     /* dotted */
	uint8_t tag;         /* ASN.1 universal tag: 0x0c UTF8String, 0x13 PrintableString, 0x16 IA5String */
	const void *value;
	size_t len;
};
uint8_t *tc_name_der(const struct tc_ava *avas, size_t n, size_t *len);

/* Replace c's subject with the given Name DER and re-sign with signer
 * (NULL: c's own key, for a self-signed certificate). */
void tc_set_subject_der(struct tc_cert *c, const uint8_t *name, size_t len, const struct tc_cert *signer);

/* A PEM CRL by issuer revoking the given certificates, thisUpdate now,
 * nextUpdate +next_update_s. Returned string is malloc'd. */
char *tc_crl_pem(const struct tc_cert *issuer, const struct tc_cert *const *revoked, size_t n, long next_update_s);

/* Write the PEM of certificates (in order) or raw text to path. */
void tc_write_pem(const char *path, const struct tc_cert *const *certs, size_t n);
void tc_write_text(const char *path, const char *text);

/* mkdtemp under TMPDIR (or /tmp); rm -r by tc_rmdir. Returned path is malloc'd. */
char *tc_tempdir(void);
void tc_rmdir(const char *dir);

#endif
