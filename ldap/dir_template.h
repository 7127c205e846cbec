/* The template engine of mapping rules: "{subject.uid}", "{serial!hex_ur}" ...
 * (DESIGN.md §5). Every substituted value is escaped for where it lands:
 * RFC 4515 in a filter, RFC 4514 in a DN, except that {subject.dn} and
 * {issuer.dn} in a DN template are inserted as the DNs they are (already
 * RFC 4514), so `dn = {subject.dn}` works. "{{" and "}}" are literal braces.
 * {cert} renders every DER byte as \hh in a filter and is an error in a DN. */
#ifndef DIR_TEMPLATE_H
#define DIR_TEMPLATE_H

#include <stddef.h>
#include "common/cg_err.h"
#include "pki/pki_facts.h"

enum dir_escape_ctx { DIR_ESCAPE_CTX_FILTER, DIR_ESCAPE_CTX_DN };

#define DIR_TEMPLATE_MAX_OUT 65536 /* a rendered filter or DN longer than this is an error */

/* Check a template at configuration time: every {name!modifier} is known,
 * braces balance. On CG_ERR_ARG err says what is wrong. */
CG_MUST_CHECK enum cg_err dir_template_validate(const char *tmpl, char *err, size_t errlen);

/* Render tmpl for certificate f. On CG_OK *out is the caller's (free()).
 * CG_ERR_ARG for a template dir_template_validate rejects, or {cert} in a DN;
 * CG_ERR_DIR_MISSING_VAR when the certificate lacks a variable the template
 * uses (err names it: the rule is skipped); CG_ERR_RANGE when the result
 * would exceed DIR_TEMPLATE_MAX_OUT. */
CG_MUST_CHECK enum cg_err dir_template_render(const char *tmpl, const struct pki_facts *f,
					      enum dir_escape_ctx ctx, char **out,
					      char *err, size_t errlen);

/* Every variable name the engine knows, NULL-terminated (for `certgate check`). */
extern const char *const dir_template_variables[];

#endif
