/* Logging: levels, RFC 3339 timestamps, stderr or syslog. Thread-safe: one
 * write(2) per line. Never pass secrets or key material to these functions. */
#ifndef CG_LOG_H
#define CG_LOG_H

#include <stdbool.h>

enum cg_log_level { CG_LOG_ERROR = 0, CG_LOG_WARN, CG_LOG_INFO, CG_LOG_DEBUG };

/* Choose the minimum level and the sink (syslog when use_syslog, else stderr). */
void cg_log_init(enum cg_log_level min, bool use_syslog);
/* Parse "error", "warn", "info" or "debug"; returns -1 for anything else. */
int cg_log_level_parse(const char *s);
enum cg_log_level cg_log_get_level(void);

void cg_log(enum cg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write one line verbatim (an event JSON line) to the log sink, no prefix. */
void cg_log_raw_line(const char *line);

#define cg_err_log(...)   cg_log(CG_LOG_ERROR, __VA_ARGS__)
#define cg_warn(...)      cg_log(CG_LOG_WARN, __VA_ARGS__)
#define cg_info(...)      cg_log(CG_LOG_INFO, __VA_ARGS__)
#define cg_debug(...)     do { if (cg_log_get_level() >= CG_LOG_DEBUG) cg_log(CG_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
