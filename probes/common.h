/* common.h - what the three probe loaders share: options, privilege and BTF
 * checks with actionable messages, the libbpf log switch, signal handling,
 * the run loop (--duration/--interval), log2 histograms and error reporting.
 * Internal to probes/ and tuner/probe.c. */
#ifndef QPS_PROBE_COMMON_H
#define QPS_PROBE_COMMON_H
#include <getopt.h>
#include <linux/types.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../bpf/probecfg.h"

struct bpf_program;

struct json;

/* Options every probe accepts. */
struct probe_opts {
	const char *name;	/* "acceptq", ... (for messages and the schema) */
	double duration;	/* seconds; 0: until SIGINT/SIGTERM */
	double interval;	/* seconds between periodic reports; 0: none */
	pid_t pid;		/* 0: no filter (caller's pid namespace; may be a thread id) */
	char comm[16];		/* "": no filter */
	const char *cgroup;	/* --cgroup PATH; NULL: no filter */
	bool cumulative;	/* --interval reports totals since attach, not deltas */
	bool json;
	bool verbose;		/* libbpf messages on stderr */
};

/* getopt_long ids of the common options; probe-specific ones start at 0x200. */
enum {
	PO_DURATION = 0x100, PO_INTERVAL, PO_PID, PO_COMM, PO_JSON, PO_VERBOSE, PO_HELP,
	PO_CGROUP, PO_CUMULATIVE,
};
#define PROBE_COMMON_LONGOPTS                                           \
	{ "duration", required_argument, NULL, PO_DURATION },          \
	{ "interval", required_argument, NULL, PO_INTERVAL },          \
	{ "pid", required_argument, NULL, PO_PID },                    \
	{ "comm", required_argument, NULL, PO_COMM },                  \
	{ "json", no_argument, NULL, PO_JSON },                        \
	{ "verbose", no_argument, NULL, PO_VERBOSE },                  \
	{ "help", no_argument, NULL, PO_HELP },                        \
	{ "cgroup", required_argument, NULL, PO_CGROUP },              \
	{ "cumulative", no_argument, NULL, PO_CUMULATIVE }
/* short options as in libbpf-tools: -p PID, -d duration, -i interval */
#define PROBE_COMMON_SHORTOPTS "+jvhd:i:p:"

extern bool probe_global_json, probe_global_verbose;
extern volatile sig_atomic_t probe_stop;	/* set by SIGINT/SIGTERM */

/* Fills defaults (name, global -j/-v); turns getopt's own messages off:
 * probe_opt_common reports an unknown option ('?') itself. */
void probe_opts_init(struct probe_opts *o, const char *name);
/* Handles one common option @c (a getopt_long result). Returns 1 if handled,
 * 0 if @c is not a common option, -EINVAL on a bad value or an unknown
 * option ('?': named, from the argv of probe_set_argv) (message printed).
 * PO_HELP returns 1 and sets *@help. */
int probe_opt_common(struct probe_opts *o, int c, const char *arg, bool *help);
/* After the getopt loop: --help prints @usage and the short forms of the
 * common options to stdout (returns 0), a stray operand is reported in one
 * line through probe_err (returns 2); otherwise -1: go on. */
int probe_args_end(const struct probe_opts *o, bool help, int argc, char **argv,
		   void (*usage)(FILE *f));
/* The probe's argv, for naming an unknown option (tuner/probe.c sets it). */
void probe_set_argv(int argc, char **argv);
/* How many errors probe_err reported (0: a usage error was not yet reported). */
extern int probe_nerr;
/* Parses a non-negative number of seconds ("1.5"). Returns 0 or -EINVAL. */
int probe_parse_seconds(const char *s, double *out);
int probe_parse_u64(const char *s, uint64_t *out);

/* Prints "qps-tune: probe NAME: MSG" on stderr, and with --json also one
 * {"error": "probe NAME: MSG"} document on stdout. A permission error gets
 * the privilege it needs appended (lib/privhint). */
void probe_err(const struct probe_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Status lines ("tracing ... Ctrl-C to end") on stderr. */
void probe_note(const struct probe_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Checks what every probe needs before touching BPF: privileges
 * (root, or CAP_BPF + CAP_PERFMON), kernel BTF, a --pid that exists.
 * Prints an actionable message and returns -errno on failure. */
int probe_check_env(const struct probe_opts *o);
/* What --pid named, resolved in the caller's pid namespace. */
struct probe_target {
	pid_t tgid;		/* its process */
	pid_t tid;		/* the thread when --pid was a thread id, else 0 */
	bool kthread;		/* a kernel thread */
	char comm[16];
};
/* Fills @cfg for the BPF side (qps_cfg, bpf/probecfg.h) from the common
 * options: the caller's pid namespace (ids in and out are the caller's),
 * --pid (a process; a thread id filters that thread, said on stderr; a kernel
 * thread is refused unless @allow_kthread), --cgroup (must be a cgroup v2
 * directory). @t (may be NULL) gets what --pid named. Reports through
 * probe_err and returns -errno on failure. */
int probe_cfg_init(const struct probe_opts *o, bool allow_kthread, struct probe_cfg *cfg,
		   struct probe_target *t);
/* Path below the cgroup v2 root of cgroup id @id ("/" for the root), found
 * by walking /sys/fs/cgroup; "cgroup:ID" when not found (removed). */
void probe_cgroup_path(uint64_t id, char *buf, size_t size);
/* True when process @pid is in the --cgroup cgroup of @cfg or below it (by
 * /proc/PID/cgroup); true when @cfg has no cgroup filter. */
bool probe_pid_in_cgroup(const struct probe_cfg *cfg, pid_t pid);
/* True when any of --pid, --comm, --cgroup is given. */
bool probe_has_filter(const struct probe_opts *o);
struct usyms;
/* What kept user frames "file+0xOFF" (usyms_counts()): in JSON (when @j) a
 * "user_symbols" object with the file counts and "why" (null when every
 * file opened), a text line on @f, and a warning on stderr at @final. */
void probe_report_usyms(const struct probe_opts *o, const struct usyms *u, bool final, FILE *f,
			struct json *j);
/* The "filter matched nothing" report: with a filter and !@matched, a text
 * line on @f (and a warning on stderr at @final), and in JSON (when @j) a
 * "filter" object {"given": .., "matched": ..}. @cfg/@t describe the target. */
void probe_report_filter(const struct probe_opts *o, const struct probe_target *t, bool matched,
			 bool final, FILE *f, struct json *j);
/* Why kernel addresses are hidden from us, for a message: names the sysctl
 * values and the missing capability (CAP_SYSLOG), e.g. "kernel.kptr_restrict
 * is 0 and kernel.perf_event_paranoid is 2 (> 1), and this process lacks
 * CAP_SYSLOG". Empty when they are not hidden by that. */
void probe_kallsyms_why(char *buf, size_t size);
/* Report stamp: wall-clock time "2026-12-06T23:55:01.123Z" of now. */
void probe_stamp(char *buf, size_t size);
/* The same for the moment @ago_ns nanoseconds before now. */
void probe_stamp_ago(char *buf, size_t size, uint64_t ago_ns);
/* JSON fields every report carries: "at" (stamp), "interval" (report
 * number, 1-based), "interval_s" (length of the window this report covers),
 * "cumulative" (figures since attach rather than since the previous report). */
void probe_json_stamp(struct json *j, const struct probe_opts *o, int seq, double window_s);
/* Per-interval rows from cumulative ones, for --interval without
 * --cumulative. @rows holds @n rows of @size bytes: a key of @ksize bytes at
 * offset 0 and @nctr u64 counters from offset @coff. Each row loses the
 * counters of the row with the same key in *@prev (the previous report's
 * cumulative rows, *@nprev of them; NULL/0 at first), rows whose counters
 * are then all zero are dropped, and *@prev becomes a copy of the
 * cumulative rows (the caller frees it). Returns the new row count,
 * -EINVAL (@nctr not 1..PROBE_DELTA_MAX, or the counters overlap the key or run past the
 * row) or -ENOMEM (rows untouched). */
#define PROBE_DELTA_MAX 64	/* counters per row (a log2 histogram's slots) */
int probe_delta_rows(void *rows, int n, size_t size, size_t ksize, size_t coff, int nctr,
		     void **prev, int *nprev);
/* Every entry of BPF map @fd into a malloc'ed array of @rsize-byte rows (*@out,
 * the caller frees): the key (@ksize bytes, at most 64) at offset 0 of each
 * row, the value at @voff. Returns the row count or -errno. */
int probe_map_dump(int fd, size_t ksize, size_t voff, size_t rsize, void **out);
/* Warning on stderr: "qps-tune: probe NAME: warning: MSG". */
void probe_warn(const struct probe_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Installs the libbpf print callback (silent unless verbose) and the
 * SIGINT/SIGTERM handlers. */
void probe_setup(const struct probe_opts *o);
/* Explains a failed load/attach (@err = -errno) of @what, with the fix. */
void probe_load_err(const struct probe_opts *o, const char *what, int err);

/* True when the running kernel's BTF has a tracepoint @tp (e.g.
 * "sk_data_ready": looks for typedef btf_trace_sk_data_ready). Tests make it
 * false with QPS_PROBE_PRETEND_NO_TP=name[,name...]. */
bool probe_kernel_has_tp(const char *tp);
/* Calls of @p the kernel skipped because @p was already running on that
 * CPU (bpf_prog_info.recursion_misses, Linux >= 5.12); 0 when not loaded. */
uint64_t probe_prog_misses(const struct bpf_program *p);
/* Marks @on[cpu] for each online CPU below @max
 * (/sys/devices/system/cpu/online, "0-3,5"); returns their number or -errno. */
int probe_online_cpus(bool *on, int max);

/*
 * A witness of tracepoints: perf's count of their hits on every online CPU,
 * kept by the kernel apart from BPF. On Linux 6.18 a whole softirq's worth
 * of events now and then reaches the tracepoint (perf counts them) but not
 * the tp_btf/raw_tp programs attached to it, with no recursion miss either:
 * what a probe counted plus what the kernel skipped, subtracted from the
 * witness, is what it never saw. The ids come from tracefs (mounted, or
 * mounted privately in a child when it is not).
 */
#define PROBE_TPW_MAX 4
struct probe_tpw {
	int n;			/* tracepoints */
	int ncpu;		/* highest online CPU + 1 */
	int *fds;		/* [n * ncpu], -1 where a CPU is not counted; NULL: no witness */
	uint64_t base[PROBE_TPW_MAX];
	char err[160];		/* why there is no witness ("" when there is) */
};
/* Opens counters for the @n tracepoints "sys/event" of @names and counts
 * from now on (call it after the programs are attached: a hit before it
 * then counts as delivered, never as missed). On failure returns -errno,
 * says why in w->err and, as a note on stderr for @o, what goes unseen;
 * the probe runs on without a witness. */
int probe_tpw_open(struct probe_tpw *w, const struct probe_opts *o, const char *const *names, int n);
static inline bool probe_tpw_ok(const struct probe_tpw *w)
{
	return w->fds != NULL;
}
/* Hits of tracepoint @i since the open; 0 without a witness. */
uint64_t probe_tpw_read(const struct probe_tpw *w, int i);
/* Events the witness saw that @delivered (calls + the kernel's skips, read
 * after the witness) does not account for: 0 when none or no witness. */
static inline uint64_t probe_tpw_gap(uint64_t witnessed, uint64_t delivered)
{
	return witnessed > delivered ? witnessed - delivered : 0;
}
void probe_tpw_close(struct probe_tpw *w);
/* Arguments of tracepoint @tp in the running kernel's BTF; -1 unknown. */
int probe_kernel_tp_nargs(const char *tp);
/* The running kernel's struct @type has a member @member (BTF). */
bool probe_kernel_has_member(const char *type, const char *member);
/* True when kernel BTF has enum @enum_name with a member @value; *@val set. */
bool probe_kernel_enum_value(const char *enum_name, const char *value, long long *val);
/* Fills @names[v] with a malloc'ed copy of the name of each member of kernel
 * BTF enum @enum_name whose value v < @n, @prefix stripped. Returns the
 * number filled, or -errno (-ENOENT: no such enum). Free with probe_names_free. */
int probe_kernel_enum_names(const char *enum_name, const char *prefix, char **names, int n);
void probe_names_free(char **names, int n);
/* True when kprobes can be created here (kprobe PMU present) and @func is
 * in /proc/kallsyms. */
bool probe_kernel_has_kprobe(const char *func);

/* False when QPS_PROBE_NO_TP_BTF is set in the environment: the loaders then
 * go straight to their raw_tp fallback (tests prove that path with it). */
bool probe_try_tp_btf(void);

uint64_t probe_now_ns(void);		/* CLOCK_MONOTONIC, same as bpf_ktime_get_ns */
double probe_wall(void);		/* CLOCK_REALTIME seconds */

/* The run loop. Calls @tick(@ctx, final=false) every --interval, then
 * @tick(@ctx, true) once at the end (--duration elapsed or a signal).
 * @poll(@ctx, ms), if given, is called to wait (e.g. ring_buffer__poll) and
 * must return early on a signal; otherwise the loop sleeps. Returns the
 * first negative value @tick or @poll returned (not -EINTR), else 0. */
int probe_run(const struct probe_opts *o, int (*tick)(void *ctx, bool final),
	      int (*poll)(void *ctx, int ms), void *ctx);

/* log2 histograms: slot 0 holds 0 and 1, slot i holds [2^i, 2^(i+1)). */
static inline unsigned int probe_log2_lo(unsigned int slot) { return slot ? 1u << slot : 0; }
/* Text histogram like libbpf-tools' print_log2_hist. */
void probe_print_hist(FILE *f, const unsigned long long *slots, int n, const char *unit, const char *indent);
/* JSON array @key of {"lo":..,"hi":..,"count":..} for non-empty slots. */
void probe_json_hist(struct json *j, const char *key, const unsigned long long *slots, int n);

/* The probes: same contract as do_probe(), @argv[0] is the probe name. */
int probe_acceptq(int argc, char **argv);
int probe_syslat(int argc, char **argv);
int probe_offcpu(int argc, char **argv);
int probe_oncpu(int argc, char **argv);
int probe_tcpdrop(int argc, char **argv);
int probe_runqlat(int argc, char **argv);
int probe_leaks(int argc, char **argv);

#endif
