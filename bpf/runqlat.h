/* runqlat.h - types shared by bpf/runqlat.bpf.c and probes/runqlat.c. */
#ifndef QPS_BPF_RUNQLAT_H
#define QPS_BPF_RUNQLAT_H

#define RUNQLAT_SLOTS 27		/* log2 microseconds: up to 2^27 us (134 s) */
#define RUNQLAT_MAX_PROCS 10240		/* (process, cgroup) pairs with a histogram; more -> lost_procs */

/* One histogram per process and cgroup it waited in: the per-process and the
 * per-cgroup views are sums of these (one map update per switch, not two). */
struct runqlat_key {
	__u64 cgid;			/* cgroup v2 id, or of the v1 cpu hierarchy */
	__u32 tgid;			/* as the caller's pid namespace sees it */
	__u32 pad;
};

struct runqlat_hist {
	__u64 slots[RUNQLAT_SLOTS];	/* waits in [2^i, 2^(i+1)) us; slot 0 holds 0 and 1 */
	__u64 count;			/* filled by user space: the sum of the slots */
	__u64 sum_ns;			/* total wait */
	__u64 max_ns;			/* longest wait (racy max: may miss a concurrent one) */
	char comm[16];			/* first thread seen */
};

#endif
