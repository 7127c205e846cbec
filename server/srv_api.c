/* Admin API hooks: health, check, connections, config, reload. */
#include "server/srv_api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_time.h"
#include "server/srv_check.h"
#include "server/srv_conn.h"
#include "server/srv_runtime.h"
#include "server/srv_serve.h"

struct srv_api_state srv_api;

static pthread_mutex_t g_conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct srv_conn *g_conns;  /* linked through reg_prev/reg_next */

void srv_api_conn_register(struct srv_conn *c)
{
	pthread_mutex_lock(&g_conns_lock);
	c->reg_prev = NULL;
	c->reg_next = g_conns;
	if (g_conns != NULL)
		g_conns->reg_prev = c;
	g_conns = c;
	c->registered = true;
	pthread_mutex_unlock(&g_conns_lock);
}

void srv_api_conn_unregister(struct srv_conn *c)
{
	if (!c->registered)
		return;
	pthread_mutex_lock(&g_conns_lock);
	if (c->reg_prev)
		c->reg_prev->reg_next = c->reg_next;
	else
		g_conns = c->reg_next;
	if (c->reg_next)
		c->reg_next->reg_prev = c->reg_prev;
	c->registered = false;
	pthread_mutex_unlock(&g_conns_lock);
}

static json_t *hook_connections(void *ctx)
{
	json_t *list = json_array();
	char since[40];
	(void)ctx;
	if (list == NULL)
		return NULL;
	pthread_mutex_lock(&g_conns_lock);
	for (struct srv_conn *c = g_conns; c != NULL; c = c->reg_next) {
		/* peer, subject and entry are written before registration and never after */
		json_t *o = json_pack("{s:s s:s s:I s:I}", "peer", c->peer,
				      "since", cg_time_format_us(c->wall0_us, since, sizeof(since)),
				      "bytes_in", (json_int_t)atomic_load_explicit(&c->io_in, memory_order_relaxed),
				      "bytes_out", (json_int_t)atomic_load_explicit(&c->io_out, memory_order_relaxed));
		if (o == NULL)
			continue;
		if (c->facts != NULL && c->facts->subject_dn != NULL)
			json_object_set_new(o, "subject", json_string(c->facts->subject_dn));
		if (c->directory_used && c->job.result.entry != NULL)
			json_object_set_new(o, "entry", json_string(c->job.result.entry));
		json_object_set_new(o, "event", json_integer((json_int_t)c->event_id));
		json_array_append_new(list, o);
	}
	pthread_mutex_unlock(&g_conns_lock);
	return json_pack("{s:o}", "connections", list);
}

static json_t *hook_health(void *ctx)
{
	char crl[32], reload[32];
	(void)ctx;
	struct srv_runtime *rt = srv_runtime_current();
	const char *message = atomic_load(&srv_api.stopping) ? "stopping"
			      : atomic_load(&srv_api.reloading) ? "reloading" : "listening";
	const char *status = atomic_load(&srv_api.stopping) || rt == NULL ? "down" : "ok";
	json_t *o = json_pack("{s:s s:s s:I s:s}", "status", status, "message", message,
			      "uptime_s", (json_int_t)((cg_mono_ms() - srv_api.started_mono_ms) / 1000),
			      "version", VERSION);
	if (o == NULL)
		goto out;
	json_object_set_new(o, "last_reload",
			    json_string(cg_time_format_s(srv_api.last_reload, reload, sizeof(reload))));
	if (rt != NULL) {
		time_t next = pki_trust_crl_next_update(rt->trust);
		if (next != 0)
			json_object_set_new(o, "crl_next_update", json_string(cg_time_format_s(next, crl, sizeof(crl))));
		if (next != 0 && next < time(NULL) && strcmp(status, "ok") == 0)
			status = "degraded";
	}
	if (rt != NULL && rt->has_directory && srv_api.pool != NULL) {
		struct dir_health h;
		dir_pool_health(srv_api.pool, &h);
		json_t *d = json_pack("{s:s s:s s:f}", "status", h.up ? "up" : "down", "uri", h.uri,
				      "latency_ms", (double)h.latency_us / 1000.0);
		if (d != NULL && h.last_error[0] != '\0')
			json_object_set_new(d, "last_error", json_string(h.last_error));
		json_object_set_new(o, "directory", d);
		if (!h.up && strcmp(status, "ok") == 0)
			status = "degraded";
	}
	json_object_set_new(o, "status", json_string(status));
out:
	srv_runtime_unref(rt);
	return o;
}

static enum cg_err hook_check(void *ctx, const char *pem, size_t len, json_t **event, char *err, size_t errlen)
{
	(void)ctx;
	struct srv_runtime *rt = srv_runtime_current();
	if (rt == NULL) {
		snprintf(err, errlen, "not running");
		return CG_ERR_IO;
	}
	enum cg_err r = srv_check_decide(rt, srv_api.pool, pem, len, event, NULL, err, errlen);
	srv_runtime_unref(rt);
	return r;
}

static json_t *hook_config(void *ctx)
{
	(void)ctx;
	struct srv_runtime *rt = srv_runtime_current();
	json_t *o = NULL;
	if (rt != NULL) {
		o = srv_config_to_json(rt->cfg);
		if (o != NULL)
			json_object_set_new(o, "generation", json_integer((json_int_t)rt->generation));
	}
	srv_runtime_unref(rt);
	return o;
}

static bool hook_reload(void *ctx, json_t **result)
{
	struct cg_buf errors;
	uint64_t gen = 0;
	(void)ctx;
	cg_buf_init(&errors, 64 * 1024);
	enum cg_err r = srv_serve_reload(&gen, &errors);
	if (r == CG_OK) {
		*result = json_pack("{s:I}", "generation", (json_int_t)gen);
	} else {
		json_t *list = json_array();
		const char *p = errors.data ? errors.data : "";
		while (list != NULL && *p) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			json_array_append_new(list, json_stringn(p, l));
			p += l + (nl ? 1 : 0);
		}
		if (list != NULL && json_array_size(list) == 0)
			json_array_append_new(list, json_string(cg_err_name(r)));
		*result = json_pack("{s:o}", "errors", list);
	}
	cg_buf_free(&errors);
	return r == CG_OK;
}

static json_t *hook_cache_info(void *ctx)
{
	(void)ctx;
	return dir_cache_json(srv_api.cache);
}

static json_t *hook_cache_flush(void *ctx)
{
	(void)ctx;
	return json_pack("{s:I}", "flushed", (json_int_t)dir_cache_flush(srv_api.cache));
}

static enum cg_err hook_cache_drop(void *ctx, const char *sha256_hex)
{
	uint8_t sha[32];
	(void)ctx;
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(sha256_hex + 2 * i, "%2x", &v) != 1)
			return CG_ERR_ARG;
		sha[i] = (uint8_t)v;
	}
	return dir_cache_drop_sha256(srv_api.cache, sha) > 0 ? CG_OK : CG_ERR_NOTFOUND;
}

void srv_api_hooks_init(struct api_hooks *hooks)
{
	memset(hooks, 0, sizeof(*hooks));
	hooks->health = hook_health;
	hooks->check = hook_check;
	hooks->connections = hook_connections;
	hooks->config = hook_config;
	hooks->reload = hook_reload;
	if (srv_api.cache != NULL && dir_cache_enabled(srv_api.cache)) {
		hooks->cache_info = hook_cache_info;
		hooks->cache_flush = hook_cache_flush;
		hooks->cache_drop = hook_cache_drop;
	}
}
