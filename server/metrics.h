/* metrics.h - per-worker counters and their Prometheus text rendering.
 * Each worker owns one struct metrics and is its only writer (METRIC_ADD: a
 * relaxed load+store, no lock prefix on the hot path); /metrics sums all
 * workers with relaxed loads, so totals are exact once the writers are quiet
 * and at most a few requests stale under load. */
#ifndef QPS_METRICS_H
#define QPS_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* routes counted (rows of route.c's table; the last one is the catch-all) */
#define METRICS_ROUTES 16

/* statuses we ever send, as indexes */
enum status_idx {
	ST_200, ST_400, ST_403, ST_404, ST_405, ST_408, ST_413, ST_414, ST_429, ST_431,
	ST_500, ST_501, ST_503, ST_505, ST_COUNT,
};

enum timeout_kind { TO_HEADER, TO_IDLE, TO_WRITE, TO_LINGER, TO_COUNT };

enum accept_err { AE_EMFILE, AE_ENFILE, AE_ENOBUFS, AE_ENOMEM, AE_OTHER, AE_COUNT };

#define LAT_BUCKETS 16		/* finite buckets; one more for +Inf */

struct metrics {
	uint64_t requests[METRICS_ROUTES][ST_COUNT];	/* [route row][status] */
	uint64_t lat[LAT_BUCKETS + 1];	/* per bucket, not cumulative */
	uint64_t lat_sum_ns;		/* nanoseconds */
	uint64_t accepted, closed;
	uint64_t accept_errors[AE_COUNT];
	uint64_t accept_paused_fd;	/* pauses for fd exhaustion */
	uint64_t accept_paused_max;	/* pauses for --max-conns */
	uint64_t timeouts[TO_COUNT];
	uint64_t bytes_in, bytes_out;	/* bytes read / written, incl. files */
	uint64_t bad_requests;		/* streams closed for malformed input */
} __attribute__((aligned(64)));

#define METRIC_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define METRIC_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Index of @status in enum status_idx (ST_500 for one we do not know). */
int metrics_status_idx(int status);
int metrics_status_code(int idx);
/* Counts @n requests that took @ns nanoseconds each in the histogram. */
void metrics_observe(struct metrics *m, uint64_t ns, uint64_t n);
/* Renders the sum of @n workers' counters as Prometheus text into @buf.
 * @routes: the route labels, @nroutes of them (at most METRICS_ROUTES), the
 * last being the catch-all (its 200 line is not listed when 0). Returns the
 * length, or -ENOSPC if @cap is too small (the output is then truncated). */
int metrics_render(char *buf, size_t cap, struct metrics *const *all, int n,
		   const char *const *routes, int nroutes);
#endif
