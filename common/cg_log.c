/* Logging to stderr (one write per line, RFC 3339 timestamp, level) or syslog. */
#include "cg_log.h"
#include "cg_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

static enum cg_log_level g_min = CG_LOG_INFO;
static bool g_syslog;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void cg_log_init(enum cg_log_level min, bool use_syslog)
{
	g_min = min;
	g_syslog = use_syslog;
	if (use_syslog)
		openlog("certgate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int cg_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

enum cg_log_level cg_log_get_level(void)
{
	return g_min;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void cg_log(enum cg_log_level lvl, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (lvl > g_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
		syslog(prio[lvl], "%s", msg);
		return;
	}
	char ts[40], line[2200];
	cg_time_format_us(cg_wall_us(), ts, sizeof(ts));
	int n = snprintf(line, sizeof(line), "%s certgate[%d] %s: %s\n", ts, (int)getpid(),
			 level_names[lvl], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	write_all(STDERR_FILENO, line, (size_t)n);
}

void cg_log_raw_line(const char *line)
{
	if (g_syslog) {
		syslog(LOG_INFO, "%s", line);
		return;
	}
	size_t n = strlen(line);
	char stackbuf[8192];
	if (n + 1 <= sizeof(stackbuf)) {
		memcpy(stackbuf, line, n);
		stackbuf[n] = '\n';
		write_all(STDERR_FILENO, stackbuf, n + 1);
	} else {
		/* long lines: two writes; stderr lines may interleave, acceptable for debug output */
		write_all(STDERR_FILENO, line, n);
		write_all(STDERR_FILENO, "\n", 1);
	}
}
