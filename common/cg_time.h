/* Clocks: a monotonic microsecond clock for offsets and deadlines, and the
 * wall clock in the event format "2026-12-04T19:30:00.123456Z". */
#ifndef CG_TIME_H
#define CG_TIME_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

uint64_t cg_mono_us(void);
uint64_t cg_mono_ms(void);
/* Wall clock in microseconds since the epoch. */
uint64_t cg_wall_us(void);
/* Format us (microseconds since the epoch) as RFC 3339 UTC with microseconds.
 * buf must hold at least 28 bytes. Returns buf. */
char *cg_time_format_us(uint64_t us, char *buf, size_t len);
/* Format seconds since the epoch as RFC 3339 UTC "2026-12-04T19:30:00Z".
 * buf must hold at least 21 bytes. Returns buf. */
char *cg_time_format_s(time_t t, char *buf, size_t len);

#endif
