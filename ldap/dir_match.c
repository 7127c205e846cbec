/* The `match =` language of a mapping rule, after SSSD's sss-certmap(5)
 * matching rules: components <SUBJECT>regex, <ISSUER>regex, <KU>list,
 * <EKU>list and <SAN:type>regex joined by "&&" (all must hold) or "||" (one
 * must hold), never both in one rule. A component without a <TAG> is
 * <SUBJECT>. Whitespace around components and operators is ignored, so a
 * regex cannot begin or end with a blank (write [ ] instead), and a regex
 * cannot contain "&&" or "||" (they always split components).
 *
 * Regexes are POSIX ERE, unanchored, matched against the RFC 4514 subject
 * or issuer DN and against every SAN value of the type (any one matching is
 * enough). <KU> lists key usage names or numbers (GNUTLS_KEY_* bit masks);
 * every listed bit must be set. <EKU> lists names or dotted OIDs; every one
 * must be in the certificate. Compiled once at configuration time;
 * dir_match_eval is read-only and may run on many threads at once. */
#include "ldap/dir_match.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"

#define DIR_MATCH_MAX_COMPONENTS 32
#define DIR_MATCH_MAX_REGEX      1024
#define DIR_MATCH_MAX_EKUS       32
#define DIR_MATCH_MAX_REPEATS    16   /* repetition operators in one regex */
#define DIR_MATCH_MAX_BOUND      100  /* the largest {m,n} bound */
#define DIR_MATCH_MAX_BRACES     2    /* {m,n} repeats in one regex (they multiply when nested) */
#define DIR_MATCH_SHOW           48  /* at most this much of a component goes into err */

enum dir_mkind {
	DIR_MATCH_SUBJECT, DIR_MATCH_ISSUER, DIR_MATCH_KU, DIR_MATCH_EKU,
	DIR_MATCH_SAN_EMAIL, DIR_MATCH_SAN_DNS, DIR_MATCH_SAN_URI, DIR_MATCH_SAN_UPN,
};

struct dir_match_comp {
	enum dir_mkind kind;
	bool has_re;
	regex_t re;
	unsigned ku;                           /* DIR_MATCH_KU: bits that must be set */
	const char *ekus[DIR_MATCH_MAX_EKUS];  /* DIR_MATCH_EKU: static OID strings or ... */
	char *eku_owned[DIR_MATCH_MAX_EKUS];   /* ... our copies of dotted OIDs given in the rule */
	size_t n_ekus;
};

struct dir_match {
	bool any;                              /* "||"; false: "&&" (or a single component) */
	size_t n;
	struct dir_match_comp c[DIR_MATCH_MAX_COMPONENTS];
};

static const struct {
	const char *tag;
	enum dir_mkind kind;
} dir_mtags[] = {
	{ "SUBJECT", DIR_MATCH_SUBJECT },
	{ "ISSUER", DIR_MATCH_ISSUER },
	{ "KU", DIR_MATCH_KU },
	{ "EKU", DIR_MATCH_EKU },
	{ "SAN:rfc822Name", DIR_MATCH_SAN_EMAIL },
	{ "SAN:dNSName", DIR_MATCH_SAN_DNS },
	{ "SAN:uniformResourceIdentifier", DIR_MATCH_SAN_URI },
	{ "SAN:Principal", DIR_MATCH_SAN_UPN },
	{ "SAN:ntPrincipalName", DIR_MATCH_SAN_UPN },
	{ "SAN", DIR_MATCH_SAN_UPN },
};

static const struct {
	const char *name;
	unsigned bit;
} dir_kus[] = {
	{ "digitalSignature", GNUTLS_KEY_DIGITAL_SIGNATURE },
	{ "nonRepudiation", GNUTLS_KEY_NON_REPUDIATION },
	{ "keyEncipherment", GNUTLS_KEY_KEY_ENCIPHERMENT },
	{ "dataEncipherment", GNUTLS_KEY_DATA_ENCIPHERMENT },
	{ "keyAgreement", GNUTLS_KEY_KEY_AGREEMENT },
	{ "keyCertSign", GNUTLS_KEY_KEY_CERT_SIGN },
	{ "cRLSign", GNUTLS_KEY_CRL_SIGN },
	{ "encipherOnly", GNUTLS_KEY_ENCIPHER_ONLY },
	{ "decipherOnly", GNUTLS_KEY_DECIPHER_ONLY },
};

#define DIR_KU_ALL (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_NON_REPUDIATION | \
		    GNUTLS_KEY_KEY_ENCIPHERMENT | GNUTLS_KEY_DATA_ENCIPHERMENT | \
		    GNUTLS_KEY_KEY_AGREEMENT | GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN | \
		    GNUTLS_KEY_ENCIPHER_ONLY | GNUTLS_KEY_DECIPHER_ONLY)

static const struct {
	const char *name;
	const char *oid;
} dir_ekus[] = {
	{ "serverAuth", GNUTLS_KP_TLS_WWW_SERVER },
	{ "clientAuth", GNUTLS_KP_TLS_WWW_CLIENT },
	{ "codeSigning", GNUTLS_KP_CODE_SIGNING },
	{ "emailProtection", GNUTLS_KP_EMAIL_PROTECTION },
	{ "timeStamping", GNUTLS_KP_TIME_STAMPING },
	{ "OCSPSigning", GNUTLS_KP_OCSP_SIGNING },
	{ "pkinit", "1.3.6.1.5.2.3.4" },
	{ "KPClientAuth", "1.3.6.1.5.2.3.4" },
	{ "KPServerAuth", "1.3.6.1.5.2.3.5" },
	{ "msScLogin", "1.3.6.1.4.1.311.20.2.2" },
};

static bool dir_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Dotted decimal OID with at least two arcs, no empty arc, no leading zero. */
static bool dir_oid_ok(const char *s, size_t n)
{
	size_t arcs = 0, i = 0;
	if (n == 0 || n > 128)
		return false;
	while (i < n) {
		size_t start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || (s[start] == '0' && i - start > 1))
			return false;
		arcs++;
		if (i == n)
			break;
		if (s[i] != '.' || i + 1 == n)
			return false;
		i++;
	}
	return arcs >= 2;
}

/* Where a component came from, for messages: "component 2 ('<KU>foo') at offset 14". */
struct dir_mpos {
	size_t index;
	size_t off;
	const char *text;
	size_t len;
};

#define DIR_MPOS_FMT "component %zu ('%.*s%s') at offset %zu"
#define DIR_MPOS_ARGS(p) (p)->index, (int)((p)->len < DIR_MATCH_SHOW ? (p)->len : DIR_MATCH_SHOW), \
	(p)->text, (p)->len > DIR_MATCH_SHOW ? "..." : "", (p)->off

static enum cg_err dir_match_ku(struct dir_match_comp *c, const char *s, size_t n,
				const struct dir_mpos *pos, char *err, size_t errlen)
{
	size_t i = 0;
	unsigned mask = 0;

	while (i <= n) {
		size_t j = i, a, b;
		unsigned bit = 0;
		while (j < n && s[j] != ',')
			j++;
		for (a = i; a < j && dir_blank(s[a]); a++)
			;
		for (b = j; b > a && dir_blank(s[b - 1]); b--)
			;
		if (a == b) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": empty key usage", DIR_MPOS_ARGS(pos));
			return CG_ERR_ARG;
		}
		for (size_t k = 0; k < sizeof(dir_kus) / sizeof(dir_kus[0]); k++)
			if (strlen(dir_kus[k].name) == b - a && memcmp(dir_kus[k].name, s + a, b - a) == 0)
				bit = dir_kus[k].bit;
		if (bit == 0 && isdigit((unsigned char)s[a]) && b - a < 16) {
			char num[16];
			char *end;
			unsigned long v;
			memcpy(num, s + a, b - a);
			num[b - a] = '\0';
			errno = 0;
			v = strtoul(num, &end, 0);
			if (errno == 0 && *end == '\0' && v != 0 && (v & ~(unsigned long)DIR_KU_ALL) == 0)
				bit = (unsigned)v;
		}
		if (bit == 0) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": unknown key usage '%.*s'", DIR_MPOS_ARGS(pos),
				 (int)(b - a < DIR_MATCH_SHOW ? b - a : DIR_MATCH_SHOW), s + a);
			return CG_ERR_ARG;
		}
		mask |= bit;
		i = j + 1;
	}
	c->ku = mask;
	return CG_OK;
}

static enum cg_err dir_match_eku(struct dir_match_comp *c, const char *s, size_t n,
				 const struct dir_mpos *pos, char *err, size_t errlen)
{
	size_t i = 0;

	while (i <= n) {
		size_t j = i, a, b;
		const char *oid = NULL;
		while (j < n && s[j] != ',')
			j++;
		for (a = i; a < j && dir_blank(s[a]); a++)
			;
		for (b = j; b > a && dir_blank(s[b - 1]); b--)
			;
		if (a == b) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": empty extended key usage", DIR_MPOS_ARGS(pos));
			return CG_ERR_ARG;
		}
		if (c->n_ekus == DIR_MATCH_MAX_EKUS) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": more than %d extended key usages",
				 DIR_MPOS_ARGS(pos), DIR_MATCH_MAX_EKUS);
			return CG_ERR_ARG;
		}
		for (size_t k = 0; k < sizeof(dir_ekus) / sizeof(dir_ekus[0]); k++)
			if (strlen(dir_ekus[k].name) == b - a && memcmp(dir_ekus[k].name, s + a, b - a) == 0)
				oid = dir_ekus[k].oid;
		if (oid == NULL && dir_oid_ok(s + a, b - a)) {
			char *copy = strndup(s + a, b - a);
			if (copy == NULL)
				return CG_ERR_NOMEM;
			c->eku_owned[c->n_ekus] = copy;
			oid = copy;
		}
		if (oid == NULL) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": unknown extended key usage '%.*s'",
				 DIR_MPOS_ARGS(pos), (int)(b - a < DIR_MATCH_SHOW ? b - a : DIR_MATCH_SHOW), s + a);
			return CG_ERR_ARG;
		}
		c->ekus[c->n_ekus++] = oid;
		i = j + 1;
	}
	return CG_OK;
}

/* glibc's regcomp copies the parse tree for every repetition: stacked or
 * nested repeats ("u+++++", "(a{1,1000}){1,1000}") take exponential memory
 * and time at load. Refuse what no certificate rule needs: more than
 * DIR_MATCH_MAX_REPEATS repetition operators, a repeat applied to a repeat
 * (undefined in POSIX ERE anyway), more than DIR_MATCH_MAX_BRACES {m,n}
 * repeats, or a bound over DIR_MATCH_MAX_BOUND.
 * Returns NULL when re is acceptable, else why not. */
static const char *dir_match_regex_risky(const char *re)
{
	unsigned repeats = 0, braces = 0;
	bool after_repeat = false;
	for (const char *p = re; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			after_repeat = false;
			continue;
		}
		if (*p == '[') {  /* a bracket expression: ']' first is literal */
			const char *q = p + 1;
			if (*q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q != '\0' && *q != ']')
				q++;
			p = *q == ']' ? q : q - 1;
			after_repeat = false;
			continue;
		}
		if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
			if (after_repeat)
				return "a repetition applied to a repetition";
			if (++repeats > DIR_MATCH_MAX_REPEATS)
				return "too many repetition operators (at most 16)";
			if (*p == '{') {
				if (++braces > DIR_MATCH_MAX_BRACES)
					return "more than 2 {m,n} repeats";
				for (const char *q = p + 1; *q != '\0' && *q != '}'; q++) {
					if (*q < '0' || *q > '9')
						continue;
					if (strtoul(q, NULL, 10) > DIR_MATCH_MAX_BOUND)
						return "a {m,n} bound over 100";
					while (q[1] >= '0' && q[1] <= '9')
						q++;  /* past this number */
				}
				const char *close = strchr(p, '}');
				if (close != NULL)
					p = close;
			}
			after_repeat = true;
			continue;
		}
		after_repeat = false;
	}
	return NULL;
}

static enum cg_err dir_match_regex(struct dir_match_comp *c, const char *s, size_t n,
				   const struct dir_mpos *pos, char *err, size_t errlen)
{
	char re[DIR_MATCH_MAX_REGEX + 1];
	int rc;

	if (n == 0) {
		cg_errf(err, errlen, DIR_MPOS_FMT ": empty regular expression", DIR_MPOS_ARGS(pos));
		return CG_ERR_ARG;
	}
	if (n > DIR_MATCH_MAX_REGEX) {
		cg_errf(err, errlen, DIR_MPOS_FMT ": regular expression longer than %d bytes",
			 DIR_MPOS_ARGS(pos), DIR_MATCH_MAX_REGEX);
		return CG_ERR_ARG;
	}
	memcpy(re, s, n);
	re[n] = '\0';
	const char *risky = dir_match_regex_risky(re);
	if (risky != NULL) {
		cg_errf(err, errlen, DIR_MPOS_FMT ": regular expression refused: %s", DIR_MPOS_ARGS(pos), risky);
		return CG_ERR_ARG;
	}
	rc = regcomp(&c->re, re, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];
		regerror(rc, &c->re, why, sizeof(why));
		cg_errf(err, errlen, DIR_MPOS_FMT ": bad regular expression: %s", DIR_MPOS_ARGS(pos), why);
		return rc == REG_ESPACE ? CG_ERR_NOMEM : CG_ERR_ARG;
	}
	c->has_re = true;
	return CG_OK;
}

/* One trimmed, non-empty component text. */
static enum cg_err dir_match_component(struct dir_match_comp *c, const struct dir_mpos *pos,
				       char *err, size_t errlen)
{
	const char *s = pos->text;
	size_t n = pos->len;
	enum dir_mkind kind = DIR_MATCH_SUBJECT;

	if (s[0] == '<') {
		const char *gt = memchr(s, '>', n);
		size_t tl;
		bool found = false;
		if (gt == NULL) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": '<' without '>'", DIR_MPOS_ARGS(pos));
			return CG_ERR_ARG;
		}
		tl = (size_t)(gt - s) - 1;
		for (size_t k = 0; k < sizeof(dir_mtags) / sizeof(dir_mtags[0]) && !found; k++)
			if (strlen(dir_mtags[k].tag) == tl && memcmp(dir_mtags[k].tag, s + 1, tl) == 0) {
				kind = dir_mtags[k].kind;
				found = true;
			}
		if (!found) {
			cg_errf(err, errlen, DIR_MPOS_FMT ": unknown tag <%.*s>", DIR_MPOS_ARGS(pos),
				 (int)(tl < DIR_MATCH_SHOW ? tl : DIR_MATCH_SHOW), s + 1);
			return CG_ERR_ARG;
		}
		n -= tl + 2;
		s = gt + 1;
	}
	c->kind = kind;
	switch (kind) {
	case DIR_MATCH_KU:
		return dir_match_ku(c, s, n, pos, err, errlen);
	case DIR_MATCH_EKU:
		return dir_match_eku(c, s, n, pos, err, errlen);
	default:
		return dir_match_regex(c, s, n, pos, err, errlen);
	}
}

void dir_match_free(struct dir_match *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		if (m->c[i].has_re)
			regfree(&m->c[i].re);
		for (size_t k = 0; k < m->c[i].n_ekus; k++)
			free(m->c[i].eku_owned[k]);
	}
	free(m);
}

enum cg_err dir_match_compile(const char *expr, struct dir_match **out, char *err, size_t errlen)
{
	struct dir_match *m = NULL;
	enum cg_err r = CG_ERR_ARG;
	char op = 0;
	size_t i = 0, len;

	*out = NULL;
	if (expr == NULL) {
		cg_errf(err, errlen, "empty match rule");
		return CG_ERR_ARG;
	}
	len = strlen(expr);
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return CG_ERR_NOMEM;
	for (;;) {
		size_t j = i, a, b;
		struct dir_mpos pos;
		while (j < len && !((expr[j] == '&' || expr[j] == '|') && expr[j + 1] == expr[j]))
			j++;
		for (a = i; a < j && dir_blank(expr[a]); a++)
			;
		for (b = j; b > a && dir_blank(expr[b - 1]); b--)
			;
		if (a == b) {
			if (m->n == 0 && j == len)
				cg_errf(err, errlen, "empty match rule");
			else
				cg_errf(err, errlen, "component %zu at offset %zu is empty", m->n + 1, a);
			goto out;
		}
		if (m->n == DIR_MATCH_MAX_COMPONENTS) {
			cg_errf(err, errlen, "component %zu at offset %zu: more than %d components",
				 m->n + 1, a, DIR_MATCH_MAX_COMPONENTS);
			goto out;
		}
		pos.index = m->n + 1;
		pos.off = a;
		pos.text = expr + a;
		pos.len = b - a;
		/* count it first so dir_match_free releases what a failed compile left */
		m->n++;
		r = dir_match_component(&m->c[m->n - 1], &pos, err, errlen);
		if (r != CG_OK)
			goto out;
		r = CG_ERR_ARG;
		if (j == len)
			break;
		if (op != 0 && op != expr[j]) {
			cg_errf(err, errlen, "operator '%c%c' at offset %zu: a rule may use && or || but not both",
				 expr[j], expr[j], j);
			goto out;
		}
		op = expr[j];
		i = j + 2;
	}
	m->any = op == '|';
	*out = m;
	m = NULL;
	r = CG_OK;
out:
	dir_match_free(m);
	return r;
}

static bool dir_match_re(const regex_t *re, const char *s)
{
	return s != NULL && regexec(re, s, 0, NULL, 0) == 0;
}

static bool dir_match_list(const regex_t *re, const struct pki_strlist *l)
{
	for (size_t i = 0; l->v != NULL && i < l->n; i++)
		if (dir_match_re(re, l->v[i]))
			return true;
	return false;
}

static bool dir_match_has_eku(const struct pki_strlist *l, const char *oid)
{
	for (size_t i = 0; l->v != NULL && i < l->n; i++)
		if (l->v[i] != NULL && strcmp(l->v[i], oid) == 0)
			return true;
	return false;
}

static bool dir_match_one(const struct dir_match_comp *c, const struct pki_facts *f)
{
	switch (c->kind) {
	case DIR_MATCH_SUBJECT:
		return dir_match_re(&c->re, f->subject_dn);
	case DIR_MATCH_ISSUER:
		return dir_match_re(&c->re, f->issuer_dn);
	case DIR_MATCH_KU:
		return f->has_key_usage && (f->key_usage & c->ku) == c->ku;
	case DIR_MATCH_EKU:
		for (size_t k = 0; k < c->n_ekus; k++)
			if (!dir_match_has_eku(&f->eku, c->ekus[k]))
				return false;
		return true;
	case DIR_MATCH_SAN_EMAIL:
		return dir_match_list(&c->re, &f->san_email);
	case DIR_MATCH_SAN_DNS:
		return dir_match_list(&c->re, &f->san_dns);
	case DIR_MATCH_SAN_URI:
		return dir_match_list(&c->re, &f->san_uri);
	case DIR_MATCH_SAN_UPN:
		return dir_match_list(&c->re, &f->san_upn);
	}
	return false;
}

bool dir_match_eval(const struct dir_match *m, const struct pki_facts *f)
{
	if (m == NULL)
		return true;
	if (f == NULL)
		return false;
	for (size_t i = 0; i < m->n; i++) {
		bool ok = dir_match_one(&m->c[i], f);
		if (m->any && ok)
			return true;
		if (!m->any && !ok)
			return false;
	}
	return !m->any;
}
