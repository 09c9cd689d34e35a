// SPDX-License-Identifier: GPL-2.0
/* runqlat.bpf.c - run-queue latency: from the moment a task becomes runnable
 * (sched_wakeup, sched_wakeup_new, or preempted while still running at
 * sched_switch) to the moment it gets a CPU (sched_switch, as next), as log2
 * histograms per process and per cgroup, aggregated in the kernel.
 *
 * The cgroup is the task's cgroup v2 (dfl_cgrp), or with cgroup v1 the cgroup
 * of its cpu controller (user space picks: cgroup_v1_cpu) - the one whose
 * quota throttles it. tp_btf first, raw_tp twins as the fallback.
 *
 * Cost: these programs run on every context switch and wakeup of the host,
 * so the hot path is kept short. The tp_btf programs read task fields with
 * plain loads (the verifier allows BTF pointers there); only the raw_tp
 * fallback pays a bpf_probe_read_kernel() call per field (RD() below). The
 * moment a task became runnable sits in an array slot indexed by tid & mask
 * (a lookup the verifier inlines, no hash update and delete per switch); the
 * array has a slot per possible pid up to 2^20, so only above that can two
 * waiting threads share a slot (counted in lost_threads, never silent).
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
const volatile __u32 tid_mask = 0;	/* slots in waits - 1 (a power of two - 1) */

__u64 lost_threads = 0;		/* a slot held another thread's pending wait */
__u64 lost_procs = 0;		/* the (process, cgroup) table was full */

struct task_struct___o {
	volatile long state;
} __attribute__((preserve_access_index));

struct wait {
	__u32 tid;		/* kernel tid */
	__u32 pad;
	__u64 ts;		/* runnable since; 0: not waiting */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* resized to tid_mask + 1 before load */
	__type(key, __u32);
	__type(value, struct wait);
} waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RUNQLAT_MAX_PROCS);
	__type(key, struct runqlat_key);
	__type(value, struct runqlat_hist);
} procs SEC(".maps");

/* A field of task @p: a plain load under tp_btf (@btf), a probe read under
 * raw_tp. @btf is a constant at every call site, so the compiler keeps only
 * one of the two in each program (the raw_tp verifier never sees the load). */
#define RD(btf, p, ...) ((btf) ? ___arrow(p, __VA_ARGS__) : BPF_CORE_READ(p, __VA_ARGS__))

static __always_inline __u64 task_cgroup(struct task_struct *p, bool btf)
{
	if (cgroup_v1_cpu)
		return RD(btf, p, cgroups, subsys[cpu_cgrp_id], cgroup, kn, id);
	return RD(btf, p, cgroups, dfl_cgrp, kn, id);
}

/* thread and process id of @p as the caller sees them (common.bpf.h's
 * task_ids, with plain loads when no pid namespace translation is needed) */
static __always_inline bool ids_of(struct task_struct *p, bool btf, __u32 *tid, __u32 *tgid)
{
	if (!qps_cfg.pidns_level) {
		*tid = RD(btf, p, pid);
		*tgid = RD(btf, p, tgid);
		return true;
	}
	return task_ids(p, tid, tgid);
}

static __always_inline bool wanted(struct task_struct *p, __u32 ktid, bool btf)
{
	__u32 tid, tgid;

	if (!ktid)
		return false;		/* the idle task */
	if (filter_comm) {
		char comm[16];

		BPF_CORE_READ_STR_INTO(&comm, p, comm);
		if (!comm_eq(comm, target_comm))
			return false;
	}
	if (target_cgroup && task_cgroup(p, btf) != target_cgroup)
		return false;
	/* visible in the caller's pid namespace, --pid (process or thread),
	 * --cgroup v2 and below, not the loader */
	return ids_of(p, btf, &tid, &tgid) && ids_wanted(p, tid, tgid);
}

static __always_inline void enqueued(struct task_struct *p, bool btf)
{
	__u32 ktid = RD(btf, p, pid), idx = ktid & tid_mask;
	struct wait *w;

	if (!wanted(p, ktid, btf))
		return;
	w = bpf_map_lookup_elem(&waits, &idx);
	if (!w)
		return;
	if (w->ts && w->tid != ktid)
		__sync_fetch_and_add(&lost_threads, 1);
	w->tid = ktid;
	w->ts = bpf_ktime_get_ns();
}

static __always_inline void add(struct runqlat_key *key, __u64 delta, struct task_struct *p)
{
	struct runqlat_hist *h = bpf_map_lookup_elem(&procs, key);
	int slot;

	if (!h) {
		struct runqlat_hist zero = {};

		/* the name of the first thread seen: not copied on every switch */
		BPF_CORE_READ_STR_INTO(&zero.comm, p, comm);
		if (bpf_map_update_elem(&procs, key, &zero, BPF_NOEXIST) && !bpf_map_lookup_elem(&procs, key)) {
			__sync_fetch_and_add(&lost_procs, 1);
			return;
		}
		h = bpf_map_lookup_elem(&procs, key);
		if (!h)
			return;
	}
	slot = log2_u64(delta / 1000);
	if (slot >= RUNQLAT_SLOTS)
		slot = RUNQLAT_SLOTS - 1;
	/* count is the sum of the slots: user space adds them up */
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->sum_ns, delta);
	if (delta > h->max_ns)
		h->max_ns = delta;
}

static __always_inline void switched(struct task_struct *prev, struct task_struct *next, bool btf)
{
	__u32 ktid = RD(btf, next, pid), idx = ktid & tid_mask;
	struct runqlat_key key = {};
	struct wait *w;
	__u64 delta, ts;
	long state;

	/* preempted while runnable: it waits again from now */
	if (bpf_core_field_exists(prev->__state))
		state = RD(btf, prev, __state);
	else
		state = BPF_CORE_READ((struct task_struct___o *)prev, state);
	if (state == 0 /* TASK_RUNNING */)
		enqueued(prev, btf);

	w = bpf_map_lookup_elem(&waits, &idx);
	if (!w || !w->ts || w->tid != ktid)
		return;
	ts = w->ts;
	w->ts = 0;
	delta = bpf_ktime_get_ns() - ts;
	if ((__s64)delta < 0)
		return;
	if (qps_cfg.pidns_level) {
		if (!ns_id(next, true, &key.tgid))
			return;
	} else {
		key.tgid = RD(btf, next, tgid);
	}
	key.cgid = task_cgroup(next, btf);
	add(&key, delta, next);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(rq_wakeup_btf, struct task_struct *p)
{
	enqueued(p, true);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(rq_wakeup_new_btf, struct task_struct *p)
{
	enqueued(p, true);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(rq_switch_btf, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switched(prev, next, true);
	return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(rq_wakeup_raw, struct task_struct *p)
{
	enqueued(p, false);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(rq_wakeup_new_raw, struct task_struct *p)
{
	enqueued(p, false);
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(rq_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	switched(prev, next, false);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
