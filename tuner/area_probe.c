/* area_probe.c - probe readiness (PROBE-*): what qps-tune probe needs. */
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuset.h"
#include "engine.h"
#include "kconfig.h"
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"

/* ---- probe readiness */

/*
 * errno of a BPF_PROG_LOAD of a do-nothing fentry program, without a target
 * (attach_btf_id 0), so nothing is attached and no 5 MB vmlinux BTF is parsed.
 * A kernel that allows fentry rejects it for the missing target (EINVAL); one
 * that refuses tracing programs outright (lockdown, an LSM, a sandbox) says
 * EPERM first. Only meaningful when bpf() itself works for this process.
 */
static int fentry_load_errno(void)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_TRACING;
	attr.expected_attach_type = BPF_TRACE_FENTRY;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = 2;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd >= 0) {
		close((int)fd);
		return 0;
	}
	return errno;
}

/* A mount of type tracefs in /proc/self/mounts, read whole (a host with many
 * mounts has more than any fixed buffer holds). */
static bool has_tracefs_mount(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char *line = NULL, *save, *type;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		/* "dev dir type opts ..." (spaces in dev and dir are escaped as \040) */
		type = strtok_r(line, " ", &save) && strtok_r(NULL, " ", &save) ? strtok_r(NULL, " ", &save) : NULL;
		found = type && !strcmp(type, "tracefs");
	}
	free(line);
	fclose(f);
	return found;
}

static void chk_probes(struct run *a)
{
	struct kconfig_query q[] = {
		{ .name = "CONFIG_KPROBES" }, { .name = "CONFIG_KPROBE_EVENTS" },
		{ .name = "CONFIG_DEBUG_INFO_BTF" }, { .name = "CONFIG_FUNCTION_TRACER" },
		{ .name = "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS" }, { .name = "CONFIG_BPF_SYSCALL" },
	};
	char src[128] = "";
	struct check *c;
	int kc = kconfig_lookup(q, sizeof(q) / sizeof(q[0]), src, sizeof(src));
	union bpf_attr attr;
	long fd;
	bool tracefs, bpf_works = false;

#define READY(c, ok) ((c)->status = (ok) ? CHK_PASS : CHK_INFO)
	c = report_add(a->rep, "PROBE-001", "low", CHK_PASS, "BTF");
	if (c) {
		bool ok = access("/sys/kernel/btf/vmlinux", R_OK) == 0;

		READY(c, ok);
		CSET(c->current, ok ? "present" : "absent");
		CSET(c->target, "present");
		CSET(c->reason, "qps-tune probe needs kernel BTF (CO-RE)");
		CSET(c->evidence, "/sys/kernel/btf/vmlinux %s; CONFIG_DEBUG_INFO_BTF=%s (%s)",
		     ok ? "readable" : "missing", q[2].val[0] ? q[2].val : "unset", kc ? "no kernel config" : src);
	}
	c = report_add(a->rep, "PROBE-002", "low", CHK_PASS, "bpf() syscall");
	if (c) {
		int e;

		memset(&attr, 0, sizeof(attr));
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		fd = syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
		e = fd < 0 ? errno : 0;
		bpf_works = fd >= 0;
		if (fd >= 0)
			close((int)fd);
		READY(c, fd >= 0);
		CSET(c->current, fd >= 0 ? "works" : "denied");
		CSET(c->target, "works");
		CSET(c->reason, "the probes load BPF programs");
		CSET(c->evidence, "bpf(BPF_MAP_CREATE) %s; CONFIG_BPF_SYSCALL=%s",
		     fd >= 0 ? "succeeded" : strerror(e), q[5].val[0] ? q[5].val : "unset");
	}
	c = report_add(a->rep, "PROBE-003", "low", CHK_PASS, "kprobes");
	if (c) {
		bool ok = q[0].val[0] == 'y';

		READY(c, ok || kc);
		if (kc)
			c->status = CHK_SKIP;
		CSET(c->current, "CONFIG_KPROBES=%s", q[0].val[0] ? q[0].val : "unset");
		CSET(c->target, "y");
		CSET(c->reason, "kprobe-based probes need CONFIG_KPROBES");
		CSET(c->evidence, "CONFIG_KPROBES=%s CONFIG_KPROBE_EVENTS=%s (%s)", q[0].val[0] ? q[0].val : "unset",
		     q[1].val[0] ? q[1].val : "unset", kc ? "no /proc/config.gz or /boot/config-*" : src);
	}
	c = report_add(a->rep, "PROBE-004", "low", CHK_PASS, "fentry");
	if (c) {
		bool ok = q[2].val[0] == 'y' && q[3].val[0] == 'y' && q[4].val[0] == 'y';
		int load = ok && bpf_works ? fentry_load_errno() : 0;

		/* a kernel can have the config and still refuse (lockdown, an LSM, a sandbox) */
		if (load == EPERM)
			ok = false;
		READY(c, ok);
		if (kc && !load)
			c->status = CHK_SKIP;
		CSET(c->current, ok ? "available" : load == EPERM ? "refused (EPERM)" : "unavailable");
		/* the config allows it, but without bpf() nothing was tried: say so, do not pass */
		if (ok && !bpf_works) {
			c->status = CHK_INFO;
			CSET(c->current, "untested (bpf() denied here)");
		}
		CSET(c->target, "available");
		CSET(c->reason, "fentry/fexit probes need BTF and ftrace direct calls");
		CSET(c->evidence, "CONFIG_DEBUG_INFO_BTF=%s CONFIG_FUNCTION_TRACER=%s "
		     "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=%s (%s)%s%s", q[2].val[0] ? q[2].val : "unset",
		     q[3].val[0] ? q[3].val : "unset", q[4].val[0] ? q[4].val : "unset", kc ? "no config" : src,
		     load ? "; test load of an fentry program: " : "", load ? strerror(load) : "");
	}
	c = report_add(a->rep, "PROBE-005", "low", CHK_PASS, "tracefs");
	if (c) {
		tracefs = has_tracefs_mount();
		READY(c, tracefs);
		CSET(c->current, tracefs ? "mounted" : "not mounted");
		CSET(c->target, "mounted");
		CSET(c->reason, "tracepoint ids and kprobe events live in tracefs");
		CSET(c->evidence, "/proc/self/mounts %s", tracefs ? "has a tracefs entry" : "has no tracefs entry");
		if (!tracefs)
			CSET(c->fix, "mount -t tracefs nodev /sys/kernel/tracing");
	}
#undef READY
}

void probe_audit(struct run *a)
{
	chk_probes(a);
}
