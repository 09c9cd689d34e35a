/* knob.h - what qps-tune knows about each sysctl it may audit or set: the
 * check id, severity and reason it reports, its namespace scope (measured on
 * 6.18, see tuning-checklist §3), how many fields it has, the range the
 * kernel accepts and the kernel default. Static data, no I/O except
 * knob_default() (which looks at the running kernel's version). */
#ifndef QPS_KNOB_H
#define QPS_KNOB_H
#include <stdbool.h>
#include <stddef.h>

enum knob_scope {
	KNOB_NETNS,		/* per network namespace, writable in a child */
	KNOB_GLOBAL,		/* fs.*, vm.*, kernel.*: one value for the whole host */
	KNOB_HOST_RO,		/* net key mirrored read-only (0444) in a child netns */
	KNOB_HOST_ABSENT,	/* net key that exists only in the initial netns */
};

struct knob_info {
	const char *key;
	const char *id;		/* audit check id, e.g. "LQ-001" */
	const char *severity;	/* crit|high|med|low|info */
	enum knob_scope scope;
	int nfields;		/* whitespace-separated values, e.g. 3 for tcp_rmem */
	long long min, max;	/* range the kernel accepts for each field */
	const char *reason;	/* one line: why the rule matters */
};

/* The whole table, @*n rows (tests check it against the check registry). */
const struct knob_info *knob_all(size_t *n);
/* NULL when @key is not in the table. */
const struct knob_info *knob_lookup(const char *key);
/* Scope of any key: the table's, else derived from the prefix (net.* -> NETNS). */
enum knob_scope knob_scope(const char *key);
/* True for keys that are host-wide whatever the netns (fs, vm, kernel, host-only net). */
bool knob_is_host(const char *key);
/* Kernel default of field @field (0-based; -1 = the only field) of @key for
 * the running kernel. Returns 0, or -ENOENT when unknown. */
int knob_default(const char *key, int field, long long *val);
/* Splits "4096 131072 6291456" into @f (at most @max). Returns the number of
 * fields, or -EINVAL if one is not an integer. */
int knob_fields(const char *val, long long *f, int max);
/* True if @key looks like a sysctl name (a.b[.c...], [a-z0-9_-] parts). */
bool knob_key_valid(const char *key);
#endif
