/* oncpu.h - types shared by bpf/oncpu.bpf.c and probes/oncpu.c. */
#ifndef QPS_BPF_ONCPU_H
#define QPS_BPF_ONCPU_H

#define ONCPU_MAX_DEPTH 127		/* frames per stack (PERF_MAX_STACK_DEPTH) */
#define ONCPU_MAX_STACKS 16384		/* distinct stacks; more are counted in lost_stacks */
#define ONCPU_MAX_KEYS 16384		/* distinct (process, stacks) keys; more -> lost_keys */
#define ONCPU_MAX_TGIDS 32768		/* processes announced to user space (for their maps) */

struct oncpu_key {
	__u32 tgid;		/* process id; 0: the idle task (counted only with --idle) */
	__s32 ustack;		/* stack id in stack_traces; < 0: none (kernel mode only) or lost */
	__s32 kstack;		/* < 0: the sample hit user mode, or lost */
	__u32 gen;		/* image of the process: new at first sight and at each exec */
	char comm[16];		/* of the thread sampled */
};

enum oncpu_event_kind {
	ONCPU_EV_NEW_TGID = 1,	/* first sample of this process: snapshot its maps */
	ONCPU_EV_EXEC = 2,	/* it exec'ed: a new image (gen), snapshot again */
};

struct oncpu_event {
	__u32 kind;
	__u32 tgid;
	__u32 gen;
};

#endif
