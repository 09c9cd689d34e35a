/* diagnose.h - `qps-tune diagnose`: watch one server for a window, name what
 * limits it, with the evidence of that window, and plan the settings part of
 * the fix. Read-only. The environment comes in struct tenv, the choices in
 * struct diag_opts; nothing here reads options or prints.
 *
 *   PREPARE (find the server, enter its netns, audit once for check ids)
 *   -> SNAPSHOT s0
 *   -> SAMPLE every 100 ms until the window ends (threads, fds, queues,
 *      counters); after each round START as a child (qps-tune probe NAME
 *      --json) each probe the window so far calls for (diagnose.c probe_rules)
 *   -> SNAPSHOT s1 -> SIGTERM the probes, read their reports (bounded wait)
 *   -> DECIDE: one detector per limit, each from the deltas s1 - s0
 */
#ifndef QPS_DIAGNOSE_H
#define QPS_DIAGNOSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "env.h"
#include "journal.h"

#define DIAG_SCHEMA "qps-tune.diagnose/1"
#define DIAG_PLAN_MAGIC "qps-tune-plan 1"
#define DIAG_MAX_FINDINGS 24
#define DIAG_MAX_SETS 4		/* settings one finding may plan */
#define DIAG_MAX_FIGS 12
#define DIAG_MAX_CHECKED 16
#define DIAG_MAX_PROBES 5
#define DIAG_MAX_SHARED 16

struct diag_opts {
	pid_t pid;		/* the server; 0: the owner of --port's listener, or the only server */
	int port;		/* 0: none */
	double duration;	/* window, seconds (> 0) */
	const char *exe;	/* qps-tune binary to run the probes ("/proc/self/exe") */
	const char *profile;	/* targets of the planned settings (profile name or path) */
	bool no_probes;		/* counters only (tests of the probe-free path) */
};

/* One setting of the plan: what diagnose read and what the fix sets. */
struct diag_set {
	enum jkind kind;	/* J_SYSCTL or J_RLIMIT */
	char key[128];		/* sysctl key, or "PID@STARTTIME" for a nofile limit */
	char old[256];		/* value when diagnose read it (blanks folded) */
	char new_[256];
	char label[128];	/* "net.core.somaxconn", "pid 12 qps-server nofile" */
	char origin[128];	/* the profile rule that decided it */
};

struct diag_fig {
	const char *name;	/* static: "overflows", "backlog", ... */
	double v;
};

struct diag_finding {
	const char *name;	/* stable id: "accept-queue-overflow", ... (docs/diagnose.md) */
	char title[256];	/* what limits the server, one line */
	char evidence[3072];	/* the figures of this window and their sources */
	char checks[160];	/* registry ids with their audit status: "LQ-003 fail, LQ-001 fail" */
	const char *confidence;	/* high | medium | low */
	double impact;		/* 0..100: ranks the findings (see diagnose.c rank rules) */
	char fix[1536];		/* what to change, concrete */
	struct diag_fig fig[DIAG_MAX_FIGS];
	int nfig;
	struct diag_set set[DIAG_MAX_SETS];
	int nset;
};

struct diag_checked {
	const char *what;	/* static: "accept queues", "descriptors", ... */
	const char *status;	/* ok | finding | unseen | absent */
	char figures[640];	/* what was seen, or why it could not be */
};

struct diag_probe {
	const char *name;
	const char *status;	/* used | unavailable | not-needed | off */
	char why[320];		/* unavailable: the cause; used: the method; not-needed: why */
	double elapsed;		/* seconds the probe traced */
	double started;		/* seconds into the window diagnose started it; < 0: not started */
	char trigger[448];	/* the window's evidence that called for it, or why none did */
};

struct diag_result {
	pid_t pid;
	char comm[16];
	unsigned long long start;	/* starttime of pid (pid reuse guard of the plan) */
	int nls;		/* listeners of the server */
	char listeners[512];	/* "127.0.0.1:8080 (backlog 64)" ... */
	pid_t owner;		/* the listeners' owner when pid is its busiest worker (prefork); 0: pid itself */
	pid_t shared[DIAG_MAX_SHARED];	/* child processes holding its listeners (prefork workers): not watched */
	int nshared;		/* how many there are (may exceed DIAG_MAX_SHARED) */
	uint64_t netns, cookie;
	char boot_id[40];
	bool initial;
	char profile[64];
	double window;		/* seconds asked */
	double elapsed;		/* seconds diagnose took */
	bool interrupted;	/* SIGINT/SIGTERM ended the window early */
	struct diag_finding f[DIAG_MAX_FINDINGS];	/* ranked, highest impact first */
	int nf;
	struct diag_checked c[DIAG_MAX_CHECKED];
	int nc;
	struct diag_probe p[DIAG_MAX_PROBES];
	int np;
	char err[1024];		/* the failure, "" on success */
};

/* Runs the diagnosis into @res (caller-owned, large: allocate it). Returns 0
 * (with res->nf findings, 0 = nothing limits the server) or -errno with
 * res->err set. Enters the server's network namespace. */
int diagnose_run(const struct tenv *env, const struct diag_opts *o, struct diag_result *res);
/* Async-signal-safe: ends the window of a running diagnose_run() now (its
 * probes are stopped and reaped, the report covers what was seen). */
void diagnose_interrupt(void);

/* Writes the settings of every finding as a plan to @path (atomically, mode
 * 0600). Returns the number of settings, or -errno with @err set. */
int diagnose_plan_write(const struct diag_result *res, const char *path, char *err, size_t err_size);

struct run;
/* apply --plan: fills r->plan from plan file @path after checking that it is
 * ours (owner, mode, no symlink, regular file), was made in this network
 * namespace and boot, and that every value is still what diagnose read.
 * Every problem becomes a plan error (nothing is written then). */
void diagnose_plan_build(struct run *r, const char *path);
#endif
