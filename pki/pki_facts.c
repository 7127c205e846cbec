/* Certificate facts: one pass over a (hostile) X.509 certificate that pulls
 * out the DNs, the convenience subject attributes, SANs, serial renderings,
 * digests, validity, key usage, EKU and algorithm names. Every string is
 * bounded; anything GnuTLS cannot decode is left out or rendered escaped. */
#include "pki/pki_facts.h"

#include <gnutls/abstract.h>
#include <gnutls/x509-ext.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"

#define PKI_MAX_VALUE_LEN 1024  /* longer attribute or SAN values are left out */
#define PKI_MAX_EKU       64

#define OID_CN    "2.5.4.3"
#define OID_O     "2.5.4.10"
#define OID_OU    "2.5.4.11"
#define OID_UID   "0.9.2342.19200300.100.1.1"
#define OID_EMAIL "1.2.840.113549.1.9.1"
#define OID_UPN   "1.3.6.1.4.1.311.20.2.3"
#define OID_SAN   "2.5.29.17"

/* Strict UTF-8 check (no overlong forms, no surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4; cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Append code point cp as UTF-8; false for a surrogate or out-of-range value. */
static bool utf8_put(uint32_t cp, struct cg_buf *b)
{
	uint8_t u[4];
	size_t n;
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return false;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp; n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | (cp >> 6)); u[1] = (uint8_t)(0x80 | (cp & 0x3f)); n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (cp >> 12)); u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f)); n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | (cp >> 18)); u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (uint8_t)(0x80 | (cp & 0x3f)); n = 4;
	}
	return cg_buf_append(b, u, n) == CG_OK;
}

/* Decode a DirectoryString-like value (ASN.1 tag number tag) into a fresh
 * UTF-8 string. NULL when it holds a NUL, is not valid UTF-8, is longer than
 * PKI_MAX_VALUE_LEN or has a type we do not read as text. */
static char *value_to_utf8(unsigned long tag, const uint8_t *p, size_t n)
{
	struct cg_buf b;
	cg_buf_init(&b, PKI_MAX_VALUE_LEN);
	switch (tag) {
	case 12: /* UTF8String */
	case 19: /* PrintableString */
	case 20: /* TeletexString: accepted only when it is plain UTF-8 (in practice ASCII) */
	case 22: /* IA5String */
	case 26: /* VisibleString */
		if (memchr(p, 0, n) != NULL || !utf8_valid(p, n) || cg_buf_append(&b, p, n) != CG_OK)
			goto fail;
		break;
	case 30: /* BMPString: UCS-2 big endian */
		if (n % 2 != 0)
			goto fail;
		for (size_t i = 0; i < n; i += 2)
			if (!utf8_put((uint32_t)p[i] << 8 | p[i + 1], &b))
				goto fail;
		break;
	case 28: /* UniversalString: UCS-4 big endian */
		if (n % 4 != 0)
			goto fail;
		for (size_t i = 0; i < n; i += 4)
			if (!utf8_put((uint32_t)p[i] << 24 | (uint32_t)p[i + 1] << 16 |
				      (uint32_t)p[i + 2] << 8 | p[i + 3], &b))
				goto fail;
		break;
	default:
		goto fail;
	}
	return cg_buf_steal(&b);
fail:
	cg_buf_free(&b);
	return NULL;
}

/* A text value from a SAN (IA5String or UTF8String content): copied when it
 * is bounded, NUL-free UTF-8, else NULL. */
static char *text_copy(const uint8_t *p, size_t n)
{
	if (n == 0 || n > PKI_MAX_VALUE_LEN || memchr(p, 0, n) != NULL || !utf8_valid(p, n))
		return NULL;
	char *s = malloc(n + 1);
	if (s == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void strlist_free(struct pki_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Append s (taken over, freed on failure) to l, at most max entries (extra
 * ones are dropped silently, as documented in the header). */
static enum cg_err strlist_add(struct pki_strlist *l, char *s, size_t max)
{
	if (l->n >= max) {
		free(s);
		return CG_OK;
	}
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(s);
		return CG_ERR_NOMEM;
	}
	l->v = v;
	l->v[l->n++] = s;
	return CG_OK;
}

/* RFC 4514 (flags 0) or X.500 order (GNUTLS_X509_DN_FLAG_COMPAT: same escaping,
 * RDNs most significant first, multi-valued RDNs kept together) of the subject
 * or issuer. An empty DN gives "". */
static enum cg_err dn_string(gnutls_x509_crt_t crt, bool issuer, unsigned flags, char **out)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &d, flags)
			: gnutls_x509_crt_get_dn3(crt, &d, flags);
	char *s;

	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE || rc == GNUTLS_E_ASN1_ELEMENT_NOT_FOUND) {
		s = strdup("");
	} else if (rc < 0) {
		return CG_ERR_PKI;
	} else {
		if (d.size > PKI_MAX_DN_LEN || memchr(d.data, 0, d.size) != NULL) {
			gnutls_free(d.data);
			return CG_ERR_PKI;
		}
		s = malloc((size_t)d.size + 1);
		if (s != NULL) {
			memcpy(s, d.data, d.size);
			s[d.size] = '\0';
		}
		gnutls_free(d.data);
	}
	if (s == NULL)
		return CG_ERR_NOMEM;
	*out = s;
	return CG_OK;
}

/* cn, uid, email, o, ou: the first value in RFC 4514 order (least significant
 * RDN first), decoded to UTF-8; undecodable values leave the field NULL. */
static enum cg_err subject_attrs(gnutls_x509_crt_t crt, struct pki_facts *f)
{
	const struct { const char *oid; char **field; } map[] = {
		{ OID_CN, &f->cn }, { OID_UID, &f->uid }, { OID_EMAIL, &f->email },
		{ OID_O, &f->o }, { OID_OU, &f->ou },
	};
	bool seen[sizeof(map) / sizeof(map[0])] = { false };
	gnutls_x509_dn_t dn;
	gnutls_x509_ava_st ava;
	int nrdn = 0;

	if (gnutls_x509_crt_get_subject(crt, &dn) < 0)
		return CG_ERR_PKI;
	while (gnutls_x509_dn_get_rdn_ava(dn, nrdn, 0, &ava) == 0)
		nrdn++;
	for (int irdn = nrdn - 1; irdn >= 0; irdn--) {
		for (int iava = 0; gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava) == 0; iava++) {
			/* GnuTLS counts the OID's terminating NUL in oid.size */
			size_t olen = ava.oid.size;
			if (olen > 0 && ava.oid.data[olen - 1] == '\0')
				olen--;
			for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
				if (seen[k] || olen != strlen(map[k].oid) ||
				    memcmp(ava.oid.data, map[k].oid, olen) != 0)
					continue;
				/* the first value decides, even when it is unusable */
				seen[k] = true;
				*map[k].field = value_to_utf8(ava.value_tag, ava.value.data, ava.value.size);
			}
		}
	}
	return CG_OK;
}

/* A UPN otherName value is a DER UTF8String; return its text or NULL. */
static char *upn_text(const gnutls_datum_t *v)
{
	const uint8_t *p = v->data;
	size_t n = v->size, len, hdr;
	if (n < 2 || p[0] != 0x0c)
		return NULL;
	if (p[1] < 0x80) {
		len = p[1]; hdr = 2;
	} else if (p[1] == 0x81 && n >= 3) {
		len = p[2]; hdr = 3;
	} else if (p[1] == 0x82 && n >= 4) {
		len = (size_t)p[2] << 8 | p[3]; hdr = 4;
	} else {
		return NULL;
	}
	if (hdr + len != n)
		return NULL;
	return text_copy(p + hdr, len);
}

static enum cg_err sans(gnutls_x509_crt_t crt, struct pki_facts *f)
{
	gnutls_datum_t ext = { NULL, 0 };
	gnutls_subject_alt_names_t sa = NULL;
	unsigned critical;
	enum cg_err r = CG_ERR_PKI;
	int rc = gnutls_x509_crt_get_extension_by_oid2(crt, OID_SAN, 0, &ext, &critical);

	if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return CG_OK;
	if (rc < 0)
		return CG_ERR_PKI;
	if (gnutls_subject_alt_names_init(&sa) < 0) {
		r = CG_ERR_NOMEM;
		goto out;
	}
	if (gnutls_x509_ext_import_subject_alt_names(&ext, sa, 0) < 0)
		goto out;
	for (unsigned i = 0;; i++) {
		unsigned type;
		gnutls_datum_t v, oid;
		struct pki_strlist *l = NULL;
		char *s = NULL;
		rc = gnutls_subject_alt_names_get(sa, i, &type, &v, &oid);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			goto out;
		switch (type) {
		case GNUTLS_SAN_RFC822NAME: l = &f->san_email; s = text_copy(v.data, v.size); break;
		case GNUTLS_SAN_DNSNAME:    l = &f->san_dns; s = text_copy(v.data, v.size); break;
		case GNUTLS_SAN_URI:        l = &f->san_uri; s = text_copy(v.data, v.size); break;
		case GNUTLS_SAN_OTHERNAME: {
			size_t olen = oid.size;
			if (olen > 0 && oid.data[olen - 1] == '\0')
				olen--;
			if (olen == strlen(OID_UPN) && memcmp(oid.data, OID_UPN, olen) == 0) {
				l = &f->san_upn;
				s = upn_text(&v);
			}
			break;
		}
		default:
			break;
		}
		if (l == NULL || s == NULL)
			continue; /* another type, or a value we will not hand to rules */
		if (strlist_add(l, s, PKI_MAX_SANS) != CG_OK) {
			r = CG_ERR_NOMEM;
			goto out;
		}
	}
	r = CG_OK;
out:
	if (sa != NULL)
		gnutls_subject_alt_names_deinit(sa);
	gnutls_free(ext.data);
	return r;
}

static enum cg_err ekus(gnutls_x509_crt_t crt, struct pki_facts *f)
{
	for (unsigned i = 0;; i++) {
		char oid[128];
		size_t size = sizeof(oid);
		int rc = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return CG_OK;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue; /* an absurdly long OID: not one a policy can name */
		if (rc < 0)
			return CG_ERR_PKI;
		char *s = strdup(oid);
		if (s == NULL)
			return CG_ERR_NOMEM;
		CG_GUARD(strlist_add(&f->eku, s, PKI_MAX_EKU));
	}
}

/* Decimal rendering of the unsigned big-endian integer p[0..n) (n <= 21). */
static void serial_to_dec(const uint8_t *p, size_t n, char *out, size_t len)
{
	uint8_t num[PKI_MAX_SERIAL + 1];
	char digits[64];
	size_t nd = 0, start = 0;

	memcpy(num, p, n);
	while (start < n && num[start] == 0)
		start++;
	while (start < n && nd < sizeof(digits)) {
		unsigned rem = 0;
		for (size_t i = start; i < n; i++) {
			unsigned cur = rem * 256 + num[i];
			num[i] = (uint8_t)(cur / 10);
			rem = cur % 10;
		}
		digits[nd++] = (char)('0' + rem);
		while (start < n && num[start] == 0)
			start++;
	}
	if (nd == 0)
		digits[nd++] = '0';
	size_t k = 0;
	for (; k < nd && k + 1 < len; k++)
		out[k] = digits[nd - 1 - k];
	out[k] = '\0';
}

static void key_alg_name(gnutls_pubkey_t pub, char *out, size_t len)
{
	unsigned bits = 0;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;

	switch (pk) {
	case GNUTLS_PK_RSA:
		snprintf(out, len, "RSA-%u", bits);
		break;
	case GNUTLS_PK_RSA_PSS:
		snprintf(out, len, "RSA-PSS-%u", bits);
		break;
	case GNUTLS_PK_ECDSA:
		if (gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL, 0) < 0)
			curve = GNUTLS_ECC_CURVE_INVALID;
		switch (curve) {
		case GNUTLS_ECC_CURVE_SECP256R1: snprintf(out, len, "ECDSA-P256"); break;
		case GNUTLS_ECC_CURVE_SECP384R1: snprintf(out, len, "ECDSA-P384"); break;
		case GNUTLS_ECC_CURVE_SECP521R1: snprintf(out, len, "ECDSA-P521"); break;
		default: {
			const char *cn = gnutls_ecc_curve_get_name(curve);
			snprintf(out, len, "ECDSA-%s", cn != NULL ? cn : "unknown");
		}
		}
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		snprintf(out, len, "Ed25519");
		break;
	case GNUTLS_PK_EDDSA_ED448:
		snprintf(out, len, "Ed448");
		break;
	default: {
		const char *n = pk >= 0 ? gnutls_pk_get_name((gnutls_pk_algorithm_t)pk) : NULL;
		snprintf(out, len, "%s", n != NULL ? n : "unknown");
	}
	}
}

/* Key algorithm name and the SHA-256 of the SubjectPublicKeyInfo. A key
 * GnuTLS cannot import leaves key_alg "unknown" and spki_sha256_hex "". */
static enum cg_err key_facts(gnutls_x509_crt_t crt, struct pki_facts *f)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki = { NULL, 0 };

	snprintf(f->key_alg, sizeof(f->key_alg), "unknown");
	if (gnutls_pubkey_init(&pub) < 0)
		return CG_ERR_NOMEM;
	if (gnutls_pubkey_import_x509(pub, crt, 0) == 0) {
		key_alg_name(pub, f->key_alg, sizeof(f->key_alg));
		if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) == 0) {
			uint8_t h[SHA256_DIGEST_SIZE];
			struct sha256_ctx c;
			sha256_init(&c);
			sha256_update(&c, spki.size, spki.data);
			sha256_digest(&c, sizeof(h), h);
			cg_hex_encode(h, sizeof(h), f->spki_sha256_hex);
			gnutls_free(spki.data);
		}
	}
	gnutls_pubkey_deinit(pub);
	return CG_OK;
}

static void sig_alg_name(gnutls_x509_crt_t crt, char *out, size_t len)
{
	int sa = gnutls_x509_crt_get_signature_algorithm(crt);
	const char *n = sa > 0 ? gnutls_sign_get_name((gnutls_sign_algorithm_t)sa) : NULL;
	if (n != NULL) {
		snprintf(out, len, "%s", n);
		return;
	}
	char oid[48];
	size_t size = sizeof(oid);
	if (gnutls_x509_crt_get_signature_oid(crt, oid, &size) == 0)
		snprintf(out, len, "%s", oid);
	else
		snprintf(out, len, "unknown");
}

static enum cg_err extract(gnutls_x509_crt_t crt, const gnutls_datum_t *der, struct pki_facts *f)
{
	int rc;

	f->der.data = gnutls_malloc(der->size);
	if (f->der.data == NULL)
		return CG_ERR_NOMEM;
	memcpy(f->der.data, der->data, der->size);
	f->der.size = der->size;

	CG_GUARD(dn_string(crt, false, 0, &f->subject_dn));
	CG_GUARD(dn_string(crt, false, GNUTLS_X509_DN_FLAG_COMPAT, &f->subject_dn_x500));
	CG_GUARD(dn_string(crt, true, 0, &f->issuer_dn));
	CG_GUARD(dn_string(crt, true, GNUTLS_X509_DN_FLAG_COMPAT, &f->issuer_dn_x500));
	CG_GUARD(subject_attrs(crt, f));
	CG_GUARD(sans(crt, f));
	CG_GUARD(ekus(crt, f));
	CG_GUARD(key_facts(crt, f));

	/* serial: at most 20 octets, or 21 when the first is the sign byte 00 */
	size_t slen = sizeof(f->serial);
	rc = gnutls_x509_crt_get_serial(crt, f->serial, &slen);
	if (rc < 0 || slen == 0 || slen > PKI_MAX_SERIAL + 1 ||
	    (slen == PKI_MAX_SERIAL + 1 && f->serial[0] != 0))
		return CG_ERR_PKI;
	f->serial_len = slen;
	cg_hex_encode(f->serial, slen, f->serial_hex);
	serial_to_dec(f->serial, slen, f->serial_dec, sizeof(f->serial_dec));

	struct sha256_ctx s2;
	sha256_init(&s2);
	sha256_update(&s2, der->size, der->data);
	sha256_digest(&s2, sizeof(f->sha256), f->sha256);
	cg_hex_encode(f->sha256, sizeof(f->sha256), f->sha256_hex);
	uint8_t h1[SHA1_DIGEST_SIZE];
	struct sha1_ctx s1;
	sha1_init(&s1);
	sha1_update(&s1, der->size, der->data);
	sha1_digest(&s1, sizeof(h1), h1);
	cg_hex_encode(h1, sizeof(h1), f->sha1_hex);

	uint8_t ski[64];
	size_t skilen = sizeof(ski);
	rc = gnutls_x509_crt_get_subject_key_id(crt, ski, &skilen, NULL);
	if (rc == 0 && skilen > 0) {
		f->ski_hex = malloc(2 * skilen + 1);
		if (f->ski_hex == NULL)
			return CG_ERR_NOMEM;
		cg_hex_encode(ski, skilen, f->ski_hex);
	}

	f->not_before = gnutls_x509_crt_get_activation_time(crt);
	f->not_after = gnutls_x509_crt_get_expiration_time(crt);
	if (f->not_before == (time_t)-1 || f->not_after == (time_t)-1)
		return CG_ERR_PKI;

	unsigned ku = 0;
	rc = gnutls_x509_crt_get_key_usage(crt, &ku, NULL);
	if (rc >= 0) {
		f->key_usage = ku;
		f->has_key_usage = true;
	} else if (rc != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		return CG_ERR_PKI;
	}
	sig_alg_name(crt, f->sig_alg, sizeof(f->sig_alg));
	return CG_OK;
}

enum cg_err pki_facts_from_der(const gnutls_datum_t *der, struct pki_facts **out)
{
	gnutls_x509_crt_t crt = NULL;
	struct pki_facts *f = NULL;
	enum cg_err r = CG_ERR_PKI;

	*out = NULL;
	if (der == NULL || der->data == NULL || der->size == 0)
		return CG_ERR_ARG;
	if (gnutls_x509_crt_init(&crt) < 0)
		return CG_ERR_NOMEM;
	if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		r = CG_ERR_NOMEM;
		goto out;
	}
	r = extract(crt, der, f);
	if (r != CG_OK)
		goto out;
	*out = f;
	f = NULL;
out:
	pki_facts_free(f);
	gnutls_x509_crt_deinit(crt);
	return r;
}

enum cg_err pki_facts_from_pem(const char *pem, size_t len, struct pki_facts **out)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)len };
	gnutls_datum_t der = { NULL, 0 };
	enum cg_err r = CG_ERR_PKI;

	*out = NULL;
	if (pem == NULL || len == 0 || len > UINT32_MAX)
		return CG_ERR_ARG;
	if (gnutls_x509_crt_init(&crt) < 0)
		return CG_ERR_NOMEM;
	/* gnutls_x509_crt_import with PEM takes the first certificate of the text */
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0)
		goto out;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
		goto out;
	r = pki_facts_from_der(&der, out);
out:
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
	return r;
}

void pki_facts_free(struct pki_facts *f)
{
	if (f == NULL)
		return;
	gnutls_free(f->der.data);
	free(f->subject_dn);
	free(f->subject_dn_x500);
	free(f->issuer_dn);
	free(f->issuer_dn_x500);
	free(f->cn);
	free(f->uid);
	free(f->email);
	free(f->o);
	free(f->ou);
	strlist_free(&f->san_email);
	strlist_free(&f->san_dns);
	strlist_free(&f->san_uri);
	strlist_free(&f->san_upn);
	strlist_free(&f->eku);
	free(f->ski_hex);
	free(f);
}

void pki_serial_hex(const struct pki_facts *f, bool upper, bool reversed, char *out, size_t len)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *hex = upper ? up : lo;

	if (len == 0)
		return;
	if (len < 2 * f->serial_len + 1) {
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < f->serial_len; i++) {
		uint8_t b = f->serial[reversed ? f->serial_len - 1 - i : i];
		out[2 * i] = hex[b >> 4];
		out[2 * i + 1] = hex[b & 15];
	}
	out[2 * f->serial_len] = '\0';
}
