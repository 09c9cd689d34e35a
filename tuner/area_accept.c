/* area_accept.c - the accept queue: listeners and their granted backlog
 * (LQ-002), full queues and overflow counters (LQ-003, LQ-007), reuseport
 * groups (LQ-008); the planner names listeners that must listen() again.
 * The LQ sysctl rules are decided in rules.c. */
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

/* ---- accept path */

static void chk_listeners(struct run *a)
{
	int i;

	if (a->cx.ls_err) {
		struct check *c = report_add(a->rep, "LQ-002", "high", CHK_SKIP, "listeners");

		if (c)
			CSET(c->evidence, "sock_diag dump failed: %s", strerror(-a->cx.ls_err));
		return;
	}
	if (!a->cx.nls) {
		struct check *c = report_add(a->rep, "LQ-002", "high", CHK_INFO, "listeners");

		if (c) {
			c->scope = "netns";
			CSET(c->current, "0");
			CSET(c->evidence, "no TCP listener%s%s in netns net:[%llu] (sock_diag)",
			     a->cx.port ? " on the given port" : "", a->cx.pid ? " of the given pid" : "",
			     (unsigned long long)a->cx.netns);
		}
		return;
	}
	for (i = 0; i < a->cx.nls; i++) {
		const struct sd_listener *l = &a->cx.ls[i];
		char addr[80], key[128], owner[64];
		struct check *c;
		uint32_t d0 = i < 64 ? a->s0.ls_drops[i] : 0, d1 = i < 64 ? a->s1.ls_drops[i] : 0;

		sockdiag_addr_str(l, addr, sizeof(addr));
		snprintf(key, sizeof(key), "listener %s", addr);
		if (l->pid)
			snprintf(owner, sizeof(owner), "pid %d %s", (int)l->pid, l->comm);
		else
			snprintf(owner, sizeof(owner), "owner unknown");
		c = report_add(a->rep, "LQ-002", "high", CHK_PASS, key);
		if (!c)
			return;
		c->scope = "listener";
		CSET(c->current, "backlog %u", l->backlog);
		CSET(c->target, "not capped by somaxconn");
		CSET(c->reason, "listen() caps the backlog at somaxconn at listen() time; raising "
		     "somaxconn later does not grow it");
		CSET(c->evidence, "%s %s granted backlog (Send-Q) %u, queue (Recv-Q) %u, somaxconn %lld",
		     addr, owner, l->backlog, l->queue, a->somaxconn);
		if (a->somaxconn_before > 0 && a->somaxconn_before < a->somaxconn &&
		    l->backlog == (uint32_t)a->somaxconn_before) {
			c->status = CHK_FAIL;
			CSET(c->evidence, "%s %s Send-Q=%u == somaxconn before qps-tune apply raised it to %lld "
			     "(journal): the listener still has the old, capped backlog", addr, owner, l->backlog,
			     a->somaxconn);
			CSET(c->fix, "restart %s so it calls listen() again", owner);
		} else if (a->somaxconn > 0 && l->backlog == (uint32_t)a->somaxconn) {
			if (a->somaxconn < a->somaxconn_target) {
				c->status = CHK_FAIL;
				CSET(c->evidence, "%s %s Send-Q=%u == somaxconn %lld < target %lld: the "
				     "requested backlog was probably truncated", addr, owner,
				     l->backlog, a->somaxconn, a->somaxconn_target);
				CSET(c->fix, "raise net.core.somaxconn (qps-tune apply --profile %s), then "
				     "restart %s so it calls listen() again", a->cli_profile, owner);
			} else {
				CSET(c->evidence, "%s %s Send-Q=%u == somaxconn: granted the full somaxconn "
				     "(the app may have asked for more)", addr, owner, l->backlog);
			}
		}
		/* the accept queue itself */
		if ((l->backlog && l->queue >= l->backlog) || (a->sample && d1 > d0 && d1 != UINT32_MAX)) {
			c = report_add(a->rep, "LQ-003", "crit", CHK_FAIL, key);
			if (!c)
				return;
			c->scope = "listener";
			/* the row says what its evidence says: queue now and the drops counted */
			if (a->sample)
				CSET(c->current, "queue %u/%u, drops +%u/%ds", l->queue, l->backlog,
				     d1 >= d0 && d1 != UINT32_MAX ? d1 - d0 : 0, a->sample);
			else
				CSET(c->current, "queue %u/%u, drops %u", l->queue, l->backlog,
				     l->drops == UINT32_MAX ? 0 : l->drops);
			CSET(c->target, "queue < backlog, no drops");
			CSET(c->reason, "a full accept queue drops handshakes: clients wait 1 s, 3 s... "
			     "for SYN retransmits");
			if (a->sample)
				CSET(c->evidence, "%s %s Recv-Q %u of %u; sk_drops +%u over %ds", addr, owner,
				     l->queue, l->backlog, d1 - d0, a->sample);
			else
				CSET(c->evidence, "%s %s Recv-Q %u of %u (full now); sk_drops %u since "
				     "listen()", addr, owner, l->queue, l->backlog,
				     l->drops == UINT32_MAX ? 0 : l->drops);
			CSET(c->fix, "accept faster (more workers / accept loop), raise the listen "
			     "backlog and somaxconn, then restart %s", owner);
		}
	}
}

static void chk_counters(struct run *a)
{
	struct check *c;

	if (!a->s0.have_tcpext) {
		c = report_add(a->rep, "LQ-003", "crit", CHK_SKIP, "TcpExt:ListenOverflows");
		if (c)
			CSET(c->evidence, "/proc/net/netstat has no TcpExt counters");
		return;
	}
	c = report_add(a->rep, "LQ-003", "crit", CHK_INFO, "TcpExt:ListenOverflows");
	if (!c)
		return;
	c->scope = "netns";
	CSET(c->reason, "accept-queue overflows drop the final ACK or the SYN");
	if (a->sample) {
		uint64_t ov = a->s1.overflows - a->s0.overflows, dr = a->s1.drops - a->s0.drops;

		c->status = ov || dr ? CHK_FAIL : CHK_PASS;
		CSET(c->current, "+%llu/%ds", (unsigned long long)ov, a->sample);
		CSET(c->target, "+0");
		CSET(c->evidence, "TcpExtListenOverflows +%llu ListenDrops +%llu over %ds (since boot: "
		     "%llu / %llu), netns net:[%llu]", (unsigned long long)ov, (unsigned long long)dr,
		     a->sample, (unsigned long long)a->s1.overflows, (unsigned long long)a->s1.drops,
		     (unsigned long long)a->cx.netns);
		CSET(c->fix, "find the listener whose Recv-Q reaches its Send-Q (see LQ-002/LQ-003 "
		     "lines, or qps-tune probe acceptq) and make it accept faster");
	} else {
		CSET(c->current, "%llu", (unsigned long long)a->s0.overflows);
		CSET(c->evidence, "since boot: TcpExtListenOverflows %llu ListenDrops %llu (use --sample S "
		     "for a rate), netns net:[%llu]", (unsigned long long)a->s0.overflows,
		     (unsigned long long)a->s0.drops, (unsigned long long)a->cx.netns);
	}
	c = report_add(a->rep, "LQ-007", "med", CHK_INFO, "TcpExt:SyncookiesSent");
	if (!c)
		return;
	c->scope = "netns";
	CSET(c->reason, "SYN cookies and request-queue drops mean SYN-queue pressure");
	if (a->sample) {
		uint64_t ck = a->s1.cookies - a->s0.cookies, rq = a->s1.reqq_drop - a->s0.reqq_drop;

		c->status = ck || rq ? CHK_FAIL : CHK_PASS;
		CSET(c->current, "+%llu/%ds", (unsigned long long)ck, a->sample);
		CSET(c->target, "+0");
		CSET(c->evidence, "TcpExtSyncookiesSent +%llu TCPReqQFullDrop +%llu over %ds",
		     (unsigned long long)ck, (unsigned long long)rq, a->sample);
		CSET(c->fix, "raise net.ipv4.tcp_max_syn_backlog and somaxconn; check for a SYN flood");
	} else {
		CSET(c->current, "%llu", (unsigned long long)a->s0.cookies);
		CSET(c->evidence, "since boot: TcpExtSyncookiesSent %llu TCPReqQFullDrop %llu",
		     (unsigned long long)a->s0.cookies, (unsigned long long)a->s0.reqq_drop);
	}
}

static void chk_reuseport(struct run *a)
{
	int i, j, groups = 0;
	char ev[256] = "";
	size_t o = 0;
	struct check *c;

	for (i = 0; i < a->cx.nls; i++) {
		int same = 1;

		for (j = 0; j < i; j++)
			if (a->cx.ls[j].port == a->cx.ls[i].port)
				break;
		if (j < i)
			continue;
		for (j = i + 1; j < a->cx.nls; j++)
			same += a->cx.ls[j].port == a->cx.ls[i].port &&
				a->cx.ls[j].family == a->cx.ls[i].family;
		if (same > 1) {
			groups++;
			if (o < sizeof(ev))
				o += snprintf(ev + o, sizeof(ev) - o, "%s:%u has %d listeners",
					      o ? "; " : "", a->cx.ls[i].port, same);
		}
	}
	if (!groups)
		return;
	c = report_add(a->rep, "LQ-008", "low", CHK_INFO, "SO_REUSEPORT groups");
	if (c) {
		char v[32] = "?";

		sysctl_read("net.ipv4.tcp_migrate_req", v, sizeof(v));
		c->scope = "netns";
		CSET(c->current, "tcp_migrate_req=%s", v);
		CSET(c->reason, "with reuseport, closing one listener drops its queued handshakes "
		     "unless tcp_migrate_req=1");
		CSET(c->evidence, "%s", ev);
	}
}

/* Listeners whose backlog was capped by the somaxconn this apply raises, or
 * by the one an earlier apply raised (the journal's old value). */
void accept_plan(struct run *R)
{
	const struct ctx *cx = &R->cx;
	struct plan *p = R->plan;
	long long somax_before = R->somaxconn_before;
	char sm[32];
	long long somax_now;
	bool raising = false;
	int i;

	if (sysctl_read("net.core.somaxconn", sm, sizeof(sm)) < 0)
		return;
	somax_now = atoll(sm);
	for (i = 0; i < p->nch; i++)
		raising |= p->ch[i].kind == J_SYSCTL && !strcmp(p->ch[i].key, "net.core.somaxconn");
	for (i = 0; i < cx->nls; i++) {
		const struct sd_listener *l = &cx->ls[i];
		char addr[80], what[200], why[200];

		if (!(raising && l->backlog == (uint32_t)somax_now) &&
		    !(somax_before > 0 && somax_before < somax_now && l->backlog == (uint32_t)somax_before))
			continue;
		sockdiag_addr_str(l, addr, sizeof(addr));
		snprintf(what, sizeof(what), "listener %s (pid %d %s)", addr, (int)l->pid, l->comm);
		snprintf(why, sizeof(why), "backlog is fixed at listen(): granted %u (the old somaxconn) "
			 "until the service listens again", l->backlog);
		RESTART(p, what, why);
	}
}


void accept_audit(struct run *a)
{
	chk_listeners(a);
	chk_counters(a);
	chk_reuseport(a);
}
