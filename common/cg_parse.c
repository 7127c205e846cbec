/* Parsing of configuration values: durations, sizes, booleans, numbers, host:port. */
#include "cg_parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Skip leading and trailing blanks: [*b, *e) is what remains. */
static void trim(const char *s, const char **b, const char **e)
{
	const char *p = s, *q = s + strlen(s);
	while (p < q && isspace((unsigned char)*p))
		p++;
	while (q > p && isspace((unsigned char)q[-1]))
		q--;
	*b = p;
	*e = q;
}

/* Digits in [*p, e) into *v (no overflow); *p moves past them. */
static enum cg_err parse_digits(const char **p, const char *e, uint64_t *v)
{
	uint64_t x = 0;
	const char *q = *p;
	if (q >= e || !isdigit((unsigned char)*q))
		return CG_ERR_ARG;
	while (q < e && isdigit((unsigned char)*q)) {
		unsigned d = (unsigned)(*q - '0');
		if (x > (UINT64_MAX - d) / 10)
			return CG_ERR_ARG;
		x = x * 10 + d;
		q++;
	}
	*p = q;
	*v = x;
	return CG_OK;
}

struct unit { const char *name; uint64_t mult; };

static enum cg_err parse_with_units(const char *s, const struct unit *units, uint64_t bare,
				    uint64_t *out)
{
	const char *p, *e;
	uint64_t v;

	trim(s, &p, &e);
	CG_GUARD(parse_digits(&p, e, &v));
	size_t ulen = (size_t)(e - p);
	uint64_t mult = 0;
	if (ulen == 0) {
		mult = bare;
	} else {
		for (const struct unit *u = units; u->name != NULL; u++) {
			if (strlen(u->name) == ulen && strncmp(u->name, p, ulen) == 0) {
				mult = u->mult;
				break;
			}
		}
	}
	if (mult == 0)
		return CG_ERR_ARG;
	if (v != 0 && v > UINT64_MAX / mult)
		return CG_ERR_ARG;
	*out = v * mult;
	return CG_OK;
}

enum cg_err cg_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct unit units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
		{ NULL, 0 },
	};
	return parse_with_units(s, units, 1000, ms);
}

enum cg_err cg_parse_size(const char *s, uint64_t *bytes)
{
	static const struct unit units[] = {
		{ "B", 1 }, { "KiB", 1024 }, { "MiB", 1024 * 1024 }, { "GiB", 1024ull * 1024 * 1024 },
		{ "kB", 1000 }, { "KB", 1000 }, { "MB", 1000 * 1000 }, { "GB", 1000ull * 1000 * 1000 },
		{ "k", 1024 }, { "K", 1024 }, { "M", 1024 * 1024 }, { "G", 1024ull * 1024 * 1024 },
		{ NULL, 0 },
	};
	return parse_with_units(s, units, 1, bytes);
}

enum cg_err cg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return CG_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return CG_OK;
		}
	}
	return CG_ERR_ARG;
}

enum cg_err cg_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *p, *e;
	uint64_t v;
	trim(s, &p, &e);
	CG_GUARD(parse_digits(&p, e, &v));
	if (p != e)
		return CG_ERR_ARG;
	if (v < min || v > max)
		return CG_ERR_RANGE;
	*out = v;
	return CG_OK;
}

enum cg_err cg_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *p, *e, *colon, *hb, *he;
	uint64_t v;

	trim(s, &p, &e);
	if (p < e && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(e - p));
		if (rb == NULL || rb + 1 >= e || rb[1] != ':')
			return CG_ERR_ARG;
		hb = p + 1;
		he = rb;
		colon = rb + 1;
	} else {
		colon = NULL;
		for (const char *q = p; q < e; q++)
			if (*q == ':')
				colon = q;
		if (colon == NULL)
			return CG_ERR_ARG;
		if (memchr(p, ':', (size_t)(colon - p)) != NULL)
			return CG_ERR_ARG; /* bare IPv6 needs brackets */
		hb = p;
		he = colon;
	}
	if (he <= hb || (size_t)(he - hb) >= hostlen)
		return CG_ERR_ARG;
	const char *q = colon + 1;
	if (parse_digits(&q, e, &v) != CG_OK || q != e || v == 0 || v > 65535)
		return CG_ERR_ARG;
	memcpy(host, hb, (size_t)(he - hb));
	host[he - hb] = '\0';
	*port = (uint16_t)v;
	return CG_OK;
}
