/* The template engine of mapping rules (DESIGN.md §5). A template is literal
 * text with {variable} or {variable!modifier} references; "{{" and "}}" stand
 * for literal braces. Literal text is copied as is (it comes from the
 * administrator); every substituted value comes from the certificate and is
 * escaped for where it lands: RFC 4515 in a filter, RFC 4514 in a DN.
 *
 * Two values are DNs themselves and are not escaped again in a DN template:
 * {subject.dn} and {issuer.dn} are already RFC 4514 strings (escaped by
 * pki/), so `dn = {subject.dn}` names the entry whose DN is the subject.
 * Their !x500 forms, like every other value, are escaped as one attribute
 * value. In a filter every value, DNs included, is an assertion value.
 *
 * {cert} is the DER certificate: in a filter every byte becomes \hh (an exact
 * value assertion such as (userCertificate;binary={cert})); in a DN it is an
 * error. Reads struct pki_facts fields only; calls nothing in pki/. */
#include "ldap/dir_template.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"
#include "ldap/dir_escape.h"

enum dir_tvar {
	DIR_TVAR_SUBJECT_DN, DIR_TVAR_SUBJECT_CN, DIR_TVAR_SUBJECT_UID, DIR_TVAR_SUBJECT_EMAIL,
	DIR_TVAR_SUBJECT_O, DIR_TVAR_SUBJECT_OU, DIR_TVAR_ISSUER_DN, DIR_TVAR_SERIAL,
	DIR_TVAR_SAN_EMAIL, DIR_TVAR_SAN_DNS, DIR_TVAR_SAN_URI, DIR_TVAR_SAN_UPN,
	DIR_TVAR_SHA256, DIR_TVAR_SHA1, DIR_TVAR_SPKI_SHA256, DIR_TVAR_SKI, DIR_TVAR_CERT,
	DIR_TVAR_COUNT
};

enum dir_tmod {
	DIR_TMOD_NONE = 0,
	DIR_TMOD_DEC = 1u << 0,
	DIR_TMOD_HEX = 1u << 1,
	DIR_TMOD_HEX_U = 1u << 2,
	DIR_TMOD_HEX_R = 1u << 3,
	DIR_TMOD_HEX_UR = 1u << 4,
	DIR_TMOD_X500 = 1u << 5,
};

#define DIR_TMOD_SERIAL (DIR_TMOD_DEC | DIR_TMOD_HEX | DIR_TMOD_HEX_U | DIR_TMOD_HEX_R | DIR_TMOD_HEX_UR)

const char *const dir_template_variables[] = {
	[DIR_TVAR_SUBJECT_DN] = "subject.dn",
	[DIR_TVAR_SUBJECT_CN] = "subject.cn",
	[DIR_TVAR_SUBJECT_UID] = "subject.uid",
	[DIR_TVAR_SUBJECT_EMAIL] = "subject.email",
	[DIR_TVAR_SUBJECT_O] = "subject.o",
	[DIR_TVAR_SUBJECT_OU] = "subject.ou",
	[DIR_TVAR_ISSUER_DN] = "issuer.dn",
	[DIR_TVAR_SERIAL] = "serial",
	[DIR_TVAR_SAN_EMAIL] = "san.email",
	[DIR_TVAR_SAN_DNS] = "san.dns",
	[DIR_TVAR_SAN_URI] = "san.uri",
	[DIR_TVAR_SAN_UPN] = "san.upn",
	[DIR_TVAR_SHA256] = "sha256",
	[DIR_TVAR_SHA1] = "sha1",
	[DIR_TVAR_SPKI_SHA256] = "spki.sha256",
	[DIR_TVAR_SKI] = "ski",
	[DIR_TVAR_CERT] = "cert",
	[DIR_TVAR_COUNT] = NULL,
};

static const struct {
	const char *name;
	enum dir_tmod mod;
} dir_tmods[] = {
	{ "dec", DIR_TMOD_DEC }, { "hex", DIR_TMOD_HEX }, { "hex_u", DIR_TMOD_HEX_U },
	{ "hex_r", DIR_TMOD_HEX_R }, { "hex_ur", DIR_TMOD_HEX_UR }, { "x500", DIR_TMOD_X500 },
};

/* Which modifiers each variable takes. */
static unsigned dir_tvar_mods(enum dir_tvar v)
{
	switch (v) {
	case DIR_TVAR_SERIAL:
		return DIR_TMOD_SERIAL;
	case DIR_TVAR_SUBJECT_DN:
	case DIR_TVAR_ISSUER_DN:
		return DIR_TMOD_X500;
	default:
		return 0;
	}
}

#define DIR_TNAME_SHOW 64 /* at most this much of a bad name goes into err */

static bool dir_tname_eq(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

/* Parse the reference between '{' and '}' (text, n bytes) that starts at
 * offset off. On CG_OK *var and *mod are set. */
static enum cg_err dir_tref_parse(const char *text, size_t n, size_t off, enum dir_tvar *var,
				  enum dir_tmod *mod, char *err, size_t errlen)
{
	const char *bang = memchr(text, '!', n);
	size_t name_len = bang != NULL ? (size_t)(bang - text) : n;
	enum dir_tvar v = DIR_TVAR_COUNT;
	enum dir_tmod m = DIR_TMOD_NONE;

	for (int i = 0; i < DIR_TVAR_COUNT; i++)
		if (dir_tname_eq(text, name_len, dir_template_variables[i]))
			v = (enum dir_tvar)i;
	if (v == DIR_TVAR_COUNT) {
		cg_errf(err, errlen, "unknown variable {%.*s} at offset %zu", (int)(n < DIR_TNAME_SHOW ?
			 n : DIR_TNAME_SHOW), text, off);
		return CG_ERR_ARG;
	}
	if (bang != NULL) {
		const char *ms = bang + 1;
		size_t ml = n - name_len - 1;
		for (size_t i = 0; i < sizeof(dir_tmods) / sizeof(dir_tmods[0]); i++)
			if (dir_tname_eq(ms, ml, dir_tmods[i].name))
				m = dir_tmods[i].mod;
		if (m == DIR_TMOD_NONE) {
			cg_errf(err, errlen, "unknown modifier '!%.*s' in {%s} at offset %zu",
				 (int)(ml < DIR_TNAME_SHOW ? ml : DIR_TNAME_SHOW), ms,
				 dir_template_variables[v], off);
			return CG_ERR_ARG;
		}
		if ((dir_tvar_mods(v) & m) == 0) {
			cg_errf(err, errlen, "variable {%s} does not take the modifier '!%.*s' (offset %zu)",
				 dir_template_variables[v], (int)ml, ms, off);
			return CG_ERR_ARG;
		}
	}
	*var = v;
	*mod = m;
	return CG_OK;
}

static const char *dir_tmod_name(enum dir_tmod m)
{
	for (size_t i = 0; i < sizeof(dir_tmods) / sizeof(dir_tmods[0]); i++)
		if (dir_tmods[i].mod == m)
			return dir_tmods[i].name;
	return "";
}

/* Every byte as \hh (the {cert} exact-value assertion); all or nothing. */
static enum cg_err dir_escape_all(const uint8_t *p, size_t n, struct cg_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	char chunk[3 * 64];
	size_t start = out->len;
	enum cg_err r = CG_OK;

	for (size_t i = 0; i < n && r == CG_OK; i += 64) {
		size_t k = n - i < 64 ? n - i : 64;
		for (size_t j = 0; j < k; j++) {
			chunk[3 * j] = '\\';
			chunk[3 * j + 1] = hex[p[i + j] >> 4];
			chunk[3 * j + 2] = hex[p[i + j] & 15];
		}
		r = cg_buf_append(out, chunk, 3 * k);
	}
	if (r != CG_OK) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
	}
	return r;
}

static const char *dir_first(const struct pki_strlist *l)
{
	return l->n > 0 && l->v != NULL ? l->v[0] : NULL;
}

static void dir_serial_hex(const struct pki_facts *f, bool upper, bool reversed, char *out)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	for (size_t i = 0; i < f->serial_len; i++) {
		uint8_t b = f->serial[reversed ? f->serial_len - 1 - i : i];
		out[2 * i] = hex[b >> 4];
		out[2 * i + 1] = hex[b & 15];
	}
	out[2 * f->serial_len] = '\0';
}

/* Append the value of (v, m) for f, escaped for ctx. CG_ERR_DIR_MISSING_VAR
 * when f lacks it. */
static enum cg_err dir_tvalue_render(enum dir_tvar v, enum dir_tmod m, const struct pki_facts *f,
				     enum dir_escape_ctx ctx, struct cg_buf *out,
				     char *err, size_t errlen)
{
	char serial[2 * (PKI_MAX_SERIAL + 1) + 1];
	const char *s = NULL;
	bool is_dn = false;

	switch (v) {
	case DIR_TVAR_SUBJECT_DN:
		s = m == DIR_TMOD_X500 ? f->subject_dn_x500 : f->subject_dn;
		is_dn = m != DIR_TMOD_X500;
		break;
	case DIR_TVAR_ISSUER_DN:
		s = m == DIR_TMOD_X500 ? f->issuer_dn_x500 : f->issuer_dn;
		is_dn = m != DIR_TMOD_X500;
		break;
	case DIR_TVAR_SUBJECT_CN: s = f->cn; break;
	case DIR_TVAR_SUBJECT_UID: s = f->uid; break;
	case DIR_TVAR_SUBJECT_EMAIL: s = f->email; break;
	case DIR_TVAR_SUBJECT_O: s = f->o; break;
	case DIR_TVAR_SUBJECT_OU: s = f->ou; break;
	case DIR_TVAR_SERIAL:
		if (f->serial_len == 0 || f->serial_len > PKI_MAX_SERIAL + 1)
			break;
		if (m == DIR_TMOD_DEC) {
			s = f->serial_dec;
		} else {
			dir_serial_hex(f, m == DIR_TMOD_HEX_U || m == DIR_TMOD_HEX_UR,
				       m == DIR_TMOD_HEX_R || m == DIR_TMOD_HEX_UR, serial);
			s = serial;
		}
		break;
	case DIR_TVAR_SAN_EMAIL: s = dir_first(&f->san_email); break;
	case DIR_TVAR_SAN_DNS: s = dir_first(&f->san_dns); break;
	case DIR_TVAR_SAN_URI: s = dir_first(&f->san_uri); break;
	case DIR_TVAR_SAN_UPN: s = dir_first(&f->san_upn); break;
	case DIR_TVAR_SHA256: s = f->sha256_hex; break;
	case DIR_TVAR_SHA1: s = f->sha1_hex; break;
	case DIR_TVAR_SPKI_SHA256: s = f->spki_sha256_hex; break;
	case DIR_TVAR_SKI: s = f->ski_hex; break;
	case DIR_TVAR_CERT:
		if (ctx == DIR_ESCAPE_CTX_DN) {
			cg_errf(err, errlen, "{cert} cannot be used in a DN template");
			return CG_ERR_ARG;
		}
		if (f->der.data == NULL || f->der.size == 0)
			break;
		return dir_escape_all(f->der.data, f->der.size, out);
	case DIR_TVAR_COUNT:
		break;
	}
	if (s == NULL || s[0] == '\0') {
		cg_errf(err, errlen, "the certificate has no {%s%s%s}", dir_template_variables[v],
			 m == DIR_TMOD_NONE ? "" : "!", dir_tmod_name(m));
		return CG_ERR_DIR_MISSING_VAR;
	}
	if (ctx == DIR_ESCAPE_CTX_FILTER)
		return dir_escape_filter(s, strlen(s), out);
	if (is_dn)
		return cg_buf_append_str(out, s);
	return dir_escape_dn(s, strlen(s), out);
}

/* Walk tmpl; with f == NULL only check it, else render into out. */
static enum cg_err dir_template_walk(const char *tmpl, const struct pki_facts *f,
				     enum dir_escape_ctx ctx, struct cg_buf *out,
				     char *err, size_t errlen)
{
	size_t i = 0;
	enum cg_err r = CG_OK;

	while (tmpl[i] != '\0') {
		if (tmpl[i] == '{' && tmpl[i + 1] == '{') {
			if (f != NULL && (r = cg_buf_append(out, "{", 1)) != CG_OK)
				goto out;
			i += 2;
		} else if (tmpl[i] == '}' && tmpl[i + 1] == '}') {
			if (f != NULL && (r = cg_buf_append(out, "}", 1)) != CG_OK)
				goto out;
			i += 2;
		} else if (tmpl[i] == '}') {
			cg_errf(err, errlen, "unbalanced '}' at offset %zu (write '}}' for a literal brace)", i);
			r = CG_ERR_ARG;
			goto out;
		} else if (tmpl[i] == '{') {
			size_t j = i + 1;
			enum dir_tvar v;
			enum dir_tmod m;
			while (tmpl[j] != '\0' && tmpl[j] != '}' && tmpl[j] != '{')
				j++;
			if (tmpl[j] != '}') {
				cg_errf(err, errlen, "unbalanced '{' at offset %zu (write '{{' for a literal brace)",
					 i);
				r = CG_ERR_ARG;
				goto out;
			}
			r = dir_tref_parse(tmpl + i + 1, j - i - 1, i, &v, &m, err, errlen);
			if (r != CG_OK)
				goto out;
			if (f != NULL) {
				r = dir_tvalue_render(v, m, f, ctx, out, err, errlen);
				if (r != CG_OK)
					goto out;
			}
			i = j + 1;
		} else {
			size_t j = i;
			while (tmpl[j] != '\0' && tmpl[j] != '{' && tmpl[j] != '}')
				j++;
			if (f != NULL && (r = cg_buf_append(out, tmpl + i, j - i)) != CG_OK)
				goto out;
			i = j;
		}
	}
out:
	if (r == CG_ERR_RANGE)
		cg_errf(err, errlen, "rendered template longer than %d bytes", DIR_TEMPLATE_MAX_OUT);
	else if (r == CG_ERR_NOMEM)
		cg_errf(err, errlen, "out of memory");
	return r;
}

enum cg_err dir_template_validate(const char *tmpl, char *err, size_t errlen)
{
	if (tmpl == NULL) {
		cg_errf(err, errlen, "no template");
		return CG_ERR_ARG;
	}
	return dir_template_walk(tmpl, NULL, DIR_ESCAPE_CTX_FILTER, NULL, err, errlen);
}

enum cg_err dir_template_render(const char *tmpl, const struct pki_facts *f,
				enum dir_escape_ctx ctx, char **out, char *err, size_t errlen)
{
	struct cg_buf b;
	enum cg_err r;

	*out = NULL;
	if (tmpl == NULL || f == NULL) {
		cg_errf(err, errlen, "no template or no certificate");
		return CG_ERR_ARG;
	}
	/* a broken template is CG_ERR_ARG whatever the certificate holds */
	r = dir_template_validate(tmpl, err, errlen);
	if (r != CG_OK)
		return r;
	cg_buf_init(&b, DIR_TEMPLATE_MAX_OUT);
	r = dir_template_walk(tmpl, f, ctx, &b, err, errlen);
	if (r == CG_OK) {
		char *s = cg_buf_steal(&b);
		if (s == NULL)
			r = CG_ERR_NOMEM;
		*out = s;
	}
	cg_buf_free(&b);
	return r;
}
