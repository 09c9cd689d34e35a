/* offcpu.h - types shared by bpf/offcpu.bpf.c and probes/offcpu.c. */
#ifndef QPS_BPF_OFFCPU_H
#define QPS_BPF_OFFCPU_H

#define OFFCPU_MAX_DEPTH 127		/* frames per stack (PERF_MAX_STACK_DEPTH) */
#define OFFCPU_MAX_STACKS 16384		/* distinct stacks; more are counted in lost_stacks */
#define OFFCPU_MAX_KEYS 16384		/* distinct (thread, stacks) keys; more -> lost_keys */
#define OFFCPU_MAX_THREADS 65536	/* threads off CPU at once; more -> lost_threads */
#define OFFCPU_MAX_TGIDS 32768		/* live processes announced to user space (for their maps) */

struct offcpu_key {
	__u32 pid;		/* thread id; 0 when aggregating per process */
	__u32 tgid;		/* process id */
	__s32 ustack;		/* stack id in stack_traces; < 0: none (kernel thread) or lost */
	__s32 kstack;
	__u32 gen;		/* image of the process: new at first sight and at each exec */
	char comm[16];		/* of the thread */
};

struct offcpu_val {
	__u64 total_ns;		/* time off CPU with these stacks */
	__u64 count;		/* off-CPU periods */
};

enum offcpu_event_kind {
	OFFCPU_EV_NEW_TGID = 1,	/* first off-CPU period of this process: snapshot its maps */
	OFFCPU_EV_EXIT = 2,	/* a process we announced is exiting */
	OFFCPU_EV_EXEC = 3,	/* ... has exec'ed: a new image (gen), snapshot again */
};

struct offcpu_event {
	__u32 kind;
	__u32 tgid;
	__u32 gen;		/* the image the event is about */
};

#endif
