/* engine.h - what the area files (area_*.c), the shared rule decision
 * (rules.c), audit.c and apply.c share. Nothing here reads the CLI: the
 * environment comes in struct tenv, the choices in struct run.
 *
 * Each area file holds the checks *and* the planner of one area and
 * registers them in the table of checks.c; `audit`, `apply --dry-run` and
 * `apply` loop over that table. */
#ifndef QPS_ENGINE_H
#define QPS_ENGINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctx.h"
#include "env.h"
#include "journal.h"
#include "profile.h"
#include "report.h"

/* Counters read twice with --sample S (once otherwise). */
struct snap {
	uint64_t overflows, drops, cookies, reqq_drop;
	bool have_tcpext;
	uint64_t softnet_drop, softnet_squeeze;
	bool have_softnet;
	uint64_t dev_rx_dropped[CTX_MAX_DEVS], dev_rx_missed[CTX_MAX_DEVS];
	uint64_t thr_periods[CTX_MAX_SERVERS], thr_throttled[CTX_MAX_SERVERS];
	uint32_t ls_drops[64];
};

/* One planned write (or a value already right). Strings are owned. */
struct item {
	enum jkind kind;
	char *key;		/* sysctl key, sysfs path, pid@start, host path of a file */
	char *old;		/* NULL: absent file */
	char *new_;
	char *label;		/* what to show: key, "pid 12 nofile", file path */
	char *origin;		/* profile file:line, "" for persistence */
	const struct rule *rule;	/* sysctl rule judged after the write (NULL: exact value) */
};

struct note {
	char *what;
	char *why;
};

struct plan {
	struct item *ch;	/* changes, in apply order */
	int nch, capch;
	struct item *same;	/* already satisfied */
	int nsame, capsame;
	struct note *na;	/* not applied */
	int nna, capna;
	struct note *restart;
	int nrestart, caprestart;
	struct note *err;	/* validation errors: nothing is written when there is one */
	int nerr, caperr;
	/* dry run only: what this user could not read, or may not write (the
	 * change is still planned); @why names the privilege a real apply needs */
	struct note *denied;
	int ndenied, capdenied;
	char *persist;		/* sysctl.d content this apply would persist, NULL if none */
	bool oom;
};

struct apply_opts {
	const char *profile;	/* as the user named it */
	long conns;
	bool dry_run, persist, host;
	pid_t pid;
	const char *plan;	/* apply --plan FILE (diagnose's plan) instead of the profile's */
};

/* The state of one audit or apply run. */
struct run {
	const struct tenv *env;
	struct ctx cx;
	struct profile *prof;
	long conns;
	char cli_profile[300];	/* how the user named the profile, for fix lines */
	const struct rule *nofile, *rps, *xps, *affinity, *irq;
	long long somaxconn, somaxconn_target;
	long long somaxconn_before;	/* journal: value before an apply raised it, 0 if none */
	/* audit */
	struct report *rep;
	int sample;
	struct snap s0, s1;	/* s1 == s0 without --sample */
	pid_t irqbalance;
	char tuner[64];		/* "tuned (pid 12)" or "" */
	/* apply */
	struct plan *plan;
	struct apply_opts o;
};

/* ---- checks.c: the registry */
typedef void (*area_audit_fn)(struct run *r);
typedef void (*area_plan_fn)(struct run *r);
struct check_def {
	const char *id;
	const char *severity;	/* crit|high|med|low|info */
	const char *area;
	const char *title;
	area_audit_fn audit;	/* the area function that emits this id */
	area_plan_fn plan;	/* the planner that fixes it, NULL: audit only */
};
/* The registry, @*n rows. */
const struct check_def *checks_table(size_t *n);
/* NULL when @id is not registered. */
const struct check_def *check_find(const char *id);
/* False when the profile disables @id: its check does not run, its rule is not applied. */
bool run_on(const struct run *r, const char *id);

/* ---- rules.c: the one decision per sysctl rule */
enum decision {
	DEC_PASS,	/* the current value satisfies the rule */
	DEC_FAIL,	/* apply writes @want */
	DEC_SKIP,	/* cannot judge here (absent key, unknown default...): @why */
	DEC_HOST,	/* fails, but host-owned and this is a child netns without --host */
	DEC_BLOCKED,	/* fails and cannot be written from here: @why */
	DEC_ERROR,	/* a profile error apply must refuse: @why */
};
struct rule_state {
	enum decision dec;
	char path[256];
	char raw[4096];		/* as read: what rollback must restore byte for byte */
	char cur[4096];		/* as read, blanks folded (or the pending value) */
	char want[4096];	/* value to write when FAIL/HOST/BLOCKED */
	char why[512];
};
/* Reads the rule's key (or takes @pending, a value another rule of the same
 * key already planned) and decides. @host: --host given. */
void rule_decide(const struct run *r, const struct rule *ru, const char *pending, bool host,
		 struct rule_state *st);
/* Judges a value the kernel kept after a write: 1 satisfies @ru, 0 not. */
int rule_holds(const struct rule *ru, const char *kept);
void rules_audit(struct run *r);
void rules_plan(struct run *r);
void env_audit(struct run *r);

/* ---- area files */
void accept_audit(struct run *r);
void accept_plan(struct run *r);
void fd_audit(struct run *r);
void fd_plan(struct run *r);
void ports_audit(struct run *r);
void buf_audit(struct run *r);
void cpu_audit(struct run *r);
void nic_audit(struct run *r);
void nic_plan(struct run *r);
void mem_audit(struct run *r);
void persist_audit(struct run *r);
void persist_plan(struct run *r);
void probe_audit(struct run *r);

/* ---- shared helpers */
/* "netns", "global" or "host" for @key seen from this netns. */
const char *scope_of(const struct run *r, const char *key);
int numa_nodes(void);
/* One pass over /proc: irqbalance and other tuners (tuned, bpftune). */
void find_daemons(struct run *r);
void read_cgroup_cpu(pid_t pid, char *quota, size_t qsize, uint64_t *periods, uint64_t *throttled,
		     char *where, size_t wsize);

/* plan building (apply.c); a failed allocation sets plan->oom */
struct item *plan_change(struct run *r, enum jkind kind, const char *key, const char *old,
			 const char *new_, const char *label, const char *origin);
struct item *plan_same(struct run *r, enum jkind kind, const char *key, const char *old,
		       const char *label, const char *origin);
void plan_na(struct run *r, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void plan_restart(struct run *r, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void plan_err(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A value this user may not read or write (EACCES/EPERM): under --dry-run a
 * note in plan->denied about @what (the plan goes on), otherwise plan_err. */
void plan_denied(struct run *r, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Plans writing @content to /etc file @path under --root (unchanged if identical). */
void plan_file(struct run *r, const char *path, const char *content, const char *origin);
/* The planned change of (@kind, @key), NULL if none. */
struct item *plan_find(struct plan *p, enum jkind kind, const char *key);

/* Shorthands for planners, which name their struct run R. */
#define NA(p, w, y) ((void)(p), plan_na(R, (w), "%s", (y)))
#define ERR(p, ...) ((void)(p), plan_err(R, __VA_ARGS__))
#define CHANGE(p, kind, key, old, new_, label, origin) ((void)(p), plan_change(R, kind, key, old, new_, label, origin))
#define SAME(p, kind, key, old, cur, label, origin) ((void)(p), plan_same(R, kind, key, old, label, origin))
#define RESTART(p, w, y) ((void)(p), plan_restart(R, (w), "%s", (y)))
#endif
