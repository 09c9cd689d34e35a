/* common.c - shared plumbing of the probe loaders (see common.h). */
#include "common.h"
#include "ksyms.h"
#include "usyms.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <fcntl.h>
#include <ftw.h>
#include <mntent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "privhint.h"
#include "probe.h"

#ifndef CAP_SYSLOG
#define CAP_SYSLOG 34
#endif

bool probe_global_json, probe_global_verbose;
volatile sig_atomic_t probe_stop;
int probe_nerr;
static int probe_argc;
static char **probe_argv;

void probe_set_argv(int argc, char **argv)
{
	probe_argc = argc;
	probe_argv = argv;
}
static bool libbpf_verbose;

void probe_set_global_flags(int json, int verbose)
{
	probe_global_json = json;
	probe_global_verbose = verbose;
}

void probe_opts_init(struct probe_opts *o, const char *name)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->json = probe_global_json;
	o->verbose = probe_global_verbose;
	opterr = 0;
}

int probe_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 86400.0 * 365)
		return -EINVAL;
	*out = v;
	return 0;
}

int probe_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '-' || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int probe_opt_common(struct probe_opts *o, int c, const char *arg, bool *help)
{
	uint64_t v;

	/* the short forms */
	c = c == 'd' ? PO_DURATION : c == 'i' ? PO_INTERVAL : c == 'p' ? PO_PID : c;
	switch (c) {
	case '?': {
		const char *bad = optind > 0 && optind <= probe_argc && probe_argv ? probe_argv[optind - 1] : "?";

		if (optopt > 0 && optopt < 0x100 && !strchr(PROBE_COMMON_SHORTOPTS, optopt))
			probe_err(o, "unknown option '-%c'; see 'qps-tune probe %s --help'", optopt, o->name);
		else if (optopt)
			probe_err(o, "option '%s' needs an argument; see 'qps-tune probe %s --help'", bad, o->name);
		else
			probe_err(o, "unknown option '%s'; see 'qps-tune probe %s --help'", bad, o->name);
		return -EINVAL;
	}
	case PO_DURATION:
	case PO_INTERVAL:
		if (probe_parse_seconds(arg, c == PO_DURATION ? &o->duration : &o->interval) ||
		    (c == PO_INTERVAL && o->interval < 0.05)) {
			probe_err(o, "invalid --%s '%s': want seconds%s",
				  c == PO_DURATION ? "duration" : "interval", arg, c == PO_INTERVAL ? " >= 0.05" : "");
			return -EINVAL;
		}
		return 1;
	case PO_PID:
		if (probe_parse_u64(arg, &v) || v == 0 || v > 0x3fffffff) {
			probe_err(o, "invalid --pid '%s'", arg);
			return -EINVAL;
		}
		o->pid = (pid_t)v;
		return 1;
	case PO_COMM:
		if (!*arg || strlen(arg) > 15) {
			probe_err(o, "invalid --comm '%s': want 1 to 15 characters (the kernel's comm length)", arg);
			return -EINVAL;
		}
		snprintf(o->comm, sizeof(o->comm), "%s", arg);
		return 1;
	case PO_CGROUP:
		if (!*arg) {
			probe_err(o, "invalid --cgroup '': want a cgroup v2 directory");
			return -EINVAL;
		}
		o->cgroup = arg;
		return 1;
	case PO_CUMULATIVE:
		o->cumulative = true;
		return 1;
	case PO_JSON:
	case 'j':
		o->json = true;
		return 1;
	case PO_VERBOSE:
	case 'v':
		o->verbose = true;
		return 1;
	case PO_HELP:
	case 'h':
		*help = true;
		return 1;
	}
	return 0;
}

static void verr(const struct probe_opts *o, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* a permission error names the privilege, wherever it came from */
	priv_annotate(msg, sizeof(msg));
	probe_nerr++;
	fprintf(stderr, "qps-tune: probe %s: %s\n", o->name, msg);
	if (o->json) {
		char full[1100];

		snprintf(full, sizeof(full), "probe %s: %s", o->name, msg);
		fputs("{\"error\": ", stdout);
		json_write_string(stdout, full);
		fputs("}\n", stdout);
		fflush(stdout);
	}
}

void probe_err(const struct probe_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(o, fmt, ap);
	va_end(ap);
}

void probe_note(const struct probe_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qps-tune: probe %s: ", o->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

int probe_args_end(const struct probe_opts *o, bool help, int argc, char **argv,
		   void (*usage)(FILE *f))
{
	if (help) {
		usage(stdout);
		/* the short forms, like libbpf-tools (the probes' own usage lines name the long ones) */
		printf("common options ('qps-tune probe --help'):\n"
		       "  -d, --duration S  -i, --interval S  -p, --pid PID  -j, --json  -v, --verbose  -h, --help\n");
		return 0;
	}
	if (optind < argc) {
		probe_err(o, "unexpected argument '%s'; see 'qps-tune probe %s --help'", argv[optind], o->name);
		return 2;
	}
	return -1;
}

int probe_check_env(const struct probe_opts *o)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	char path[64];

	if (syscall(SYS_capget, &h, d) == 0 && !(has_cap(d, CAP_SYS_ADMIN) ||
	    (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)))) {
		bool b = has_cap(d, CAP_BPF), pm = has_cap(d, CAP_PERFMON);

		probe_err(o, "need root, or CAP_BPF and CAP_PERFMON (have %s): run with sudo, or grant them with 'setcap cap_bpf,cap_perfmon+ep qps-tune'",
			  b ? "CAP_BPF only" : pm ? "CAP_PERFMON only" : "neither");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		int err = -errno;

		probe_err(o, "kernel BTF '/sys/kernel/btf/vmlinux' is not readable (%s): this probe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL kernels are)",
			  strerror(-err));
		return err;
	}
	if (o->pid) {
		snprintf(path, sizeof(path), "/proc/%d", (int)o->pid);
		if (access(path, F_OK) != 0) {
			probe_err(o, "no process with --pid %d ('%s' does not exist)", (int)o->pid, path);
			return -ESRCH;
		}
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void on_signal(int sig)
{
	(void)sig;
	probe_stop = 1;
}

void probe_setup(const struct probe_opts *o)
{
	struct sigaction sa = { .sa_handler = on_signal };

	libbpf_verbose = o->verbose;
	libbpf_set_print(libbpf_print);
	probe_stop = 0;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocking wait must return EINTR so we detach promptly */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void probe_load_err(const struct probe_opts *o, const char *what, int err)
{
	const char *hint = "";

	if (err == -EPERM || err == -EACCES)
		hint = ": the kernel refused (need root or CAP_BPF+CAP_PERFMON; lockdown=confidentiality or kernel.unprivileged_bpf_disabled can also refuse); -v shows the verifier log";
	else if (err == -ENOENT || err == -ESRCH)
		hint = ": the kernel lacks a function or tracepoint this needs; -v shows which";
	else if (err == -ENOMEM || err == -E2BIG)
		hint = ": out of memory for BPF maps (memlock limit or memory cgroup)";
	else if (err == -EINVAL)
		hint = ": the kernel rejected the program; -v shows the verifier log";
	probe_err(o, "cannot %s: %s%s", what, strerror(-err), hint);
}

bool probe_kernel_has_tp(const char *tp)
{
	const char *pretend = getenv("QPS_PROBE_PRETEND_NO_TP");
	char name[128];
	struct btf *btf;
	bool found;

	/* tests: QPS_PROBE_PRETEND_NO_TP=sk_data_ready,sched_switch */
	if (pretend) {
		size_t n = strlen(tp);

		for (const char *p = strstr(pretend, tp); p; p = strstr(p + 1, tp))
			if ((p == pretend || p[-1] == ',') && (p[n] == ',' || !p[n]))
				return false;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return false;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	found = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
	btf__free(btf);
	return found;
}

int probe_online_cpus(bool *on, int max)
{
	char buf[1024], *p = buf;
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	int n = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	while (*p && *p != '\n') {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			p = end;
		}
		for (long i = a; i <= b && i < max; i++, n++)
			on[i] = true;
		if (*p == ',')
			p++;
	}
	return n;
}

/* Reads tracepoint @name's id ("sys/event") from the events directory
 * under @root; -errno when absent. */
static long tp_id_at(const char *root, const char *name)
{
	char path[512], buf[32];
	ssize_t r;
	long v;
	int fd;

	snprintf(path, sizeof(path), "%s/events/%s/id", root, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -EIO;
	buf[r] = 0;
	v = strtol(buf, NULL, 10);
	return v > 0 ? v : -EINVAL;
}

/* The ids of @names into @ids: from a mounted tracefs, else from one that a
 * child mounts in a mount namespace of its own (the host's mounts are left
 * alone). Returns 0 or -errno. */
static int tp_ids(const char *const *names, int n, long *ids)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	int p[2], status, i, got = 0;
	pid_t pid;

	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]) && got < n; r++)
		for (i = 0, got = 0; i < n && (ids[i] = tp_id_at(roots[r], names[i])) > 0; i++)
			got++;
	if (got == n)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		long out[PROBE_TPW_MAX] = { 0 };

		close(p[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
			out[0] = -errno;
		for (i = 0; out[0] >= 0 && i < n; i++)
			out[i] = tp_id_at("/sys/kernel/tracing", names[i]);
		_exit(write(p[1], out, sizeof(out)) == (ssize_t)sizeof(out) ? 0 : 1);
	}
	close(p[1]);
	{
		long out[PROBE_TPW_MAX];
		ssize_t r = read(p[0], out, sizeof(out));

		close(p[0]);
		waitpid(pid, &status, 0);
		if (r != (ssize_t)sizeof(out))
			return -EIO;
		for (i = 0; i < n; i++) {
			if (out[i] <= 0)
				return out[i] ? (int)out[i] : -ENOENT;
			ids[i] = out[i];
		}
	}
	return 0;
}

static uint64_t tpw_sum(const struct probe_tpw *w, int i)
{
	uint64_t sum = 0, v;

	for (int cpu = 0; w->fds && cpu < w->ncpu; cpu++) {
		int fd = w->fds[i * w->ncpu + cpu];

		if (fd >= 0 && read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			sum += v;
	}
	return sum;
}

static int tpw_open(struct probe_tpw *w, const char *const *names, int n);

int probe_tpw_open(struct probe_tpw *w, const struct probe_opts *o, const char *const *names, int n)
{
	int err = tpw_open(w, names, n);

	if (err)
		probe_note(o, "no witness of the tracepoints (%s): calls the kernel never hands to the programs "
			      "cannot be counted; their not_delivered figures are null", w->err);
	return err;
}

static int tpw_open(struct probe_tpw *w, const char *const *names, int n)
{
	enum { MAX_CPUS = 1024 };
	static bool online[MAX_CPUS];
	long ids[PROBE_TPW_MAX];
	int err, cpus;

	memset(w, 0, sizeof(*w));
	if (n > PROBE_TPW_MAX)
		return -EINVAL;
	err = tp_ids(names, n, ids);
	if (err) {
		snprintf(w->err, sizeof(w->err), "no tracepoint ids: %s", err == -EPERM || err == -EACCES ?
			 "tracefs is not mounted (or not readable) and mounting it privately needs CAP_SYS_ADMIN" :
			 strerror(-err));
		return err;
	}
	cpus = probe_online_cpus(online, MAX_CPUS);
	if (cpus <= 0) {
		snprintf(w->err, sizeof(w->err), "no online CPUs read (%s)", strerror(cpus ? -cpus : ENODEV));
		return cpus ? cpus : -ENODEV;
	}
	for (int cpu = 0; cpu < MAX_CPUS; cpu++)
		if (online[cpu])
			w->ncpu = cpu + 1;
	w->fds = malloc(sizeof(int) * w->ncpu * n);
	if (!w->fds) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return -ENOMEM;
	}
	w->n = n;
	for (int i = 0; i < n * w->ncpu; i++)
		w->fds[i] = -1;
	for (int i = 0; i < n; i++) {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_TRACEPOINT,
			.size = sizeof(attr),
			.config = (uint64_t)ids[i],
		};

		for (int cpu = 0; cpu < w->ncpu; cpu++) {
			if (!online[cpu])
				continue;
			int fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

			if (fd < 0 && errno != ENODEV) {	/* ENODEV: went offline meanwhile */
				err = -errno;
				snprintf(w->err, sizeof(w->err), "perf_event_open of %s: %s%s", names[i], strerror(-err),
					 err == -EACCES || err == -EPERM ? " (needs CAP_PERFMON, or perf_event_paranoid <= -1)" : "");
				probe_tpw_close(w);
				return err;
			}
			w->fds[i * w->ncpu + cpu] = fd;
		}
	}
	for (int i = 0; i < n; i++)
		w->base[i] = tpw_sum(w, i);
	return 0;
}

uint64_t probe_tpw_read(const struct probe_tpw *w, int i)
{
	uint64_t v;

	if (!w->fds || i >= w->n)
		return 0;
	v = tpw_sum(w, i);
	return v > w->base[i] ? v - w->base[i] : 0;
}

void probe_tpw_close(struct probe_tpw *w)
{
	for (int i = 0; w->fds && i < w->n * w->ncpu; i++)
		if (w->fds[i] >= 0)
			close(w->fds[i]);
	free(w->fds);
	w->fds = NULL;
	w->n = 0;
}

uint64_t probe_prog_misses(const struct bpf_program *p)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(p);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.recursion_misses;
}

int probe_kernel_tp_nargs(const char *tp)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	char name[128];
	int id, n = -1;

	if (!btf)
		return -1;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	/* typedef -> pointer -> prototype (void *__data, the arguments) */
	if (t)
		t = btf__type_by_id(btf, t->type);
	if (t && btf_is_ptr(t))
		t = btf__type_by_id(btf, t->type);
	if (t && btf_is_func_proto(t))
		n = btf_vlen(t) - 1;
	btf__free(btf);
	return n;
}

bool probe_kernel_has_member(const char *type, const char *member)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	const struct btf_member *m;
	bool found = false;
	int id;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	m = t ? btf_members(t) : NULL;
	for (int i = 0; t && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(btf, m[i].name_off), member);
	btf__free(btf);
	return found;
}

bool probe_kernel_enum_value(const char *enum_name, const char *value, long long *val)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool found = false;
	int id, i;

	if (!btf)
		return false;
	id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
	if (id > 0) {
		const struct btf_enum *e;

		t = btf__type_by_id(btf, id);
		e = btf_enum(t);
		for (i = 0; i < btf_vlen(t); i++, e++) {
			if (strcmp(btf__name_by_offset(btf, e->name_off), value) == 0) {
				*val = e->val;
				found = true;
				break;
			}
		}
	}
	btf__free(btf);
	return found;
}

int probe_kernel_enum_names(const char *enum_name, const char *prefix, char **names, int n)
{
	struct btf *btf = btf__load_vmlinux_btf();
	size_t plen = prefix ? strlen(prefix) : 0;
	const struct btf_type *t;
	int id, i, filled = 0;

	if (!btf)
		return -errno;
	id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
	if (id <= 0) {
		btf__free(btf);
		return -ENOENT;
	}
	t = btf__type_by_id(btf, id);
	for (i = 0; i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;
		const char *name = btf__name_by_offset(btf, e->name_off);

		if (e->val < 0 || e->val >= n || names[e->val] || !name)
			continue;
		if (plen && !strncmp(name, prefix, plen))
			name += plen;
		names[e->val] = strdup(name);
		if (names[e->val])
			filled++;
	}
	btf__free(btf);
	return filled;
}

void probe_names_free(char **names, int n)
{
	for (int i = 0; i < n; i++) {
		free(names[i]);
		names[i] = NULL;
	}
}

bool probe_kernel_has_kprobe(const char *func)
{
	char line[512], sym[256];
	bool found = false;
	FILE *f;

	if (access("/sys/bus/event_source/devices/kprobe/type", R_OK) != 0)
		return false;
	f = fopen("/proc/kallsyms", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %255s", sym) == 1 && strcmp(sym, func) == 0)
			found = true;
	}
	fclose(f);
	return found;
}

bool probe_try_tp_btf(void)
{
	const char *e = getenv("QPS_PROBE_NO_TP_BTF");

	return !e || !*e || !strcmp(e, "0");
}

uint64_t probe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double probe_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int probe_run(const struct probe_opts *o, int (*tick)(void *ctx, bool final),
	      int (*pollfn)(void *ctx, int ms), void *ctx)
{
	uint64_t start = probe_now_ns(), now, deadline = UINT64_MAX, next = UINT64_MAX, until;
	int err;

	if (o->duration > 0)
		deadline = start + (uint64_t)(o->duration * 1e9);
	if (o->interval > 0)
		next = start + (uint64_t)(o->interval * 1e9);
	while (!probe_stop) {
		now = probe_now_ns();
		if (now >= deadline)
			break;
		if (now >= next) {
			err = tick(ctx, false);
			if (err < 0)
				return err;
			while (next <= now)
				next += (uint64_t)(o->interval * 1e9);
			continue;
		}
		until = next < deadline ? next : deadline;
		/* wake at least every 200 ms so a lost signal race costs little */
		int ms = until == UINT64_MAX ? 200 : (int)((until - now + 999999) / 1000000);

		if (ms > 200)
			ms = 200;
		if (pollfn) {
			err = pollfn(ctx, ms);
			if (err < 0 && err != -EINTR)
				return err;
		} else {
			poll(NULL, 0, ms);
		}
	}
	return tick(ctx, true);
}

void probe_print_hist(FILE *f, const unsigned long long *slots, int n, const char *unit, const char *indent)
{
	uint64_t max = 0;
	int i, last = -1, first = -1, w;

	for (i = 0; i < n; i++) {
		if (slots[i] > max)
			max = slots[i];
		if (slots[i]) {
			last = i;
			if (first < 0)
				first = i;
		}
	}
	if (last < 0)
		return;
	fprintf(f, "%s%22s : %-10s distribution\n", indent, unit, "count");
	for (i = first; i <= last; i++) {
		unsigned long long lo = probe_log2_lo(i), hi = (1ull << (i + 1)) - 1;
		char range[48];
		char bar[41];

		snprintf(range, sizeof(range), "%llu -> %llu", lo, hi);
		w = max ? (int)(slots[i] * 40 / max) : 0;
		memset(bar, '*', w);
		bar[w] = 0;
		fprintf(f, "%s%22s : %-10llu |%-40s|\n", indent, range,
			(unsigned long long)slots[i], bar);
	}
}

void probe_json_hist(struct json *j, const char *key, const unsigned long long *slots, int n)
{
	int i;

	json_arr_open(j, key);
	for (i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		json_obj_open(j, NULL);
		json_uint(j, "lo", probe_log2_lo(i));
		json_uint(j, "hi", (1ull << (i + 1)) - 1);
		json_uint(j, "count", slots[i]);
		json_obj_close(j);
	}
	json_arr_close(j);
}

void probe_warn(const struct probe_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qps-tune: probe %s: warning: ", o->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Mount point of the cgroup v2 hierarchy ("/sys/fs/cgroup", or
 * "/sys/fs/cgroup/unified" on a hybrid host). Returns 0 or -ENOENT. */
static int cgroup2_root(char *buf, size_t size)
{
	FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent *m;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			snprintf(buf, size, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	}
	endmntent(f);
	return err;
}

static int cgroup_id_of(const char *path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		unsigned char id[8];
	} h = { .fh.handle_bytes = 8 };
	int mnt;

	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt, 0))
		return -errno;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

/* Reads "Key:\tvalue" of /proc/@pid/status into @out. Returns 0 or -errno. */
static int status_field(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], line[256];
	size_t n = strlen(key);
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			char *v = line + n + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = 0;
			snprintf(out, size, "%s", v);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static bool pid_is_kthread(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* after the comm, which may hold spaces and parentheses: field 9 is flags */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & 0x00200000;	/* PF_KTHREAD */
}

int probe_cfg_init(const struct probe_opts *o, bool allow_kthread, struct probe_cfg *cfg,
		   struct probe_target *t)
{
	struct probe_target tt = { 0 };
	char buf[4096], self[32];
	struct stat st;
	int fd, err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->self_tgid = (__u32)getpid();
	cfg->filtered = probe_has_filter(o);
	/* the caller's pid namespace: the initial one has a fixed inode
	 * (PROC_PID_INIT_INO); any other is translated, its depth learned by
	 * BPF (NS_GET_PARENT cannot see past the caller's own namespace) */
	fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0) {
		cfg->pidns_ino = (__u32)st.st_ino;
		cfg->pidns_level = st.st_ino != 0xEFFFFFFCu;
	}
	if (fd >= 0)
		close(fd);
	if (o->pid) {
		/* --pid is checked in /proc: it must be this namespace's */
		ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);

		if (n <= 0 || (self[n] = 0, atoi(self) != getpid())) {
			probe_err(o, "'/proc' belongs to another pid namespace: --pid %d cannot be checked (mount this namespace's /proc, e.g. 'unshare -p -f --mount-proc')",
				  (int)o->pid);
			return -EINVAL;
		}
		if (status_field(o->pid, "Tgid", buf, sizeof(buf))) {
			probe_err(o, "no process with --pid %d ('/proc/%d' does not exist)", (int)o->pid, (int)o->pid);
			return -ESRCH;
		}
		tt.tgid = (pid_t)atoi(buf);
		if (status_field(o->pid, "Name", buf, sizeof(buf)) == 0)
			snprintf(tt.comm, sizeof(tt.comm), "%.15s", buf);
		tt.kthread = pid_is_kthread(o->pid);
		if (tt.kthread && !allow_kthread) {
			probe_err(o, "--pid %d is the kernel thread '%s': kernel threads make no syscalls and own no sockets, so %s has nothing to report for it",
				  (int)o->pid, tt.comm, o->name);
			return -EINVAL;
		}
		if (tt.tgid != o->pid) {
			tt.tid = o->pid;
			probe_note(o, "--pid %d is a thread of process %d ('%s'): tracing that thread only",
				   (int)o->pid, (int)tt.tgid, tt.comm);
		}
		cfg->tgid = (__u32)tt.tgid;
		cfg->tid = (__u32)tt.tid;
	}
	if (o->cgroup) {
		char root[512], full[4096];
		const char *rel = o->cgroup;
		struct statfs sfs;
		uint64_t id = 0;
		size_t rl;

		err = cgroup2_root(root, sizeof(root));
		if (err) {
			probe_err(o, "--cgroup needs the cgroup v2 hierarchy, and none is mounted ('/proc/self/mounts' has no cgroup2)");
			return err;
		}
		rl = strlen(root);
		if (!strncmp(rel, root, rl) && (rel[rl] == '/' || !rel[rl]))
			rel += rl;
		else if (!strncmp(rel, "/sys/fs/cgroup", 14) && (rel[14] == '/' || !rel[14]))
			rel += 14;	/* a unified path given on a hybrid host */
		snprintf(full, sizeof(full), "%s%s%s", root, *rel == '/' || !*rel ? "" : "/", rel);
		if (statfs(full, &sfs) || stat(full, &st)) {
			err = -errno;
			probe_err(o, "cannot use --cgroup '%s' ('%s'): %s", o->cgroup, full, strerror(-err));
			return err;
		}
		if (sfs.f_type != CGROUP2_SUPER_MAGIC || !S_ISDIR(st.st_mode)) {
			probe_err(o, "--cgroup '%s': '%s' is not a cgroup v2 directory (cgroup v2 is mounted on '%s')",
				  o->cgroup, full, root);
			return -EINVAL;
		}
		err = cgroup_id_of(full, &id);
		if (err) {
			probe_err(o, "cannot get the id of cgroup '%s': %s", full, strerror(-err));
			return err;
		}
		cfg->cgid = id;
		for (const char *p = full + rl; *p; p++)
			if (*p == '/' && p[1] && p[1] != '/')
				cfg->cg_level++;
	}
	if (t)
		*t = tt;
	return 0;
}

static uint64_t walk_id;
static char walk_found[4096];
static size_t walk_rootlen;

static int walk_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D && (uint64_t)st->st_ino == walk_id) {
		snprintf(walk_found, sizeof(walk_found), "%s", path[walk_rootlen] ? path + walk_rootlen : "/");
		return 1;
	}
	return 0;
}

void probe_cgroup_path(uint64_t id, char *buf, size_t size)
{
	char root[512];

	snprintf(buf, size, "cgroup:%llu", (unsigned long long)id);
	if (cgroup2_root(root, sizeof(root)))
		return;
	/* kernfs: a cgroup's id is its directory's inode number (64-bit) */
	walk_id = id;
	walk_rootlen = strlen(root);
	walk_found[0] = 0;
	if (nftw(root, walk_cb, 16, FTW_PHYS) == 1 && walk_found[0])
		snprintf(buf, size, "%s", walk_found);
}

bool probe_has_filter(const struct probe_opts *o)
{
	return o->pid || o->comm[0] || o->cgroup;
}

void probe_report_filter(const struct probe_opts *o, const struct probe_target *t, bool matched,
			 bool final, FILE *f, struct json *j)
{
	char what[600] = "", *p = what;
	size_t left = sizeof(what);
	int n;

	if (!probe_has_filter(o)) {
		if (j)
			json_null(j, "filter");
		return;
	}
	if (o->pid) {
		n = snprintf(p, left, "--pid %d%s", (int)o->pid,
			     t && t->tid ? " (a thread)" : "");
		p += n, left -= n;
	}
	if (o->comm[0]) {
		n = snprintf(p, left, "%s--comm %s", p == what ? "" : " ", o->comm);
		p += n, left -= n;
	}
	if (o->cgroup)
		snprintf(p, left, "%s--cgroup %s", p == what ? "" : " ", o->cgroup);
	if (j) {
		json_obj_open(j, "filter");
		json_str(j, "given", what);
		json_bool(j, "matched", matched);
		json_obj_close(j);
	}
	if (matched)
		return;
	if (f)
		fprintf(f, "no task matched the filters (%s) during the run: nothing to report for them\n", what);
	if (final)
		probe_warn(o, "no task matched the filters (%s) during the run", what);
}

void probe_report_usyms(const struct probe_opts *o, const struct usyms *u, bool final, FILE *f,
			struct json *j)
{
	struct usyms_counts c;
	char why[400];
	bool any;

	usyms_counts(u, &c);
	any = usyms_unopened_why(&c, why, sizeof(why));
	if (j) {
		json_obj_open(j, "user_symbols");
		json_int(j, "files", c.files);
		json_int(j, "files_with_symbols", c.files_symbols);
		json_int(j, "files_refused", c.files_refused);
		json_int(j, "files_unreadable", c.files_unreadable);
		json_int(j, "files_not_elf", c.files_not_elf);
		json_int(j, "processes_with_files_not_opened", c.unopened_pids);
		json_str(j, "why", any ? why : NULL);
		json_obj_close(j);
	}
	if (!any)
		return;
	if (f)
		fprintf(f, "user frames print file+offset where files were not opened: %s\n", why);
	if (final)
		probe_warn(o, "user frames print file+offset where files were not opened: %s", why);
}

void probe_kallsyms_why(char *buf, size_t size)
{
	if (ksyms_hidden_reason(buf, size) == KSYMS_SHOWN)
		buf[0] = 0;
}

void probe_stamp(char *buf, size_t size)
{
	probe_stamp_ago(buf, size, 0);
}

void probe_stamp_ago(char *buf, size_t size, uint64_t ago_ns)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ago_ns) {
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - ago_ns;

		ts.tv_sec = (time_t)(t / 1000000000ull);
		ts.tv_nsec = (long)(t % 1000000000ull);
	}
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void probe_json_stamp(struct json *j, const struct probe_opts *o, int seq, double window_s)
{
	char at[40];

	probe_stamp(at, sizeof(at));
	json_str(j, "at", at);
	json_int(j, "interval", seq);
	json_double(j, "interval_s", window_s);
	json_bool(j, "cumulative", o->cumulative || o->interval <= 0);
}

static int cmp_key(const void *a, const void *b, void *ksize)
{
	return memcmp(a, b, *(size_t *)ksize);
}

/* bsearch over rows sorted by their first @ksize bytes */
static const char *bsearch_r_key(const void *key, const void *base, int n, size_t size, size_t ksize)
{
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = memcmp(key, (const char *)base + mid * size, ksize);

		if (!c)
			return (const char *)base + mid * size;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return NULL;
}

int probe_delta_rows(void *rows, int n, size_t size, size_t ksize, size_t coff, int nctr,
		     void **prev, int *nprev)
{
	char *cur, *r = rows;
	int m = 0;

	if (nctr < 1 || nctr > PROBE_DELTA_MAX || coff + nctr * sizeof(uint64_t) > size || ksize > coff)
		return -EINVAL;
	cur = malloc(n ? n * size : 1);
	if (!cur)
		return -ENOMEM;
	memcpy(cur, rows, n * size);
	qsort_r(cur, n, size, cmp_key, &ksize);
	for (int i = 0; i < n; i++) {
		char *row = r + i * size;
		const char *p = *nprev ? bsearch_r_key(row, *prev, *nprev, size, ksize) : NULL;
		uint64_t c[PROBE_DELTA_MAX], nz = 0;

		memcpy(c, row + coff, nctr * sizeof(uint64_t));
		for (int k = 0; k < nctr; k++) {
			if (p) {
				uint64_t pv;

				memcpy(&pv, p + coff + k * sizeof(uint64_t), sizeof(pv));
				c[k] -= pv;
			}
			nz |= c[k];
		}
		memcpy(row + coff, c, nctr * sizeof(uint64_t));
		if (nz) {
			if (m != i)
				memmove(r + m * size, row, size);
			m++;
		}
	}
	free(*prev);
	*prev = cur;
	*nprev = n;
	return m;
}

bool probe_pid_in_cgroup(const struct probe_cfg *cfg, pid_t pid)
{
	char path[64], line[4096], root[512], full[4700], *p;
	uint64_t id = 0;
	bool found = false;
	FILE *f;
	__u32 lvl = 0;

	if (!cfg->cgid)
		return true;
	if (pid <= 0 || cgroup2_root(root, sizeof(root)))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			found = true;
			break;
		}
	}
	fclose(f);
	if (!found)
		return false;
	/* its ancestor at the filter's depth must be the filter's cgroup */
	for (p = line + 3; *p; p++) {
		if (*p == '/' && p[1] && ++lvl > cfg->cg_level) {
			*p = 0;
			break;
		}
	}
	if (lvl < cfg->cg_level)
		return false;
	snprintf(full, sizeof(full), "%s%s", root, line + 3);
	return cgroup_id_of(full, &id) == 0 && id == cfg->cgid;
}

int probe_map_dump(int fd, size_t ksize, size_t voff, size_t rsize, void **out)
{
	char key[64], next[64];
	size_t cap = 256;
	char *rows = malloc(cap * rsize);
	int n = 0;
	bool first = true;

	if (ksize > sizeof(key))
		return -EINVAL;
	if (!rows)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		first = false;
		memcpy(key, next, ksize);
		if ((size_t)n == cap) {
			char *r = realloc(rows, (cap *= 2) * rsize);

			if (!r)
				break;
			rows = r;
		}
		memcpy(rows + n * rsize, key, ksize);
		if (bpf_map_lookup_elem(fd, key, rows + n * rsize + voff) == 0)
			n++;
	}
	*out = rows;
	return n;
}
