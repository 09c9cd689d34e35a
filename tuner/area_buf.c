/* area_buf.c - socket buffers and TCP memory: sockstat against tcp_mem and
 * tcp_max_orphans (BUF-002, BUF-003). The buffer sysctl rules (BUF-001,
 * BUF-004..006) are decided in rules.c. */
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "knob.h"
#include "procfs.h"

void buf_audit(struct run *a)
{
	char buf[1024], *t;
	unsigned long long inuse = 0, orphan = 0, tw = 0, alloc = 0, mem = 0;
	struct check *c;

	if (procfs_read("/proc/net/sockstat", buf, sizeof(buf)) <= 0 || !(t = strstr(buf, "TCP:")) ||
	    sscanf(t, "TCP: inuse %llu orphan %llu tw %llu alloc %llu mem %llu", &inuse, &orphan, &tw,
		   &alloc, &mem) != 5)
		return;
	if (a->cx.initial) {
		long long maxorph = 0;
		char tmem[96];
		long long pages[3];

		if (procfs_read_ll("/proc/sys/net/ipv4/tcp_max_orphans", &maxorph) == 0 &&
		    maxorph > 0) {
			bool ohot = orphan * 100 > (unsigned long long)maxorph * 50;

			c = report_add(a->rep, "BUF-003", "med", ohot ? CHK_FAIL : CHK_PASS,
				       "orphaned sockets");
			if (c) {
				c->scope = "global";
				CSET(c->current, "%llu/%lld", orphan, maxorph);
				CSET(c->target, "< 50%%");
				CSET(c->reason, "past tcp_max_orphans orphans are reset "
				     "(\"too many orphaned sockets\")");
				CSET(c->evidence, "/proc/net/sockstat orphan=%llu; "
				     "tcp_max_orphans=%lld", orphan, maxorph);
				CSET(c->fix, "raise net.ipv4.tcp_max_orphans");
			}
		}
		if (sysctl_read("net.ipv4.tcp_mem", tmem, sizeof(tmem)) > 0 &&
		    knob_fields(tmem, pages, 3) == 3) {
			bool mhot = mem * 4 > (unsigned long long)pages[1] * 3;

			c = report_add(a->rep, "BUF-002", "med", mhot ? CHK_FAIL : CHK_PASS,
				       "TCP memory");
			if (c) {
				c->scope = "global";
				CSET(c->current, "%llu pages", mem);
				CSET(c->target, "< 75%% of tcp_mem[1]");
				CSET(c->reason, "under TCP memory pressure the kernel shrinks "
				     "windows and prunes queues");
				CSET(c->evidence, "/proc/net/sockstat mem=%llu pages; tcp_mem=%s",
				     mem, tmem);
				CSET(c->fix, "raise net.ipv4.tcp_mem or find the sockets holding "
				     "memory (ss -tm)");
			}
		}
	}
}
