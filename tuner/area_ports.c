/* area_ports.c - ephemeral ports and TIME-WAIT (PORT-002, PORT-003). */
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

/* ---- ports and TIME-WAIT */

static bool port_in_list(const char *list, unsigned port)
{
	const char *p = list;

	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return false;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (port >= a && port <= b)
			return true;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return false;
}

static void chk_ports(struct run *a)
{
	char range[64], reserved[1024] = "", buf[1024];
	unsigned lo = 0, hi = 0;
	int i, flagged = 0;
	struct check *c;

	if (sysctl_read("net.ipv4.ip_local_port_range", range, sizeof(range)) < 0 ||
	    sscanf(range, "%u %u", &lo, &hi) != 2)
		return;
	sysctl_read("net.ipv4.ip_local_reserved_ports", reserved, sizeof(reserved));
	for (i = 0; i < a->cx.nls; i++) {
		const struct sd_listener *l = &a->cx.ls[i];
		char addr[80], key[128];
		int j;

		if (l->port < lo || l->port > hi || port_in_list(reserved, l->port))
			continue;
		for (j = 0; j < i; j++)
			if (a->cx.ls[j].port == l->port)
				break;
		if (j < i)
			continue;
		sockdiag_addr_str(l, addr, sizeof(addr));
		snprintf(key, sizeof(key), "listener %s", addr);
		c = report_add(a->rep, "PORT-002", "med", CHK_FAIL, key);
		if (!c)
			return;
		flagged++;
		c->scope = "netns";
		CSET(c->current, "port %u", l->port);
		CSET(c->target, "outside %u-%u or reserved", lo, hi);
		CSET(c->reason, "an outbound connect can take the listen port before the service binds it");
		CSET(c->evidence, "%s (pid %d %s) inside ip_local_port_range %u-%u; "
		     "ip_local_reserved_ports='%s'", addr, (int)l->pid, l->comm, lo, hi, reserved);
		CSET(c->fix, "sysctl -w net.ipv4.ip_local_reserved_ports=%s%s%u", reserved,
		     reserved[0] ? "," : "", l->port);
	}
	if (!flagged && a->cx.nls) {
		c = report_add(a->rep, "PORT-002", "med", CHK_PASS, "listen ports vs ephemeral range");
		if (c) {
			c->scope = "netns";
			CSET(c->current, "%d listener%s", a->cx.nls, a->cx.nls > 1 ? "s" : "");
			CSET(c->target, "outside %u-%u or reserved", lo, hi);
			CSET(c->evidence, "no listen port inside ip_local_port_range %u-%u unreserved", lo, hi);
		}
	}
	/* TIME-WAIT buckets and orphans from sockstat (this netns) */
	if (procfs_read("/proc/net/sockstat", buf, sizeof(buf)) > 0) {
		char *t = strstr(buf, "TCP:");
		unsigned long long inuse = 0, orphan = 0, tw = 0, alloc = 0, mem = 0;
		long long twmax = 0;

		if (t && sscanf(t, "TCP: inuse %llu orphan %llu tw %llu alloc %llu mem %llu", &inuse,
				&orphan, &tw, &alloc, &mem) == 5 &&
		    procfs_read_ll("/proc/sys/net/ipv4/tcp_max_tw_buckets", &twmax) == 0 && twmax > 0) {
			bool hot = tw * 100 > (unsigned long long)twmax * 80;

			c = report_add(a->rep, "PORT-003", "med", hot ? CHK_FAIL : CHK_PASS,
				       "TIME-WAIT sockets");
			if (c) {
				char reuse[16] = "?";

				sysctl_read("net.ipv4.tcp_tw_reuse", reuse, sizeof(reuse));
				c->scope = "netns";
				CSET(c->current, "%llu/%lld", tw, twmax);
				CSET(c->target, "< 80%% of tcp_max_tw_buckets");
				CSET(c->reason, "past tcp_max_tw_buckets TIME-WAIT sockets are destroyed early "
				     "(\"time wait bucket table overflow\")");
				CSET(c->evidence, "/proc/net/sockstat tw=%llu inuse=%llu; tcp_max_tw_buckets=%lld; "
				     "tcp_tw_reuse=%s", tw, inuse, twmax, reuse);
				CSET(c->fix, "raise net.ipv4.tcp_max_tw_buckets; on proxies tcp_tw_reuse=1 "
				     "(profile proxy)");
			}

		}
	}
}

void ports_audit(struct run *a)
{
	chk_ports(a);
}
