/* Names of the project's error codes. */
#include "cg_err.h"

const char *cg_err_name(enum cg_err e)
{
	switch (e) {
	case CG_OK: return "ok";
	case CG_ERR_NOMEM: return "out of memory";
	case CG_ERR_ARG: return "invalid argument";
	case CG_ERR_AGAIN: return "would block";
	case CG_ERR_IO: return "i/o error";
	case CG_ERR_RANGE: return "out of range";
	case CG_ERR_NOTFOUND: return "not found";
	case CG_ERR_TLS: return "tls error";
	case CG_ERR_PKI: return "pki error";
	case CG_ERR_DIR: return "directory error";
	case CG_ERR_DIR_NO_ENTRY: return "no directory entry";
	case CG_ERR_DIR_MISSING_VAR: return "template variable missing";
	case CG_ERR_CONFIG: return "configuration error";
	}
	return "unknown error";
}
