/* `certgate pki init|issue|revoke|ldif`: a throwaway demo/test PKI made with
 * the GnuTLS API only. DIR after init: root.pem/.key (self-signed root CA),
 * issuing.pem/.key (issuing CA), ca.pem (issuing CA then root: the bundle
 * for `ca =`), server.pem (leaf for localhost, then issuing.pem)/.key,
 * crl.pem (by the issuing CA) and `state` (CRL number, revoked serials).
 * Private keys are written 0600; every file is replaced atomically. */
#include "pki/pki_tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <nettle/base64.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cg_buf.h"
#include "pki/pki_verify.h"

#define DAY            86400
#define ROOT_DAYS      3650
#define ISSUING_DAYS   1825
#define SERVER_DAYS    825
#define CRL_DAYS       30
#define MAX_REVOKED    100000
#define OID_UID        "0.9.2342.19200300.100.1.1"
#define OID_EMAIL      "1.2.840.113549.1.9.1"
#define OID_UPN        "1.3.6.1.4.1.311.20.2.3"

static const char usage_text[] =
	"usage: certgate pki init DIR\n"
	"       certgate pki issue DIR NAME [--uid U] [--email E] [--days N] [--key ecdsa|rsa]\n"
	"       certgate pki revoke DIR NAME\n"
	"       certgate pki ldif DIR NAME --dn DN\n"
	"\n"
	"init    root CA, issuing CA, ca.pem (issuing CA + root), server.pem/.key for localhost,\n"
	"        an empty crl.pem; refuses a DIR that already holds root.key\n"
	"issue   client certificate DIR/NAME.pem and key DIR/NAME.key (mode 0600), CN=NAME,\n"
	"        EKU clientAuth, KU digitalSignature, valid from now-1h for N days (365)\n"
	"revoke  add NAME's serial to the revoked list and re-sign DIR/crl.pem\n"
	"ldif    print an LDIF modify that adds NAME's DER as userCertificate;binary to DN\n"
	"\n"
	"issue options for tests:\n"
	"  --subject DN        full RFC 4514 subject instead of CN=NAME\n"
	"  --cn-hex HEX        raw bytes of the CN (NUL bytes, backslashes, ...)\n"
	"  --not-before T      validity start as an offset from now: -2d, +1h, +30d (s m h d)\n"
	"  --not-after T       validity end as an offset from now (overrides --days)\n"
	"  --eku clientAuth|serverAuth|none|OID\n"
	"  --ca                a CA certificate (basicConstraints CA, KU keyCertSign+cRLSign, no EKU)\n"
	"  --issuer NAME       sign with DIR/NAME.key; DIR/NEW.pem then holds the new certificate\n"
	"                      followed by DIR/NAME.pem (the whole presented chain)\n"
	"  --san-dns D  --san-uri U  --upn P    extra subjectAltNames\n";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fputs("certgate pki: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage(const char *why)
{
	if (why != NULL)
		say("%s", why);
	fputs(usage_text, stderr);
	return 2;
}

static char *path_of(const char *dir, const char *name, const char *ext)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s%s", dir, name, ext) < 0)
		return NULL;
	return p;
}

/* Replace path with data atomically (temp file in the same directory, then
 * rename), with exactly this mode whatever the umask. */
static bool write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL;
	int fd = -1;
	bool ok = false;
	const uint8_t *p = data;

	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		say("%s: out of memory", path);
		return false;
	}
	fd = mkstemp(tmp); /* O_CREAT|O_EXCL, mode 0600 */
	if (fd < 0) {
		say("%s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) != 0) {
		say("%s: chmod: %s", path, strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			say("%s: write: %s", path, strerror(errno));
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		say("%s: write: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		say("%s: rename: %s", path, strerror(errno));
		goto out;
	}
	ok = true;
out:
	if (fd >= 0)
		close(fd);
	if (!ok)
		unlink(tmp);
	free(tmp);
	return ok;
}

static bool load_crt(const char *path, gnutls_x509_crt_t *out)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_t c = NULL;
	int rc = gnutls_load_file(path, &d);
	if (rc < 0) {
		say("%s: cannot read: %s", path, access(path, R_OK) != 0 ? strerror(errno) : gnutls_strerror(rc));
		return false;
	}
	if ((rc = gnutls_x509_crt_init(&c)) < 0 || (rc = gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		say("%s: not a PEM certificate: %s", path, gnutls_strerror(rc));
		if (c != NULL)
			gnutls_x509_crt_deinit(c);
		gnutls_free(d.data);
		return false;
	}
	gnutls_free(d.data);
	*out = c;
	return true;
}

static bool load_key(const char *path, gnutls_x509_privkey_t *out)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_privkey_t k = NULL;
	int rc = gnutls_load_file(path, &d);
	if (rc < 0) {
		say("%s: cannot read: %s", path, access(path, R_OK) != 0 ? strerror(errno) : gnutls_strerror(rc));
		return false;
	}
	if ((rc = gnutls_x509_privkey_init(&k)) < 0 ||
	    (rc = gnutls_x509_privkey_import2(k, &d, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		say("%s: not a usable private key: %s", path, gnutls_strerror(rc));
		if (k != NULL)
			gnutls_x509_privkey_deinit(k);
		gnutls_memset(d.data, 0, d.size);
		gnutls_free(d.data);
		return false;
	}
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	*out = k;
	return true;
}

static bool key_generate(bool rsa, gnutls_x509_privkey_t *out)
{
	gnutls_x509_privkey_t k = NULL;
	int rc = gnutls_x509_privkey_init(&k);
	if (rc >= 0)
		rc = rsa ? gnutls_x509_privkey_generate2(k, GNUTLS_PK_RSA, 3072, 0, NULL, 0)
			 : gnutls_x509_privkey_generate2(k, GNUTLS_PK_ECDSA,
							 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0);
	if (rc < 0) {
		say("key generation failed: %s", gnutls_strerror(rc));
		if (k != NULL)
			gnutls_x509_privkey_deinit(k);
		return false;
	}
	*out = k;
	return true;
}

static bool write_key(const char *path, gnutls_x509_privkey_t k)
{
	gnutls_datum_t d = { NULL, 0 };
	int rc = gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &d);
	if (rc < 0) {
		say("%s: cannot encode the key: %s", path, gnutls_strerror(rc));
		return false;
	}
	bool ok = write_file(path, d.data, d.size, 0600);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return ok;
}

/* PEM of crt appended to b. */
static bool append_pem(struct cg_buf *b, gnutls_x509_crt_t crt)
{
	gnutls_datum_t d = { NULL, 0 };
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		return false;
	bool ok = cg_buf_append(b, d.data, d.size) == CG_OK;
	gnutls_free(d.data);
	return ok;
}

/* Parse "[+-]N[smhd]" into seconds. */
static bool parse_offset(const char *s, int64_t *out)
{
	int sign = 1;
	char *end;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || v > 100000ull * DAY)
		return false;
	int64_t mul = 1;
	switch (*end) {
	case '\0': case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = DAY; break;
	default: return false;
	}
	if (*end != '\0' && end[1] != '\0')
		return false;
	*out = sign * (int64_t)v * mul;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex into out (at most max bytes); false on odd length or a bad digit. */
static bool parse_hex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = strlen(s);
	if (len == 0 || len % 2 != 0 || len / 2 > max)
		return false;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return true;
}

/* A NAME becomes a file name: letters, digits, '.', '_', '-', not starting
 * with '.', and not one of the files init owns. */
static bool name_ok(const char *n)
{
	static const char *const reserved[] = { "root", "ca", "issuing", "server", "crl", "state" };
	if (n[0] == '\0' || n[0] == '.' || strlen(n) > 64)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(n, reserved[i]) == 0)
			return false;
	return true;
}

struct cert_spec {
	time_t not_before, not_after;
	bool ca;
	unsigned ku;
	const char *eku;                  /* OID or NULL */
	gnutls_x509_privkey_t key;        /* the subject's key */
	gnutls_x509_crt_t issuer;         /* NULL: self-signed */
	gnutls_x509_privkey_t issuer_key;
};

/* Start a certificate: version, random positive 16-byte serial, validity,
 * public key, basic constraints, key usage, EKU. The subject is the caller's. */
static int cert_begin(gnutls_x509_crt_t crt, const struct cert_spec *s)
{
	uint8_t serial[16];
	int rc;

	if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial))) < 0)
		return rc;
	serial[0] &= 0x7f;
	if (serial[0] == 0)
		serial[0] = 0x01;
	if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt, s->not_before)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt, s->not_after)) < 0 ||
	    (rc = gnutls_x509_crt_set_key(crt, s->key)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, s->ca ? 1 : 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt, s->ku)) < 0)
		return rc;
	if (s->eku != NULL && (rc = gnutls_x509_crt_set_key_purpose_oid(crt, s->eku, 0)) < 0)
		return rc;
	return 0;
}

/* Key identifiers and the signature (SHA-256) by the issuer, or by the
 * subject's own key when there is no issuer. */
static int cert_finish(gnutls_x509_crt_t crt, const struct cert_spec *s)
{
	uint8_t id[64];
	size_t idlen = sizeof(id);
	gnutls_privkey_t pk = NULL;
	int rc;

	if ((rc = gnutls_x509_privkey_get_key_id(s->key, GNUTLS_KEYID_USE_SHA1, id, &idlen)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(crt, id, idlen)) < 0)
		return rc;
	if (s->issuer != NULL) {
		idlen = sizeof(id);
		if (gnutls_x509_crt_get_subject_key_id(s->issuer, id, &idlen, NULL) < 0)
			idlen = 0;
	}
	if (idlen > 0 && (rc = gnutls_x509_crt_set_authority_key_id(crt, id, idlen)) < 0)
		return rc;
	if ((rc = gnutls_privkey_init(&pk)) < 0)
		return rc;
	rc = gnutls_privkey_import_x509(pk, s->issuer != NULL ? s->issuer_key : s->key, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_privkey_sign(crt, s->issuer != NULL ? s->issuer : crt, pk, GNUTLS_DIG_SHA256, 0);
	gnutls_privkey_deinit(pk);
	return rc;
}

/* --- state file: "crl_number N" and "revoked HEX EPOCH" lines --- */

struct revoked {
	uint8_t serial[21];
	size_t len;
	time_t when;
};

struct pki_state {
	uint64_t crl_number;
	struct revoked *rev;
	size_t n_rev;
};

static bool state_load(const char *dir, struct pki_state *st)
{
	char *path = path_of(dir, "state", "");
	FILE *f = NULL;
	char line[256];
	unsigned lineno = 0;
	bool ok = false;

	memset(st, 0, sizeof(*st));
	if (path == NULL)
		return false;
	f = fopen(path, "re");
	if (f == NULL) {
		say("%s: %s (was DIR made by `certgate pki init`?)", path, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char hex[64];
		unsigned long long num;
		long long when;
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "crl_number %llu", &num) == 1) {
			st->crl_number = num;
		} else if (sscanf(line, "revoked %63s %lld", hex, &when) == 2) {
			if (st->n_rev >= MAX_REVOKED)
				goto bad;
			struct revoked *v = realloc(st->rev, (st->n_rev + 1) * sizeof(*v));
			if (v == NULL)
				goto bad;
			st->rev = v;
			if (!parse_hex(hex, v[st->n_rev].serial, sizeof(v[0].serial), &v[st->n_rev].len))
				goto bad;
			v[st->n_rev].when = (time_t)when;
			st->n_rev++;
		} else {
			goto bad;
		}
	}
	ok = true;
	goto out;
bad:
	say("%s:%u: malformed state line", path, lineno);
out:
	if (f != NULL)
		fclose(f);
	free(path);
	if (!ok) {
		free(st->rev);
		memset(st, 0, sizeof(*st));
	}
	return ok;
}

static bool state_save(const char *dir, const struct pki_state *st)
{
	struct cg_buf b;
	char *path = path_of(dir, "state", "");
	bool ok = false;

	cg_buf_init(&b, 64u * 1024 * 1024);
	if (path == NULL || cg_buf_printf(&b, "# certgate pki state\ncrl_number %" PRIu64 "\n", st->crl_number) != CG_OK)
		goto out;
	for (size_t i = 0; i < st->n_rev; i++) {
		char hex[43];
		cg_hex_encode(st->rev[i].serial, st->rev[i].len, hex);
		if (cg_buf_printf(&b, "revoked %s %lld\n", hex, (long long)st->rev[i].when) != CG_OK)
			goto out;
	}
	ok = write_file(path, b.data, b.len, 0644);
out:
	cg_buf_free(&b);
	free(path);
	return ok;
}

/* Sign DIR/crl.pem with the issuing CA: every revoked serial of st,
 * thisUpdate now, nextUpdate now + 30 days, CRL number st->crl_number. */
static bool crl_write(const char *dir, const struct pki_state *st, gnutls_x509_crt_t ca,
		      gnutls_x509_privkey_t ca_key)
{
	gnutls_x509_crl_t crl = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t pem = { NULL, 0 };
	char *path = path_of(dir, "crl", ".pem");
	time_t now = time(NULL);
	uint8_t num[8], id[64];
	size_t idlen = sizeof(id);
	bool ok = false;
	int rc;

	if (path == NULL)
		return false;
	for (int i = 0; i < 8; i++)
		num[i] = (uint8_t)(st->crl_number >> (56 - 8 * i));
	if ((rc = gnutls_x509_crl_init(&crl)) < 0 ||
	    (rc = gnutls_x509_crl_set_version(crl, 2)) < 0 ||
	    (rc = gnutls_x509_crl_set_this_update(crl, now)) < 0 ||
	    (rc = gnutls_x509_crl_set_next_update(crl, now + (time_t)CRL_DAYS * DAY)) < 0 ||
	    (rc = gnutls_x509_crl_set_number(crl, num, sizeof(num))) < 0)
		goto fail;
	for (size_t i = 0; i < st->n_rev; i++)
		if ((rc = gnutls_x509_crl_set_crt_serial(crl, st->rev[i].serial, st->rev[i].len, st->rev[i].when)) < 0)
			goto fail;
	if (gnutls_x509_crt_get_subject_key_id(ca, id, &idlen, NULL) >= 0 &&
	    (rc = gnutls_x509_crl_set_authority_key_id(crl, id, idlen)) < 0)
		goto fail;
	if ((rc = gnutls_privkey_init(&pk)) < 0 ||
	    (rc = gnutls_privkey_import_x509(pk, ca_key, 0)) < 0 ||
	    (rc = gnutls_x509_crl_privkey_sign(crl, ca, pk, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (rc = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &pem)) < 0)
		goto fail;
	ok = write_file(path, pem.data, pem.size, 0644);
	goto out;
fail:
	say("%s: cannot make the CRL: %s", path, gnutls_strerror(rc));
out:
	gnutls_free(pem.data);
	if (pk != NULL)
		gnutls_privkey_deinit(pk);
	if (crl != NULL)
		gnutls_x509_crl_deinit(crl);
	free(path);
	return ok;
}

/* --- init --- */

struct made {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

static void made_free(struct made *m)
{
	if (m->crt != NULL)
		gnutls_x509_crt_deinit(m->crt);
	if (m->key != NULL)
		gnutls_x509_privkey_deinit(m->key);
	m->crt = NULL;
	m->key = NULL;
}

/* A CA certificate with subject dn, signed by issuer (NULL: self-signed). */
static bool make_ca(const char *dn, unsigned days, const struct made *issuer, struct made *out)
{
	struct made m = { NULL, NULL };
	time_t now = time(NULL);
	const char *e = NULL;
	int rc;

	if (!key_generate(false, &m.key))
		return false;
	struct cert_spec s = {
		.not_before = now - 3600, .not_after = now + (time_t)days * DAY, .ca = true,
		.ku = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN, .eku = NULL, .key = m.key,
		.issuer = issuer != NULL ? issuer->crt : NULL, .issuer_key = issuer != NULL ? issuer->key : NULL,
	};
	if ((rc = gnutls_x509_crt_init(&m.crt)) < 0 || (rc = cert_begin(m.crt, &s)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn(m.crt, dn, &e)) < 0 || (rc = cert_finish(m.crt, &s)) < 0) {
		say("cannot make CA certificate %s: %s", dn, gnutls_strerror(rc));
		made_free(&m);
		return false;
	}
	*out = m;
	return true;
}

static bool make_server(const struct made *issuer, struct made *out)
{
	struct made m = { NULL, NULL };
	time_t now = time(NULL);
	const char *e = NULL;
	uint8_t v4[4], v6[16];
	int rc;

	if (!key_generate(false, &m.key))
		return false;
	struct cert_spec s = {
		.not_before = now - 3600, .not_after = now + (time_t)SERVER_DAYS * DAY, .ca = false,
		.ku = GNUTLS_KEY_DIGITAL_SIGNATURE, .eku = GNUTLS_KP_TLS_WWW_SERVER, .key = m.key,
		.issuer = issuer->crt, .issuer_key = issuer->key,
	};
	inet_pton(AF_INET, "127.0.0.1", v4);
	inet_pton(AF_INET6, "::1", v6);
	if ((rc = gnutls_x509_crt_init(&m.crt)) < 0 || (rc = cert_begin(m.crt, &s)) < 0 ||
	    (rc = gnutls_x509_crt_set_dn(m.crt, "CN=localhost", &e)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(m.crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
							GNUTLS_FSAN_APPEND)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(m.crt, GNUTLS_SAN_IPADDRESS, v4, 4, GNUTLS_FSAN_APPEND)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_alt_name(m.crt, GNUTLS_SAN_IPADDRESS, v6, 16, GNUTLS_FSAN_APPEND)) < 0 ||
	    (rc = cert_finish(m.crt, &s)) < 0) {
		say("cannot make the server certificate: %s", gnutls_strerror(rc));
		made_free(&m);
		return false;
	}
	*out = m;
	return true;
}

/* Write DIR/base.key (0600) and DIR/base.pem = crt followed by the chain certificates. */
static bool write_pair(const char *dir, const char *base, const struct made *m,
		       gnutls_x509_crt_t chain1, gnutls_x509_crt_t chain2, bool with_key)
{
	struct cg_buf b;
	char *pem = path_of(dir, base, ".pem"), *key = path_of(dir, base, ".key");
	bool ok = false;

	cg_buf_init(&b, 1024 * 1024);
	if (pem == NULL || key == NULL)
		goto out;
	if (!append_pem(&b, m->crt) || (chain1 != NULL && !append_pem(&b, chain1)) ||
	    (chain2 != NULL && !append_pem(&b, chain2))) {
		say("%s: cannot encode the certificate", pem);
		goto out;
	}
	if (with_key && !write_key(key, m->key))
		goto out;
	ok = write_file(pem, b.data, b.len, 0644);
out:
	cg_buf_free(&b);
	free(pem);
	free(key);
	return ok;
}

static int cmd_init(const char *dir)
{
	struct made root = { 0 }, issuing = { 0 }, server = { 0 };
	struct pki_state st = { .crl_number = 1, .rev = NULL, .n_rev = 0 };
	char *rootkey = path_of(dir, "root", ".key");
	int ret = 1;

	if (rootkey == NULL)
		return 1;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		say("%s: cannot create directory: %s", dir, strerror(errno));
		goto out;
	}
	if (access(rootkey, F_OK) == 0) {
		say("%s: already exists; refusing to replace an existing PKI", rootkey);
		goto out;
	}
	if (!make_ca("CN=certgate demo root CA,O=certgate demo", ROOT_DAYS, NULL, &root) ||
	    !make_ca("CN=certgate demo issuing CA,O=certgate demo", ISSUING_DAYS, &root, &issuing) ||
	    !make_server(&issuing, &server))
		goto out;
	if (!write_pair(dir, "root", &root, NULL, NULL, true) ||
	    !write_pair(dir, "issuing", &issuing, NULL, NULL, true) ||
	    !write_pair(dir, "ca", &issuing, root.crt, NULL, false) ||
	    !write_pair(dir, "server", &server, issuing.crt, NULL, true) ||
	    !crl_write(dir, &st, issuing.crt, issuing.key) || !state_save(dir, &st))
		goto out;
	printf("initialised %s: ca.pem (issuing CA + root), crl.pem, server.pem, server.key\n", dir);
	ret = 0;
out:
	made_free(&root);
	made_free(&issuing);
	made_free(&server);
	free(rootkey);
	return ret;
}

/* --- issue --- */

struct issue_opts {
	const char *uid, *email, *subject, *cn_hex, *not_before, *not_after, *eku, *issuer;
	const char *san_dns, *san_uri, *upn, *key;
	const char *days;
	bool ca;
};

static int issue_build(const char *dir, const char *name, const struct issue_opts *o)
{
	struct made m = { 0 }, iss = { 0 };
	struct cg_buf chain;
	char *iss_pem = NULL, *iss_key = NULL, *pem = NULL, *key = NULL;
	gnutls_datum_t iss_text = { NULL, 0 };
	time_t now = time(NULL);
	int64_t off;
	unsigned long days = 365;
	uint8_t cn[1024];
	size_t cnlen = 0;
	const char *e = NULL;
	const char *eku = o->ca ? NULL : GNUTLS_KP_TLS_WWW_CLIENT;
	int ret = 1, rc;

	cg_buf_init(&chain, 4 * 1024 * 1024);
	if (o->days != NULL) {
		char *end;
		errno = 0;
		days = strtoul(o->days, &end, 10);
		if (errno != 0 || *end != '\0' || days == 0 || days > 36500)
			return usage("--days wants a number of days from 1 to 36500");
	}
	struct cert_spec s = { .not_before = now - 3600, .not_after = now + (time_t)days * DAY, .ca = o->ca };
	if (o->not_before != NULL) {
		if (!parse_offset(o->not_before, &off))
			return usage("--not-before wants an offset like -2d, +1h, +30d");
		s.not_before = now + off;
	}
	if (o->not_after != NULL) {
		if (!parse_offset(o->not_after, &off))
			return usage("--not-after wants an offset like -2d, +1h, +30d");
		s.not_after = now + off;
	}
	if (o->eku != NULL) {
		if (strcmp(o->eku, "none") == 0 || strcmp(o->eku, "any") == 0)
			eku = NULL;
		else if (pki_eku_parse(o->eku, &eku) != CG_OK)
			return usage("--eku wants clientAuth, serverAuth, none or a dotted OID");
	}
	s.eku = eku;
	s.ku = o->ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN : GNUTLS_KEY_DIGITAL_SIGNATURE;
	if (o->key != NULL && strcmp(o->key, "ecdsa") != 0 && strcmp(o->key, "rsa") != 0)
		return usage("--key wants ecdsa or rsa");
	if (o->cn_hex != NULL && (o->subject != NULL || !parse_hex(o->cn_hex, cn, sizeof(cn), &cnlen)))
		return usage("--cn-hex wants hex (at most 1024 bytes) and no --subject");
	if (o->issuer != NULL && !name_ok(o->issuer) && strcmp(o->issuer, "issuing") != 0)
		return usage("--issuer wants the NAME of an issued certificate");

	const char *iname = o->issuer != NULL ? o->issuer : "issuing";
	iss_pem = path_of(dir, iname, ".pem");
	iss_key = path_of(dir, iname, ".key");
	pem = path_of(dir, name, ".pem");
	key = path_of(dir, name, ".key");
	if (iss_pem == NULL || iss_key == NULL || pem == NULL || key == NULL)
		goto out;
	if (!load_crt(iss_pem, &iss.crt) || !load_key(iss_key, &iss.key))
		goto out;
	if (o->issuer != NULL && (rc = gnutls_load_file(iss_pem, &iss_text)) < 0) {
		say("%s: cannot read: %s", iss_pem, gnutls_strerror(rc));
		goto out;
	}
	if (!key_generate(o->key != NULL && strcmp(o->key, "rsa") == 0, &m.key))
		goto out;
	s.key = m.key;
	s.issuer = iss.crt;
	s.issuer_key = iss.key;
	if ((rc = gnutls_x509_crt_init(&m.crt)) < 0 || (rc = cert_begin(m.crt, &s)) < 0)
		goto fail;
	if (o->subject != NULL) {
		if ((rc = gnutls_x509_crt_set_dn(m.crt, o->subject, &e)) < 0) {
			say("--subject %s: cannot parse near '%s': %s", o->subject, e != NULL ? e : "",
			    gnutls_strerror(rc));
			goto out;
		}
	}
	/* appended RDNs: most significant first, so the CN ends least significant */
	if (o->email != NULL &&
	    (rc = gnutls_x509_crt_set_dn_by_oid(m.crt, OID_EMAIL, 0, o->email, (unsigned)strlen(o->email))) < 0)
		goto fail;
	if (o->uid != NULL &&
	    (rc = gnutls_x509_crt_set_dn_by_oid(m.crt, OID_UID, 0, o->uid, (unsigned)strlen(o->uid))) < 0)
		goto fail;
	if (o->cn_hex != NULL) {
		if ((rc = gnutls_x509_crt_set_dn_by_oid(m.crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)cnlen)) < 0)
			goto fail;
	} else if (o->subject == NULL) {
		if ((rc = gnutls_x509_crt_set_dn_by_oid(m.crt, GNUTLS_OID_X520_COMMON_NAME, 0, name,
							(unsigned)strlen(name))) < 0)
			goto fail;
	}
	if (o->email != NULL && (rc = gnutls_x509_crt_set_subject_alt_name(m.crt, GNUTLS_SAN_RFC822NAME, o->email,
									 (unsigned)strlen(o->email), GNUTLS_FSAN_APPEND)) < 0)
		goto fail;
	if (o->san_dns != NULL && (rc = gnutls_x509_crt_set_subject_alt_name(m.crt, GNUTLS_SAN_DNSNAME, o->san_dns,
									   (unsigned)strlen(o->san_dns), GNUTLS_FSAN_APPEND)) < 0)
		goto fail;
	if (o->san_uri != NULL && (rc = gnutls_x509_crt_set_subject_alt_name(m.crt, GNUTLS_SAN_URI, o->san_uri,
									   (unsigned)strlen(o->san_uri), GNUTLS_FSAN_APPEND)) < 0)
		goto fail;
	if (o->upn != NULL && (rc = gnutls_x509_crt_set_subject_alt_othername(m.crt, OID_UPN, o->upn, (unsigned)strlen(o->upn),
			GNUTLS_FSAN_APPEND | GNUTLS_FSAN_ENCODE_UTF8_STRING)) < 0)
		goto fail;
	if ((rc = cert_finish(m.crt, &s)) < 0)
		goto fail;
	if (!append_pem(&chain, m.crt) ||
	    (iss_text.size > 0 && cg_buf_append(&chain, iss_text.data, iss_text.size) != CG_OK)) {
		say("%s: cannot encode the certificate chain", pem);
		goto out;
	}
	if (!write_key(key, m.key) || !write_file(pem, chain.data, chain.len, 0644))
		goto out;
	uint8_t serial[32];
	size_t slen = sizeof(serial);
	char hex[65] = "";
	if (gnutls_x509_crt_get_serial(m.crt, serial, &slen) == 0)
		cg_hex_encode(serial, slen, hex);
	printf("issued %s (serial %s) and %s\n", pem, hex, key);
	ret = 0;
	goto out;
fail:
	say("cannot make the certificate for %s: %s", name, gnutls_strerror(rc));
out:
	made_free(&m);
	made_free(&iss);
	gnutls_free(iss_text.data);
	cg_buf_free(&chain);
	free(iss_pem);
	free(iss_key);
	free(pem);
	free(key);
	return ret;
}

/* --- revoke --- */

static int cmd_revoke(const char *dir, const char *name)
{
	struct made ca = { 0 };
	gnutls_x509_crt_t crt = NULL;
	struct pki_state st = { 0 };
	char *pem = path_of(dir, name, ".pem"), *ca_pem = path_of(dir, "issuing", ".pem"),
	     *ca_key = path_of(dir, "issuing", ".key");
	uint8_t serial[32];
	size_t slen = sizeof(serial);
	int ret = 1;
	bool have_state = false;

	if (pem == NULL || ca_pem == NULL || ca_key == NULL)
		goto out;
	if (!load_crt(pem, &crt) || !load_crt(ca_pem, &ca.crt) || !load_key(ca_key, &ca.key))
		goto out;
	if (gnutls_x509_crt_check_issuer(crt, ca.crt) == 0) {
		say("%s: not issued by the issuing CA (%s); its CRL cannot revoke it", pem, ca_pem);
		goto out;
	}
	if (gnutls_x509_crt_get_serial(crt, serial, &slen) < 0 || slen == 0 || slen > 21) {
		say("%s: unusable serial number", pem);
		goto out;
	}
	if (!(have_state = state_load(dir, &st)))
		goto out;
	bool known = false;
	for (size_t i = 0; i < st.n_rev; i++)
		if (st.rev[i].len == slen && memcmp(st.rev[i].serial, serial, slen) == 0)
			known = true;
	if (!known) {
		struct revoked *v = realloc(st.rev, (st.n_rev + 1) * sizeof(*v));
		if (v == NULL)
			goto out;
		st.rev = v;
		memcpy(v[st.n_rev].serial, serial, slen);
		v[st.n_rev].len = slen;
		v[st.n_rev].when = time(NULL);
		st.n_rev++;
	}
	st.crl_number++;
	if (!crl_write(dir, &st, ca.crt, ca.key) || !state_save(dir, &st))
		goto out;
	char hex[65];
	printf("revoked %s (serial %s); %s/crl.pem lists %zu serial(s)\n", name, cg_hex_encode(serial, slen, hex),
	       dir, st.n_rev);
	ret = 0;
out:
	if (have_state)
		free(st.rev);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	made_free(&ca);
	free(pem);
	free(ca_pem);
	free(ca_key);
	return ret;
}

/* --- ldif --- */

/* RFC 2849 SAFE-STRING: printable ASCII, no leading space, ':' or '<', no trailing space. */
static bool ldif_safe(const char *s)
{
	size_t n = strlen(s);
	if (n == 0)
		return true;
	if (s[0] == ' ' || s[0] == ':' || s[0] == '<' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static char *b64(const uint8_t *p, size_t n)
{
	char *out = malloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);
	if (out == NULL)
		return NULL;
	base64_encode_raw(out, n, p);
	out[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
	return out;
}

static int cmd_ldif(const char *dir, const char *name, const char *dn)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t der = { NULL, 0 };
	char *pem = path_of(dir, name, ".pem"), *cert64 = NULL, *dn64 = NULL;
	int ret = 1;

	if (pem == NULL || !load_crt(pem, &crt))
		goto out;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0 || (cert64 = b64(der.data, der.size)) == NULL) {
		say("%s: cannot encode the certificate", pem);
		goto out;
	}
	if (ldif_safe(dn))
		printf("dn: %s\n", dn);
	else if ((dn64 = b64((const uint8_t *)dn, strlen(dn))) != NULL)
		printf("dn:: %s\n", dn64);
	else
		goto out;
	printf("changetype: modify\nadd: userCertificate;binary\nuserCertificate;binary:: %s\n-\n", cert64);
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	free(cert64);
	free(dn64);
	gnutls_free(der.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	free(pem);
	return ret;
}

/* --- argument parsing --- */

struct optdef {
	const char *name;
	const char **value;  /* NULL for a flag */
	bool *flag;
};

int pki_tool_main(int argc, char **argv)
{
	struct issue_opts o = { 0 };
	const char *dn = NULL;
	const char *pos[4] = { NULL };
	size_t npos = 0;
	const struct optdef defs[] = {
		{ "--uid", &o.uid, NULL }, { "--email", &o.email, NULL }, { "--days", &o.days, NULL },
		{ "--key", &o.key, NULL }, { "--subject", &o.subject, NULL }, { "--cn-hex", &o.cn_hex, NULL },
		{ "--not-before", &o.not_before, NULL }, { "--not-after", &o.not_after, NULL },
		{ "--eku", &o.eku, NULL }, { "--issuer", &o.issuer, NULL }, { "--san-dns", &o.san_dns, NULL },
		{ "--san-uri", &o.san_uri, NULL }, { "--upn", &o.upn, NULL }, { "--dn", &dn, NULL },
		{ "--ca", NULL, &o.ca },
	};

	if (argc < 2)
		return usage(NULL);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
			if (npos >= sizeof(pos) / sizeof(pos[0]))
				return usage("too many arguments");
			pos[npos++] = a;
			continue;
		}
		size_t k, nd = sizeof(defs) / sizeof(defs[0]);
		const char *eq = strchr(a, '=');
		size_t alen = eq != NULL ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < nd; k++)
			if (strlen(defs[k].name) == alen && strncmp(defs[k].name, a, alen) == 0)
				break;
		if (k == nd) {
			say("unknown option %s", a);
			return usage(NULL);
		}
		if (defs[k].flag != NULL) {
			if (eq != NULL)
				return usage("a flag takes no value");
			*defs[k].flag = true;
		} else if (eq != NULL) {
			*defs[k].value = eq + 1;
		} else if (i + 1 < argc) {
			*defs[k].value = argv[++i];
		} else {
			say("%s needs a value", a);
			return usage(NULL);
		}
	}
	const char *cmd = argv[1];
	bool any_issue_opt = o.uid || o.email || o.days || o.key || o.subject || o.cn_hex || o.not_before ||
			     o.not_after || o.eku || o.issuer || o.san_dns || o.san_uri || o.upn || o.ca;

	if (strcmp(cmd, "init") == 0) {
		if (npos != 1 || any_issue_opt || dn != NULL)
			return usage("init takes DIR and no options");
		return cmd_init(pos[0]);
	}
	if (strcmp(cmd, "issue") == 0) {
		if (npos != 2 || dn != NULL)
			return usage("issue takes DIR NAME");
		if (!name_ok(pos[1]))
			return usage("NAME: letters, digits, '.', '_', '-'; not root, ca, issuing, server, crl, state");
		return issue_build(pos[0], pos[1], &o);
	}
	if (strcmp(cmd, "revoke") == 0) {
		if (npos != 2 || any_issue_opt || dn != NULL)
			return usage("revoke takes DIR NAME");
		if (!name_ok(pos[1]))
			return usage("NAME: letters, digits, '.', '_', '-'; not root, ca, issuing, server, crl, state");
		return cmd_revoke(pos[0], pos[1]);
	}
	if (strcmp(cmd, "ldif") == 0) {
		if (npos != 2 || any_issue_opt || dn == NULL)
			return usage("ldif takes DIR NAME --dn DN");
		if (!name_ok(pos[1]) && strcmp(pos[1], "server") != 0)
			return usage("NAME: letters, digits, '.', '_', '-'");
		return cmd_ldif(pos[0], pos[1], dn);
	}
	say("unknown command %s", cmd);
	return usage(NULL);
}
