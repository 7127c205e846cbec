/* Chain and policy verification: GnuTLS verifies signatures, issuers, CRLs,
 * validity and (when we pass the purpose OID) EKU; this file adds the depth
 * and key-usage checks, turns the status bits into one reason code with a
 * fixed precedence, and names the anchor that ended the chain. */
#include "pki/pki_verify.h"
#include "pki/pki_trust_int.h"

#include <gnutls/x509.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cg_buf.h"
#include "common/cg_time.h"

static void verdict(struct pki_verdict *v, enum cg_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verdict(struct pki_verdict *v, enum cg_reason reason, const char *fmt, ...)
{
	va_list ap;
	v->reason = reason;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	v->anchor_sha256[0] = '\0';
}

static enum cg_err crt_sha256(gnutls_x509_crt_t crt, uint8_t out[32])
{
	gnutls_datum_t der = { NULL, 0 };
	struct sha256_ctx c;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
		return CG_ERR_PKI;
	sha256_init(&c);
	sha256_update(&c, der.size, der.data);
	sha256_digest(&c, 32, out);
	gnutls_free(der.data);
	return CG_OK;
}

/* The anchor that ended a verified chain, as GnuTLS shortens it: walk up the
 * presented certificates from the leaf; the first one that is itself an
 * anchor ends the chain; otherwise the trust list's issuer of the last one. */
static enum cg_err chain_anchor(const struct pki_trust *trust, gnutls_x509_crt_t *crts, unsigned n,
				uint8_t out[32])
{
	unsigned cur = 0;
	uint8_t h[32];

	for (unsigned step = 0; step < n; step++) {
		unsigned next = n;
		for (unsigned j = 1; j < n; j++) {
			if (j != cur && gnutls_x509_crt_check_issuer(crts[cur], crts[j]) != 0) {
				next = j;
				break;
			}
		}
		if (next == n)
			break;
		CG_GUARD(crt_sha256(crts[next], h));
		if (pki_trust_anchor_find(trust, h) != NULL) {
			memcpy(out, h, 32);
			return CG_OK;
		}
		if (gnutls_x509_crt_check_issuer(crts[next], crts[next]) != 0)
			break; /* a self-issued certificate that is not an anchor */
		cur = next;
	}
	gnutls_x509_crt_t issuer = NULL;
	if (gnutls_x509_trust_list_get_issuer(trust->list, crts[cur], &issuer, GNUTLS_TL_GET_COPY) < 0)
		return CG_ERR_NOTFOUND;
	enum cg_err r = crt_sha256(issuer, out);
	gnutls_x509_crt_deinit(issuer);
	return r;
}

/* With a caller-supplied clock GnuTLS's own time checks are off; set the
 * same status bits it would set, from the presented certificates. */
static unsigned time_status(gnutls_x509_crt_t *crts, unsigned n, time_t now)
{
	unsigned st = 0;
	for (unsigned i = 0; i < n; i++) {
		if (gnutls_x509_crt_get_expiration_time(crts[i]) < now)
			st |= GNUTLS_CERT_EXPIRED | GNUTLS_CERT_INVALID;
		if (gnutls_x509_crt_get_activation_time(crts[i]) > now)
			st |= GNUTLS_CERT_NOT_ACTIVATED | GNUTLS_CERT_INVALID;
	}
	return st;
}

/* Index of the first presented certificate that is expired (want_expired)
 * or not yet valid at now, for the detail text. */
static unsigned first_out_of_time(gnutls_x509_crt_t *crts, unsigned n, time_t now, bool want_expired,
				  time_t *when)
{
	for (unsigned i = 0; i < n; i++) {
		time_t a = gnutls_x509_crt_get_activation_time(crts[i]);
		time_t e = gnutls_x509_crt_get_expiration_time(crts[i]);
		if (want_expired && e < now) {
			*when = e;
			return i;
		}
		if (!want_expired && a > now) {
			*when = a;
			return i;
		}
	}
	*when = 0;
	return n;
}

static void map_status(unsigned st, gnutls_x509_crt_t *crts, unsigned n, time_t now,
		       const struct pki_policy *policy, struct pki_verdict *v)
{
	char ts[32];
	time_t when;
	unsigned i;

	if (st & GNUTLS_CERT_SIGNATURE_FAILURE) {
		verdict(v, CG_REASON_BAD_SIGNATURE, "a certificate signature in the chain does not verify");
	} else if (st & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "issuer not found among the trust anchors");
	} else if (st & GNUTLS_CERT_SIGNER_NOT_CA) {
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "issuer is not a CA certificate");
	} else if (st & GNUTLS_CERT_INSECURE_ALGORITHM) {
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "chain uses an insecure signature algorithm");
	} else if (st & GNUTLS_CERT_REVOKED) {
		verdict(v, CG_REASON_CERT_REVOKED, "certificate revoked by a CRL");
	} else if (st & GNUTLS_CERT_EXPIRED) {
		i = first_out_of_time(crts, n, now, true, &when);
		if (i < n)
			verdict(v, CG_REASON_CERT_EXPIRED, "%s expired at %s",
				i == 0 ? "certificate" : "a CA certificate of the chain",
				cg_time_format_s(when, ts, sizeof(ts)));
		else
			verdict(v, CG_REASON_CERT_EXPIRED, "a certificate of the chain has expired");
	} else if (st & GNUTLS_CERT_NOT_ACTIVATED) {
		i = first_out_of_time(crts, n, now, false, &when);
		if (i < n)
			verdict(v, CG_REASON_CERT_NOT_YET_VALID, "%s not valid before %s",
				i == 0 ? "certificate" : "a CA certificate of the chain",
				cg_time_format_s(when, ts, sizeof(ts)));
		else
			verdict(v, CG_REASON_CERT_NOT_YET_VALID, "a certificate of the chain is not yet valid");
	} else if (st & GNUTLS_CERT_PURPOSE_MISMATCH) {
		verdict(v, CG_REASON_EKU_MISMATCH, "extended key usage does not allow %s",
			policy->eku_oid != NULL ? policy->eku_oid : "the required purpose");
	} else {
		gnutls_datum_t txt = { NULL, 0 };
		if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &txt, 0) == 0) {
			verdict(v, CG_REASON_UNTRUSTED_ISSUER, "chain does not verify: %s", (char *)txt.data);
			gnutls_free(txt.data);
		} else {
			verdict(v, CG_REASON_UNTRUSTED_ISSUER, "chain does not verify (status 0x%x)", st);
		}
	}
}

void pki_verify_chain(const struct pki_trust *trust, const gnutls_datum_t *chain, unsigned n,
		      const struct pki_policy *policy, time_t now, struct pki_verdict *v)
{
	gnutls_x509_crt_t *crts = NULL;
	unsigned parsed = 0, status = 0;
	unsigned flags = GNUTLS_VERIFY_DO_NOT_ALLOW_SAME;
	gnutls_typed_vdata_st vd;
	int rc;

	memset(v, 0, sizeof(*v));
	v->reason = CG_REASON_OK;
	if (n == 0 || chain == NULL) {
		verdict(v, CG_REASON_NO_CLIENT_CERT, "no certificate presented");
		return;
	}
	if (policy->max_chain_depth > 0 && n > policy->max_chain_depth) {
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "chain of %u certificates exceeds max_chain_depth %u",
			n, policy->max_chain_depth);
		return;
	}
	crts = calloc(n, sizeof(*crts));
	if (crts == NULL) {
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "out of memory");
		return;
	}
	for (; parsed < n; parsed++) {
		if (gnutls_x509_crt_init(&crts[parsed]) < 0) {
			verdict(v, CG_REASON_UNTRUSTED_ISSUER, "out of memory");
			goto out;
		}
		rc = gnutls_x509_crt_import(crts[parsed], &chain[parsed], GNUTLS_X509_FMT_DER);
		if (rc < 0) {
			parsed++; /* initialised: deinit it too */
			verdict(v, CG_REASON_UNTRUSTED_ISSUER, "certificate %u of the chain does not parse: %s",
				parsed - 1, gnutls_strerror(rc));
			goto out;
		}
	}
	if (now != 0)
		flags |= GNUTLS_VERIFY_DISABLE_TIME_CHECKS;
	if (policy->eku_oid != NULL) {
		vd.type = GNUTLS_DT_KEY_PURPOSE_OID;
		vd.data = (unsigned char *)(uintptr_t)policy->eku_oid;
		vd.size = 0;
	}
	rc = gnutls_x509_trust_list_verify_crt2(trust->list, crts, n, policy->eku_oid != NULL ? &vd : NULL,
						policy->eku_oid != NULL ? 1 : 0, flags, &status, NULL);
	if (rc < 0) {
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "chain verification failed: %s", gnutls_strerror(rc));
		goto out;
	}
	if (now != 0) {
		status |= time_status(crts, n, now);
	} else {
		now = time(NULL);
		if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) {
			/* GnuTLS stops at a date failure and never looks at the CRLs or
			 * the purpose: ask again without dates so that a revoked (or
			 * forged) certificate is reported as such even when it expired */
			unsigned st2 = 0;
			rc = gnutls_x509_trust_list_verify_crt2(trust->list, crts, n,
					policy->eku_oid != NULL ? &vd : NULL, policy->eku_oid != NULL ? 1 : 0,
					flags | GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &st2, NULL);
			if (rc >= 0)
				status |= st2;
		}
	}
	if (status != 0) {
		map_status(status, crts, n, now, policy, v);
		goto out;
	}
	unsigned ku = 0;
	rc = gnutls_x509_crt_get_key_usage(crts[0], &ku, NULL);
	if (rc >= 0 && !(ku & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
		verdict(v, CG_REASON_EKU_MISMATCH, "key usage of the certificate lacks digitalSignature");
		goto out;
	}
	if (rc < 0 && rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		verdict(v, CG_REASON_EKU_MISMATCH, "key usage extension does not parse: %s", gnutls_strerror(rc));
		goto out;
	}
	uint8_t h[32];
	if (chain_anchor(trust, crts, n, h) != CG_OK) {
		/* verified, yet no anchor to name: do not let it through half-explained */
		verdict(v, CG_REASON_UNTRUSTED_ISSUER, "chain verified but its trust anchor cannot be identified");
		goto out;
	}
	v->reason = CG_REASON_OK;
	v->detail[0] = '\0';
	cg_hex_encode(h, sizeof(h), v->anchor_sha256);
out:
	for (unsigned i = 0; i < parsed; i++)
		gnutls_x509_crt_deinit(crts[i]);
	free(crts);
}

static bool oid_valid(const char *s)
{
	size_t arcs = 0, digits = 0;
	if (s[0] < '0' || s[0] > '2')
		return false;
	for (const char *p = s;; p++) {
		if (*p >= '0' && *p <= '9') {
			if (digits == 0 && *p == '0' && p[1] >= '0' && p[1] <= '9')
				return false; /* no leading zeros */
			digits++;
		} else if (*p == '.' || *p == '\0') {
			if (digits == 0)
				return false;
			arcs++;
			digits = 0;
			if (*p == '\0')
				break;
		} else {
			return false;
		}
	}
	return arcs >= 2 && strlen(s) < 128;
}

enum cg_err pki_eku_parse(const char *value, const char **oid)
{
	if (value == NULL)
		return CG_ERR_ARG;
	if (strcasecmp(value, "clientAuth") == 0) {
		*oid = GNUTLS_KP_TLS_WWW_CLIENT;
	} else if (strcasecmp(value, "serverAuth") == 0) {
		*oid = GNUTLS_KP_TLS_WWW_SERVER;
	} else if (strcasecmp(value, "any") == 0) {
		*oid = NULL;
	} else if (oid_valid(value)) {
		*oid = value;
	} else {
		return CG_ERR_ARG;
	}
	return CG_OK;
}
