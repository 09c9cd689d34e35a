/* audit.h - run every audit check into a report (used by `audit` and by
 * tests). */
#ifndef QPS_AUDIT_H
#define QPS_AUDIT_H
#include <stddef.h>
#include <sys/types.h>

#include "report.h"

/* Loads @profile_spec, enters @pid's netns if given, runs the checks into
 * @rep (caller releases it). @sample > 0 sleeps that many seconds between two
 * counter snapshots. Returns 0, or -errno with a message in @err. */
int audit_run(struct report *rep, const char *profile_spec, long conns, pid_t pid, int port,
	      int sample, char *err, size_t err_size);
#endif
