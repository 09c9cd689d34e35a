/* syslat.h - types shared by bpf/syslat.bpf.c and probes/syslat.c. */
#ifndef QPS_BPF_SYSLAT_H
#define QPS_BPF_SYSLAT_H

#define SYSLAT_MAX_NR 512		/* syscall numbers tracked (x86_64 has < 470) */
#define SYSLAT_HIST_SLOTS 32		/* log2 slots of latency in µs; slot 0 = 0..1 µs */
#define SYSLAT_MAX_PROCS 65536		/* --per-process (tgid, nr) pairs; more are counted as missed */

/* Per syscall number, per CPU (summed in user space). */
struct syslat_stat {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
	__u64 hist[SYSLAT_HIST_SLOTS];	/* latency, log2 µs */
};

struct syslat_pkey {
	__u32 tgid;
	__u32 nr;
};

struct syslat_pval {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
	char comm[16];			/* of the thread that first made this pair */
};

#endif
