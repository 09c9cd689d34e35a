/* metrics.c - histogram buckets and Prometheus text exposition */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const int status_codes[ST_COUNT] = {
	200, 400, 403, 404, 405, 408, 413, 414, 429, 431, 500, 501, 503, 505,
};

/* upper bounds in nanoseconds, and as Prometheus "le" labels */
static const uint64_t lat_bound_ns[LAT_BUCKETS] = {
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
	1000000000, 2500000000ULL,
};
static const char *const lat_le[LAT_BUCKETS] = {
	"0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
};

static const char *const timeout_names[TO_COUNT] = { "header", "idle", "write", "linger" };
static const char *const accept_err_names[AE_COUNT] = {
	"EMFILE", "ENFILE", "ENOBUFS", "ENOMEM", "other",
};

int metrics_status_idx(int status)
{
	int i;

	for (i = 0; i < ST_COUNT; i++)
		if (status_codes[i] == status)
			return i;
	return ST_500;
}

int metrics_status_code(int idx) { return status_codes[idx]; }

void metrics_observe(struct metrics *m, uint64_t ns, uint64_t n)
{
	int b = 0;

	while (b < LAT_BUCKETS && ns > lat_bound_ns[b])
		b++;
	METRIC_ADD(m->lat[b], n);
	METRIC_ADD(m->lat_sum_ns, ns * n);
}

struct out {
	char *buf;
	size_t cap, len;
	int full;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (o->full)
		return;
	va_start(ap, fmt);
	w = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= o->cap - o->len) {
		o->full = 1;
		return;
	}
	o->len += (size_t)w;
}

#define SUM(expr) ({ uint64_t _s = 0; for (w = 0; w < n; w++) _s += METRIC_GET(all[w]->expr); _s; })

int metrics_render(char *buf, size_t cap, struct metrics *const *all, int n,
		   const char *const *routes, int nroutes)
{
	struct out o = { .buf = buf, .cap = cap };
	uint64_t v, cum = 0, accepted, closed;
	int r, s, b, w;

	put(&o, "# HELP qps_requests_total HTTP requests answered, by route and status.\n"
		"# TYPE qps_requests_total counter\n");
	for (r = 0; r < nroutes && r < METRICS_ROUTES; r++)
		for (s = 0; s < ST_COUNT; s++) {
			v = SUM(requests[r][s]);
			/* always list the 200s of real routes so rates start at 0 */
			if (v || (s == ST_200 && r != nroutes - 1))
				put(&o, "qps_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
				    routes[r], status_codes[s], (unsigned long long)v);
		}
	put(&o, "# HELP qps_request_duration_seconds Time from the readiness event to the response written.\n"
		"# TYPE qps_request_duration_seconds histogram\n");
	for (b = 0; b < LAT_BUCKETS; b++) {
		cum += SUM(lat[b]);
		put(&o, "qps_request_duration_seconds_bucket{le=\"%s\"} %llu\n", lat_le[b],
		    (unsigned long long)cum);
	}
	cum += SUM(lat[LAT_BUCKETS]);
	put(&o, "qps_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	v = SUM(lat_sum_ns);
	put(&o, "qps_request_duration_seconds_sum %llu.%09llu\n",
	    (unsigned long long)(v / 1000000000), (unsigned long long)(v % 1000000000));
	put(&o, "qps_request_duration_seconds_count %llu\n", (unsigned long long)cum);

	accepted = SUM(accepted);
	closed = SUM(closed);
	put(&o, "# HELP qps_connections_open Connections open now.\n"
		"# TYPE qps_connections_open gauge\n"
		"qps_connections_open %llu\n",
	    (unsigned long long)(accepted >= closed ? accepted - closed : 0));
	put(&o, "# HELP qps_connections_accepted_total Connections accepted.\n"
		"# TYPE qps_connections_accepted_total counter\n"
		"qps_connections_accepted_total %llu\n", (unsigned long long)accepted);
	put(&o, "# HELP qps_connections_closed_total Connections closed.\n"
		"# TYPE qps_connections_closed_total counter\n"
		"qps_connections_closed_total %llu\n", (unsigned long long)closed);
	put(&o, "# HELP qps_accept_errors_total accept4() failures, by errno.\n"
		"# TYPE qps_accept_errors_total counter\n");
	for (s = 0; s < AE_COUNT; s++)
		put(&o, "qps_accept_errors_total{errno=\"%s\"} %llu\n", accept_err_names[s],
		    (unsigned long long)SUM(accept_errors[s]));
	put(&o, "# HELP qps_accept_paused_total Times a listener stopped accepting for a while (shedding load).\n"
		"# TYPE qps_accept_paused_total counter\n"
		"qps_accept_paused_total{reason=\"fd_exhausted\"} %llu\n"
		"qps_accept_paused_total{reason=\"max_conns\"} %llu\n",
	    (unsigned long long)SUM(accept_paused_fd), (unsigned long long)SUM(accept_paused_max));
	put(&o, "# HELP qps_timeouts_total Connections closed by a timeout, by kind.\n"
		"# TYPE qps_timeouts_total counter\n");
	for (s = 0; s < TO_COUNT; s++)
		put(&o, "qps_timeouts_total{kind=\"%s\"} %llu\n", timeout_names[s],
		    (unsigned long long)SUM(timeouts[s]));
	put(&o, "# HELP qps_bad_requests_total Connections closed because the request stream was malformed.\n"
		"# TYPE qps_bad_requests_total counter\n"
		"qps_bad_requests_total %llu\n", (unsigned long long)SUM(bad_requests));
	put(&o, "# HELP qps_received_bytes_total Bytes read from clients.\n"
		"# TYPE qps_received_bytes_total counter\n"
		"qps_received_bytes_total %llu\n", (unsigned long long)SUM(bytes_in));
	put(&o, "# HELP qps_sent_bytes_total Bytes written to clients (headers, bodies, files).\n"
		"# TYPE qps_sent_bytes_total counter\n"
		"qps_sent_bytes_total %llu\n", (unsigned long long)SUM(bytes_out));
	return o.full ? -ENOSPC : (int)o.len;
}
