/* The SSSD sss-certmap(5)-style matching language of a rule's `match =`:
 * <SUBJECT>regex, <ISSUER>regex (POSIX ERE on the RFC 4514 string), <KU>list,
 * <EKU>list, <SAN:type>regex (rfc822Name, dNSName, uniformResourceIdentifier,
 * Principal), joined by && or || (not mixed). */
#ifndef DIR_MATCH_H
#define DIR_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "common/cg_err.h"
#include "pki/pki_facts.h"

struct dir_match;

/* Compile expr (at most 32 components, regexes at most 1024 bytes). On CG_OK
 * *out is the caller's (dir_match_free); on CG_ERR_ARG err names the
 * offending component and its offset. */
CG_MUST_CHECK enum cg_err dir_match_compile(const char *expr, struct dir_match **out,
					    char *err, size_t errlen);
/* True when f satisfies m; a NULL m (no `match =`) matches every certificate.
 * Read-only: one compiled rule may be evaluated on many threads at once. */
bool dir_match_eval(const struct dir_match *m, const struct pki_facts *f);
void dir_match_free(struct dir_match *m);

#endif
