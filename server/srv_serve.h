/* `certgate serve`: start-up, signals, reload and graceful stop. */
#ifndef SRV_SERVE_H
#define SRV_SERVE_H

#include <jansson.h>
#include <stdbool.h>
#include "common/cg_buf.h"
#include "common/cg_err.h"

/* Run the gateway until SIGTERM/SIGINT. Returns the process exit code. */
int srv_serve_main(const char *config_path, const char *pidfile);

/* Reload the configuration (SIGHUP and POST /v1/reload share this). On
 * CG_OK *generation is the new runtime's; otherwise errors says why and the
 * old runtime keeps serving. Thread-safe (serialised). */
CG_MUST_CHECK enum cg_err srv_serve_reload(uint64_t *generation, struct cg_buf *errors);

#endif
