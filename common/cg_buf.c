/* Bounded growable buffers, hex, constant-time compare, small-file reading. */
#include "cg_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cg_buf_init(struct cg_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void cg_buf_free(struct cg_buf *b)
{
	free(b->data);
	cg_buf_init(b, b->max);
}

void cg_buf_reset(struct cg_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static enum cg_err reserve(struct cg_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return CG_ERR_RANGE;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return CG_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (p == NULL)
		return CG_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return CG_OK;
}

enum cg_err cg_buf_append(struct cg_buf *b, const void *p, size_t n)
{
	CG_GUARD(reserve(b, n));
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CG_OK;
}

enum cg_err cg_buf_append_str(struct cg_buf *b, const char *s)
{
	return cg_buf_append(b, s, strlen(s));
}

enum cg_err cg_buf_printf(struct cg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CG_ERR_ARG;
	CG_GUARD(reserve(b, (size_t)n));
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CG_OK;
}

char *cg_buf_steal(struct cg_buf *b)
{
	char *p = b->data;
	if (p == NULL)
		p = calloc(1, 1);
	cg_buf_init(b, b->max);
	return p;
}

void cg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

char *cg_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
	return out;
}

int cg_memcmp_ct(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

enum cg_err cg_read_file(const char *path, size_t max, char **out, size_t *len)
{
	enum cg_err r = CG_ERR_IO;
	char *data = NULL;
	size_t n = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? CG_ERR_NOTFOUND : CG_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((uint64_t)st.st_size > max) {
		r = CG_ERR_RANGE;
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		r = CG_ERR_NOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t got = read(fd, data + n, (size_t)st.st_size - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	data[n] = '\0';
	*out = data;
	*len = n;
	data = NULL;
	r = CG_OK;
out:
	free(data);
	close(fd);
	return r;
}
