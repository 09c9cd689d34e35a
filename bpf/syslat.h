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

#define SYSLAT_MAX_ERRS 4096		/* --errors (syscall, errno) pairs */
#define SYSLAT_MAX_CGROUPS 16384	/* --per-cgroup (cgroup, syscall) pairs */

struct syslat_ekey {
	__u32 nr;
	__u32 err;			/* errno: the call returned -err */
};

struct syslat_ckey {
	__u64 cgid;			/* cgroup v2 id of the calling thread */
	__u32 nr;
	__u32 pad;
};

struct syslat_cval {
	__u64 count;
	__u64 total_ns;
};

/* A syscall in progress at report time, written by the task iterator
 * (sl_inflight). */
struct syslat_inflight {
	__u32 tid, tgid;		/* caller's pid namespace */
	__s32 nr;			/* syscall number */
	__u32 state;			/* task __state (0: running or preempted) */
	__u64 since_ns;			/* bpf_ktime_get_ns() at sys_enter; 0: before the probe attached */
	__u64 cgid;
	char comm[16];
};

#endif
