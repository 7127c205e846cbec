/* The project's one error enum and the two macros every layer uses.
 * Negative values are errors; CG_OK is zero. No TLS, LDAP or HTTP here. */
#ifndef CG_ERR_H
#define CG_ERR_H

enum cg_err {
	CG_OK = 0,
	CG_ERR_NOMEM = -1,
	CG_ERR_ARG = -2,
	CG_ERR_AGAIN = -3,
	CG_ERR_IO = -4,
	CG_ERR_RANGE = -5,      /* a value or a length is out of its bound */
	CG_ERR_NOTFOUND = -6,
	CG_ERR_TLS = -10,
	CG_ERR_PKI = -11,
	CG_ERR_DIR = -20,
	CG_ERR_DIR_NO_ENTRY = -21,
	CG_ERR_DIR_MISSING_VAR = -22, /* a template names a value the certificate lacks */
	CG_ERR_CONFIG = -30,
};

#define CG_MUST_CHECK   __attribute__((warn_unused_result))
#define CG_GUARD(x)     do { enum cg_err r_ = (x); if (r_ != CG_OK) return r_; } while (0)
#define CG_ENSURE(c, e) do { if (!(c)) return (e); } while (0)

/* A short constant name for e ("nomem", "arg", ...). */
const char *cg_err_name(enum cg_err e);

#endif
