/* runqlat.h - types shared by bpf/runqlat.bpf.c and probes/runqlat.c. */
#ifndef QPS_BPF_RUNQLAT_H
#define QPS_BPF_RUNQLAT_H

#define RUNQLAT_SLOTS 27		/* log2 microseconds: up to 2^27 us (134 s) */
#define RUNQLAT_MAX_PROCS 10240		/* processes with a histogram; more -> lost_procs */
#define RUNQLAT_MAX_CGROUPS 4096
#define RUNQLAT_MAX_THREADS 65536	/* threads waiting at once; more -> lost_threads */

struct runqlat_hist {
	__u64 slots[RUNQLAT_SLOTS];	/* waits in [2^i, 2^(i+1)) us; slot 0 holds 0 and 1 */
	__u64 count;			/* filled by user space: the sum of the slots */
	__u64 sum_ns;			/* total wait */
	__u64 max_ns;			/* longest wait (racy max: may miss a concurrent one) */
	char comm[16];			/* first thread seen (per-process histograms) */
};

#endif
