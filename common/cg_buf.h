/* A growable byte buffer with a hard upper bound: appending past max is
 * CG_ERR_RANGE and leaves the buffer as it was. Always NUL-terminated. */
#ifndef CG_BUF_H
#define CG_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "cg_err.h"

struct cg_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;     /* bound on len */
};

void cg_buf_init(struct cg_buf *b, size_t max);
void cg_buf_free(struct cg_buf *b);
void cg_buf_reset(struct cg_buf *b);
CG_MUST_CHECK enum cg_err cg_buf_append(struct cg_buf *b, const void *p, size_t n);
CG_MUST_CHECK enum cg_err cg_buf_append_str(struct cg_buf *b, const char *s);
CG_MUST_CHECK enum cg_err cg_buf_printf(struct cg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the data to the caller (free with free()); the buffer is reset. */
char *cg_buf_steal(struct cg_buf *b);

/* printf into a caller's error buffer (err may be NULL or errlen 0: nothing is written). */
void cg_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Lower-case hex of n bytes into out (2n+1 bytes). Returns out. */
char *cg_hex_encode(const uint8_t *p, size_t n, char *out);
/* Constant-time comparison of two equally long byte strings; 0 when equal. */
int cg_memcmp_ct(const void *a, const void *b, size_t n);
/* Read a whole small file (at most max bytes; larger is CG_ERR_RANGE).
 * On CG_OK *out (NUL-terminated, free()) and *len are the caller's. */
CG_MUST_CHECK enum cg_err cg_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
