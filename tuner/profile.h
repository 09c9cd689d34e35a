/* profile.h - qps-tune profiles: plain-text rule files with single inheritance.
 *
 *   # comment
 *   inherit web-10k            (or a path; must be the first directive)
 *   description "text"
 *   conns 10000                (default for --conns)
 *   sysctl KEY OP VALUE        OP: >= <= = in has; KEY may name a field: tcp_rmem[2]
 *                              ("has MASK": every bit of MASK set, e.g. tcp_fastopen has 2)
 *   nofile >= EXPR             soft and hard RLIMIT_NOFILE of the server processes
 *   rps all|off|CPULIST        RPS mask on RX queues when RX queues < CPUs
 *   xps spread|off             one CPU per TX queue
 *   affinity all|CPULIST       CPU affinity of --pid
 *   irq spread                 NIC queue IRQs round-robin over the online CPUs (host-wide)
 *   disable CHECK-ID           drop a check inherited from the parent
 *
 * EXPR: integers, conns, default (the kernel default of that key),
 * sysctl(KEY) (the live value of another key in this netns), + - * /,
 * parentheses, max(a, b), min(a, b). A child's rule for the same key replaces
 * the parent's. Errors name the file and line.
 */
#ifndef QPS_PROFILE_H
#define QPS_PROFILE_H
#include <stdbool.h>
#include <limits.h>
#include <stddef.h>

enum rule_kind { RULE_SYSCTL, RULE_NOFILE, RULE_RPS, RULE_XPS, RULE_AFFINITY, RULE_DISABLE, RULE_IRQ };
enum rule_op { OP_GE, OP_LE, OP_EQ, OP_IN, OP_SET, OP_HAS };

#define RULE_VAL_MAX 192

struct rule {
	enum rule_kind kind;
	enum rule_op op;
	char key[96];		/* sysctl key without the [field]; check id for disable */
	int field;		/* 0-based field of a multi-value sysctl, -1 = whole value */
	char value[RULE_VAL_MAX];	/* as written */
	char origin[PATH_MAX + 32];	/* "web-10k.profile:12": file path and line */
	/* set by profile_resolve() */
	bool numeric;		/* target is the number @num (GE/LE, nofile) */
	long long num;
	bool skip;		/* target unknown here (e.g. no kernel default); reason in @resolved */
	char resolved[RULE_VAL_MAX];	/* "4096", "1 2 3", "a,b" or the skip reason */
};

struct profile {
	char name[64];
	char source[PATH_MAX];	/* file path, or "built-in" */
	char description[160];
	long conns;		/* default concurrency target */
	int inherit_line;	/* line of the 'inherit' directive, 0 if none */
	int n, cap;
	struct rule *rules;
};

/* Parses one profile text (no inheritance; an 'inherit' line is returned in
 * @parent, "" if none). @origin names the file in error messages. Returns 0,
 * or -EINVAL with "origin:line: message" in @err. */
int profile_parse(struct profile *p, const char *text, const char *origin,
		  char *parent, size_t parent_size, char *err, size_t err_size);

/* Loads a profile by built-in name, name in /etc/qps-tune/profiles (under
 * --root), or path, with its ancestors merged in. NULL with @err set on failure. */
struct profile *profile_load(const char *spec, char *err, size_t err_size);
/* Evaluates every rule's target for @conns (<= 0: the profile's default).
 * Returns 0 or -EINVAL with "origin: message" in @err (out of range, ...). */
int profile_resolve(struct profile *p, long conns, char *err, size_t err_size);
void profile_free(struct profile *p);	/* NULL is a no-op */

/* Names of the built-in profiles, NULL-terminated. */
const char *const *profile_builtin_names(void);
/* Text of built-in @name, NULL if none. */
const char *profile_builtin_text(const char *name);

/* Evaluates EXPR with @conns (and @dflt for "default", <0: unknown).
 * Returns 0 or -EINVAL/-ERANGE/-ENOENT (default unknown). */
int profile_eval(const char *expr, long conns, long long dflt, long long *out);

/* Does sysctl value @cur satisfy resolved rule @r? Returns 1 yes, 0 no, -EINVAL
 * when it cannot be compared. When 0 and @want != NULL, writes the value to set:
 * @cur with only the failing fields changed (never lowering a better field). */
int rule_eval(const struct rule *r, const char *cur, char *want, size_t want_size);
/* "net.ipv4.tcp_rmem[2] >= 33554432" style text of the target into @buf. */
char *rule_target_str(const struct rule *r, char *buf, size_t size);
const char *rule_op_str(enum rule_op op);
#endif
