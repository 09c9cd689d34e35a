/* route.c - the route table and its handlers.
 *
 * A row names the method, the path and the handler; route_plan() finds the
 * row of a request head, and conn.c calls the row's respond() (or sends its
 * fixed body) once the request is complete. Adding a route: one row, its
 * handler, its test in tests/server/.
 */
#include "route.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

#define DELAY_MAX_MS	10000		/* /delay?ms= cap */
#define CPU_MAX_US	1000000		/* /cpu?us= cap */

/* ---------------------------------------------------------------- helpers */

/* The number after "@key=" in the query of @t, at most @max; 0 if absent. */
static uint32_t query_u32(const char *t, size_t len, const char *key, uint32_t max)
{
	const char *q = memchr(t, '?', len), *e = t + len;
	size_t kl = strlen(key);
	uint64_t v = 0;

	if (!q)
		return 0;
	for (q++; q < e;) {
		const char *amp = memchr(q, '&', (size_t)(e - q));
		const char *end = amp ? amp : e;

		if ((size_t)(end - q) > kl && memcmp(q, key, kl) == 0 && q[kl] == '=') {
			for (q += kl + 1; q < end && *q >= '0' && *q <= '9'; q++) {
				v = v * 10 + (uint64_t)(*q - '0');
				if (v > max)
					return max;
			}
			return (uint32_t)v;
		}
		q = end + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- /static/ */

static const struct { const char *ext, *type; } ctypes[] = {
	{ "", "application/octet-stream" }, { "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" }, { "txt", "text/plain; charset=utf-8" },
	{ "css", "text/css" }, { "js", "text/javascript" }, { "json", "application/json" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "svg", "image/svg+xml" }, { "ico", "image/x-icon" },
	{ "wasm", "application/wasm" }, { "pdf", "application/pdf" },
};

/* openat2(RESOLVE_BENEATH) keeps every lookup, symlinks and ".." included,
 * inside the root; the kernel answers EXDEV for an escape. */
static int open_beneath(int root, const char *path)
{
	struct open_how how = {
		/* O_NONBLOCK: a FIFO under the root must not block the worker */
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	char comp[256];
	const char *p = path, *s;
	int fd, dfd;

	fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
	if (fd >= 0 || errno != ENOSYS)
		return fd;
	/* kernels before 5.6: walk the path, no symlinks, no "..", no "/" */
	dfd = dup(root);
	while (dfd >= 0) {
		size_t n;

		s = strchr(p, '/');
		n = s ? (size_t)(s - p) : strlen(p);
		if (n == 0 || n >= sizeof(comp) || (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(dfd);
			errno = n == 0 ? ENOENT : EXDEV;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		fd = openat(dfd, comp, (s ? O_PATH | O_DIRECTORY : O_RDONLY | O_NOCTTY | O_NONBLOCK) |
			    O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (!s || fd < 0)
			return fd;
		dfd = fd;
		p = s + 1;
	}
	return -1;
}

static int ctype_of(const char *path)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	unsigned i;

	if (!dot || (slash && dot < slash))
		return 0;
	for (i = 1; i < sizeof(ctypes) / sizeof(ctypes[0]); i++)
		if (strcasecmp(dot + 1, ctypes[i].ext) == 0)
			return (int)i;
	return 0;
}

/* GET /static/PATH: opens PATH under --root for respond_static. */
static void prepare_static(struct reply *r, struct plan *pl, const char *t, size_t len)
{
	const struct server_config *cfg = reply_config(r);
	char path[1024];
	struct stat st;
	ssize_t n;
	int fd;

	if (cfg->root_fd < 0) {
		pl->st = ST_404;
		return;
	}
	n = http_path_decode(t + 8, len - 8, path, sizeof(path));	/* after "/static/" */
	if (n < 0) {
		pl->st = (uint8_t)metrics_status_idx((int)-n);
		return;
	}
	if (n == 0) {
		pl->st = ST_404;
		return;
	}
	fd = open_beneath(cfg->root_fd, path);
	if (fd < 0) {
		switch (errno) {
		case ENOENT: case ENOTDIR: case ENAMETOOLONG:
			pl->st = ST_404;
			break;
		case EMFILE: case ENFILE: case ENOMEM:
			pl->st = ST_503;
			break;
		default:	/* EXDEV (escape), ELOOP, EACCES, ... */
			pl->st = ST_403;
		}
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		pl->st = ST_404;
		return;
	}
	reply_set_file(r, fd, (uint64_t)st.st_size);
	pl->ctype = (uint8_t)ctype_of(path);
}

static int respond_static(struct reply *r, struct plan *pl)
{
	return reply_file(r, pl, ctypes[pl->ctype].type);
}

/* ---------------------------------------------------------------- /metrics */

static int respond_metrics(struct reply *r, struct plan *pl)
{
	size_t cap;
	char *buf = reply_scratch(r, &cap);
	int n = workers_metrics_render(buf, cap);

	if (n < 0)
		return reply_error(r, pl, 500);
	return reply_body(r, pl, "text/plain; version=0.0.4", buf, (size_t)n);
}

/* ---------------------------------------------------------------- demo */

static void prepare_delay(struct reply *r, struct plan *pl, const char *t, size_t len)
{
	(void)r;
	pl->param = query_u32(t, len, "ms", DELAY_MAX_MS) * 1000;
}

/* blocks this worker thread on purpose: the off-CPU case */
static int respond_delay(struct reply *r, struct plan *pl)
{
	struct timespec ts = { pl->param / 1000000, (long)(pl->param % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	return reply_body(r, pl, "text/plain", "delayed\n", 8);
}

static void prepare_cpu(struct reply *r, struct plan *pl, const char *t, size_t len)
{
	(void)r;
	pl->param = query_u32(t, len, "us", CPU_MAX_US);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* /cpu: param µs of this thread's CPU time (not wall time: on a busy machine
 * the request takes longer, the CPU burnt stays the same) */
static int respond_cpu(struct reply *r, struct plan *pl)
{
	uint64_t end = thread_cpu_ns() + (uint64_t)pl->param * 1000;

	while (thread_cpu_ns() < end)
		;
	return reply_body(r, pl, "text/plain", "burned\n", 7);
}

/* ---------------------------------------------------------------- table */

#define PATH(s)		.path = s, .path_len = sizeof(s) - 1
#define FIXED(t, b)	.ctype = t, .body = b, .body_len = sizeof(b) - 1

/* The order is the order of /metrics; ROUTE_OTHER stays last. */
const struct route route_table[] = {
	{ "GET", PATH("/plaintext"), 0, "plaintext", FIXED("text/plain", "Hello, World!") },
	{ "GET", PATH("/json"), 0, "json",
	  FIXED("application/json", "{\"message\":\"Hello, World!\"}") },
	{ "GET", PATH("/static/"), RT_PREFIX, "static",
	  .prepare = prepare_static, .respond = respond_static },
	{ "GET", PATH("/metrics"), 0, "metrics", .respond = respond_metrics },
	{ "GET", PATH("/healthz"), 0, "healthz", FIXED("text/plain", "ok\n") },
	{ "GET", PATH("/delay"), RT_DEMO | RT_COSTLY, "delay",
	  .prepare = prepare_delay, .respond = respond_delay },
	{ "GET", PATH("/cpu"), RT_DEMO | RT_COSTLY, "cpu",
	  .prepare = prepare_cpu, .respond = respond_cpu },
	{ NULL, .name = "other" },	/* ROUTE_OTHER */
};
#define NROUTES (sizeof(route_table) / sizeof(route_table[0]))
_Static_assert(NROUTES <= METRICS_ROUTES, "raise METRICS_ROUTES");

const unsigned route_count = NROUTES;

/* ---------------------------------------------------------------- plan */

static bool method_is(const struct http_request *r, const char *m, size_t n)
{
	return r->method_len == n && memcmp(r->method, m, n) == 0;
}

void route_plan(struct reply *r, const struct http_request *req, struct plan *pl)
{
	const struct server_config *cfg = reply_config(r);
	const char *t = req->target, *q;
	size_t len = req->target_len, plen;
	bool head = method_is(req, "HEAD", 4);
	unsigned i;

	pl->route = ROUTE_OTHER;
	pl->param = 0;
	pl->ctype = 0;
	/* absolute-form (RFC 9112 3.2.2): use its path */
	if (len > 7 && (memcmp(t, "http://", 7) == 0 || memcmp(t, "https://", 8) == 0)) {
		const char *s = memchr(t + 8, '/', len - 8);

		if (!s) {
			t = "/";
			len = 1;
		} else {
			len -= (size_t)(s - t);
			t = s;
		}
	}
	if (t[0] != '/') {
		pl->st = ST_400;
		pl->flags |= PF_CLOSE;
		return;
	}
	q = memchr(t, '?', len);
	plen = q ? (size_t)(q - t) : len;
	for (i = 0; i < NROUTES - 1; i++) {
		const struct route *rt = &route_table[i];

		if ((rt->flags & RT_DEMO) && !cfg->demo)
			continue;
		if (rt->flags & RT_PREFIX ? plen > rt->path_len && memcmp(t, rt->path, rt->path_len) == 0 :
					    plen == rt->path_len && memcmp(t, rt->path, plen) == 0) {
			pl->route = (uint8_t)i;
			break;
		}
	}
	/* the row's method (HEAD with GET); for a path no row has, GET and
	 * HEAD get 404 below: anything else is 405 if HTTP knows it, else 501 */
	{
		const char *m = pl->route == ROUTE_OTHER ? "GET" : route_table[pl->route].method;
		static const char *const known[] = {
			"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
		};

		if (!method_is(req, m, strlen(m)) && !(head && strcmp(m, "GET") == 0)) {
			pl->st = ST_501;
			for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (method_is(req, known[i], strlen(known[i])))
					pl->st = ST_405;
			return;
		}
	}
	if (pl->route == ROUTE_OTHER) {
		pl->st = ST_404;
		return;
	}
	pl->st = ST_200;
	if (route_table[pl->route].prepare)
		route_table[pl->route].prepare(r, pl, t, len);
}
