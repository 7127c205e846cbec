/* Loading a directory-only configuration for the test drivers. */
#include "tests/tools/tool_dirconf.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_buf.h"

struct ini_state {
	struct dir_config *cfg;
	const char *file;
	unsigned line;
	FILE *fp;
	char err[600];
};

/* inih reader that counts lines, so that the handler knows where it is. */
static char *reader(char *str, int num, void *stream)
{
	struct ini_state *st = stream;
	char *s = fgets(str, num, st->fp);
	if (s != NULL)
		st->line++;
	return s;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	char why[512] = "";
	enum cg_err r = dir_config_set(st->cfg, section, name, value, st->line, why, sizeof(why));
	if (r == CG_OK)
		return 1;
	if (st->err[0] == '\0') {
		if (r == CG_ERR_NOTFOUND)
			snprintf(st->err, sizeof(st->err), "%s:%u: [%s] unknown key %s", st->file, st->line,
				 section, name != NULL ? name : "(section)");
		else
			snprintf(st->err, sizeof(st->err), "%s:%u: %s", st->file, st->line, why);
	}
	return 0;
}

enum cg_err tool_dir_config_load(const char *file, struct dir_config *cfg, char *err, size_t errlen)
{
	struct ini_state st = { .cfg = cfg, .file = file };
	enum cg_err r = CG_ERR_CONFIG;
	char *dir = strdup(file);

	if (dir == NULL)
		return CG_ERR_NOMEM;
	char *slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	r = dir_config_init(cfg, slash != NULL ? dir : ".");
	free(dir);
	if (r != CG_OK) {
		cg_errf(err, errlen, "%s: %s", file, cg_err_name(r));
		return r;
	}
	st.fp = fopen(file, "r");
	if (st.fp == NULL) {
		cg_errf(err, errlen, "cannot open %s", file);
		r = CG_ERR_IO;
		goto fail;
	}
	int rc = ini_parse_stream(reader, &st, handler, &st);
	fclose(st.fp);
	if (rc != 0) {
		cg_errf(err, errlen, "%s", st.err[0] != '\0' ? st.err : "INI syntax error");
		r = CG_ERR_CONFIG;
		goto fail;
	}
	if ((r = dir_config_finish(cfg, file, err, errlen)) != CG_OK)
		goto fail;
	return CG_OK;
fail:
	dir_config_free(cfg);
	return r;
}
