/* main.c - qps-server: options, listeners, worker threads, signals.
 *
 * The main thread only parses options, opens one SO_REUSEPORT listener per
 * worker, starts the workers and then waits for signals:
 *   SIGTERM/SIGINT: every worker stops accepting, answers what is in flight,
 *                   closes idle connections; exit 0 once all drained or after
 *                   --drain-timeout; a second signal exits at once (status 1)
 *   SIGHUP:         logs one status line (connections, requests); nothing is
 *                   reloaded - all settings are fixed at start-up
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "cpus.h"
#include "metrics.h"

#define PROG "qps-server"
#include "version.h"	/* $(BUILD)/version.h: QPS_VERSION, one for every binary */
#define VERSION QPS_VERSION

struct opts {
	const char *listen;
	const char *root;
	int workers;		/* 0: one per usable CPU */
	int backlog;
	int defer_accept_s;	/* TCP_DEFER_ACCEPT seconds; 0 = off */
	bool pin;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTIONS]\n"
"A small, fast HTTP/1.1 server (epoll, one thread and SO_REUSEPORT listener per worker).\n"
"Routes: GET/HEAD /plaintext, /json, /healthz, /metrics (Prometheus), /static/PATH\n"
"(files under --root, sent with sendfile), and with --demo /delay?ms=N and /cpu?us=N.\n"
"\n"
"Options (TIME is seconds, fractions allowed, or with a suffix: 500ms, 2s, 1m;\n"
"a timeout of 0 is off):\n"
"  -l, --listen ADDR:PORT     address to listen on (default 0.0.0.0:8080; [::1]:8080 for IPv6)\n"
"  -w, --workers N            worker threads (default: the CPUs this process may use:\n"
"      --threads N              affinity mask and cgroup CPU quota, rounded up)\n"
"  -p, --pin                  pin worker i to the i-th allowed CPU\n"
"  -r, --root DIR             serve DIR under /static/ (no path leaves DIR; default: off)\n"
"  -d, --demo                 enable /delay?ms=N (sleeps in the worker, max 10000) and\n"
"                             /cpu?us=N (burns CPU, max 1000000)\n"
"  -b, --backlog N            listen() backlog (default 4096; the kernel clamps it to\n"
"                             net.core.somaxconn - the effective value is logged)\n"
"  -c, --max-conns N          open connections, all workers (default 16384; 0 = no limit);\n"
"                             at the limit accepting pauses, clients wait in the backlog\n"
"      --header-timeout TIME  a request (head and body) must arrive within TIME of its\n"
"                             first byte, else 408 and close (default 10s)\n"
"      --idle-timeout TIME    close a keep-alive connection idle this long (default 60s)\n"
"      --write-timeout TIME   close a connection whose output made no progress (default 30s)\n"
"      --drain-timeout TIME   on SIGTERM/SIGINT, wait this long for in-flight requests\n"
"                             (default 10s)\n"
"      --max-header-bytes N   request line + header fields limit, also the per-connection\n"
"                             read buffer (default 8192; longer line: 414, else 431)\n"
"      --max-body-bytes N     request body limit (default 1048576; larger: 413)\n"
"      --batch N              events per epoll_wait (default 512)\n"
"      --defer-accept TIME    TCP_DEFER_ACCEPT: wake on a connection only when its first\n"
"                             data arrives, and answer it right after accept (default 1s;\n"
"                             0 = off)\n"
"      --no-nodelay           leave Nagle's algorithm on (default: TCP_NODELAY set)\n"
"  -h, --help                 this help\n"
"  -V, --version              version\n"
"\n"
"Signals: SIGTERM/SIGINT drain and exit 0 (a second one exits at once);\n"
"SIGHUP logs a status line (nothing is reloaded).\n"
"The start-up line on stderr states workers, CPUs, effective backlog, nofile limit and\n"
"timeouts. Requests are not logged; see /metrics.\n");
}

/* TIME -> milliseconds; returns -1 if malformed */
static long parse_time_ms(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		;
	else if (*end == 0 || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60000;
	else
		return -1;
	if (v > (double)INT_MAX)
		return -1;
	return (long)(v + 0.5);
}

static int parse_num(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "ADDR:PORT" or "[V6]:PORT" -> sockaddr. 0 or -1. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	unsigned long long port;
	size_t hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - s - 1);
		colon = rb + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl >= sizeof(host) || parse_num(colon + 1, 65535, &port))
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (hl == 0 || inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	return -1;
}

/* One listener. Returns the fd or -errno. */
static int open_listener(const struct sockaddr_storage *ss, socklen_t len,
			 const struct opts *o)
{
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, len) ||
	    listen(fd, o->backlog))
		goto fail;
	if (o->defer_accept_s &&
	    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &o->defer_accept_s,
			sizeof(o->defer_accept_s)))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void fmt_ms(char *buf, size_t len, unsigned ms)
{
	if (ms == 0)
		snprintf(buf, len, "off");
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
}

struct thread_arg {
	struct worker *w;
	int cpu;		/* -1: not pinned */
	int err;		/* worker_run() result */
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;

	if (a->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(a->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	a->err = worker_run(a->w);
	return NULL;
}

static uint64_t total_requests(struct worker **ws, int n)
{
	uint64_t t = 0;
	int i, r, s;

	for (i = 0; i < n; i++) {
		struct metrics *m = worker_metrics(ws[i]);

		for (r = 0; r < METRICS_ROUTES; r++)
			for (s = 0; s < ST_COUNT; s++)
				t += METRIC_GET(m->requests[r][s]);
	}
	return t;
}

enum {
	OPT_HEADER_TO = 256, OPT_IDLE_TO, OPT_WRITE_TO, OPT_DRAIN_TO, OPT_MAX_HDR,
	OPT_MAX_BODY, OPT_BATCH, OPT_DEFER, OPT_NO_NODELAY,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "workers", required_argument, NULL, 'w' },
	{ "threads", required_argument, NULL, 'w' },
	{ "pin", no_argument, NULL, 'p' },
	{ "root", required_argument, NULL, 'r' },
	{ "demo", no_argument, NULL, 'd' },
	{ "backlog", required_argument, NULL, 'b' },
	{ "max-conns", required_argument, NULL, 'c' },
	{ "header-timeout", required_argument, NULL, OPT_HEADER_TO },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TO },
	{ "write-timeout", required_argument, NULL, OPT_WRITE_TO },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TO },
	{ "max-header-bytes", required_argument, NULL, OPT_MAX_HDR },
	{ "max-body-bytes", required_argument, NULL, OPT_MAX_BODY },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "defer-accept", required_argument, NULL, OPT_DEFER },
	{ "no-nodelay", no_argument, NULL, OPT_NO_NODELAY },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .listen = "0.0.0.0:8080", .backlog = 4096, .defer_accept_s = 1 };
	struct server_config cfg = {
		.max_conns = 16384, .header_timeout_ms = 10000, .idle_timeout_ms = 60000,
		.write_timeout_ms = 30000, .drain_timeout_ms = 10000,
		.max_header_bytes = 8192, .max_body_bytes = 1 << 20, .root_fd = -1,
		.nodelay = true, .batch = 512,
	};
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct cpus cpus;
	struct rlimit rl;
	struct worker **ws = NULL;
	struct thread_arg *args = NULL;
	pthread_t *tids = NULL;
	sigset_t sigs;
	int i, ch, rc = 1, nstarted = 0, err;
	unsigned long long v;
	long ms;
	long somaxconn, eff_backlog;
	char cpulist[256], quota[32], t1[16], t2[16], t3[16], t4[16], addr[INET6_ADDRSTRLEN];

	while ((ch = getopt_long(argc, argv, "l:w:pr:db:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o.listen = optarg;
			break;
		case 'w':
			if (parse_num(optarg, 256, &v) || v == 0)
				return usage_error("invalid worker count '%s' (1-256)", optarg);
			o.workers = (int)v;
			break;
		case 'p':
			o.pin = true;
			break;
		case 'r':
			o.root = optarg;
			break;
		case 'd':
			cfg.demo = true;
			break;
		case 'b':
			if (parse_num(optarg, INT_MAX, &v) || v == 0)
				return usage_error("invalid backlog '%s'", optarg);
			o.backlog = (int)v;
			break;
		case 'c':
			if (parse_num(optarg, UINT_MAX, &v))
				return usage_error("invalid connection limit '%s'", optarg);
			cfg.max_conns = (unsigned)v;
			break;
		case OPT_HEADER_TO: case OPT_IDLE_TO: case OPT_WRITE_TO: case OPT_DRAIN_TO: case OPT_DEFER:
			ms = parse_time_ms(optarg);
			if (ms < 0)
				return usage_error("invalid time '%s' (e.g. 10, 0.5, 500ms, 2s, 1m)", optarg);
			if (ch == OPT_HEADER_TO)
				cfg.header_timeout_ms = (unsigned)ms;
			else if (ch == OPT_IDLE_TO)
				cfg.idle_timeout_ms = (unsigned)ms;
			else if (ch == OPT_WRITE_TO)
				cfg.write_timeout_ms = (unsigned)ms;
			else if (ch == OPT_DRAIN_TO)
				cfg.drain_timeout_ms = (unsigned)ms;
			else
				o.defer_accept_s = (int)((ms + 999) / 1000);
			break;
		case OPT_MAX_HDR:
			if (parse_num(optarg, 1 << 20, &v) || v < 256)
				return usage_error("invalid header limit '%s' (256-1048576)", optarg);
			cfg.max_header_bytes = (size_t)v;
			break;
		case OPT_MAX_BODY:
			if (parse_num(optarg, 1ULL << 62, &v))
				return usage_error("invalid body limit '%s'", optarg);
			cfg.max_body_bytes = v;
			break;
		case OPT_BATCH:
			if (parse_num(optarg, 65536, &v) || v == 0)
				return usage_error("invalid batch '%s' (1-65536)", optarg);
			cfg.batch = (int)v;
			break;
		case OPT_NO_NODELAY:
			cfg.nodelay = false;
			break;
		case 'h':
			usage(stdout);
			return fflush(stdout) ? 1 : 0;
		case 'V':
			printf(PROG " " VERSION "\n");
			return fflush(stdout) ? 1 : 0;
		default:
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (parse_listen(o.listen, &ss, &sslen))
		return usage_error("invalid --listen '%s' (want ADDR:PORT or [V6ADDR]:PORT)", o.listen);
	cfg.defer_accept = o.defer_accept_s > 0;
	/* after an error response: discard input briefly so the client reads it */
	cfg.linger_ms = cfg.write_timeout_ms && cfg.write_timeout_ms < 2000 ? cfg.write_timeout_ms : 2000;

	if ((err = cpus_detect(&cpus, "/sys/fs/cgroup", "/proc/self/cgroup"))) {
		fprintf(stderr, PROG ": cannot read the CPU affinity mask: %s\n", strerror(-err));
		return 1;
	}
	if (!o.workers)
		o.workers = cpus.usable;

	if (o.root) {
		cfg.root_fd = open(o.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cfg.root_fd < 0) {
			fprintf(stderr, PROG ": cannot open --root '%s': %s\n", o.root, strerror(errno));
			return 1;
		}
	}

	getrlimit(RLIMIT_NOFILE, &rl);
	{
		/* the table covers every fd we could ever get (up to the hard
		 * limit; pages are only touched as fds are used) */
		size_t slots = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 22) ?
			       (1u << 22) : (size_t)rl.rlim_max;

		if (slots < rl.rlim_cur && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= (1u << 22))
			slots = rl.rlim_cur;
		if ((err = conn_table_init(slots))) {
			fprintf(stderr, PROG ": cannot map the connection table: %s\n", strerror(-err));
			return 1;
		}
	}

	/* signals go to the main thread only: block them before any thread */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	ws = calloc((size_t)o.workers, sizeof(*ws));
	args = calloc((size_t)o.workers, sizeof(*args));
	tids = calloc((size_t)o.workers, sizeof(*tids));
	if (!ws || !args || !tids) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	for (i = 0; i < o.workers; i++) {
		int fd = open_listener(&ss, sslen, &o);

		if (fd < 0) {
			fprintf(stderr, PROG ": cannot listen on '%s': %s\n", o.listen, strerror(-fd));
			goto out;
		}
		if (i == 0) {
			/* port 0: the others must join the port the first got */
			struct sockaddr_storage got;
			socklen_t gl = sizeof(got);

			if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0) {
				ss = got;
				sslen = gl;
			}
		}
		ws[i] = worker_new(&cfg, i, fd);
		if (!ws[i]) {
			fprintf(stderr, PROG ": cannot set up worker %d: %s\n", i, strerror(errno));
			close(fd);
			goto out;
		}
	}

	somaxconn = read_long("/proc/sys/net/core/somaxconn");
	eff_backlog = somaxconn > 0 && somaxconn < o.backlog ? somaxconn : o.backlog;
	cpus_format(&cpus, cpulist, sizeof(cpulist));
	if (cpus.quota > 0)
		snprintf(quota, sizeof(quota), "%.2f", cpus.quota);
	else
		snprintf(quota, sizeof(quota), "none");
	fmt_ms(t1, sizeof(t1), cfg.header_timeout_ms);
	fmt_ms(t2, sizeof(t2), cfg.idle_timeout_ms);
	fmt_ms(t3, sizeof(t3), cfg.write_timeout_ms);
	fmt_ms(t4, sizeof(t4), cfg.drain_timeout_ms);
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
	fprintf(stderr, PROG ": listening on %s%s%s:%u, %d workers (usable CPUs %d: allowed %s, "
		"cgroup quota %s)%s, backlog %ld (requested %d, somaxconn %ld), nofile %llu "
		"(hard %llu), max-conns %u, timeouts header %s idle %s write %s drain %s, "
		"max-header %zu B, max-body %llu B, root %s, demo %s\n",
		ss.ss_family == AF_INET6 ? "[" : "", addr, ss.ss_family == AF_INET6 ? "]" : "",
		ntohs(((struct sockaddr_in *)&ss)->sin_port), o.workers, cpus.usable, cpulist,
		quota, o.pin ? ", pinned" : "", eff_backlog, o.backlog, somaxconn,
		(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, cfg.max_conns,
		t1, t2, t3, t4, cfg.max_header_bytes, (unsigned long long)cfg.max_body_bytes,
		o.root ? o.root : "off", cfg.demo ? "on" : "off");
	if (eff_backlog < o.backlog)
		fprintf(stderr, PROG ": warning: backlog %d clamped to %ld by net.core.somaxconn\n",
			o.backlog, eff_backlog);
	if (cfg.max_conns && rl.rlim_cur != RLIM_INFINITY && cfg.max_conns + 64 > rl.rlim_cur)
		fprintf(stderr, PROG ": warning: max-conns %u needs more descriptors than nofile %llu "
			"allows; accepting pauses on EMFILE (raise 'ulimit -n')\n",
			cfg.max_conns, (unsigned long long)rl.rlim_cur);

	for (i = 0; i < o.workers; i++) {
		args[i].w = ws[i];
		args[i].cpu = o.pin ? cpus_nth(&cpus, i) : -1;
		if ((err = pthread_create(&tids[i], NULL, thread_main, &args[i]))) {
			fprintf(stderr, PROG ": cannot start worker %d: %s\n", i, strerror(err));
			goto stop;
		}
		nstarted++;
	}

	for (;;) {
		struct timespec to = { 1, 0 };
		int sig = sigtimedwait(&sigs, NULL, &to);

		if (sig == SIGHUP) {
			fprintf(stderr, PROG ": SIGHUP: %u connections open, %llu requests answered "
				"(nothing to reload)\n", conn_open_count(),
				(unsigned long long)total_requests(ws, o.workers));
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			fprintf(stderr, PROG ": %s: draining %u connections (up to %s)\n",
				sig == SIGTERM ? "SIGTERM" : "SIGINT", conn_open_count(), t4);
			break;
		}
		/* a worker that died (epoll failure) ends the process */
		for (i = 0; i < nstarted; i++)
			if (args[i].err) {
				fprintf(stderr, PROG ": worker %d failed: %s\n", i, strerror(-args[i].err));
				goto stop;
			}
	}
	rc = 0;
stop:
	for (i = 0; i < nstarted; i++)
		worker_stop(ws[i]);
	{
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += (time_t)(cfg.drain_timeout_ms / 1000 + 2);
		for (i = 0; i < nstarted; i++) {
			int r;

			do {
				struct timespec to = { 0, 100 * 1000000 };
				int sig = sigtimedwait(&sigs, NULL, &to);

				if (sig == SIGTERM || sig == SIGINT) {
					fprintf(stderr, PROG ": second signal: exiting now\n");
					_exit(1);
				}
				r = pthread_tryjoin_np(tids[i], NULL);
				if (r == EBUSY) {
					struct timespec now;

					clock_gettime(CLOCK_REALTIME, &now);
					if (now.tv_sec > deadline.tv_sec) {
						fprintf(stderr, PROG ": drain timeout: worker %d still busy; "
							"exiting\n", i);
						fflush(stderr);
						_exit(rc);
					}
				}
			} while (r == EBUSY);
			if (args[i].err && rc == 0) {
				fprintf(stderr, PROG ": worker %d failed: %s\n", i, strerror(-args[i].err));
				rc = 1;
			}
		}
	}
	fprintf(stderr, PROG ": stopped, %llu requests answered\n",
		(unsigned long long)total_requests(ws, o.workers));
out:
	if (ws)
		for (i = 0; i < o.workers; i++)
			worker_free(ws[i]);
	free(ws);
	free(args);
	free(tids);
	if (cfg.root_fd >= 0)
		close(cfg.root_fd);
	return rc;
}
