/* Event JSON (DESIGN.md §7) and its emission. */
#include "server/srv_event.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "api/api_journal.h"

static atomic_uint_fast64_t g_next_id = 1;

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL && v[0] != '\0')
		json_object_set_new(o, k, json_string(v));
}

static json_t *tls_part(gnutls_session_t s)
{
	json_t *t = json_object();
	if (t == NULL)
		return NULL;
	gnutls_protocol_t v = gnutls_protocol_get_version(s);
	const char *vn = gnutls_protocol_get_name(v);
	if (vn != NULL && v != GNUTLS_VERSION_UNKNOWN)
		set_str(t, "version", vn);
	const char *cs = gnutls_ciphersuite_get(s);
	if (cs != NULL)
		set_str(t, "cipher", cs);
	gnutls_group_t g = gnutls_group_get(s);
	if (g != 0)
		set_str(t, "group", gnutls_group_get_name(g));
	char sni[256];
	size_t sni_len = sizeof(sni);
	unsigned type = 0;
	if (gnutls_server_name_get(s, sni, &sni_len, &type, 0) == 0 && type == GNUTLS_NAME_DNS &&
	    sni_len < sizeof(sni) && memchr(sni, '\0', sni_len) == NULL) {
		sni[sni_len] = '\0';
		json_t *js = json_stringn(sni, sni_len);  /* NULL when not valid UTF-8 */
		if (js != NULL)
			json_object_set_new(t, "sni", js);
	}
	if (json_object_size(t) > 0)
		json_object_set_new(t, "resumed", json_boolean(gnutls_session_is_resumed(s)));
	return t;
}

static json_t *cert_part(const struct pki_facts *f)
{
	char nb[32], na[32];
	json_t *c = json_object();
	if (c == NULL)
		return NULL;
	set_str(c, "subject", f->subject_dn);
	set_str(c, "issuer", f->issuer_dn);
	set_str(c, "serial", f->serial_hex);
	set_str(c, "sha256", f->sha256_hex);
	set_str(c, "not_before", cg_time_format_s(f->not_before, nb, sizeof(nb)));
	set_str(c, "not_after", cg_time_format_s(f->not_after, na, sizeof(na)));
	return c;
}

static json_t *directory_part(const struct dir_result *d, const char *cache)
{
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	set_str(o, "rule", d->rule);
	set_str(o, "entry", d->entry);
	if (d->n_candidates > 0) {
		json_t *a = json_array();
		for (size_t i = 0; a != NULL && i < d->n_candidates; i++)
			json_array_append_new(a, json_string(d->candidates[i]));
		json_object_set_new(o, "candidates", a);
	}
	set_str(o, "cache", cache);
	json_object_set_new(o, "latency_us", json_integer((json_int_t)d->latency_us));
	return o;
}

json_t *srv_event_build(const struct srv_event_input *in)
{
	char ts[40];
	json_t *ev = json_object();
	if (ev == NULL)
		return NULL;
	json_object_set_new(ev, "id", json_integer(0)); /* first; the journal sets it */
	set_str(ev, "kind", in->kind);
	if (in->kind != NULL && in->connection != 0)
		json_object_set_new(ev, "connection", json_integer((json_int_t)in->connection));
	set_str(ev, "time", cg_time_format_us(in->wall_us, ts, sizeof(ts)));
	set_str(ev, "peer", in->peer);
	set_str(ev, "listener", in->listener);
	set_str(ev, "outcome", in->reason == CG_REASON_OK ? "allowed" : "denied");
	set_str(ev, "reason", cg_reason_name(in->reason));
	set_str(ev, "detail", in->detail);
	if (in->tls != NULL) {
		json_t *t = tls_part(in->tls);
		if (t != NULL && json_object_size(t) > 0)
			json_object_set_new(ev, "tls", t);
		else
			json_decref(t);
	}
	if (in->facts != NULL)
		json_object_set_new(ev, "cert", cert_part(in->facts));
	if (in->dir != NULL)
		json_object_set_new(ev, "directory", directory_part(in->dir, in->cache));
	if (in->steps != NULL) {
		json_t *a = json_array();
		for (unsigned i = 0; a != NULL && i < in->n_steps; i++)
			json_array_append_new(a, json_pack("{s:s s:I}", "step", in->steps[i].name,
							   "t_us", (json_int_t)in->steps[i].t_us));
		json_object_set_new(ev, "steps", a);
	}
	json_object_set_new(ev, "duration_us", json_integer((json_int_t)in->duration_us));
	return ev;
}

static struct api_journal *g_journal;

void srv_event_set_journal(struct api_journal *j)
{
	g_journal = j;
}

uint64_t srv_event_emit_durable(json_t *ev, void (*durable)(void *arg, bool written), void *arg)
{
	uint64_t id;
	if (ev == NULL) {
		if (durable != NULL)
			durable(arg, false);
		return 0;
	}
	if (g_journal != NULL) {
		json_incref(ev);  /* keep it for the log line: the ring may evict it at once */
		id = api_journal_record(g_journal, ev, durable, arg);
	} else {
		id = atomic_fetch_add(&g_next_id, 1);
		json_object_set_new(ev, "id", json_integer((json_int_t)id));
	}
	char *line = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line != NULL) {
		cg_log_raw_line(line);
		free(line);
	}
	json_decref(ev);
	if (g_journal == NULL && durable != NULL)
		durable(arg, true);
	return id;
}

uint64_t srv_event_emit(json_t *ev)
{
	return srv_event_emit_durable(ev, NULL, NULL);
}
