/* Parsing of configuration values: durations, sizes, booleans, host:port. */
#ifndef CG_PARSE_H
#define CG_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "cg_err.h"

/* "250ms", "10s", "5m", "1h", "2d"; a bare number is seconds. Whitespace
 * around is allowed, inside is not. Overflow and junk are CG_ERR_ARG.
 * On CG_OK *ms holds milliseconds. */
CG_MUST_CHECK enum cg_err cg_parse_duration_ms(const char *s, uint64_t *ms);

/* "64KiB", "1MiB", "512", "2GiB", "10kB", "1MB" (decimal units are 1000s).
 * On CG_OK *bytes holds the size. */
CG_MUST_CHECK enum cg_err cg_parse_size(const char *s, uint64_t *bytes);

/* "on|off|yes|no|true|false|1|0". */
CG_MUST_CHECK enum cg_err cg_parse_bool(const char *s, bool *out);

/* Unsigned integer in [min, max], decimal, no sign, no junk. */
CG_MUST_CHECK enum cg_err cg_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:8443", "localhost:8443".
 * Copies the host (without brackets) into host (hostlen bytes, NUL included)
 * and the port into *port. */
CG_MUST_CHECK enum cg_err cg_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

#endif
