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
 * counted, and counted in "collisions".
 * tp_btf is preferred; the raw_tp twins are the fallback (same code).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "syslat.h"
#include "common.bpf.h"

const volatile __u32 target_tgid = 0;	/* 0: all processes */
const volatile __u32 self_tgid = 0;	/* qps-tune itself, never counted */
const volatile bool filter_comm = false;
const volatile char target_comm[16] = {};
const volatile __s32 target_nr = -1;	/* -1: every syscall */
const volatile __u64 min_ns = 0;	/* shorter calls are not counted */
const volatile bool per_process = false;
const volatile __u32 tid_mask = 0;	/* slots in starts - 1 (a power of two - 1) */
const volatile __s32 nr_exit = -1, nr_exit_group = -1;	/* never return: not recorded */

__u64 collisions = 0;		/* a slot held another thread's unfinished syscall */
__u64 missed_procs = 0;		/* --per-process pairs that did not fit */
__u64 out_of_range = 0;		/* syscall numbers >= SYSLAT_MAX_NR */

struct start {
	__u32 tid;
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

static __always_inline bool comm_matches(void)
{
	char comm[16];

	bpf_get_current_comm(comm, sizeof(comm));
	return comm_eq(comm, target_comm);
}

static __always_inline void on_enter(long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, idx = tid & tid_mask;
	struct start *s;

	if (target_nr >= 0 && id != target_nr)
		return;
	if (target_tgid && tgid != target_tgid)
		return;
	if (tgid == self_tgid || id == nr_exit || id == nr_exit_group)
		return;
	if (filter_comm && !comm_matches())
		return;
	s = bpf_map_lookup_elem(&starts, &idx);
	if (!s)
		return;
	if (s->ts && s->tid != tid)
		__sync_fetch_and_add(&collisions, 1);
	s->tid = tid;
	s->nr = id;
	s->ts = bpf_ktime_get_ns();
}

static __always_inline void on_exit(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), idx = tid & tid_mask;
	struct start *s = bpf_map_lookup_elem(&starts, &idx);
	struct syslat_stat *st;
	__u64 delta;
	__u32 nr;
	int slot;

	if (!s || !s->ts || s->tid != tid)
		return;
	delta = bpf_ktime_get_ns() - s->ts;
	nr = s->nr;
	s->ts = 0;
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

	if (per_process) {
		struct syslat_pkey k = { .tgid = bpf_get_current_pid_tgid() >> 32, .nr = nr };
		struct syslat_pval *pv = bpf_map_lookup_elem(&procs, &k);

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
	on_exit();
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
	on_exit();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
