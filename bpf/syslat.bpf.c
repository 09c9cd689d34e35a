// SPDX-License-Identifier: GPL-2.0
/* syslat.bpf.c - syscall counts and latency, aggregated in the kernel.
 *
 * sys_enter stores (tid, nr, timestamp) in a slot of an array indexed by
 * tid & mask; sys_exit finds it there and adds the latency to a per-CPU
 * array slot indexed by the syscall number. Hot-path map work per syscall:
 * two array lookups the verifier inlines, no hash, no locks or atomics.
 * (Task-local storage measured 264+224 ns per enter+exit here with
 * kernel.bpf_stats_enabled, this array 216+221, on a 2-vCPU VM.) The
 * array has a slot per possible pid up to 2^20 (pid_max); above that two
 * threads in a syscall at once can share a slot: the older one is then not
 * counted, and counted in "collisions". A thread that exits inside a
 * syscall frees its slot (sched_process_exit).
 * Filters come first, before any map work: a call the filters drop costs
 * the tracepoint and a few compares. --errors, --per-process and
 * --per-cgroup each add one hash update per counted call, only when asked.
 * In flight at a report: a task iterator (sl_inflight) lists the tasks in a
 * syscall now (the syscall number the kernel saved at entry, as
 * /proc/PID/syscall reads it), with their start time when it is in a slot.
 * tp_btf is preferred; the raw_tp twins are the fallback (same code).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "syslat.h"
#include "common.bpf.h"

const volatile bool filter_comm = false;
const volatile char target_comm[16] = {};
const volatile __s32 target_nr = -1;	/* -1: every syscall */
const volatile __u64 min_ns = 0;	/* shorter calls are not counted */
const volatile bool per_process = false;
const volatile bool per_cgroup = false;
const volatile bool errors = false;	/* --errors: failed calls by (syscall, errno) */
const volatile __u32 tid_mask = 0;	/* slots in starts - 1 (a power of two - 1) */
const volatile __s32 nr_exit = -1, nr_exit_group = -1;	/* never return: not recorded */

__u64 collisions = 0;		/* a slot held another thread's unfinished syscall */
__u64 missed_procs = 0;		/* --per-process pairs that did not fit */
__u64 missed_cgroups = 0;	/* --per-cgroup pairs that did not fit */
__u64 missed_errs = 0;		/* --errors pairs that did not fit */
__u64 out_of_range = 0;		/* syscall numbers >= SYSLAT_MAX_NR */
__u64 inflight_invisible = 0;	/* tasks in a syscall outside the caller's pid namespace */

struct start {
	__u32 tid;		/* kernel tid */
	__u32 nr;
	__u64 ts;		/* 0: not in a traced syscall */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* resized to tid_mask + 1 before load */
	__type(key, __u32);
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSLAT_MAX_NR);
	__type(key, __u32);
	__type(value, struct syslat_stat);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSLAT_MAX_PROCS);
	__type(key, struct syslat_pkey);
	__type(value, struct syslat_pval);
} procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSLAT_MAX_CGROUPS);
	__type(key, struct syslat_ckey);
	__type(value, struct syslat_cval);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SYSLAT_MAX_ERRS);
	__type(key, struct syslat_ekey);
	__type(value, __u64);
} errs SEC(".maps");

static __always_inline bool comm_matches(void)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	return comm_eq(comm, target_comm);
}

static __always_inline void on_enter(long id)
{
	__u32 tid, tgid, ktid, idx;
	struct start *s;

	if (target_nr >= 0 && id != target_nr)
		return;
	if (id == nr_exit || id == nr_exit_group)
		return;
	if (!current_ids(&tid, &tgid))
		return;
	if (filter_comm && !comm_matches())
		return;
	if (!ids_wanted(NULL, tid, tgid))
		return;
	ktid = qps_cfg.pidns_level ? (__u32)bpf_get_current_pid_tgid() : tid;
	idx = ktid & tid_mask;
	s = bpf_map_lookup_elem(&starts, &idx);
	if (!s)
		return;
	if (s->ts && s->tid != ktid)
		__sync_fetch_and_add(&collisions, 1);
	s->tid = ktid;
	s->nr = id;
	s->ts = bpf_ktime_get_ns();
}

/* adds one call to a (key -> {count, total_ns}) hash map entry, creating it */
static __always_inline bool add_pair(void *map, void *key, __u64 delta, __u64 *missed)
{
	struct syslat_cval *v = bpf_map_lookup_elem(map, key);

	if (!v) {
		struct syslat_cval init = {};

		if (bpf_map_update_elem(map, key, &init, BPF_NOEXIST) && !bpf_map_lookup_elem(map, key)) {
			__sync_fetch_and_add(missed, 1);
			return false;
		}
		v = bpf_map_lookup_elem(map, key);
		if (!v)
			return false;
	}
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->total_ns, delta);
	return true;
}

static __always_inline void on_exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 ktid = (__u32)pid_tgid, idx = ktid & tid_mask;
	struct start *s = bpf_map_lookup_elem(&starts, &idx);
	struct syslat_stat *st;
	__u64 delta;
	__u32 nr;
	int slot;

	if (!s || !s->ts || s->tid != ktid)
		return;
	delta = bpf_ktime_get_ns() - s->ts;
	nr = s->nr;
	s->ts = 0;
	if (errors && ret < 0 && ret >= -4095) {
		struct syslat_ekey ek = { .nr = nr, .err = (__u32)-ret };
		__u64 one = 1, *c = bpf_map_lookup_elem(&errs, &ek);

		if (c)
			__sync_fetch_and_add(c, 1);
		else if (bpf_map_update_elem(&errs, &ek, &one, BPF_NOEXIST)) {
			c = bpf_map_lookup_elem(&errs, &ek);
			if (c)
				__sync_fetch_and_add(c, 1);
			else
				__sync_fetch_and_add(&missed_errs, 1);
		}
	}
	if (delta < min_ns)
		return;
	if (nr >= SYSLAT_MAX_NR) {
		__sync_fetch_and_add(&out_of_range, 1);
		return;
	}
	st = bpf_map_lookup_elem(&stats, &nr);
	if (!st)
		return;
	/* per-CPU slot: plain adds are safe (tracepoint programs don't nest on a CPU) */
	st->count++;
	st->total_ns += delta;
	if (delta > st->max_ns)
		st->max_ns = delta;
	slot = log2_u64(delta / 1000);
	if (slot >= SYSLAT_HIST_SLOTS)
		slot = SYSLAT_HIST_SLOTS - 1;
	st->hist[slot]++;

	if (per_cgroup) {
		struct syslat_ckey ck = { .cgid = bpf_get_current_cgroup_id(), .nr = nr };

		add_pair(&cgroups, &ck, delta, &missed_cgroups);
	}
	if (per_process) {
		struct syslat_pkey k = { .nr = nr };
		struct syslat_pval *pv;
		__u32 tid;

		if (!current_ids(&tid, &k.tgid))
			return;
		pv = bpf_map_lookup_elem(&procs, &k);
		if (!pv) {
			struct syslat_pval init = {};

			bpf_get_current_comm(init.comm, sizeof(init.comm));
			if (bpf_map_update_elem(&procs, &k, &init, BPF_NOEXIST) &&
			    !bpf_map_lookup_elem(&procs, &k)) {
				__sync_fetch_and_add(&missed_procs, 1);
				return;
			}
			pv = bpf_map_lookup_elem(&procs, &k);
			if (!pv)
				return;
		}
		__sync_fetch_and_add(&pv->count, 1);
		__sync_fetch_and_add(&pv->total_ns, delta);
		if (delta > pv->max_ns)
			pv->max_ns = delta;
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sl_enter_btf, struct pt_regs *regs, long id)
{
	on_enter(id);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sl_exit_btf, struct pt_regs *regs, long ret)
{
	on_exit(ret);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(sl_enter_raw, struct pt_regs *regs, long id)
{
	on_enter(id);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sl_exit_raw, struct pt_regs *regs, long ret)
{
	on_exit(ret);
	return 0;
}

/* a thread that exits inside a syscall never reaches sys_exit: free its slot */
static __always_inline void on_task_exit(struct task_struct *p)
{
	__u32 ktid = BPF_CORE_READ(p, pid), idx = ktid & tid_mask;
	struct start *s = bpf_map_lookup_elem(&starts, &idx);

	if (s && s->ts && s->tid == ktid)
		s->ts = 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sl_task_exit_btf, struct task_struct *p)
{
	on_task_exit(p);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(sl_task_exit_raw, struct task_struct *p)
{
	on_task_exit(p);
	return 0;
}

SEC("iter/task")
int sl_inflight(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct syslat_inflight r = {};
	__u32 ktid, idx;
	struct start *s;
	long nr = -1;

	if (!t || (BPF_CORE_READ(t, flags) & 0x00200000 /* PF_KTHREAD */))
		return 0;
	if (filter_comm) {
		BPF_CORE_READ_STR_INTO(&r.comm, t, comm);
		if (!comm_eq(r.comm, target_comm))
			return 0;
	}
	ktid = BPF_CORE_READ(t, pid);
	idx = ktid & tid_mask;
	s = bpf_map_lookup_elem(&starts, &idx);
	if (s && s->ts && s->tid == ktid) {
		nr = s->nr;
		r.since_ns = s->ts;
	} else if (!BPF_CORE_READ(t, on_cpu)) {
		/* off CPU, so in the kernel: its user-entry registers say whether
		 * that entry was a syscall (orig_ax >= 0) or an interrupt (-1) */
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

		if (regs)
			nr = (long)BPF_CORE_READ(regs, orig_ax);
	}
	if (nr < 0 || (target_nr >= 0 && nr != target_nr) || nr == nr_exit || nr == nr_exit_group)
		return 0;
	if (!task_ids(t, &r.tid, &r.tgid)) {
		inflight_invisible++;
		return 0;
	}
	if (!ids_wanted(t, r.tid, r.tgid))
		return 0;
	r.nr = nr;
	r.state = BPF_CORE_READ(t, __state);
	r.cgid = task_cgid(t);
	BPF_CORE_READ_STR_INTO(&r.comm, t, comm);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
