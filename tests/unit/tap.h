/* tap.h - minimal TAP output for the C unit tests. */
#ifndef QPS_TAP_H
#define QPS_TAP_H
#include <stdio.h>
#include <stdarg.h>

static int tap_n, tap_failed;

static inline void tap_plan(int n) { printf("1..%d\n", n); }
/* Returns @cond so callers can add diagnostics on failure. */
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}
#define tap_diag(...) (printf("# " __VA_ARGS__), putchar('\n'))
/* Prints the plan if none was given; returns the process exit status. */
static inline int tap_done(int planned)
{
	if (!planned)
		printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
#endif
