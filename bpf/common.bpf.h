/* common.bpf.h - small helpers the BPF programs share (included after vmlinux.h
 * and bpf_helpers.h). */
#ifndef QPS_COMMON_BPF_H
#define QPS_COMMON_BPF_H
#include "probecfg.h"

/* Filters and namespaces of this run (see probecfg.h); the verifier sees
 * the values, so unused branches cost nothing. */
const volatile struct probe_cfg qps_cfg = {};
/* Set once a task passed the filters: "a filter that matched nothing
 * during the run" is reported (probes/common.c). */
__u32 qps_matched = 0;

/* floor(log2(v)), 0 for v <= 1: the slot of a log2 histogram. */
static __always_inline int log2_u64(__u64 v)
{
	int r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

/* @comm equals @want, both TASK_COMM_LEN (16) bytes, up to the first NUL. */
static __always_inline bool comm_eq(const char *comm, const volatile char *want)
{
	for (int i = 0; i < 16; i++) {
		if (comm[i] != want[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* Level of the caller's pid namespace, learned from the first task seen in
 * it (user space cannot ask the kernel from inside a namespace:
 * NS_GET_PARENT stops at its own). 0: not learned yet. */
__u32 qps_pidns_level = 0;

static __always_inline bool upid_at(struct pid *p, __u32 lvl, struct upid *u)
{
	return !bpf_probe_read_kernel(u, sizeof(*u), (void *)p + bpf_core_field_offset(struct pid, numbers) +
				      lvl * sizeof(struct upid));
}

/* Id of @t at the caller's pid namespace level (pid of the thread, or of its
 * group leader with @leader). False when @t is not visible there (it lives
 * in an ancestor or a sibling namespace). */
static __always_inline bool ns_id(struct task_struct *t, bool leader, __u32 *id)
{
	struct pid *p;
	struct upid u;
	__u32 lvl, plvl;

	if (!qps_cfg.pidns_level) {
		*id = leader ? BPF_CORE_READ(t, tgid) : BPF_CORE_READ(t, pid);
		return true;
	}
	p = leader ? BPF_CORE_READ(t, group_leader, thread_pid) : BPF_CORE_READ(t, thread_pid);
	if (!p)
		return false;
	plvl = BPF_CORE_READ(p, level);
	lvl = qps_pidns_level;
	if (!lvl) {
		/* not learned yet: find the level whose namespace is ours */
		for (__u32 k = 1; k <= 32; k++) {
			if (k > plvl)
				return false;
			if (upid_at(p, k, &u) && BPF_CORE_READ(u.ns, ns.inum) == qps_cfg.pidns_ino) {
				qps_pidns_level = k;
				*id = u.nr;
				return true;
			}
		}
		return false;
	}
	if (plvl < lvl || lvl > 64 || !upid_at(p, lvl, &u))
		return false;
	if (BPF_CORE_READ(u.ns, ns.inum) != qps_cfg.pidns_ino)
		return false;
	*id = u.nr;
	return true;
}

/* Thread and process id of @t as the caller sees them; false if invisible. */
static __always_inline bool task_ids(struct task_struct *t, __u32 *tid, __u32 *tgid)
{
	return ns_id(t, false, tid) && ns_id(t, true, tgid);
}

/* cgroup v2 id of @t */
static __always_inline __u64 task_cgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

/* cgroup (v2) @cg is the --cgroup cgroup or below it */
static __always_inline bool cgroup_in_target(struct cgroup *cg)
{
	struct cgroup *anc;
	__u32 lvl = qps_cfg.cg_level;

	if (!qps_cfg.cgid)
		return true;
	if (!cg || BPF_CORE_READ(cg, level) < (int)lvl || lvl > 1024)
		return false;
	if (bpf_probe_read_kernel(&anc, sizeof(anc), (void *)cg + bpf_core_field_offset(struct cgroup, ancestors) +
				  lvl * sizeof(anc)))
		return false;
	return BPF_CORE_READ(anc, kn, id) == qps_cfg.cgid;
}

/* @t is in the --cgroup cgroup or below it */
static __always_inline bool task_in_cgroup(struct task_struct *t)
{
	if (!qps_cfg.cgid)
		return true;
	return cgroup_in_target(BPF_CORE_READ(t, cgroups, dfl_cgrp));
}

/* Ids of the current task as the caller sees them (the cheap helper when
 * no translation is needed); false if invisible. */
static __always_inline bool current_ids(__u32 *tid, __u32 *tgid)
{
	if (!qps_cfg.pidns_level) {
		__u64 id = bpf_get_current_pid_tgid();

		*tid = (__u32)id;
		*tgid = id >> 32;
		return true;
	}
	return task_ids((struct task_struct *)bpf_get_current_task(), tid, tgid);
}

/* The filters every probe shares, for task @t (ids in the caller's
 * numbering): not the loader, --pid (process or thread), --cgroup. Marks
 * qps_matched. @t NULL: the current task (looked up only for --cgroup). */
static __always_inline bool ids_wanted(struct task_struct *t, __u32 tid, __u32 tgid)
{
	if (tgid == qps_cfg.self_tgid)
		return false;
	if (qps_cfg.tgid && tgid != qps_cfg.tgid)
		return false;
	if (qps_cfg.tid && tid != qps_cfg.tid)
		return false;
	if (qps_cfg.cgid && !task_in_cgroup(t ? t : (struct task_struct *)bpf_get_current_task()))
		return false;
	if (qps_cfg.filtered && !qps_matched)
		qps_matched = 1;
	return true;
}
#endif
