/* Trust anchors and CRLs. Anchors are parsed here (to count them, keep
 * their SHA-256 and explain CRL problems) and handed to a GnuTLS trust list;
 * every CRL is verified against the anchors before it is added, because
 * GnuTLS drops a CRL it cannot verify without a word. */
#include "pki/pki_trust.h"
#include "pki/pki_trust_int.h"

#include <dirent.h>
#include <errno.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cg_buf.h"

#define PKI_MAX_PEM_FILE (16u * 1024 * 1024)

static void sha256_of(const gnutls_datum_t *d, uint8_t out[32])
{
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, d->size, d->data);
	sha256_digest(&c, 32, out);
}

/* Keep a private copy of anchor crt (taken over on CG_OK only). */
static enum cg_err anchor_keep(struct pki_trust *t, gnutls_x509_crt_t crt)
{
	gnutls_datum_t der = { NULL, 0 };
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) < 0)
		return CG_ERR_PKI;
	struct pki_anchor *a = realloc(t->anchors, (t->n_anchors + 1) * sizeof(*a));
	if (a == NULL) {
		gnutls_free(der.data);
		return CG_ERR_NOMEM;
	}
	t->anchors = a;
	a[t->n_anchors].crt = crt;
	sha256_of(&der, a[t->n_anchors].sha256);
	gnutls_free(der.data);
	t->n_anchors++;
	return CG_OK;
}

/* Read a PEM file (bounded); on CG_OK *text is the caller's (free) and *d points into it. */
static enum cg_err pem_file_read(const char *path, char **text, gnutls_datum_t *d, char *err, size_t errlen)
{
	size_t len = 0;
	enum cg_err r = cg_read_file(path, PKI_MAX_PEM_FILE, text, &len);
	if (r != CG_OK) {
		cg_errf(err, errlen, "%s: cannot read: %s", path, r == CG_ERR_RANGE ? "file too large" : strerror(errno));
		return r;
	}
	d->data = (unsigned char *)*text;
	d->size = (unsigned)len;
	return CG_OK;
}

/* Load the anchors of one PEM file: parse them, keep copies, add the same
 * text to the trust list. Zero certificates in the file is an error. */
static enum cg_err anchors_from_file(struct pki_trust *t, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0, kept = 0;
	gnutls_datum_t d;
	enum cg_err r = pem_file_read(path, &text, &d, err, errlen);
	int rc;

	if (r != CG_OK)
		return r;
	r = CG_ERR_PKI;
	rc = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		cg_errf(err, errlen, "%s: no trust anchor (PEM certificate) found: %s", path,
			rc < 0 ? gnutls_strerror(rc) : "empty");
		goto out;
	}
	rc = gnutls_x509_trust_list_add_trust_mem(t->list, &d, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	if (rc < 0 || (unsigned)rc != n) {
		cg_errf(err, errlen, "%s: GnuTLS accepted %d of %u certificates: %s", path, rc, n,
			rc < 0 ? gnutls_strerror(rc) : "duplicate or unusable anchor");
		goto out;
	}
	for (; kept < n; kept++) {
		r = anchor_keep(t, crts[kept]);
		if (r != CG_OK) {
			cg_errf(err, errlen, "%s: %s", path, cg_err_name(r));
			goto out;
		}
	}
	r = CG_OK;
out:
	for (unsigned i = kept; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	free(text);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir (names starting with '.' skipped), in name order. */
static enum cg_err anchors_from_dir(struct pki_trust *t, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	enum cg_err r = CG_OK;
	struct dirent *e;

	if (d == NULL) {
		cg_errf(err, errlen, "%s: cannot open directory: %s", dir, strerror(errno));
		return CG_ERR_IO;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char **v = realloc(names, (n + 1) * sizeof(*v));
		if (v == NULL) {
			r = CG_ERR_NOMEM;
			goto out;
		}
		names = v;
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) {
			r = CG_ERR_NOMEM;
			goto out;
		}
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == CG_OK; i++) {
		struct stat st;
		if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		r = anchors_from_file(t, names[i], err, errlen);
	}
out:
	if (r == CG_ERR_NOMEM)
		cg_errf(err, errlen, "%s: out of memory", dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

static enum cg_err anchors_from_path(struct pki_trust *t, const char *path, char *err, size_t errlen)
{
	struct stat st;
	size_t before = t->n_anchors;
	enum cg_err r;

	if (stat(path, &st) != 0) {
		cg_errf(err, errlen, "%s: %s", path, strerror(errno));
		return CG_ERR_IO;
	}
	if (S_ISDIR(st.st_mode))
		r = anchors_from_dir(t, path, err, errlen);
	else
		r = anchors_from_file(t, path, err, errlen);
	if (r == CG_OK && t->n_anchors == before) {
		cg_errf(err, errlen, "%s: no trust anchor found", path);
		r = CG_ERR_PKI;
	}
	return r;
}

/* Why the anchors cannot vouch for crl, or NULL when they can. */
static const char *crl_problem(struct pki_trust *t, gnutls_x509_crl_t crl)
{
	gnutls_x509_crt_t *cas = malloc(t->n_anchors * sizeof(*cas));
	unsigned status = 0;
	int rc;

	if (cas == NULL)
		return "out of memory";
	for (size_t i = 0; i < t->n_anchors; i++)
		cas[i] = t->anchors[i].crt;
	rc = gnutls_x509_crl_verify(crl, cas, (unsigned)t->n_anchors, 0, &status);
	free(cas);
	if (rc < 0)
		return gnutls_strerror(rc);
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND)
		return "CRL issuer is not a trust anchor: list the issuing CA in ca =";
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		return "CRL signature does not verify";
	if (status & GNUTLS_CERT_SIGNER_NOT_CA)
		return "CRL issuer is not a CA";
	if (status & GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED)
		return "CRL is out of date (nextUpdate has passed)";
	if (status & GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE)
		return "CRL thisUpdate is in the future";
	if (status != 0)
		return "CRL does not verify against the trust anchors";
	return NULL;
}

static enum cg_err crls_from_file(struct pki_trust *t, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	gnutls_x509_crl_t *crls = NULL;
	unsigned n = 0, used = 0;
	gnutls_datum_t d;
	enum cg_err r = pem_file_read(path, &text, &d, err, errlen);
	int rc;

	if (r != CG_OK)
		return r;
	r = CG_ERR_PKI;
	rc = gnutls_x509_crl_list_import2(&crls, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || n == 0) {
		cg_errf(err, errlen, "%s: no CRL found: %s", path, rc < 0 ? gnutls_strerror(rc) : "empty");
		goto out;
	}
	for (; used < n; used++) {
		const char *why = crl_problem(t, crls[used]);
		if (why != NULL) {
			cg_errf(err, errlen, "%s: CRL %u: %s", path, used + 1, why);
			goto out;
		}
		/* one at a time: the list owns a CRL only once it accepted it */
		rc = gnutls_x509_trust_list_add_crls(t->list, &crls[used], 1, GNUTLS_TL_VERIFY_CRL, 0);
		if (rc != 1) {
			cg_errf(err, errlen, "%s: CRL %u was not accepted: %s", path, used + 1,
				rc < 0 ? gnutls_strerror(rc)
				       : "CRL issuer is not a trust anchor: list the issuing CA in ca =");
			goto out;
		}
		time_t next = gnutls_x509_crl_get_next_update(crls[used]);
		if (next != (time_t)-1 && (t->crl_next_update == 0 || next < t->crl_next_update))
			t->crl_next_update = next;
		t->n_crls++;
	}
	r = CG_OK;
out:
	for (unsigned i = used; i < n; i++)
		gnutls_x509_crl_deinit(crls[i]);
	gnutls_free(crls);
	free(text);
	return r;
}

enum cg_err pki_trust_load(const char *const *ca_paths, size_t n_ca,
			   const char *const *crl_paths, size_t n_crl,
			   struct pki_trust **out, char *err, size_t errlen)
{
	struct pki_trust *t = NULL;
	enum cg_err r = CG_ERR_NOMEM;

	*out = NULL;
	cg_errf(err, errlen, "%s", "");
	if (n_ca == 0) {
		cg_errf(err, errlen, "no trust anchor configured (ca =)");
		return CG_ERR_ARG;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL || gnutls_x509_trust_list_init(&t->list, 0) < 0) {
		cg_errf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_ca; i++) {
		r = anchors_from_path(t, ca_paths[i], err, errlen);
		if (r != CG_OK)
			goto out;
	}
	for (size_t i = 0; i < n_crl; i++) {
		r = crls_from_file(t, crl_paths[i], err, errlen);
		if (r != CG_OK)
			goto out;
	}
	*out = t;
	t = NULL;
	r = CG_OK;
out:
	pki_trust_free(t);
	return r;
}

void pki_trust_free(struct pki_trust *t)
{
	if (t == NULL)
		return;
	if (t->list != NULL)
		gnutls_x509_trust_list_deinit(t->list, 1);
	for (size_t i = 0; i < t->n_anchors; i++)
		gnutls_x509_crt_deinit(t->anchors[i].crt);
	free(t->anchors);
	free(t);
}

gnutls_x509_trust_list_t pki_trust_list(const struct pki_trust *t)
{
	return t->list;
}

size_t pki_trust_anchor_count(const struct pki_trust *t)
{
	return t->n_anchors;
}

size_t pki_trust_crl_count(const struct pki_trust *t)
{
	return t->n_crls;
}

time_t pki_trust_crl_next_update(const struct pki_trust *t)
{
	return t->crl_next_update;
}

const struct pki_anchor *pki_trust_anchor_find(const struct pki_trust *t, const uint8_t sha256[32])
{
	for (size_t i = 0; i < t->n_anchors; i++)
		if (memcmp(t->anchors[i].sha256, sha256, 32) == 0)
			return &t->anchors[i];
	return NULL;
}
