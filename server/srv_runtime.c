/* Building, sharing and swapping the immutable runtime. */
#include "server/srv_runtime.h"

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
	*out = rt;
	rt = NULL;
	r = CG_OK;
out:
	if (rt != NULL)
		srv_runtime_unref(rt);
	return r;
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
