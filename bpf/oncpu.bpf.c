// SPDX-License-Identifier: GPL-2.0
/* oncpu.bpf.c - on-CPU samples by kernel + user stack, aggregated in the kernel.
 *
 * One perf_event program, attached by user space to a cpu-clock software
 * event on every online CPU (works without a PMU, in VMs). Each sample adds
 * one to counts[{tgid, ustack, kstack, gen, comm}]. As in offcpu, a process
 * is announced to user space once per image (first sample, each exec) so it
 * can snapshot /proc/PID/maps while the process is alive; that is the only
 * ring-buffer traffic. The exec hook is tp_btf with a raw_tp twin.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "oncpu.h"
#include "common.bpf.h"

#define EFAULT 14

/* --pid, --cgroup (v2), the loader itself, pid namespace: qps_cfg
 * (probecfg.h, common.bpf.h) */
const volatile bool filter_comm = false;
const volatile char target_comm[16] = {};
const volatile __u64 target_cgroup = 0;	/* --cgroup of the v1 cpu hierarchy; 0: none */
const volatile bool count_idle = false;	/* samples of the idle task (pid 0) */
const volatile bool user_only = false;	/* skip kernel stacks */

__u64 samples = 0;		/* every sample that passed the filters */
__u64 lost_stacks = 0;		/* a stack did not fit stack_traces (full or hash collision) */
__u64 lost_keys = 0;		/* counts full: a sample was taken but not recorded */
__u64 lost_events = 0;		/* ring buffer or known_tgids full: a process was not announced */
__u64 idle_samples = 0;		/* samples that found the CPU idle (not counted unless count_idle) */

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, ONCPU_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, ONCPU_MAX_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ONCPU_MAX_KEYS);
	__type(key, struct oncpu_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ONCPU_MAX_TGIDS);
	__type(key, __u32);
	__type(value, __u32);
} known_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

__u32 next_gen = 0;

/* see offcpu.bpf.c: two CPUs may get the same gen, which is harmless */
static __always_inline __u32 new_gen(void)
{
	__sync_fetch_and_add(&next_gen, 1);
	return next_gen;
}

static __always_inline void announce(__u32 tgid, __u32 gen, __u32 kind)
{
	struct oncpu_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return;
	}
	e->kind = kind;
	e->tgid = tgid;
	e->gen = gen;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline __u32 gen_of(__u32 tgid)
{
	__u32 *g = bpf_map_lookup_elem(&known_tgids, &tgid), gen;

	if (g)
		return *g;
	gen = new_gen();
	if (!bpf_map_update_elem(&known_tgids, &tgid, &gen, BPF_NOEXIST)) {
		announce(tgid, gen, ONCPU_EV_NEW_TGID);
		return gen;
	}
	g = bpf_map_lookup_elem(&known_tgids, &tgid);
	if (g)
		return *g;		/* another CPU announced it just now */
	__sync_fetch_and_add(&lost_events, 1);
	return 0;			/* table full: unknown image */
}

SEC("perf_event")
int oncpu_sample(struct bpf_perf_event_data *ctx)
{
	__u64 one = 1, *v;
	__u32 pid = (__u32)bpf_get_current_pid_tgid(), tid = 0, tgid = 0;
	struct oncpu_key key = {};

	if (!pid) {
		__sync_fetch_and_add(&idle_samples, 1);
		if (!count_idle)
			return 0;
	}
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (filter_comm && !comm_eq(key.comm, target_comm))
		return 0;
	if (target_cgroup) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();

		if (BPF_CORE_READ(t, cgroups, subsys[cpu_cgrp_id], cgroup, kn, id) != target_cgroup)
			return 0;
	}
	/* the caller's numbering; a task outside its pid namespace is not
	 * sampled; --pid, --cgroup (v2), never the loader */
	if (pid && (!current_ids(&tid, &tgid) || !ids_wanted(NULL, tid, tgid)))
		return 0;
	__sync_fetch_and_add(&samples, 1);
	key.tgid = tgid;
	key.kstack = user_only ? -1 : bpf_get_stackid(ctx, &stack_traces, 0);
	key.ustack = pid ? bpf_get_stackid(ctx, &stack_traces, BPF_F_USER_STACK) : -1;
	/* -EFAULT: no stack of that kind (user mode has no kernel stack, a
	 * kernel thread no user stack); anything else is a lost stack */
	if ((key.kstack < 0 && key.kstack != -EFAULT && !user_only) ||
	    (key.ustack < 0 && key.ustack != -EFAULT && pid))
		__sync_fetch_and_add(&lost_stacks, 1);
	if (key.ustack >= 0)
		key.gen = gen_of(tgid);
	v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return 0;
	}
	if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&counts, &key);
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			__sync_fetch_and_add(&lost_keys, 1);
	}
	return 0;
}

static __always_inline void on_exec(struct task_struct *p)
{
	__u32 tgid, *gen;

	if (!ns_id(p, true, &tgid))
		return;
	gen = bpf_map_lookup_elem(&known_tgids, &tgid);
	if (!gen)
		return;
	*gen = new_gen();
	announce(tgid, *gen, ONCPU_EV_EXEC);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(oncpu_exec_btf, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(oncpu_exec_raw, struct task_struct *p)
{
	on_exec(p);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
