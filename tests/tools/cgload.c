/* cgload: a mutual-TLS load generator for certgate and its peers (make bench).
 *
 *   cgload --host 127.0.0.1 --port P --ca CA.pem --cert C.pem --key K.pem
 *          [--connections N] [--concurrency C] [--duration S] [--timeout S]
 *          [--tls 1.2|1.3] [--servername NAME] [--request] [--resume] [--json]
 *
 * Opens N connections (or as many as it can in S seconds), C in flight at once,
 * on non-blocking sockets driven by one epoll loop. Each connection is a full
 * mutual-TLS handshake (GnuTLS; the server's certificate is verified against --ca
 * for --servername, default "localhost"). With --request it then sends
 * "GET / HTTP/1.0\r\n\r\n" and reads to EOF; the verdict is the server's answer:
 * allowed = a response that starts with an HTTP 200 status line; denied = a fatal
 * alert, or EOF/reset without a 200. A finished handshake alone is never counted as
 * allowed (in TLS 1.3 the client finishes before the server judges its certificate);
 * without --request such a connection is "unjudged". Errors are connect failures,
 * handshake failures that are not an alert from the server, timeouts and protocol
 * errors. Latency is connect start to verdict.
 *
 * Loopback only (127.0.0.0/8, ::1, localhost), bounded in count (10^7) and time
 * (--duration, else 600 s), so it always stops by itself.
 * Exit 0: every connection got a verdict; 1: some errors; 2: usage or setup error. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cg_err.h"
#include "common/cg_parse.h"
#include "common/cg_time.h"

#define CGLOAD_MAX_CONNECTIONS  10000000u
#define CGLOAD_MAX_CONCURRENCY  10000u
#define CGLOAD_DEFAULT_CAP_MS   600000u    /* run-time cap when no --duration is given */
#define CGLOAD_MAX_RESPONSE     (1u << 20) /* bytes read per connection before it is an error */
#define CGLOAD_HEAD_LEN         16u        /* enough for "HTTP/1.1 200 " */

static const char cgload_request[] = "GET / HTTP/1.0\r\n\r\n";

enum cgload_state { CGLOAD_FREE, CGLOAD_CONNECTING, CGLOAD_HANDSHAKE, CGLOAD_SEND, CGLOAD_READ };

enum cgload_outcome {
	CGLOAD_ALLOWED,
	CGLOAD_DENIED_ALERT,
	CGLOAD_DENIED_EOF,
	CGLOAD_UNJUDGED,
	CGLOAD_ERR_CONNECT,
	CGLOAD_ERR_HANDSHAKE,
	CGLOAD_ERR_TIMEOUT,
	CGLOAD_ERR_PROTOCOL,
	CGLOAD_OUTCOMES
};

struct cgload_opts {
	char host[256];
	uint16_t port;
	const char *ca, *cert, *key, *servername;
	uint64_t connections, concurrency, duration_ms, timeout_ms;
	const char *tls;
	bool request, resume, json;
};

struct cgload_conn {
	enum cgload_state state;
	int fd;
	gnutls_session_t tls;
	uint64_t t_start_us;
	uint64_t deadline_us;
	size_t sent;
	size_t received;
	char head[CGLOAD_HEAD_LEN];
	size_t head_len;
	bool handshake_done;
	uint32_t armed;          /* epoll events currently registered */
};

struct cgload_run {
	const struct cgload_opts *o;
	int ep;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	gnutls_datum_t resume_data;  /* owned; gnutls_free */
	struct cgload_conn *conns;   /* o->concurrency slots */
	uint32_t *free_slots;        /* indexes of the free slots, a stack of n_free */
	uint64_t n_free;
	uint64_t in_flight, started, resumed;
	uint64_t count[CGLOAD_OUTCOMES];
	uint32_t *lat_us;            /* verdict latencies, grown by doubling */
	size_t lat_n, lat_cap;
	int last_tls_error;          /* a GnuTLS error code of the last error, for the summary */
	int last_alert;              /* the last alert received from a server, -1 for none */
	int last_errno;              /* the last connect errno */
	const char *group, *cipher;  /* GnuTLS's static names, of the last finished handshake */
};

static void cgload_usage(FILE *fp)
{
	fprintf(fp, "usage: cgload --host 127.0.0.1 --port P --ca CA.pem --cert C.pem --key K.pem\n"
		    "              [--connections N] [--concurrency C] [--duration S] [--timeout S]\n"
		    "              [--tls 1.2|1.3] [--servername NAME] [--request] [--resume] [--json]\n");
}

/* Resolve a loopback host into addr. Anything that is not 127.0.0.0/8, ::1 or
 * "localhost" is refused with CG_ERR_ARG. */
static CG_MUST_CHECK enum cg_err cgload_loopback_addr(const char *host, uint16_t port,
						       struct sockaddr_storage *addr, socklen_t *len)
{
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	memset(&v4, 0, sizeof(v4));
	memset(&v6, 0, sizeof(v6));
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
		if ((ntohl(v4.sin_addr.s_addr) >> 24) != 127)
			return CG_ERR_ARG;
		v4.sin_family = AF_INET;
		v4.sin_port = htons(port);
		memset(addr, 0, sizeof(*addr));
		memcpy(addr, &v4, sizeof(v4));
		*len = sizeof(v4);
		return CG_OK;
	}
	if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr))
			return CG_ERR_ARG;
		v6.sin6_family = AF_INET6;
		v6.sin6_port = htons(port);
		memset(addr, 0, sizeof(*addr));
		memcpy(addr, &v6, sizeof(v6));
		*len = sizeof(v6);
		return CG_OK;
	}
	return CG_ERR_ARG;
}

/* Parse argv into o. Prints the reason on stderr; CG_ERR_ARG on any problem. */
static CG_MUST_CHECK enum cg_err cgload_parse_args(int argc, char **argv, struct cgload_opts *o)
{
	static const struct option longopts[] = {
		{"host", required_argument, NULL, 'h'}, {"port", required_argument, NULL, 'p'},
		{"ca", required_argument, NULL, 'a'}, {"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'}, {"connections", required_argument, NULL, 'n'},
		{"concurrency", required_argument, NULL, 'C'}, {"duration", required_argument, NULL, 'd'},
		{"timeout", required_argument, NULL, 't'}, {"tls", required_argument, NULL, 'V'},
		{"servername", required_argument, NULL, 's'}, {"request", no_argument, NULL, 'r'},
		{"resume", no_argument, NULL, 'R'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'H'}, {NULL, 0, NULL, 0},
	};
	bool have_n = false, have_d = false, have_port = false;
	uint64_t v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->concurrency = 1;
	o->timeout_ms = 10000;
	o->tls = "1.3";
	o->servername = "localhost";
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			if (strlen(optarg) >= sizeof(o->host)) {
				fprintf(stderr, "cgload: --host too long\n");
				return CG_ERR_ARG;
			}
			strcpy(o->host, optarg);
			break;
		case 'p':
			if (cg_parse_uint(optarg, 1, 65535, &v) != CG_OK) {
				fprintf(stderr, "cgload: --port must be 1..65535\n");
				return CG_ERR_ARG;
			}
			o->port = (uint16_t)v;
			have_port = true;
			break;
		case 'a': o->ca = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 's': o->servername = optarg; break;
		case 'n':
			if (cg_parse_uint(optarg, 1, CGLOAD_MAX_CONNECTIONS, &o->connections) != CG_OK) {
				fprintf(stderr, "cgload: --connections must be 1..%u\n", CGLOAD_MAX_CONNECTIONS);
				return CG_ERR_ARG;
			}
			have_n = true;
			break;
		case 'C':
			if (cg_parse_uint(optarg, 1, CGLOAD_MAX_CONCURRENCY, &o->concurrency) != CG_OK) {
				fprintf(stderr, "cgload: --concurrency must be 1..%u\n", CGLOAD_MAX_CONCURRENCY);
				return CG_ERR_ARG;
			}
			break;
		case 'd':
			if (cg_parse_duration_ms(optarg, &o->duration_ms) != CG_OK || o->duration_ms == 0 ||
			    o->duration_ms > 86400000u) {
				fprintf(stderr, "cgload: --duration must be a duration in (0, 1d]\n");
				return CG_ERR_ARG;
			}
			have_d = true;
			break;
		case 't':
			if (cg_parse_duration_ms(optarg, &o->timeout_ms) != CG_OK || o->timeout_ms == 0 ||
			    o->timeout_ms > 3600000u) {
				fprintf(stderr, "cgload: --timeout must be a duration in (0, 1h]\n");
				return CG_ERR_ARG;
			}
			break;
		case 'V':
			if (strcmp(optarg, "1.2") != 0 && strcmp(optarg, "1.3") != 0) {
				fprintf(stderr, "cgload: --tls must be 1.2 or 1.3\n");
				return CG_ERR_ARG;
			}
			o->tls = optarg;
			break;
		case 'r': o->request = true; break;
		case 'R': o->resume = true; break;
		case 'j': o->json = true; break;
		case 'H': cgload_usage(stdout); exit(0);
		default: cgload_usage(stderr); return CG_ERR_ARG;
		}
	}
	if (optind != argc || o->host[0] == '\0' || !have_port || o->ca == NULL || o->cert == NULL ||
	    o->key == NULL) {
		cgload_usage(stderr);
		return CG_ERR_ARG;
	}
	if (!have_n)
		o->connections = have_d ? CGLOAD_MAX_CONNECTIONS : 100;
	if (!have_d)
		o->duration_ms = CGLOAD_DEFAULT_CAP_MS;
	if (o->concurrency > o->connections)
		o->concurrency = o->connections;
	return CG_OK;
}

/* Make sure concurrency sockets fit under RLIMIT_NOFILE, raising the soft limit if needed. */
static CG_MUST_CHECK enum cg_err cgload_fd_limit(uint64_t concurrency)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)concurrency + 32;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return CG_ERR_IO;
	if (rl.rlim_cur >= need)
		return CG_OK;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		return CG_ERR_RANGE;
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? CG_OK : CG_ERR_IO;
}

/* Load the client credentials and the priority. On CG_OK run->cred and run->prio
 * are the run's (freed by cgload_run_free). */
static CG_MUST_CHECK enum cg_err cgload_tls_setup(struct cgload_run *run)
{
	const struct cgload_opts *o = run->o;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_priority_t prio = NULL;
	const char *prio_str = strcmp(o->tls, "1.2") == 0 ? "NORMAL:-VERS-ALL:+VERS-TLS1.2"
							   : "NORMAL:-VERS-ALL:+VERS-TLS1.3";
	enum cg_err r = CG_ERR_TLS;
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return CG_ERR_NOMEM;
	rc = gnutls_certificate_set_x509_trust_file(cred, o->ca, GNUTLS_X509_FMT_PEM);
	if (rc <= 0) {
		fprintf(stderr, "cgload: %s: no trust anchors loaded (%s)\n", o->ca,
			rc < 0 ? gnutls_strerror(rc) : "empty");
		goto out;
	}
	rc = gnutls_certificate_set_x509_key_file(cred, o->cert, o->key, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		fprintf(stderr, "cgload: %s / %s: %s\n", o->cert, o->key, gnutls_strerror(rc));
		goto out;
	}
	rc = gnutls_priority_init(&prio, prio_str, NULL);
	if (rc < 0) {
		fprintf(stderr, "cgload: priority %s: %s\n", prio_str, gnutls_strerror(rc));
		goto out;
	}
	run->cred = cred;
	cred = NULL;
	run->prio = prio;
	prio = NULL;
	r = CG_OK;
out:
	if (prio != NULL)
		gnutls_priority_deinit(prio);
	if (cred != NULL)
		gnutls_certificate_free_credentials(cred);
	return r;
}

static void cgload_record_latency(struct cgload_run *run, uint64_t us)
{
	if (run->lat_n == run->lat_cap) {
		size_t cap = run->lat_cap == 0 ? 4096 : run->lat_cap * 2;
		uint32_t *p = realloc(run->lat_us, cap * sizeof(*p));
		if (p == NULL)
			return;   /* a missing sample is better than a lost run */
		run->lat_us = p;
		run->lat_cap = cap;
	}
	run->lat_us[run->lat_n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Keep the newest resumption data of a connection that completed. */
static void cgload_keep_session(struct cgload_run *run, struct cgload_conn *c)
{
	gnutls_datum_t d = {NULL, 0};
	if (!run->o->resume || !c->handshake_done)
		return;
	if (gnutls_protocol_get_version(c->tls) == GNUTLS_TLS1_3 &&
	    (gnutls_session_get_flags(c->tls) & GNUTLS_SFLAGS_SESSION_TICKET) == 0)
		return;   /* TLS 1.3 data is only usable once a ticket arrived */
	if (gnutls_session_get_data2(c->tls, &d) < 0 || d.size == 0) {
		gnutls_free(d.data);
		return;
	}
	gnutls_free(run->resume_data.data);
	run->resume_data = d;
}

/* Close c, count its outcome and free its slot. */
static void cgload_finish(struct cgload_run *run, struct cgload_conn *c, enum cgload_outcome out)
{
	uint64_t now = cg_mono_us();
	if (out == CGLOAD_ALLOWED || out == CGLOAD_DENIED_ALERT || out == CGLOAD_DENIED_EOF ||
	    out == CGLOAD_UNJUDGED)
		cgload_record_latency(run, now - c->t_start_us);
	run->count[out]++;
	if (c->tls != NULL) {
		if (c->handshake_done) {
			if (gnutls_session_is_resumed(c->tls))
				run->resumed++;
			run->group = gnutls_group_get_name(gnutls_group_get(c->tls));
			run->cipher = gnutls_cipher_get_name(gnutls_cipher_get(c->tls));
		}
		if (out == CGLOAD_ALLOWED || out == CGLOAD_UNJUDGED)
			cgload_keep_session(run, c);
		gnutls_deinit(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);   /* also leaves the epoll set */
	c->fd = -1;
	c->state = CGLOAD_FREE;
	c->armed = 0;
	run->in_flight--;
	run->free_slots[run->n_free++] = (uint32_t)(c - run->conns);
}

/* Register c for events (EPOLLIN or EPOLLOUT). */
static CG_MUST_CHECK enum cg_err cgload_arm(struct cgload_run *run, struct cgload_conn *c, uint32_t events)
{
	struct epoll_event ev;
	int op = c->armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (c->armed == events)
		return CG_OK;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(run->ep, op, c->fd, &ev) != 0)
		return CG_ERR_IO;
	c->armed = events;
	return CG_OK;
}

/* Park c on the direction GnuTLS is waiting for. */
static void cgload_park(struct cgload_run *run, struct cgload_conn *c)
{
	uint32_t ev = gnutls_record_get_direction(c->tls) == 1 ? EPOLLOUT : EPOLLIN;
	if (cgload_arm(run, c, ev) != CG_OK) {
		run->last_errno = errno;
		cgload_finish(run, c, CGLOAD_ERR_PROTOCOL);
	}
}

/* The verdict once the server has closed or failed the connection after the handshake. */
static enum cgload_outcome cgload_verdict(const struct cgload_conn *c, bool alert)
{
	/* "HTTP/1.0 200" or "HTTP/1.1 200", then a space or the end of the line */
	if (c->head_len >= 12 && memcmp(c->head, "HTTP/1.", 7) == 0 && memcmp(c->head + 8, " 200", 4) == 0 &&
	    (c->head_len == 12 || c->head[12] == ' ' || c->head[12] == '\r'))
		return CGLOAD_ALLOWED;
	return alert ? CGLOAD_DENIED_ALERT : CGLOAD_DENIED_EOF;
}

static void cgload_note_alert(struct cgload_run *run, struct cgload_conn *c)
{
	run->last_alert = (int)gnutls_alert_get(c->tls);
}

/* Read the response until EOF, an alert or "would block". */
static void cgload_step_read(struct cgload_run *run, struct cgload_conn *c)
{
	char buf[4096];
	for (;;) {
		ssize_t n = gnutls_record_recv(c->tls, buf, sizeof(buf));
		if (n > 0) {
			size_t take = CGLOAD_HEAD_LEN - c->head_len;
			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(c->head + c->head_len, buf, take);
			c->head_len += take;
			c->received += (size_t)n;
			if (c->received > CGLOAD_MAX_RESPONSE) {
				cgload_finish(run, c, CGLOAD_ERR_PROTOCOL);
				return;
			}
			continue;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			cgload_park(run, c);
			return;
		}
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION || n == GNUTLS_E_PULL_ERROR) {
			cgload_finish(run, c, cgload_verdict(c, false));
			return;
		}
		if (n == GNUTLS_E_FATAL_ALERT_RECEIVED) {
			cgload_note_alert(run, c);
			cgload_finish(run, c, cgload_verdict(c, true));
			return;
		}
		if (n == GNUTLS_E_WARNING_ALERT_RECEIVED || n == GNUTLS_E_GOT_APPLICATION_DATA ||
		    n == GNUTLS_E_REHANDSHAKE)
			continue;
		run->last_tls_error = (int)n;
		cgload_finish(run, c, CGLOAD_ERR_PROTOCOL);
		return;
	}
}

/* Send the request; a send that fails after the handshake usually means the server
 * already judged and closed: read its alert or EOF for the verdict. */
static void cgload_step_send(struct cgload_run *run, struct cgload_conn *c)
{
	while (c->sent < sizeof(cgload_request) - 1) {
		ssize_t n = gnutls_record_send(c->tls, cgload_request + c->sent,
					       sizeof(cgload_request) - 1 - c->sent);
		if (n > 0) {
			c->sent += (size_t)n;
			continue;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			cgload_park(run, c);
			return;
		}
		break;
	}
	c->state = CGLOAD_READ;
	cgload_step_read(run, c);
}

static void cgload_step_handshake(struct cgload_run *run, struct cgload_conn *c)
{
	int rc = gnutls_handshake(c->tls);
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
		cgload_park(run, c);
		return;
	}
	if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		/* TLS 1.2: the server refused our certificate inside the handshake */
		cgload_note_alert(run, c);
		cgload_finish(run, c, CGLOAD_DENIED_ALERT);
		return;
	}
	if (rc < 0) {
		run->last_tls_error = rc;
		cgload_finish(run, c, CGLOAD_ERR_HANDSHAKE);
		return;
	}
	c->handshake_done = true;
	if (!run->o->request) {
		cgload_finish(run, c, CGLOAD_UNJUDGED);
		return;
	}
	c->state = CGLOAD_SEND;
	cgload_step_send(run, c);
}

/* The TCP connect finished (or failed): set up the TLS session and start the handshake. */
static void cgload_step_connecting(struct cgload_run *run, struct cgload_conn *c)
{
	const struct cgload_opts *o = run->o;
	int err = 0, rc;
	socklen_t len = sizeof(err);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		run->last_errno = err;
		cgload_finish(run, c, CGLOAD_ERR_CONNECT);
		return;
	}
	rc = gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (rc < 0) {
		c->tls = NULL;
		run->last_tls_error = rc;
		cgload_finish(run, c, CGLOAD_ERR_HANDSHAKE);
		return;
	}
	if ((rc = gnutls_priority_set(c->tls, run->prio)) < 0 ||
	    (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, run->cred)) < 0 ||
	    (rc = gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, o->servername, strlen(o->servername))) < 0 ||
	    (o->resume && run->resume_data.size > 0 &&
	     (rc = gnutls_session_set_data(c->tls, run->resume_data.data, run->resume_data.size)) < 0)) {
		run->last_tls_error = rc;
		cgload_finish(run, c, CGLOAD_ERR_HANDSHAKE);
		return;
	}
	gnutls_session_set_verify_cert(c->tls, o->servername, 0);
	gnutls_handshake_set_timeout(c->tls, 0);   /* our own deadline applies */
	gnutls_transport_set_int(c->tls, c->fd);
	c->state = CGLOAD_HANDSHAKE;
	cgload_step_handshake(run, c);
}

/* Start one connection in slot c. */
static void cgload_start(struct cgload_run *run, struct cgload_conn *c)
{
	int one = 1;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->t_start_us = cg_mono_us();
	c->deadline_us = c->t_start_us + run->o->timeout_ms * 1000u;
	c->state = CGLOAD_CONNECTING;
	run->in_flight++;
	run->started++;
	c->fd = socket(run->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		run->last_errno = errno;
		cgload_finish(run, c, CGLOAD_ERR_CONNECT);
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)&run->addr, run->addr_len) == 0) {
		cgload_step_connecting(run, c);
		return;
	}
	if (errno != EINPROGRESS) {
		run->last_errno = errno;
		cgload_finish(run, c, CGLOAD_ERR_CONNECT);
		return;
	}
	if (cgload_arm(run, c, EPOLLOUT) != CG_OK) {
		run->last_errno = errno;
		cgload_finish(run, c, CGLOAD_ERR_CONNECT);
	}
}

static void cgload_dispatch(struct cgload_run *run, struct cgload_conn *c)
{
	switch (c->state) {
	case CGLOAD_CONNECTING: cgload_step_connecting(run, c); break;
	case CGLOAD_HANDSHAKE: cgload_step_handshake(run, c); break;
	case CGLOAD_SEND: cgload_step_send(run, c); break;
	case CGLOAD_READ: cgload_step_read(run, c); break;
	case CGLOAD_FREE: break;
	}
}

static void cgload_expire(struct cgload_run *run, uint64_t now)
{
	for (uint64_t i = 0; i < run->o->concurrency; i++) {
		struct cgload_conn *c = &run->conns[i];
		if (c->state != CGLOAD_FREE && now >= c->deadline_us)
			cgload_finish(run, c, CGLOAD_ERR_TIMEOUT);
	}
}

/* The event loop: keep up to concurrency connections in flight until the count or
 * the time is used up, then let the open ones finish (each bounded by its timeout). */
static void cgload_loop(struct cgload_run *run, uint64_t t0)
{
	const struct cgload_opts *o = run->o;
	uint64_t stop_at = t0 + o->duration_ms * 1000u;
	uint64_t next_expire = t0 + 100000u;
	struct epoll_event evs[256];

	for (;;) {
		uint64_t now = cg_mono_us();
		bool may_start = run->started < o->connections && now < stop_at;
		while (may_start && run->n_free > 0 && run->started < o->connections)
			cgload_start(run, &run->conns[run->free_slots[--run->n_free]]);
		if (run->in_flight == 0 && (run->started >= o->connections || cg_mono_us() >= stop_at))
			break;
		int n = epoll_wait(run->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), 100);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++)
			cgload_dispatch(run, evs[i].data.ptr);
		now = cg_mono_us();
		if (now >= next_expire) {
			cgload_expire(run, now);
			next_expire = now + 100000u;
		}
	}
}

static int cgload_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted samples, in milliseconds. */
static double cgload_pct_ms(const uint32_t *s, size_t n, double p)
{
	size_t rank;
	if (n == 0)
		return 0.0;
	rank = (size_t)(p * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return s[rank - 1] / 1000.0;
}

static void cgload_report(struct cgload_run *run, double elapsed_s)
{
	const struct cgload_opts *o = run->o;
	const uint64_t *k = run->count;
	uint64_t denied = k[CGLOAD_DENIED_ALERT] + k[CGLOAD_DENIED_EOF];
	uint64_t errors = k[CGLOAD_ERR_CONNECT] + k[CGLOAD_ERR_HANDSHAKE] + k[CGLOAD_ERR_TIMEOUT] +
			  k[CGLOAD_ERR_PROTOCOL];
	double rate = elapsed_s > 0 ? (double)k[CGLOAD_ALLOWED] / elapsed_s : 0.0;
	double done_rate = elapsed_s > 0 ? (double)(k[CGLOAD_ALLOWED] + denied + k[CGLOAD_UNJUDGED]) / elapsed_s
					 : 0.0;
	double p50, p90, p99, pmax;
	struct rusage ru;
	double cpu_s = 0.0;
	const char *last_error = run->last_tls_error != 0 ? gnutls_strerror_name(run->last_tls_error)
				 : run->last_errno != 0 ? strerror(run->last_errno) : NULL;
	const char *last_alert = run->last_alert >= 0 ? gnutls_alert_get_strname(run->last_alert) : NULL;

	if (run->lat_n > 0)
		qsort(run->lat_us, run->lat_n, sizeof(run->lat_us[0]), cgload_cmp_u32);
	p50 = cgload_pct_ms(run->lat_us, run->lat_n, 0.50);
	p90 = cgload_pct_ms(run->lat_us, run->lat_n, 0.90);
	p99 = cgload_pct_ms(run->lat_us, run->lat_n, 0.99);
	pmax = run->lat_n > 0 ? run->lat_us[run->lat_n - 1] / 1000.0 : 0.0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
			ru.ru_stime.tv_usec / 1e6;

	if (o->json) {
		printf("{\"tls\":\"%s\",\"concurrency\":%llu,\"request\":%s,\"resume\":%s,"
		       "\"connections\":%llu,\"allowed\":%llu,\"denied\":%llu,\"denied_alert\":%llu,"
		       "\"denied_eof\":%llu,\"unjudged\":%llu,\"errors\":%llu,\"errors_connect\":%llu,"
		       "\"errors_handshake\":%llu,\"errors_timeout\":%llu,\"errors_protocol\":%llu,"
		       "\"resumed\":%llu,\"elapsed_s\":%.3f,\"allowed_per_s\":%.1f,\"completed_per_s\":%.1f,"
		       "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"client_cpu_s\":%.3f",
		       o->tls, (unsigned long long)o->concurrency, o->request ? "true" : "false",
		       o->resume ? "true" : "false", (unsigned long long)run->started,
		       (unsigned long long)k[CGLOAD_ALLOWED], (unsigned long long)denied,
		       (unsigned long long)k[CGLOAD_DENIED_ALERT], (unsigned long long)k[CGLOAD_DENIED_EOF],
		       (unsigned long long)k[CGLOAD_UNJUDGED], (unsigned long long)errors,
		       (unsigned long long)k[CGLOAD_ERR_CONNECT], (unsigned long long)k[CGLOAD_ERR_HANDSHAKE],
		       (unsigned long long)k[CGLOAD_ERR_TIMEOUT], (unsigned long long)k[CGLOAD_ERR_PROTOCOL],
		       (unsigned long long)run->resumed, elapsed_s, rate, done_rate, p50, p90, p99, pmax, cpu_s);
		/* both names are GnuTLS constants or strerror text: no quotes or backslashes */
		if (last_error != NULL)
			printf(",\"last_error\":\"%s\"", last_error);
		if (last_alert != NULL)
			printf(",\"last_alert\":\"%s\"", last_alert);
		if (run->group != NULL)
			printf(",\"group\":\"%s\"", run->group);
		if (run->cipher != NULL)
			printf(",\"cipher\":\"%s\"", run->cipher);
		printf("}\n");
	} else {
		printf("cgload: %llu connections in %.2f s (TLS %s, concurrency %llu): %llu allowed, "
		       "%llu denied, %llu unjudged, %llu errors; %.1f allowed/s; "
		       "latency p50 %.2f ms p90 %.2f ms p99 %.2f ms; client cpu %.2f s",
		       (unsigned long long)run->started, elapsed_s, o->tls, (unsigned long long)o->concurrency,
		       (unsigned long long)k[CGLOAD_ALLOWED], (unsigned long long)denied,
		       (unsigned long long)k[CGLOAD_UNJUDGED], (unsigned long long)errors, rate, p50, p90, p99,
		       cpu_s);
		if (o->resume)
			printf("; %llu resumed", (unsigned long long)run->resumed);
		if (last_error != NULL)
			printf("; last error %s", last_error);
		if (last_alert != NULL)
			printf("; last alert %s", last_alert);
		printf("\n");
	}
}

static void cgload_run_free(struct cgload_run *run)
{
	if (run->conns != NULL) {
		for (uint64_t i = 0; i < run->o->concurrency; i++) {
			struct cgload_conn *c = &run->conns[i];
			if (c->tls != NULL)
				gnutls_deinit(c->tls);
			if (c->state != CGLOAD_FREE && c->fd >= 0)
				close(c->fd);
		}
	}
	free(run->conns);
	free(run->free_slots);
	free(run->lat_us);
	gnutls_free(run->resume_data.data);
	if (run->prio != NULL)
		gnutls_priority_deinit(run->prio);
	if (run->cred != NULL)
		gnutls_certificate_free_credentials(run->cred);
	if (run->ep >= 0)
		close(run->ep);
}

int main(int argc, char **argv)
{
	struct cgload_opts o;
	struct cgload_run run;
	uint64_t t0;
	int rc = 2;

	memset(&run, 0, sizeof(run));
	run.ep = -1;
	run.o = &o;
	run.last_alert = -1;
	if (cgload_parse_args(argc, argv, &o) != CG_OK)
		return 2;
	if (cgload_loopback_addr(o.host, o.port, &run.addr, &run.addr_len) != CG_OK) {
		fprintf(stderr, "cgload: refusing --host %s: only 127.0.0.0/8, ::1 or localhost\n", o.host);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (cgload_fd_limit(o.concurrency) != CG_OK) {
		fprintf(stderr, "cgload: cannot raise the open-files limit for %llu connections\n",
			(unsigned long long)o.concurrency);
		return 2;
	}
	if (gnutls_global_init() < 0) {
		fprintf(stderr, "cgload: gnutls_global_init failed\n");
		return 2;
	}
	if (cgload_tls_setup(&run) != CG_OK)
		goto out;
	run.conns = calloc(o.concurrency, sizeof(*run.conns));
	run.free_slots = calloc(o.concurrency, sizeof(*run.free_slots));
	if (run.conns == NULL || run.free_slots == NULL) {
		fprintf(stderr, "cgload: out of memory\n");
		goto out;
	}
	for (uint64_t i = 0; i < o.concurrency; i++) {
		run.conns[i].fd = -1;
		run.free_slots[run.n_free++] = (uint32_t)(o.concurrency - 1 - i);
	}
	run.ep = epoll_create1(EPOLL_CLOEXEC);
	if (run.ep < 0) {
		perror("cgload: epoll_create1");
		goto out;
	}
	t0 = cg_mono_us();
	cgload_loop(&run, t0);
	cgload_report(&run, (double)(cg_mono_us() - t0) / 1e6);
	fflush(stdout);
	rc = run.count[CGLOAD_ERR_CONNECT] + run.count[CGLOAD_ERR_HANDSHAKE] + run.count[CGLOAD_ERR_TIMEOUT] +
			     run.count[CGLOAD_ERR_PROTOCOL] > 0 ? 1 : 0;
out:
	cgload_run_free(&run);
	gnutls_global_deinit();
	return rc;
}
