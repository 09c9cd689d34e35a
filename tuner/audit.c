/* audit.c - the audit engine: context (netns, listeners, servers, devices)
 * -> counters snapshot -> [--sample S: sleep, second snapshot] -> every area
 * function of the registry (checks.c) whose checks are enabled -> report.
 * Read-only; a plain audit never sleeps. Rendering is the CLI's (main.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "engine.h"
#include "journal.h"
#include "procfs.h"
#include "sockdiag.h"

static uint64_t u64_file(const char *path, bool *ok)
{
	long long v = 0;

	*ok = procfs_read_ll(path, &v) == 0;
	return (uint64_t)v;
}

/* ---- snapshot */


static void take_snap(struct run *a, struct snap *s)
{
	char buf[65536], path[256];
	int i;
	bool ok;

	memset(s, 0, sizeof(*s));
	s->have_tcpext = snmp_counter("TcpExt:ListenOverflows", &s->overflows) == 0;
	snmp_counter("TcpExt:ListenDrops", &s->drops);
	snmp_counter("TcpExt:SyncookiesSent", &s->cookies);
	snmp_counter("TcpExt:TCPReqQFullDrop", &s->reqq_drop);
	if (procfs_read("/proc/net/softnet_stat", buf, sizeof(buf)) > 0) {
		char *line, *save;

		s->have_softnet = true;
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned int processed, dropped, squeeze;

			if (sscanf(line, "%x %x %x", &processed, &dropped, &squeeze) == 3) {
				s->softnet_drop += dropped;
				s->softnet_squeeze += squeeze;
			}
		}
	}
	for (i = 0; i < a->cx.ndev; i++) {
		s->dev_rx_dropped[i] = u64_file(netdev_path(a->cx.dev[i].name, "statistics/rx_dropped",
							    path, sizeof(path)), &ok);
		s->dev_rx_missed[i] = u64_file(netdev_path(a->cx.dev[i].name,
							   "statistics/rx_missed_errors", path,
							   sizeof(path)), &ok);
	}
	for (i = 0; i < a->cx.nsrv; i++) {
		char q[64], w[256];

		read_cgroup_cpu(a->cx.srv[i].pid, q, sizeof(q), &s->thr_periods[i],
				&s->thr_throttled[i], w, sizeof(w));
	}
	for (i = 0; i < a->cx.nls && i < 64; i++)
		s->ls_drops[i] = a->cx.ls[i].drops;
}

/* Re-reads listener drops for the second snapshot. */
static void resnap_listeners(struct run *a, struct snap *s)
{
	struct sd_listener *ls = NULL;
	int n = sockdiag_listeners(&ls), i, j;

	for (i = 0; i < a->cx.nls && i < 64; i++) {
		s->ls_drops[i] = a->cx.ls[i].drops;
		for (j = 0; j < n; j++) {
			if (ls[j].inode == a->cx.ls[i].inode) {
				s->ls_drops[i] = ls[j].drops;
				a->cx.ls[i].queue = ls[j].queue;
			}
		}
	}
	free(ls);
}

/* Picks the profile's special rules and what audit and apply both need. */
int run_prepare(struct run *r, const struct tenv *env, const char *profile_spec, long conns, pid_t pid,
		int port, char *err, size_t err_size)
{
	char sm[32];
	int i, e;

	memset(r, 0, sizeof(*r));
	r->env = env;
	r->prof = profile_load(profile_spec, err, err_size);
	if (!r->prof)
		return -EINVAL;
	/* enter --pid's netns first: sysctl(KEY) targets read that netns */
	e = ctx_init(&r->cx, pid, port, err, err_size);
	if (e) {
		profile_free(r->prof);
		r->prof = NULL;
		return e;
	}
	e = profile_resolve(r->prof, conns, err, err_size);
	if (e)
		return e;
	r->conns = conns > 0 ? conns : r->prof->conns;
	snprintf(r->cli_profile, sizeof(r->cli_profile), "%s", profile_spec);
	for (i = 0; i < r->prof->n; i++) {
		const struct rule *ru = &r->prof->rules[i];

		if (ru->kind == RULE_NOFILE)
			r->nofile = ru;
		else if (ru->kind == RULE_RPS)
			r->rps = ru;
		else if (ru->kind == RULE_XPS)
			r->xps = ru;
		else if (ru->kind == RULE_AFFINITY)
			r->affinity = ru;
		else if (ru->kind == RULE_IRQ)
			r->irq = ru;
		else if (ru->kind == RULE_SYSCTL && !strcmp(ru->key, "net.core.somaxconn") && ru->numeric &&
			 ru->op == OP_GE)
			r->somaxconn_target = ru->num;
	}
	if (sysctl_read("net.core.somaxconn", sm, sizeof(sm)) > 0)
		r->somaxconn = atoll(sm);
	if (!r->somaxconn_target)
		r->somaxconn_target = r->somaxconn;
	r->somaxconn_before = journal_somaxconn_before(env, r->cx.netns);
	return 0;
}

void run_release(struct run *r)
{
	if (r->prof)
		ctx_release(&r->cx);
	profile_free(r->prof);
	r->prof = NULL;
}

int audit_run(struct report *rep, const struct tenv *env, const char *profile_spec, long conns,
	      pid_t pid, int port, int sample, char *err, size_t err_size)
{
	const struct check_def *tab;
	area_audit_fn done[32];
	struct timespec t0, t1;
	struct utsname u;
	struct run r;
	size_t n, i, k, ndone = 0;
	int e;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = run_prepare(&r, env, profile_spec, conns, pid, port, err, err_size);
	if (e)
		goto out;
	r.rep = rep;
	r.sample = sample;
	snprintf(rep->profile, sizeof(rep->profile), "%s", r.prof->name);
	rep->conns = r.conns;
	uname(&u);
	snprintf(rep->kernel, sizeof(rep->kernel), "%s", u.release);
	rep->netns = r.cx.netns;
	rep->initial_netns = r.cx.initial;
	rep->sample = sample;
	if (pid)
		snprintf(rep->target, sizeof(rep->target), "pid %d", (int)pid);
	else if (port)
		snprintf(rep->target, sizeof(rep->target), "port %d", port);

	take_snap(&r, &r.s0);
	if (sample) {
		sleep((unsigned)sample);
		take_snap(&r, &r.s1);
		resnap_listeners(&r, &r.s1);
	} else {
		r.s1 = r.s0;
	}
	if (r.s1.have_tcpext) {
		report_counter(rep, "listen_overflows", "TcpExtListenOverflows of the audited netns since boot.",
			       r.s1.overflows);
		report_counter(rep, "listen_drops", "TcpExtListenDrops of the audited netns since boot.", r.s1.drops);
		report_counter(rep, "syncookies_sent", "TcpExtSyncookiesSent of the audited netns since boot.",
			       r.s1.cookies);
		report_counter(rep, "reqq_full_drops", "TcpExtTCPReqQFullDrop of the audited netns since boot.",
			       r.s1.reqq_drop);
	}
	if (r.s1.have_softnet) {
		report_counter(rep, "softnet_dropped", "Packets dropped by the per-CPU backlog (softnet_stat), all CPUs.",
			       r.s1.softnet_drop);
		report_counter(rep, "softnet_time_squeeze", "NAPI runs out of budget (softnet_stat), all CPUs.",
			       r.s1.softnet_squeeze);
	}
	find_daemons(&r);
	/* each area function once, in registry order, if one of its checks is enabled */
	tab = checks_table(&n);
	for (i = 0; i < n; i++) {
		bool on = false;

		for (k = 0; k < ndone && done[k] != tab[i].audit; k++)
			;
		if (k < ndone)
			continue;
		for (k = i; k < n; k++)
			if (tab[k].audit == tab[i].audit && run_on(&r, tab[k].id))
				on = true;
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = tab[i].audit;
		if (on)
			tab[i].audit(&r);
	}
	/* an area function that emits several ids: drop the disabled ones */
	for (i = 0; i < (size_t)r.prof->n; i++)
		if (r.prof->rules[i].kind == RULE_DISABLE)
			report_drop_id(rep, r.prof->rules[i].key);
	for (i = 0; i < (size_t)r.prof->n; i++)
		if (r.prof->rules[i].kind == RULE_DISABLE)
			snprintf(rep->disabled[rep->ndisabled < REPORT_MAX_DISABLED ? rep->ndisabled++ : 0],
				 sizeof(rep->disabled[0]), "%s", r.prof->rules[i].key);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rep->duration = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
out:
	run_release(&r);
	return e;
}
