/*
 * qps-load - the demo's HTTP/1.1 load generator: one thread, epoll, non-blocking.
 *
 * Two groups of clients, all on one event loop:
 *   active  --conns N closed-loop clients: each sends its next request as soon as
 *           the previous one finished, over one keep-alive connection or
 *           (--new-conn) a fresh connection per request;
 *   burst   --burst M clients that all connect at the same instant at start,
 *           then stay connected (keep-alive) and send one request every
 *           --burst-interval ms - the "many concurrent clients" of a C10K host.
 *           A burst client whose attempt failed tries again at its next tick.
 *
 * Per connection slot (struct client):
 *
 *   OFF --start_request--> CONNECTING --SO_ERROR 0--> SENDING --sent--> READING
 *    ^                          |  (reused keep-alive connection: straight to SENDING)
 *    |                          v                                         |
 *    +--error/deadline: count kind, close-- (any state) <-----------------+
 *   READING --complete--> keep-alive: next request (active) or THINK (burst)
 *                       --complete, close: DRAINING (wait for the server's FIN so
 *                         TIME-WAIT lands on the server, not on our ports) --> OFF
 *   THINK --tick--> start_request;  THINK --EOF--> OFF (server closed an idle
 *                                                       connection: not an error)
 *
 * Everything is bounded: --duration (at most 3600 s) always applies, -n stops
 * earlier; requests still in flight at the end are abandoned, not counted as
 * errors (as wrk does). No allocation after start-up: slots, buffers and the
 * latency histogram are sized once.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#define RBUF_SIZE	4096	/* response headers must fit; bodies are streamed */
#define MAX_CONNS	100000	/* active + burst slots */
#define MAX_DURATION	3600.0	/* seconds */
#define DRAIN_NS	(1000 * 1000000LL)	/* wait this long for the server's FIN */
#define SCAN_NS		(5 * 1000000LL)	/* deadline scan period */

/* Latency histogram: log-linear, 16 sub-buckets per power of two (<= 6 % error),
 * values in microseconds up to 2^40. */
#define H_SUB_BITS	4
#define H_SUB		(1 << H_SUB_BITS)
#define H_BUCKETS	(H_SUB + (40 - H_SUB_BITS) * H_SUB)

enum err_kind {
	E_CONNECT_REFUSED,	/* RST answered our SYN: nobody listening */
	E_CONNECT_TIMEOUT,	/* handshake not done within --connect-timeout */
	E_CONNECT_OTHER,	/* other connect errno (EADDRNOTAVAIL, ...) */
	E_RESET,		/* RST/EPIPE on an established connection, before the full response */
	E_CLOSED,		/* EOF before the full response */
	E_READ_TIMEOUT,		/* response not complete within --timeout */
	E_NON_2XX,		/* a complete response with a status outside 200-299 */
	E_BAD_RESPONSE,		/* unparsable, oversized headers, chunked */
	E_LOCAL,		/* our own socket() failed (EMFILE, ENOBUFS, ...) */
	E_NKINDS,
};

static const char *const err_names[E_NKINDS] = {
	"connect_refused", "connect_timeout", "connect_other", "reset", "closed",
	"read_timeout", "non_2xx", "bad_response", "local",
};

enum state { S_OFF, S_CONNECTING, S_SENDING, S_READING, S_THINK, S_DRAINING };

struct client {
	int fd;			/* -1 when closed */
	enum state state;
	bool burst;		/* burst client (ticks) or active (closed loop) */
	bool fresh;		/* connection opened for the current request */
	int64_t t_start;	/* request start (connect start when fresh), ns */
	int64_t deadline;	/* ns: connect/request/drain deadline, or next tick in THINK */
	size_t sent;		/* request bytes written */
	size_t rlen;		/* bytes in rbuf (headers phase) */
	bool hdr_done;
	bool body_to_eof;	/* no Content-Length: body ends at EOF */
	bool conn_close;	/* server will close after this response */
	int status;
	long long body_left;	/* body bytes still expected */
	char *rbuf;		/* RBUF_SIZE bytes, owned by the slot array */
};

static struct opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char target[128];	/* ADDR:PORT as given */
	const char *path;
	const char *host;
	int conns;
	int burst;
	int burst_interval_ms;	/* 0: one request, then hold the connection open */
	bool new_conn;
	double duration;	/* s */
	long long max_requests;	/* 0: no limit */
	int connect_timeout_ms;
	int timeout_ms;
	double progress;	/* s between progress lines on stderr; 0: none */
	bool json;
} o = {
	.path = "/plaintext", .conns = 16, .burst_interval_ms = 1000,
	.duration = 10, .connect_timeout_ms = 2000, .timeout_ms = 5000,
};

static struct stats {
	unsigned long long ok;		/* 2xx responses */
	unsigned long long started;	/* requests started */
	unsigned long long errors[E_NKINDS];
	unsigned long long opened;	/* connections attempted */
	unsigned long long idle_closed;	/* idle keep-alive connections closed by the server */
	unsigned long long bytes;	/* response bytes read */
	int open_now, open_peak;
	uint64_t hist[H_BUCKETS];
	uint64_t lat_max_us;
	long double lat_sum_us;
} st;

static char req_ka[512], req_close[512];
static size_t req_ka_len, req_close_len;
static struct client *clients;
static int nclients;
static int epfd = -1;
static volatile sig_atomic_t stop_signal;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int hist_index(uint64_t us)
{
	int e, idx;

	if (us < H_SUB)
		return (int)us;
	e = 63 - __builtin_clzll(us);			/* >= H_SUB_BITS */
	idx = H_SUB + (e - H_SUB_BITS) * H_SUB + (int)((us >> (e - H_SUB_BITS)) & (H_SUB - 1));
	return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

/* Midpoint of bucket @i in microseconds. */
static double hist_value(int i)
{
	int e, sub;
	double lo, width;

	if (i < H_SUB)
		return i;
	e = (i - H_SUB) / H_SUB + H_SUB_BITS;
	sub = (i - H_SUB) % H_SUB;
	width = (double)(1ULL << (e - H_SUB_BITS));
	lo = (double)(1ULL << e) + sub * width;
	return lo + width / 2;
}

/* Latency (ms) at quantile @q of the successful requests; 0 when none. */
static double hist_quantile(double q)
{
	uint64_t want, seen = 0;

	if (!st.ok)
		return 0;
	want = (uint64_t)(q * (double)st.ok + 0.5);
	if (want < 1)
		want = 1;
	for (int i = 0; i < H_BUCKETS; i++) {
		seen += st.hist[i];
		if (seen >= want) {
			double v = hist_value(i);

			return (v > (double)st.lat_max_us ? (double)st.lat_max_us : v) / 1000.0;
		}
	}
	return (double)st.lat_max_us / 1000.0;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0) {
		close(c->fd);	/* also removes it from the epoll set */
		c->fd = -1;
		st.open_now--;
	}
	c->state = S_OFF;
}

static bool budget_left(void)
{
	return !o.max_requests || st.started < (unsigned long long)o.max_requests;
}

static void schedule_next(struct client *c, int64_t now, bool failed);

static void fail(struct client *c, enum err_kind k, int64_t now)
{
	st.errors[k]++;
	client_close(c);
	schedule_next(c, now, true);
}

/* Opens a fresh non-blocking connection for @c. 0 or an error kind (the slot is closed). */
static int client_connect(struct client *c, int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	int fd, one = 1;

	fd = socket(o.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return E_LOCAL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	st.opened++;
	if (connect(fd, (struct sockaddr *)&o.addr, o.addrlen) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		return err == ECONNREFUSED ? E_CONNECT_REFUSED : E_CONNECT_OTHER;
	}
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return E_LOCAL;
	}
	c->fd = fd;
	c->fresh = true;
	c->state = S_CONNECTING;
	c->deadline = now + o.connect_timeout_ms * 1000000LL;
	if (++st.open_now > st.open_peak)
		st.open_peak = st.open_now;
	return 0;
}

static void on_event(struct client *c, uint32_t events, int64_t now);

/* Writes (the rest of) the request. Never reads: the response's arrival is an
 * EPOLLIN edge, so completion never recurses into the next request. */
static void send_request(struct client *c, int64_t now)
{
	const char *req = (o.new_conn && !c->burst) ? req_close : req_ka;
	size_t len = (o.new_conn && !c->burst) ? req_close_len : req_ka_len;

	while (c->sent < len) {
		ssize_t n = write(c->fd, req + c->sent, len - c->sent);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;		/* EPOLLOUT edge resumes */
			fail(c, E_RESET, now);
			return;
		}
		c->sent += (size_t)n;
	}
	c->state = S_READING;
}

/* Starts the next request on @c: reuses its keep-alive connection if it has one. */
static void start_request(struct client *c, int64_t now)
{
	int k;

	if (!budget_left()) {
		client_close(c);
		return;
	}
	st.started++;
	c->t_start = now;
	c->sent = 0;
	c->rlen = 0;
	c->hdr_done = false;
	c->body_to_eof = false;
	c->conn_close = false;
	c->status = 0;
	c->body_left = 0;
	if (c->fd >= 0) {
		c->fresh = false;
		c->state = S_SENDING;
		c->deadline = now + o.timeout_ms * 1000000LL;
		send_request(c, now);
		return;
	}
	k = client_connect(c, now);
	if (k)
		fail(c, (enum err_kind)k, now);
}

/* After a request ended: active clients go again at once (after a failure: at
 * the next deadline scan, so a refusing server is not spun on and nothing
 * recurses), burst clients at their next tick. */
static void schedule_next(struct client *c, int64_t now, bool failed)
{
	if (c->burst) {
		if (o.burst_interval_ms == 0 && c->fd >= 0) {
			c->state = S_THINK;	/* hold the connection open until the end */
			c->deadline = INT64_MAX;
			return;
		}
		if (o.burst_interval_ms == 0)
			return;			/* failed once: stays off */
		if (c->fd >= 0)
			c->state = S_THINK;
		else
			c->state = S_OFF;
		c->deadline = now + o.burst_interval_ms * 1000000LL;
		return;
	}
	if (c->state == S_DRAINING)
		return;
	if (failed) {
		c->state = S_OFF;
		c->deadline = now;
		return;
	}
	start_request(c, now);
}

static void record_ok(struct client *c, int64_t now)
{
	uint64_t us = (uint64_t)((now - c->t_start) / 1000);

	st.ok++;
	st.hist[hist_index(us)]++;
	st.lat_sum_us += us;
	if (us > st.lat_max_us)
		st.lat_max_us = us;
}

/* Parses the response headers in c->rbuf[0..hdr_len). 0 or an error kind. */
static int parse_headers(struct client *c, size_t hdr_len)
{
	const char *p = c->rbuf, *end = c->rbuf + hdr_len, *eol;
	bool http10, have_len = false, ka = false;

	if (hdr_len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return E_BAD_RESPONSE;
	http10 = p[7] == '0';
	if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9')
		return E_BAD_RESPONSE;
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	eol = memchr(p, '\n', (size_t)(end - p));
	while (eol && eol + 1 < end) {
		const char *line = eol + 1, *colon, *v;
		size_t n;

		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			break;
		n = (size_t)(eol - line);
		colon = memchr(line, ':', n);
		if (!colon)
			continue;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if ((size_t)(colon - line) == 14 && !strncasecmp(line, "Content-Length", 14)) {
			char *e;

			errno = 0;
			c->body_left = strtoll(v, &e, 10);
			if (errno || e == v || c->body_left < 0)
				return E_BAD_RESPONSE;
			have_len = true;
		} else if ((size_t)(colon - line) == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
			return E_BAD_RESPONSE;	/* chunked: not needed by the demo */
		} else if ((size_t)(colon - line) == 10 && !strncasecmp(line, "Connection", 10)) {
			if (!strncasecmp(v, "close", 5))
				c->conn_close = true;
			else if (!strncasecmp(v, "keep-alive", 10))
				ka = true;
		}
	}
	if (http10 && !ka)
		c->conn_close = true;
	if (!have_len && !(c->status == 204 || c->status == 304)) {
		c->body_to_eof = true;
		c->conn_close = true;
	}
	return 0;
}

static void response_done(struct client *c, int64_t now)
{
	if (c->status >= 200 && c->status < 300)
		record_ok(c, now);
	else
		st.errors[E_NON_2XX]++;
	if (c->conn_close || (o.new_conn && !c->burst)) {
		if (c->body_to_eof) {		/* the server already closed */
			client_close(c);
			schedule_next(c, now, false);
			return;
		}
		c->state = S_DRAINING;
		c->deadline = now + DRAIN_NS;
		on_event(c, EPOLLIN, now);	/* the FIN may already be here */
		return;
	}
	schedule_next(c, now, false);
}

/* Reads what is available in S_READING. */
static void do_read(struct client *c, int64_t now)
{
	for (;;) {
		size_t room;
		ssize_t n;
		int k;

		if (!c->hdr_done) {
			room = RBUF_SIZE - c->rlen;
			if (!room) {
				fail(c, E_BAD_RESPONSE, now);
				return;
			}
			n = read(c->fd, c->rbuf + c->rlen, room);
		} else {
			n = read(c->fd, c->rbuf, RBUF_SIZE);
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			fail(c, E_RESET, now);
			return;
		}
		if (n == 0) {
			if (c->hdr_done && c->body_to_eof) {
				response_done(c, now);
				return;
			}
			fail(c, E_CLOSED, now);
			return;
		}
		st.bytes += (unsigned long long)n;
		if (!c->hdr_done) {
			char *hend;
			size_t hlen, extra;

			c->rlen += (size_t)n;
			hend = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
			if (!hend)
				continue;
			hlen = (size_t)(hend - c->rbuf) + 4;
			k = parse_headers(c, hlen);
			if (k) {
				fail(c, (enum err_kind)k, now);
				return;
			}
			c->hdr_done = true;
			extra = c->rlen - hlen;
			if (!c->body_to_eof)
				c->body_left -= (long long)extra;
		} else if (!c->body_to_eof) {
			c->body_left -= n;
		}
		if (c->body_left < 0) {		/* bytes we did not ask for */
			fail(c, E_BAD_RESPONSE, now);
			return;
		}
		if (!c->body_to_eof && c->body_left == 0) {
			response_done(c, now);
			return;
		}
	}
}

static void on_event(struct client *c, uint32_t events, int64_t now)
{
	switch (c->state) {
	case S_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			fail(c, err == ECONNREFUSED ? E_CONNECT_REFUSED :
				err == ECONNRESET ? E_RESET :
				err == ETIMEDOUT ? E_CONNECT_TIMEOUT : E_CONNECT_OTHER, now);
			return;
		}
		c->state = S_SENDING;
		/* the request timeout starts once connected */
		c->deadline = now + o.timeout_ms * 1000000LL;
	}
		/* fall through */
	case S_SENDING:
		send_request(c, now);
		if (c->state != S_READING)
			return;
		/* fall through */
	case S_READING:
		do_read(c, now);
		return;
	case S_THINK:
	case S_DRAINING: {
		char buf[512];
		ssize_t n;

		for (;;) {
			n = read(c->fd, buf, sizeof(buf));
			if (n > 0)
				continue;	/* stray bytes: ignore */
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			break;
		}
		/* EOF or error: the server closed */
		if (c->state == S_THINK)
			st.idle_closed++;
		{
			bool draining = c->state == S_DRAINING;

			client_close(c);
			if (draining)
				schedule_next(c, now, false);
		}
		return;
	}
	case S_OFF:
		return;
	}
}

static void check_deadlines(int64_t now)
{
	for (int i = 0; i < nclients; i++) {
		struct client *c = &clients[i];

		if (now < c->deadline)
			continue;
		switch (c->state) {
		case S_CONNECTING:
			fail(c, E_CONNECT_TIMEOUT, now);
			break;
		case S_SENDING:
		case S_READING:
			fail(c, E_READ_TIMEOUT, now);
			break;
		case S_DRAINING:
			client_close(c);
			schedule_next(c, now, false);
			break;
		case S_THINK:
		case S_OFF:
			c->deadline = INT64_MAX;
			if (!c->burst || o.burst_interval_ms > 0)
				start_request(c, now);
			break;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: qps-load [options] ADDR:PORT\n"
"HTTP/1.1 load generator (epoll, one thread). ADDR is a numeric IPv4/IPv6 address.\n"
"  -c, --conns N              closed-loop clients (default 16)\n"
"  -N, --new-conn             a new connection per request (default: keep-alive)\n"
"  -d, --duration S           run for S seconds (default 10, at most 3600)\n"
"  -n, --requests N           stop after N requests were started\n"
"  -b, --burst M              M more clients that connect all at once at start,\n"
"                             then send one request per --burst-interval (keep-alive)\n"
"      --burst-interval MS    burst clients' request period (default 1000; 0: one\n"
"                             request, then hold the connection open)\n"
"      --connect-timeout MS   handshake deadline (default 2000)\n"
"  -t, --timeout MS           response deadline once connected (default 5000)\n"
"  -p, --path PATH            request path (default /plaintext)\n"
"  -H, --host HOST            Host header (default: ADDR:PORT)\n"
"  -P, --progress S           a progress line on stderr every S seconds\n"
"  -j, --json                 one JSON document (schema qps-load/1) on stdout\n"
"  -h, --help\n"
"Exit: 0 done (errors are reported, not fatal), 1 failure, 2 usage error.\n");
}

static int parse_target(const char *s)
{
	char host[128];
	const char *colon, *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	size_t hl;

	if (!strncmp(s, "http://", 7))
		s += 7;
	snprintf(o.target, sizeof(o.target), "%s", s);
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	{
		char *slash = strchr(o.target, '/');

		if (slash)
			*slash = '\0';
	}
	{
		char portbuf[16];
		size_t pl = strcspn(port, "/");

		if (!pl || pl >= sizeof(portbuf))
			return -1;
		memcpy(portbuf, port, pl);
		portbuf[pl] = '\0';
		if (getaddrinfo(host, portbuf, &hints, &res) || !res)
			return -1;
	}
	memcpy(&o.addr, res->ai_addr, res->ai_addrlen);
	o.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (errno || e == s || *e || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void report_text(double elapsed)
{
	unsigned long long errs = 0;

	for (int i = 0; i < E_NKINDS; i++)
		errs += st.errors[i];
	printf("target      %s %s, %.1f s, %d clients (%s)", o.target, o.path, elapsed, o.conns,
	       o.new_conn ? "new connection per request" : "keep-alive");
	if (o.burst)
		printf(" + burst of %d (keep-alive, 1 request / %d ms)", o.burst, o.burst_interval_ms);
	printf("\nrequests    %llu ok, %.1f req/s\n", st.ok, elapsed > 0 ? st.ok / elapsed : 0);
	printf("latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       hist_quantile(0.50), hist_quantile(0.90), hist_quantile(0.99),
	       st.lat_max_us / 1000.0);
	printf("errors      %llu", errs);
	if (errs) {
		const char *sep = " (";

		for (int i = 0; i < E_NKINDS; i++) {
			if (!st.errors[i])
				continue;
			printf("%s%s %llu", sep, err_names[i], st.errors[i]);
			sep = ", ";
		}
		printf(")");
	}
	printf("\nconnections %llu opened, peak %d open, %llu idle ones closed by the server\n",
	       st.opened, st.open_peak, st.idle_closed);
}

static void report_json(double elapsed)
{
	struct json j;
	unsigned long long errs = 0;

	for (int i = 0; i < E_NKINDS; i++)
		errs += st.errors[i];
	json_init(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "schema", "qps-load/1");
	json_str(&j, "target", o.target);
	json_str(&j, "path", o.path);
	json_str(&j, "mode", o.new_conn ? "new-conn" : "keep-alive");
	json_int(&j, "conns", o.conns);
	json_int(&j, "burst", o.burst);
	json_int(&j, "burst_interval_ms", o.burst_interval_ms);
	json_double(&j, "duration_s", elapsed);
	json_uint(&j, "requests", st.ok);
	json_uint(&j, "started", st.started);
	json_double(&j, "rps", elapsed > 0 ? st.ok / elapsed : 0);
	json_obj_open(&j, "latency_ms");
	json_double(&j, "p50", hist_quantile(0.50));
	json_double(&j, "p90", hist_quantile(0.90));
	json_double(&j, "p99", hist_quantile(0.99));
	json_double(&j, "max", st.lat_max_us / 1000.0);
	json_double(&j, "mean", st.ok ? (double)(st.lat_sum_us / st.ok) / 1000.0 : 0);
	json_obj_close(&j);
	json_obj_open(&j, "errors");
	json_uint(&j, "total", errs);
	for (int i = 0; i < E_NKINDS; i++)
		json_uint(&j, err_names[i], st.errors[i]);
	json_obj_close(&j);
	json_obj_open(&j, "connections");
	json_uint(&j, "opened", st.opened);
	json_int(&j, "peak_open", st.open_peak);
	json_uint(&j, "idle_closed_by_server", st.idle_closed);
	json_obj_close(&j);
	json_uint(&j, "bytes", st.bytes);
	json_obj_close(&j);
}

int main(int argc, char **argv)
{
	enum { OPT_BURST_INTERVAL = 256, OPT_CONNECT_TIMEOUT };
	static const struct option lopts[] = {
		{ "conns", required_argument, NULL, 'c' },
		{ "new-conn", no_argument, NULL, 'N' },
		{ "duration", required_argument, NULL, 'd' },
		{ "requests", required_argument, NULL, 'n' },
		{ "burst", required_argument, NULL, 'b' },
		{ "burst-interval", required_argument, NULL, OPT_BURST_INTERVAL },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "timeout", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "progress", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct epoll_event *evs = NULL;
	struct rlimit rl;
	char *rbufs = NULL;
	int64_t t0, t_end, last_scan, next_progress, now;
	unsigned long long prog_ok = 0;
	double v, elapsed;
	int opt, li = -1, rc = 1;

	while ((li = -1, opt = getopt_long(argc, argv, "c:Nd:n:b:t:p:H:P:jh", lopts, &li)) != -1) {
		switch (opt) {
		case 'c':
			if (!parse_num(optarg, 0, MAX_CONNS, &v))
				goto bad;
			o.conns = (int)v;
			break;
		case 'N': o.new_conn = true; break;
		case 'd':
			if (!parse_num(optarg, 0.1, MAX_DURATION, &v))
				goto bad;
			o.duration = v;
			break;
		case 'n':
			if (!parse_num(optarg, 1, 1e15, &v))
				goto bad;
			o.max_requests = (long long)v;
			break;
		case 'b':
			if (!parse_num(optarg, 0, MAX_CONNS, &v))
				goto bad;
			o.burst = (int)v;
			break;
		case OPT_BURST_INTERVAL:
			if (!parse_num(optarg, 0, 3600000, &v))
				goto bad;
			o.burst_interval_ms = (int)v;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (!parse_num(optarg, 1, 3600000, &v))
				goto bad;
			o.connect_timeout_ms = (int)v;
			break;
		case 't':
			if (!parse_num(optarg, 1, 3600000, &v))
				goto bad;
			o.timeout_ms = (int)v;
			break;
		case 'p':
			if (optarg[0] != '/' || strpbrk(optarg, " \r\n") || strlen(optarg) > 256)
				goto bad;
			o.path = optarg;
			break;
		case 'H':
			if (strpbrk(optarg, " \r\n") || strlen(optarg) > 128)
				goto bad;
			o.host = optarg;
			break;
		case 'P':
			if (!parse_num(optarg, 0, 3600, &v))
				goto bad;
			o.progress = v;
			break;
		case 'j': o.json = true; break;
		case 'h': usage(stdout); return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (parse_target(argv[optind]) < 0) {
		fprintf(stderr, "qps-load: bad target '%s': want a numeric ADDR:PORT\n", argv[optind]);
		return 2;
	}
	nclients = o.conns + o.burst;
	if (nclients < 1 || nclients > MAX_CONNS) {
		fprintf(stderr, "qps-load: --conns plus --burst must be 1..%d\n", MAX_CONNS);
		return 2;
	}
	if (!o.host)
		o.host = o.target;
	req_ka_len = (size_t)snprintf(req_ka, sizeof(req_ka),
				      "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: qps-load\r\n\r\n",
				      o.path, o.host);
	req_close_len = (size_t)snprintf(req_close, sizeof(req_close),
					 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: qps-load\r\n"
					 "Connection: close\r\n\r\n", o.path, o.host);

	/* One descriptor per client plus a few: raise the soft limit up to the hard one. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nclients + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)nclients + 64) {
			fprintf(stderr, "qps-load: %d clients need %d descriptors, hard limit is %llu\n",
				nclients, nclients + 64, (unsigned long long)rl.rlim_max);
			return 1;
		}
	}

	clients = calloc((size_t)nclients, sizeof(*clients));
	rbufs = malloc((size_t)nclients * RBUF_SIZE);
	evs = calloc(1024, sizeof(*evs));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!clients || !rbufs || !evs || epfd < 0) {
		fprintf(stderr, "qps-load: cannot set up: %s\n", strerror(errno));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t0 = now_ns();
	t_end = t0 + (int64_t)(o.duration * 1e9);
	for (int i = 0; i < nclients; i++) {
		clients[i].fd = -1;
		clients[i].rbuf = rbufs + (size_t)i * RBUF_SIZE;
		clients[i].burst = i >= o.conns;
		clients[i].deadline = INT64_MAX;
	}
	/* The burst first, in one tight loop: that is what makes it simultaneous. */
	for (int i = o.conns; i < nclients; i++)
		start_request(&clients[i], t0);
	for (int i = 0; i < o.conns; i++)
		start_request(&clients[i], now_ns());

	last_scan = next_progress = t0;
	if (o.progress > 0)
		next_progress = t0 + (int64_t)(o.progress * 1e9);
	for (;;) {
		int n;

		now = now_ns();
		if (now >= t_end || stop_signal)
			break;
		if (o.max_requests && !budget_left() && st.open_now == 0)
			break;
		n = epoll_wait(epfd, evs, 1024, 5);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "qps-load: epoll_wait: %s\n", strerror(errno));
			goto out;
		}
		now = now_ns();
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events, now);
		if (now - last_scan >= SCAN_NS) {
			check_deadlines(now);
			last_scan = now;
		}
		if (o.progress > 0 && now >= next_progress) {
			unsigned long long errs = 0;

			for (int i = 0; i < E_NKINDS; i++)
				errs += st.errors[i];
			fprintf(stderr, "  %5.1fs  %8.0f req/s  %8llu ok  %6llu errors  %5d open\n",
				(now - t0) / 1e9, (st.ok - prog_ok) / o.progress, st.ok, errs,
				st.open_now);
			prog_ok = st.ok;
			next_progress += (int64_t)(o.progress * 1e9);
		}
	}
	elapsed = (now_ns() - t0) / 1e9;
	for (int i = 0; i < nclients; i++)
		client_close(&clients[i]);
	if (o.json)
		report_json(elapsed);
	else
		report_text(elapsed);
	if (fflush(stdout) == 0 && !ferror(stdout))
		rc = stop_signal ? 1 : 0;
	goto out;
bad:
	if (li >= 0)
		fprintf(stderr, "qps-load: bad value '%s' for --%s\n", optarg, lopts[li].name);
	else
		fprintf(stderr, "qps-load: bad value '%s' for -%c\n", optarg, opt);
	return 2;
out:
	if (epfd >= 0)
		close(epfd);
	free(evs);
	free(rbufs);
	free(clients);
	return rc;
}
