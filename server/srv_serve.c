/* `certgate serve`: runtime, workers, directory pool, signals. */
#include "server/srv_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cg_log.h"
#include "common/cg_time.h"
#include "api/api_http.h"
#include "server/srv_api.h"
#include "server/srv_event.h"
#include "server/srv_runtime.h"
#include "server/srv_worker.h"
#include "ldap/dir_sync.h"

#define SRV_MAX_WORKERS 256

static pthread_mutex_t g_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *g_config_path;
static struct api_hooks g_hooks;
static struct api_http *g_http;
static struct srv_worker *g_workers;        /* woken after a reload */
static unsigned g_n_workers;
static struct dir_cache *g_cache;
static struct dir_sync *g_sync;             /* follows the current runtime's directory */
static struct srv_runtime *g_sync_rt;       /* the runtime g_sync borrows its settings from */

/* (Re)start sync for rt's directory; the old one stops first. */
static void sync_follow(struct srv_runtime *rt)
{
	if (g_sync != NULL) {
		dir_sync_stop(g_sync);
		g_sync = NULL;
	}
	srv_runtime_unref(g_sync_rt);
	g_sync_rt = NULL;
	if (rt == NULL || g_cache == NULL || !dir_cache_enabled(g_cache) || !rt->has_directory || !rt->cfg->cache_sync)
		return;
	if (dir_sync_start(&rt->cfg->dir, g_cache, &g_sync) != CG_OK) {
		cg_err_log("could not start directory sync: cached decisions are not served fresh");
		g_sync = NULL;
		return;
	}
	g_sync_rt = srv_runtime_ref(rt);
}

enum cg_err srv_serve_reload(uint64_t *generation, struct cg_buf *errors)
{
	struct srv_runtime *rt = NULL;
	pthread_mutex_lock(&g_reload_lock);
	atomic_store(&srv_api.reloading, true);
	struct srv_runtime *cur = srv_runtime_current();
	uint64_t gen = cur != NULL ? cur->generation + 1 : 1;
	enum cg_err r = srv_runtime_build(g_config_path, gen, &rt, errors);
	if (r == CG_OK) {
		bool same_listen = cur != NULL && cur->cfg->n_listen == rt->cfg->n_listen;
		for (size_t i = 0; same_listen && i < rt->cfg->n_listen; i++)
			same_listen = strcmp(cur->cfg->listen[i].text, rt->cfg->listen[i].text) == 0;
		if (!same_listen)
			cg_warn("reload: listen addresses changed; they take effect at the next restart");
		if (cur != NULL && rt->cfg->dir.present && !cur->cfg->dir.present)
			cg_warn("reload: a [directory] added by reload needs a restart to start the pool");
		if (cur != NULL && (cur->cfg->cache_ttl_ms != rt->cfg->cache_ttl_ms ||
				    cur->cfg->cache_max_entries != rt->cfg->cache_max_entries ||
				    cur->cfg->cache_sync != rt->cfg->cache_sync))
			cg_warn("reload: [cache] ttl, max_entries and sync take effect at the next restart");
		srv_runtime_install(srv_runtime_ref(rt));
		sync_follow(rt);
		srv_runtime_unref(rt);
		srv_api.last_reload = time(NULL);
		*generation = gen;
		for (unsigned i = 0; i < g_n_workers; i++)
			srv_worker_wake(&g_workers[i]);  /* they re-check open connections */
	}
	srv_runtime_unref(cur);
	atomic_store(&srv_api.reloading, false);
	pthread_mutex_unlock(&g_reload_lock);
	return r;
}

static void log_errors(const char *prefix, const struct cg_buf *errors)
{
	const char *p = errors->data ? errors->data : "";
	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		cg_err_log("%s%.*s", prefix, len, p);
		p += len + (nl ? 1 : 0);
	}
}

static enum cg_err write_pidfile(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (f == NULL)
		return CG_ERR_IO;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return CG_ERR_IO;
	return CG_OK;
}

static enum cg_err drop_privileges(const char *user)
{
	if (user == NULL || geteuid() != 0)
		return CG_OK;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		cg_err_log("[server] user: no such user '%s'", user);
		return CG_ERR_CONFIG;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		cg_err_log("dropping privileges to %s: %s", user, strerror(errno));
		return CG_ERR_IO;
	}
	return CG_OK;
}

int srv_serve_main(const char *config_path, const char *pidfile)
{
	struct srv_runtime *rt = NULL;
	struct cg_buf errors;
	struct srv_shared shared = { 0 };
	struct srv_worker *workers = NULL;
	unsigned n_workers = 0, started = 0;
	int exit_code = 1;
	char err[512];
	sigset_t set;

	g_config_path = config_path;
	cg_buf_init(&errors, 64 * 1024);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);  /* every thread inherits the mask */
	signal(SIGPIPE, SIG_IGN);

	if (srv_runtime_ticket_key_init() != CG_OK) {
		cg_err_log("could not make a session ticket key");
		goto out;
	}
	if (srv_runtime_build(config_path, 1, &rt, &errors) != CG_OK) {
		log_errors("", &errors);
		goto out;
	}
	srv_runtime_install(srv_runtime_ref(rt));
	atomic_init(&shared.active, 0);
	atomic_init(&shared.stopping, false);
	if (rt->has_directory) {
		if (dir_pool_start(rt->cfg->dir.pool_size, &shared.pool) != CG_OK) {
			cg_err_log("could not start the directory pool");
			goto out;
		}
		const struct srv_config *c = rt->cfg;
		struct dir_cache_config cc = {
			.ttl_ms = c->cache_ttl_ms, .negative_ttl_ms = c->cache_negative_ttl_ms,
			.stale_ttl_ms = c->cache_stale_ttl_ms, .max_entries = c->cache_max_entries, .sync = c->cache_sync,
		};
		if (dir_cache_create(&cc, &g_cache) != CG_OK) {
			cg_err_log("could not create the decision cache");
			goto out;
		}
		shared.cache = g_cache;
		srv_api.cache = g_cache;
		if (dir_cache_enabled(g_cache) && !c->cache_sync)
			cg_warn("[cache] sync = off: a certificate removed from its entry stays allowed for up to ttl");
		sync_follow(rt);
	} else {
		cg_warn("no [directory] section: a verified chain is the whole decision");
	}
	n_workers = rt->cfg->workers;
	if (n_workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		n_workers = n > 0 ? (unsigned)n : 1;
	}
	if (n_workers > SRV_MAX_WORKERS)
		n_workers = SRV_MAX_WORKERS;
	srv_api.pool = shared.pool;
	srv_api.started_mono_ms = cg_mono_ms();
	srv_api.last_reload = time(NULL);
	srv_api.stats = api_stats_create(n_workers);
	if (srv_api.stats == NULL)
		goto out;
	static const enum api_fsync fsync_modes[] = {
		[SRV_FSYNC_ALWAYS] = API_FSYNC_ALWAYS, [SRV_FSYNC_INTERVAL] = API_FSYNC_INTERVAL,
		[SRV_FSYNC_NEVER] = API_FSYNC_NEVER,
	};
	if (api_journal_create(rt->cfg->events_buffer, rt->cfg->audit_log, fsync_modes[rt->cfg->events_fsync],
			       &srv_api.journal, err, sizeof(err)) != CG_OK) {
		cg_err_log("%s: [events] %s", config_path, err);
		goto out;
	}
	srv_event_set_journal(srv_api.journal);
	if (rt->cfg->has_admin) {
		const struct srv_addr *a = &rt->cfg->admin_listen;
		srv_api_hooks_init(&g_hooks);
		if (api_http_start(a->host, a->port, rt->cfg->admin_token, &g_hooks, srv_api.journal, srv_api.stats,
				   &g_http, err, sizeof(err)) != CG_OK) {
			cg_err_log("[admin] listen %s: %s", a->text, err);
			goto out;
		}
		cg_info("admin API on %s", a->text);
	}
	workers = calloc(n_workers, sizeof(*workers));
	if (workers == NULL)
		goto out;
	for (unsigned i = 0; i < n_workers; i++) {
		if (srv_worker_init(&workers[i], i, &shared, rt, err, sizeof(err)) != CG_OK) {
			cg_err_log("%s", err);
			n_workers = i + 1;
			goto stop;
		}
		workers[i].stats = api_stats_worker(srv_api.stats, i);
		workers[i].audit_always = rt->cfg->audit_log != NULL && rt->cfg->events_fsync == SRV_FSYNC_ALWAYS;
	}
	/* the pidfile is written while we may still write where root can */
	if (pidfile != NULL && write_pidfile(pidfile) != CG_OK) {
		cg_err_log("--pidfile %s: %s", pidfile, strerror(errno));
		goto stop;
	}
	if (drop_privileges(rt->cfg->user) != CG_OK)
		goto stop;
	g_workers = workers;
	for (; started < n_workers; started++)
		if (srv_worker_start(&workers[started]) != CG_OK)
			goto stop;
	pthread_mutex_lock(&g_reload_lock);
	g_n_workers = started;
	pthread_mutex_unlock(&g_reload_lock);
	for (size_t i = 0; i < rt->cfg->n_listen; i++)
		cg_info("listening on %s (%u workers)", rt->cfg->listen[i].text, n_workers);

	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			uint64_t gen = 0;
			cg_buf_reset(&errors);
			if (srv_serve_reload(&gen, &errors) == CG_OK) {
				cg_info("reloaded %s: generation %llu", config_path, (unsigned long long)gen);
				for (unsigned i = 0; i < started; i++)
					srv_worker_wake(&workers[i]);
			} else {
				cg_err_log("reload failed, keeping the running configuration:");
				log_errors("reload: ", &errors);
			}
		} else if (sig == SIGUSR1) {
			cg_info("SIGUSR1: reopening the audit log");
			api_journal_reopen(srv_api.journal);
		} else {
			cg_info("%s: stopping; open connections get %llu ms", sig == SIGTERM ? "SIGTERM" : "SIGINT",
				(unsigned long long)rt->cfg->shutdown_grace_ms);
			exit_code = 0;
			break;
		}
	}
stop:
	shared.stop_deadline_ms = cg_mono_ms() + rt->cfg->shutdown_grace_ms;
	atomic_store(&srv_api.stopping, true);
	atomic_store(&shared.stopping, true);
	for (unsigned i = 0; i < started; i++)
		srv_worker_wake(&workers[i]);
	for (unsigned i = 0; i < started; i++)
		srv_worker_join(&workers[i]);
	pthread_mutex_lock(&g_reload_lock);  /* no reload wakes workers from here on */
	g_n_workers = 0;
	pthread_mutex_unlock(&g_reload_lock);
	api_http_stop(g_http);
	g_http = NULL;
	/* jobs still queued come back as directory_unavailable; the workers' leftovers are
	 * handed around (a lookup's followers live on other workers) until none is left */
	if (shared.pool != NULL)
		dir_pool_stop(shared.pool);
	shared.pool = NULL;
	srv_workers_drain(workers, n_workers);
	sync_follow(NULL);
	dir_cache_free(g_cache);  /* followers still queued get directory_unavailable */
	g_cache = shared.cache = srv_api.cache = NULL;
	srv_workers_drain(workers, n_workers);
	/* the journal answers pending durable callbacks; workers then free those connections */
	srv_event_set_journal(NULL);
	api_journal_destroy(srv_api.journal);
	srv_api.journal = NULL;
	srv_workers_drain(workers, n_workers);
	for (unsigned i = 0; i < n_workers; i++)
		srv_worker_destroy(&workers[i]);
	if (pidfile != NULL)
		unlink(pidfile);
out:
	api_http_stop(g_http);
	g_http = NULL;
	srv_event_set_journal(NULL);
	api_journal_destroy(srv_api.journal);
	srv_api.journal = NULL;
	if (shared.pool != NULL)
		dir_pool_stop(shared.pool);
	sync_follow(NULL);
	dir_cache_free(g_cache);
	g_cache = srv_api.cache = NULL;
	api_stats_free(srv_api.stats);
	srv_api.stats = NULL;
	free(workers);
	srv_runtime_unref(rt);
	srv_runtime_install(NULL);
	srv_runtime_ticket_key_free();
	cg_buf_free(&errors);
	return exit_code;
}
