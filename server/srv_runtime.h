/* The runtime: everything loaded from the configuration (credentials, trust
 * list with CRLs, priority cache, policy, directory settings), immutable and
 * reference-counted. Reload builds a new one and swaps the current pointer;
 * connections keep the runtime they started with. */
#ifndef SRV_RUNTIME_H
#define SRV_RUNTIME_H

#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include "common/cg_buf.h"
#include "common/cg_err.h"
#include "ldap/dir_pool.h"
#include "pki/pki_trust.h"
#include "pki/pki_verify.h"
#include "server/srv_config.h"

struct srv_runtime {
	atomic_uint refs;
	uint64_t generation;
	time_t loaded_at;
	struct srv_config *cfg;
	gnutls_certificate_credentials_t creds;
	gnutls_priority_t priority;
	char *priority_text;       /* the string handed to GnuTLS, exclusions appended */
	struct pki_trust *trust;
	struct pki_policy policy;
	bool has_directory;
	struct sockaddr_storage backend_addr;  /* resolved [server] backend */
	socklen_t backend_addr_len;
	uint8_t *hmac_key;                     /* secret: backend_hmac_key_file's bytes, or NULL */
	size_t hmac_key_len;
};

/* The exclusions appended to every priority string (DESIGN.md §5). */
#define SRV_PRIORITY_EXCLUDE ":-RSA:-DHE-RSA:-DHE-DSS:-VERS-TLS1.1:-VERS-TLS1.0:-VERS-SSL3.0"
#define SRV_PRIORITY_DEFAULT "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

/* Load the configuration at path and everything it names. On CG_OK *out is
 * the caller's reference (srv_runtime_unref); otherwise errors holds one
 * "FILE:LINE: message" or "FILE: message" per problem. */
CG_MUST_CHECK enum cg_err srv_runtime_build(const char *path, uint64_t generation,
					    struct srv_runtime **out, struct cg_buf *errors);
struct srv_runtime *srv_runtime_ref(struct srv_runtime *rt);
void srv_runtime_unref(struct srv_runtime *rt);

/* The process-wide current runtime. srv_runtime_current returns a new
 * reference (NULL before the first install). install takes over the
 * caller's reference and releases the previous runtime's. */
struct srv_runtime *srv_runtime_current(void);
void srv_runtime_install(struct srv_runtime *rt);
/* Generation of the current runtime: a cheap check for workers. */
uint64_t srv_runtime_current_generation(void);

/* Set job up for the directory decision on f under rt: cleared, rt's
 * directory settings and generation, the chain's trust anchor, and a result of
 * directory_unavailable until the pool answers (an unanswered job fails
 * closed). rt and f must outlive the job. */
void srv_runtime_dir_job(const struct srv_runtime *rt, const struct pki_facts *f, const char *anchor_sha256,
			 void (*complete)(struct dir_job *job), void *owner, struct dir_job *job);

/* Session ticket key shared by all runtimes (made once at start-up). */
CG_MUST_CHECK enum cg_err srv_runtime_ticket_key_init(void);
const gnutls_datum_t *srv_runtime_ticket_key(void);
void srv_runtime_ticket_key_free(void);

#endif
