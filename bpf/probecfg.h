/* probecfg.h - the settings every probe's BPF side reads from the rodata
 * variable qps_cfg (bpf/common.bpf.h), filled by probe_cfg_init()
 * (probes/common.c) from the common options: pid namespace translation,
 * --pid (process or thread), --cgroup. Shared by BPF and user space. */
#ifndef QPS_BPF_PROBECFG_H
#define QPS_BPF_PROBECFG_H

struct probe_cfg {
	__u32 pidns_level;	/* 0: the caller is in the initial pid namespace (ids
				 * are used as the kernel has them); else ids are
				 * translated (BPF learns the depth: qps_pidns_level) */
	__u32 pidns_ino;	/* its nsfs inode: a task's id at that level must belong to it */
	__u64 cgid;		/* --cgroup: cgroup v2 id; 0: every cgroup */
	__u32 cg_level;		/* depth of that cgroup (the root cgroup is 0) */
	__u32 tgid;		/* --pid: process id, caller's numbering; 0: every process */
	__u32 tid;		/* --pid given a thread id: that thread only; 0: every thread */
	__u32 self_tgid;	/* the loader itself (caller's numbering), never traced */
	__u32 filtered;		/* a filter is given (--pid, --comm, --cgroup): mark qps_matched */
};

#endif
