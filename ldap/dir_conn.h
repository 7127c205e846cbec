/* One LDAP connection: URIs in failover order, ldaps:// or StartTLS with
 * tls_ca, simple bind, a timeout on connect, bind and every operation. */
#ifndef DIR_CONN_H
#define DIR_CONN_H

#include <ldap.h>
#include <stddef.h>
#include "common/cg_err.h"
#include "ldap/dir_config.h"

/* Connect and bind to the first URI of c that answers. On CG_OK *out is the
 * caller's (ldap_unbind_ext_s) and uri_used (if not NULL) names the URI.
 * On failure err holds the last LDAP error text (never the password). */
CG_MUST_CHECK enum cg_err dir_conn_open(const struct dir_config *c, LDAP **out,
					char *uri_used, size_t urilen, char *err, size_t errlen);

#endif
