/* diagnose.c - the diagnose engine: sample one server's host and process over
 * a window, attach the probes the window's evidence points at (and only
 * those, only from then: probe_rules), and turn the deltas into ranked
 * findings (see diagnose.h for the states).
 *
 * Rules every detector follows:
 *  - a finding needs figures from this window (deltas s1 - s0, samples taken
 *    during it, or probe reports of it); a since-boot value alone never is one;
 *  - settings come from the profile's rules through rule_decide() (the one
 *    decision audit and apply share), never re-derived here;
 *  - what could not be seen is listed with its cause (checked[], probes[]).
 *
 * Impact (the rank): 0..100, how much of the server's work the limit cost in
 * the window (share of connections refused, of time throttled or blocked),
 * raised for a limit that causes another one (descriptors before the accept
 * queue they overflow).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../probes/syscalls.h"
#include "audit.h"
#include "diagnose.h"
#include "diagnose_json.h"
#include "engine.h"
#include "privhint.h"
#include "procfs.h"
#include "sockdiag.h"
#include "tuner.h"

#define MAX_THREADS 256
#define MAX_LS 32
#define SAMPLE_MS 100
#define PROBE_GRACE_MS 450	/* after the window: the most the probes get to print */
#define PROBE_STOP_EARLY 0.5	/* seconds before the window's end the probes get SIGTERM */
#define MAX_NR 512

/* ---- counters of the network namespace */

enum {
	C_LISTEN_OVF, C_LISTEN_DROPS, C_COOKIES_SENT, C_COOKIES_FAILED, C_REQQ_DROP, C_REQQ_COOKIES,
	C_TW_OVF, C_MEM_PRESSURES, C_ABORT_MEM, C_PRUNE, C_BACKLOG_DROP, C_RETRANS, C_OUTSEGS,
	C_INSEGS, C_PASSIVE, C_ACTIVE, C_ATTEMPT_FAILS, C_INERRS, C_OUTRSTS, NCTR
};

static const char *const ctr_name[NCTR] = {
	"TcpExt:ListenOverflows", "TcpExt:ListenDrops", "TcpExt:SyncookiesSent", "TcpExt:SyncookiesFailed",
	"TcpExt:TCPReqQFullDrop", "TcpExt:TCPReqQFullDoCookies", "TcpExt:TCPTimeWaitOverflow",
	"TcpExt:TCPMemoryPressures", "TcpExt:TCPAbortOnMemory", "TcpExt:PruneCalled", "TcpExt:TCPBacklogDrop",
	"Tcp:RetransSegs", "Tcp:OutSegs", "Tcp:InSegs", "Tcp:PassiveOpens", "Tcp:ActiveOpens",
	"Tcp:AttemptFails", "Tcp:InErrs", "Tcp:OutRsts",
};

struct dsnap {
	double t;
	uint64_t c[NCTR];
	bool have[NCTR];
	uint64_t sn_drop, sn_squeeze, sn_processed;
	bool have_sn;
	long long tcp_inuse, tcp_tw, tcp_orphan, tcp_mem;
	bool have_sockstat;
	long long ct_count, ct_max;
	uint64_t ct_drop, ct_early, ct_insfail;
	bool have_ct, have_ctstat;
	struct sd_listener *ls;
	int nls, ls_err;
	uint64_t cpu_ticks;		/* server utime+stime, clock ticks */
	uint64_t run_ns, wait_ns;	/* sum over the server's threads (schedstat) */
	bool have_schedstat;
	uint64_t periods, throttled, throttled_ns;
	char quota[64], cgwhere[PATH_MAX];
	uint64_t psi_some_us;
	bool have_psi;
	bool psi_host;		/* from /proc/pressure/cpu (no per-cgroup PSI: v1) */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void app(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

static volatile sig_atomic_t interrupted;

void diagnose_interrupt(void)
{
	interrupted = 1;
}

/* Sleeps until @t, or until diagnose_interrupt() is called. */
static void sleep_until(double t)
{
	double d = t - now_s();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	while (!interrupted && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The cgroup v1/v2 directory of @where ("PATH (cgroup v1)") into @dir. */
static void cg_dir(const char *where, char *dir, size_t size)
{
	const char *sp = strstr(where, " (cgroup");

	snprintf(dir, size, "%.*s", sp ? (int)(sp - where) : (int)strlen(where), where);
}

static uint64_t field_after(const char *buf, const char *name)
{
	const char *p = buf;
	size_t n = strlen(name);

	while ((p = strstr(p, name))) {
		if ((p == buf || p[-1] == '\n') && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
		p += n;
	}
	return 0;
}

/* /sys/fs/cgroup as it was before run_prepare: a non-initial netns gets a
 * private sysfs on /sys (to show its devices), which hides the cgroup
 * mounts; an O_PATH fd taken first keeps them reachable as /proc/self/fd/N. */
static char cgroot[64] = "/sys/fs/cgroup";

/* The server's CPU cgroup (v1 cpu controller, else v2): quota, throttling,
 * per-cgroup PSI (v2). */
static void cg_cpu(pid_t pid, struct dsnap *s)
{
	char path[PATH_MAX], cg[4096], buf[1024], dir[PATH_MAX] = "", *line, *save, *p;
	long long q = -1, per = 0;
	bool v2 = false;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read(path, cg, sizeof(cg)) < 0)
		return;
	for (line = strtok_r(cg, "\n", &save); line && !dir[0]; line = strtok_r(NULL, "\n", &save)) {
		char *c = strchr(line, ':'), *r = c ? strchr(c + 1, ':') : NULL;

		if (!r || strstr(r + 1, ".."))
			continue;
		*r = '\0';
		if (!strcmp(c + 1, "cpu") || !strcmp(c + 1, "cpu,cpuacct") || !strcmp(c + 1, "cpuacct,cpu")) {
			snprintf(dir, sizeof(dir), "%s/%s%s", cgroot, c + 1, r + 1);
			if (access(dir, F_OK))
				snprintf(dir, sizeof(dir), "%s/cpu%s", cgroot, r + 1);
		}
	}
	if (!dir[0]) {
		procfs_read(path, cg, sizeof(cg));
		p = strstr(cg, "0::");
		if (p && (p == cg || p[-1] == '\n')) {
			char rel[1024];

			snprintf(rel, sizeof(rel), "%.*s", (int)strcspn(p + 3, "\n"), p + 3);
			if (strstr(rel, ".."))
				return;
			snprintf(dir, sizeof(dir), "%s%s", cgroot, strcmp(rel, "/") ? rel : "");
			snprintf(path, sizeof(path), "%s/cpu.max", dir);
			if (access(path, F_OK))
				snprintf(dir, sizeof(dir), "%s/unified%s", cgroot, strcmp(rel, "/") ? rel : "");
			v2 = true;
		}
	}
	if (!dir[0])
		return;
	/* shown as the operator knows it, not as /proc/self/fd/N */
	snprintf(s->cgwhere, sizeof(s->cgwhere), "/sys/fs/cgroup%s (cgroup %s)", dir + strlen(cgroot), v2 ? "v2" : "v1");
	if (!v2) {
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
		procfs_read_ll(path, &q);
		snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
		procfs_read_ll(path, &per);
		if (q < 0)
			snprintf(s->quota, sizeof(s->quota), "max");
		else
			snprintf(s->quota, sizeof(s->quota), "%lld %lld", q, per);
	} else {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		if (procfs_read(path, buf, sizeof(buf)) > 0)
			snprintf(s->quota, sizeof(s->quota), "%s", buf);
	}
	snprintf(path, sizeof(path), "%s/cpu.stat", dir);
	if (procfs_read(path, buf, sizeof(buf)) > 0) {
		s->periods = field_after(buf, "nr_periods");
		s->throttled = field_after(buf, "nr_throttled");
		if (strstr(buf, "throttled_usec"))
			s->throttled_ns = field_after(buf, "throttled_usec") * 1000;
		else
			s->throttled_ns = field_after(buf, "throttled_time");
	}
	snprintf(path, sizeof(path), "%s/cpu.pressure", dir);
	if (procfs_read(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "total="))) {
		s->psi_some_us = strtoull(p + 6, NULL, 10);
		s->have_psi = true;
	}
}

/* Run and run-queue wait of all the server's threads (schedstat). */
static void sched_sum(pid_t pid, struct dsnap *s)
{
	char path[PATH_MAX], buf[256];
	struct dirent *de;
	DIR *d;

	s->run_ns = s->wait_ns = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		unsigned long long run, wait;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, de->d_name);
		if (procfs_read(path, buf, sizeof(buf)) > 0 && sscanf(buf, "%llu %llu", &run, &wait) == 2) {
			s->run_ns += run;
			s->wait_ns += wait;
			s->have_schedstat = true;
		}
	}
	if (d)
		closedir(d);
}

static void snap_server(pid_t pid, struct dsnap *s)
{
	char path[PATH_MAX], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (procfs_read(path, buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')'))) {
		unsigned long long ut = 0, st = 0;

		/* fields after comm: state(3) ... utime(14) stime(15) */
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
			s->cpu_ticks = ut + st;
	}
	sched_sum(pid, s);
	cg_cpu(pid, s);
	if (!s->have_psi && procfs_read("/proc/pressure/cpu", buf, sizeof(buf)) > 0 &&
	    (p = strstr(buf, "total="))) {
		s->psi_some_us = strtoull(p + 6, NULL, 10);
		s->have_psi = true;
		s->psi_host = true;
	}
}

static void take_snap(pid_t pid, struct dsnap *s)
{
	static char buf[65536];
	char *line, *save, *p;
	int i;

	memset(s, 0, sizeof(*s));
	s->t = now_s();
	for (i = 0; i < NCTR; i++)
		s->have[i] = snmp_counter(ctr_name[i], &s->c[i]) == 0;
	if (procfs_read("/proc/net/softnet_stat", buf, sizeof(buf)) > 0) {
		s->have_sn = true;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned int processed, dropped, squeeze;

			if (sscanf(line, "%x %x %x", &processed, &dropped, &squeeze) == 3) {
				s->sn_processed += processed;
				s->sn_drop += dropped;
				s->sn_squeeze += squeeze;
			}
		}
	}
	if (procfs_read("/proc/net/sockstat", buf, sizeof(buf)) > 0 && (p = strstr(buf, "TCP: inuse "))) {
		s->have_sockstat = sscanf(p, "TCP: inuse %lld orphan %lld tw %lld", &s->tcp_inuse, &s->tcp_orphan,
					  &s->tcp_tw) == 3;
		if ((p = strstr(p, " mem ")))
			s->tcp_mem = atoll(p + 5);
	}
	s->have_ct = procfs_read_ll("/proc/sys/net/netfilter/nf_conntrack_count", &s->ct_count) == 0;
	procfs_read_ll("/proc/sys/net/netfilter/nf_conntrack_max", &s->ct_max);
	if (procfs_read("/proc/net/stat/nf_conntrack", buf, sizeof(buf)) > 0) {
		/* a header of column names, then one line of hex per CPU */
		char *hdr = strtok_r(buf, "\n", &save), *names[32], *tok, *sv2;
		int n = 0, k;

		for (tok = hdr ? strtok_r(hdr, " ", &sv2) : NULL; tok && n < 32; tok = strtok_r(NULL, " ", &sv2))
			names[n++] = tok;
		for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			for (k = 0, tok = strtok_r(line, " ", &sv2); tok && k < n; tok = strtok_r(NULL, " ", &sv2), k++) {
				uint64_t v = strtoull(tok, NULL, 16);

				if (!strcmp(names[k], "drop"))
					s->ct_drop += v;
				else if (!strcmp(names[k], "early_drop"))
					s->ct_early += v;
				else if (!strcmp(names[k], "insert_failed"))
					s->ct_insfail += v;
			}
		}
		s->have_ctstat = n > 0;
	}
	s->nls = sockdiag_listeners(&s->ls);
	if (s->nls < 0) {
		s->ls_err = s->nls;
		s->nls = 0;
		s->ls = NULL;
	}
	snap_server(pid, s);
}

static uint64_t dlt(const struct dsnap *a, const struct dsnap *b, int i)
{
	return a->have[i] && b->have[i] && b->c[i] >= a->c[i] ? b->c[i] - a->c[i] : 0;
}

static const struct sd_listener *ls_find(const struct dsnap *s, uint64_t cookie)
{
	int i;

	for (i = 0; i < s->nls; i++)
		if (s->ls[i].cookie == cookie)
			return &s->ls[i];
	return NULL;
}

/* ---- samples taken during the window */

/* A call seen this many samples in a row with its thread not having run in
 * between (schedstat pcount unchanged) lasted >= ~500 ms: a timer or a
 * background loop (sleep(1) in a housekeeping thread), not a request's
 * wait - the blocking finding's own limit (syslat mean >= 500 ms). */
#define PARKED_ROUNDS 5

struct thr_call {
	pid_t tid;
	int nr;			/* the non-idle syscall it is asleep in; -1: none */
	unsigned long long pc;	/* schedstat pcount (times it ran) then; ULLONG_MAX: unknown */
	int streak;		/* samples in a row in this very call (0: counted already) */
};

struct samples {
	int n;				/* sampling rounds */
	int thr_samples;		/* thread x round */
	int st_r, st_d, st_s;		/* of which running/runnable, uninterruptible, sleeping */
	int nthreads;
	int blocked_nr[MAX_NR];		/* thread samples blocked in syscall nr (not idle waits) */
	int short_nr[MAX_NR];		/* of which in calls seen to end within PARKED_ROUNDS samples */
	int parked_nr[MAX_NR];		/* calls seen to last PARKED_ROUNDS samples or more */
	struct thr_call th[MAX_THREADS], th_prev[MAX_THREADS];	/* this round's threads, the last round's */
	int nth, nth_prev;
	int fd_max;
	int fd_samples;
	int fd_err;
	uint32_t qpeak[MAX_LS];		/* per listener of s0 */
	uint64_t sk_drops;		/* the most any listener's sk_drops rose since s0 */
};

/* Waiting for work, not for a resource: where an idle server thread sleeps. */
static bool idle_syscall(const char *name)
{
	static const char *const idle[] = {
		"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6", "accept",
		"accept4", "futex", "rt_sigtimedwait", "rt_sigsuspend", "pause", "wait4", "waitid",
		"io_uring_enter", "sigwaitinfo", "restart_syscall", NULL,
	};
	int i;

	for (i = 0; idle[i]; i++)
		if (!strcmp(name, idle[i]))
			return true;
	return false;
}

/* Follows each thread's call from sample to sample: the samples of a call
 * that ended within PARKED_ROUNDS samples count as short (the request path);
 * one that lasts longer is a parked thread, counted once in parked_nr. */
static void call_track(struct samples *sm, struct thr_call *c)
{
	const struct thr_call *prev = NULL;
	int i;

	for (i = 0; i < sm->nth_prev && !prev; i++)
		if (sm->th_prev[i].tid == c->tid)
			prev = &sm->th_prev[i];
	c->streak = 0;
	if (prev && c->nr >= 0 && prev->nr == c->nr && c->pc != ULLONG_MAX && prev->pc == c->pc) {
		c->streak = prev->streak + 1;	/* the same call: the thread has not run since */
		if (c->streak == PARKED_ROUNDS)
			sm->parked_nr[c->nr]++;
		return;
	}
	/* the previous call ended (the thread ran): if it was short, its samples count */
	if (prev && prev->nr >= 0 && prev->streak < PARKED_ROUNDS)
		sm->short_nr[prev->nr] += prev->streak;
	if (c->nr < 0)
		return;
	if (c->pc == ULLONG_MAX)
		sm->short_nr[c->nr]++;		/* no schedstat: every sample counts, as a short call */
	else
		c->streak = 1;
}

static void sample_threads(pid_t pid, struct samples *sm)
{
	char path[PATH_MAX], buf[512], *p;
	struct dirent *de;
	int n = 0;
	DIR *d;

	memcpy(sm->th_prev, sm->th, sizeof(sm->th[0]) * (size_t)sm->nth);
	sm->nth_prev = sm->nth;
	sm->nth = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && n < MAX_THREADS) {
		struct thr_call *c;
		char state;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, de->d_name);
		if (procfs_read(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')) || !p[1])
			continue;
		state = p[2];
		n++;
		sm->thr_samples++;
		c = &sm->th[sm->nth++];
		c->tid = (pid_t)atoi(de->d_name);
		c->nr = -1;
		c->pc = ULLONG_MAX;
		if (state == 'R') {
			sm->st_r++;
			call_track(sm, c);
			continue;
		}
		if (state == 'D')
			sm->st_d++;
		else
			sm->st_s++;
		/* which syscall it sleeps in: first field of /proc/PID/task/TID/syscall */
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", (int)pid, de->d_name);
		if (procfs_read(path, buf, sizeof(buf)) > 0) {
			int nr = atoi(buf);
			const char *nm = nr >= 0 && nr < MAX_NR ? syscall_name(nr) : NULL;

			if (nm && !idle_syscall(nm)) {
				unsigned long long run, wait, pc;

				sm->blocked_nr[nr]++;
				c->nr = nr;
				snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, de->d_name);
				if (procfs_read(path, buf, sizeof(buf)) > 0 && sscanf(buf, "%llu %llu %llu", &run, &wait, &pc) == 3)
					c->pc = pc;
			}
		}
		call_track(sm, c);
	}
	closedir(d);
	if (n > sm->nthreads)
		sm->nthreads = n;
}

static void sample_round(pid_t pid, const struct dsnap *s0, struct samples *sm)
{
	struct sd_listener *ls = NULL;
	int n, i, fds;

	sm->n++;
	sample_threads(pid, sm);
	fds = proc_fd_count(pid);
	if (fds < 0)
		sm->fd_err = fds;
	else if (fds > sm->fd_max)
		sm->fd_max = fds;
	sm->fd_samples++;
	n = sockdiag_listeners(&ls);
	for (i = 0; i < n; i++) {
		int k;

		for (k = 0; k < s0->nls && k < MAX_LS; k++) {
			if (s0->ls[k].cookie != ls[i].cookie)
				continue;
			if (ls[i].queue > sm->qpeak[k])
				sm->qpeak[k] = ls[i].queue;
			if (ls[i].drops != UINT32_MAX && s0->ls[k].drops != UINT32_MAX && ls[i].drops > s0->ls[k].drops &&
			    ls[i].drops - s0->ls[k].drops > sm->sk_drops)
				sm->sk_drops = ls[i].drops - s0->ls[k].drops;
		}
	}
	free(ls);
}

/* ---- probes, run as children: qps-tune --json probe NAME ... */

struct child {
	const char *name;
	pid_t pid;		/* 0: not started, -1: could not be, < -1: -2 - exit status */
	int out, err;		/* memfds holding its stdout and stderr; -1 before */
	struct jv *doc;
	double t_start;
	bool started;		/* the window's evidence called for it and it was started */
	bool late;		/* called for too late to load before the window ends */
	double at;		/* seconds into the window it was started */
	char trigger[400];	/* the evidence that called for it, or why none did */
	char syscall[32];	/* syslat: the one syscall it traces ("": all) */
};

static void child_start(struct child *c, const struct diag_opts *o, char *const args[])
{
	char *argv[24];
	int n = 0, i;

	c->pid = -1;
	c->out = memfd_create("diagnose-probe-out", MFD_CLOEXEC);
	c->err = memfd_create("diagnose-probe-err", MFD_CLOEXEC);
	if (c->out < 0 || c->err < 0)
		return;
	argv[n++] = (char *)"qps-tune";
	argv[n++] = (char *)"--json";
	argv[n++] = (char *)"probe";
	argv[n++] = (char *)c->name;
	for (i = 0; args[i] && n < 22; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	c->t_start = now_s();
	c->pid = fork();
	if (c->pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		/* the probe must not outlive diagnose, whatever kills it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(c->out, 1);
		dup2(c->err, 2);
		execv(o->exe, argv);
		_exit(127);
	}
}

/* Reads the whole memfd @fd into a malloc'ed string; NULL if empty. */
static char *memfd_text(int fd, size_t max)
{
	struct stat st;
	char *buf;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0)
		return NULL;
	if ((size_t)st.st_size < max)
		max = (size_t)st.st_size;
	buf = malloc(max + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, max, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

/* The last non-empty line of @s into @out. */
static void last_line(const char *s, char *out, size_t size)
{
	const char *e = s + strlen(s), *b;

	while (e > s && (e[-1] == '\n' || e[-1] == ' '))
		e--;
	for (b = e; b > s && b[-1] != '\n'; b--)
		;
	snprintf(out, size, "%.*s", (int)(e - b), b);
	if (!strncmp(out, "qps-tune: ", 10))
		memmove(out, out + 10, strlen(out + 10) + 1);
}

/* Ends every child (SIGTERM: they print their final report), waits until
 * @deadline, kills the rest, and parses what they printed. */
static void children_stop(struct child *c, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (c[i].pid > 0)
			kill(c[i].pid, SIGTERM);
}

/* @unstarted: the status of a probe that was not started ("not-needed", "off"
 * under --no-probes, "unavailable" when probes cannot run here), @why its
 * cause when it is not the rules' own. */
static void children_finish(struct child *c, int n, double deadline, struct diag_result *res,
			    const char *unstarted, const char *why)
{
	int i, left = 0, st;

	children_stop(c, n);	/* again: harmless, and covers a child that missed the first */
	for (i = 0; i < n; i++)
		if (c[i].pid > 0)
			left++;
	while (left > 0 && now_s() < deadline) {
		for (i = 0; i < n; i++) {
			if (c[i].pid <= 0)
				continue;
			if (waitpid(c[i].pid, &st, WNOHANG) == c[i].pid) {
				c[i].pid = -2 - (WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
				left--;
			}
		}
		if (left)
			sleep_until(now_s() + 0.01);
	}
	for (i = 0; i < n; i++) {
		struct diag_probe *p = &res->p[res->np++];
		char *out, *err;

		p->name = c[i].name;
		p->status = "unavailable";
		p->started = c[i].started ? c[i].at : -1;
		snprintf(p->trigger, sizeof(p->trigger), "%s", c[i].trigger);
		if (!c[i].started) {
			p->status = c[i].late ? "unavailable" : unstarted;
			snprintf(p->why, sizeof(p->why), "%s", c[i].late || !why ? c[i].trigger : why);
			continue;
		}
		if (c[i].syscall[0])
			app(p->trigger, sizeof(p->trigger), "; traced only %s", c[i].syscall);
		if (c[i].pid > 0) {
			kill(c[i].pid, SIGKILL);
			waitpid(c[i].pid, &st, 0);
			snprintf(p->why, sizeof(p->why), "did not report within %.0f ms of SIGTERM (killed: "
				 "diagnose ends within its window + 1 s)", PROBE_GRACE_MS + PROBE_STOP_EARLY * 1000);
			continue;
		}
		if (c[i].pid == -1) {
			snprintf(p->why, sizeof(p->why), "could not be started: %s", strerror(errno ? errno : EAGAIN));
			continue;
		}
		out = memfd_text(c[i].out, 8 << 20);
		err = memfd_text(c[i].err, 64 << 10);
		/* the last JSON document is the final report */
		if (out) {
			char *doc = NULL, *line = out, *nl;

			for (; line && *line; line = nl ? nl + 1 : NULL) {
				nl = strchr(line, '\n');
				if (*line == '{')
					doc = line;
			}
			if (doc)
				c[i].doc = jv_parse(doc, strlen(doc));
		}
		if (c[i].doc && jv_get(c[i].doc, "error")) {
			snprintf(p->why, sizeof(p->why), "%s", jv_str(jv_get(c[i].doc, "error"), "error"));
			jv_free(c[i].doc);
			c[i].doc = NULL;
		} else if (c[i].doc) {
			const struct jv *m = jv_get(c[i].doc, "method");

			p->status = "used";
			p->elapsed = jv_num(jv_get(c[i].doc, "elapsed_s"), 0);
			if (jv_str(m, NULL))
				snprintf(p->why, sizeof(p->why), "%s", jv_str(m, ""));
			else if (jv_str(jv_get(m, "enqueue"), NULL))
				snprintf(p->why, sizeof(p->why), "%s", jv_str(jv_get(m, "enqueue"), ""));
		} else if (err && *err) {
			last_line(err, p->why, sizeof(p->why));
		} else {
			snprintf(p->why, sizeof(p->why), "exited with status %d and no report", -2 - c[i].pid);
		}
		if (!strcmp(p->status, "unavailable")) {
			char pre[32];

			/* "probe acceptq: need root..." -> "need root..." */
			snprintf(pre, sizeof(pre), "probe %s: ", c[i].name);
			if (!strncmp(p->why, pre, strlen(pre)))
				memmove(p->why, p->why + strlen(pre), strlen(p->why + strlen(pre)) + 1);
		}
		free(out);
		free(err);
	}
}

/* ---- findings */

struct dctx {
	const struct diag_opts *o;
	struct diag_result *res;
	struct run r;			/* profile rules, netns, listeners (run_prepare) */
	struct report rep;		/* one audit: the registry's verdicts */
	bool have_rep;
	struct dsnap s0, s1;
	struct samples sm;
	double w;			/* window in seconds (s1.t - s0.t) */
	const struct jv *acceptq, *syslat, *offcpu, *runqlat, *tcpdrop;
	char syslat_only[32];		/* the one syscall syslat traced ("": all) */
	unsigned long long soft, hard;	/* nofile of the server */
	int ncpu_allowed;
	cpu_set_t allowed;		/* the server's affinity */
	double hz;
};

/* ---- which probes to attach: what the window's evidence points at
 *
 * A probe costs the whole host while attached, not only the server: syslat's
 * raw syscall tracepoints ~120 ns on every syscall of every process even when
 * its program drops the call at once (~360 ns on a traced one); offcpu's and
 * runqlat's sched_switch on every context switch; acceptq's sk_data_ready
 * (fired for data on every TCP socket, not only on a listener's overflow
 * path) and tcpdrop's kfree_skb on every packet. So none is attached for the
 * whole window: at each sample round (every 100 ms) the evidence of the
 * window so far decides, and a probe it calls for is started then and traces
 * until the window ends (runqlat: RUNQ_DOSE seconds).
 *
 *   NOT NEEDED --its rule holds on the window so far--> STARTED --SIGTERM--> used | unavailable
 *       | the window ends: not-needed, with the last figures the rule saw
 *       | the rule holds < TRIG_LATE s before the probes' SIGTERM: unavailable (too late to load)
 *
 * Each rule is the one of the finding the probe adds figures to, applied to
 * the window so far (docs/diagnose.md, "Probes"): the counters already point
 * at that finding; the probe adds the histogram, the stack, the errno.
 */
enum { P_ACCEPTQ, P_SYSLAT, P_OFFCPU, P_RUNQLAT, P_TCPDROP };	/* the order of res->p[] */
static const char *const probe_names[DIAG_MAX_PROBES] = { "acceptq", "syslat", "offcpu", "runqlat", "tcpdrop" };

#define TRIG_MIN_ROUNDS 3	/* sample rounds before a sampled share may call for a probe */
#define TRIG_BLOCK_SHARE 0.10	/* rounds with a thread asleep in one non-idle syscall (the finding's 10 %) */
#define TRIG_FD_SHARE 0.80	/* descriptors open / soft nofile (the finding is at 95 %) */
#define TRIG_QUEUE_SHARE 0.50	/* accept-queue depth seen / granted backlog */
#define TRIG_RUNQ_MIN_S 0.5	/* seconds of window before the run-queue rule is judged */
#define TRIG_LATE 0.3		/* seconds: a probe called for later than this before its SIGTERM is not started */
/* runqlat traces this long, not the rest of the window: its histogram is a
 * sample of the wait schedstat measures for the whole window, and it costs
 * every context switch of the host (~5 % req/s on nginx alone) */
#define RUNQ_DOSE "2"

struct trig {
	bool want;
	char why[400];		/* the figures that call for the probe, or why none does */
};

/* The counters the rules read at each round (cheap: two /proc/net files,
 * the server's schedstat, its cgroup's cpu.stat). */
static void live_read(pid_t pid, struct dsnap *s)
{
	static const int ids[] = { C_LISTEN_OVF, C_LISTEN_DROPS, C_BACKLOG_DROP, C_RETRANS, C_OUTSEGS, C_INERRS };
	size_t i;

	memset(s, 0, sizeof(*s));
	s->t = now_s();
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		s->have[ids[i]] = snmp_counter(ctr_name[ids[i]], &s->c[ids[i]]) == 0;
	sched_sum(pid, s);
	cg_cpu(pid, s);
}

/* The process the owner scan names for the server's listeners: the server,
 * or the parent of the prefork worker diagnose watches. */
static pid_t ls_owner(const struct diag_result *res)
{
	return res->owner ? res->owner : res->pid;
}

static bool ls_of_server(const struct dctx *d, uint64_t cookie)
{
	int i;

	for (i = 0; i < d->r.cx.nls; i++)
		if (d->r.cx.ls[i].cookie == cookie)
			return d->r.cx.ls[i].pid == ls_owner(d->res);
	return false;
}

/* The rules: fills t[] from the window so far (s0 .. @now, the samples);
 * *@block_nr: the syscall a thread sleeps in (-1: none called for syslat). */
static void probe_rules(const struct dctx *d, const struct dsnap *now, struct trig t[DIAG_MAX_PROBES], int *block_nr)
{
	const struct dsnap *s0 = &d->s0;
	const struct samples *sm = &d->sm;
	uint64_t ovf = dlt(s0, now, C_LISTEN_OVF), ldr = dlt(s0, now, C_LISTEN_DROPS);
	uint64_t bdr = dlt(s0, now, C_BACKLOG_DROP), re = dlt(s0, now, C_RETRANS);
	uint64_t out = dlt(s0, now, C_OUTSEGS), inerr = dlt(s0, now, C_INERRS);
	double el = now->t - s0->t, run = 0, wait = 0, thr_s;
	uint32_t qpeak = 0, qbl = 0;
	int i, top_nr = -1, top_n = 0, fd_max, park_nr = -1, park_n = 0;
	bool block, fds, throttled;
	char bw[256];

	memset(t, 0, sizeof(*t) * DIAG_MAX_PROBES);
	/* acceptq: a listener of the server dropped, or its queue filled half way */
	for (i = 0; i < s0->nls && i < MAX_LS; i++) {
		if (!ls_of_server(d, s0->ls[i].cookie) || !s0->ls[i].backlog)
			continue;
		if (!qbl || (double)sm->qpeak[i] / s0->ls[i].backlog > (double)qpeak / qbl) {
			qpeak = sm->qpeak[i];
			qbl = s0->ls[i].backlog;
		}
	}
	t[P_ACCEPTQ].want = ovf || ldr || sm->sk_drops || (qbl && qpeak >= TRIG_QUEUE_SHARE * qbl);
	snprintf(t[P_ACCEPTQ].why, sizeof(t[0].why), "%sListenOverflows +%llu, ListenDrops +%llu, listener sk_drops "
		 "+%llu, accept queue peak %u of backlog %u", t[P_ACCEPTQ].want ? "" :
		 "no listener dropped and no accept queue reached half its backlog: ", (unsigned long long)ovf,
		 (unsigned long long)ldr, (unsigned long long)sm->sk_drops, qpeak, qbl);

	/* syslat and offcpu: a thread asleep in a syscall on the request path */
	for (i = 0; i < MAX_NR; i++)
		if (sm->short_nr[i] > top_n) {
			top_n = sm->short_nr[i];
			top_nr = i;
		}
	block = sm->n >= TRIG_MIN_ROUNDS && top_n >= 2 && top_n >= TRIG_BLOCK_SHARE * sm->n;
	/* /proc/PID/fd can count one above the limit while descriptors come and go */
	fd_max = d->soft && (unsigned long long)sm->fd_max > d->soft ? (int)d->soft : sm->fd_max;
	fds = d->soft && fd_max >= TRIG_FD_SHARE * (double)d->soft;
	*block_nr = block && !fds ? top_nr : -1;
	for (i = 0; i < MAX_NR; i++)
		if (sm->parked_nr[i] > park_n) {
			park_n = sm->parked_nr[i];
			park_nr = i;
		}
	if (block)
		snprintf(bw, sizeof(bw), "a thread asleep in %s in %d of %d sample rounds, in calls under 0.5 s "
			 "(/proc/%d/task/*/syscall, schedstat)", syscall_name(top_nr), top_n, sm->n, (int)d->res->pid);
	else
		snprintf(bw, sizeof(bw), "no thread asleep in one non-idle syscall in %.0f%% of %d sample rounds, in "
			 "calls under 0.5 s (most: %s %d)%s%s", 100 * TRIG_BLOCK_SHARE, sm->n,
			 top_nr >= 0 ? syscall_name(top_nr) : "none", top_n,
			 park_nr >= 0 ? "; a thread parked 0.5 s or more a call, a timer or background loop: " : "",
			 park_nr >= 0 ? syscall_name(park_nr) : "");
	t[P_OFFCPU].want = block;
	snprintf(t[P_OFFCPU].why, sizeof(t[0].why), "%s", bw);
	t[P_SYSLAT].want = block || fds;
	if (fds)
		snprintf(t[P_SYSLAT].why, sizeof(t[0].why), "descriptors %d of soft nofile %llu (>= %.0f%%): every "
			 "syscall, for EMFILE/ENFILE%s%s", fd_max, d->soft, 100 * TRIG_FD_SHARE, block ? "; and " : "",
			 block ? bw : "");
	else if (d->soft)
		snprintf(t[P_SYSLAT].why, sizeof(t[0].why), "%s; descriptors %d of soft nofile %llu (< %.0f%%)", bw,
			 fd_max, d->soft, 100 * TRIG_FD_SHARE);
	else
		snprintf(t[P_SYSLAT].why, sizeof(t[0].why), "%s; descriptors %d, nofile not readable (prlimit)", bw,
			 fd_max);

	/* runqlat: the server waits for a CPU, or its cgroup is throttled */
	if (now->have_schedstat && s0->have_schedstat) {
		run = (double)(now->run_ns - s0->run_ns) / 1e9;
		wait = (double)(now->wait_ns - s0->wait_ns) / 1e9;
	}
	thr_s = now->throttled_ns >= s0->throttled_ns ? (double)(now->throttled_ns - s0->throttled_ns) / 1e9 : 0;
	throttled = now->throttled > s0->throttled && thr_s >= 0.05 * el;
	t[P_RUNQLAT].want = el >= TRIG_RUNQ_MIN_S && (throttled || (wait >= 0.3 * el && wait >= 0.25 * (run + wait)));
	snprintf(t[P_RUNQLAT].why, sizeof(t[0].why), "%srun-queue wait %.3f s in %.1f s (%.0f%% of its runnable time), "
		 "throttled %.3f s%s", t[P_RUNQLAT].want ? "" : "run-queue wait under 30% of the window or 25% of the runnable time, not throttled 5% of it: ", wait, el,
		 run + wait > 0 ? 100 * wait / (run + wait) : 0, thr_s, now->have_schedstat ? "" : " (no schedstat)");

	/* tcpdrop: retransmits or drops moved */
	t[P_TCPDROP].want = (re >= 10 && re >= 0.01 * out) || inerr || ldr || bdr;
	snprintf(t[P_TCPDROP].why, sizeof(t[0].why), "%sRetransSegs +%llu of OutSegs +%llu, InErrs +%llu, ListenDrops "
		 "+%llu, TCPBacklogDrop +%llu", t[P_TCPDROP].want ? "" : "no drops, retransmits under 1% of segments: ",
		 (unsigned long long)re, (unsigned long long)out, (unsigned long long)inerr, (unsigned long long)ldr,
		 (unsigned long long)bdr);
}

/* At a sample round: starts the probes the window so far calls for. */
static void probes_attach(struct dctx *d, struct child *ch, double t_stop, const char *pidarg, const char *durarg)
{
	static struct dsnap now;
	struct trig t[DIAG_MAX_PROBES];
	int i, block_nr;

	for (i = 0; i < DIAG_MAX_PROBES && (ch[i].started || ch[i].late); i++)
		;
	if (i == DIAG_MAX_PROBES)
		return;		/* all decided: no reads */
	live_read(d->res->pid, &now);
	probe_rules(d, &now, t, &block_nr);
	for (i = 0; i < DIAG_MAX_PROBES; i++) {
		struct child *c = &ch[i];

		if (c->started || c->late)
			continue;
		if (!t[i].want) {
			snprintf(c->trigger, sizeof(c->trigger), "%s", t[i].why);
			continue;
		}
		if (now.t > t_stop - TRIG_LATE) {
			c->late = true;
			snprintf(c->trigger, sizeof(c->trigger), "called for %.1f s into the window, too late to attach "
				 "before it ends: %s", now.t - d->s0.t, t[i].why);
			continue;
		}
		c->started = true;
		c->at = now.t - d->s0.t;
		snprintf(c->trigger, sizeof(c->trigger), "%s", t[i].why);
		if (i == P_ACCEPTQ) {
			char *a[] = { "--pid", (char *)pidarg, "--duration", (char *)durarg, NULL };

			child_start(c, d->o, a);
		} else if (i == P_SYSLAT && block_nr >= 0) {
			/* the narrowest filter: the server's one syscall (the tracepoints
			 * still fire for every syscall; the full path only for this one) */
			char *a[] = { "--pid", (char *)pidarg, "--errors", "--syscall", c->syscall, "--duration",
				      (char *)durarg, NULL };

			snprintf(c->syscall, sizeof(c->syscall), "%s", syscall_name(block_nr));
			child_start(c, d->o, a);
		} else if (i == P_SYSLAT) {
			char *a[] = { "--pid", (char *)pidarg, "--errors", "--duration", (char *)durarg, NULL };

			child_start(c, d->o, a);
		} else if (i == P_OFFCPU) {
			char *a[] = { "--pid", (char *)pidarg, "--top", "20", "--min-us", "100", "--duration",
				      (char *)durarg, NULL };

			child_start(c, d->o, a);
		} else if (i == P_RUNQLAT) {
			char *a[] = { "--pid", (char *)pidarg, "--duration", RUNQ_DOSE, NULL };

			child_start(c, d->o, a);
		} else {
			char *a[] = { "--netns", "self", "--duration", (char *)durarg, NULL };

			child_start(c, d->o, a);
		}
	}
}

/* Whether probes can run here at all (the probes' own first check, so a
 * host where they cannot says so once, without trying five times). */
static bool probes_can_run(char *why, size_t size)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2] = {};
	bool admin, bpf, perfmon;

	if (syscall(SYS_capget, &h, c) == 0) {
		admin = c[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
		bpf = c[CAP_BPF / 32].effective & (1u << (CAP_BPF % 32));
		perfmon = c[CAP_PERFMON / 32].effective & (1u << (CAP_PERFMON % 32));
		if (!admin && !(bpf && perfmon)) {
			snprintf(why, size, "need root, or CAP_BPF and CAP_PERFMON (have %s)",
				 bpf ? "CAP_BPF only" : perfmon ? "CAP_PERFMON only" : "neither");
			return false;
		}
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(why, size, "kernel BTF '/sys/kernel/btf/vmlinux' is not readable: %s", strerror(errno));
		return false;
	}
	return true;
}

static struct diag_finding *add_finding(struct dctx *d, const char *name, double impact, const char *conf)
{
	struct diag_finding *f;

	if (d->res->nf >= DIAG_MAX_FINDINGS)
		return NULL;
	f = &d->res->f[d->res->nf++];
	memset(f, 0, sizeof(*f));
	f->name = name;
	f->impact = impact > 100 ? 100 : impact;
	f->confidence = conf;
	return f;
}

static void fig(struct diag_finding *f, const char *name, double v)
{
	if (f->nfig < DIAG_MAX_FIGS) {
		f->fig[f->nfig].name = name;
		f->fig[f->nfig].v = v;
		f->nfig++;
	}
}

/* Appends "ID status" of every check of the audit with id @id (and key
 * containing @key if given) to the finding's checks. */
static void cite(struct dctx *d, struct diag_finding *f, const char *id)
{
	const char *st = "not run";
	int i;

	if (d->have_rep)
		for (i = 0; i < d->rep.n; i++)
			if (!strcmp(d->rep.v[i].id, id)) {
				st = chk_status_str(d->rep.v[i].status);
				if (d->rep.v[i].status == CHK_FAIL)
					break;
			}
	app(f->checks, sizeof(f->checks), "%s%s %s", f->checks[0] ? ", " : "", id, st);
}

/* Plans @key per the profile's rules (rule_decide: the decision audit and
 * apply share). Describes the outcome in the fix. */
static void plan_sysctl(struct dctx *d, struct diag_finding *f, const char *key)
{
	int i;
	bool seen = false;

	for (i = 0; i < d->r.prof->n; i++) {
		const struct rule *ru = &d->r.prof->rules[i];
		struct rule_state st;

		if (ru->kind != RULE_SYSCTL || ru->skip || strcmp(ru->key, key) || ru->field >= 0)
			continue;
		seen = true;
		rule_decide(&d->r, ru, NULL, false, &st);
		if (st.dec == DEC_FAIL && f->nset < DIAG_MAX_SETS) {
			struct diag_set *s = &f->set[f->nset++];

			s->kind = J_SYSCTL;
			snprintf(s->key, sizeof(s->key), "%s", key);
			snprintf(s->old, sizeof(s->old), "%s", st.cur);
			snprintf(s->new_, sizeof(s->new_), "%s", st.want);
			snprintf(s->label, sizeof(s->label), "%s", key);
			snprintf(s->origin, sizeof(s->origin), "%s", ru->origin);
			app(f->fix, sizeof(f->fix), "; set %s = %s (now %s; %s)", key, st.want, st.cur, ru->origin);
		} else if (st.dec == DEC_PASS) {
			app(f->fix, sizeof(f->fix), "; %s = %s already meets %s", key, st.cur, ru->origin);
		} else if (st.dec == DEC_HOST || st.dec == DEC_BLOCKED) {
			app(f->fix, sizeof(f->fix), "; %s should be %s but cannot be set from here: %s", key, st.want,
			    st.why[0] ? st.why : "host-owned key");
		}
	}
	if (!seen)
		app(f->fix, sizeof(f->fix), "; profile %s has no rule for %s", d->r.prof->name, key);
}

static void plan_nofile(struct dctx *d, struct diag_finding *f)
{
	unsigned long long want, nsoft, nhard;
	struct diag_set *s;

	if (!d->r.nofile || f->nset >= DIAG_MAX_SETS) {
		app(f->fix, sizeof(f->fix), "; raise the soft nofile limit of pid %d", (int)d->res->pid);
		return;
	}
	want = (unsigned long long)d->r.nofile->num;
	nsoft = d->soft < want ? want : d->soft;
	nhard = d->hard < nsoft ? nsoft : d->hard;
	if (nhard > d->hard && !has_cap(24)) {
		/* CAP_SYS_RESOURCE: only it raises a hard limit; up to the hard one is ours */
		nsoft = d->hard;
		nhard = d->hard;
		app(f->fix, sizeof(f->fix), "; the hard limit %llu caps a live raise (going past it needs "
		    "CAP_SYS_RESOURCE, which this process lacks)", d->hard);
		if (nsoft == d->soft) {
			app(f->fix, sizeof(f->fix), ": restart pid %d with nofile >= %llu (%s; LimitNOFILE= or "
			    "ulimit -n where the service starts)", (int)d->res->pid, want, d->r.nofile->origin);
			return;
		}
	}
	if (nsoft == d->soft) {
		app(f->fix, sizeof(f->fix), "; the soft limit %llu already meets %s (nofile >= %llu): the server "
		    "needs more than the profile plans, raise --conns", d->soft, d->r.nofile->origin, want);
		return;
	}
	s = &f->set[f->nset++];
	s->kind = J_RLIMIT;
	snprintf(s->key, sizeof(s->key), "%d@%llu", (int)d->res->pid, d->res->start);
	snprintf(s->old, sizeof(s->old), "%llu %llu", d->soft, d->hard);
	snprintf(s->new_, sizeof(s->new_), "%llu %llu", nsoft, nhard);
	snprintf(s->label, sizeof(s->label), "pid %d %s nofile", (int)d->res->pid, d->res->comm);
	snprintf(s->origin, sizeof(s->origin), "%s", d->r.nofile->origin);
	app(f->fix, sizeof(f->fix), "; raise pid %d's nofile to %llu (soft) / %llu (hard) live with prlimit "
	    "(%s), and make it permanent where the service starts (LimitNOFILE=%llu or ulimit -n)",
	    (int)d->res->pid, nsoft, nhard, d->r.nofile->origin, nhard);
}

static void checked(struct dctx *d, const char *what, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void checked(struct dctx *d, const char *what, const char *status, const char *fmt, ...)
{
	struct diag_checked *c;
	va_list ap;

	if (d->res->nc >= DIAG_MAX_CHECKED)
		return;
	c = &d->res->c[d->res->nc++];
	c->what = what;
	c->status = status;
	va_start(ap, fmt);
	vsnprintf(c->figures, sizeof(c->figures), fmt, ap);
	va_end(ap);
}

/* acceptq's report of listener @cookie, NULL if none. */
static const struct jv *acceptq_listener(const struct dctx *d, uint64_t cookie)
{
	const struct jv *a = jv_get(d->acceptq, "listeners");
	int i;

	for (i = 0; i < jv_len(a); i++)
		if ((uint64_t)jv_num(jv_get(jv_at(a, i), "cookie"), -1) == cookie)
			return jv_at(a, i);
	return NULL;
}

/* "not needed", "unavailable", "off": why probe @id has no report. */
static const char *probe_state(const struct dctx *d, int id)
{
	if (id >= d->res->np)
		return "unavailable";
	return !strcmp(d->res->p[id].status, "not-needed") ? "not needed" : d->res->p[id].status;
}

/* errno @name count of the server's failed calls (syslat --errors). */
static uint64_t syslat_errno(const struct dctx *d, const char *err, char *which, size_t size)
{
	const struct jv *e = jv_get(d->syslat, "errors");
	uint64_t n = 0;
	int i;

	for (i = 0; i < jv_len(e); i++) {
		const struct jv *x = jv_at(e, i);

		if (!strcmp(jv_str(jv_get(x, "errno"), ""), err)) {
			n += (uint64_t)jv_num(jv_get(x, "count"), 0);
			if (which && !which[0])
				snprintf(which, size, "%s", jv_str(jv_get(x, "name"), "?"));
		}
	}
	return n;
}

static bool fd_limited;	/* set by detect_fds: the accept queue overflows because accept() fails */

static void detect_fds(struct dctx *d)
{
	char which[32] = "", which2[32] = "";
	uint64_t emfile = syslat_errno(d, "EMFILE", which, sizeof(which));
	uint64_t enfile = syslat_errno(d, "ENFILE", which2, sizeof(which2));
	double use = d->soft ? (double)d->sm.fd_max / (double)d->soft : 0;
	struct diag_finding *f;

	/* readdir of /proc/PID/fd races with descriptors closed and opened
	 * while it runs and can count one above the limit: none can be */
	if (d->soft && (unsigned long long)d->sm.fd_max > d->soft)
		d->sm.fd_max = (int)d->soft;
	if (d->sm.fd_err && !d->sm.fd_samples) {
		checked(d, "descriptors", "unseen", "cannot count /proc/%d/fd: %s", (int)d->res->pid,
			strerror(-d->sm.fd_err));
		return;
	}
	if (!emfile && !enfile && use < 0.95) {
		checked(d, "descriptors", "ok", "pid %d: at most %d open of soft nofile %llu (hard %llu)%s",
			(int)d->res->pid, d->sm.fd_max, d->soft, d->hard,
			!d->syslat ? "" : d->syslat_only[0] ? "; no EMFILE/ENFILE in the syscall syslat traced" :
			"; no EMFILE/ENFILE (syslat)");
		return;
	}
	checked(d, "descriptors", "finding", "pid %d: at most %d open of soft nofile %llu", (int)d->res->pid,
		d->sm.fd_max, d->soft);
	fd_limited = true;
	/* refused work outranks slow work: accept() failing is the hardest limit */
	f = add_finding(d, "descriptor-exhaustion", emfile || enfile ? 100 : 90, emfile || enfile ? "high" : "medium");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "pid %d (%s) runs out of file descriptors: %d open, soft limit %llu",
		 (int)d->res->pid, d->res->comm, d->sm.fd_max, d->soft);
	snprintf(f->evidence, sizeof(f->evidence), "/proc/%d/fd: up to %d descriptors open during the %.1f s window "
		 "(sampled every %d ms); /proc/%d/limits: nofile soft %llu, hard %llu", (int)d->res->pid,
		 d->sm.fd_max, d->w, SAMPLE_MS, (int)d->res->pid, d->soft, d->hard);
	if (emfile)
		app(f->evidence, sizeof(f->evidence), "; %s failed with EMFILE %llu times (syslat --errors)", which,
		    (unsigned long long)emfile);
	if (enfile)
		app(f->evidence, sizeof(f->evidence), "; %s failed with ENFILE %llu times: the host's fs.file-max",
		    which2, (unsigned long long)enfile);
	if (!d->syslat)
		app(f->evidence, sizeof(f->evidence), "; EMFILE not counted (syslat %s)", probe_state(d, P_SYSLAT));
	else if (d->syslat_only[0])
		app(f->evidence, sizeof(f->evidence), "; EMFILE counted in %s only (syslat traced that syscall)",
		    d->syslat_only);
	fig(f, "fds_max", d->sm.fd_max);
	fig(f, "nofile_soft", (double)d->soft);
	fig(f, "nofile_hard", (double)d->hard);
	fig(f, "emfile", (double)emfile);
	fig(f, "enfile", (double)enfile);
	cite(d, f, "FD-001");
	cite(d, f, "FD-004");
	snprintf(f->fix, sizeof(f->fix), "each connection needs a descriptor: at the limit accept() fails and "
		 "clients wait in (and overflow) the accept queue");
	plan_nofile(d, f);
	if (enfile)
		plan_sysctl(d, f, "fs.file-max");
}

static void detect_accept(struct dctx *d)
{
	uint64_t ovf = dlt(&d->s0, &d->s1, C_LISTEN_OVF), ldrops = dlt(&d->s0, &d->s1, C_LISTEN_DROPS);
	uint64_t opens = dlt(&d->s0, &d->s1, C_PASSIVE);
	long long smax = d->r.somaxconn;
	char seen[640] = "";
	bool any = false;
	int i;

	if (d->s0.ls_err) {
		checked(d, "accept queues", "unseen", "sock_diag failed: %s", strerror(-d->s0.ls_err));
		return;
	}
	for (i = 0; i < d->s0.nls && i < MAX_LS; i++) {
		const struct sd_listener *a = &d->s0.ls[i], *b = ls_find(&d->s1, a->cookie);
		const struct jv *pj = acceptq_listener(d, a->cookie);
		struct diag_finding *f;
		char addr[64];
		uint64_t drops, share;
		double ldp;

		int k;

		for (k = 0; k < d->r.cx.nls && d->r.cx.ls[k].cookie != a->cookie; k++)
			;
		/* owners come from the prepare pass (sock_diag has no pid) */
		if (k == d->r.cx.nls || d->r.cx.ls[k].pid != ls_owner(d->res) || !b)
			continue;
		sockdiag_addr_str(a, addr, sizeof(addr));
		drops = a->drops != UINT32_MAX && b->drops != UINT32_MAX && b->drops >= a->drops ? b->drops - a->drops : 0;
		ldp = jv_num(jv_get(pj, "listen_drops"), -1);
		app(seen, sizeof(seen), "%s%s backlog %u, queue peak %u, sk_drops +%llu", seen[0] ? "; " : "", addr,
		    a->backlog, d->sm.qpeak[i], (unsigned long long)drops);
		if (!drops && ldp <= 0)
			continue;
		any = true;
		/* the listener's share of the namespace's overflows */
		share = ldp > (double)drops ? (uint64_t)ldp : drops;
		f = add_finding(d, "accept-queue-overflow",
				fd_limited ? 60 : 50 + 50.0 * (double)share / (double)(share + opens + 1), "high");
		if (!f)
			return;
		snprintf(f->title, sizeof(f->title), "the accept queue of %s overflows: %llu connection attempts "
			 "dropped in %.1f s (backlog %u)", addr,
			 /* one listener: the namespace's count; several: this one's share */
			 (unsigned long long)(d->res->nls > 1 ? share : ovf), d->w, a->backlog);
		snprintf(f->evidence, sizeof(f->evidence), "TcpExt ListenOverflows +%llu, ListenDrops +%llu over "
			 "%.1f s (netns net:[%llu]); listener %s (pid %d %s): granted backlog %u "
			 "(min(listen() backlog, net.core.somaxconn %lld)), queue peak %u (sock_diag every %d ms), "
			 "sk_drops +%llu; PassiveOpens +%llu", (unsigned long long)ovf, (unsigned long long)ldrops,
			 d->w, (unsigned long long)d->res->netns, addr, (int)d->res->pid, d->res->comm, a->backlog, smax,
			 d->sm.qpeak[i], SAMPLE_MS, (unsigned long long)drops, (unsigned long long)opens);
		if (pj)
			app(f->evidence, sizeof(f->evidence), "; acceptq (attached for the last %.1f s of the "
			    "window): listen_drops %.0f, full %.0f times, full for up to %.0f ms, peak %.0f",
			    jv_num(jv_get(d->acceptq, "elapsed_s"), 0), ldp, jv_num(jv_get(pj, "full_events"), 0),
			    jv_num(jv_get(pj, "full_ms"), 0), jv_num(jv_get(pj, "peak"), 0));
		fig(f, "overflows", (double)ovf);
		fig(f, "listen_drops", (double)ldrops);
		fig(f, "sk_drops", (double)drops);
		fig(f, "port", a->port);
		fig(f, "backlog", a->backlog);
		fig(f, "somaxconn", (double)smax);
		fig(f, "queue_peak", d->sm.qpeak[i]);
		fig(f, "passive_opens", (double)opens);
		if (pj)
			fig(f, "acceptq_listen_drops", ldp);
		cite(d, f, "LQ-003");
		cite(d, f, "LQ-001");
		cite(d, f, "LQ-002");
		if (fd_limited)
			snprintf(f->fix, sizeof(f->fix), "the server stops accepting when it runs out of descriptors "
				 "(see descriptor-exhaustion): fix that first; ");
		if (smax > 0 && a->backlog >= (uint64_t)smax)
			app(f->fix, sizeof(f->fix), "the backlog is capped by net.core.somaxconn: raise it, then "
			    "restart pid %d so listen() is called again (the backlog is fixed at listen())",
			    (int)d->res->pid);
		else
			app(f->fix, sizeof(f->fix), "the server asked listen() for a backlog of %u (below "
			    "somaxconn %lld): raise it in the server (qps-server --backlog N), and accept "
			    "faster (more workers)", a->backlog, smax);
		plan_sysctl(d, f, "net.core.somaxconn");
		plan_sysctl(d, f, "net.ipv4.tcp_max_syn_backlog");
	}
	if (!any && (ovf || ldrops) && d->s0.nls) {
		struct diag_finding *f = add_finding(d, "accept-queue-overflow", 40, "medium");

		if (f) {
			snprintf(f->title, sizeof(f->title), "listen queues of this namespace overflow (%llu in %.1f s), "
				 "but not on a listener of pid %d seen by sock_diag", (unsigned long long)ovf, d->w,
				 (int)d->res->pid);
			snprintf(f->evidence, sizeof(f->evidence), "TcpExt ListenOverflows +%llu, ListenDrops +%llu "
				 "(netns net:[%llu])", (unsigned long long)ovf, (unsigned long long)ldrops,
				 (unsigned long long)d->res->netns);
			fig(f, "overflows", (double)ovf);
			cite(d, f, "LQ-003");
			snprintf(f->fix, sizeof(f->fix), "run 'qps-tune probe acceptq' to see which listener");
			any = true;
		}
	}
	checked(d, "accept queues", any ? "finding" : "ok", "%s; TcpExt ListenOverflows +%llu",
		seen[0] ? seen : "no listener of the server", (unsigned long long)ovf);
}

static void detect_syn(struct dctx *d)
{
	uint64_t sent = dlt(&d->s0, &d->s1, C_COOKIES_SENT), full = dlt(&d->s0, &d->s1, C_REQQ_DROP);
	uint64_t doc = dlt(&d->s0, &d->s1, C_REQQ_COOKIES);
	char cur[64] = "";
	struct diag_finding *f;

	sysctl_read("net.ipv4.tcp_max_syn_backlog", cur, sizeof(cur));
	if (!sent && !full) {
		checked(d, "SYN queue", "ok", "SyncookiesSent +0, TCPReqQFullDrop +0; tcp_max_syn_backlog %s", cur);
		return;
	}
	checked(d, "SYN queue", "finding", "SyncookiesSent +%llu, TCPReqQFullDrop +%llu",
		(unsigned long long)sent, (unsigned long long)full);
	f = add_finding(d, "syn-queue", full ? 45 : 20, "high");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "the SYN queue fills: %llu SYNs answered with cookies, %llu dropped",
		 (unsigned long long)sent, (unsigned long long)full);
	snprintf(f->evidence, sizeof(f->evidence), "TcpExt SyncookiesSent +%llu, TCPReqQFullDoCookies +%llu, "
		 "TCPReqQFullDrop +%llu over %.1f s; net.ipv4.tcp_max_syn_backlog %s (a listener's SYN queue is also "
		 "bounded by its backlog)", (unsigned long long)sent, (unsigned long long)doc,
		 (unsigned long long)full, d->w, cur);
	fig(f, "syncookies_sent", (double)sent);
	fig(f, "reqq_full_drop", (double)full);
	cite(d, f, "LQ-007");
	cite(d, f, "LQ-004");
	cite(d, f, "LQ-005");
	snprintf(f->fix, sizeof(f->fix), "cookies lose TCP options (window scaling on old kernels); drops cost a "
		 "1 s SYN retransmit");
	plan_sysctl(d, f, "net.ipv4.tcp_max_syn_backlog");
	plan_sysctl(d, f, "net.ipv4.tcp_syncookies");
}

static void detect_ports(struct dctx *d)
{
	uint64_t twovf = dlt(&d->s0, &d->s1, C_TW_OVF);
	long long twmax = 0, lo = 0, hi = 0;
	char range[64] = "";
	double used, span;
	struct diag_finding *f;

	procfs_read_ll("/proc/sys/net/ipv4/tcp_max_tw_buckets", &twmax);
	if (sysctl_read("net.ipv4.ip_local_port_range", range, sizeof(range)) > 0)
		sscanf(range, "%lld %lld", &lo, &hi);
	span = hi >= lo ? (double)(hi - lo + 1) : 1;
	if (!d->s1.have_sockstat) {
		checked(d, "ephemeral ports, TIME-WAIT", "unseen", "/proc/net/sockstat unreadable");
		return;
	}
	/* every TCP socket of the namespace may hold a local port: an upper bound */
	used = (double)(d->s1.tcp_inuse + d->s1.tcp_tw);
	if (!twovf && (twmax <= 0 || d->s1.tcp_tw < twmax * 8 / 10) && used < 0.8 * span) {
		checked(d, "ephemeral ports, TIME-WAIT", "ok", "TIME-WAIT %lld of tcp_max_tw_buckets %lld, "
			"TCPTimeWaitOverflow +0; %lld sockets vs port range %s (%.0f ports)", d->s1.tcp_tw, twmax,
			d->s1.tcp_inuse, range, span);
		return;
	}
	checked(d, "ephemeral ports, TIME-WAIT", "finding", "TIME-WAIT %lld of %lld; overflow +%llu",
		d->s1.tcp_tw, twmax, (unsigned long long)twovf);
	f = add_finding(d, used >= 0.8 * span ? "ephemeral-ports" : "time-wait", 35, twovf ? "high" : "medium");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "%s", used >= 0.8 * span ?
		 "ephemeral ports run out: outgoing connections fail with EADDRNOTAVAIL" :
		 "the TIME-WAIT table is full: closing connections skip TIME-WAIT");
	snprintf(f->evidence, sizeof(f->evidence), "/proc/net/sockstat: TCP inuse %lld, tw %lld; "
		 "tcp_max_tw_buckets %lld; TcpExt TCPTimeWaitOverflow +%llu over %.1f s; ip_local_port_range %s",
		 d->s1.tcp_inuse, d->s1.tcp_tw, twmax, (unsigned long long)twovf, d->w, range);
	fig(f, "time_wait", (double)d->s1.tcp_tw);
	fig(f, "tw_max", (double)twmax);
	fig(f, "tw_overflow", (double)twovf);
	fig(f, "port_range", span);
	cite(d, f, "PORT-001");
	cite(d, f, "PORT-003");
	snprintf(f->fix, sizeof(f->fix), "reuse connections (keep-alive, pools) and widen the port range");
	plan_sysctl(d, f, "net.ipv4.ip_local_port_range");
	plan_sysctl(d, f, "net.ipv4.tcp_tw_reuse");
	plan_sysctl(d, f, "net.ipv4.tcp_max_tw_buckets");
}

static void detect_mem(struct dctx *d)
{
	uint64_t press = dlt(&d->s0, &d->s1, C_MEM_PRESSURES), abort_ = dlt(&d->s0, &d->s1, C_ABORT_MEM);
	uint64_t prune = dlt(&d->s0, &d->s1, C_PRUNE);
	long long lo = 0, pr = 0, hi = 0;
	char tm[96] = "";
	struct diag_finding *f;

	if (sysctl_read("net.ipv4.tcp_mem", tm, sizeof(tm)) > 0)
		sscanf(tm, "%lld %lld %lld", &lo, &pr, &hi);
	if (!press && !abort_ && !prune && (!pr || d->s1.tcp_mem < pr)) {
		checked(d, "socket memory", "ok", "TCP mem %lld pages, tcp_mem %s; TCPMemoryPressures +0, "
			"PruneCalled +0", d->s1.tcp_mem, tm[0] ? tm : "(host-wide, not visible in this netns)");
		return;
	}
	checked(d, "socket memory", "finding", "TCP mem %lld pages of tcp_mem %s", d->s1.tcp_mem, tm);
	f = add_finding(d, "socket-memory", abort_ ? 60 : 30, "high");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "TCP socket memory is under pressure (%lld pages, pressure at %lld)",
		 d->s1.tcp_mem, pr);
	snprintf(f->evidence, sizeof(f->evidence), "/proc/net/sockstat TCP mem %lld pages; net.ipv4.tcp_mem %s; "
		 "TcpExt TCPMemoryPressures +%llu, TCPAbortOnMemory +%llu, PruneCalled +%llu over %.1f s",
		 d->s1.tcp_mem, tm, (unsigned long long)press, (unsigned long long)abort_,
		 (unsigned long long)prune, d->w);
	fig(f, "tcp_mem_pages", (double)d->s1.tcp_mem);
	fig(f, "pressures", (double)press);
	fig(f, "aborts", (double)abort_);
	cite(d, f, "BUF-002");
	snprintf(f->fix, sizeof(f->fix), "raise net.ipv4.tcp_mem (host-wide, pages) or shrink per-socket buffers "
		 "(tcp_rmem/tcp_wmem max)");
	plan_sysctl(d, f, "net.ipv4.tcp_mem");
}

static void detect_softnet(struct dctx *d)
{
	uint64_t drop = d->s1.sn_drop - d->s0.sn_drop, sq = d->s1.sn_squeeze - d->s0.sn_squeeze;
	uint64_t proc_ = d->s1.sn_processed - d->s0.sn_processed;
	char cur[64] = "";
	struct diag_finding *f;

	if (!d->s1.have_sn) {
		checked(d, "softnet backlog", "unseen", "/proc/net/softnet_stat unreadable");
		return;
	}
	sysctl_read("net.core.netdev_max_backlog", cur, sizeof(cur));
	/* squeezes are normal in bursts: a finding only when frequent (> 1 % of
	 * the packets processed and > 20/s) */
	if (!drop && (sq < 20 * d->w || (double)sq < 0.01 * (double)proc_)) {
		checked(d, "softnet backlog", "ok", "dropped +%llu, time_squeeze +%llu of %llu packets (host-wide)",
			(unsigned long long)drop, (unsigned long long)sq, (unsigned long long)proc_);
		return;
	}
	checked(d, "softnet backlog", "finding", "dropped +%llu, time_squeeze +%llu", (unsigned long long)drop,
		(unsigned long long)sq);
	f = add_finding(d, drop ? "softnet-drops" : "softnet-squeeze", drop ? 40 : 10, drop ? "medium" : "low");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "%s", drop ? "packets are dropped at the per-CPU backlog (softnet)" :
		 "softirq runs out of budget (time_squeeze)");
	snprintf(f->evidence, sizeof(f->evidence), "/proc/net/softnet_stat (all CPUs, host-wide: other traffic "
		 "counts too): dropped +%llu, time_squeeze +%llu, processed +%llu over %.1f s; "
		 "net.core.netdev_max_backlog %s", (unsigned long long)drop, (unsigned long long)sq,
		 (unsigned long long)proc_, d->w, cur);
	fig(f, "dropped", (double)drop);
	fig(f, "time_squeeze", (double)sq);
	cite(d, f, "PKT-001");
	cite(d, f, "PKT-002");
	snprintf(f->fix, sizeof(f->fix), "raise net.core.netdev_max_backlog (drops) or net.core.netdev_budget "
		 "(squeeze); spread RX over CPUs (RPS, qps-tune apply)");
	plan_sysctl(d, f, "net.core.netdev_max_backlog");
	plan_sysctl(d, f, "net.core.netdev_budget");
}

static void detect_conntrack(struct dctx *d)
{
	uint64_t drop = d->s1.ct_drop - d->s0.ct_drop, early = d->s1.ct_early - d->s0.ct_early;
	uint64_t insf = d->s1.ct_insfail - d->s0.ct_insfail;
	struct diag_finding *f;

	if (!d->s1.have_ct) {
		checked(d, "conntrack", "absent", "nf_conntrack not loaded here (no table to fill)");
		return;
	}
	if (!drop && !early && (!d->s1.ct_max || d->s1.ct_count < d->s1.ct_max * 9 / 10)) {
		checked(d, "conntrack", "ok", "%lld of nf_conntrack_max %lld; drop +0, early_drop +0", d->s1.ct_count,
			d->s1.ct_max);
		return;
	}
	checked(d, "conntrack", "finding", "%lld of %lld; drop +%llu", d->s1.ct_count, d->s1.ct_max,
		(unsigned long long)drop);
	f = add_finding(d, "conntrack-full", drop ? 70 : 30, drop ? "high" : "medium");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "the conntrack table is full: new connections are dropped");
	snprintf(f->evidence, sizeof(f->evidence), "nf_conntrack_count %lld of nf_conntrack_max %lld; "
		 "/proc/net/stat/nf_conntrack drop +%llu, early_drop +%llu, insert_failed +%llu over %.1f s",
		 d->s1.ct_count, d->s1.ct_max, (unsigned long long)drop, (unsigned long long)early,
		 (unsigned long long)insf, d->w);
	fig(f, "count", (double)d->s1.ct_count);
	fig(f, "max", (double)d->s1.ct_max);
	fig(f, "drops", (double)drop);
	cite(d, f, "CT-001");
	snprintf(f->fix, sizeof(f->fix), "raise net.netfilter.nf_conntrack_max (and the hash size), or exempt "
		 "the server's port from tracking (nft 'notrack')");
	plan_sysctl(d, f, "net.netfilter.nf_conntrack_max");
}

/* Other processes' CPU use over the window on the server's CPUs: who competes. */
struct hog {
	pid_t pid;
	char comm[16];
	uint64_t t0, t1;
	int cpu;		/* the CPU it last ran on (stat field 39) */
};

static void scan_cpu(struct hog *v, int *n, int max, bool first, pid_t skip)
{
	char path[64], buf[1024], *p;
	struct dirent *de;
	DIR *d = opendir("/proc");
	int i;

	while (d && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		unsigned long long ut, st;
		int cpu = -1, k;
		char *q;

		if (pid <= 0 || pid == skip || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (procfs_read(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
			continue;
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
			continue;
		for (i = 0; i < *n && v[i].pid != pid; i++)
			;
		if (i == *n) {
			if (!first || *n >= max)
				continue;
			v[i].pid = pid;
			v[i].t1 = v[i].t0 = ut + st;
			snprintf(v[i].comm, sizeof(v[i].comm), "%.*s", (int)(p - strchr(buf, '(') - 1), strchr(buf, '(') + 1);
			(*n)++;
		}
		v[i].t1 = ut + st;
		/* field 39 (processor) is the 37th after the closing parenthesis */
		for (q = p + 2, k = 3; q && k < 39; k++) {
			q = strchr(q, ' ');
			if (q)
				q++;
		}
		if (q)
			cpu = atoi(q);
		v[i].cpu = cpu;
	}
	if (d)
		closedir(d);
}

static struct hog *hogs;
static int nhogs;

static void detect_cpu(struct dctx *d)
{
	double used = (double)(d->s1.cpu_ticks - d->s0.cpu_ticks) / d->hz / d->w;	/* CPUs */
	double run = d->s1.have_schedstat ? (double)(d->s1.run_ns - d->s0.run_ns) / 1e9 : 0;
	double wait = d->s1.have_schedstat ? (double)(d->s1.wait_ns - d->s0.wait_ns) / 1e9 : 0;
	uint64_t per = d->s1.periods - d->s0.periods, thr = d->s1.throttled - d->s0.throttled;
	double thr_s = (double)(d->s1.throttled_ns - d->s0.throttled_ns) / 1e9;
	double psi = d->s1.have_psi ? (double)(d->s1.psi_some_us - d->s0.psi_some_us) / 1e6 / d->w : -1;
	double rfrac = d->sm.thr_samples ? (double)d->sm.st_r / d->sm.thr_samples : 0;
	const struct jv *rq = NULL;
	char rqs[256] = "";
	struct diag_finding *f;
	bool any = false;
	int i;

	for (i = 0; i < jv_len(jv_get(d->runqlat, "processes")); i++) {
		const struct jv *x = jv_at(jv_get(d->runqlat, "processes"), i);

		if ((pid_t)jv_num(jv_get(x, "pid"), -1) == d->res->pid)
			rq = x;
	}
	if (rq)
		snprintf(rqs, sizeof(rqs), "; runqlat (%.1f s from %.1f s into the window): %.0f waits, mean %.0f us, "
			 "max %.0f us", d->res->p[P_RUNQLAT].elapsed, d->res->p[P_RUNQLAT].started,
			 jv_num(jv_get(rq, "count"), 0), jv_num(jv_get(rq, "avg_us"), 0), jv_num(jv_get(rq, "max_us"), 0));
	/* cgroup quota: throttled for a real share of the window */
	if (thr && thr_s >= 0.05 * d->w) {
		f = add_finding(d, "cpu-throttled", 100.0 * thr_s / d->w + 30, "high");
		any = true;
		if (f) {
			char dir[PATH_MAX];

			cg_dir(d->s1.cgwhere, dir, sizeof(dir));
			snprintf(f->title, sizeof(f->title), "the cgroup's CPU quota throttles the server: %.2f s of %.1f s "
				 "throttled (quota %s)", thr_s, d->w, d->s1.quota);
			snprintf(f->evidence, sizeof(f->evidence), "%s/cpu.stat: nr_throttled +%llu of nr_periods +%llu, "
				 "throttled time +%.3f s over %.1f s; quota %s; the server used %.2f CPUs "
				 "(/proc/%d/stat) and waited %.2f s for a CPU (schedstat)%s", dir,
				 (unsigned long long)thr, (unsigned long long)per, thr_s, d->w, d->s1.quota, used,
				 (int)d->res->pid, wait, rqs);
			fig(f, "throttled_periods", (double)thr);
			fig(f, "periods", (double)per);
			fig(f, "throttled_s", thr_s);
			fig(f, "cpus_used", used);
			cite(d, f, "CPU-002");
			snprintf(f->fix, sizeof(f->fix), "raise the quota of %s (cgroup v2: cpu.max; v1: "
				 "cpu.cfs_quota_us; systemd: CPUQuota=) to at least what the server uses when "
				 "unthrottled, or size the server's workers to the quota (qps-server does by "
				 "default)", dir);
		}
	}
	/* waiting for a CPU while busy: the server has work and does not run */
	/* waiting for a CPU for a real share of the window, and longer than a
	 * quarter of the time it wanted to run: the server has work and does
	 * not get to it (a lightly loaded server on a busy host waits little in all) */
	if (!any && wait >= 0.3 * d->w && wait >= 0.25 * (run + wait)) {
		char who[256] = "";

		int k, shown;

		/* the top 5 by CPU over the window (>= 0.05 CPUs), among those last seen on the server's CPUs */
		for (shown = 0; shown < 5; shown++) {
			double best = 0.05, c;

			for (i = 0, k = -1; i < nhogs; i++) {
				c = (double)(hogs[i].t1 - hogs[i].t0) / d->hz / d->w;
				if (c >= best && hogs[i].cpu >= 0 && hogs[i].cpu < CPU_SETSIZE &&
				    CPU_ISSET(hogs[i].cpu, &d->allowed)) {
					best = c;
					k = i;
				}
			}
			if (k < 0)
				break;
			app(who, sizeof(who), "%s%d %s %.2f CPUs", who[0] ? ", " : "", (int)hogs[k].pid, hogs[k].comm,
			    best);
			hogs[k].t1 = hogs[k].t0;	/* taken */
		}
		/* impact: the share of the window spent waiting (slowness ranks below refusals) */
		f = add_finding(d, "cpu-runqueue", 90.0 * wait / d->w, "high");
		any = true;
		if (f) {
			snprintf(f->title, sizeof(f->title), "the server waits for a CPU: %.0f%% of its runnable time "
				 "in the run queue (%.2f s waiting, %.2f s running)", 100.0 * wait / (run + wait), wait, run);
			snprintf(f->evidence, sizeof(f->evidence), "/proc/%d/task/*/schedstat: run +%.3f s, run-queue "
				 "wait +%.3f s over %.1f s; the server used %.2f CPUs of %d allowed; %.0f%% of thread "
				 "samples runnable%s; CPU pressure some %.0f%% (%s)%s%s", (int)d->res->pid, run, wait, d->w,
				 used, d->ncpu_allowed, 100 * rfrac, rqs, psi >= 0 ? 100 * psi : 0,
				 d->s1.psi_host ? "host" : "cgroup",
				 who[0] ? "; busy on the server's CPUs: " : "", who);
			fig(f, "runq_wait_s", wait);
			fig(f, "run_s", run);
			fig(f, "cpus_used", used);
			fig(f, "cpus_allowed", d->ncpu_allowed);
			cite(d, f, "CPU-003");
			cite(d, f, "CPU-006");
			snprintf(f->fix, sizeof(f->fix), "%s%s%s", who[0] ? "move the competing processes (" : "",
				 who, who[0] ? ") off the server's CPUs (taskset -p / cpuset), or pin the server to "
				 "CPUs of its own (profile 'affinity', qps-tune apply --pid)" :
				 "give the server CPUs of its own (affinity, cpuset) or more CPUs");
		}
	}
	/* CPU-bound: the server uses (nearly) all the CPU it may */
	if (!any && d->ncpu_allowed > 0 && used >= 0.9 * d->ncpu_allowed) {
		f = add_finding(d, "cpu-saturated", 70, "medium");
		any = true;
		if (f) {
			snprintf(f->title, sizeof(f->title), "the server is CPU-bound: %.2f of %d CPUs", used,
				 d->ncpu_allowed);
			snprintf(f->evidence, sizeof(f->evidence), "/proc/%d/stat utime+stime +%.2f CPU-s over %.1f s; "
				 "affinity %d CPUs; %.0f%% of thread samples runnable%s", (int)d->res->pid,
				 used * d->w, d->w, d->ncpu_allowed, 100 * rfrac, rqs);
			fig(f, "cpus_used", used);
			cite(d, f, "CPU-006");
			snprintf(f->fix, sizeof(f->fix), "profile the hot path (qps-tune probe oncpu --pid %d --svg "
				 "FILE) or add CPUs", (int)d->res->pid);
		}
	}
	checked(d, "CPU", any ? "finding" : "ok", "server %.2f CPUs of %d allowed; run-queue wait %.3f s, "
		"throttled %.3f s (%llu periods, quota %s); CPU pressure some %.0f%% (%s)", used, d->ncpu_allowed, wait,
		thr_s, (unsigned long long)thr, d->s1.quota[0] ? d->s1.quota : "none", psi >= 0 ? 100 * psi : 0,
		!d->s1.have_psi ? "no PSI" : d->s1.psi_host ? "host" : "cgroup");
}

/* Where the server's threads block: offcpu stacks (probe) and the syscall
 * they sleep in (sampled from /proc), minus idle waits. */
static bool idle_stack(const struct jv *kern)
{
	static const char *const idle[] = {
		"ep_poll", "do_epoll_wait", "do_sys_poll", "do_select", "core_sys_select", "inet_csk_accept",
		"futex_wait", "do_sigtimedwait", "sigsuspend", "do_wait", NULL,
	};
	int i, k;

	for (i = 0; i < jv_len(kern); i++)
		for (k = 0; idle[k]; k++)
			if (strstr(jv_str(jv_at(kern, i), ""), idle[k]))
				return true;
	return false;
}

static bool preempted(const struct jv *kern)
{
	int i;

	for (i = 0; i < jv_len(kern); i++) {
		const char *s = jv_str(jv_at(kern, i), "");

		if (strstr(s, "preempt_schedule") || strstr(s, "exit_to_user_mode") || strstr(s, "irqentry_exit"))
			return true;
	}
	return jv_len(kern) <= 2;	/* only __schedule/schedule: switched out with no syscall */
}

static void detect_blocking(struct dctx *d)
{
	const struct jv *stacks = jv_get(d->offcpu, "stacks"), *best = NULL;
	double best_us = 0, total_samples = d->sm.thr_samples, ocw = d->w, impact;
	int i, top_nr = -1, top_n = 0, park_nr = -1, park_n = 0;
	const struct jv *sc = NULL;
	struct diag_finding *f;
	char stack[1024] = "", sys[64] = "", parked[192] = "";

	for (i = 0; i < jv_len(stacks); i++) {
		const struct jv *s = jv_at(stacks, i), *k = jv_get(s, "kernel");
		double us = jv_num(jv_get(s, "total_us"), 0);

		if ((pid_t)jv_num(jv_get(s, "pid"), -1) != d->res->pid || idle_stack(k) || preempted(k))
			continue;
		if (us > best_us) {
			best_us = us;
			best = s;
		}
	}
	/* calls under 0.5 s only: a thread parked longer is a timer or background loop */
	for (i = 0; i < MAX_NR; i++) {
		if (d->sm.short_nr[i] > top_n) {
			top_n = d->sm.short_nr[i];
			top_nr = i;
		}
		if (d->sm.parked_nr[i] > park_n) {
			park_n = d->sm.parked_nr[i];
			park_nr = i;
		}
	}
	if (park_nr >= 0)
		snprintf(parked, sizeof(parked), "; a thread parked in %s 0.5 s or more a call (%d such calls seen): a "
			 "timer or background loop, not the request path", syscall_name(park_nr), park_n);
	if (best) {
		const struct jv *k = jv_get(best, "kernel"), *u = jv_get(best, "user");

		for (i = 0; i < jv_len(k); i++) {
			const char *fn = jv_str(jv_at(k, i), "");

			if (!strncmp(fn, "__x64_sys_", 10) || !strncmp(fn, "__arm64_sys_", 12)) {
				snprintf(sys, sizeof(sys), "%s", strstr(fn, "_sys_") + 5);
				break;
			}
		}
		for (i = 0; i < jv_len(u) && i < 6; i++)
			app(stack, sizeof(stack), "%s%s", i ? " <- " : "", jv_str(jv_at(u, i), "?"));
		if (!stack[0])
			for (i = 0; i < jv_len(k) && i < 6; i++)
				app(stack, sizeof(stack), "%s%s", i ? " <- " : "", jv_str(jv_at(k, i), "?"));
	}
	if (!sys[0] && top_nr >= 0)
		snprintf(sys, sizeof(sys), "%s", syscall_name(top_nr));
	/* the blocking syscall's latency from syslat */
	for (i = 0; sys[0] && i < jv_len(jv_get(d->syslat, "syscalls")); i++)
		if (!strcmp(jv_str(jv_get(jv_at(jv_get(d->syslat, "syscalls"), i), "name"), ""), sys))
			sc = jv_at(jv_get(d->syslat, "syscalls"), i);
	/* a call that sleeps half a second or more each time is a timer or
	 * housekeeping loop (sleep(1) in a background thread), not a request's
	 * latency: named, not a finding */
	if (sc && jv_num(jv_get(sc, "mean_us"), 0) >= 500000) {
		checked(d, "off-CPU blocking", "ok", "a thread sleeps in %s %.0f ms a call (%.0f calls, syslat): a "
			"timer or background loop, not the request path", sys, jv_num(jv_get(sc, "mean_us"), 0) / 1000,
			jv_num(jv_get(sc, "count"), 0));
		return;
	}
	/* a finding when a thread of the server spent >= 10 % of the window there */
	/* offcpu traced only from when the evidence called for it: its share is of that time */
	if (d->offcpu && d->res->np > P_OFFCPU && d->res->p[P_OFFCPU].elapsed > 0.1 && d->res->p[P_OFFCPU].elapsed < d->w)
		ocw = d->res->p[P_OFFCPU].elapsed;
	if (best_us < 0.1 * ocw * 1e6 && (total_samples <= 0 || top_n < 0.1 * d->sm.n)) {
		checked(d, "off-CPU blocking", d->offcpu || d->sm.n ? "ok" : "unseen",
			"%s%s%s; no thread blocked outside idle waits for 10%% of the window%s",
			d->offcpu ? "offcpu stacks of the server" : "offcpu ", d->offcpu ? "" : probe_state(d, P_OFFCPU),
			d->sm.n ? ", syscalls sampled from /proc" : "", parked);
		return;
	}
	checked(d, "off-CPU blocking", "finding", "blocked in %s", sys[0] ? sys : "?");
	/* impact: the share of the (traced) window a thread of the server spent there */
	impact = best_us ? best_us / 1e4 / ocw : 100.0 * top_n / d->sm.n;
	f = add_finding(d, "offcpu-blocking", impact < 100 ? impact : 100, best && (sc || top_n) ? "high" : "medium");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "the server blocks in %s on its request path%s%s", sys[0] ? sys : "the kernel",
		 stack[0] ? ": stack " : "", stack);
	f->evidence[0] = '\0';
	if (best)
		app(f->evidence, sizeof(f->evidence), "offcpu: %.3f s off CPU in %.0f periods in this stack over %.1f s "
		    "(kernel: ", best_us / 1e6, jv_num(jv_get(best, "count"), 0), ocw);
	for (i = 0; best && i < jv_len(jv_get(best, "kernel")) && i < 8; i++)
		app(f->evidence, sizeof(f->evidence), "%s%s", i ? " <- " : "", jv_str(jv_at(jv_get(best, "kernel"), i), "?"));
	if (best)
		app(f->evidence, sizeof(f->evidence), "; user: %s); ", stack);
	if (sc)
		app(f->evidence, sizeof(f->evidence), "syslat: %s %.0f calls, mean %.0f us, max %.0f us, %.3f s in all; ",
		    sys, jv_num(jv_get(sc, "count"), 0), jv_num(jv_get(sc, "mean_us"), 0), jv_num(jv_get(sc, "max_us"), 0),
		    jv_num(jv_get(sc, "total_us"), 0) / 1e6);
	if (top_nr >= 0)
		app(f->evidence, sizeof(f->evidence), "/proc/%d/task/*/syscall: a thread sleeping in %s in %d of %d "
		    "thread samples (every %d ms), in calls under 0.5 s (schedstat)%s", (int)d->res->pid,
		    syscall_name(top_nr), top_n, d->sm.thr_samples, SAMPLE_MS, parked);
	fig(f, "offcpu_s", best_us / 1e6);
	fig(f, "samples_blocked", top_n);
	fig(f, "thread_samples", d->sm.thr_samples);
	if (sc) {
		fig(f, "calls", jv_num(jv_get(sc, "count"), 0));
		fig(f, "mean_us", jv_num(jv_get(sc, "mean_us"), 0));
	}
	snprintf(f->checks, sizeof(f->checks), "none (no registry check covers it: probe and /proc evidence)");
	snprintf(f->fix, sizeof(f->fix), "code: the server blocks in %s%s%s while requests wait behind it; take the "
		 "blocking call off the request path (a thread pool, async I/O, a cache) or run more workers so "
		 "others keep serving", sys[0] ? sys : "the kernel", stack[0] ? " at " : "", stack);
}

static void detect_retrans(struct dctx *d)
{
	uint64_t re = dlt(&d->s0, &d->s1, C_RETRANS), out = dlt(&d->s0, &d->s1, C_OUTSEGS);
	uint64_t in = dlt(&d->s0, &d->s1, C_INSEGS), inerr = dlt(&d->s0, &d->s1, C_INERRS);
	double drops = jv_num(jv_get(d->tcpdrop, "drops_total"), 0);
	const struct jv *reasons = jv_get(d->tcpdrop, "drop_reasons");
	char rs[512] = "";
	bool ovf_seen = dlt(&d->s0, &d->s1, C_LISTEN_OVF) > 0;
	struct diag_finding *f;
	int i;

	for (i = 0; reasons && reasons->t == JV_OBJ && i < reasons->n && i < 8; i++)
		app(rs, sizeof(rs), "%s%s %.0f", rs[0] ? ", " : "", reasons->kids[i].key, jv_num(&reasons->kids[i], 0));
	if ((re < 10 || (double)re < 0.01 * (double)out) && !inerr) {
		checked(d, "retransmits, drops", "ok", "RetransSegs +%llu of OutSegs +%llu; InErrs +0%s%s%s%s",
			(unsigned long long)re, (unsigned long long)out, d->tcpdrop ? "; drops by reason: " : "",
			d->tcpdrop ? (rs[0] ? rs : "none") : "", d->tcpdrop ? "" : "; tcpdrop ",
			d->tcpdrop ? "" : probe_state(d, P_TCPDROP));
		return;
	}
	checked(d, "retransmits, drops", "finding", "RetransSegs +%llu of OutSegs +%llu", (unsigned long long)re,
		(unsigned long long)out);
	f = add_finding(d, "retransmits", 100.0 * (double)re / (double)(out + 1) + 10, d->tcpdrop ? "high" : "medium");
	if (!f)
		return;
	snprintf(f->title, sizeof(f->title), "%.1f%% of segments are retransmitted", 100.0 * (double)re / (double)(out + 1));
	snprintf(f->evidence, sizeof(f->evidence), "Tcp RetransSegs +%llu, OutSegs +%llu, InSegs +%llu, InErrs +%llu "
		 "over %.1f s", (unsigned long long)re, (unsigned long long)out, (unsigned long long)in,
		 (unsigned long long)inerr, d->w);
	if (d->tcpdrop)
		app(f->evidence, sizeof(f->evidence), "; tcpdrop: %.0f drops in this netns by reason: %s", drops,
		    rs[0] ? rs : "none");
	fig(f, "retrans_segs", (double)re);
	fig(f, "out_segs", (double)out);
	fig(f, "drops", drops);
	cite(d, f, "PKT-003");
	if (ovf_seen)
		f->impact /= 2;	/* SYN-ACKs resent for overflowed handshakes: a consequence */
	snprintf(f->fix, sizeof(f->fix), "%sfind where packets are lost: drops by reason above (listen overflow: the "
		 "accept queue; NO_SOCKET: resets to closed ports), NIC drops (PKT-003), qdisc; "
		 "'qps-tune probe tcpdrop --stacks' names the drop places", ovf_seen ?
		 "the accept queue overflowed in this window (see accept-queue-overflow): the server resends "
		 "SYN-ACKs of the handshakes it dropped, fix that first; else " : "");
}

static int cmp_impact(const void *a, const void *b)
{
	const struct diag_finding *x = a, *y = b;

	return x->impact < y->impact ? 1 : x->impact > y->impact ? -1 : 0;
}

/* ---- the run */

static int pick_server(struct dctx *d)
{
	struct ctx *cx = &d->r.cx;
	struct diag_result *res = d->res;
	int i;

	if (d->o->pid) {
		res->pid = d->o->pid;
	} else if (cx->nsrv == 1) {
		res->pid = cx->srv[0].pid;
	} else if (cx->nsrv == 0 && cx->nls > 0) {
		snprintf(res->err, sizeof(res->err), "%d TCP listener%s in netns net:[%llu], but no owner could be "
			 "seen (other users' /proc/PID/fd needs root or CAP_SYS_PTRACE): run as root, or name the "
			 "server with --pid", cx->nls, cx->nls == 1 ? "" : "s", (unsigned long long)cx->netns);
		return -EACCES;
	} else if (cx->nsrv == 0) {
		snprintf(res->err, sizeof(res->err), "no process owns a TCP listener%s%.0d in netns net:[%llu]: name "
			 "the server with --pid", d->o->port ? " on port " : "", d->o->port,
			 (unsigned long long)cx->netns);
		return -ESRCH;
	} else {
		int n = snprintf(res->err, sizeof(res->err), "%d processes own TCP listeners (", cx->nsrv);

		for (i = 0; i < cx->nsrv && n < (int)sizeof(res->err); i++)
			n += snprintf(res->err + n, sizeof(res->err) - (size_t)n, "%s%d %s", i ? ", " : "",
				      (int)cx->srv[i].pid, cx->srv[i].comm);
		app(res->err, sizeof(res->err), "): name one with --pid or --port");
		return -EINVAL;
	}
	if (proc_comm(res->pid, res->comm, sizeof(res->comm))) {
		snprintf(res->err, sizeof(res->err), "no process %d", (int)res->pid);
		return -ESRCH;
	}
	res->start = proc_starttime(res->pid);
	return 0;
}

/* The children of the server that hold one of its listeners: the workers of
 * a prefork server (nginx's master owns the listener as sock_diag's owner
 * scan finds it, its workers accept and serve). They are not watched: the
 * report says so. */
static void listener_sharers(const struct dctx *d, struct diag_result *res)
{
	char path[PATH_MAX], buf[512], *p;
	struct dirent *de, *fe;
	DIR *proc, *fds;
	int i;

	proc = opendir("/proc");
	while (proc && (de = readdir(proc))) {
		bool holds = false;
		int ppid = 0;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == res->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (procfs_read(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')) ||
		    sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid != res->pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fds = opendir(path);
		while (fds && !holds && (fe = readdir(fds))) {
			unsigned long long ino;

			if (!fd_socket_inode(path, fe->d_name, &ino))
				continue;
			for (i = 0; i < d->r.cx.nls && !holds; i++)
				holds = d->r.cx.ls[i].pid == res->pid && d->r.cx.ls[i].inode == ino;
		}
		if (fds)
			closedir(fds);
		if (holds) {
			if (res->nshared < DIAG_MAX_SHARED)
				res->shared[res->nshared] = pid;
			res->nshared++;
		}
	}
	if (proc)
		closedir(proc);
}

/* utime + stime of @pid so far, in clock ticks (0 if unreadable) */
static unsigned long long cpu_so_far(pid_t pid)
{
	struct dsnap s;

	memset(&s, 0, sizeof(s));
	snap_server(pid, &s);
	return s.cpu_ticks;
}

/* A prefork server (nginx, Apache, gunicorn): the owner scan found the
 * parent, which holds the listener while its children accept and serve.
 * Unless --pid named the process, watch the busiest child (CPU so far) and
 * keep the others listed as not watched. */
static void pick_worker(struct diag_result *res)
{
	int i, best = -1, n = res->nshared < DIAG_MAX_SHARED ? res->nshared : DIAG_MAX_SHARED;
	unsigned long long c, most = 0;
	pid_t parent = res->pid;

	for (i = 0; i < n; i++) {
		c = cpu_so_far(res->shared[i]);
		if (best < 0 || c > most) {
			best = i;
			most = c;
		}
	}
	if (best < 0 || proc_comm(res->shared[best], res->comm, sizeof(res->comm))) {
		proc_comm(parent, res->comm, sizeof(res->comm));
		return;
	}
	res->pid = res->shared[best];
	res->owner = parent;
	res->start = proc_starttime(res->pid);
	memmove(&res->shared[best], &res->shared[best + 1], (size_t)(n - best - 1) * sizeof(res->shared[0]));
	res->nshared--;
}

int diagnose_run(const struct tenv *env, const struct diag_opts *o, struct diag_result *res)
{
	static struct dctx d;
	struct child ch[DIAG_MAX_PROBES];
	char pidarg[16], durarg[32], err[2048], cant[256] = "";
	const char *unstarted = "not-needed", *unstarted_why = NULL;
	bool probing = false;
	struct hog hv[512];
	double t_start = now_s(), t_end;
	cpu_set_t set;
	int e, i, nch = 0, cgfd = -1;
	bool stopped = false;

	memset(res, 0, sizeof(*res));
	memset(&d, 0, sizeof(d));
	memset(ch, 0, sizeof(ch));
	fd_limited = false;
	d.o = o;
	d.res = res;
	res->window = o->duration;
	d.hz = (double)sysconf(_SC_CLK_TCK);
	cgfd = open("/sys/fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cgfd >= 0)
		snprintf(cgroot, sizeof(cgroot), "/proc/self/fd/%d", cgfd);
	e = run_prepare(&d.r, env, o->profile, 0, o->pid, o->port, err, sizeof(err));
	if (e) {
		snprintf(res->err, sizeof(res->err), "%s", err);
		goto out;
	}
	snprintf(res->profile, sizeof(res->profile), "%s", d.r.prof->name);
	e = pick_server(&d);
	if (e)
		goto out;
	res->initial = d.r.cx.initial;
	netns_identity(&res->netns, &res->cookie, res->boot_id, sizeof(res->boot_id));
	for (i = 0; i < d.r.cx.nls; i++) {
		char a[64];

		if (d.r.cx.ls[i].pid != res->pid)
			continue;
		res->nls++;
		app(res->listeners, sizeof(res->listeners), "%s%s (backlog %u)", res->listeners[0] ? ", " : "",
		    sockdiag_addr_str(&d.r.cx.ls[i], a, sizeof(a)), d.r.cx.ls[i].backlog);
	}
	listener_sharers(&d, res);
	if (!o->pid && res->nshared)
		pick_worker(res);
	proc_nofile(res->pid, &d.soft, &d.hard);
	if (sched_getaffinity(res->pid, sizeof(set), &set) == 0) {
		d.ncpu_allowed = CPU_COUNT(&set);
		d.allowed = set;
	}
	/* probes: none yet; each sample round starts those the window's evidence
	 * calls for (probe_rules), and they trace until the window ends */
	snprintf(pidarg, sizeof(pidarg), "%d", (int)res->pid);
	snprintf(durarg, sizeof(durarg), "%.0f", o->duration + 30);	/* a bound; SIGTERM ends them */
	for (i = 0; i < DIAG_MAX_PROBES; i++) {
		ch[i].name = probe_names[i];
		ch[i].out = ch[i].err = -1;
	}
	nch = DIAG_MAX_PROBES;
	probing = !o->no_probes && probes_can_run(cant, sizeof(cant));
	take_snap(res->pid, &d.s0);
	scan_cpu(hv, &nhogs, 512, true, res->pid);
	unstarted = o->no_probes ? "off" : probing ? "not-needed" : "unavailable";
	unstarted_why = o->no_probes ? "--no-probes" : probing ? NULL : cant;
	/* the registry's verdicts (check ids) at the window's start: a plain
	 * audit, ~10 ms, run while the probes load */
	d.have_rep = audit_run(&d.rep, env, o->profile, 0, res->pid, 0, 0, err, sizeof(err)) == 0;
	hogs = hv;
	t_end = t_start + o->duration;
	while (now_s() + SAMPLE_MS / 1000.0 <= t_end && !interrupted) {
		sample_round(res->pid, &d.s0, &d.sm);
		if (probing && !stopped)
			probes_attach(&d, ch, t_end - PROBE_STOP_EARLY, pidarg, durarg);
		/* the probes print their reports (offcpu symbolizes) while the window ends */
		if (!stopped && now_s() >= t_end - PROBE_STOP_EARLY) {
			children_stop(ch, nch);
			stopped = true;
		}
		sleep_until(now_s() + SAMPLE_MS / 1000.0);
	}
	sample_round(res->pid, &d.s0, &d.sm);
	sleep_until(t_end);
	if (interrupted) {
		/* SIGINT/SIGTERM: the window ends now; the report covers what was seen */
		t_end = now_s();
		res->interrupted = true;
	}
	take_snap(res->pid, &d.s1);
	scan_cpu(hv, &nhogs, 512, false, res->pid);
	d.w = d.s1.t - d.s0.t;
	if (d.w <= 0)
		d.w = 0.001;
	if (kill(res->pid, 0) && errno == ESRCH) {
		snprintf(res->err, sizeof(res->err), "pid %d exited during the window", (int)res->pid);
		e = -ESRCH;
		children_finish(ch, nch, now_s() + 0.2, res, unstarted, unstarted_why);
		goto out;
	}
	children_finish(ch, nch, t_end + PROBE_GRACE_MS / 1000.0, res, unstarted, unstarted_why);
	for (i = 0; i < nch; i++) {
		const struct jv *doc = ch[i].doc;

		if (!strcmp(ch[i].name, "acceptq"))
			d.acceptq = doc;
		else if (!strcmp(ch[i].name, "syslat"))
			d.syslat = doc;
		else if (!strcmp(ch[i].name, "offcpu"))
			d.offcpu = doc;
		else if (!strcmp(ch[i].name, "runqlat"))
			d.runqlat = doc;
		else if (!strcmp(ch[i].name, "tcpdrop"))
			d.tcpdrop = doc;
	}
	if (ch[P_SYSLAT].syscall[0])
		snprintf(d.syslat_only, sizeof(d.syslat_only), "%s", ch[P_SYSLAT].syscall);
	/* order matters: descriptors before the accept queue they overflow */
	detect_fds(&d);
	detect_accept(&d);
	detect_syn(&d);
	detect_ports(&d);
	detect_mem(&d);
	detect_softnet(&d);
	detect_conntrack(&d);
	detect_cpu(&d);
	detect_blocking(&d);
	detect_retrans(&d);
	qsort(res->f, (size_t)res->nf, sizeof(res->f[0]), cmp_impact);
	e = 0;
out:
	for (i = 0; i < nch; i++) {
		if (ch[i].pid > 0) {
			kill(ch[i].pid, SIGKILL);
			waitpid(ch[i].pid, NULL, 0);
		}
		if (ch[i].out >= 0)
			close(ch[i].out);
		if (ch[i].err >= 0)
			close(ch[i].err);
		jv_free(ch[i].doc);
	}
	free(d.s0.ls);
	free(d.s1.ls);
	hogs = NULL;
	nhogs = 0;
	report_release(&d.rep);	/* also what a failed audit left */
	run_release(&d.r);
	if (cgfd >= 0)
		close(cgfd);
	snprintf(cgroot, sizeof(cgroot), "/sys/fs/cgroup");
	res->elapsed = now_s() - t_start;
	return e;
}
