/* audit.h - the audit engine (used by `audit` and by tests). */
#ifndef QPS_AUDIT_H
#define QPS_AUDIT_H
#include <stddef.h>
#include <sys/types.h>

#include "env.h"
#include "report.h"

struct run;
/* Loads @profile_spec, enters @pid's netns if given, runs every enabled check
 * of the registry into @rep (caller releases it). @sample > 0 sleeps that
 * many seconds between two counter snapshots. Returns 0, or -errno with a
 * message in @err. */
int audit_run(struct report *rep, const struct tenv *env, const char *profile_spec, long conns,
	      pid_t pid, int port, int sample, char *err, size_t err_size);
/* What audit and apply share: profile loaded and resolved, netns entered,
 * listeners and servers found. Returns 0 or -errno with @err set; release
 * with run_release() either way. */
int run_prepare(struct run *r, const struct tenv *env, const char *profile_spec, long conns, pid_t pid,
		int port, char *err, size_t err_size);
void run_release(struct run *r);
#endif
