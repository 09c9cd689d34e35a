/* rollback.h - the rollback engine. */
#ifndef QPS_ROLLBACK_H
#define QPS_ROLLBACK_H
#include <stdbool.h>

#include "env.h"

enum rb_what { RB_RESTORED, RB_REMOVED, RB_KEPT, RB_GONE, RB_HANDED, RB_FAILED, RB_UNTOUCHED };

struct rb_line {
	enum rb_what what;
	const char *kind;	/* "sysctl", "file", ... */
	char *key;		/* label: key, "pid 12 nofile", path as shown */
	char *value;		/* restored value; RB_KEPT: the value now */
	char *detail;		/* RB_KEPT: what apply set; RB_HANDED: the journal; RB_FAILED: the error */
};

struct rb_result {
	char journal[4096];	/* "" when there was none */
	char profile[64], created[32];
	struct rb_line *v;
	int n;
	char **steps;		/* what to run now (daemon-reload, restart...) */
	int nsteps;
	bool discarded;		/* --discard-stale removed a stale journal */
	char *err;		/* final error, NULL on success */
};

/* Restores what the journal in env->state_dir recorded, in reverse order,
 * each value only if it is still what apply set (env->force: anyway).
 * @discard_stale: only remove a journal whose namespace is gone.
 * Returns 0, or -errno with res->err set. */
int rollback_run(const struct tenv *env, bool discard_stale, struct rb_result *res);
void rb_result_release(struct rb_result *res);
#endif
