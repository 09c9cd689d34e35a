// SPDX-License-Identifier: GPL-2.0
/* offcpu.bpf.c - off-CPU time by kernel + user stack, aggregated in the kernel.
 *
 * sched_switch: the thread leaving the CPU (prev) records when and with which
 * stacks (captured now: we still run on prev's stack) in starts[tid]; when a
 * thread comes back (next), its period is added to counts[key]. Processes get
 * announced to user space once, when they first leave the CPU (ring buffer),
 * so that it can snapshot their /proc/PID/maps while they are off CPU and
 * alive; their exit and execs are announced too. That is the
 * only traffic to user space: once per process image, not per event. Each
 * image (first sight, every exec) gets a unique gen in the stack key, so
 * stacks are resolved with the maps of the image that made them.
 * tp_btf is preferred; the raw_tp twins are the fallback (same code).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "offcpu.h"
#include "common.bpf.h"

#define EFAULT 14
#define TASK_DEAD 0x80		/* __state of a task's final switch (include/linux/sched.h) */

const volatile bool filter_comm = false;
const volatile char target_comm[16] = {};
const volatile bool per_thread = false;
const volatile bool kernel_threads = true;	/* count threads without user space */
const volatile __u64 min_ns = 1000;	/* shorter periods are not counted */
const volatile __u64 max_ns = ~0ULL;	/* longer periods are not counted */

__u64 lost_stacks = 0;		/* a stack did not fit stack_traces (full or hash collision) */
__u64 lost_threads = 0;		/* starts full: more threads off CPU at once than it holds */
__u64 lost_keys = 0;		/* counts full: a period was measured but not recorded */
__u64 keys_created = 0;		/* keys added to counts (user space drains exited ones) */
__u64 lost_events = 0;		/* ring buffer or known_tgids full: a process was not announced */


struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, OFFCPU_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, OFFCPU_MAX_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_THREADS);
	__type(key, __u32);
	__type(value, struct offcpu_start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_KEYS);
	__type(key, struct offcpu_key);
	__type(value, struct offcpu_val);
} counts SEC(".maps");

/* tgid -> gen of its current image, for processes announced to user space.
 * Gens are unique over the run, so a reused pid or an exec never makes user
 * space resolve an older stack with a newer /proc/PID/maps. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OFFCPU_MAX_TGIDS);
	__type(key, __u32);
	__type(value, __u32);
} known_tgids SEC(".maps");

__u32 next_gen = 0;

/* A gen for a new image. Two CPUs may get the same value at once (clang 14
 * cannot use the atomic's return value without -mcpu=v3), which is harmless:
 * those are different processes, and user space keys snapshots by (tgid, gen);
 * one tgid cannot get two images at the same instant. */
static __always_inline __u32 new_gen(void)
{
	__sync_fetch_and_add(&next_gen, 1);
	return next_gen;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

static __always_inline void announce(__u32 tgid, __u32 gen, __u32 kind, __u32 prev_gen)
{
	struct offcpu_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->gen = gen;
	e->prev_gen = prev_gen;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void switch_out(void *ctx, struct task_struct *prev)
{
	__u32 pid, tgid;
	struct offcpu_start s;

	/* a dying task's last switch: it never comes back, so an entry would
	 * stay in starts (and a first sight in known_tgids, after its exit
	 * event) for the rest of the run; a fork storm filled both */
	if (BPF_CORE_READ(prev, __state) & TASK_DEAD)
		return;
	if (!BPF_CORE_READ(prev, pid))
		return;		/* the idle task */
	if (filter_comm) {
		char comm[16];

		BPF_CORE_READ_STR_INTO(&comm, prev, comm);
		if (!comm_eq(comm, target_comm))
			return;
	}
	if (!kernel_threads && (BPF_CORE_READ(prev, flags) & 0x00200000 /* PF_KTHREAD */))
		return;
	if (!task_ids(prev, &pid, &tgid) || !ids_wanted(prev, pid, tgid))
		return;
	/* the table is keyed by the kernel's tid: unique whatever the namespace */
	pid = BPF_CORE_READ(prev, pid);
	s.tgid = tgid;
	s.cgid = bpf_get_current_cgroup_id();
	s.ts = bpf_ktime_get_ns();
	/* prev is current here: both stacks are prev's */
	s.kstack = bpf_get_stackid(ctx, &stack_traces, 0);
	s.ustack = bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK);
	if (s.kstack < 0 || (s.ustack < 0 && s.ustack != -EFAULT))
		__sync_fetch_and_add(&lost_stacks, 1);
	s.gen = 0;
	/* processes are announced with the caller's pid (user space reads its
	 * /proc/PID/maps); exit and exec events look them up the same way */
	if (s.ustack >= 0) {
		__u32 *gen = bpf_map_lookup_elem(&known_tgids, &tgid);

		if (gen) {
			s.gen = *gen;
		} else {
			/* first sight of this process (rare, not per event): announce
			 * it now, so user space reads its maps while it is off CPU */
			s.gen = new_gen();
			if (!bpf_map_update_elem(&known_tgids, &tgid, &s.gen, BPF_NOEXIST)) {
				announce(tgid, s.gen, OFFCPU_EV_NEW_TGID, 0);
			} else if (!bpf_map_lookup_elem(&known_tgids, &tgid)) {
				/* table full: no snapshot for it (gen 0 = unknown
				 * image), and no new key per switch either */
				s.gen = 0;
				__sync_fetch_and_add(&lost_events, 1);
			} else {
				/* another CPU announced it just now */
				__u32 *g = bpf_map_lookup_elem(&known_tgids, &tgid);

				s.gen = g ? *g : 0;
			}
		}
	}
	if (bpf_map_update_elem(&starts, &pid, &s, BPF_ANY))
		__sync_fetch_and_add(&lost_threads, 1);
}

static __always_inline void switch_in(struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(next, pid);
	struct offcpu_key key = {};
	struct offcpu_val *v;
	struct offcpu_start *s;
	__u64 delta;

	s = bpf_map_lookup_elem(&starts, &pid);
	if (!s)
		return;
	delta = bpf_ktime_get_ns() - s->ts;
	key.ustack = s->ustack;
	key.kstack = s->kstack;
	key.gen = s->gen;
	key.tgid = s->tgid;
	key.cgid = s->cgid;
	bpf_map_delete_elem(&starts, &pid);
	if (delta < min_ns || delta > max_ns)
		return;
	if (per_thread && !ns_id(next, false, &key.pid))
		return;
	BPF_CORE_READ_STR_INTO(&key.comm, next, comm);
	v = bpf_map_lookup_elem(&counts, &key);
	if (!v) {
		struct offcpu_val zero = {};

		if (!bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST)) {
			__sync_fetch_and_add(&keys_created, 1);
		} else if (!bpf_map_lookup_elem(&counts, &key)) {
			__sync_fetch_and_add(&lost_keys, 1);
			return;
		}
		v = bpf_map_lookup_elem(&counts, &key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->total_ns, delta);
	__sync_fetch_and_add(&v->count, 1);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(oc_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev);
	switch_in(next);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(oc_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switch_out(ctx, prev);
	switch_in(next);
	return 0;
}

static __always_inline void on_exit(struct task_struct *p)
{
	__u32 tgid, *gen;

	/* the leader's exit stands for the process's (no cheap "last thread"
	 * test on every kernel); forgetting it lets a reused pid get a new gen */
	if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid) || !ns_id(p, true, &tgid))
		return;
	gen = bpf_map_lookup_elem(&known_tgids, &tgid);
	if (!gen)
		return;
	announce(tgid, *gen, OFFCPU_EV_EXIT, 0);
	bpf_map_delete_elem(&known_tgids, &tgid);
}

static __always_inline void on_exec(struct task_struct *p)
{
	__u32 tgid, *gen, prev;

	if (!ns_id(p, true, &tgid))
		return;
	gen = bpf_map_lookup_elem(&known_tgids, &tgid);
	if (!gen)
		return;
	prev = *gen;
	*gen = new_gen();
	announce(tgid, *gen, OFFCPU_EV_EXEC, prev);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(oc_exit_btf, struct task_struct *p)
{
	on_exit(p);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(oc_exit_raw, struct task_struct *p)
{
	on_exit(p);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(oc_exec_btf, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(oc_exec_raw, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

/* In flight at report time: every thread (of the filters) off CPU now,
 * one struct offcpu_inflight each, read by user space through an iterator
 * fd. Sleepable, to walk the user stack of another task
 * (bpf_copy_from_user_task). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct offcpu_inflight);
} inflight_buf SEC(".maps");

__u64 inflight_invisible = 0;	/* off-CPU threads outside the caller's pid namespace */
__u64 inflight_idle = 0;	/* idle kernel threads (TASK_IDLE) not listed */

SEC("iter.s/task")
int oc_inflight(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct offcpu_inflight *r;
	__u32 zero = 0, tid, tgid, ktid;
	struct offcpu_start *s;

	if (!t || BPF_CORE_READ(t, on_cpu))
		return 0;
	if (!BPF_CORE_READ(t, pid))
		return 0;
	if (filter_comm) {
		char comm[16];

		BPF_CORE_READ_STR_INTO(&comm, t, comm);
		if (!comm_eq(comm, target_comm))
			return 0;
	}
	if (!kernel_threads && (BPF_CORE_READ(t, flags) & 0x00200000 /* PF_KTHREAD */))
		return 0;
	/* TASK_IDLE (I): kernel threads waiting for work by design, not stuck;
	 * listed only when --pid names them */
	if ((BPF_CORE_READ(t, __state) & 0x402) == 0x402 && !qps_cfg.tgid) {
		inflight_idle++;
		return 0;
	}
	if (!task_ids(t, &tid, &tgid)) {
		inflight_invisible++;
		return 0;
	}
	if (!ids_wanted(t, tid, tgid))
		return 0;
	r = bpf_map_lookup_elem(&inflight_buf, &zero);
	if (!r)
		return 0;
	r->tid = tid;
	r->tgid = tgid;
	r->state = BPF_CORE_READ(t, __state);
	r->cgid = task_cgid(t);
	BPF_CORE_READ_STR_INTO(&r->comm, t, comm);
	r->nuser = r->nkern = 0;
	ktid = BPF_CORE_READ(t, pid);
	s = bpf_map_lookup_elem(&starts, &ktid);
	if (s) {
		r->since_ns = s->ts;
		r->ustack = s->ustack;
		r->kstack = s->kstack;
		r->gen = s->gen;
		bpf_seq_write(ctx->meta->seq, r, sizeof(*r));
		return 0;
	}
	/* off CPU since before we attached: walk its stacks now */
	r->since_ns = 0;
	r->ustack = r->kstack = -1;
	r->gen = 0;
	{
		__u32 *g = bpf_map_lookup_elem(&known_tgids, &tgid);

		if (g)
			r->gen = *g;
	}
	{
		long n = bpf_get_task_stack(t, r->kern, sizeof(r->kern), 0);

		r->nkern = n > 0 ? (__u64)n / 8 : 0;
	}
	if (BPF_CORE_READ(t, mm)) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
		__u64 bp, frame[2];
		int i;

		if (!regs)
			goto out;
		r->user[0] = PT_REGS_IP_CORE(regs);
		bp = PT_REGS_FP_CORE(regs);
		r->nuser = 1;
		for (i = 1; i < OFFCPU_MAX_DEPTH; i++) {
			if (!bp || bpf_copy_from_user_task(frame, sizeof(frame), (void *)bp, t, 0))
				break;
			if (!frame[1])
				break;
			r->user[i] = frame[1];
			r->nuser = i + 1;
			/* the caller's frame is above ours: anything else is a broken chain */
			if (frame[0] <= bp)
				break;
			bp = frame[0];
		}
	}
out:
	bpf_seq_write(ctx->meta->seq, r, sizeof(*r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
