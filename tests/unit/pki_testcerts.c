/* Test helper: certificates, CRLs and hand-made Names for the pki/ tests. */
#include "tests/unit/pki_testcerts.h"

#include <check.h>
#include <ftw.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK(x) do { int rc_ = (x); if (rc_ < 0) ck_abort_msg("%s: %s", #x, gnutls_strerror(rc_)); } while (0)

void tc_make(const struct tc_spec *s, struct tc_cert *out)
{
	time_t now = time(NULL);
	uint8_t serial[16], id[64];
	size_t idlen = sizeof(id);
	gnutls_privkey_t pk;
	const char *err = NULL;
	struct tc_cert c = { NULL, NULL, { NULL, 0 } };

	OK(gnutls_x509_privkey_init(&c.key));
	if (s->rsa)
		OK(gnutls_x509_privkey_generate2(c.key, GNUTLS_PK_RSA, 2048, 0, NULL, 0));
	else
		OK(gnutls_x509_privkey_generate2(c.key, GNUTLS_PK_ECDSA,
						 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0));
	OK(gnutls_x509_crt_init(&c.crt));
	OK(gnutls_x509_crt_set_version(c.crt, 3));
	if (s->serial != NULL) {
		OK(gnutls_x509_crt_set_serial(c.crt, s->serial, s->serial_len));
	} else {
		OK(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)));
		serial[0] = (serial[0] & 0x7f) | 0x01;
		OK(gnutls_x509_crt_set_serial(c.crt, serial, sizeof(serial)));
	}
	bool deflt = s->nb_offset == 0 && s->na_offset == 0;
	OK(gnutls_x509_crt_set_activation_time(c.crt, now + (deflt ? -3600 : s->nb_offset)));
	OK(gnutls_x509_crt_set_expiration_time(c.crt, now + (deflt ? 30 * 86400 : s->na_offset)));
	if (s->dn != NULL)
		OK(gnutls_x509_crt_set_dn(c.crt, s->dn, &err));
	if (s->cn != NULL)
		OK(gnutls_x509_crt_set_dn_by_oid(c.crt, GNUTLS_OID_X520_COMMON_NAME, 0, s->cn, (unsigned)s->cn_len));
	OK(gnutls_x509_crt_set_key(c.crt, c.key));
	OK(gnutls_x509_crt_set_basic_constraints(c.crt, s->ca ? 1 : 0, -1));
	if (!s->no_ku)
		OK(gnutls_x509_crt_set_key_usage(c.crt, s->ku != 0 ? s->ku
				: s->ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN : GNUTLS_KEY_DIGITAL_SIGNATURE));
	for (size_t i = 0; i < 4 && s->eku[i] != NULL; i++)
		OK(gnutls_x509_crt_set_key_purpose_oid(c.crt, s->eku[i], 0));
	if (s->san_email != NULL)
		OK(gnutls_x509_crt_set_subject_alt_name(c.crt, GNUTLS_SAN_RFC822NAME, s->san_email,
							(unsigned)strlen(s->san_email), GNUTLS_FSAN_APPEND));
	if (s->san_dns != NULL)
		OK(gnutls_x509_crt_set_subject_alt_name(c.crt, GNUTLS_SAN_DNSNAME, s->san_dns,
							(unsigned)strlen(s->san_dns), GNUTLS_FSAN_APPEND));
	if (s->san_uri != NULL)
		OK(gnutls_x509_crt_set_subject_alt_name(c.crt, GNUTLS_SAN_URI, s->san_uri,
							(unsigned)strlen(s->san_uri), GNUTLS_FSAN_APPEND));
	if (s->upn != NULL)
		OK(gnutls_x509_crt_set_subject_alt_othername(c.crt, "1.3.6.1.4.1.311.20.2.3", s->upn,
				(unsigned)strlen(s->upn), GNUTLS_FSAN_APPEND | GNUTLS_FSAN_ENCODE_UTF8_STRING));
	OK(gnutls_x509_privkey_get_key_id(c.key, GNUTLS_KEYID_USE_SHA1, id, &idlen));
	OK(gnutls_x509_crt_set_subject_key_id(c.crt, id, idlen));
	if (s->issuer != NULL) {
		idlen = sizeof(id);
		OK(gnutls_x509_crt_get_subject_key_id(s->issuer->crt, id, &idlen, NULL));
		OK(gnutls_x509_crt_set_authority_key_id(c.crt, id, idlen));
	}
	OK(gnutls_privkey_init(&pk));
	OK(gnutls_privkey_import_x509(pk, s->issuer != NULL ? s->issuer->key : c.key, 0));
	OK(gnutls_x509_crt_privkey_sign(c.crt, s->issuer != NULL ? s->issuer->crt : c.crt, pk, GNUTLS_DIG_SHA256, 0));
	gnutls_privkey_deinit(pk);
	OK(gnutls_x509_crt_export2(c.crt, GNUTLS_X509_FMT_DER, &c.der));
	*out = c;
}

void tc_free(struct tc_cert *c)
{
	if (c->crt != NULL)
		gnutls_x509_crt_deinit(c->crt);
	if (c->key != NULL)
		gnutls_x509_privkey_deinit(c->key);
	gnutls_free(c->der.data);
	memset(c, 0, sizeof(*c));
}

/* --- a little DER --- */

struct tc_bytes {
	uint8_t *p;
	size_t n;
};

static void put(struct tc_bytes *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n + 1);
	ck_assert_ptr_nonnull(b->p);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_tlv(struct tc_bytes *b, uint8_t tag, const void *p, size_t n)
{
	uint8_t h[6];
	size_t hl = 0;
	h[hl++] = tag;
	if (n < 0x80) {
		h[hl++] = (uint8_t)n;
	} else if (n < 0x100) {
		h[hl++] = 0x81; h[hl++] = (uint8_t)n;
	} else if (n < 0x10000) {
		h[hl++] = 0x82; h[hl++] = (uint8_t)(n >> 8); h[hl++] = (uint8_t)n;
	} else {
		h[hl++] = 0x83; h[hl++] = (uint8_t)(n >> 16); h[hl++] = (uint8_t)(n >> 8); h[hl++] = (uint8_t)n;
	}
	put(b, h, hl);
	put(b, p, n);
}

static void put_oid(struct tc_bytes *b, const char *dotted)
{
	unsigned long arcs[32];
	size_t na = 0;
	struct tc_bytes c = { NULL, 0 };
	for (const char *p = dotted; *p != '\0' && na < 32;) {
		char *end;
		arcs[na++] = strtoul(p, &end, 10);
		p = *end == '.' ? end + 1 : end;
	}
	ck_assert_uint_ge(na, 2);
	arcs[1] += 40 * arcs[0];
	for (size_t i = 1; i < na; i++) {
		uint8_t tmp[10];
		size_t k = 0;
		unsigned long v = arcs[i];
		do {
			tmp[k++] = (uint8_t)(v & 0x7f);
			v >>= 7;
		} while (v != 0);
		while (k > 0) {
			k--;
			uint8_t o = (uint8_t)(tmp[k] | (k > 0 ? 0x80 : 0));
			put(&c, &o, 1);
		}
	}
	put_tlv(b, 0x06, c.p, c.n);
	free(c.p);
}

uint8_t *tc_name_der(const struct tc_ava *avas, size_t n, size_t *len)
{
	struct tc_bytes name = { NULL, 0 };
	for (size_t i = 0; i < n;) {
		struct tc_bytes set = { NULL, 0 };
		unsigned rdn = avas[i].rdn;
		for (; i < n && avas[i].rdn == rdn; i++) {
			struct tc_bytes seq = { NULL, 0 };
			put_oid(&seq, avas[i].oid);
			put_tlv(&seq, avas[i].tag, avas[i].value, avas[i].len);
			put_tlv(&set, 0x30, seq.p, seq.n);
			free(seq.p);
		}
		put_tlv(&name, 0x31, set.p, set.n);
		free(set.p);
	}
	struct tc_bytes out = { NULL, 0 };
	put_tlv(&out, 0x30, name.p, name.n);
	free(name.p);
	*len = out.n;
	return out.p;
}

/* Header of the TLV at p (n bytes available): content offset and length. */
static void tlv(const uint8_t *p, size_t n, size_t *hdr, size_t *clen)
{
	ck_assert_uint_ge(n, 2);
	if (p[1] < 0x80) {
		*hdr = 2;
		*clen = p[1];
	} else {
		size_t k = p[1] & 0x7f;
		ck_assert(k >= 1 && k <= 3 && n >= 2 + k);
		*clen = 0;
		for (size_t i = 0; i < k; i++)
			*clen = *clen << 8 | p[2 + i];
		*hdr = 2 + k;
	}
	ck_assert_uint_le(*hdr + *clen, n);
}

void tc_set_subject_der(struct tc_cert *c, const uint8_t *name, size_t len, const struct tc_cert *signer)
{
	const uint8_t *d = c->der.data;
	size_t h, l, th, tl;
	tlv(d, c->der.size, &h, &l);                       /* Certificate */
	const uint8_t *tbs = d + h;
	tlv(tbs, l, &th, &tl);                             /* TBSCertificate */
	const uint8_t *after_tbs = tbs + th + tl;
	size_t after_len = (d + h + l) - after_tbs;        /* sigAlg + signature */
	/* walk the TBS fields; subject is field 5 with [0] version, else 4 */
	const uint8_t *p = tbs + th, *end = tbs + th + tl;
	struct tc_bytes nt = { NULL, 0 };
	unsigned idx = 0, subject_idx = p[0] == 0xa0 ? 5 : 4;
	while (p < end) {
		size_t fh, fl;
		tlv(p, (size_t)(end - p), &fh, &fl);
		if (idx == subject_idx)
			put(&nt, name, len);
		else
			put(&nt, p, fh + fl);
		p += fh + fl;
		idx++;
	}
	struct tc_bytes newtbs = { NULL, 0 };
	put_tlv(&newtbs, 0x30, nt.p, nt.n);
	free(nt.p);
	/* copy the signature algorithm, sign the new TBS */
	size_t ah, al;
	tlv(after_tbs, after_len, &ah, &al);
	gnutls_privkey_t pk;
	gnutls_datum_t tbsd = { newtbs.p, (unsigned)newtbs.n }, sig = { NULL, 0 };
	OK(gnutls_privkey_init(&pk));
	OK(gnutls_privkey_import_x509(pk, signer != NULL ? signer->key : c->key, 0));
	OK(gnutls_privkey_sign_data(pk, GNUTLS_DIG_SHA256, 0, &tbsd, &sig));
	gnutls_privkey_deinit(pk);
	struct tc_bytes body = { NULL, 0 }, bits = { NULL, 0 }, cert = { NULL, 0 };
	put(&body, newtbs.p, newtbs.n);
	put(&body, after_tbs, ah + al);
	uint8_t zero = 0;
	put(&bits, &zero, 1);
	put(&bits, sig.data, sig.size);
	put_tlv(&body, 0x03, bits.p, bits.n);
	put_tlv(&cert, 0x30, body.p, body.n);
	gnutls_free(sig.data);
	free(newtbs.p);
	free(body.p);
	free(bits.p);

	gnutls_free(c->der.data);
	c->der.data = gnutls_malloc(cert.n);
	ck_assert_ptr_nonnull(c->der.data);
	memcpy(c->der.data, cert.p, cert.n);
	c->der.size = (unsigned)cert.n;
	free(cert.p);
	gnutls_x509_crt_deinit(c->crt);
	OK(gnutls_x509_crt_init(&c->crt));
	OK(gnutls_x509_crt_import(c->crt, &c->der, GNUTLS_X509_FMT_DER));
}

char *tc_crl_pem(const struct tc_cert *issuer, const struct tc_cert *const *revoked, size_t n, long next_update_s)
{
	gnutls_x509_crl_t crl;
	gnutls_privkey_t pk;
	gnutls_datum_t pem = { NULL, 0 };
	time_t now = time(NULL);

	OK(gnutls_x509_crl_init(&crl));
	OK(gnutls_x509_crl_set_version(crl, 2));
	OK(gnutls_x509_crl_set_this_update(crl, now - 60));
	OK(gnutls_x509_crl_set_next_update(crl, now + next_update_s));
	for (size_t i = 0; i < n; i++)
		OK(gnutls_x509_crl_set_crt(crl, revoked[i]->crt, now - 30));
	OK(gnutls_privkey_init(&pk));
	OK(gnutls_privkey_import_x509(pk, issuer->key, 0));
	OK(gnutls_x509_crl_privkey_sign(crl, issuer->crt, pk, GNUTLS_DIG_SHA256, 0));
	OK(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &pem));
	gnutls_privkey_deinit(pk);
	gnutls_x509_crl_deinit(crl);
	char *s = strndup((const char *)pem.data, pem.size);
	gnutls_free(pem.data);
	ck_assert_ptr_nonnull(s);
	return s;
}

void tc_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

void tc_write_pem(const char *path, const struct tc_cert *const *certs, size_t n)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s", path);
	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t pem = { NULL, 0 };
		OK(gnutls_x509_crt_export2(certs[i]->crt, GNUTLS_X509_FMT_PEM, &pem));
		ck_assert_uint_eq(fwrite(pem.data, 1, pem.size, f), pem.size);
		gnutls_free(pem.data);
	}
	ck_assert_int_eq(fclose(f), 0);
}

char *tc_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t = NULL;
	ck_assert_int_ge(asprintf(&t, "%s/cg-pki-test.XXXXXX", base != NULL ? base : "/tmp"), 0);
	ck_assert_ptr_nonnull(mkdtemp(t));
	return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void tc_rmdir(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
