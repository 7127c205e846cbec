/* Building, sharing and swapping the immutable runtime. */
#include "server/srv_runtime.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_log.h"
#include "pki/pki_creds.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct srv_runtime *g_current;
static atomic_uint_fast64_t g_generation;
static gnutls_datum_t g_ticket_key;

/* [server] backend as a socket address (numeric or a name, resolved now). */
static enum cg_err resolve_backend(struct srv_runtime *rt, struct cg_buf *errors)
{
	const struct srv_addr *a = &rt->cfg->backend;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	int rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc != 0 || res == NULL || res->ai_addrlen > sizeof(rt->backend_addr)) {
		if (cg_buf_printf(errors, "%s: [server] backend %s: %s\n", rt->cfg->path, a->text,
				  rc != 0 ? gai_strerror(rc) : "no address") != CG_OK)
			return CG_ERR_NOMEM;
		if (res != NULL)
			freeaddrinfo(res);
		return CG_ERR_CONFIG;
	}
	memcpy(&rt->backend_addr, res->ai_addr, res->ai_addrlen);
	rt->backend_addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return CG_OK;
}

/* The PROXY header's HMAC key: the file's bytes, one trailing newline dropped. */
static enum cg_err load_hmac_key(struct srv_runtime *rt, struct cg_buf *errors)
{
	char *key = NULL;
	size_t len = 0;
	enum cg_err r = cg_read_file(rt->cfg->backend_hmac_key_file, 4096, &key, &len);
	if (r == CG_OK && len > 0 && key[len - 1] == '\n')
		key[--len] = '\0';
	if (r != CG_OK || len < 16) {
		if (cg_buf_printf(errors, "%s: [server] backend_hmac_key_file %s: %s\n", rt->cfg->path,
				  rt->cfg->backend_hmac_key_file,
				  r != CG_OK ? cg_err_name(r) : "the key must be at least 16 bytes") != CG_OK)
			r = CG_ERR_NOMEM;
		if (key != NULL) {
			explicit_bzero(key, len);
			free(key);
		}
		return r != CG_OK ? r : CG_ERR_CONFIG;
	}
	rt->hmac_key = (uint8_t *)key;
	rt->hmac_key_len = len;
	return CG_OK;
}

enum cg_err srv_runtime_build(const char *path, uint64_t generation, struct srv_runtime **out,
			      struct cg_buf *errors)
{
	struct srv_runtime *rt = calloc(1, sizeof(*rt));
	enum cg_err r = CG_ERR_NOMEM;
	char err[1024] = "";
	const char *errpos = NULL;

	*out = NULL;
	if (rt == NULL)
		return CG_ERR_NOMEM;
	atomic_init(&rt->refs, 1);
	rt->generation = generation;
	rt->loaded_at = time(NULL);
	r = srv_config_load(path, &rt->cfg, errors);
	if (r != CG_OK)
		goto out;
	const struct srv_config *c = rt->cfg;

	r = pki_creds_load(c->cert, c->key, &rt->creds, err, sizeof(err));
	if (r != CG_OK) {
		if (cg_buf_printf(errors, "%s: %s\n", c->path, err) != CG_OK)
			r = CG_ERR_NOMEM;
		goto out;
	}
	r = pki_trust_load((const char *const *)c->ca, c->n_ca, (const char *const *)c->crl, c->n_crl,
			   &rt->trust, err, sizeof(err));
	if (r != CG_OK) {
		if (cg_buf_printf(errors, "%s: %s\n", c->path, err) != CG_OK)
			r = CG_ERR_NOMEM;
		goto out;
	}
	if (asprintf(&rt->priority_text, "%s%s", c->priority ? c->priority : SRV_PRIORITY_DEFAULT,
		     SRV_PRIORITY_EXCLUDE) < 0) {
		rt->priority_text = NULL;
		r = CG_ERR_NOMEM;
		goto out;
	}
	int grc = gnutls_priority_init2(&rt->priority, rt->priority_text, &errpos, 0);
	if (grc < 0) {
		if (cg_buf_printf(errors, "%s: [server] priority: %s near '%.40s'\n", c->path,
				  gnutls_strerror(grc), errpos ? errpos : "") != CG_OK)
			r = CG_ERR_NOMEM;
		rt->priority = NULL;
		r = CG_ERR_CONFIG;
		goto out;
	}
	rt->policy.eku_oid = c->require_eku != NULL ? c->eku_oid : GNUTLS_KP_TLS_WWW_CLIENT;
	rt->policy.max_chain_depth = c->max_chain_depth;
	rt->has_directory = c->dir.present;
	if (c->has_backend && (r = resolve_backend(rt, errors)) != CG_OK)
		goto out;
	if (c->backend_hmac_key_file != NULL && (r = load_hmac_key(rt, errors)) != CG_OK)
		goto out;
	*out = rt;
	rt = NULL;
	r = CG_OK;
out:
	if (rt != NULL)
		srv_runtime_unref(rt);
	return r;
}

void srv_runtime_dir_job(const struct srv_runtime *rt, const struct pki_facts *f, const char *anchor_sha256,
			 void (*complete)(struct dir_job *job), void *owner, struct dir_job *job)
{
	memset(job, 0, sizeof(*job));
	job->cfg = &rt->cfg->dir;
	job->generation = rt->generation;
	job->facts = f;
	snprintf(job->anchor_sha256, sizeof(job->anchor_sha256), "%s", anchor_sha256);
	job->complete = complete;
	job->owner = owner;
	job->result.reason = CG_REASON_DIRECTORY_UNAVAILABLE;
}

struct srv_runtime *srv_runtime_ref(struct srv_runtime *rt)
{
	if (rt != NULL)
		atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
	return rt;
}

void srv_runtime_unref(struct srv_runtime *rt)
{
	if (rt == NULL || atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (rt->creds != NULL)
		gnutls_certificate_free_credentials(rt->creds);
	if (rt->priority != NULL)
		gnutls_priority_deinit(rt->priority);
	free(rt->priority_text);
	if (rt->hmac_key != NULL) {
		explicit_bzero(rt->hmac_key, rt->hmac_key_len);
		free(rt->hmac_key);
	}
	pki_trust_free(rt->trust);
	srv_config_free(rt->cfg);
	free(rt);
}

struct srv_runtime *srv_runtime_current(void)
{
	pthread_mutex_lock(&g_lock);
	struct srv_runtime *rt = srv_runtime_ref(g_current);
	pthread_mutex_unlock(&g_lock);
	return rt;
}

void srv_runtime_install(struct srv_runtime *rt)
{
	pthread_mutex_lock(&g_lock);
	struct srv_runtime *old = g_current;
	g_current = rt;
	atomic_store(&g_generation, rt != NULL ? rt->generation : 0);
	pthread_mutex_unlock(&g_lock);
	srv_runtime_unref(old);
}

uint64_t srv_runtime_current_generation(void)
{
	return atomic_load_explicit(&g_generation, memory_order_acquire);
}

enum cg_err srv_runtime_ticket_key_init(void)
{
	if (g_ticket_key.data != NULL)
		return CG_OK;
	if (gnutls_session_ticket_key_generate(&g_ticket_key) < 0)
		return CG_ERR_TLS;
	return CG_OK;
}

const gnutls_datum_t *srv_runtime_ticket_key(void)
{
	return &g_ticket_key;
}

void srv_runtime_ticket_key_free(void)
{
	if (g_ticket_key.data != NULL) {
		gnutls_memset(g_ticket_key.data, 0, g_ticket_key.size);
		gnutls_free(g_ticket_key.data);
		g_ticket_key.data = NULL;
	}
}
