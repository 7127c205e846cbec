/* The decision for one certificate without a handshake: `certgate check`,
 * POST /v1/check and GET /v1/authz. Blocking (directory), so never on a worker. */
#ifndef SRV_CHECK_H
#define SRV_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "common/cg_buf.h"
#include "common/cg_err.h"
#include "ldap/dir_pool.h"
#include "server/srv_runtime.h"

/* Decide for the PEM text (leaf first, optional intermediates) under rt.
 * With pool, the directory step goes through it (the caller waits);
 * without, a connection is opened for this call. On CG_OK *event is the
 * decision as an event (no "tls", no "steps"; a new reference) and, when
 * explain is not NULL, *explain the directory trace (new reference or NULL).
 * CG_ERR_ARG: the PEM holds no parsable certificate (err says why). */
CG_MUST_CHECK enum cg_err srv_check_decide(struct srv_runtime *rt, struct dir_pool *pool,
					   const char *pem, size_t len, json_t **event,
					   json_t **explain, char *err, size_t errlen);

/* `certgate check -c FILE [--json] CERT.pem`; returns the exit code. */
int srv_check_main(const char *config_path, const char *cert_path, bool json);

/* Build (and drop) the runtime of config_path, as serve would (config-test). */
CG_MUST_CHECK enum cg_err srv_check_load_runtime(const char *config_path, struct cg_buf *errors);

#endif
