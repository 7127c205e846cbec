/* The one place where values are escaped for LDAP: RFC 4515 for values
 * inside a search filter, RFC 4514 for attribute values inside a DN. Input
 * is a byte string (it may hold NUL bytes); output is appended to a bounded
 * buffer. */
#ifndef DIR_ESCAPE_H
#define DIR_ESCAPE_H

#include <stddef.h>
#include "common/cg_buf.h"
#include "common/cg_err.h"

/* RFC 4515: '*', '(', ')', '\\' and NUL become \2a \28 \29 \5c \00; so does
 * every byte >= 0x80 and every control byte (a filter then stays ASCII). */
CG_MUST_CHECK enum cg_err dir_escape_filter(const void *val, size_t len, struct cg_buf *out);
/* RFC 4514: ',', '+', '"', '\\', '<', '>', ';', '=' are backslash-escaped,
 * a leading '#' or space and a trailing space too, NUL and control bytes as
 * \hh; bytes >= 0x80 are kept when they form valid UTF-8, else \hh.
 * Both: empty input appends nothing (CG_OK); CG_ERR_RANGE when out->max
 * would be exceeded, and then out is left exactly as it was. */
CG_MUST_CHECK enum cg_err dir_escape_dn(const void *val, size_t len, struct cg_buf *out);

#endif
