/* common.h - what the three probe loaders share: options, privilege and BTF
 * checks with actionable messages, the libbpf log switch, signal handling,
 * the run loop (--duration/--interval), log2 histograms and error reporting.
 * Internal to probes/ and tuner/probe.c. */
#ifndef QPS_PROBE_COMMON_H
#define QPS_PROBE_COMMON_H
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct json;

/* Options every probe accepts. */
struct probe_opts {
	const char *name;	/* "acceptq", ... (for messages and the schema) */
	double duration;	/* seconds; 0: until SIGINT/SIGTERM */
	double interval;	/* seconds between periodic reports; 0: none */
	pid_t pid;		/* 0: no filter */
	char comm[16];		/* "": no filter */
	bool json;
	bool verbose;		/* libbpf messages on stderr */
};

/* getopt_long ids of the common options; probe-specific ones start at 0x200. */
enum {
	PO_DURATION = 0x100, PO_INTERVAL, PO_PID, PO_COMM, PO_JSON, PO_VERBOSE, PO_HELP,
};
#define PROBE_COMMON_LONGOPTS                                           \
	{ "duration", required_argument, NULL, PO_DURATION },          \
	{ "interval", required_argument, NULL, PO_INTERVAL },          \
	{ "pid", required_argument, NULL, PO_PID },                    \
	{ "comm", required_argument, NULL, PO_COMM },                  \
	{ "json", no_argument, NULL, PO_JSON },                        \
	{ "verbose", no_argument, NULL, PO_VERBOSE },                  \
	{ "help", no_argument, NULL, PO_HELP }
#define PROBE_COMMON_SHORTOPTS "+jvh"

extern bool probe_global_json, probe_global_verbose;
extern volatile sig_atomic_t probe_stop;	/* set by SIGINT/SIGTERM */

/* Fills defaults (name, global -j/-v). */
void probe_opts_init(struct probe_opts *o, const char *name);
/* Handles one common option @c (a getopt_long result). Returns 1 if handled,
 * 0 if @c is not a common option, -EINVAL on a bad value (message printed).
 * PO_HELP returns 1 and sets *@help. */
int probe_opt_common(struct probe_opts *o, int c, const char *arg, bool *help);
/* After the getopt loop: --help prints @usage to stdout (returns 0), a stray
 * operand is reported with @usage on stderr (returns 2); otherwise -1: go on. */
int probe_args_end(const struct probe_opts *o, bool help, int argc, char **argv,
		   void (*usage)(FILE *f));
/* Parses a non-negative number of seconds ("1.5"). Returns 0 or -EINVAL. */
int probe_parse_seconds(const char *s, double *out);
int probe_parse_u64(const char *s, uint64_t *out);

/* Prints "qps-tune: probe NAME: MSG" on stderr, and with --json also one
 * {"error": "probe NAME: MSG"} document on stdout. */
void probe_err(const struct probe_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Status lines ("tracing ... Ctrl-C to end") on stderr. */
void probe_note(const struct probe_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Checks what every probe needs before touching BPF: privileges
 * (root, or CAP_BPF + CAP_PERFMON), kernel BTF, a --pid that exists.
 * Prints an actionable message and returns -errno on failure. */
int probe_check_env(const struct probe_opts *o);
/* Installs the libbpf print callback (silent unless verbose) and the
 * SIGINT/SIGTERM handlers. */
void probe_setup(const struct probe_opts *o);
/* Explains a failed load/attach (@err = -errno) of @what, with the fix. */
void probe_load_err(const struct probe_opts *o, const char *what, int err);

/* True when the running kernel's BTF has a tracepoint @tp (e.g.
 * "sk_data_ready": looks for typedef btf_trace_sk_data_ready). Tests make it
 * false with QPS_PROBE_PRETEND_NO_TP=name[,name...]. */
bool probe_kernel_has_tp(const char *tp);
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
