/* certgate.conf parsing (libinih), validation and the redacted JSON view. */
#include "server/srv_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <jansson.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_http.h"
#include "common/cg_parse.h"
#include "pki/pki_verify.h"

/* Parser state shared by the line reader and the key handler. */
struct parse_ctx {
	struct srv_config *c;
	struct cg_buf *errors;
	FILE *fp;
	unsigned line;          /* line the reader returned last */
	unsigned n_errors;
	char section[128];
	unsigned seen_server, seen_pki;
	/* lines of file-valued keys, for errors found after parsing */
	unsigned line_cert, line_key, line_hmac, line_token, line_audit, line_backend, line_admin, line_user;
	unsigned line_ca[SRV_MAX_PATHS], line_crl[SRV_MAX_PATHS];
	/* keys given once only */
	char seen[64][48];
	unsigned n_seen;
	struct { char name[128]; unsigned line; } maps[64]; /* [map:NAME] headers seen */
	unsigned n_maps;
};

static void add_error(struct parse_ctx *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_error(struct parse_ctx *p, unsigned line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->n_errors++;
	if (cg_buf_printf(p->errors, "%s:%u: %s\n", p->c->path, line, msg) != CG_OK)
		p->n_errors += 0; /* the error list is bounded; the count still says it failed */
}

/* Resolve a file name relative to the configuration file's directory. */
static char *resolve_path(const struct srv_config *c, const char *value)
{
	char *out = NULL;
	if (value[0] == '/')
		return strdup(value);
	if (asprintf(&out, "%s/%s", c->basedir, value) < 0)
		return NULL;
	return out;
}

static bool readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Replace *slot with a copy of value (resolved when is_path). */
static bool set_str(struct parse_ctx *p, char **slot, const char *value, bool is_path)
{
	char *v = is_path ? resolve_path(p->c, value) : strdup(value);
	if (v == NULL) {
		add_error(p, p->line, "out of memory");
		return false;
	}
	free(*slot);
	*slot = v;
	return true;
}

static bool set_duration(struct parse_ctx *p, const char *key, const char *value, uint64_t *out)
{
	if (cg_parse_duration_ms(value, out) != CG_OK) {
		add_error(p, p->line, "[%s] %s: '%s' is not a duration (e.g. 250ms, 10s, 5m, 1h)",
			  p->section, key, value);
		return false;
	}
	return true;
}

static bool set_bool(struct parse_ctx *p, const char *key, const char *value, bool *out)
{
	if (cg_parse_bool(value, out) != CG_OK) {
		add_error(p, p->line, "[%s] %s: '%s' is not on or off", p->section, key, value);
		return false;
	}
	return true;
}

static bool set_uint(struct parse_ctx *p, const char *key, const char *value, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	if (cg_parse_uint(value, min, max, out) != CG_OK) {
		add_error(p, p->line, "[%s] %s: '%s' is not a number in %llu..%llu", p->section, key,
			  value, (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	return true;
}

static bool set_addr(struct parse_ctx *p, const char *key, const char *value, struct srv_addr *a)
{
	if (cg_parse_hostport(value, a->host, sizeof(a->host), &a->port) != CG_OK) {
		add_error(p, p->line, "[%s] %s: '%s' is not HOST:PORT (IPv6 as [::1]:PORT)",
			  p->section, key, value);
		return false;
	}
	snprintf(a->text, sizeof(a->text), "%s", value);
	return true;
}

/* A key that may be given once: a second occurrence is an error. */
static bool once(struct parse_ctx *p, const char *key)
{
	char id[48];
	snprintf(id, sizeof(id), "%.20s/%.26s", p->section, key);
	for (unsigned i = 0; i < p->n_seen; i++) {
		if (strcmp(p->seen[i], id) == 0) {
			add_error(p, p->line, "[%s] %s: given twice", p->section, key);
			return false;
		}
	}
	if (p->n_seen < sizeof(p->seen) / sizeof(p->seen[0]))
		memcpy(p->seen[p->n_seen++], id, sizeof(id));
	return true;
}

static void server_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct srv_config *c = p->c;
	uint64_t n;

	if (strcmp(k, "listen") == 0) {
		if (c->n_listen == SRV_MAX_LISTEN) {
			add_error(p, p->line, "[server] listen: at most %d addresses", SRV_MAX_LISTEN);
			return;
		}
		if (set_addr(p, k, v, &c->listen[c->n_listen]))
			c->n_listen++;
		return;
	}
	if (!once(p, k))
		return;
	if (strcmp(k, "cert") == 0) {
		p->line_cert = p->line;
		set_str(p, &c->cert, v, true);
	} else if (strcmp(k, "key") == 0) {
		p->line_key = p->line;
		set_str(p, &c->key, v, true);
	} else if (strcmp(k, "priority") == 0) {
		set_str(p, &c->priority, v, false);
	} else if (strcmp(k, "workers") == 0) {
		if (strcmp(v, "auto") == 0)
			c->workers = 0;
		else if (set_uint(p, k, v, 1, 256, &n))
			c->workers = (unsigned)n;
	} else if (strcmp(k, "max_connections") == 0) {
		set_uint(p, k, v, 1, 1000000, &c->max_connections);
	} else if (strcmp(k, "handshake_timeout") == 0) {
		if (set_duration(p, k, v, &c->handshake_timeout_ms) && c->handshake_timeout_ms == 0)
			add_error(p, p->line, "[server] handshake_timeout: must be more than 0");
	} else if (strcmp(k, "idle_timeout") == 0) {
		if (set_duration(p, k, v, &c->idle_timeout_ms) && c->idle_timeout_ms == 0)
			add_error(p, p->line, "[server] idle_timeout: must be more than 0");
	} else if (strcmp(k, "shutdown_grace") == 0) {
		set_duration(p, k, v, &c->shutdown_grace_ms);
	} else if (strcmp(k, "backend") == 0) {
		p->line_backend = p->line;
		c->has_backend = set_addr(p, k, v, &c->backend);
	} else if (strcmp(k, "backend_proxy_protocol") == 0) {
		if (strcmp(v, "off") == 0)
			c->backend_proxy = SRV_PROXY_OFF;
		else if (strcmp(v, "v2") == 0)
			c->backend_proxy = SRV_PROXY_V2;
		else
			add_error(p, p->line, "[server] backend_proxy_protocol: '%s' is not off or v2", v);
	} else if (strcmp(k, "backend_send_cert") == 0) {
		set_bool(p, k, v, &c->backend_send_cert);
	} else if (strcmp(k, "backend_hmac_key_file") == 0) {
		p->line_hmac = p->line;
		set_str(p, &c->backend_hmac_key_file, v, true);
	} else if (strcmp(k, "tickets") == 0) {
		set_bool(p, k, v, &c->tickets);
	} else if (strcmp(k, "user") == 0) {
		p->line_user = p->line;
		set_str(p, &c->user, v, false);
	} else {
		add_error(p, p->line, "[server] unknown key '%s'", k);
	}
}

static void pki_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct srv_config *c = p->c;
	uint64_t n;

	if (strcmp(k, "ca") == 0 || strcmp(k, "crl") == 0) {
		bool is_ca = k[1] == 'a';
		size_t *count = is_ca ? &c->n_ca : &c->n_crl;
		char **slots = is_ca ? c->ca : c->crl;
		unsigned *lines = is_ca ? p->line_ca : p->line_crl;
		if (*count == SRV_MAX_PATHS) {
			add_error(p, p->line, "[pki] %s: at most %d files", k, SRV_MAX_PATHS);
			return;
		}
		lines[*count] = p->line;
		if (set_str(p, &slots[*count], v, true))
			(*count)++;
		return;
	}
	if (!once(p, k))
		return;
	if (strcmp(k, "require_eku") == 0) {
		if (!set_str(p, &c->require_eku, v, false))
			return;
		if (pki_eku_parse(c->require_eku, &c->eku_oid) != CG_OK)
			add_error(p, p->line, "[pki] require_eku: '%s' is not clientAuth, any or an OID", v);
	} else if (strcmp(k, "max_chain_depth") == 0) {
		if (set_uint(p, k, v, 1, 16, &n))
			c->max_chain_depth = (unsigned)n;
	} else {
		add_error(p, p->line, "[pki] unknown key '%s'", k);
	}
}

static void cache_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct srv_config *c = p->c;
	if (!once(p, k))
		return;
	if (strcmp(k, "ttl") == 0)
		set_duration(p, k, v, &c->cache_ttl_ms);
	else if (strcmp(k, "negative_ttl") == 0)
		set_duration(p, k, v, &c->cache_negative_ttl_ms);
	else if (strcmp(k, "stale_ttl") == 0)
		set_duration(p, k, v, &c->cache_stale_ttl_ms);
	else if (strcmp(k, "max_entries") == 0)
		set_uint(p, k, v, 0, 10000000, &c->cache_max_entries);
	else if (strcmp(k, "sync") == 0)
		set_bool(p, k, v, &c->cache_sync);
	else
		add_error(p, p->line, "[cache] unknown key '%s'", k);
}

static void events_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct srv_config *c = p->c;
	if (!once(p, k))
		return;
	if (strcmp(k, "buffer") == 0) {
		set_uint(p, k, v, 1, 10000000, &c->events_buffer);
	} else if (strcmp(k, "audit_log") == 0) {
		p->line_audit = p->line;
		set_str(p, &c->audit_log, v, true);
	} else if (strcmp(k, "fsync") == 0) {
		if (strcmp(v, "always") == 0)
			c->events_fsync = SRV_FSYNC_ALWAYS;
		else if (strcmp(v, "interval") == 0)
			c->events_fsync = SRV_FSYNC_INTERVAL;
		else if (strcmp(v, "never") == 0)
			c->events_fsync = SRV_FSYNC_NEVER;
		else
			add_error(p, p->line, "[events] fsync: '%s' is not always, interval or never", v);
	} else {
		add_error(p, p->line, "[events] unknown key '%s'", k);
	}
}

static void admin_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct srv_config *c = p->c;
	if (!once(p, k))
		return;
	if (strcmp(k, "listen") == 0) {
		p->line_admin = p->line;
		c->has_admin = set_addr(p, k, v, &c->admin_listen);
	} else if (strcmp(k, "token_file") == 0) {
		p->line_token = p->line;
		set_str(p, &c->admin_token_file, v, true);
	} else {
		add_error(p, p->line, "[admin] unknown key '%s'", k);
	}
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	char err[512];

	snprintf(p->section, sizeof(p->section), "%s", section);
	if (strcmp(section, "server") == 0) {
		server_key(p, name, value);
	} else if (strcmp(section, "pki") == 0) {
		pki_key(p, name, value);
	} else if (strcmp(section, "cache") == 0) {
		cache_key(p, name, value);
	} else if (strcmp(section, "events") == 0) {
		events_key(p, name, value);
	} else if (strcmp(section, "admin") == 0) {
		admin_key(p, name, value);
	} else if (strcmp(section, "directory") == 0 || strncmp(section, "map:", 4) == 0) {
		enum cg_err r = dir_config_set(&p->c->dir, section, name, value, p->line, err, sizeof(err));
		if (r == CG_ERR_NOTFOUND)
			add_error(p, p->line, "[%s] unknown key '%s'", section, name);
		else if (r != CG_OK)
			add_error(p, p->line, "%s", err);
	}
	/* unknown sections are reported by the reader, once, at their header */
	return 1;
}

static bool known_section(const char *s)
{
	static const char *const names[] = { "server", "pki", "directory", "cache", "events", "admin" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	if (strncmp(s, "map:", 4) != 0 || s[4] == '\0')
		return false;
	for (const char *q = s + 4; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.')
			return false;
	return true;
}

/* inih line reader: counts lines, refuses over-long ones and checks section
 * names as they go by (inih does not call the handler for an empty section). */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	char line[SRV_MAX_LINE + 2];

	if (fgets(line, sizeof(line), p->fp) == NULL)
		return NULL;
	p->line++;
	size_t len = strlen(line);
	if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
		int ch;
		while ((ch = fgetc(p->fp)) != EOF && ch != '\n')
			;
		add_error(p, p->line, "line longer than %d bytes", SRV_MAX_LINE);
		snprintf(str, (size_t)num, ";\n");
		return str;
	}
	if (len >= (size_t)num) {
		add_error(p, p->line, "line longer than %d bytes", num - 3);
		snprintf(str, (size_t)num, ";\n");
		return str;
	}
	const char *s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (e != NULL) {
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)(e - s - 1), s + 1);
			if (!known_section(name))
				add_error(p, p->line, "unknown section [%s]", name);
			else if (strcmp(name, "directory") == 0)
				p->c->dir.present = true;
			else if (strcmp(name, "server") == 0)
				p->seen_server++;
			else if (strcmp(name, "pki") == 0)
				p->seen_pki++;
			if (strncmp(name, "map:", 4) == 0 && known_section(name) &&
			    p->n_maps < sizeof(p->maps) / sizeof(p->maps[0])) {
				snprintf(p->maps[p->n_maps].name, sizeof(p->maps[0].name), "%.120s", name + 4);
				p->maps[p->n_maps++].line = p->line;
			}
		}
	}
	memcpy(str, line, len + 1);
	return str;
}

static void check_file(struct parse_ctx *p, unsigned line, const char *what, const char *path)
{
	struct stat st;
	if (path == NULL)
		return;
	if (stat(path, &st) != 0) {
		add_error(p, line, "%s: %s: %s", what, path, strerror(errno));
		return;
	}
	if (!readable(path))
		add_error(p, line, "%s: %s: not readable", what, path);
}

static void defaults(struct srv_config *c)
{
	c->workers = 0;
	c->max_connections = 10000;
	c->handshake_timeout_ms = 10000;
	c->idle_timeout_ms = 300000;
	c->shutdown_grace_ms = 30000;
	c->tickets = true;
	c->max_chain_depth = 5;
	c->cache_ttl_ms = 60000;
	c->cache_negative_ttl_ms = 5000;
	c->cache_stale_ttl_ms = 3600000;
	c->cache_max_entries = 100000;
	c->cache_sync = true;
	c->events_buffer = 10000;
	c->events_fsync = SRV_FSYNC_INTERVAL;
}

/* Checks that need the whole file. */
static void validate(struct parse_ctx *p)
{
	struct srv_config *c = p->c;
	char err[1024];

	if (p->seen_server == 0)
		add_error(p, p->line, "missing section [server]");
	if (c->n_listen == 0)
		add_error(p, p->line, "[server] listen: required");
	if (c->cert == NULL)
		add_error(p, p->line, "[server] cert: required");
	if (c->key == NULL)
		add_error(p, p->line, "[server] key: required");
	if (c->n_ca == 0)
		add_error(p, p->line, "[pki] ca: required (the trust anchors for client certificates)");
	check_file(p, p->line_cert, "[server] cert", c->cert);
	check_file(p, p->line_key, "[server] key", c->key);
	check_file(p, p->line_hmac, "[server] backend_hmac_key_file", c->backend_hmac_key_file);
	for (size_t i = 0; i < c->n_ca; i++)
		check_file(p, p->line_ca[i], "[pki] ca", c->ca[i]);
	for (size_t i = 0; i < c->n_crl; i++)
		check_file(p, p->line_crl[i], "[pki] crl", c->crl[i]);
	if (c->backend_send_cert && c->backend_proxy != SRV_PROXY_V2)
		add_error(p, p->line, "[server] backend_send_cert: needs backend_proxy_protocol = v2");
	if (c->backend_hmac_key_file != NULL && c->backend_proxy != SRV_PROXY_V2)
		add_error(p, p->line_hmac, "[server] backend_hmac_key_file: needs backend_proxy_protocol = v2");
	if (c->admin_token_file != NULL) {
		size_t len = 0;
		char *tok = NULL;
		enum cg_err r = cg_read_file(c->admin_token_file, 4096, &tok, &len);
		if (r != CG_OK) {
			add_error(p, p->line_token, "[admin] token_file: %s: %s", c->admin_token_file,
				  r == CG_ERR_NOTFOUND ? "No such file or directory" : cg_err_name(r));
		} else {
			while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
				tok[--len] = '\0';
			if (len < 16)
				add_error(p, p->line_token, "[admin] token_file: the token must be at least 16 characters");
			c->admin_token = tok;
		}
	}
	if (c->user != NULL && getpwnam(c->user) == NULL)
		add_error(p, p->line_user, "[server] user: no such user '%s'", c->user);
	if (c->has_admin && c->admin_token_file == NULL && !api_addr_is_loopback(c->admin_listen.host))
		add_error(p, p->line_admin, "[admin] listen = %s is not a loopback address: token_file is required",
			  c->admin_listen.text);
	if (c->audit_log != NULL) {
		char *copy = strdup(c->audit_log);
		if (copy != NULL && access(dirname(copy), W_OK) != 0)
			add_error(p, p->line_audit, "[events] audit_log: directory of %s is not writable",
				  c->audit_log);
		free(copy);
	}
	for (unsigned i = 0; i < p->n_maps; i++) {
		bool found = false;
		for (size_t j = 0; j < c->dir.n_rules; j++)
			if (strcmp(c->dir.rules[j].name, p->maps[i].name) == 0)
				found = true;
		if (!found)
			add_error(p, p->maps[i].line, "[map:%s] is empty (a rule needs base and filter, or dn)",
				  p->maps[i].name);
	}
	if (p->n_maps > 0 && !c->dir.present)
		add_error(p, p->maps[0].line, "[map:%s] needs a [directory] section", p->maps[0].name);
	if (c->dir.present && p->n_maps == 0)
		add_error(p, p->line, "[directory] needs at least one [map:NAME] rule");
	if (c->dir.present) {
		if (dir_config_finish(&c->dir, c->path, err, sizeof(err)) != CG_OK) {
			p->n_errors++;
			if (cg_buf_printf(p->errors, "%s\n", err) != CG_OK)
				p->n_errors += 0;
		}
	}
}

enum cg_err srv_config_load(const char *path, struct srv_config **out, struct cg_buf *errors)
{
	struct srv_config *c = calloc(1, sizeof(*c));
	struct parse_ctx p = { 0 };
	enum cg_err r = CG_ERR_NOMEM;
	char *copy = NULL;

	*out = NULL;
	if (c == NULL)
		return CG_ERR_NOMEM;
	defaults(c);
	c->path = strdup(path);
	copy = strdup(path);
	if (c->path == NULL || copy == NULL)
		goto out;
	char *dir = realpath(dirname(copy), NULL);
	c->basedir = dir != NULL ? dir : strdup(".");
	if (c->basedir == NULL)
		goto out;
	if (dir_config_init(&c->dir, c->basedir) != CG_OK)
		goto out;
	p.c = c;
	p.errors = errors;
	p.fp = fopen(path, "re");
	if (p.fp == NULL) {
		if (cg_buf_printf(errors, "%s: %s\n", path, strerror(errno)) != CG_OK)
			r = CG_ERR_NOMEM;
		r = CG_ERR_IO;
		goto out;
	}
	ini_allow_multiline = false;
	ini_stop_on_first_error = false;
	ini_max_line = SRV_MAX_LINE + 3;
	ini_use_stack = false;
	ini_allow_realloc = false;
	int rc = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.fp);
	if (rc > 0 && p.n_errors == 0)
		add_error(&p, (unsigned)rc, "syntax error (expected [section] or key = value)");
	else if (rc > 0)
		add_error(&p, (unsigned)rc, "syntax error");
	else if (rc < 0)
		add_error(&p, 0, "could not parse (out of memory)");
	validate(&p);
	if (p.n_errors > 0) {
		r = CG_ERR_CONFIG;
		goto out;
	}
	*out = c;
	c = NULL;
	r = CG_OK;
out:
	free(copy);
	srv_config_free(c);
	return r;
}

void srv_config_free(struct srv_config *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->basedir);
	free(c->cert);
	free(c->key);
	free(c->priority);
	free(c->backend_hmac_key_file);
	free(c->user);
	for (size_t i = 0; i < c->n_ca; i++)
		free(c->ca[i]);
	for (size_t i = 0; i < c->n_crl; i++)
		free(c->crl[i]);
	free(c->require_eku);
	dir_config_free(&c->dir);
	free(c->audit_log);
	free(c->admin_token_file);
	if (c->admin_token != NULL) {
		explicit_bzero(c->admin_token, strlen(c->admin_token));
		free(c->admin_token);
	}
	free(c);
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

json_t *srv_config_to_json(const struct srv_config *c)
{
	static const char *const fsync_names[] = { "always", "interval", "never" };
	static const char *const verify_names[] = { "always", "ifpresent", "never" };
	static const char *const scope_names[] = { "base", "one", "sub" };
	json_t *listen = json_array();
	for (size_t i = 0; listen != NULL && i < c->n_listen; i++)
		json_array_append_new(listen, json_string(c->listen[i].text));

	json_t *server = json_pack("{s:o s:o s:o s:o s:I s:I s:I s:I s:I s:o s:s s:b s:o s:b s:o}",
		"listen", listen, "cert", str_or_null(c->cert), "key", str_or_null(c->key),
		"priority", str_or_null(c->priority),
		"workers", (json_int_t)c->workers, "max_connections", (json_int_t)c->max_connections,
		"handshake_timeout_ms", (json_int_t)c->handshake_timeout_ms,
		"idle_timeout_ms", (json_int_t)c->idle_timeout_ms,
		"shutdown_grace_ms", (json_int_t)c->shutdown_grace_ms,
		"backend", c->has_backend ? json_string(c->backend.text) : json_null(),
		"backend_proxy_protocol", c->backend_proxy == SRV_PROXY_V2 ? "v2" : "off",
		"backend_send_cert", c->backend_send_cert,
		"backend_hmac_key_file", str_or_null(c->backend_hmac_key_file),
		"tickets", c->tickets, "user", str_or_null(c->user));
	json_t *pki = json_pack("{s:o s:o s:s s:I}", "ca", str_array(c->ca, c->n_ca),
		"crl", str_array(c->crl, c->n_crl), "require_eku", c->require_eku ? c->require_eku : "clientAuth",
		"max_chain_depth", (json_int_t)c->max_chain_depth);
	json_t *root = json_pack("{s:s s:o s:o}", "file", c->path, "server", server, "pki", pki);
	if (root == NULL)
		return NULL;
	if (c->dir.present) {
		const struct dir_config *d = &c->dir;
		json_t *rules = json_array();
		for (size_t i = 0; rules != NULL && i < d->n_rules; i++) {
			const struct dir_rule *r = &d->rules[i];
			json_t *jr = json_pack("{s:s s:I}", "name", r->name, "priority", (json_int_t)r->priority);
			if (jr == NULL)
				continue;
			if (r->match_text)
				json_object_set_new(jr, "match", json_string(r->match_text));
			if (r->anchor_sha256[0])
				json_object_set_new(jr, "anchor", json_sprintf("sha256:%s", r->anchor_sha256));
			if (r->base)
				json_object_set_new(jr, "base", json_string(r->base));
			if (r->filter) {
				json_object_set_new(jr, "scope", json_string(scope_names[r->scope]));
				json_object_set_new(jr, "filter", json_string(r->filter));
			}
			if (r->dn)
				json_object_set_new(jr, "dn", json_string(r->dn));
			json_array_append_new(rules, jr);
		}
		json_object_set_new(root, "directory", json_pack("{s:o s:b s:o s:o s:o s:s s:I s:I s:s s:s s:o s:o s:s s:I}",
			"uri", str_array(d->uris, d->n_uris), "starttls", d->starttls,
			"tls_ca", str_or_null(d->tls_ca), "bind_dn", str_or_null(d->bind_dn),
			"bind_password_file", str_or_null(d->bind_password_file),
			"bind_password", "<redacted>",
			"timeout_ms", (json_int_t)d->timeout_ms, "pool_size", (json_int_t)d->pool_size,
			"cert_attribute", d->cert_attribute ? d->cert_attribute : "userCertificate",
			"verify", verify_names[d->verify],
			"deny_filter", str_or_null(d->deny_filter), "require_group", str_or_null(d->require_group),
			"on_unavailable", d->on_unavailable_stale ? "stale" : "deny",
			"recheck_interval_ms", (json_int_t)d->recheck_interval_ms));
		json_object_set_new(root, "rules", rules);
	}
	json_object_set_new(root, "cache", json_pack("{s:I s:I s:I s:I s:b}",
		"ttl_ms", (json_int_t)c->cache_ttl_ms, "negative_ttl_ms", (json_int_t)c->cache_negative_ttl_ms,
		"stale_ttl_ms", (json_int_t)c->cache_stale_ttl_ms,
		"max_entries", (json_int_t)c->cache_max_entries, "sync", c->cache_sync));
	json_object_set_new(root, "events", json_pack("{s:I s:o s:s}",
		"buffer", (json_int_t)c->events_buffer, "audit_log", str_or_null(c->audit_log),
		"fsync", fsync_names[c->events_fsync]));
	if (c->has_admin)
		json_object_set_new(root, "admin", json_pack("{s:s s:o s:s}",
			"listen", c->admin_listen.text, "token_file", str_or_null(c->admin_token_file),
			"token", c->admin_token ? "<redacted>" : "<none>"));
	return root;
}
