/* conn.c - the worker event loop and the per-connection state machine.
 *
 *            accept4 (+ answered at once with TCP_DEFER_ACCEPT)
 *                 |
 *                 v        head parsed, body follows
 *   +-------->  READ  -------------------------------> BODY
 *   |             |  head (and body) complete:             | body consumed
 *   |             |  response appended to the worker's     |
 *   |             |  output batch  <-----------------------+
 *   |             v
 *   |     batch written with one send() per readiness
 *   |             | short send / EAGAIN / sendfile not done
 *   |             v
 *   +---- CF_WRITING (a flag beside READ/BODY: the rest copied to the
 *     flushed     |   connection, input waits; EPOLLOUT resumes)
 *                 | last response (close, error, drain) and input left unread
 *                 v
 *               LINGER: shutdown(SHUT_WR), discard input until EOF/timeout
 *   READ after a costly (--demo) request --CF_YIELD--> on the TL_YIELD list,
 *     input untouched until run_yielded() drives it after the next events
 *     (one costly request at a time; the other clients go first)
 *   any state --conn_close()--> FREE; the fd itself is closed once the handler
 *   returned to the loop (flush_closes), so the slot cannot be reused while
 *   a caller up the stack still looks at it
 *
 * Hot path choices (CPU per request is what the benchmark measures):
 *  - edge-triggered EPOLLIN|EPOLLOUT registered once: no epoll_ctl per request;
 *  - one recv() per readiness: a read shorter than the space offered means
 *    the socket was drained, so no EAGAIN read follows it;
 *  - all responses produced by one read go out with one send();
 *  - responses are assembled from preformatted pieces; the Date line and the
 *    complete /plaintext and /json responses are rebuilt once per second;
 *  - timeouts are per-worker FIFO lists (one per kind, all entries of a kind
 *    share one timeout, so appending keeps each list sorted): O(1) re-arm,
 *    checked once per loop iteration from a coarse clock, no timerfds;
 *  - the read buffer comes from a per-worker pool and goes back whenever
 *    the connection has no request in progress, so an idle keep-alive
 *    connection costs only its table slot (sizeof(struct conn)).
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "http.h"
#include "pool.h"
#include "route.h"

#define KEY_LISTENER	(UINT64_MAX - 1)
#define KEY_WAKE	UINT64_MAX
#define OUT_CAP		(64 * 1024)	/* bytes of responses batched per write */
#define METRICS_CAP	(32 * 1024)	/* /metrics body */
#define ACCEPT_BURST	256		/* accepts per loop iteration and listener */
#define ACCEPT_PAUSE_MS	100		/* fd exhaustion: retry accepting after this */
#define POOL_KEEP	256		/* free read buffers kept per worker */
#define MAX_WORKERS	256
#define LINGER_MAX	(256 * 1024)	/* bytes discarded while lingering */
#define PRE_CAP		256		/* a preformatted fixed-body response */
/* RT_COSTLY routes (--demo /cpu, /delay) hold the worker: a connection may
 * start one while at least DEMO_MIN_US of its budget is left; the cost is
 * then taken from it (it may go below 0: any single request can run). It
 * refills, while the connection runs no costly request, at 1 µs per
 * DEMO_REFILL µs (250 ms per second) up to DEMO_BUDGET_US. */
#define DEMO_BUDGET_US	1000000
#define DEMO_MIN_US	100000
#define DEMO_REFILL	4

enum cstate { C_FREE, C_READ, C_BODY, C_LINGER };
/* TL_YIELD is not a timeout: the connections that gave way after a costly
 * request, driven again once the others had their turn (run_yielded) */
enum tlist_kind { TL_HEADER, TL_IDLE, TL_WRITE, TL_LINGER, TL_YIELD, TL_COUNT, TL_NONE = 0xff };

/* conn flags */
#define CF_READABLE	0x01	/* input may be waiting: the last read filled the buffer */
#define CF_CLOSE_AFTER	0x02	/* close once the pending output is written */
#define CF_EOF		0x04	/* peer shut down its side */
#define CF_SERVED	0x08	/* answered at least one request */
#define CF_REQ_DONE	0x10	/* a request completed during this drive */
#define CF_CHUNKED	0x20	/* BODY: chunked (else Content-Length) */
#define CF_REGISTERED	0x40	/* added to epoll */
#define CF_WRITING	0x80	/* pending output: wait for EPOLLOUT */
#define CF_YIELD	0x100	/* a costly request was answered: give way */

struct conn {
	struct conn *tprev, *tnext;	/* timer list links */
	uint64_t deadline;		/* ms, coarse monotonic */
	char *rbuf;			/* pool buffer; NULL while idle */
	char *obuf;			/* pending output (malloc'ed, rare) */
	uint64_t file_off, file_left;	/* bytes of the file still to send */
	union {
		uint64_t body_left;	/* Content-Length body bytes to discard */
		struct http_chunked chunk;
	};
	int file_fd;
	int32_t demo_budget_us;		/* RT_COSTLY work it may still start, µs (<0: owed) */
	uint32_t demo_stamp_ms;		/* coarse ms the budget was last brought up to date */
	uint32_t rlen, rpos;		/* bytes in rbuf; parse position */
	uint32_t olen, opos;		/* obuf bytes; bytes already written */
	struct plan plan;		/* BODY: the answer once the body is in */
	uint16_t flags;			/* CF_* */
	uint8_t state, tkind;
};
/* 128 bytes: an idle keep-alive connection costs this slot and nothing else */
_Static_assert(sizeof(struct conn) <= 128, "struct conn grew past 128 bytes");

struct tlist {
	struct conn *head, *tail;
	unsigned timeout_ms;		/* 0: never expires */
};

struct worker {
	const struct server_config *cfg;
	struct ev_loop *ev;
	struct pool *pool;
	int id;
	int lfd;			/* listener; -1 once draining */
	int wakefd;			/* eventfd: stop request */
	unsigned nconns;		/* connections this worker owns */
	struct conn *closing;		/* closed slots whose fd is still open */
	bool accept_paused, accept_more, draining, stop;
	uint64_t accept_resume_ms;
	uint64_t now_ms;		/* coarse monotonic, per loop iteration */
	uint64_t iter;			/* loop iterations (TL_YIELD: when it gave way) */
	uint64_t drain_deadline_ms;
	uint64_t ev_start_ns;		/* precise clock after epoll_wait */
	unsigned batch_resp;		/* responses in the current drive */
	time_t date_sec;		/* second the Date line was made for */
	struct tlist tl[TL_COUNT];
	size_t olen;			/* bytes in out */
	char date[64];			/* "Date: ...\r\n" */
	size_t date_len;
	/* complete keep-alive 200 responses of the fixed-body routes */
	char pre[METRICS_ROUTES][PRE_CAP];
	uint16_t pre_len[METRICS_ROUTES];
	char *metrics_buf;		/* METRICS_CAP */
	struct metrics m;
	char out[OUT_CAP];
};

static struct conn *conn_table;
static size_t conn_table_len;
static struct metrics *all_metrics[MAX_WORKERS];
static const char *route_label[METRICS_ROUTES];	/* route_table[i].name */
static int nall_metrics;
static unsigned open_conns;		/* atomic; all workers */

/* ---------------------------------------------------------------- table */

int conn_table_init(size_t max_fds)
{
	size_t bytes = max_fds * sizeof(struct conn);
	unsigned i;
	void *p;

	/* untouched slots cost no memory: pages appear as fds get used */
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	conn_table = p;
	conn_table_len = max_fds;
	for (i = 0; i < route_count; i++)
		route_label[i] = route_table[i].name;
	return 0;
}

unsigned conn_open_count(void)
{
	return __atomic_load_n(&open_conns, __ATOMIC_RELAXED);
}

struct metrics *worker_metrics(struct worker *w) { return &w->m; }

/* the table is indexed by fd, so a slot knows its fd */
static inline int conn_fd(const struct conn *c) { return (int)(c - conn_table); }

int workers_metrics_render(char *buf, size_t cap)
{
	return metrics_render(buf, cap, all_metrics, nall_metrics, route_label, (int)route_count);
}

/* ---------------------------------------------------------------- time */

static uint64_t mono_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- timers */

static void timer_unlink(struct worker *w, struct conn *c)
{
	struct tlist *l;

	if (c->tkind == TL_NONE)
		return;
	l = &w->tl[c->tkind];
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else
		l->head = c->tnext;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	else
		l->tail = c->tprev;
	c->tprev = c->tnext = NULL;
	c->tkind = TL_NONE;
}

/* (Re)starts timer @kind for @c: appends to the tail, which keeps the list
 * sorted because every entry of a list has the same timeout. */
static void timer_arm(struct worker *w, struct conn *c, enum tlist_kind kind)
{
	struct tlist *l = &w->tl[kind];

	timer_unlink(w, c);
	c->tkind = (uint8_t)kind;
	c->deadline = kind == TL_YIELD ? w->iter :
		      l->timeout_ms ? w->now_ms + l->timeout_ms : UINT64_MAX;
	c->tprev = l->tail;
	c->tnext = NULL;
	if (l->tail)
		l->tail->tnext = c;
	else
		l->head = c;
	l->tail = c;
}

/* ---------------------------------------------------------------- responses */

static const char *const reason[ST_COUNT] = {
	[ST_200] = "OK", [ST_400] = "Bad Request", [ST_403] = "Forbidden",
	[ST_404] = "Not Found", [ST_405] = "Method Not Allowed",
	[ST_408] = "Request Timeout", [ST_413] = "Content Too Large",
	[ST_414] = "URI Too Long", [ST_429] = "Too Many Requests", [ST_431] = "Request Header Fields Too Large",
	[ST_500] = "Internal Server Error", [ST_501] = "Not Implemented",
	[ST_503] = "Service Unavailable", [ST_505] = "HTTP Version Not Supported",
};

static const char server_hdr[] = "Server: qps-server\r\n";
#define LIT(s) s, sizeof(s) - 1

static inline char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Writes a response head; returns the end. @clen: Content-Length. */
static char *put_head(struct worker *w, char *p, int st, const char *ctype,
		      uint64_t clen, unsigned pflags, uint32_t retry_s)
{
	p = put(p, LIT("HTTP/1.1 "));
	p = put_u64(p, (uint64_t)metrics_status_code(st));
	*p++ = ' ';
	p = put(p, reason[st], strlen(reason[st]));
	p = put(p, LIT("\r\n"));
	p = put(p, LIT(server_hdr));
	p = put(p, w->date, w->date_len);
	p = put(p, LIT("Content-Type: "));
	p = put(p, ctype, strlen(ctype));
	p = put(p, LIT("\r\nContent-Length: "));
	p = put_u64(p, clen);
	p = put(p, LIT("\r\n"));
	if (st == ST_405)
		p = put(p, LIT("Allow: GET, HEAD\r\n"));
	if (st == ST_429) {
		p = put(p, LIT("Retry-After: "));
		p = put_u64(p, retry_s);
		p = put(p, LIT("\r\n"));
	}
	if (pflags & PF_CLOSE)
		p = put(p, LIT("Connection: close\r\n"));
	else if (pflags & PF_KA10)
		p = put(p, LIT("Connection: keep-alive\r\n"));
	return put(p, LIT("\r\n"));
}

static void update_date(struct worker *w)
{
	struct timespec ts;
	struct tm tm;
	unsigned i;
	char *p;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (ts.tv_sec == w->date_sec)
		return;
	w->date_sec = ts.tv_sec;
	gmtime_r(&ts.tv_sec, &tm);
	w->date_len = strftime(w->date, sizeof(w->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	for (i = 0; i < route_count; i++) {
		const struct route *rt = &route_table[i];

		if (!rt->body || rt->body_len > PRE_CAP - 200)
			continue;
		p = put_head(w, w->pre[i], ST_200, rt->ctype, rt->body_len, 0, 0);
		p = put(p, rt->body, rt->body_len);
		w->pre_len[i] = (uint16_t)(p - w->pre[i]);
	}
}

/* ---------------------------------------------------------------- close */

static void conn_release_buf(struct worker *w, struct conn *c)
{
	pool_put(w->pool, c->rbuf);
	c->rbuf = NULL;
	c->rlen = c->rpos = 0;
}

static void accept_resume(struct worker *w);
static void flush_closes(struct worker *w);

/* The fd is closed only when the handler returned to the loop (flush_closes):
 * until then no other worker can be given the same fd number, so the slot
 * stays ours and callers up the stack may still look at c->state (C_FREE). */
static void conn_close(struct worker *w, struct conn *c)
{
	timer_unlink(w, c);
	if (c->file_fd >= 0)
		close(c->file_fd);
	free(c->obuf);
	conn_release_buf(w, c);
	c->obuf = NULL;
	c->file_fd = -1;
	c->state = C_FREE;
	c->flags = 0;
	c->tnext = w->closing;
	w->closing = c;
	w->nconns--;
	__atomic_fetch_sub(&open_conns, 1, __ATOMIC_RELAXED);
	METRIC_ADD(w->m.closed, 1);
	if (w->accept_paused)
		accept_resume(w);
}

/* Last response sent: close now, or linger if the peer may still be sending
 * (closing with unread input makes the kernel send RST, which can destroy
 * the response before the client read it). */
static void conn_finish(struct worker *w, struct conn *c)
{
	if (!(c->flags & CF_EOF) && (c->rpos < c->rlen || (c->flags & CF_READABLE) ||
				     c->state == C_BODY)) {
		shutdown(conn_fd(c), SHUT_WR);
		conn_release_buf(w, c);
		c->state = C_LINGER;
		c->file_left = 0;	/* reused: bytes discarded */
		timer_arm(w, c, TL_LINGER);
		return;
	}
	conn_close(w, c);
}

/* ---------------------------------------------------------------- output */

/* Writes the batch in w->out for @c. Returns 0 when all is written (or
 * kept as pending output: CF_WRITING), -1 if the connection died (it is
 * closed). @more: MSG_MORE (a file follows). */
static int out_flush(struct worker *w, struct conn *c, int more)
{
	ssize_t n = 0;
	size_t len = w->olen;

	w->olen = 0;
	if (len == 0)
		return 0;
	n = send(conn_fd(c), w->out, len, more ? MSG_MORE | MSG_NOSIGNAL : MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN) {
			conn_close(w, c);
			return -1;
		}
		n = 0;
	}
	METRIC_ADD(w->m.bytes_out, (uint64_t)n);
	if ((size_t)n == len)
		return 0;
	/* rare: the socket buffer is full; keep the rest with the connection */
	c->obuf = malloc(len - (size_t)n);
	if (!c->obuf) {
		conn_close(w, c);
		return -1;
	}
	memcpy(c->obuf, w->out + n, len - (size_t)n);
	c->olen = (uint32_t)(len - (size_t)n);
	c->opos = 0;
	c->flags |= CF_WRITING;
	timer_arm(w, c, TL_WRITE);
	return 0;
}

/* Sends pending obuf bytes and file. Returns 1 when everything is out, 0 if
 * still pending (wait for EPOLLOUT), -1 if the connection was closed. */
static int pending_flush(struct worker *w, struct conn *c)
{
	bool progress = false;
	ssize_t n;

	while (c->opos < c->olen) {
		n = c->file_left ?
			send(conn_fd(c), c->obuf + c->opos, c->olen - c->opos, MSG_MORE | MSG_NOSIGNAL) :
			send(conn_fd(c), c->obuf + c->opos, c->olen - c->opos, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN)
				goto wait;
			conn_close(w, c);
			return -1;
		}
		METRIC_ADD(w->m.bytes_out, (uint64_t)n);
		c->opos += (uint32_t)n;
		progress = true;
	}
	free(c->obuf);
	c->obuf = NULL;
	c->olen = c->opos = 0;
	while (c->file_left) {
		off_t off = (off_t)c->file_off;
		size_t chunk = c->file_left > (1u << 20) ? (1u << 20) : (size_t)c->file_left;

		n = sendfile(conn_fd(c), c->file_fd, &off, chunk);
		if (n < 0) {
			if (errno == EAGAIN)
				goto wait;
			conn_close(w, c);
			return -1;
		}
		if (n == 0) {	/* file shrank under us: the length we sent is a lie */
			conn_close(w, c);
			return -1;
		}
		METRIC_ADD(w->m.bytes_out, (uint64_t)n);
		c->file_off += (uint64_t)n;
		c->file_left -= (uint64_t)n;
		progress = true;
	}
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
	}
	return 1;
wait:
	if (!(c->flags & CF_WRITING) || progress) {
		c->flags |= CF_WRITING;
		timer_arm(w, c, TL_WRITE);
	}
	return 0;
}

/* Room for @need more bytes in the batch; flushes if needed. Returns 0, or
 * -1 if the caller must stop producing (pending output or closed). */
static int out_room(struct worker *w, struct conn *c, size_t need)
{
	if (w->olen + need <= OUT_CAP)
		return 0;
	if (out_flush(w, c, 0) < 0 || (c->flags & CF_WRITING))
		return -1;
	return need <= OUT_CAP ? 0 : -1;
}

/* ---------------------------------------------------------------- replies */

/* route.h's view of a request being answered */
struct reply {
	struct worker *w;
	struct conn *c;
};

static void count(struct worker *w, const struct plan *pl)
{
	METRIC_ADD(w->m.requests[pl->route][pl->st], 1);
	w->batch_resp++;
}

int reply_body(struct reply *r, const struct plan *pl, const char *ctype,
	       const char *body, size_t blen)
{
	struct worker *w = r->w;
	char *p;

	if (out_room(w, r->c, 512 + blen) < 0)
		return -1;
	p = put_head(w, w->out + w->olen, pl->st, ctype, blen, pl->flags, pl->param);
	if (!(pl->flags & PF_HEAD))
		p = put(p, body, blen);
	w->olen = (size_t)(p - w->out);
	count(w, pl);
	return 0;
}

int reply_error(struct reply *r, struct plan *pl, int st)
{
	char body[64];
	int n;

	pl->st = (uint8_t)metrics_status_idx(st);
	n = snprintf(body, sizeof(body), "%s\n", reason[pl->st]);
	return reply_body(r, pl, "text/plain", body, (size_t)n);
}

void reply_set_file(struct reply *r, int fd, uint64_t size)
{
	r->c->file_fd = fd;
	r->c->file_off = 0;
	r->c->file_left = size;
}

int reply_file(struct reply *r, const struct plan *pl, const char *ctype)
{
	struct worker *w = r->w;
	struct conn *c = r->c;
	char *p;

	if (out_room(w, c, 512) < 0)
		return -1;
	p = put_head(w, w->out + w->olen, ST_200, ctype, c->file_left, pl->flags, 0);
	w->olen = (size_t)(p - w->out);
	count(w, pl);
	if (pl->flags & PF_HEAD) {
		close(c->file_fd);
		c->file_fd = -1;
		c->file_left = 0;
		return 0;
	}
	/* headers corked onto the first file segment; then the file, zero-copy */
	if (out_flush(w, c, 1) < 0 || (c->flags & CF_WRITING))
		return -1;
	return pending_flush(w, c) == 1 ? 0 : -1;
}

char *reply_scratch(struct reply *r, size_t *cap)
{
	*cap = METRICS_CAP;
	return r->w->metrics_buf;
}

const struct server_config *reply_config(const struct reply *r) { return r->w->cfg; }

/* May @c start the RT_COSTLY request of @pl (cost pl->param µs)? Brings
 * the budget up to date; if not, turns @pl into a 429 whose param is the
 * Retry-After in seconds. */
static bool demo_admit(struct worker *w, struct conn *c, struct plan *pl)
{
	uint32_t el = (uint32_t)w->now_ms - c->demo_stamp_ms;	/* ms, wraps after 49 days */
	int64_t b = c->demo_budget_us + (int64_t)el * 1000 / DEMO_REFILL;

	if (b > DEMO_BUDGET_US)
		b = DEMO_BUDGET_US;
	c->demo_budget_us = (int32_t)b;
	c->demo_stamp_ms = (uint32_t)w->now_ms;
	if (b >= DEMO_MIN_US)
		return true;
	pl->st = ST_429;
	pl->param = (uint32_t)(((DEMO_MIN_US - b) * DEMO_REFILL + 999999) / 1000000);
	return false;
}

/* Produces the response of @pl into the batch. Returns 0 to go on with the
 * next request, -1 to stop (pending output, closed, last response, or a
 * costly request answered: CF_YIELD). */
static int emit(struct worker *w, struct conn *c, struct plan *pl)
{
	const struct route *rt = &route_table[pl->route];
	struct reply rp = { w, c };
	int r;

	if (w->draining)
		pl->flags |= PF_CLOSE;
	if (pl->st != ST_200) {
		r = reply_error(&rp, pl, metrics_status_code(pl->st));
	} else if (rt->body) {
		if (!(pl->flags & (PF_HEAD | PF_CLOSE | PF_KA10)) && w->pre_len[pl->route]) {
			/* the hot path: one memcpy of a preformatted response */
			size_t n = w->pre_len[pl->route];

			if (out_room(w, c, n) < 0)
				return -1;
			memcpy(w->out + w->olen, w->pre[pl->route], n);
			w->olen += n;
			count(w, pl);
			r = 0;
		} else {
			r = reply_body(&rp, pl, rt->ctype, rt->body, rt->body_len);
		}
	} else if (!(rt->flags & RT_COSTLY)) {
		r = rt->respond(&rp, pl);
	} else if (!demo_admit(w, c, pl)) {
		r = reply_body(&rp, pl, "text/plain", w->metrics_buf,
			       (size_t)snprintf(w->metrics_buf, METRICS_CAP,
				"demo budget spent: /cpu and /delay may hold the worker for %u ms "
				"per connection, refilled at %u ms per second, and start with %u ms "
				"left; retry in %u s\n",
				DEMO_BUDGET_US / 1000, 1000 / DEMO_REFILL, DEMO_MIN_US / 1000, pl->param));
	} else {
		r = rt->respond(&rp, pl);
		/* it held the worker: the coarse clock and Date are stale */
		w->now_ms = mono_coarse_ms();
		update_date(w);
		c->demo_budget_us -= (int32_t)pl->param;
		c->demo_stamp_ms = (uint32_t)w->now_ms;
		/* one at a time: the rest of this connection's input waits
		 * until the worker's other ready connections were served */
		c->flags |= CF_YIELD;
		if (r == 0 && !(pl->flags & PF_CLOSE)) {
			c->flags |= CF_SERVED | CF_REQ_DONE;
			return -1;
		}
	}
	if (r < 0)
		return -1;
	c->flags |= CF_SERVED | CF_REQ_DONE;
	if (pl->flags & PF_CLOSE) {
		c->flags |= CF_CLOSE_AFTER;
		return -1;
	}
	return 0;
}

/* Decides the answer to a parsed head: connection flags here, the route's
 * part in route.c. */
static void plan_request(struct worker *w, struct conn *c, const struct http_request *r,
			 struct plan *pl)
{
	struct reply rp = { w, c };

	memset(pl, 0, sizeof(*pl));
	if (r->minor == 0 ? !(r->flags & HTTP_F_KEEPALIVE) : (r->flags & HTTP_F_CLOSE) != 0)
		pl->flags |= PF_CLOSE;
	else if (r->minor == 0)
		pl->flags |= PF_KA10;
	if (r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0)
		pl->flags |= PF_HEAD;
	route_plan(&rp, r, pl);
}

/* ---------------------------------------------------------------- input */

/* A malformed stream: answer @status and close. Returns -1. */
static int bad_request(struct worker *w, struct conn *c, int status)
{
	struct plan pl = { .route = ROUTE_OTHER, .flags = PF_CLOSE };

	pl.st = (uint8_t)metrics_status_idx(status);
	METRIC_ADD(w->m.bad_requests, 1);
	c->rpos = c->rlen;		/* the rest cannot be trusted */
	if (c->file_fd >= 0) {
		close(c->file_fd);
		c->file_fd = -1;
		c->file_left = 0;
	}
	emit(w, c, &pl);	/* PF_CLOSE: sets CF_CLOSE_AFTER unless it closed c */
	return -1;
}

/* Discards body bytes from the buffer. Returns 1 when the body is complete,
 * 0 if more is needed, -1 on a framing error (already answered). */
static int body_consume(struct worker *w, struct conn *c)
{
	size_t avail = c->rlen - c->rpos;

	if (!(c->flags & CF_CHUNKED)) {
		size_t n = avail < c->body_left ? avail : (size_t)c->body_left;

		c->rpos += (uint32_t)n;
		c->body_left -= n;
		return c->body_left == 0;
	}
	if (avail == 0)
		return 0;
	ssize_t n = http_chunked_feed(&c->chunk, c->rbuf + c->rpos, avail);

	if (n < 0) {
		c->state = C_READ;
		bad_request(w, c, (int)-n);
		return -1;
	}
	c->rpos += (uint32_t)n;
	return http_chunked_is_done(&c->chunk);
}

/* Answers every complete request in the buffer. Returns 0 to go on reading,
 * -1 to stop (pending output, last response, or closed). */
static int process(struct worker *w, struct conn *c)
{
	struct http_request req;
	struct plan pl;
	int n;

	while (c->rpos < c->rlen || c->state == C_BODY) {
		if (c->state == C_BODY) {
			n = body_consume(w, c);
			if (n <= 0)
				return n;
			c->state = C_READ;
			pl = c->plan;
			if (emit(w, c, &pl) < 0)
				return -1;
			continue;
		}
		req.headers = NULL;
		n = http_parse_request(c->rbuf + c->rpos, c->rlen - c->rpos, &req);
		if (n == HTTP_NEED_MORE || n == 0) {
			size_t have = c->rlen - c->rpos;

			if (have >= w->cfg->max_header_bytes) {
				/* the head fills the whole buffer: too large */
				return bad_request(w, c, memchr(c->rbuf + c->rpos, '\n', have) ? 431 : 414);
			}
			return 0;
		}
		if (n < 0)
			return bad_request(w, c, -n);
		c->rpos += (uint32_t)n;
		plan_request(w, c, &req, &pl);
		if (req.flags & (HTTP_F_LENGTH | HTTP_F_CHUNKED)) {
			if ((req.flags & HTTP_F_LENGTH) && req.content_length > w->cfg->max_body_bytes) {
				if (c->file_fd >= 0) {
					close(c->file_fd);
					c->file_fd = -1;
				}
				return bad_request(w, c, 413);
			}
			if (req.flags & HTTP_F_EXPECT) {
				/* we never want a body, so no 100 Continue: answer,
				 * then close instead of waiting for a body that a
				 * client may never send */
				pl.flags |= PF_CLOSE;
				if (emit(w, c, &pl) < 0)
					return -1;
				continue;
			}
			if (req.flags & HTTP_F_CHUNKED) {
				c->flags |= CF_CHUNKED;
				http_chunked_init(&c->chunk, w->cfg->max_body_bytes);
			} else {
				c->flags &= (uint16_t)~CF_CHUNKED;
				c->body_left = req.content_length;
			}
			c->plan = pl;
			c->state = C_BODY;
			continue;
		}
		if (emit(w, c, &pl) < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- drive */

/* Everything a readiness event (or a flushed write) leads to: read, answer,
 * write once, re-arm the right timer. */
static void conn_drive(struct worker *w, struct conn *c)
{
	size_t cap = w->cfg->max_header_bytes;
	ssize_t n;
	int stop = 0;

	c->flags &= (uint16_t)~(CF_REQ_DONE | CF_YIELD);
	w->batch_resp = 0;
	for (;;) {
		if (c->rpos < c->rlen || c->state == C_BODY) {
			stop = process(w, c);
			if (c->state == C_FREE)
				goto done;
			if (stop)
				break;
		}
		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
		} else if (c->rpos) {
			/* a partial head: move it to the front */
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		if (!(c->flags & CF_READABLE) || (c->flags & CF_EOF))
			break;
		if (!c->rbuf) {
			c->rbuf = pool_get(w->pool);
			if (!c->rbuf) {
				conn_close(w, c);
				goto done;
			}
		}
		n = recv(conn_fd(c), c->rbuf + c->rlen, cap - c->rlen, 0);
		if (n > 0) {
			METRIC_ADD(w->m.bytes_in, (uint64_t)n);
			/* shorter than offered: the socket is drained, and
			 * edge-triggered epoll reports the next data */
			if ((size_t)n < cap - c->rlen)
				c->flags &= (uint16_t)~CF_READABLE;
			c->rlen += (uint32_t)n;
			continue;
		}
		if (n == 0) {
			c->flags |= CF_EOF;
			c->flags &= (uint16_t)~CF_READABLE;
			/* answer what is complete, then close */
			if (c->rpos < c->rlen)
				process(w, c);
			if (c->state == C_FREE)
				goto done;
			c->flags |= CF_CLOSE_AFTER;
			break;
		}
		if (errno == EAGAIN) {
			c->flags &= (uint16_t)~CF_READABLE;
			break;
		}
		if (errno == EINTR)
			continue;
		conn_close(w, c);
		goto done;
	}
	if (out_flush(w, c, 0) < 0 || (c->flags & CF_WRITING))
		goto done;	/* EPOLLOUT drives it again, after the others */
	if (c->flags & CF_CLOSE_AFTER) {
		conn_finish(w, c);
		goto done;
	}
	if (c->flags & CF_YIELD) {
		timer_arm(w, c, TL_YIELD);
		goto done;
	}
	/* re-arm: a request in progress has the header timeout from its first
	 * byte (dribbling does not extend it); an empty buffer is idle */
	if (c->rlen == 0 && c->state == C_READ) {
		if (w->draining) {
			conn_close(w, c);
			goto done;
		}
		conn_release_buf(w, c);
		if (c->flags & CF_SERVED)
			timer_arm(w, c, TL_IDLE);
	} else if (c->tkind != TL_HEADER || (c->flags & CF_REQ_DONE)) {
		timer_arm(w, c, TL_HEADER);
	}
done:
	if (w->batch_resp) {
		metrics_observe(&w->m, mono_ns() - w->ev_start_ns, w->batch_resp);
		w->batch_resp = 0;
	}
}

static void conn_linger(struct worker *w, struct conn *c)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = recv(conn_fd(c), buf, sizeof(buf), 0);
		if (n > 0) {
			c->file_left += (uint64_t)n;
			if (c->file_left > LINGER_MAX)
				break;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		break;	/* EOF or error */
	}
	conn_close(w, c);
}

static void conn_event(struct worker *w, struct conn *c, uint32_t mask)
{
	if (mask & EPOLLIN)
		c->flags |= CF_READABLE;
	if (c->state == C_LINGER) {
		conn_linger(w, c);
		return;
	}
	if ((mask & EPOLLERR) && !(mask & EPOLLIN)) {
		conn_close(w, c);
		return;
	}
	if (c->flags & CF_WRITING) {
		if (!(mask & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;	/* input waits until the output is out */
		if (pending_flush(w, c) <= 0)
			return;
		c->flags &= (uint16_t)~CF_WRITING;
		if (c->flags & CF_CLOSE_AFTER) {
			conn_finish(w, c);
			return;
		}
	}
	if (!(c->flags & CF_READABLE) && c->rpos == c->rlen)
		return;
	if (c->tkind == TL_YIELD)
		return;		/* gave way: run_yielded drives it */
	conn_drive(w, c);
}

/* Drives the connections that gave way before this iteration's events (not
 * those that gave way during them: the others go first). */
static void run_yielded(struct worker *w)
{
	struct conn *c;

	while ((c = w->tl[TL_YIELD].head) && c->deadline < w->iter) {
		timer_unlink(w, c);
		w->ev_start_ns = mono_ns();
		conn_drive(w, c);
		flush_closes(w);
	}
}

/* ---------------------------------------------------------------- accept */

static void accept_pause(struct worker *w, bool fd_exhausted)
{
	if (!w->accept_paused) {
		if (fd_exhausted)
			METRIC_ADD(w->m.accept_paused_fd, 1);
		else
			METRIC_ADD(w->m.accept_paused_max, 1);
	}
	w->accept_paused = true;
	w->accept_resume_ms = w->now_ms + ACCEPT_PAUSE_MS;
}

static void do_accept(struct worker *w);

static void accept_resume(struct worker *w)
{
	w->accept_paused = false;
	w->accept_more = true;	/* the loop accepts before its next wait */
}

static void conn_start(struct worker *w, int fd)
{
	struct conn *c = &conn_table[fd];
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->file_fd = -1;
	c->state = C_READ;
	c->tkind = TL_NONE;
	c->demo_budget_us = DEMO_BUDGET_US;
	c->demo_stamp_ms = (uint32_t)w->now_ms;
	w->nconns++;
	METRIC_ADD(w->m.accepted, 1);
	timer_arm(w, c, TL_HEADER);
	if (w->cfg->defer_accept) {
		/* TCP_DEFER_ACCEPT: the request is (almost always) already
		 * here; answer it before paying for epoll_ctl at all - and a
		 * one-request connection is done before it needs TCP_NODELAY */
		c->flags |= CF_READABLE;
		w->ev_start_ns = mono_ns();
		conn_drive(w, c);
		if (c->state == C_FREE)
			return;
	}
	/* one write per batch: Nagle could only delay a batch sent while the
	 * previous one is unacknowledged (pipelining), but then by up to the
	 * peer's delayed-ACK time */
	if (w->cfg->nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ev_add(w->ev, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, (uint64_t)fd) < 0) {
		conn_close(w, c);
		return;
	}
	c->flags |= CF_REGISTERED;
}

static void do_accept(struct worker *w)
{
	unsigned max = w->cfg->max_conns;
	int i, fd;

	w->accept_more = false;
	if (w->lfd < 0 || w->accept_paused)
		return;
	for (i = 0; i < ACCEPT_BURST; i++) {
		if (max && __atomic_load_n(&open_conns, __ATOMIC_RELAXED) >= max) {
			accept_pause(w, false);
			return;
		}
		fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
				return;
			case EINTR: case ECONNABORTED: case EPROTO:
				continue;
			case EMFILE:
				METRIC_ADD(w->m.accept_errors[AE_EMFILE], 1);
				break;
			case ENFILE:
				METRIC_ADD(w->m.accept_errors[AE_ENFILE], 1);
				break;
			case ENOBUFS:
				METRIC_ADD(w->m.accept_errors[AE_ENOBUFS], 1);
				break;
			case ENOMEM:
				METRIC_ADD(w->m.accept_errors[AE_ENOMEM], 1);
				break;
			default:
				METRIC_ADD(w->m.accept_errors[AE_OTHER], 1);
			}
			/* no spinning on a queue we cannot take from: the pending
			 * connections wait in the backlog until a connection of
			 * ours closes or ACCEPT_PAUSE_MS passed */
			accept_pause(w, true);
			return;
		}
		if ((size_t)fd >= conn_table_len) {
			close(fd);
			METRIC_ADD(w->m.accept_errors[AE_EMFILE], 1);
			accept_pause(w, true);
			return;
		}
		__atomic_fetch_add(&open_conns, 1, __ATOMIC_RELAXED);
		conn_start(w, fd);
		/* a one-request connection is closed before the next accept,
		 * not with the whole burst: see flush_closes */
		flush_closes(w);
	}
	w->accept_more = true;	/* more may wait: continue next iteration */
}

/* ---------------------------------------------------------------- loop */

/* Closes the fds of the connections closed since the last call. Called
 * where no caller holds a connection: after each event, each accept, each
 * yielded drive - not once per loop iteration. Closing a whole accept burst
 * at the end (up to ACCEPT_BURST closes of ~15 µs, each with its FIN and the
 * peer's ACK processed on this CPU) stalled every connection that arrived
 * meanwhile: the p99 of one-request connections (docs/tail-latency.md). */
static void flush_closes(struct worker *w)
{
	struct conn *c;

	while ((c = w->closing)) {
		int fd = conn_fd(c);

		w->closing = c->tnext;
		c->tnext = NULL;
		close(fd);	/* the slot may belong to another worker from here on */
	}
}

static void expire(struct worker *w)
{
	int k;

	for (k = 0; k < TL_YIELD; k++) {
		struct conn *c;

		while ((c = w->tl[k].head) && c->deadline <= w->now_ms) {
			METRIC_ADD(w->m.timeouts[k], 1);
			if (k == TL_HEADER && c->rlen > c->rpos && c->state == C_READ) {
				/* a started request: say why before closing */
				struct plan pl = { .route = ROUTE_OTHER, .st = ST_408, .flags = PF_CLOSE };

				c->rpos = c->rlen;
				w->batch_resp = 0;
				emit(w, c, &pl);
				metrics_observe(&w->m, (uint64_t)w->tl[k].timeout_ms * 1000000, w->batch_resp);
				w->batch_resp = 0;
				if (out_flush(w, c, 0) < 0)
					continue;
			}
			timer_unlink(w, c);
			conn_close(w, c);
		}
	}
}

static int next_timeout(struct worker *w)
{
	uint64_t next = w->now_ms + 1000;
	int k;

	for (k = 0; k < TL_YIELD; k++)
		if (w->tl[k].head && w->tl[k].head->deadline < next)
			next = w->tl[k].head->deadline;
	if (w->accept_paused && w->accept_resume_ms < next)
		next = w->accept_resume_ms;
	if (w->draining && w->drain_deadline_ms < next)
		next = w->drain_deadline_ms;
	if (w->accept_more || w->tl[TL_YIELD].head)
		return 0;
	/* coarse clock: round up so we wake after, not before, the deadline */
	return next > w->now_ms ? (int)(next - w->now_ms) + 1 : 0;
}

static void close_idle(struct worker *w)
{
	int k;

	for (k = 0; k < TL_COUNT; k++) {
		struct conn *c = w->tl[k].head, *next;

		for (; c; c = next) {
			next = c->tnext;
			if (c->state == C_READ && c->rlen == c->rpos && !(c->flags & CF_WRITING))
				conn_close(w, c);
		}
	}
}

static void close_all(struct worker *w)
{
	int k;

	for (k = 0; k < TL_COUNT; k++)
		while (w->tl[k].head)
			conn_close(w, w->tl[k].head);
}

static void start_drain(struct worker *w)
{
	/* take what already waits in our accept queue (closing the listener
	 * would reset those connections), then stop listening */
	w->accept_paused = false;
	while (w->lfd >= 0) {
		do_accept(w);
		if (!w->accept_more)
			break;
	}
	if (w->lfd >= 0) {
		close(w->lfd);
		w->lfd = -1;
	}
	w->draining = true;
	w->drain_deadline_ms = w->now_ms + w->cfg->drain_timeout_ms;
	close_idle(w);
}

int worker_run(struct worker *w)
{
	int i, n;

	w->now_ms = mono_coarse_ms();
	update_date(w);
	for (;;) {
		if (w->stop && !w->draining) {
			start_drain(w);
			flush_closes(w);
		}
		if (w->draining && (w->nconns == 0 || w->now_ms >= w->drain_deadline_ms)) {
			close_all(w);
			flush_closes(w);
			return 0;
		}
		n = ev_wait(w->ev, next_timeout(w));
		if (n < 0)
			return n;
		w->now_ms = mono_coarse_ms();
		w->ev_start_ns = mono_ns();
		w->iter++;
		update_date(w);
		for (i = 0; i < n; i++) {
			uint64_t key = ev_key(w->ev, i);
			uint32_t mask = ev_mask(w->ev, i);

			if (key == KEY_LISTENER) {
				do_accept(w);
			} else if (key == KEY_WAKE) {
				uint64_t v;

				if (read(w->wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					return -errno;
				w->stop = true;
			} else if (key < conn_table_len && conn_table[key].state != C_FREE) {
				conn_event(w, &conn_table[key], mask);
				flush_closes(w);
			}
		}
		run_yielded(w);
		if (w->accept_paused && w->now_ms >= w->accept_resume_ms)
			accept_resume(w);
		if (w->accept_more)
			do_accept(w);
		expire(w);
		flush_closes(w);
	}
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is at its maximum: a stop is pending anyway */
	}
}

struct worker *worker_new(const struct server_config *cfg, int id, int listen_fd)
{
	struct worker *w;
	int err;

	if (nall_metrics >= MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);
	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->id = id;
	w->lfd = listen_fd;
	w->wakefd = -1;
	w->tl[TL_HEADER].timeout_ms = cfg->header_timeout_ms;
	w->tl[TL_IDLE].timeout_ms = cfg->idle_timeout_ms;
	w->tl[TL_WRITE].timeout_ms = cfg->write_timeout_ms;
	w->tl[TL_LINGER].timeout_ms = cfg->linger_ms;
	w->ev = ev_loop_new(cfg->batch);
	w->pool = pool_new(cfg->max_header_bytes, POOL_KEEP);
	w->metrics_buf = malloc(METRICS_CAP);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!w->ev || !w->pool || !w->metrics_buf || w->wakefd < 0)
		goto fail;
	if ((err = ev_add(w->ev, listen_fd, EPOLLIN | EPOLLET, KEY_LISTENER)) ||
	    (err = ev_add(w->ev, w->wakefd, EPOLLIN, KEY_WAKE))) {
		errno = -err;
		goto fail;
	}
	all_metrics[nall_metrics++] = &w->m;
	return w;
fail:
	err = errno;
	w->lfd = -1;	/* the caller still owns it on failure */
	worker_free(w);
	errno = err;
	return NULL;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->lfd >= 0)
		close(w->lfd);
	if (w->wakefd >= 0)
		close(w->wakefd);
	ev_loop_free(w->ev);
	pool_free(w->pool);
	free(w->metrics_buf);
	free(w);
}
