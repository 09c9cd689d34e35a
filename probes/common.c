/* common.c - shared plumbing of the probe loaders (see common.h). */
#include "common.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "probe.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

bool probe_global_json, probe_global_verbose;
volatile sig_atomic_t probe_stop;
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

	switch (c) {
	case PO_DURATION:
	case PO_INTERVAL:
		if (probe_parse_seconds(arg, c == PO_DURATION ? &o->duration : &o->interval) ||
		    (c == PO_INTERVAL && o->interval < 0.05)) {
			fprintf(stderr, "qps-tune: probe %s: invalid --%s '%s': want seconds%s\n",
				o->name, c == PO_DURATION ? "duration" : "interval", arg,
				c == PO_INTERVAL ? " >= 0.05" : "");
			return -EINVAL;
		}
		return 1;
	case PO_PID:
		if (probe_parse_u64(arg, &v) || v == 0 || v > 0x3fffffff) {
			fprintf(stderr, "qps-tune: probe %s: invalid --pid '%s'\n", o->name, arg);
			return -EINVAL;
		}
		o->pid = (pid_t)v;
		return 1;
	case PO_COMM:
		if (!*arg || strlen(arg) > 15) {
			fprintf(stderr, "qps-tune: probe %s: invalid --comm '%s': want 1 to 15 characters (the kernel's comm length)\n",
				o->name, arg);
			return -EINVAL;
		}
		snprintf(o->comm, sizeof(o->comm), "%s", arg);
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
		return 0;
	}
	if (optind < argc) {
		fprintf(stderr, "qps-tune: probe %s: unexpected argument '%s'\n", o->name, argv[optind]);
		usage(stderr);
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
