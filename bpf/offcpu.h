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
	__u32 tgid;		/* process id (both in the caller's pid namespace) */
	__s32 ustack;		/* stack id in stack_traces; < 0: none (kernel thread) or lost */
	__s32 kstack;
	__u32 gen;		/* image of the process: new at first sight and at each exec */
	char comm[16];		/* of the thread */
	__u64 cgid;		/* cgroup v2 id of the thread when it left the CPU */
};

struct offcpu_val {
	__u64 total_ns;		/* time off CPU with these stacks */
	__u64 count;		/* off-CPU periods */
};

/* A thread off CPU now (starts[kernel tid]): what it left the CPU with. */
struct offcpu_start {
	__u64 ts;		/* bpf_ktime_get_ns() at switch-out */
	__s32 ustack, kstack;
	__u32 gen;		/* image of the process when it left the CPU */
	__u32 tgid;		/* caller's pid namespace (prev is current only at switch-out) */
	__u64 cgid;
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
	__u32 prev_gen;		/* OFFCPU_EV_EXEC: the image it replaced (now dead) */
};

/* A thread off CPU at report time, written by the task iterator
 * (oc_inflight). Threads that left the CPU while we traced carry their
 * switch-out time and stack ids; those off CPU since before the probe
 * attached carry the raw stacks the iterator walked (kernel: bpf_get_task_stack;
 * user: the frame-pointer chain from the saved user registers). */
struct offcpu_inflight {
	__u32 tid, tgid;	/* caller's pid namespace */
	__u32 state;		/* task __state (TASK_INTERRUPTIBLE 1, TASK_UNINTERRUPTIBLE 2, ...) */
	__u32 gen;		/* image, as in offcpu_key (0: unknown) */
	__u64 since_ns;		/* bpf_ktime_get_ns() of its switch-out; 0: before the probe attached */
	__s32 ustack, kstack;	/* stack ids (since_ns != 0), else -1 */
	__u64 cgid;
	char comm[16];
	__u32 nuser, nkern;	/* raw frames below (since_ns == 0) */
	__u64 user[OFFCPU_MAX_DEPTH];
	__u64 kern[OFFCPU_MAX_DEPTH];
};

#endif
