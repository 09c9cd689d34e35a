/* area_mem.c - memory: THP, threads vs pid_max, conntrack (MEM-*, CT-001). */
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
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"

/* ---- memory, conntrack */

static void chk_mem(struct run *a)
{
	char buf[256];
	struct check *c;
	long long pid_max = 0, cnt = 0, max = 0;

	if (procfs_read("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf)) > 0) {
		bool always = strstr(buf, "[always]") != NULL;

		c = report_add(a->rep, "MEM-001", "med", always ? CHK_INFO : CHK_PASS, "transparent_hugepage");
		if (c) {
			c->scope = a->cx.initial ? "global" : "host";
			CSET(c->current, "%s", buf);
			CSET(c->target, "madvise or never");
			CSET(c->reason, "THP=always brings khugepaged and compaction stalls into latency-sensitive servers");
			CSET(c->evidence, "/sys/kernel/mm/transparent_hugepage/enabled: %s", buf);
			if (always)
				CSET(c->fix, "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled");
		}
	}
	if (procfs_read("/proc/loadavg", buf, sizeof(buf)) > 0 &&
	    procfs_read_ll("/proc/sys/kernel/pid_max", &pid_max) == 0 && pid_max > 0) {
		char *slash = strchr(buf, '/');
		long long threads = slash ? atoll(slash + 1) : 0;

		c = report_add(a->rep, "MEM-003", "med", threads * 100 > pid_max * 80 ? CHK_FAIL : CHK_PASS,
			       "threads vs pid_max");
		if (c) {
			c->scope = a->cx.initial ? "global" : "host";
			CSET(c->current, "%lld/%lld", threads, pid_max);
			CSET(c->target, "< 80%%");
			CSET(c->reason, "thread-per-connection servers fail to spawn past pid_max");
			CSET(c->evidence, "/proc/loadavg threads %lld; kernel.pid_max %lld", threads, pid_max);
			CSET(c->fix, "sysctl -w kernel.pid_max=4194304 (host-wide)");
		}
	}
	if (procfs_read_ll("/proc/sys/net/netfilter/nf_conntrack_count", &cnt) == 0 &&
	    procfs_read_ll("/proc/sys/net/netfilter/nf_conntrack_max", &max) == 0 && max > 0) {
		c = report_add(a->rep, "CT-001", "high", cnt * 100 > max * 80 ? CHK_FAIL : CHK_PASS,
			       "nf_conntrack");
		if (c) {
			c->scope = "netns";
			CSET(c->current, "%lld/%lld", cnt, max);
			CSET(c->target, "< 80%%");
			CSET(c->reason, "a full conntrack table drops new connections silently");
			CSET(c->evidence, "net.netfilter.nf_conntrack_count=%lld nf_conntrack_max=%lld", cnt, max);
			CSET(c->fix, "raise net.netfilter.nf_conntrack_max (host) or NOTRACK the service port");
		}
	} else {
		c = report_add(a->rep, "CT-001", "high", CHK_SKIP, "nf_conntrack");
		if (c)
			CSET(c->evidence, "nf_conntrack not loaded (no /proc/sys/net/netfilter/nf_conntrack_count)");
	}
}

void mem_audit(struct run *a)
{
	chk_mem(a);
}
