/* Directory settings: the [directory] section and every [map:NAME] rule,
 * parsed key by key for the server's configuration parser and then frozen
 * (read-only, owned by one runtime). */
#ifndef DIR_CONFIG_H
#define DIR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/cg_err.h"

struct dir_match;

enum dir_verify { DIR_VERIFY_ALWAYS, DIR_VERIFY_IFPRESENT, DIR_VERIFY_NEVER };
enum dir_scope { DIR_SCOPE_BASE, DIR_SCOPE_ONE, DIR_SCOPE_SUB };

struct dir_rule {
	char *name;
	long priority;
	char *match_text;
	struct dir_match *match;   /* NULL: every certificate */
	char anchor_sha256[65];    /* "" = any trust anchor */
	char *base;
	enum dir_scope scope;
	char *filter;              /* template, or NULL when dn is set */
	char *dn;                  /* template, or NULL when filter is set */
	unsigned line;             /* line of the section header (or of its first key) */
	unsigned keys_seen;        /* internal: one bit per key given, to refuse duplicates */
};

struct dir_config {
	bool present;              /* a [directory] section was given */
	char *basedir;             /* relative file names are relative to this */
	char **uris;
	size_t n_uris;
	bool starttls;
	char *tls_ca;
	char *bind_dn;
	char *bind_password_file;
	char *bind_password;       /* secret: never logged, never returned by the API */
	uint64_t timeout_ms;
	unsigned pool_size;
	char *cert_attribute;
	enum dir_verify verify;
	char *deny_filter;
	char *require_group;
	bool on_unavailable_stale;
	uint64_t recheck_interval_ms;
	struct dir_rule *rules;    /* sorted by (priority, name) after dir_config_finish */
	size_t n_rules;
	unsigned key_line[16];     /* internal: line of file-valued keys for error messages */
};

/* Defaults of DESIGN.md §5; basedir is copied. */
CG_MUST_CHECK enum cg_err dir_config_init(struct dir_config *c, const char *basedir);

/* One key of [directory] or [map:NAME] (section is "directory" or
 * "map:NAME"). key == NULL (value ignored) declares the section at line
 * (inih INI_CALL_HANDLER_ON_NEW_SECTION); a section is also declared by its
 * first key. CG_OK; CG_ERR_NOTFOUND for an unknown key (the caller
 * reports it); CG_ERR_ARG for a bad value, err saying why (without the
 * FILE:LINE prefix, which the caller adds). */
CG_MUST_CHECK enum cg_err dir_config_set(struct dir_config *c, const char *section,
					 const char *key, const char *value, unsigned line,
					 char *err, size_t errlen);

/* After the whole file: check required keys and rules, read the password
 * file, sort the rules. err is "FILE:LINE: message" using file. */
CG_MUST_CHECK enum cg_err dir_config_finish(struct dir_config *c, const char *file,
					    char *err, size_t errlen);
void dir_config_free(struct dir_config *c);

#endif
