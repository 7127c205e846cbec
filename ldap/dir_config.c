/* Directory settings: the keys of [directory] and [map:NAME] (DESIGN.md §5),
 * checked one by one as the server's INI parser hands them over, then
 * finished (required keys, the bind password, rule order) and read-only. */
#include <ctype.h>
#include <errno.h>
#include <ldap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cg_buf.h"
#include "common/cg_log.h"
#include "common/cg_parse.h"
#include "ldap/dir_config.h"
#include "ldap/dir_match.h"
#include "ldap/dir_template.h"

#define DIR_PASSWORD_MAX   1024
#define DIR_MAX_URIS       16
#define DIR_MAX_RULES      256
#define DIR_MAX_VALUE      4096

/* Index into key_line[]; the last slot holds the [directory] section line. */
enum dir_key {
	DIR_KEY_URI, DIR_KEY_STARTTLS, DIR_KEY_TLS_CA, DIR_KEY_BIND_DN, DIR_KEY_BIND_PASSWORD_FILE,
	DIR_KEY_TIMEOUT, DIR_KEY_POOL_SIZE, DIR_KEY_CERT_ATTRIBUTE, DIR_KEY_VERIFY,
	DIR_KEY_DENY_FILTER, DIR_KEY_REQUIRE_GROUP, DIR_KEY_ON_UNAVAILABLE, DIR_KEY_RECHECK_INTERVAL,
	DIR_KEY__COUNT
};
#define DIR_SECTION_LINE 15

static const char *const dir_key_names[DIR_KEY__COUNT] = {
	"uri", "starttls", "tls_ca", "bind_dn", "bind_password_file", "timeout", "pool_size",
	"cert_attribute", "verify", "deny_filter", "require_group", "on_unavailable",
	"recheck_interval",
};

enum dir_rule_key {
	DIR_RKEY_PRIORITY, DIR_RKEY_MATCH, DIR_RKEY_ANCHOR, DIR_RKEY_BASE, DIR_RKEY_SCOPE,
	DIR_RKEY_FILTER, DIR_RKEY_DN, DIR_RKEY__COUNT
};

static const char *const dir_rule_key_names[DIR_RKEY__COUNT] = {
	"priority", "match", "anchor", "base", "scope", "filter", "dn",
};

/* Replace *slot with a copy of s. */
static enum cg_err dir_set_str(char **slot, const char *s)
{
	char *copy = strdup(s);
	if (copy == NULL)
		return CG_ERR_NOMEM;
	free(*slot);
	*slot = copy;
	return CG_OK;
}

/* path relative to basedir unless absolute; on CG_OK *out is the caller's. */
static enum cg_err dir_resolve_path(const struct dir_config *c, const char *path, char **out)
{
	char *p = NULL;
	if (path[0] == '/' || c->basedir == NULL || c->basedir[0] == '\0') {
		p = strdup(path);
	} else if (asprintf(&p, "%s/%s", c->basedir, path) < 0) {
		p = NULL;
	}
	if (p == NULL)
		return CG_ERR_NOMEM;
	*out = p;
	return CG_OK;
}

/* A syntactically valid LDAPv3 DN (non-empty). */
static bool dir_valid_dn(const char *s)
{
	LDAPDN dn = NULL;
	if (s[0] == '\0')
		return false;
	if (ldap_str2dn(s, &dn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return false;
	ldap_dnfree(dn);
	return true;
}

/* A filter in parentheses with balanced, non-empty parentheses (values with
 * parentheses must be escaped as \28 \29 per RFC 4515). */
static bool dir_valid_filter_shape(const char *s)
{
	size_t n = strlen(s);
	int depth = 0;
	if (n < 3 || s[0] != '(' || s[n - 1] != ')')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')') {
			if (depth == 0 || s[i - 1] == '(')
				return false;
			if (--depth == 0 && i != n - 1)
				return false;
		}
	}
	return depth == 0;
}

static bool dir_valid_attr_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool dir_valid_rule_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static void dir_free_uris(char **uris, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(uris[i]);
	free(uris);
}

/* Split the space-separated uri value, each ldap://, ldaps:// or ldapi://. */
static enum cg_err dir_parse_uris(struct dir_config *c, const char *value, char *err, size_t errlen)
{
	char *copy = strdup(value), *save = NULL, *tok;
	char **uris = NULL;
	size_t n = 0;
	enum cg_err r = CG_ERR_NOMEM;
	if (copy == NULL)
		goto out;
	uris = calloc(DIR_MAX_URIS, sizeof(*uris));
	if (uris == NULL)
		goto out;
	for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
		LDAPURLDesc *lud = NULL;
		if (n == DIR_MAX_URIS) {
			cg_errf(err, errlen, "[directory] uri: more than %d URIs", DIR_MAX_URIS);
			r = CG_ERR_ARG;
			goto out;
		}
		if (strncasecmp(tok, "ldap://", 7) != 0 && strncasecmp(tok, "ldaps://", 8) != 0 &&
		    strncasecmp(tok, "ldapi://", 8) != 0) {
			cg_errf(err, errlen, "[directory] uri: '%s' is not an ldap://, ldaps:// or ldapi:// URI", tok);
			r = CG_ERR_ARG;
			goto out;
		}
		if (ldap_url_parse(tok, &lud) != LDAP_URL_SUCCESS) {
			cg_errf(err, errlen, "[directory] uri: cannot parse '%s'", tok);
			r = CG_ERR_ARG;
			goto out;
		}
		ldap_free_urldesc(lud);
		uris[n] = strdup(tok);
		if (uris[n] == NULL)
			goto out;
		n++;
	}
	if (n == 0) {
		cg_errf(err, errlen, "[directory] uri: empty");
		r = CG_ERR_ARG;
		goto out;
	}
	dir_free_uris(c->uris, c->n_uris);
	c->uris = uris;
	c->n_uris = n;
	uris = NULL;
	n = 0;
	r = CG_OK;
out:
	if (uris != NULL)
		dir_free_uris(uris, n);
	free(copy);
	return r;
}

CG_MUST_CHECK enum cg_err dir_config_init(struct dir_config *c, const char *basedir)
{
	memset(c, 0, sizeof(*c));
	c->basedir = strdup(basedir != NULL ? basedir : ".");
	c->cert_attribute = strdup("userCertificate");
	if (c->basedir == NULL || c->cert_attribute == NULL) {
		dir_config_free(c);
		return CG_ERR_NOMEM;
	}
	c->timeout_ms = 2000;
	c->pool_size = 4;
	c->verify = DIR_VERIFY_ALWAYS;
	c->recheck_interval_ms = 300000;
	return CG_OK;
}

static enum cg_err dir_set_directory_key(struct dir_config *c, const char *key, const char *value,
					 unsigned line, char *err, size_t errlen)
{
	int k;
	uint64_t u;
	bool b;
	for (k = 0; k < DIR_KEY__COUNT; k++)
		if (strcmp(key, dir_key_names[k]) == 0)
			break;
	if (k == DIR_KEY__COUNT)
		return CG_ERR_NOTFOUND;
	if (c->key_line[k] != 0) {
		cg_errf(err, errlen, "[directory] %s: given twice (first on line %u)", key, c->key_line[k]);
		return CG_ERR_ARG;
	}
	switch ((enum dir_key)k) {
	case DIR_KEY_URI:
		CG_GUARD(dir_parse_uris(c, value, err, errlen));
		break;
	case DIR_KEY_STARTTLS:
		if (cg_parse_bool(value, &b) != CG_OK) {
			cg_errf(err, errlen, "[directory] starttls: '%s' is not on or off", value);
			return CG_ERR_ARG;
		}
		c->starttls = b;
		break;
	case DIR_KEY_TLS_CA:
	case DIR_KEY_BIND_PASSWORD_FILE: {
		char *p = NULL;
		if (value[0] == '\0') {
			cg_errf(err, errlen, "[directory] %s: empty file name", key);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_resolve_path(c, value, &p));
		char **slot = k == DIR_KEY_TLS_CA ? &c->tls_ca : &c->bind_password_file;
		free(*slot);
		*slot = p;
		break;
	}
	case DIR_KEY_BIND_DN:
		if (!dir_valid_dn(value)) {
			cg_errf(err, errlen, "[directory] bind_dn: '%s' is not a valid DN", value);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&c->bind_dn, value));
		break;
	case DIR_KEY_TIMEOUT:
		if (cg_parse_duration_ms(value, &u) != CG_OK || u < 10 || u > 600000) {
			cg_errf(err, errlen, "[directory] timeout: '%s' is not a duration between 10ms and 10m",
				 value);
			return CG_ERR_ARG;
		}
		c->timeout_ms = u;
		break;
	case DIR_KEY_POOL_SIZE:
		if (cg_parse_uint(value, 1, 256, &u) != CG_OK) {
			cg_errf(err, errlen, "[directory] pool_size: '%s' is not a number from 1 to 256", value);
			return CG_ERR_ARG;
		}
		c->pool_size = (unsigned)u;
		break;
	case DIR_KEY_CERT_ATTRIBUTE:
		if (!dir_valid_attr_name(value)) {
			cg_errf(err, errlen,
				 "[directory] cert_attribute: '%s' is not an attribute name (no options such as ;binary)",
				 value);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&c->cert_attribute, value));
		break;
	case DIR_KEY_VERIFY:
		if (strcmp(value, "always") == 0) {
			c->verify = DIR_VERIFY_ALWAYS;
		} else if (strcmp(value, "ifpresent") == 0) {
			c->verify = DIR_VERIFY_IFPRESENT;
		} else if (strcmp(value, "never") == 0) {
			c->verify = DIR_VERIFY_NEVER;
		} else {
			cg_errf(err, errlen, "[directory] verify: '%s' is not always, ifpresent or never", value);
			return CG_ERR_ARG;
		}
		break;
	case DIR_KEY_DENY_FILTER:
		if (!dir_valid_filter_shape(value) || strlen(value) > DIR_MAX_VALUE) {
			cg_errf(err, errlen, "[directory] deny_filter: '%s' is not an LDAP filter in parentheses",
				 value);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&c->deny_filter, value));
		break;
	case DIR_KEY_REQUIRE_GROUP:
		if (!dir_valid_dn(value)) {
			cg_errf(err, errlen, "[directory] require_group: '%s' is not a valid DN", value);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&c->require_group, value));
		break;
	case DIR_KEY_ON_UNAVAILABLE:
		if (strcmp(value, "deny") == 0) {
			c->on_unavailable_stale = false;
		} else if (strcmp(value, "stale") == 0) {
			c->on_unavailable_stale = true;
		} else {
			cg_errf(err, errlen, "[directory] on_unavailable: '%s' is not deny or stale", value);
			return CG_ERR_ARG;
		}
		break;
	case DIR_KEY_RECHECK_INTERVAL:
		if (cg_parse_duration_ms(value, &u) != CG_OK) {
			cg_errf(err, errlen, "[directory] recheck_interval: '%s' is not a duration", value);
			return CG_ERR_ARG;
		}
		c->recheck_interval_ms = u;
		break;
	case DIR_KEY__COUNT:
		return CG_ERR_NOTFOUND;
	}
	c->key_line[k] = line != 0 ? line : 1;
	return CG_OK;
}

/* The rule called name, created (at line) when new. */
static enum cg_err dir_rule_get(struct dir_config *c, const char *name, unsigned line,
				struct dir_rule **out, char *err, size_t errlen)
{
	struct dir_rule *rules;
	for (size_t i = 0; i < c->n_rules; i++) {
		if (strcmp(c->rules[i].name, name) == 0) {
			*out = &c->rules[i];
			return CG_OK;
		}
	}
	if (!dir_valid_rule_name(name)) {
		cg_errf(err, errlen, "[map:%s] the rule name must be 1 to 64 letters, digits, '-', '_' or '.'",
			 name);
		return CG_ERR_ARG;
	}
	if (c->n_rules == DIR_MAX_RULES) {
		cg_errf(err, errlen, "[map:%s] more than %d rules", name, DIR_MAX_RULES);
		return CG_ERR_ARG;
	}
	rules = realloc(c->rules, (c->n_rules + 1) * sizeof(*rules));
	if (rules == NULL)
		return CG_ERR_NOMEM;
	c->rules = rules;
	memset(&rules[c->n_rules], 0, sizeof(rules[0]));
	rules[c->n_rules].name = strdup(name);
	if (rules[c->n_rules].name == NULL)
		return CG_ERR_NOMEM;
	rules[c->n_rules].scope = DIR_SCOPE_SUB;
	rules[c->n_rules].line = line;
	*out = &rules[c->n_rules];
	c->n_rules++;
	return CG_OK;
}

static enum cg_err dir_set_rule_key(struct dir_rule *rule, const char *key, const char *value,
				    char *err, size_t errlen)
{
	int k;
	uint64_t u;
	char why[256] = "";
	for (k = 0; k < DIR_RKEY__COUNT; k++)
		if (strcmp(key, dir_rule_key_names[k]) == 0)
			break;
	if (k == DIR_RKEY__COUNT)
		return CG_ERR_NOTFOUND;
	if (rule->keys_seen & (1u << k)) {
		cg_errf(err, errlen, "[map:%s] %s: given twice", rule->name, key);
		return CG_ERR_ARG;
	}
	if (strlen(value) > DIR_MAX_VALUE) {
		cg_errf(err, errlen, "[map:%s] %s: longer than %d bytes", rule->name, key, DIR_MAX_VALUE);
		return CG_ERR_ARG;
	}
	switch ((enum dir_rule_key)k) {
	case DIR_RKEY_PRIORITY:
		if (cg_parse_uint(value, 0, 1000000, &u) != CG_OK) {
			cg_errf(err, errlen, "[map:%s] priority: '%s' is not a number from 0 to 1000000",
				 rule->name, value);
			return CG_ERR_ARG;
		}
		rule->priority = (long)u;
		break;
	case DIR_RKEY_MATCH: {
		struct dir_match *m = NULL;
		if (dir_match_compile(value, &m, why, sizeof(why)) != CG_OK) {
			cg_errf(err, errlen, "[map:%s] match: %s", rule->name, why);
			return CG_ERR_ARG;
		}
		char *text = strdup(value);
		if (text == NULL) {
			dir_match_free(m);
			return CG_ERR_NOMEM;
		}
		rule->match = m;
		rule->match_text = text;
		break;
	}
	case DIR_RKEY_ANCHOR: {
		size_t n = strlen(value);
		bool ok = n == 7 + 64 && strncasecmp(value, "sha256:", 7) == 0;
		for (size_t i = 7; ok && i < n; i++)
			ok = isxdigit((unsigned char)value[i]) != 0;
		if (!ok) {
			cg_errf(err, errlen, "[map:%s] anchor: '%s' is not sha256: followed by 64 hex digits",
				 rule->name, value);
			return CG_ERR_ARG;
		}
		for (size_t i = 0; i < 64; i++)
			rule->anchor_sha256[i] = (char)tolower((unsigned char)value[7 + i]);
		rule->anchor_sha256[64] = '\0';
		break;
	}
	case DIR_RKEY_BASE:
		if (!dir_valid_dn(value)) {
			cg_errf(err, errlen, "[map:%s] base: '%s' is not a valid DN", rule->name, value);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&rule->base, value));
		break;
	case DIR_RKEY_SCOPE:
		if (strcmp(value, "base") == 0) {
			rule->scope = DIR_SCOPE_BASE;
		} else if (strcmp(value, "one") == 0) {
			rule->scope = DIR_SCOPE_ONE;
		} else if (strcmp(value, "sub") == 0) {
			rule->scope = DIR_SCOPE_SUB;
		} else {
			cg_errf(err, errlen, "[map:%s] scope: '%s' is not base, one or sub", rule->name, value);
			return CG_ERR_ARG;
		}
		break;
	case DIR_RKEY_FILTER:
		if (dir_template_validate(value, why, sizeof(why)) != CG_OK) {
			cg_errf(err, errlen, "[map:%s] filter: %s", rule->name, why);
			return CG_ERR_ARG;
		}
		if (!dir_valid_filter_shape(value)) {
			cg_errf(err, errlen, "[map:%s] filter: '%s' is not an LDAP filter in parentheses",
				 rule->name, value);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&rule->filter, value));
		break;
	case DIR_RKEY_DN:
		if (dir_template_validate(value, why, sizeof(why)) != CG_OK) {
			cg_errf(err, errlen, "[map:%s] dn: %s", rule->name, why);
			return CG_ERR_ARG;
		}
		if (value[0] == '\0') {
			cg_errf(err, errlen, "[map:%s] dn: empty", rule->name);
			return CG_ERR_ARG;
		}
		CG_GUARD(dir_set_str(&rule->dn, value));
		break;
	case DIR_RKEY__COUNT:
		return CG_ERR_NOTFOUND;
	}
	rule->keys_seen |= 1u << k;
	return CG_OK;
}

CG_MUST_CHECK enum cg_err dir_config_set(struct dir_config *c, const char *section,
					 const char *key, const char *value, unsigned line,
					 char *err, size_t errlen)
{
	struct dir_rule *rule = NULL;
	if (section == NULL)
		return CG_ERR_NOTFOUND;
	if (value == NULL)
		value = "";
	if (strcmp(section, "directory") == 0) {
		if (!c->present)
			c->key_line[DIR_SECTION_LINE] = line;
		c->present = true;
		if (key == NULL)
			return CG_OK;
		return dir_set_directory_key(c, key, value, line, err, errlen);
	}
	if (strncmp(section, "map:", 4) != 0)
		return CG_ERR_NOTFOUND;
	CG_GUARD(dir_rule_get(c, section + 4, line, &rule, err, errlen));
	if (key == NULL)
		return CG_OK;
	return dir_set_rule_key(rule, key, value, err, errlen);
}

static int dir_rule_cmp(const void *a, const void *b)
{
	const struct dir_rule *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Read the bind password: at most 1 KiB, one trailing newline trimmed, not
 * empty (an empty simple bind is an anonymous bind). */
static enum cg_err dir_read_password(struct dir_config *c, const char *file, char *err, size_t errlen)
{
	unsigned line = c->key_line[DIR_KEY_BIND_PASSWORD_FILE];
	char *pw = NULL;
	size_t len = 0;
	struct stat st;
	enum cg_err r;
	r = cg_read_file(c->bind_password_file, DIR_PASSWORD_MAX + 2, &pw, &len);
	if (r != CG_OK) {
		if (r == CG_ERR_RANGE)
			cg_errf(err, errlen, "%s:%u: [directory] bind_password_file: %s is larger than %d bytes",
				 file, line, c->bind_password_file, DIR_PASSWORD_MAX);
		else
			cg_errf(err, errlen, "%s:%u: [directory] bind_password_file: cannot read %s: %s",
				 file, line, c->bind_password_file, strerror(errno));
		return CG_ERR_CONFIG;
	}
	if (len > 0 && pw[len - 1] == '\n')
		pw[--len] = '\0';
	if (len > 0 && pw[len - 1] == '\r')
		pw[--len] = '\0';
	r = CG_ERR_CONFIG;
	if (len > DIR_PASSWORD_MAX) {
		cg_errf(err, errlen, "%s:%u: [directory] bind_password_file: %s is larger than %d bytes",
			 file, line, c->bind_password_file, DIR_PASSWORD_MAX);
		goto out;
	}
	if (len == 0 || memchr(pw, '\0', len) != NULL || memchr(pw, '\n', len) != NULL) {
		cg_errf(err, errlen, "%s:%u: [directory] bind_password_file: %s must hold one non-empty line",
			 file, line, c->bind_password_file);
		goto out;
	}
	if (stat(c->bind_password_file, &st) == 0 && (st.st_mode & S_IROTH))
		cg_warn("%s:%u: [directory] bind_password_file: %s is world-readable", file, line,
			c->bind_password_file);
	c->bind_password = pw;
	pw = NULL;
	r = CG_OK;
out:
	if (pw != NULL) {
		explicit_bzero(pw, len);
		free(pw);
	}
	return r;
}

static enum cg_err dir_finish_rule(const struct dir_rule *rule, const char *file, char *err, size_t errlen)
{
	const char *where = "";
	if ((rule->filter != NULL) == (rule->dn != NULL))
		where = "needs exactly one of filter (with base) or dn";
	else if (rule->filter != NULL && rule->base == NULL)
		where = "filter needs a base";
	else if (rule->dn != NULL && rule->base != NULL)
		where = "base and dn exclude each other (a dn rule reads that one entry)";
	else if (rule->dn != NULL && (rule->keys_seen & (1u << DIR_RKEY_SCOPE)))
		where = "scope applies only to filter rules";
	else
		return CG_OK;
	cg_errf(err, errlen, "%s:%u: [map:%s] %s", file, rule->line, rule->name, where);
	return CG_ERR_CONFIG;
}

CG_MUST_CHECK enum cg_err dir_config_finish(struct dir_config *c, const char *file,
					    char *err, size_t errlen)
{
	unsigned sline = c->key_line[DIR_SECTION_LINE];
	if (file == NULL)
		file = "(config)";
	if (!c->present) {
		if (c->n_rules > 0) {
			cg_errf(err, errlen, "%s:%u: [map:%s] mapping rules need a [directory] section",
				 file, c->rules[0].line, c->rules[0].name);
			return CG_ERR_CONFIG;
		}
		return CG_OK;
	}
	if (c->n_uris == 0) {
		cg_errf(err, errlen, "%s:%u: [directory] uri is required", file, sline);
		return CG_ERR_CONFIG;
	}
	if (c->starttls) {
		for (size_t i = 0; i < c->n_uris; i++) {
			if (strncasecmp(c->uris[i], "ldaps://", 8) == 0) {
				cg_errf(err, errlen, "%s:%u: [directory] starttls = on with the ldaps:// URI %s",
					 file, c->key_line[DIR_KEY_STARTTLS], c->uris[i]);
				return CG_ERR_CONFIG;
			}
		}
	}
	if (c->tls_ca != NULL && access(c->tls_ca, R_OK) != 0) {
		cg_errf(err, errlen, "%s:%u: [directory] tls_ca: cannot read %s: %s", file,
			 c->key_line[DIR_KEY_TLS_CA], c->tls_ca, strerror(errno));
		return CG_ERR_CONFIG;
	}
	if ((c->bind_dn == NULL) != (c->bind_password_file == NULL)) {
		cg_errf(err, errlen, "%s:%u: [directory] bind_dn and bind_password_file go together", file,
			 c->bind_dn != NULL ? c->key_line[DIR_KEY_BIND_DN]
					    : c->key_line[DIR_KEY_BIND_PASSWORD_FILE]);
		return CG_ERR_CONFIG;
	}
	if (c->bind_password_file != NULL && c->bind_password == NULL)
		CG_GUARD(dir_read_password(c, file, err, errlen));
	if (c->n_rules == 0) {
		cg_errf(err, errlen, "%s:%u: [directory] needs at least one [map:NAME] rule", file, sline);
		return CG_ERR_CONFIG;
	}
	for (size_t i = 0; i < c->n_rules; i++)
		CG_GUARD(dir_finish_rule(&c->rules[i], file, err, errlen));
	qsort(c->rules, c->n_rules, sizeof(c->rules[0]), dir_rule_cmp);
	return CG_OK;
}

void dir_config_free(struct dir_config *c)
{
	if (c == NULL)
		return;
	free(c->basedir);
	dir_free_uris(c->uris, c->n_uris);
	free(c->tls_ca);
	free(c->bind_dn);
	free(c->bind_password_file);
	if (c->bind_password != NULL) {
		explicit_bzero(c->bind_password, strlen(c->bind_password));
		free(c->bind_password);
	}
	free(c->cert_attribute);
	free(c->deny_filter);
	free(c->require_group);
	for (size_t i = 0; i < c->n_rules; i++) {
		struct dir_rule *r = &c->rules[i];
		free(r->name);
		free(r->match_text);
		if (r->match != NULL)
			dir_match_free(r->match);
		free(r->base);
		free(r->filter);
		free(r->dn);
	}
	free(c->rules);
	memset(c, 0, sizeof(*c));
}
