/* RFC 4515 (filter assertion values) and RFC 4514 (DN attribute values)
 * escaping: the only way a certificate value reaches a filter or a DN. Both
 * functions append to a bounded cg_buf and, on any error, leave it exactly as
 * it was. Empty input is valid and appends nothing. */
#include "ldap/dir_escape.h"

#include <stdbool.h>
#include <stdint.h>

static const char dir_hex[] = "0123456789abcdef";

/* Undo a partial append: the buffer is back to its length at entry. */
static void dir_escape_rollback(struct cg_buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = '\0';
}

static enum cg_err dir_escape_hex(uint8_t c, struct cg_buf *out)
{
	char e[3] = { '\\', dir_hex[c >> 4], dir_hex[c & 15] };
	return cg_buf_append(out, e, sizeof(e));
}

static bool dir_filter_plain(uint8_t c)
{
	return c >= 0x20 && c < 0x7f && c != '*' && c != '(' && c != ')' && c != '\\';
}

enum cg_err dir_escape_filter(const void *val, size_t len, struct cg_buf *out)
{
	const uint8_t *p = val;
	size_t start = out->len;
	enum cg_err r = CG_OK;
	size_t i = 0;

	while (i < len) {
		size_t run = i;
		while (run < len && dir_filter_plain(p[run]))
			run++;
		if (run > i) {
			r = cg_buf_append(out, p + i, run - i);
			if (r != CG_OK)
				goto out;
			i = run;
			continue;
		}
		r = dir_escape_hex(p[i], out);
		if (r != CG_OK)
			goto out;
		i++;
	}
out:
	if (r != CG_OK)
		dir_escape_rollback(out, start);
	return r;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF) that starts a multi-byte character at p, or 0. */
static size_t dir_utf8_seq(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return n;
}

static bool dir_dn_special(uint8_t c)
{
	switch (c) {
	case ',': case '+': case '"': case '\\': case '<': case '>': case ';': case '=':
		return true;
	default:
		return false;
	}
}

enum cg_err dir_escape_dn(const void *val, size_t len, struct cg_buf *out)
{
	const uint8_t *p = val;
	size_t start = out->len;
	enum cg_err r = CG_OK;
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		size_t n;
		if (c < 0x20 || c == 0x7f) {
			r = dir_escape_hex(c, out);
			n = 1;
		} else if (c >= 0x80) {
			n = dir_utf8_seq(p + i, len - i);
			if (n > 0) {
				r = cg_buf_append(out, p + i, n);
			} else {
				r = dir_escape_hex(c, out);
				n = 1;
			}
		} else if (dir_dn_special(c) || (i == 0 && (c == '#' || c == ' ')) ||
			   (i == len - 1 && c == ' ')) {
			char e[2] = { '\\', (char)c };
			r = cg_buf_append(out, e, sizeof(e));
			n = 1;
		} else {
			r = cg_buf_append(out, &p[i], 1);
			n = 1;
		}
		if (r != CG_OK)
			goto out;
		i += n;
	}
out:
	if (r != CG_OK)
		dir_escape_rollback(out, start);
	return r;
}
