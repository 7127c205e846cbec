/* One bound LDAP connection: the configured URIs in failover order, LDAPv3,
 * no referrals, TLS (ldaps:// or StartTLS) verified against tls_ca, a simple
 * bind. Every step is bounded by timeout_ms: connect and the TLS handshake by
 * LDAP_OPT_NETWORK_TIMEOUT, StartTLS and the bind by ldap_result with a
 * timeval, later synchronous calls by LDAP_OPT_TIMEOUT. A stopped (SIGSTOP)
 * server accepts TCP and never answers; this file must still return.
 *
 * libldap 2.5 with GnuTLS does not honour the network timeout during the TLS
 * handshake (ldaps:// or after StartTLS): it spins on EAGAIN for ever. So each
 * connection attempt runs under a guard thread that shuts the socket down
 * (found through a connection callback) when the attempt's budget of
 * timeout_ms is spent; the handshake then fails at once. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "common/cg_log.h"
#include "ldap/dir_conn.h"

struct dir_conn_guard {
	ldap_conncb cb;           /* first: libldap hands us &cb */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;                   /* the attempt's socket, -1 before connect and after close */
	bool done;
	bool fired;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	pthread_t thread;
};

static int dir_guard_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr, struct ldap_conncb *ctx)
{
	struct dir_conn_guard *g = ctx->lc_arg;
	ber_socket_t fd = -1;
	if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1)
		return 0;
	pthread_mutex_lock(&g->mu);
	g->fd = fd;
	pthread_mutex_unlock(&g->mu);
	return 0;
}

static void dir_guard_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
	struct dir_conn_guard *g = ctx->lc_arg;
	pthread_mutex_lock(&g->mu);
	g->fd = -1;
	pthread_mutex_unlock(&g->mu);
}

static void *dir_guard_thread(void *arg)
{
	struct dir_conn_guard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->done) {
		if (pthread_cond_timedwait(&g->cv, &g->mu, &g->deadline) == ETIMEDOUT) {
			if (!g->done && g->fd >= 0) {
				shutdown(g->fd, SHUT_RDWR);
				g->fired = true;
			}
			break;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* Arm a guard for one attempt on ld; false when no thread could be started
 * (the attempt then runs with libldap's own timeouts only). */
static bool dir_guard_start(struct dir_conn_guard *g, LDAP *ld, uint64_t budget_ms)
{
	pthread_condattr_t ca;
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->cb.lc_add = dir_guard_add;
	g->cb.lc_del = dir_guard_del;
	g->cb.lc_arg = g;
	clock_gettime(CLOCK_MONOTONIC, &g->deadline);
	g->deadline.tv_sec += (time_t)(budget_ms / 1000);
	g->deadline.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
	if (g->deadline.tv_nsec >= 1000000000L) {
		g->deadline.tv_sec++;
		g->deadline.tv_nsec -= 1000000000L;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&g->mu, NULL);
	if (ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &g->cb) != LDAP_OPT_SUCCESS ||
	    pthread_create(&g->thread, NULL, dir_guard_thread, g) != 0) {
		ldap_get_option(ld, LDAP_OPT_CONNECT_CB, &g->cb); /* getting removes it */
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		return false;
	}
	return true;
}

/* Disarm: stop the thread and remove the callback from ld (if ld is still
 * there), so the handle can outlive the guard. Returns whether it fired. */
static bool dir_guard_stop(struct dir_conn_guard *g, LDAP *ld)
{
	bool fired;
	pthread_mutex_lock(&g->mu);
	g->done = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	fired = g->fired;
	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_CONNECT_CB, &g->cb);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	return fired;
}

static void dir_conn_errf(char *err, size_t errlen, const char *uri, const char *step, int rc)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s: %s", uri, step, ldap_err2string(rc));
}

static struct timeval dir_conn_tv(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((ms % 1000) * 1000) };
	return tv;
}

/* Wait (bounded) for the answer to msgid and return its result code; on a
 * timeout the operation is abandoned and LDAP_TIMEOUT returned. */
static int dir_conn_wait(LDAP *ld, int msgid, uint64_t timeout_ms, LDAPMessage **out)
{
	struct timeval tv = dir_conn_tv(timeout_ms);
	LDAPMessage *res = NULL;
	int err = LDAP_OTHER;
	int rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (rc == 0) {
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return LDAP_TIMEOUT;
	}
	if (rc < 0) {
		if (ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err) != LDAP_OPT_SUCCESS || err == LDAP_SUCCESS)
			err = LDAP_SERVER_DOWN;
		return err;
	}
	rc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, NULL, 0);
	if (rc != LDAP_SUCCESS)
		err = rc;
	if (out != NULL)
		*out = res;
	else
		ldap_msgfree(res);
	return err;
}

/* Handle options for one URI; TLS options before LDAP_OPT_X_TLS_NEWCTX, which
 * builds the handle's own TLS context from them. */
static int dir_conn_options(LDAP *ld, const struct dir_config *c, bool tls)
{
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, is_server = 0;
	struct timeval tv = dir_conn_tv(c->timeout_ms);
	int rc;
	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version)) != LDAP_OPT_SUCCESS ||
	    (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv)) != LDAP_OPT_SUCCESS ||
	    (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv)) != LDAP_OPT_SUCCESS ||
	    (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) != LDAP_OPT_SUCCESS)
		return rc;
	if (!tls)
		return LDAP_SUCCESS;
	if (c->tls_ca != NULL &&
	    (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c->tls_ca)) != LDAP_OPT_SUCCESS)
		return rc;
	if ((rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)) != LDAP_OPT_SUCCESS)
		return rc;
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
}

/* StartTLS as an asynchronous extended operation, so that waiting for the
 * answer is bounded; the handshake itself is bounded by the network timeout. */
static int dir_conn_starttls(LDAP *ld, uint64_t timeout_ms)
{
	int msgid = -1;
	int rc = ldap_start_tls(ld, NULL, NULL, &msgid);
	if (rc != LDAP_SUCCESS)
		return rc;
	rc = dir_conn_wait(ld, msgid, timeout_ms, NULL);
	if (rc != LDAP_SUCCESS)
		return rc;
	return ldap_install_tls(ld);
}

static int dir_conn_bind(LDAP *ld, const struct dir_config *c)
{
	struct berval pw = { 0, NULL };
	int msgid = -1, rc;
	if (c->bind_password != NULL) {
		pw.bv_val = c->bind_password;
		pw.bv_len = strlen(c->bind_password);
	}
	rc = ldap_sasl_bind(ld, c->bind_dn != NULL ? c->bind_dn : "", LDAP_SASL_SIMPLE, &pw,
			    NULL, NULL, &msgid);
	if (rc != LDAP_SUCCESS)
		return rc;
	return dir_conn_wait(ld, msgid, c->timeout_ms, NULL);
}

CG_MUST_CHECK enum cg_err dir_conn_open(const struct dir_config *c, LDAP **out,
					char *uri_used, size_t urilen, char *err, size_t errlen)
{
	enum cg_err r = CG_ERR_DIR;
	*out = NULL;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "no directory URI configured");
	for (size_t i = 0; i < c->n_uris; i++) {
		const char *uri = c->uris[i];
		bool ldaps = strncasecmp(uri, "ldaps://", 8) == 0;
		LDAP *ld = NULL;
		int rc = ldap_initialize(&ld, uri);
		if (rc != LDAP_SUCCESS) {
			dir_conn_errf(err, errlen, uri, "initialize", rc);
			cg_warn("directory %s: initialize: %s", uri, ldap_err2string(rc));
			continue;
		}
		const char *step = "options";
		struct dir_conn_guard guard;
		bool guarded = dir_guard_start(&guard, ld, c->timeout_ms);
		rc = dir_conn_options(ld, c, ldaps || c->starttls);
		if (rc == LDAP_SUCCESS && c->starttls && !ldaps) {
			step = "StartTLS";
			rc = dir_conn_starttls(ld, c->timeout_ms);
		}
		if (rc == LDAP_SUCCESS) {
			step = "bind";
			rc = dir_conn_bind(ld, c);
		}
		/* a guard that fired shut the socket down: never hand that handle out */
		if (guarded && dir_guard_stop(&guard, ld))
			rc = LDAP_TIMEOUT;
		if (rc != LDAP_SUCCESS) {
			dir_conn_errf(err, errlen, uri, step, rc);
			cg_warn("directory %s: %s: %s", uri, step, ldap_err2string(rc));
			ldap_unbind_ext_s(ld, NULL, NULL);
			continue;
		}
		if (uri_used != NULL && urilen > 0)
			snprintf(uri_used, urilen, "%s", uri);
		if (err != NULL && errlen > 0)
			err[0] = '\0';
		*out = ld;
		r = CG_OK;
		break;
	}
	return r;
}
