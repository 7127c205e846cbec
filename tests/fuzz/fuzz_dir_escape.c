/* Fuzz target for ldap/dir_escape.c. Feeds the input to both escapers and
 * checks, independently of the escapers' code: the filter form is printable
 * ASCII with no bare * ( ) \ or NUL; the DN form has no bare special, no
 * control byte, no bare leading '#'/space or trailing space, only valid UTF-8;
 * both unescape back to the input; and a too-small bound leaves the buffer
 * untouched. Any violation aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/dir_escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void fuzz_check_filter(const uint8_t *in, size_t n, const struct cg_buf *b)
{
	uint8_t *dec = malloc(n + 1);
	size_t k = 0;
	if (dec == NULL)
		abort();
	if (strlen(b->data != NULL ? b->data : "") != b->len)
		abort(); /* NUL inside */
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c < 0x20 || c >= 0x7f || c == '*' || c == '(' || c == ')')
			abort();
		if (k > n)
			abort();
		if (c == '\\') {
			int h, l;
			if (i + 2 >= b->len)
				abort();
			h = fuzz_hexval(b->data[i + 1]);
			l = h < 0 ? -1 : fuzz_hexval(b->data[i + 2]);
			if (h < 0 || l < 0)
				abort();
			dec[k++] = (uint8_t)(h * 16 + l);
			i += 2;
		} else {
			dec[k++] = c;
		}
	}
	if (k != n || (n > 0 && memcmp(dec, in, n) != 0))
		abort();
	free(dec);
}

/* Length of a valid UTF-8 multi-byte sequence at p, or 0 (independent of dir_escape.c). */
static size_t fuzz_utf8(const unsigned char *p, size_t avail)
{
	uint32_t cp;
	size_t n;
	if (p[0] >= 0xc0 && p[0] < 0xe0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] < 0xf0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] < 0xf8) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void fuzz_check_dn(const uint8_t *in, size_t n, const struct cg_buf *b)
{
	uint8_t *dec = malloc(n + 1);
	size_t k = 0;
	bool last_escaped = false;
	const unsigned char *s = (const unsigned char *)(b->data != NULL ? b->data : "");
	if (dec == NULL)
		abort();
	if (strlen((const char *)s) != b->len)
		abort();
	if (b->len > 0 && (s[0] == '#' || s[0] == ' '))
		abort();
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = s[i];
		last_escaped = false;
		if (k > n)
			abort();
		if (c == '\\') {
			if (i + 1 >= b->len)
				abort();
			int h = fuzz_hexval((char)s[i + 1]);
			int l = h >= 0 && i + 2 < b->len ? fuzz_hexval((char)s[i + 2]) : -1;
			if (h >= 0 && l >= 0) {
				dec[k++] = (uint8_t)(h * 16 + l);
				i += 2;
			} else if (strchr(",+\"\\<>;=# ", s[i + 1]) != NULL) {
				dec[k++] = s[i + 1];
				i += 1;
			} else {
				abort();
			}
			last_escaped = true;
		} else if (c < 0x20 || c == 0x7f || strchr(",+\"<>;=", c) != NULL) {
			abort();
		} else if (c >= 0x80) {
			size_t m = fuzz_utf8(s + i, b->len - i);
			if (m == 0 || k + m > n)
				abort();
			memcpy(dec + k, s + i, m);
			k += m;
			i += m - 1;
		} else {
			dec[k++] = c;
		}
	}
	if (b->len > 0 && s[b->len - 1] == ' ' && !last_escaped)
		abort();
	if (k != n || (n > 0 && memcmp(dec, in, n) != 0))
		abort();
	free(dec);
}

static void fuzz_check_bound(const uint8_t *in, size_t n, bool dn)
{
	struct cg_buf b;
	enum cg_err r;
	cg_buf_init(&b, 1 + n + n / 4);
	if (cg_buf_append(&b, "X", 1) != CG_OK)
		abort();
	r = dn ? dir_escape_dn(in, n, &b) : dir_escape_filter(in, n, &b);
	if (r != CG_OK && (r != CG_ERR_RANGE || b.len != 1 || strcmp(b.data, "X") != 0))
		abort();
	cg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cg_buf f, d;
	cg_buf_init(&f, 3 * size + 1);
	cg_buf_init(&d, 3 * size + 1);
	if (dir_escape_filter(data, size, &f) != CG_OK || dir_escape_dn(data, size, &d) != CG_OK)
		abort(); /* 3 bytes per input byte is always enough */
	fuzz_check_filter(data, size, &f);
	fuzz_check_dn(data, size, &d);
	fuzz_check_bound(data, size, false);
	fuzz_check_bound(data, size, true);
	cg_buf_free(&f);
	cg_buf_free(&d);
	return 0;
}
