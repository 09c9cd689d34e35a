/* leaks.c - `qps-tune probe leaks --pid PID`: is it leaking descriptors or
 * connections?
 *
 * No BPF: every --interval it samples the process's open descriptors by type
 * (readlinkat() of each /proc/PID/fd entry: never followed, at most
 * LK_MAX_FDS per sample) and its TCP sockets by state (a sock_diag dump of
 * its network namespace, matched to its socket inodes). Over the window each
 * series gets a least-squares line; a series that rises steadily (r^2 >= 0.7
 * and a rise of at least 3 and 5 %) is flagged, with the time until the
 * descriptors reach the soft RLIMIT_NOFILE at that rate. The peers of its
 * CLOSE_WAIT sockets (the other side closed, the process did not) are named.
 * /proc/PID is someone else's: the pid's start time is checked at each sample
 * so a reused pid is not mistaken for the same process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "json.h"
#include "procfs.h"
#include "promfile.h"
#include "tcpsocks.h"

enum { LK_PROM = 0x200 };

#define LK_MAX_FDS (1 << 22)		/* descriptors read per sample */
#define LK_MAX_SAMPLES 100000
#define LK_TCP_STATES 13

enum fd_type {
	FT_FILE, FT_SOCKET_TCP, FT_SOCKET_OTHER, FT_PIPE, FT_EVENTPOLL, FT_EVENTFD, FT_TIMERFD,
	FT_SIGNALFD, FT_INOTIFY, FT_ANON_OTHER, FT_DEVICE, FT_OTHER, FT_N
};
static const char *const ft_names[FT_N] = {
	"file", "socket_tcp", "socket_other", "pipe", "eventpoll", "eventfd", "timerfd",
	"signalfd", "inotify", "anon_inode", "device", "other",
};

struct sample {
	double t;			/* seconds since the start */
	uint32_t fds;
	uint32_t type[FT_N];
	uint32_t tcp[LK_TCP_STATES];	/* the process's TCP sockets by state */
};

struct peer {
	char addr[64];			/* remote address without port */
	int count;
	char example[64];		/* one addr:port */
};

struct lk {
	struct probe_opts o;
	const char *prom;
	int fd_dir;			/* /proc/PID/fd */
	int netns;			/* /proc/PID/ns/net, -1: same as ours */
	unsigned long long starttime;	/* field 22 of /proc/PID/stat */
	char comm[17];
	long long nofile_soft, nofile_hard;	/* -1: unlimited or unknown */
	struct sample *s;
	int n, cap;			/* samples taken, room for */
	bool gone, truncated;
	int sock_err;			/* last sock_diag error (0: fine) */
	struct peer *peers;		/* CLOSE_WAIT peers at the last sample */
	int npeers;
	uint64_t t0;
};

struct trend {
	const char *name;
	char label[32];
	double first, last, min, max, slope, r2;
	bool growing;
	double to_nofile;		/* seconds; < 0: not applicable */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe leaks --pid PID [--duration S] [--interval S] [--json] [--prom FILE]\n"
		"  samples the process every --interval (default 1 s) for --duration (default 30 s):\n"
		"  open descriptors by type and its TCP sockets by state; flags series that grow\n"
		"  steadily (least-squares fit), estimates when descriptors reach the soft\n"
		"  RLIMIT_NOFILE, and names the peers of CLOSE_WAIT sockets (closed by the peer,\n"
		"  never by the process: the classic leak).\n");
}

static unsigned long long proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = procfs_read(path, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	/* comm may hold spaces and ')': fields count from the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	return v;
}

static void read_nofile(struct lk *c)
{
	char path[64], buf[8192], *line, *save = NULL;

	c->nofile_soft = c->nofile_hard = -1;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)c->o.pid);
	if (procfs_read(path, buf, sizeof(buf)) <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char soft[32], hard[32];

		if (strncmp(line, "Max open files", 14) || sscanf(line + 14, "%31s %31s", soft, hard) != 2)
			continue;
		c->nofile_soft = strcmp(soft, "unlimited") ? strtoll(soft, NULL, 10) : -1;
		c->nofile_hard = strcmp(hard, "unlimited") ? strtoll(hard, NULL, 10) : -1;
	}
}

static enum fd_type classify(const char *l, uint64_t *sock_ino)
{
	unsigned long long ino;

	if (sscanf(l, "socket:[%llu]", &ino) == 1) {
		*sock_ino = ino;
		return FT_SOCKET_OTHER;		/* TCP once matched with sock_diag */
	}
	if (!strncmp(l, "pipe:", 5))
		return FT_PIPE;
	if (!strncmp(l, "anon_inode:", 11)) {
		l += 11;
		if (strstr(l, "eventpoll"))
			return FT_EVENTPOLL;
		if (strstr(l, "eventfd"))
			return FT_EVENTFD;
		if (strstr(l, "timerfd"))
			return FT_TIMERFD;
		if (strstr(l, "signalfd"))
			return FT_SIGNALFD;
		if (strstr(l, "inotify"))
			return FT_INOTIFY;
		return FT_ANON_OTHER;
	}
	if (!strncmp(l, "/dev/", 5))
		return FT_DEVICE;
	if (l[0] == '/')
		return FT_FILE;
	return FT_OTHER;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void note_peer(struct lk *c, const struct tcp_sock *s)
{
	char full[64], addr[64];
	char *colon;

	tcpsocks_remote_str(s, full, sizeof(full));
	snprintf(addr, sizeof(addr), "%s", full);
	colon = strrchr(addr, ':');
	if (colon)
		*colon = 0;
	for (int i = 0; i < c->npeers; i++)
		if (!strcmp(c->peers[i].addr, addr)) {
			c->peers[i].count++;
			return;
		}
	struct peer *p = realloc(c->peers, (c->npeers + 1) * sizeof(*p));

	if (!p)
		return;
	c->peers = p;
	snprintf(p[c->npeers].addr, sizeof(p[0].addr), "%s", addr);
	snprintf(p[c->npeers].example, sizeof(p[0].example), "%s", full);
	p[c->npeers++].count = 1;
}

/* One sample into c->s[c->n]. Returns 0, or -ESRCH when the process is gone. */
static int take_sample(struct lk *c)
{
	struct sample *s;
	uint64_t *inodes = NULL;
	size_t ninodes = 0, cap = 0;
	struct tcp_sock *socks = NULL;
	struct dirent *de;
	DIR *d;
	int dfd, nsocks, err = 0;

	if (c->n >= c->cap)
		return 0;
	if (proc_starttime(c->o.pid) != c->starttime) {
		c->gone = true;
		return -ESRCH;
	}
	s = &c->s[c->n];
	memset(s, 0, sizeof(*s));
	s->t = (probe_now_ns() - c->t0) / 1e9;
	dfd = dup(c->fd_dir);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		err = -errno;
		close(dfd);
		return err;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		char link[512];
		uint64_t ino = 0;
		ssize_t len;
		enum fd_type t;

		if (de->d_name[0] == '.')
			continue;
		if (s->fds >= LK_MAX_FDS) {
			c->truncated = true;
			break;
		}
		/* readlinkat never follows: we only read the link's text */
		len = readlinkat(c->fd_dir, de->d_name, link, sizeof(link) - 1);
		if (len < 0)
			continue;	/* closed meanwhile */
		link[len] = 0;
		t = classify(link, &ino);
		s->fds++;
		s->type[t]++;
		if (ino) {
			if (ninodes == cap) {
				uint64_t *v = realloc(inodes, (cap = cap ? cap * 2 : 256) * sizeof(*v));

				if (!v) {
					err = -ENOMEM;
					break;
				}
				inodes = v;
			}
			inodes[ninodes++] = ino;
		}
	}
	closedir(d);
	if (err)
		goto out;
	if (proc_starttime(c->o.pid) != c->starttime) {
		c->gone = true;
		err = -ESRCH;
		goto out;
	}
	if (ninodes)
		qsort(inodes, ninodes, sizeof(*inodes), cmp_u64);
	nsocks = tcpsocks_dump(c->netns, &socks);
	c->sock_err = nsocks < 0 ? nsocks : 0;
	c->npeers = 0;
	for (int i = 0; i < nsocks; i++) {
		if (!socks[i].inode || !ninodes || !bsearch(&socks[i].inode, inodes, ninodes, sizeof(*inodes), cmp_u64))
			continue;
		if (socks[i].state < LK_TCP_STATES)
			s->tcp[socks[i].state]++;
		s->type[FT_SOCKET_TCP]++;
		s->type[FT_SOCKET_OTHER]--;
		if (socks[i].state == 8 /* TCP_CLOSE_WAIT */)
			note_peer(c, &socks[i]);
	}
	c->n++;
out:
	free(socks);
	free(inodes);
	return err;
}

/* least squares y = a + b t; r^2 (1 when y is constant) */
static void fit(const struct lk *c, double (*get)(const struct sample *, int), int arg, struct trend *tr)
{
	double st = 0, sy = 0, stt = 0, sty = 0, syy = 0, n = c->n;

	tr->min = INFINITY;
	tr->max = -INFINITY;
	for (int i = 0; i < c->n; i++) {
		double t = c->s[i].t, y = get(&c->s[i], arg);

		st += t, sy += y, stt += t * t, sty += t * y, syy += y * y;
		if (y < tr->min)
			tr->min = y;
		if (y > tr->max)
			tr->max = y;
	}
	tr->first = c->n ? get(&c->s[0], arg) : 0;
	tr->last = c->n ? get(&c->s[c->n - 1], arg) : 0;
	double vt = n * stt - st * st, vy = n * syy - sy * sy, cov = n * sty - st * sy;

	tr->slope = vt > 0 ? cov / vt : 0;
	tr->r2 = vt > 0 && vy > 0 ? cov * cov / (vt * vy) : 1;
	double span = c->n > 1 ? c->s[c->n - 1].t - c->s[0].t : 0;
	double rise = tr->slope * span;

	tr->growing = c->n >= 4 && tr->slope > 0 && tr->r2 >= 0.7 && rise >= 3 && rise >= 0.05 * tr->first;
	tr->to_nofile = -1;
}

static double get_fds(const struct sample *s, int arg) { (void)arg; return s->fds; }
static double get_type(const struct sample *s, int arg) { return s->type[arg]; }
static double get_tcp(const struct sample *s, int arg) { return s->tcp[arg]; }

/* every series with a non-zero value at some sample */
static int trends(struct lk *c, struct trend *tr)
{
	int n = 0;

	tr[n].name = "fds";
	snprintf(tr[n].label, sizeof(tr[n].label), "all");
	fit(c, get_fds, 0, &tr[n]);
	if (tr[n].growing && c->nofile_soft > 0 && tr[n].slope > 0)
		tr[n].to_nofile = (c->nofile_soft - tr[n].last) / tr[n].slope;
	n++;
	for (int t = 0; t < FT_N; t++) {
		tr[n].name = "fds";
		snprintf(tr[n].label, sizeof(tr[n].label), "%s", ft_names[t]);
		fit(c, get_type, t, &tr[n]);
		if (tr[n].max > 0)
			n++;
	}
	for (int st = 1; st < LK_TCP_STATES; st++) {
		tr[n].name = "tcp";
		snprintf(tr[n].label, sizeof(tr[n].label), "%s", tcpsocks_state_name(st));
		fit(c, get_tcp, st, &tr[n]);
		if (tr[n].max > 0)
			n++;
	}
	return n;
}

static int cmp_peer(const void *a, const void *b)
{
	const struct peer *x = a, *y = b;

	return y->count - x->count;
}

static int write_prom(struct lk *c, const struct trend *tr, int nt)
{
	struct promfile *p = promfile_new(c->prom);
	const struct sample *s = &c->s[c->n - 1];
	char pid[16];
	int err;

	if (!p)
		return -errno;
	snprintf(pid, sizeof(pid), "%d", (int)c->o.pid);
	promfile_help(p, "qps_leaks_open_fds", "gauge", "open descriptors of the process by type");
	for (int t = 0; t < FT_N; t++)
		promfile_sample(p, "qps_leaks_open_fds", (const char *[]){ "comm", c->comm, "pid", pid, "type", ft_names[t], NULL },
				s->type[t]);
	promfile_help(p, "qps_leaks_tcp_sockets", "gauge", "TCP sockets of the process by state");
	for (int st = 1; st < LK_TCP_STATES; st++)
		promfile_sample(p, "qps_leaks_tcp_sockets", (const char *[]){ "comm", c->comm, "pid", pid, "state", tcpsocks_state_name(st), NULL },
				s->tcp[st]);
	promfile_help(p, "qps_leaks_nofile_limit", "gauge", "soft RLIMIT_NOFILE of the process (-1: unlimited or unknown)");
	promfile_sample(p, "qps_leaks_nofile_limit", (const char *[]){ "comm", c->comm, "pid", pid, NULL }, (double)c->nofile_soft);
	promfile_help(p, "qps_leaks_growing", "gauge", "1 when the series grows steadily over the window so far");
	for (int i = 0; i < nt; i++)
		promfile_sample(p, "qps_leaks_growing",
				(const char *[]){ "comm", c->comm, "pid", pid, "series", tr[i].name, "kind", tr[i].label, NULL },
				tr[i].growing);
	err = promfile_commit(p);
	promfile_free(p);
	return err;
}

static int lk_tick(void *ctx, bool final)
{
	struct lk *c = ctx;
	struct trend tr[1 + FT_N + LK_TCP_STATES];
	int err, nt = 0;
	bool leaking = false;
	struct json j;

	if (!c->gone) {
		err = take_sample(c);
		if (err && err != -ESRCH)
			return err;
		if (err == -ESRCH)
			probe_note(&c->o, "process %d exited (or its pid was reused): sampling stopped", (int)c->o.pid);
	}
	if (c->n == 0) {
		probe_err(&c->o, "no sample of process %d was taken", (int)c->o.pid);
		return -ESRCH;
	}
	nt = trends(c, tr);
	for (int i = 0; i < nt; i++)
		leaking |= tr[i].growing;
	if (c->npeers)
		qsort(c->peers, c->npeers, sizeof(*c->peers), cmp_peer);
	if (c->prom) {
		err = write_prom(c, tr, nt);
		if (err)
			probe_err(&c->o, "cannot write '%s': %s", c->prom, strerror(-err));
	}
	if (!final) {
		const struct sample *s = &c->s[c->n - 1];

		if (!c->o.json)
			printf("%7.1f s  fds %u  tcp %u (ESTABLISHED %u, CLOSE_WAIT %u)\n", s->t, s->fds,
			       s->type[FT_SOCKET_TCP], s->tcp[1], s->tcp[8]);
		fflush(stdout);
		return 0;
	}
	if (c->o.json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.probe.leaks/1");
		json_int(&j, "pid", c->o.pid);
		json_str(&j, "comm", c->comm);
		json_double(&j, "interval_s", c->o.interval);
		json_bool(&j, "exited", c->gone);
		json_bool(&j, "truncated", c->truncated);
		if (c->nofile_soft >= 0)
			json_int(&j, "nofile_soft", c->nofile_soft);
		else
			json_null(&j, "nofile_soft");
		if (c->nofile_hard >= 0)
			json_int(&j, "nofile_hard", c->nofile_hard);
		else
			json_null(&j, "nofile_hard");
		if (c->sock_err)
			json_str(&j, "tcp_unavailable", strerror(-c->sock_err));
		else
			json_null(&j, "tcp_unavailable");
		json_arr_open(&j, "samples");
		for (int i = 0; i < c->n; i++) {
			json_obj_open(&j, NULL);
			json_double(&j, "t", c->s[i].t);
			json_uint(&j, "fds", c->s[i].fds);
			json_obj_open(&j, "types");
			for (int t = 0; t < FT_N; t++)
				if (c->s[i].type[t])
					json_uint(&j, ft_names[t], c->s[i].type[t]);
			json_obj_close(&j);
			json_obj_open(&j, "tcp");
			for (int st = 1; st < LK_TCP_STATES; st++)
				if (c->s[i].tcp[st])
					json_uint(&j, tcpsocks_state_name(st), c->s[i].tcp[st]);
			json_obj_close(&j);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_arr_open(&j, "trends");
		for (int i = 0; i < nt; i++) {
			json_obj_open(&j, NULL);
			json_str(&j, "series", tr[i].name);
			json_str(&j, "kind", tr[i].label);
			json_double(&j, "first", tr[i].first);
			json_double(&j, "last", tr[i].last);
			json_double(&j, "slope_per_s", tr[i].slope);
			json_double(&j, "r2", tr[i].r2);
			json_bool(&j, "growing", tr[i].growing);
			if (tr[i].to_nofile >= 0)
				json_double(&j, "seconds_to_nofile", tr[i].to_nofile);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_bool(&j, "leaking", leaking);
		json_arr_open(&j, "close_wait_peers");
		for (int i = 0; i < c->npeers; i++) {
			json_obj_open(&j, NULL);
			json_str(&j, "addr", c->peers[i].addr);
			json_int(&j, "count", c->peers[i].count);
			json_str(&j, "example", c->peers[i].example);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
	} else {
		printf("leaks: %s (%d) over %.1f s, %d samples every %.2f s%s; nofile %lld soft, %lld hard\n",
		       c->comm, (int)c->o.pid, c->s[c->n - 1].t, c->n, c->o.interval,
		       c->gone ? " (process exited)" : "", c->nofile_soft, c->nofile_hard);
		if (c->sock_err)
			printf("TCP sockets not seen: sock_diag in its namespace failed: %s\n", strerror(-c->sock_err));
		printf("\n%-5s %-14s %8s %8s %8s %8s %10s %6s  %s\n", "", "kind", "first", "last", "min", "max", "slope/s", "r2", "verdict");
		for (int i = 0; i < nt; i++) {
			printf("%-5s %-14s %8.0f %8.0f %8.0f %8.0f %10.3f %6.2f  %s", tr[i].name, tr[i].label, tr[i].first,
			       tr[i].last, tr[i].min, tr[i].max, tr[i].slope, tr[i].r2, tr[i].growing ? "GROWING" : "-");
			if (tr[i].to_nofile >= 0)
				printf(" (reaches nofile %lld in ~%.0f s)", c->nofile_soft, tr[i].to_nofile);
			printf("\n");
		}
		if (c->npeers) {
			printf("\nCLOSE_WAIT peers (the peer closed, the process did not):\n");
			for (int i = 0; i < c->npeers; i++)
				printf("  %6d  %s (e.g. %s)\n", c->peers[i].count, c->peers[i].addr, c->peers[i].example);
		}
		printf("\n%s\n", leaking ? "verdict: LEAKING (series marked GROWING)" : "verdict: no steady growth seen");
	}
	fflush(stdout);
	return 0;
}

int probe_leaks(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "prom", required_argument, NULL, LK_PROM },
		{ NULL, 0, NULL, 0 },
	};
	struct lk c = { .fd_dir = -1, .netns = -1 };
	bool help = false;
	int ch, err, end, ret = 1;
	char path[64];
	struct stat a, b;

	probe_opts_init(&c.o, "leaks");
	optind = 1;
	while ((ch = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&c.o, ch, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		if (ch == LK_PROM) {
			c.prom = optarg;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&c.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (!c.o.pid) {
		probe_err(&c.o, "--pid is required");
		usage(stderr);
		return 2;
	}
	if (c.o.comm[0] || c.o.cgroup) {
		/* one process is sampled: a filter over many would be ignored */
		probe_err(&c.o, "%s does not apply (leaks samples the one process --pid names)",
			  c.o.comm[0] ? "--comm" : "--cgroup");
		return 2;
	}
	if (c.o.interval == 0)
		c.o.interval = 1;
	if (c.o.duration == 0)
		c.o.duration = 30;
	/* the first sample, one per interval, one at the end */
	c.cap = LK_MAX_SAMPLES < c.o.duration / c.o.interval + 4 ? LK_MAX_SAMPLES :
		(int)(c.o.duration / c.o.interval + 4);
	c.s = calloc(c.cap, sizeof(*c.s));
	if (!c.s) {
		probe_err(&c.o, "out of memory");
		return 1;
	}
	c.starttime = proc_starttime(c.o.pid);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)c.o.pid);
	c.fd_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (!c.starttime || c.fd_dir < 0) {
		err = errno;
		probe_err(&c.o, "cannot read '%s': %s%s", path, strerror(err),
			  err == EACCES ? " (another user's process: run as root or its owner)" : "");
		goto out;
	}
	if (proc_comm(c.o.pid, c.comm, sizeof(c.comm)))
		snprintf(c.comm, sizeof(c.comm), "?");
	read_nofile(&c);
	/* its network namespace, unless it is ours */
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)c.o.pid);
	if (stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino != b.st_ino) {
		c.netns = open(path, O_RDONLY | O_CLOEXEC);
		if (c.netns < 0)
			probe_note(&c.o, "cannot open '%s' (%s): its TCP sockets will not be seen", path, strerror(errno));
	}
	probe_setup(&c.o);
	c.t0 = probe_now_ns();
	probe_note(&c.o, "sampling %s (%d) every %.2f s for %.1f s; Ctrl-C to end", c.comm, (int)c.o.pid,
		   c.o.interval, c.o.duration);
	/* the first sample at once; then one per interval and one at the end */
	err = take_sample(&c);
	if (err && err != -ESRCH) {
		probe_err(&c.o, "cannot sample process %d: %s", (int)c.o.pid, strerror(-err));
		goto out;
	}
	ret = probe_run(&c.o, lk_tick, NULL, &c) ? 1 : 0;
out:
	if (c.fd_dir >= 0)
		close(c.fd_dir);
	if (c.netns >= 0)
		close(c.netns);
	free(c.peers);
	free(c.s);
	return ret;
}
