/* cpus.h - how many CPUs this process may really use: the affinity mask
 * (sched_getaffinity) and the cgroup CPU quota (v2 cpu.max of the cgroup and
 * its ancestors, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), the quota
 * rounded up to whole CPUs. The C face of Go's GOMAXPROCS advice. */
#ifndef QPS_CPUS_H
#define QPS_CPUS_H
#include <sched.h>

struct cpus {
	cpu_set_t allowed;	/* affinity mask at start-up */
	int nallowed;		/* CPUs in @allowed */
	double quota;		/* cgroup quota in CPUs; 0 = none */
	int usable;		/* min(nallowed, ceil(quota)), at least 1 */
};

/* Fills @c. @cgroup_root: mount point of the cgroup fs ("/sys/fs/cgroup";
 * tests pass a scratch tree), @proc_cgroup: "/proc/self/cgroup".
 * Returns 0 or -errno (only if the affinity mask cannot be read). */
int cpus_detect(struct cpus *c, const char *cgroup_root, const char *proc_cgroup);
/* The @i-th allowed CPU (wrapping around), for --pin. */
int cpus_nth(const struct cpus *c, int i);
/* Writes the allowed list as "0-3,6" into @buf. */
void cpus_format(const struct cpus *c, char *buf, size_t len);
#endif
