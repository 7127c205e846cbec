/* The backend relay (DESIGN.md §9): an allowed connection's bytes go both
 * ways between the client (TLS) and the backend (plain TCP), with bounded
 * buffers and back-pressure, half-closes passed on, optionally after a PROXY
 * protocol v2 header. Runs on the connection's worker; never blocks. */
#ifndef SRV_RELAY_H
#define SRV_RELAY_H

#include <stdint.h>
#include "common/cg_err.h"

struct srv_conn;
struct srv_relay;

/* Connect (non-blocking) to the runtime's backend and queue the PROXY
 * header. On CG_OK c->relay is set and c is in SRV_CONN_RELAY. */
CG_MUST_CHECK enum cg_err srv_relay_start(struct srv_conn *c);
/* epoll reported events on the client's fd (in SRV_CONN_RELAY). */
void srv_relay_on_client(struct srv_conn *c, uint32_t events);
/* epoll reported events on the backend's fd (data.ptr is the relay). */
void srv_relay_on_backend(struct srv_relay *r, uint32_t events);
/* Close the backend side; the memory goes when the worker reaps (the client
 * side is the caller's). */
void srv_relay_free(struct srv_relay *r);
struct srv_worker;
/* Free the relays closed during the last epoll batch (the worker, after it). */
void srv_relay_reap(struct srv_worker *w);

#endif
