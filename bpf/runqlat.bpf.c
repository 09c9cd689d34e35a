// SPDX-License-Identifier: GPL-2.0
/* runqlat.bpf.c - run-queue latency: from the moment a task becomes runnable
 * (sched_wakeup, sched_wakeup_new, or preempted while still running at
 * sched_switch) to the moment it gets a CPU (sched_switch, as next), as log2
 * histograms per process and per cgroup, aggregated in the kernel.
 *
 * The cgroup is the task's cgroup v2 (dfl_cgrp), or with cgroup v1 the cgroup
 * of its cpu controller (user space picks: cgroup_v1_cpu) - the one whose
 * quota throttles it. tp_btf first, raw_tp twins as the fallback.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "runqlat.h"
#include "common.bpf.h"

/* --pid, --cgroup (v2: that cgroup and below), the loader, pid namespace:
 * qps_cfg (probecfg.h, common.bpf.h) */
const volatile bool filter_comm = false;
const volatile char target_comm[16] = {};
const volatile __u64 target_cgroup = 0;	/* --cgroup of the v1 cpu hierarchy; 0: none */
const volatile bool cgroup_v1_cpu = false;	/* cgroup ids of the v1 cpu hierarchy */

__u64 lost_threads = 0;
__u64 lost_procs = 0;
__u64 lost_cgroups = 0;

struct task_struct___o {
	volatile long state;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RUNQLAT_MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RUNQLAT_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct runqlat_hist);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RUNQLAT_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct runqlat_hist);
} cgroups SEC(".maps");

static __always_inline __u64 task_cgroup(struct task_struct *p)
{
	if (cgroup_v1_cpu)
		return BPF_CORE_READ(p, cgroups, subsys[cpu_cgrp_id], cgroup, kn, id);
	return BPF_CORE_READ(p, cgroups, dfl_cgrp, kn, id);
}

static __always_inline bool wanted(struct task_struct *p)
{
	__u32 tid, tgid;

	if (!BPF_CORE_READ(p, pid))
		return false;		/* the idle task */
	if (filter_comm) {
		char comm[16];

		BPF_CORE_READ_STR_INTO(&comm, p, comm);
		if (!comm_eq(comm, target_comm))
			return false;
	}
	if (target_cgroup && task_cgroup(p) != target_cgroup)
		return false;
	/* visible in the caller's pid namespace, --pid (process or thread),
	 * --cgroup v2 and below, not the loader */
	return task_ids(p, &tid, &tgid) && ids_wanted(p, tid, tgid);
}

static __always_inline void enqueued(struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid);
	__u64 ts;

	if (!wanted(p))
		return;
	ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&start, &pid, &ts, BPF_ANY))
		__sync_fetch_and_add(&lost_threads, 1);
}

static __always_inline void add(void *map, void *key, __u64 delta, struct task_struct *p,
				__u64 *lost)
{
	struct runqlat_hist *h = bpf_map_lookup_elem(map, key);
	__u64 us = delta / 1000;
	int slot;

	if (!h) {
		struct runqlat_hist zero = {};

		/* the name of the first thread seen: not copied on every switch */
		if (p)
			BPF_CORE_READ_STR_INTO(&zero.comm, p, comm);
		if (bpf_map_update_elem(map, key, &zero, BPF_NOEXIST) && !bpf_map_lookup_elem(map, key)) {
			__sync_fetch_and_add(lost, 1);
			return;
		}
		h = bpf_map_lookup_elem(map, key);
		if (!h)
			return;
	}
	slot = log2_u64(us);
	if (slot >= RUNQLAT_SLOTS)
		slot = RUNQLAT_SLOTS - 1;
	/* count is the sum of the slots: user space adds them up */
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, delta);
	if (delta > h->max_ns)
		h->max_ns = delta;
}

static __always_inline void switched(struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(next, pid), tgid;
	__u64 *ts, delta, cg;
	long state;

	/* preempted while runnable: it waits again from now */
	if (bpf_core_field_exists(prev->__state))
		state = BPF_CORE_READ(prev, __state);
	else
		state = BPF_CORE_READ((struct task_struct___o *)prev, state);
	if (state == 0 /* TASK_RUNNING */)
		enqueued(prev);

	ts = bpf_map_lookup_elem(&start, &pid);
	if (!ts)
		return;
	delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &pid);
	if ((__s64)delta < 0)
		return;
	if (!ns_id(next, true, &tgid))
		return;
	add(&procs, &tgid, delta, next, &lost_procs);
	cg = task_cgroup(next);
	add(&cgroups, &cg, delta, NULL, &lost_cgroups);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(rq_wakeup_btf, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(rq_wakeup_new_btf, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(rq_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switched(prev, next);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(rq_wakeup_raw, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(rq_wakeup_new_raw, struct task_struct *p)
{
	enqueued(p);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(rq_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switched(prev, next);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
