/* audit.c - `qps-tune audit`: read-only checks of everything that caps a TCP
 * server below its target load. Each check reports id, severity, current
 * value, target, a one-line reason, the evidence it read and the fix.
 *
 * Order: context (netns, listeners, servers, devices) -> counters snapshot
 * -> [--sample S: sleep, second snapshot] -> checks -> output.
 * A plain audit never sleeps. Exit 0 clean, 3 drift, 1 error, 2 usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cpuset.h"
#include "ctx.h"
#include "ethtool_nl.h"
#include "journal.h"
#include "kconfig.h"
#include "knob.h"
#include "procfs.h"
#include "profile.h"
#include "report.h"
#include "sysctld.h"
#include "tuner.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define MAX_CPUS_SAMPLED 256

/* Counters read twice with --sample S (once otherwise). */
struct snap {
	uint64_t overflows, drops, cookies, reqq_drop;
	bool have_tcpext;
	uint64_t softnet_drop, softnet_squeeze;
	bool have_softnet;
	uint64_t dev_rx_dropped[CTX_MAX_DEVS], dev_rx_missed[CTX_MAX_DEVS];
	uint64_t thr_periods[CTX_MAX_SERVERS], thr_throttled[CTX_MAX_SERVERS];
	uint32_t ls_drops[64];
};

struct audit {
	struct ctx cx;
	pid_t irqbalance;		/* daemons found in one scan of /proc */
	char tuner[64];			/* "tuned (pid 12)" or "" */
	struct profile *prof;
	struct report *rep;
	long conns;
	int sample;
	struct snap s0, s1;		/* s1 == s0 without --sample */
	const struct rule *nofile, *rps, *xps, *affinity, *irq;
	long long somaxconn, somaxconn_target;
	long long somaxconn_before;	/* from qps-tune's journal: value before apply raised it, 0 if none */
	char cli_profile[300];		/* how the user named the profile, for fix lines */
};

static const char *scope_of(const struct audit *a, const char *key)
{
	enum knob_scope s = knob_scope(key);

	if (s == KNOB_NETNS)
		return "netns";
	return a->cx.initial ? "global" : "host";
}

static uint64_t u64_file(const char *path, bool *ok)
{
	long long v = 0;

	*ok = procfs_read_ll(path, &v) == 0;
	return (uint64_t)v;
}

/* ---- snapshot */

static void read_cgroup_cpu(pid_t pid, char *quota, size_t qsize, uint64_t *periods,
			    uint64_t *throttled, char *where, size_t wsize);

static void take_snap(struct audit *a, struct snap *s)
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
static void resnap_listeners(struct audit *a, struct snap *s)
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

/* ---- ENV */

static const char *cgroup_mode(void)
{
	struct statfs st;

	if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return "v2";
	if (statfs("/sys/fs/cgroup/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return "hybrid";
	return "v1";
}

static int numa_nodes(void)
{
	char buf[256];
	struct cpuset cs;

	if (procfs_read("/sys/devices/system/node/online", buf, sizeof(buf)) < 0 ||
	    cpuset_parse_list(buf, &cs))
		return 1;
	return cpuset_count(&cs);
}

static void chk_env(struct audit *a)
{
	struct check *c = report_add(a->rep, "ENV-001", "info", CHK_INFO, "environment");
	char virt[64] = "none", buf[256];

	if (!c)
		return;
	if (access("/.dockerenv", F_OK) == 0)
		snprintf(virt, sizeof(virt), "docker");
	else if (procfs_read("/sys/class/dmi/id/sys_vendor", buf, sizeof(buf)) > 0)
		snprintf(virt, sizeof(virt), "%s", buf);
	else if (procfs_read("/proc/cpuinfo", buf, sizeof(buf)) > 0 && strstr(buf, "hypervisor"))
		snprintf(virt, sizeof(virt), "vm");
	c->scope = "system";
	CSET(c->current, "%s", a->rep->kernel);
	CSET(c->evidence, "kernel=%s virt=%s netns=net:[%llu] init_netns=%s cgroup=%s "
	     "caps:%cSYS_RESOURCE %cNET_ADMIN %cSYS_ADMIN nproc=%d numa_nodes=%d",
	     a->rep->kernel, virt, (unsigned long long)a->cx.netns, a->cx.initial ? "yes" : "no",
	     cgroup_mode(), has_cap(24) ? '+' : '-', has_cap(12) ? '+' : '-',
	     has_cap(21) ? '+' : '-', a->cx.ncpus, numa_nodes());
	CSET(c->reason, "what the audit ran on");
}

/* ---- profile sysctl rules */

static bool is_disabled(const struct audit *a, const char *id)
{
	int i;

	for (i = 0; i < a->prof->n; i++)
		if (a->prof->rules[i].kind == RULE_DISABLE && !strcmp(a->prof->rules[i].key, id))
			return true;
	return false;
}

static void chk_sysctl_rules(struct audit *a)
{
	char blocked[400] = "";
	size_t bo = 0;
	int i, nblocked = 0;

	for (i = 0; i < a->prof->n; i++) {
		const struct rule *r = &a->prof->rules[i];
		const struct knob_info *k;
		char cur[256], want[256], name[128], tgt[96], path[PATH_MAX];
		long long f[16];
		struct check *c;
		ssize_t n;
		int ok;

		if (r->kind != RULE_SYSCTL)
			continue;
		k = knob_lookup(r->key);
		if (r->field >= 0)
			snprintf(name, sizeof(name), "%s[%d]", r->key, r->field);
		else
			snprintf(name, sizeof(name), "%s", r->key);
		c = report_add(a->rep, k ? k->id : "PROF-001", k ? k->severity : "med", CHK_PASS, name);
		if (!c)
			return;
		c->scope = scope_of(a, r->key);
		CSET(c->target, "%s", rule_target_str(r, tgt, sizeof(tgt)));
		CSET(c->reason, "%s", k ? k->reason : "rule from the profile");
		sysctl_path(r->key, path, sizeof(path));
		n = sysctl_read(r->key, cur, sizeof(cur));
		if (n == -ENOENT) {
			c->status = CHK_SKIP;
			if (!a->cx.initial && strncmp(r->key, "net.", 4) == 0)
				CSET(c->evidence, "%s: not present in this network namespace (host-owned); "
				     "audit the host for it", path);
			else
				CSET(c->evidence, "%s: absent on this kernel (%s) - skipped", path,
				     a->rep->kernel);
			continue;
		}
		if (n < 0) {
			c->status = CHK_SKIP;
			CSET(c->evidence, "cannot read '%s': %s", path, strerror((int)-n));
			continue;
		}
		if (r->skip) {
			c->status = CHK_SKIP;
			CSET(c->current, "%s", cur);
			CSET(c->evidence, "%s", r->resolved);
			continue;
		}
		if (r->field >= 0 && knob_fields(cur, f, 16) > r->field)
			CSET(c->current, "%lld", f[r->field]);
		else
			CSET(c->current, "%s", cur);
		ok = rule_eval(r, cur, want, sizeof(want));
		CSET(c->evidence, "%s = %s (netns net:[%llu]); rule %s", path, cur,
		     (unsigned long long)a->cx.netns, r->origin);
		if (ok < 0) {
			c->status = CHK_SKIP;
			CSET(c->evidence, "%s = '%s': cannot compare with '%s'", path, cur, r->resolved);
			continue;
		}
		if (ok)
			continue;
		c->status = CHK_FAIL;
		if (!a->cx.initial && knob_is_host(r->key)) {
			CSET(c->fix, "host-wide key: on the host run sysctl -w %s='%s' "
			     "(or qps-tune apply --host from here)", r->key, want);
		} else {
			CSET(c->fix, "qps-tune apply --profile %s  (sets %s='%s')", a->cli_profile, r->key,
			     want);
		}
		if (access(path, W_OK) != 0 || (!a->cx.initial && knob_is_host(r->key) &&
						knob_scope(r->key) != KNOB_GLOBAL)) {
			nblocked++;
			if (bo < sizeof(blocked))
				bo += snprintf(blocked + bo, sizeof(blocked) - bo, "%s%s (%s)",
					       bo ? "; " : "", r->key,
					       access(path, W_OK) ? strerror(errno) : "host-owned");
		}
	}
	if (nblocked) {
		struct check *c = report_add(a->rep, "ENV-002", "med", CHK_INFO, "apply possible here");

		if (c) {
			CSET(c->current, "%d key%s blocked", nblocked, nblocked > 1 ? "s" : "");
			CSET(c->reason, "these failing keys cannot be written from this namespace or user");
			CSET(c->evidence, "%s", blocked);
			c->scope = a->cx.initial ? "global" : "host";
		}
	}
}

/* ---- accept path */

static void chk_listeners(struct audit *a)
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
			CSET(c->current, "queue %u/%u", l->queue, l->backlog);
			CSET(c->target, "queue < backlog, drops +0");
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

static void chk_counters(struct audit *a)
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

static void chk_reuseport(struct audit *a)
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

/* ---- descriptors */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* LimitNOFILE= of @unit as systemd resolves it: the unit file from the first
 * directory that has it (/etc > /run > /usr/lib > /lib), then every drop-in
 * UNIT.d/NAME.conf in file-name order (a name in an earlier directory masks the
 * same name in a later one); the last assignment wins. */
static void read_unit_limit(const char *unit, char *out, size_t size, char *src, size_t src_size)
{
	static const char *const unit_dirs[] = { "/etc/systemd/system", "/run/systemd/system",
						 "/usr/lib/systemd/system", "/lib/systemd/system" };
	char path[PATH_MAX], rel[PATH_MAX], line[512], *names[64], *srcs[64];
	int n = 0, i, k;
	size_t d;
	FILE *f;

	out[0] = src[0] = '\0';
	for (d = 0; d < sizeof(unit_dirs) / sizeof(unit_dirs[0]); d++) {
		snprintf(rel, sizeof(rel), "%s/%s", unit_dirs[d], unit);
		f = fopen(root_path(rel, path, sizeof(path)), "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "LimitNOFILE=", 12)) {
				snprintf(out, size, "%.*s", (int)strcspn(line + 12, "\n"), line + 12);
				snprintf(src, src_size, "%s", rel);
			}
		fclose(f);
		break;
	}
	for (d = 0; d < sizeof(unit_dirs) / sizeof(unit_dirs[0]); d++) {
		struct dirent *de;
		DIR *dd;

		snprintf(rel, sizeof(rel), "%s/%s.d", unit_dirs[d], unit);
		dd = opendir(root_path(rel, path, sizeof(path)));
		while (dd && (de = readdir(dd)) && n < 64) {
			size_t len = strlen(de->d_name);

			if (len < 6 || strcmp(de->d_name + len - 5, ".conf"))
				continue;
			for (i = 0; i < n && strcmp(names[i], de->d_name); i++)
				;
			if (i < n)
				continue;	/* masked by an earlier directory */
			names[n] = strdup(de->d_name);
			if (asprintf(&srcs[n], "%s/%s", rel, de->d_name) < 0)
				srcs[n] = NULL;
			if (!names[n] || !srcs[n]) {
				free(names[n]);
				free(srcs[n]);
				continue;
			}
			n++;
		}
		if (dd)
			closedir(dd);
	}
	/* sort names, keeping each one's source path alongside */
	for (i = 1; i < n; i++)
		for (k = i; k > 0 && cmp_str(&names[k - 1], &names[k]) > 0; k--) {
			char *t = names[k], *u = srcs[k];

			names[k] = names[k - 1];
			srcs[k] = srcs[k - 1];
			names[k - 1] = t;
			srcs[k - 1] = u;
		}
	for (i = 0; i < n; i++) {
		f = fopen(root_path(srcs[i], path, sizeof(path)), "r");
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "LimitNOFILE=", 12)) {
				snprintf(out, size, "%.*s", (int)strcspn(line + 12, "\n"), line + 12);
				snprintf(src, src_size, "%s", srcs[i]);
			}
		if (f)
			fclose(f);
		free(names[i]);
		free(srcs[i]);
	}
}

static void chk_fds(struct audit *a)
{
	char buf[256];
	long long nr_open = 0, target = a->nofile ? a->nofile->num : 0;
	unsigned long long used = 0, freefd = 0, max = 0;
	struct check *c;
	int i;

	procfs_read_ll("/proc/sys/fs/nr_open", &nr_open);
	if (procfs_read("/proc/sys/fs/file-nr", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%llu %llu %llu", &used, &freefd, &max) == 3 && max) {
		c = report_add(a->rep, "FD-003", "high", used * 100 > max * 80 ? CHK_FAIL : CHK_PASS,
			       "fs.file-nr");
		if (c) {
			c->scope = a->cx.initial ? "global" : "host";
			CSET(c->current, "%llu/%llu (%llu%%)", used, max, used * 100 / max);
			CSET(c->target, "< 80%% used");
			CSET(c->reason, "at the system-wide limit every open/accept fails with ENFILE");
			CSET(c->evidence, "/proc/sys/fs/file-nr = %s", buf);
			CSET(c->fix, "raise fs.file-max or find the descriptor leak");
		}
	}
	if (target && nr_open && target > nr_open) {
		c = report_add(a->rep, "FD-002", "high", CHK_FAIL, "fs.nr_open");
		if (c) {
			c->scope = a->cx.initial ? "global" : "host";
			CSET(c->current, "%lld", nr_open);
			CSET(c->target, ">= %lld", target);
			CSET(c->reason, "setrlimit(RLIMIT_NOFILE) above fs.nr_open fails with EPERM");
			CSET(c->evidence, "nofile target %lld (%s) > fs.nr_open %lld", target,
			     a->nofile->origin, nr_open);
			CSET(c->fix, "sysctl -w fs.nr_open=%lld (host-wide)", target);
		}
	}
	for (i = 0; i < a->cx.nsrv; i++) {
		const struct server *s = &a->cx.srv[i];
		unsigned long long soft, hard;
		char key[96], lim[64], src[PATH_MAX];
		int nfd = proc_fd_count(s->pid), e;

		snprintf(key, sizeof(key), "pid %d %s nofile", (int)s->pid, s->comm);
		e = proc_nofile(s->pid, &soft, &hard);
		if (e) {
			c = report_add(a->rep, "FD-001", "crit", CHK_SKIP, key);
			if (c)
				CSET(c->evidence, "prlimit(%d): %s", (int)s->pid, strerror(-e));
			continue;
		}
		c = report_add(a->rep, "FD-001", "crit", CHK_INFO, key);
		if (!c)
			return;
		c->scope = "process";
		CSET(c->current, "soft %llu", soft);
		CSET(c->reason, "each connection is a descriptor: at the soft limit accept() fails "
		     "with EMFILE");
		CSET(c->evidence, "/proc/%d/limits Max open files soft=%llu hard=%llu; %d open",
		     (int)s->pid, soft, hard, nfd);
		if (target) {
			CSET(c->target, ">= %lld", target);
			c->status = soft >= (unsigned long long)target ? CHK_PASS : CHK_FAIL;
			CSET(c->evidence, "/proc/%d/limits Max open files soft=%llu hard=%llu; %d open; "
			     "target %lld (%s, conns %ld)", (int)s->pid, soft, hard, nfd, target,
			     a->nofile->origin, a->conns);
			if (hard < (unsigned long long)target && !has_cap(24))
				CSET(c->fix, "raise it where %s starts (%s); the running process's hard limit "
				     "%llu is below the target and raising it needs CAP_SYS_RESOURCE", s->comm,
				     s->unit[0] ? "LimitNOFILE= drop-in: qps-tune apply --persist" : "ulimit -n / LimitNOFILE=",
				     hard);
			else if (s->unit[0])
				CSET(c->fix, "LimitNOFILE=%lld in a drop-in for %s (qps-tune apply --persist), "
				     "then restart it; or qps-tune apply --pid %d for the running process",
				     target, s->unit, (int)s->pid);
			else
				CSET(c->fix, "qps-tune apply --pid %d (prlimit on the running process); make "
				     "it permanent in the service's start-up (ulimit -n / LimitNOFILE)",
				     (int)s->pid);
			c = report_add(a->rep, "FD-002", "high",
				       hard >= (unsigned long long)target ? CHK_PASS : CHK_FAIL, key);
			if (c) {
				c->scope = "process";
				CSET(c->current, "hard %llu", hard);
				CSET(c->target, ">= %lld", target);
				CSET(c->reason, "the soft limit cannot go above the hard limit; raising the "
				     "hard limit needs CAP_SYS_RESOURCE");
				CSET(c->evidence, "/proc/%d/limits Max open files hard=%llu", (int)s->pid, hard);
				CSET(c->fix, "raise the hard limit where the service starts (LimitNOFILE=) - "
				     "a running process's hard limit needs CAP_SYS_RESOURCE");
			}
		}
		if (nfd >= 0 && soft) {
			bool hot = (unsigned long long)nfd * 100 > soft * 80;

			c = report_add(a->rep, "FD-004", "med", hot ? CHK_FAIL : CHK_PASS, key);
			if (c) {
				c->scope = "process";
				CSET(c->current, "%d/%llu", nfd, soft);
				CSET(c->target, "< 80%%");
				CSET(c->reason, "descriptor use close to the soft limit: EMFILE is near");
				CSET(c->evidence, "/proc/%d/fd has %d entries; soft limit %llu", (int)s->pid,
				     nfd, soft);
				CSET(c->fix, "raise the soft nofile limit (qps-tune apply --pid %d)",
				     (int)s->pid);
			}
		}
		if (!s->unit[0])
			continue;
		{
			/* limits.conf does not apply to services (pam_limits runs for logins) */
			char lpath[PATH_MAX], found[300] = "";
			static const char *const lfiles[] = { "/etc/security/limits.conf" };
			struct dirent *de;
			DIR *dd;
			size_t k;

			for (k = 0; k < 1 && !found[0]; k++) {
				FILE *f = fopen(root_path(lfiles[k], lpath, sizeof(lpath)), "r");
				char line[512];

				while (f && fgets(line, sizeof(line), f))
					if (line[0] != '#' && strstr(line, "nofile"))
						snprintf(found, sizeof(found), "%s", lfiles[k]);
				if (f)
					fclose(f);
			}
			dd = opendir(root_path("/etc/security/limits.d", lpath, sizeof(lpath)));
			while (dd && !found[0] && (de = readdir(dd))) {
				char fp[PATH_MAX + 256], line[512];
				FILE *f;

				if (de->d_name[0] == '.' || strstr(de->d_name, "qps-tune"))
					continue;
				snprintf(fp, sizeof(fp), "%s/%s", lpath, de->d_name);
				f = fopen(fp, "r");
				while (f && fgets(line, sizeof(line), f))
					if (line[0] != '#' && strstr(line, "nofile"))
						snprintf(found, sizeof(found), "/etc/security/limits.d/%s", de->d_name);
				if (f)
					fclose(f);
			}
			if (dd)
				closedir(dd);
			if (found[0]) {
				c = report_add(a->rep, "FD-006", "info", CHK_INFO, s->unit);
				if (c) {
					c->scope = "file";
					CSET(c->current, "%s", found);
					CSET(c->reason, "limits.conf / limits.d set nofile for login sessions (pam_limits), "
					     "not for systemd services");
					CSET(c->evidence, "%s sets nofile; %s (pid %d) runs under systemd and ignores it",
					     found, s->unit, (int)s->pid);
					CSET(c->fix, "set LimitNOFILE= in a drop-in for %s", s->unit);
				}
			}
		}
		read_unit_limit(s->unit, lim, sizeof(lim), src, sizeof(src));
		c = report_add(a->rep, "FD-005", "med", CHK_INFO, s->unit);
		if (!c)
			return;
		c->scope = "process";
		CSET(c->current, "%s", lim[0] ? lim : "(DefaultLimitNOFILE 1024:524288)");
		CSET(c->reason, "services get nofile from LimitNOFILE=, not limits.conf");
		if (lim[0])
			CSET(c->evidence, "%s sets LimitNOFILE=%s; live soft=%llu hard=%llu%s", src, lim,
			     soft, hard, strtoull(lim, NULL, 10) != soft ? " - restart pending (FD-007)" : "");
		else
			CSET(c->evidence, "%s has no LimitNOFILE (unit file or drop-in) under %s/etc and "
			     "/usr/lib/systemd/system", s->unit, g_opt.root);
		if (target) {
			CSET(c->target, ">= %lld", target);
			if (!lim[0] || strtoull(lim, NULL, 10) < (unsigned long long)target) {
				c->status = CHK_FAIL;
				CSET(c->fix, "qps-tune apply --persist writes a drop-in with LimitNOFILE=%lld; "
				     "then systemctl daemon-reload and restart %s", target, s->unit);
			} else {
				c->status = CHK_PASS;
			}
		}
		/* FD-007: the unit says more than the running process has: a restart is pending */
		if (lim[0] && strcmp(lim, "infinity") && strtoull(lim, NULL, 10) != soft) {
			unsigned long long want = strtoull(lim, NULL, 10);

			c = report_add(a->rep, "FD-007", "med", want > soft ? CHK_FAIL : CHK_INFO, s->unit);
			if (c) {
				c->scope = "process";
				CSET(c->current, "live soft %llu", soft);
				CSET(c->target, "= LimitNOFILE %s", lim);
				CSET(c->reason, "LimitNOFILE= applies when the service starts: the running process "
				     "still has its old limit");
				CSET(c->evidence, "%s sets LimitNOFILE=%s; /proc/%d/limits soft=%llu hard=%llu", src,
				     lim, (int)s->pid, soft, hard);
				CSET(c->fix, "systemctl daemon-reload && systemctl restart %s", s->unit);
			}
		}
	}
}

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

static void chk_ports(struct audit *a)
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
	}
}

/* ---- CPU */

static void read_cgroup_cpu(pid_t pid, char *quota, size_t qsize, uint64_t *periods,
			    uint64_t *throttled, char *where, size_t wsize)
{
	char path[PATH_MAX], cg[4096], buf[1024], *line, *save, v2[1024] = "", v1[1024] = "";
	bool have_v1 = false, have_v2 = false;

	quota[0] = where[0] = '\0';
	*periods = *throttled = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read(path, cg, sizeof(cg)) < 0)
		return;
	for (line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = strchr(line, ':'), *q;

		if (!p)
			continue;
		q = strchr(p + 1, ':');
		if (!q)
			continue;
		if (!strncmp(line, "0::", 3)) {
			snprintf(v2, sizeof(v2), "%s", q + 1);
			have_v2 = true;
		} else {
			char ctrl[128];

			snprintf(ctrl, sizeof(ctrl), "%.*s", (int)(q - p - 1), p + 1);
			if (!strcmp(ctrl, "cpu") || !strcmp(ctrl, "cpu,cpuacct") ||
			    !strcmp(ctrl, "cpuacct,cpu")) {
				snprintf(v1, sizeof(v1), "%s|%s", ctrl, q + 1);
				have_v1 = true;
			}
		}
	}
	if (have_v1) {
		char *bar = strchr(v1, '|'), base[PATH_MAX];
		long long q = -1, per = 0;

		*bar = '\0';
		snprintf(base, sizeof(base), "/sys/fs/cgroup/%s%s", v1, bar + 1);
		if (access(base, F_OK))
			snprintf(base, sizeof(base), "/sys/fs/cgroup/cpu%s", bar + 1);
		snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", base);
		if (procfs_read_ll(path, &q) == 0) {
			snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", base);
			procfs_read_ll(path, &per);
			if (q < 0)
				snprintf(quota, qsize, "max");
			else
				snprintf(quota, qsize, "%lld %lld", q, per);
			snprintf(where, wsize, "%s (cgroup v1)", base);
			snprintf(path, sizeof(path), "%s/cpu.stat", base);
			if (procfs_read(path, buf, sizeof(buf)) > 0) {
				char *n = strstr(buf, "nr_periods "), *t = strstr(buf, "nr_throttled ");

				if (n)
					*periods = strtoull(n + 11, NULL, 10);
				if (t)
					*throttled = strtoull(t + 13, NULL, 10);
			}
			return;
		}
	}
	if (have_v2) {
		char base[PATH_MAX];

		snprintf(base, sizeof(base), "/sys/fs/cgroup%s", strcmp(v2, "/") ? v2 : "");
		snprintf(path, sizeof(path), "%s/cpu.max", base);
		if (procfs_read(path, buf, sizeof(buf)) < 0) {
			snprintf(base, sizeof(base), "/sys/fs/cgroup/unified%s", strcmp(v2, "/") ? v2 : "");
			snprintf(path, sizeof(path), "%s/cpu.max", base);
			if (procfs_read(path, buf, sizeof(buf)) < 0)
				return;
		}
		snprintf(quota, qsize, "%s", buf);
		snprintf(where, wsize, "%s (cgroup v2)", base);
		snprintf(path, sizeof(path), "%s/cpu.stat", base);
		if (procfs_read(path, buf, sizeof(buf)) > 0) {
			char *n = strstr(buf, "nr_periods "), *t = strstr(buf, "nr_throttled ");

			if (n)
				*periods = strtoull(n + 11, NULL, 10);
			if (t)
				*throttled = strtoull(t + 13, NULL, 10);
		}
	}
}

static void chk_cpu(struct audit *a)
{
	char online[128], buf[4096], path[128];
	struct check *c;
	int i;

	cpuset_list_str(&a->cx.online, online, sizeof(online));
	for (i = 0; i < a->cx.nsrv; i++) {
		const struct server *s = &a->cx.srv[i];
		char key[96], aff[128] = "", quota[64], where[PATH_MAX];
		struct cpuset cs;
		uint64_t per, thr;
		double eff;
		char *p;

		snprintf(key, sizeof(key), "pid %d %s cpus", (int)s->pid, s->comm);
		snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
		if (procfs_read(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "Cpus_allowed_list:"))) {
			p += 18;
			while (*p == '\t' || *p == ' ')
				p++;
			snprintf(aff, sizeof(aff), "%.*s", (int)strcspn(p, "\n"), p);
		}
		if (aff[0] && cpuset_parse_list(aff, &cs) == 0) {
			const struct rule *r = a->affinity;
			struct cpuset want = a->cx.online;
			bool narrowed = cpuset_count(&cs) < a->cx.ncpus;

			if (r && strcmp(r->resolved, "all"))
				cpuset_parse_list(r->resolved, &want);
			c = report_add(a->rep, "CPU-006", "med", CHK_INFO, key);
			if (c) {
				c->scope = "process";
				CSET(c->current, "%s", aff);
				CSET(c->reason, "a server pinned to fewer CPUs than it may use caps its throughput");
				CSET(c->evidence, "/proc/%d/status Cpus_allowed_list=%s; online %s (%d CPUs)",
				     (int)s->pid, aff, online, a->cx.ncpus);
				if (r) {
					char wl[128];

					cpuset_list_str(&want, wl, sizeof(wl));
					CSET(c->target, "%s", wl);
					c->status = cpuset_equal(&cs, &want) ? CHK_PASS : CHK_FAIL;
					CSET(c->fix, "qps-tune apply --pid %d (affinity %s)", (int)s->pid, wl);
				} else if (narrowed) {
					CSET(c->fix, "taskset -pc %s %d if the pinning is not deliberate", online,
					     (int)s->pid);
				}
			}
		}
		read_cgroup_cpu(s->pid, quota, sizeof(quota), &per, &thr, where, sizeof(where));
		if (!quota[0])
			continue;
		c = report_add(a->rep, "CPU-002", "med", CHK_PASS, key);
		if (!c)
			return;
		c->scope = "cgroup";
		CSET(c->current, "%s", quota);
		CSET(c->target, "no throttling (< 1%% of periods)");
		CSET(c->reason, "CFS quota throttling stalls every thread of the service for the rest "
		     "of the period (100 ms cliffs)");
		eff = a->cx.ncpus;
		if (strcmp(quota, "max") && strncmp(quota, "max ", 4)) {
			long long q = 0, pp = 0;

			if (sscanf(quota, "%lld %lld", &q, &pp) == 2 && pp > 0)
				eff = (double)q / (double)pp;
		}
		if (a->sample) {
			uint64_t dp = a->s1.thr_periods[i] - a->s0.thr_periods[i];
			uint64_t dt = a->s1.thr_throttled[i] - a->s0.thr_throttled[i];

			if (dp && dt * 100 > dp)
				c->status = CHK_FAIL;
			CSET(c->evidence, "%s cpu quota '%s' (= %.2f CPUs of %d online, affinity %s); "
			     "throttled %llu of %llu periods over %ds", where, quota, eff, a->cx.ncpus,
			     aff, (unsigned long long)dt, (unsigned long long)dp, a->sample);
		} else {
			if (per > 100 && thr * 100 > per)
				c->status = CHK_FAIL;
			CSET(c->evidence, "%s cpu quota '%s' (= %.2f CPUs of %d online, affinity %s); "
			     "throttled %llu of %llu periods since the cgroup started", where, quota, eff,
			     a->cx.ncpus, aff, (unsigned long long)thr, (unsigned long long)per);
		}
		CSET(c->fix, "raise or remove the CPU quota of the service's cgroup (cpu.max / "
		     "CPUQuota=)");
	}
	if (!a->cx.nsrv) {
		/* no server found: the quota of the cgroup we run in (a container's) */
		char quota[64], where[PATH_MAX];
		uint64_t per, thr;

		read_cgroup_cpu(getpid(), quota, sizeof(quota), &per, &thr, where, sizeof(where));
		c = report_add(a->rep, "CPU-002", "med", quota[0] ? CHK_INFO : CHK_SKIP, "this cgroup cpu quota");
		if (c) {
			c->scope = "cgroup";
			CSET(c->current, "%s", quota[0] ? quota : "-");
			CSET(c->reason, "CFS quota throttling stalls every thread of the service for the rest "
			     "of the period (100 ms cliffs)");
			if (quota[0])
				CSET(c->evidence, "no server process found; qps-tune's own cgroup %s: quota '%s', "
				     "throttled %llu of %llu periods", where, quota, (unsigned long long)thr,
				     (unsigned long long)per);
			else
				CSET(c->evidence, "no server process found; qps-tune's cgroup has no CPU quota file "
				     "(root cgroup, or no cpu controller)");
		}
	}
	/* governor */
	if (procfs_read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", buf, sizeof(buf)) > 0) {
		c = report_add(a->rep, "CPU-001", "med", strcmp(buf, "performance") ? CHK_INFO : CHK_PASS,
			       "cpufreq governor");
		if (c) {
			CSET(c->current, "%s", buf);
			CSET(c->target, "performance");
			CSET(c->reason, "frequency ramp-up adds latency at low load");
			CSET(c->evidence, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor=%s", buf);
		}
	} else {
		c = report_add(a->rep, "CPU-001", "med", CHK_SKIP, "cpufreq governor");
		if (c)
			CSET(c->evidence, "no cpufreq in sysfs (typical of VMs) - skipped");
	}
	/* C-states: deep idle states add wake-up latency (the latency profile's concern) */
	{
		char p2[128], name[32], lat[32], dis[8], ev[400] = "";
		int st, deep = 0;
		size_t o = 0;
		bool have = false;

		for (st = 0; st < 16; st++) {
			snprintf(p2, sizeof(p2), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/latency", st);
			if (procfs_read(p2, lat, sizeof(lat)) < 0)
				break;
			have = true;
			snprintf(p2, sizeof(p2), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/name", st);
			if (procfs_read(p2, name, sizeof(name)) < 0)
				snprintf(name, sizeof(name), "state%d", st);
			snprintf(p2, sizeof(p2), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/disable", st);
			if (procfs_read(p2, dis, sizeof(dis)) < 0)
				snprintf(dis, sizeof(dis), "0");
			if (atol(lat) > 100 && !strcmp(dis, "0")) {
				deep++;
				if (o < sizeof(ev))
					o += snprintf(ev + o, sizeof(ev) - o, "%sstate%d (%s, exit %s us) enabled",
						      o ? ", " : "", st, name, lat);
			}
		}
		c = report_add(a->rep, "CPU-005", "low", have ? CHK_INFO : CHK_SKIP, "C-states");
		if (c) {
			CSET(c->current, have ? "%d deep state%s enabled" : "-", deep, deep == 1 ? "" : "s");
			CSET(c->target, "exit latency <= 100 us (latency-sensitive servers)");
			CSET(c->reason, "waking from a deep C-state adds its exit latency to the next request");
			if (have)
				CSET(c->evidence, "cpu0 cpuidle: %s", deep ? ev : "no enabled state with exit latency > 100 us");
			else
				CSET(c->evidence, "no cpuidle states in sysfs (typical of VMs) - skipped");
			if (deep)
				CSET(c->fix, "echo 1 > /sys/devices/system/cpu/cpu*/cpuidle/stateN/disable for those states");
		}
	}
	if (procfs_read("/proc/pressure/cpu", buf, sizeof(buf)) > 0) {
		double avg10 = 0;
		char *p = strstr(buf, "avg10=");

		if (p)
			avg10 = strtod(p + 6, NULL);
		char st[512];
		unsigned long long f[8] = { 0 }, tot = 0;
		double steal = -1;
		int k;

		if (procfs_read("/proc/stat", st, sizeof(st)) > 0 &&
		    sscanf(st, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4],
			   &f[5], &f[6], &f[7]) == 8) {
			for (k = 0; k < 8; k++)
				tot += f[k];
			steal = tot ? 100.0 * (double)f[7] / (double)tot : 0;
		}
		c = report_add(a->rep, "CPU-003", "med", CHK_INFO, "CPU pressure");
		if (c) {
			CSET(c->current, "some avg10=%.2f%%", avg10);
			CSET(c->target, "< 10%%, steal < 5%%");
			CSET(c->reason, "runnable threads waiting for a CPU add queueing delay");
			CSET(c->evidence, "/proc/pressure/cpu: %.*s; /proc/stat steal %.1f%% since boot",
			     (int)strcspn(buf, "\n"), buf, steal);
		}
	}
}

/* ---- NIC: IRQs, RPS/XPS, channels, rings, softnet */

/* One pass over /proc for the daemons that matter: irqbalance (rewrites IRQ
 * affinity) and other tuners (rewrite sysctls). */
static void find_daemons(struct audit *a)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;

	while (proc && (de = readdir(proc))) {
		char comm[32];

		if (!isdigit((unsigned char)de->d_name[0]) || proc_comm(atoi(de->d_name), comm, sizeof(comm)))
			continue;
		if (!strcmp(comm, "irqbalance"))
			a->irqbalance = atoi(de->d_name);
		else if (!strcmp(comm, "tuned") || !strcmp(comm, "bpftune"))
			snprintf(a->tuner, sizeof(a->tuner), "%s (pid %s)", comm, de->d_name);
	}
	if (proc)
		closedir(proc);
}

static void chk_irqs(struct audit *a)
{
	struct check *c;
	char buf[256];
	int d;
	bool any = false;
	pid_t irqbalance = a->irqbalance;
	for (d = 0; d < a->cx.ndev; d++) {
		const struct netdev *nd = &a->cx.dev[d];
		int irqs[64], n, i, first = -1, cpus[CPUSET_WORDS * 64], ncpu = 0, off_plan = 0, cpu;
		bool same = true;
		char ev[400];
		size_t o = 0;

		if (!nd->physical || !a->cx.sysfs_ok)
			continue;
		n = netdev_irqs(nd->name, irqs, 64);
		if (!n)
			continue;
		any = true;
		ev[0] = '\0';
		for (cpu = 0; cpu < CPUSET_WORDS * 64; cpu++)
			if (cpuset_is_set(&a->cx.online, cpu))
				cpus[ncpu++] = cpu;
		for (i = 0; i < n; i++) {
			char path[96], set[64], want[16];
			struct cpuset cs;

			/* 'irq spread' plans IRQ i on the i-th online CPU */
			snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irqs[i]);
			snprintf(want, sizeof(want), "%d", ncpu ? cpus[i % ncpu] : 0);
			if (procfs_read(path, set, sizeof(set)) >= 0 && strcmp(set, want))
				off_plan++;

			snprintf(path, sizeof(path), "/proc/irq/%d/effective_affinity_list", irqs[i]);
			if (procfs_read(path, buf, sizeof(buf)) < 0) {
				snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irqs[i]);
				if (procfs_read(path, buf, sizeof(buf)) < 0)
					continue;
			}
			if (o < sizeof(ev))
				o += snprintf(ev + o, sizeof(ev) - o, "%sirq %d -> cpu %s", o ? ", " : "",
					      irqs[i], buf);
			if (cpuset_parse_list(buf, &cs) == 0) {
				for (cpu = 0; cpu < CPUSET_WORDS * 64 && !cpuset_is_set(&cs, cpu); cpu++)
					;
				if (cpuset_count(&cs) != 1)
					same = false;
				else if (first < 0)
					first = cpu;
				else if (cpu != first)
					same = false;
			}
		}
		c = report_add(a->rep, "IRQ-001", "high",
			       (n >= 2 && same && a->cx.ncpus > 1) || (a->irq && off_plan) ? CHK_FAIL : CHK_PASS,
			       nd->name);
		if (!c)
			return;
		c->scope = a->cx.initial ? "device" : "host";
		CSET(c->current, "%d irq%s%s", n, n > 1 ? "s" : "", a->irq && off_plan ? ", not spread" : "");
		CSET(c->target, a->irq ? "irq i on cpu i (irq spread)" : "spread over CPUs");
		CSET(c->reason, "all queue interrupts on one CPU make it the bottleneck for softirq work");
		CSET(c->evidence, "%s: %s", nd->name, ev);
		/* IRQ-002: queue IRQs served by CPUs of another NUMA node than the NIC's */
		if (numa_nodes() > 1) {
			char np[PATH_MAX], real[PATH_MAX], nb[32], cl[256];
			long node = -1;
			struct cpuset local;
			int remote = 0;

			if (realpath(netdev_path(nd->name, "device", np, sizeof(np)), real)) {
				snprintf(np, sizeof(np), "%s/numa_node", real);
				if (procfs_read(np, nb, sizeof(nb)) < 0) {
					snprintf(np, sizeof(np), "%s/../numa_node", real);	/* virtio: the PCI parent */
					if (procfs_read(np, nb, sizeof(nb)) < 0)
						nb[0] = '\0';
				}
				node = nb[0] ? strtol(nb, NULL, 10) : -1;
			}
			snprintf(np, sizeof(np), "/sys/devices/system/node/node%ld/cpulist", node);
			if (node >= 0 && procfs_read(np, cl, sizeof(cl)) > 0 && cpuset_parse_list(cl, &local) == 0) {
				for (i = 0; i < n; i++) {
					char ip[96], eff[256];
					struct cpuset cs;
					int k;

					snprintf(ip, sizeof(ip), "/proc/irq/%d/effective_affinity_list", irqs[i]);
					if (procfs_read(ip, eff, sizeof(eff)) < 0 || cpuset_parse_list(eff, &cs))
						continue;
					for (k = 0; k < CPUSET_WORDS * 64; k++)
						if (cpuset_is_set(&cs, k) && !cpuset_is_set(&local, k)) {
							remote++;
							break;
						}
				}
				c = report_add(a->rep, "IRQ-002", "med", remote ? CHK_FAIL : CHK_PASS, nd->name);
				if (c) {
					c->scope = "device";
					CSET(c->current, "%d of %d irqs remote", remote, n);
					CSET(c->target, "on node %ld (cpus %s)", node, cl);
					CSET(c->reason, "interrupts handled on another NUMA node pay cross-node memory "
					     "traffic for every packet");
					CSET(c->evidence, "%s numa_node=%ld (node cpus %s); %s", nd->name, node, cl, ev);
					CSET(c->fix, "set /proc/irq/N/smp_affinity_list to CPUs of node %ld", node);
				}
			}
		}
		c = &a->rep->v[a->rep->n - 1];
		for (i = a->rep->n - 1; i >= 0; i--)
			if (!strcmp(a->rep->v[i].id, "IRQ-001") && !strcmp(a->rep->v[i].key, nd->name)) {
				c = &a->rep->v[i];
				break;
			}
		if (a->irq)
			CSET(c->fix, "qps-tune apply%s (profile rule 'irq spread')%s", a->cx.initial ? "" : " --host",
			     irqbalance ? "; irqbalance is running: ban those IRQs first" : "");
		else
			CSET(c->fix, "spread /proc/irq/N/smp_affinity_list over CPUs%s",
			     irqbalance ? " (irqbalance is running: ban those IRQs first)" : " or run irqbalance");
	}
	if (any || irqbalance) {
		c = report_add(a->rep, "IRQ-003", "med", CHK_INFO, "irqbalance");
		if (c) {
			char banned[256] = "", cfg[PATH_MAX];
			FILE *f = fopen(root_path("/etc/default/irqbalance", cfg, sizeof(cfg)), "r");

			if (f) {
				char line[512];

				while (fgets(line, sizeof(line), f))
					if (!strncmp(line, "IRQBALANCE_BANNED_CPUS", 22))
						snprintf(banned, sizeof(banned), "%.*s",
							 (int)strcspn(line, "\n"), line);
				fclose(f);
			}
			CSET(c->current, irqbalance ? "running" : "not running");
			CSET(c->reason, "irqbalance rewrites manual smp_affinity unless IRQs or CPUs are banned");
			if (irqbalance)
				CSET(c->evidence, "irqbalance pid %d; %s", (int)irqbalance,
				     banned[0] ? banned : "no IRQBALANCE_BANNED_CPUS in /etc/default/irqbalance");
			else
				CSET(c->evidence, "no irqbalance process: IRQ affinity stays as set");
		}
	}
}

static void chk_rps_xps(struct audit *a)
{
	char online_mask[160];
	int d;

	cpuset_mask_str(&a->cx.online, online_mask, sizeof(online_mask));
	for (d = 0; d < a->cx.ndev; d++) {
		const struct netdev *nd = &a->cx.dev[d];
		char path[256], buf[160], ev[400], key[64];
		size_t o = 0;
		int q, on = 0;
		struct check *c;
		bool want_rps = a->rps && strcmp(a->rps->resolved, "off");

		if (!a->cx.sysfs_ok) {
			c = report_add(a->rep, "PKT-005", "med", CHK_SKIP, nd->name);
			if (c)
				CSET(c->evidence, "sysfs does not show this network namespace's devices "
				     "(needs CAP_SYS_ADMIN to mount a private sysfs)");
			return;
		}
		if (!nd->rxq || !nd->steerable)
			continue;
		ev[0] = '\0';
		for (q = 0; q < nd->rxq; q++) {
			struct cpuset cs;
			char rel[64];

			snprintf(rel, sizeof(rel), "queues/rx-%d/rps_cpus", q);
			if (procfs_read(netdev_path(nd->name, rel, path, sizeof(path)), buf, sizeof(buf)) < 0)
				continue;
			if (cpuset_parse_mask(buf, &cs) == 0 && cpuset_count(&cs))
				on++;
			if (o < sizeof(ev))
				o += snprintf(ev + o, sizeof(ev) - o, "%srx-%d/rps_cpus=%s", o ? " " : "", q, buf);
		}
		snprintf(key, sizeof(key), "%s rps", nd->name);
		c = report_add(a->rep, "PKT-005", "med", CHK_PASS, key);
		if (!c)
			return;
		c->scope = "device";
		CSET(c->current, "%d/%d queues", on, nd->rxq);
		CSET(c->reason, "with fewer RX queues than CPUs, one CPU does all protocol processing "
		     "unless RPS spreads it");
		CSET(c->evidence, "%s: %d rx queue%s, %d CPUs; %s", nd->name, nd->rxq,
		     nd->rxq > 1 ? "s" : "", a->cx.ncpus, ev);
		if (nd->rxq < a->cx.ncpus && on < nd->rxq) {
			CSET(c->target, "rps on (%s)", want_rps ? a->rps->resolved : "profile: off");
			c->status = want_rps ? CHK_FAIL : CHK_INFO;
			CSET(c->fix, "qps-tune apply (profile rule 'rps %s' writes rps_cpus=%s)",
			     want_rps ? a->rps->resolved : "all", online_mask);
		} else {
			CSET(c->target, nd->rxq >= a->cx.ncpus ? "not needed (rxq >= CPUs)" : "rps on");
		}
		if (on) {
			char flow[32] = "0";

			sysctl_read("net.core.rps_sock_flow_entries", flow, sizeof(flow));
			if (!strcmp(flow, "0")) {
				c = report_add(a->rep, "PKT-006", "low", CHK_INFO, key);
				if (c) {
					c->scope = "device";
					CSET(c->current, "rps_sock_flow_entries=%s", flow);
					CSET(c->reason, "RPS without RFS steers flows by hash, not to the "
					     "consuming thread's CPU");
					CSET(c->evidence, "net.core.rps_sock_flow_entries=%s", flow);
				}
			}
		}
		/* XPS */
		if (a->xps && !strcmp(a->xps->resolved, "spread") && nd->txq > 0) {
			int bad = 0;

			o = 0;
			ev[0] = '\0';
			for (q = 0; q < nd->txq; q++) {
				struct cpuset cs, want;
				char rel[64];
				int cpu;

				snprintf(rel, sizeof(rel), "queues/tx-%d/xps_cpus", q);
				if (procfs_read(netdev_path(nd->name, rel, path, sizeof(path)), buf,
						sizeof(buf)) < 0)
					continue;
				memset(&want, 0, sizeof(want));
				for (cpu = q; cpu < a->cx.ncpus; cpu += nd->txq)
					cpuset_set(&want, cpu);
				if (cpuset_parse_mask(buf, &cs) || !cpuset_equal(&cs, &want))
					bad++;
				if (o < sizeof(ev))
					o += snprintf(ev + o, sizeof(ev) - o, "%stx-%d/xps_cpus=%s", o ? " " : "",
						      q, buf);
			}
			snprintf(key, sizeof(key), "%s xps", nd->name);
			c = report_add(a->rep, "PKT-008", "low", bad ? CHK_FAIL : CHK_PASS, key);
			if (c) {
				c->scope = "device";
				CSET(c->current, "%d/%d queues mapped", nd->txq - bad, nd->txq);
				CSET(c->target, "spread");
				CSET(c->reason, "one CPU set per TX queue avoids TX lock contention");
				CSET(c->evidence, "%s: %s", nd->name, ev);
				CSET(c->fix, "qps-tune apply (profile rule 'xps spread')");
			}
		}
	}
}

static void chk_nic(struct audit *a)
{
	int d, nphys = 0;

	for (d = 0; d < a->cx.ndev; d++)
		nphys += a->cx.dev[d].physical;
	if (!nphys) {
		struct check *c = report_add(a->rep, "PKT-004", "med", CHK_SKIP, "NIC channels and rings");

		if (c)
			CSET(c->evidence, "no NIC in netns net:[%llu] (only %s): channels, rings and IRQs "
			     "are checked where the NIC lives", (unsigned long long)a->cx.netns,
			     a->cx.ndev ? "virtual devices" : "lo");
		return;
	}

	for (d = 0; d < a->cx.ndev; d++) {
		const struct netdev *nd = &a->cx.dev[d];
		struct ethnl_channels ch;
		struct ethnl_rings rg;
		struct check *c;
		char key[64];
		int e;

		if (!nd->physical)
			continue;
		snprintf(key, sizeof(key), "%s channels", nd->name);
		e = ethnl_channels_get(nd->name, &ch);
		if (e) {
			c = report_add(a->rep, "PKT-004", "med", CHK_SKIP, key);
			if (c)
				CSET(c->evidence, "ethtool netlink CHANNELS_GET on %s: %s", nd->name,
				     e == -EOPNOTSUPP ? "not supported by the driver" : strerror(-e));
		} else {
			uint32_t cur = ch.combined ? ch.combined : ch.rx;
			uint32_t max = ch.combined_max ? ch.combined_max : ch.rx_max;
			bool few = cur < max && (int)cur < a->cx.ncpus;

			c = report_add(a->rep, "PKT-004", "med", few ? CHK_FAIL : CHK_PASS, key);
			if (c) {
				c->scope = "device";
				CSET(c->current, "%u", cur);
				CSET(c->target, ">= min(max %u, CPUs %d)", max, a->cx.ncpus);
				CSET(c->reason, "receive-side scaling needs one channel per CPU the NIC serves");
				CSET(c->evidence, "ethtool netlink: %s combined %u/%u rx %u/%u tx %u/%u",
				     nd->name, ch.combined, ch.combined_max, ch.rx, ch.rx_max, ch.tx, ch.tx_max);
				CSET(c->fix, "ethtool -L %s combined %u", nd->name,
				     max < (uint32_t)a->cx.ncpus ? max : (uint32_t)a->cx.ncpus);
			}
		}
		snprintf(key, sizeof(key), "%s rings", nd->name);
		e = ethnl_rings_get(nd->name, &rg);
		{
			uint64_t dd = a->s1.dev_rx_dropped[d] - a->s0.dev_rx_dropped[d];
			uint64_t dm = a->s1.dev_rx_missed[d] - a->s0.dev_rx_missed[d];
			bool drops = a->sample && (dd || dm);

			c = report_add(a->rep, "PKT-003", "high", drops ? CHK_FAIL : a->sample ? CHK_PASS : CHK_INFO,
				       key);
			if (!c)
				return;
			c->scope = "device";
			CSET(c->reason, "ring overflow drops packets before the kernel sees them");
			if (!e)
				CSET(c->current, "rx %u/%u", rg.rx, rg.rx_max);
			CSET(c->target, "no drops");
			if (a->sample)
				CSET(c->evidence, "%s rx_dropped +%llu rx_missed_errors +%llu over %ds; %s", nd->name,
				     (unsigned long long)dd, (unsigned long long)dm, a->sample,
				     e ? "rings: not reported" : "ring sizes from ethtool netlink");
			else
				CSET(c->evidence, "%s since boot rx_dropped %llu rx_missed_errors %llu; ring rx %u "
				     "(max %u) tx %u (max %u)%s", nd->name,
				     (unsigned long long)a->s0.dev_rx_dropped[d],
				     (unsigned long long)a->s0.dev_rx_missed[d], rg.rx, rg.rx_max, rg.tx,
				     rg.tx_max, e ? " - RINGS_GET not supported" : "");
			if (!e && rg.rx < rg.rx_max)
				CSET(c->fix, "if drops grow: ethtool -G %s rx %u", nd->name, rg.rx_max);
		}
	}
}

static void chk_softnet(struct audit *a)
{
	struct check *c;
	char budget[32] = "?", backlog[32] = "?";

	if (!a->s0.have_softnet)
		return;
	sysctl_read("net.core.netdev_max_backlog", backlog, sizeof(backlog));
	sysctl_read("net.core.netdev_budget", budget, sizeof(budget));
	c = report_add(a->rep, "PKT-001", "high", CHK_INFO, "softnet dropped");
	if (c) {
		c->scope = a->cx.initial ? "global" : "host";
		CSET(c->reason, "per-CPU backlog full: packets dropped before protocol processing");
		if (a->sample) {
			uint64_t d = a->s1.softnet_drop - a->s0.softnet_drop;

			c->status = d ? CHK_FAIL : CHK_PASS;
			CSET(c->current, "+%llu/%ds", (unsigned long long)d, a->sample);
			CSET(c->target, "+0");
			CSET(c->evidence, "/proc/net/softnet_stat dropped +%llu over %ds; netdev_max_backlog=%s",
			     (unsigned long long)d, a->sample, backlog);
		} else {
			CSET(c->current, "%llu", (unsigned long long)a->s0.softnet_drop);
			CSET(c->evidence, "/proc/net/softnet_stat dropped %llu since boot (all CPUs); "
			     "netdev_max_backlog=%s", (unsigned long long)a->s0.softnet_drop, backlog);
		}
		CSET(c->fix, "raise net.core.netdev_max_backlog (host-wide), spread RX (RPS)");
	}
	c = report_add(a->rep, "PKT-002", "med", CHK_INFO, "softnet time_squeeze");
	if (c) {
		c->scope = a->cx.initial ? "global" : "host";
		CSET(c->reason, "NAPI budget ran out: softirq left packets for later");
		if (a->sample) {
			uint64_t d = a->s1.softnet_squeeze - a->s0.softnet_squeeze;

			c->status = CHK_INFO;
			CSET(c->current, "+%llu/%ds", (unsigned long long)d, a->sample);
			CSET(c->evidence, "/proc/net/softnet_stat time_squeeze +%llu over %ds; netdev_budget=%s",
			     (unsigned long long)d, a->sample, budget);
		} else {
			CSET(c->current, "%llu", (unsigned long long)a->s0.softnet_squeeze);
			CSET(c->evidence, "/proc/net/softnet_stat time_squeeze %llu since boot; netdev_budget=%s",
			     (unsigned long long)a->s0.softnet_squeeze, budget);
		}
	}
}

/* ---- memory, conntrack */

static void chk_mem(struct audit *a)
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

/* ---- persistence and drift */

static void chk_persist(struct audit *a)
{
	struct sysctld sd;
	struct check *c;
	char path[PATH_MAX];
	int i, j, e;

	e = sysctld_load(&sd);
	if (e) {
		c = report_add(a->rep, "PERS-001", "high", CHK_SKIP, "sysctl.d");
		if (c)
			CSET(c->evidence, "cannot read sysctl.d: %s", strerror(-e));
		return;
	}
	if (!a->cx.initial) {
		c = report_add(a->rep, "PERS-001", "high", CHK_SKIP, "boot values");
		if (c)
			CSET(c->evidence, "systemd-sysctl applies sysctl.d to the initial network namespace "
			     "only; this is net:[%llu]", (unsigned long long)a->cx.netns);
	} else {
		for (i = 0; i < a->prof->n; i++) {
			const struct rule *r = &a->prof->rules[i];
			const struct sysctld_entry *en;
			char cur[256], boot[256], src[400], name[128];
			long long dflt;
			int now, atboot;

			if (r->kind != RULE_SYSCTL || r->skip || sysctl_read(r->key, cur, sizeof(cur)) < 0)
				continue;
			now = rule_eval(r, cur, NULL, 0);
			if (now != 1)
				continue;	/* the runtime check already fails */
			en = sysctld_final(&sd, r->key);
			if (en) {
				snprintf(boot, sizeof(boot), "%s", en->value);
				snprintf(src, sizeof(src), "%s%s:%d", g_opt.root, en->file, en->line);
			} else if (knob_default(r->key, -1, &dflt) == 0 || knob_lookup(r->key)) {
				long long f[3];
				int k, nf = knob_lookup(r->key) ? knob_lookup(r->key)->nfields : 1;
				size_t o = 0;
				bool known = true;

				for (k = 0; k < nf; k++)
					if (knob_default(r->key, nf > 1 ? k : -1, &f[k]))
						known = false;
				if (!known)
					continue;	/* RAM-scaled default: cannot tell */
				boot[0] = '\0';
				for (k = 0; k < nf; k++)
					o += snprintf(boot + o, sizeof(boot) - o, "%s%lld", k ? " " : "", f[k]);
				snprintf(src, sizeof(src), "no sysctl.d entry: kernel default");
			} else {
				continue;
			}
			atboot = rule_eval(r, boot, NULL, 0);
			if (r->field >= 0)
				snprintf(name, sizeof(name), "%s[%d]", r->key, r->field);
			else
				snprintf(name, sizeof(name), "%s", r->key);
			c = report_add(a->rep, "PERS-001", "high", atboot == 1 ? CHK_PASS : CHK_FAIL, name);
			if (!c)
				break;
			c->scope = "global";
			CSET(c->current, "%s", cur);
			CSET(c->target, "boot value %s %s", rule_op_str(r->op), r->resolved);
			CSET(c->reason, "a runtime-only fix reverts at the next boot");
			CSET(c->evidence, "runtime %s; at boot %s (%s)", cur, boot, src);
			CSET(c->fix, "qps-tune apply --profile %s --persist (writes %s)", a->cli_profile,
			     SYSCTLD_OURS);
		}
	}
	/* shadowing: the same key in several files with different values */
	for (i = 0; i < sd.n; i++) {
		const struct sysctld_entry *fin = sysctld_final(&sd, sd.v[i].key);
		bool ours = strstr(sd.v[i].file, "qps-tune") != NULL;

		if (fin == &sd.v[i] || !strcmp(fin->value, sd.v[i].value))
			continue;
		for (j = 0; j < i; j++)
			if (!strcmp(sd.v[j].key, sd.v[i].key) && strcmp(sd.v[j].value, sd.v[i].value))
				break;
		if (j < i)
			continue;	/* reported once per key */
		c = report_add(a->rep, "PERS-002", "med", ours ? CHK_FAIL : CHK_INFO, sd.v[i].key);
		if (!c)
			break;
		c->scope = "file";
		CSET(c->current, "%s", fin->value);
		CSET(c->reason, "a later sysctl.d file overrides an earlier one: the last value wins at boot");
		CSET(c->evidence, "%s:%d sets %s, overridden by %s:%d = %s", sd.v[i].file, sd.v[i].line,
		     sd.v[i].value, fin->file, fin->line, fin->value);
		if (ours)
			CSET(c->fix, "remove %s from %s", sd.v[i].key, fin->file);
	}
	/* removed or unknown keys in persisted config (initial netns: every key exists there) */
	for (i = 0; i < sd.n && a->cx.initial; i++) {
		char v[64];
		bool removed = !strcmp(sd.v[i].key, "net.ipv4.tcp_tw_recycle");

		if (!removed && (sysctl_read(sd.v[i].key, v, sizeof(v)) != -ENOENT))
			continue;
		c = report_add(a->rep, "PORT-005", "med", CHK_FAIL, sd.v[i].key);
		if (!c)
			break;
		c->scope = "file";
		CSET(c->current, "%s", sd.v[i].value);
		CSET(c->target, "key exists");
		CSET(c->reason, "systemd-sysctl logs an error for it at boot; the setting does nothing");
		CSET(c->evidence, "%s%s:%d %s%s", g_opt.root, sd.v[i].file, sd.v[i].line, sd.v[i].key,
		     removed ? " (removed in 4.12)" : " does not exist on this kernel");
		CSET(c->fix, "delete line %d of %s", sd.v[i].line, sd.v[i].file);
	}
	/* /etc/sysctl.conf is read only through the 99-sysctl.conf link (gone in Debian 13) */
	{
		char conf[PATH_MAX], link[PATH_MAX], line[512];
		FILE *f = fopen(root_path("/etc/sysctl.conf", conf, sizeof(conf)), "r");
		int keys = 0, first = 0, ln = 0;

		while (f && fgets(line, sizeof(line), f)) {
			char *l = line;

			ln++;
			while (*l == ' ' || *l == '\t')
				l++;
			if (*l && *l != '#' && *l != ';' && *l != '\n' && strchr(l, '=')) {
				keys++;
				if (!first)
					first = ln;
			}
		}
		if (f)
			fclose(f);
		if (keys && a->cx.initial &&
		    access(root_path("/etc/sysctl.d/99-sysctl.conf", link, sizeof(link)), F_OK)) {
			c = report_add(a->rep, "PERS-003", "med", CHK_FAIL, "/etc/sysctl.conf");
			if (c) {
				c->scope = "file";
				CSET(c->current, "%d key%s", keys, keys > 1 ? "s" : "");
				CSET(c->target, "in /etc/sysctl.d");
				CSET(c->reason, "systemd-sysctl reads /etc/sysctl.conf only through "
				     "/etc/sysctl.d/99-sysctl.conf; without the link these keys are not set at boot");
				CSET(c->evidence, "%s has %d key%s (first at line %d); no %s", conf, keys,
				     keys > 1 ? "s" : "", first, link);
				CSET(c->fix, "move them to /etc/sysctl.d/ (qps-tune apply --persist writes %s)",
				     SYSCTLD_OURS);
			}
		}
	}
	if (a->tuner[0]) {
		c = report_add(a->rep, "PERS-004", "med", CHK_INFO, "other tuners");
		if (c) {
			CSET(c->current, "%s", a->tuner);
			CSET(c->reason, "another tuner can overwrite the values qps-tune sets");
			CSET(c->evidence, "%s is running", a->tuner);
		}
	}
	snprintf(path, sizeof(path), "%s/journal", g_opt.state_dir);
	if (access(path, F_OK) == 0) {
		c = report_add(a->rep, "PERS-005", "info", CHK_INFO, "qps-tune journal");
		if (c) {
			c->scope = "file";
			CSET(c->current, "present");
			CSET(c->reason, "qps-tune apply recorded old values: 'qps-tune rollback' restores them");
			CSET(c->evidence, "%s", path);
		}
	}
	sysctld_release(&sd);
}

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

static void chk_probes(struct audit *a)
{
	struct kconfig_query q[] = {
		{ .name = "CONFIG_KPROBES" }, { .name = "CONFIG_KPROBE_EVENTS" },
		{ .name = "CONFIG_DEBUG_INFO_BTF" }, { .name = "CONFIG_FUNCTION_TRACER" },
		{ .name = "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS" }, { .name = "CONFIG_BPF_SYSCALL" },
	};
	char src[128] = "", buf[8192];
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
		CSET(c->target, "available");
		CSET(c->reason, "fentry/fexit probes need BTF and ftrace direct calls");
		CSET(c->evidence, "CONFIG_DEBUG_INFO_BTF=%s CONFIG_FUNCTION_TRACER=%s "
		     "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=%s (%s)%s%s", q[2].val[0] ? q[2].val : "unset",
		     q[3].val[0] ? q[3].val : "unset", q[4].val[0] ? q[4].val : "unset", kc ? "no config" : src,
		     load ? "; test load of an fentry program: " : "", load ? strerror(load) : "");
	}
	c = report_add(a->rep, "PROBE-005", "low", CHK_PASS, "tracefs");
	if (c) {
		tracefs = procfs_read("/proc/self/mounts", buf, sizeof(buf)) > 0 && strstr(buf, " tracefs ");
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

/* ---- command */

static void usage_audit(void)
{
	fprintf(stderr, "usage: qps-tune audit [--profile P] [--conns N] [--pid PID | --port N] "
			"[--sample S] [--json | --prom] [--root DIR] [--state-dir DIR] [-v]\n");
}

int audit_run(struct report *rep, const char *profile_spec, long conns, pid_t pid, int port,
	      int sample, char *err, size_t err_size)
{
	struct audit a;
	struct utsname u;
	struct timespec t0, t1;
	char sm[32];
	int i, e;

	memset(&a, 0, sizeof(a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a.rep = rep;
	a.sample = sample;
	a.prof = profile_load(profile_spec, err, err_size);
	if (!a.prof)
		return -EINVAL;
	/* enter --pid's netns first: sysctl(KEY) targets read that netns */
	e = ctx_init(&a.cx, pid, port, err, err_size);
	if (e)
		goto out;
	e = profile_resolve(a.prof, conns, err, err_size);
	if (e)
		goto out;
	a.conns = conns > 0 ? conns : a.prof->conns;
	snprintf(a.cli_profile, sizeof(a.cli_profile), "%s", profile_spec);
	for (i = 0; i < a.prof->n; i++) {
		const struct rule *r = &a.prof->rules[i];

		if (r->kind == RULE_NOFILE)
			a.nofile = r;
		else if (r->kind == RULE_RPS)
			a.rps = r;
		else if (r->kind == RULE_XPS)
			a.xps = r;
		else if (r->kind == RULE_AFFINITY)
			a.affinity = r;
		else if (r->kind == RULE_IRQ)
			a.irq = r;
		else if (r->kind == RULE_SYSCTL && !strcmp(r->key, "net.core.somaxconn") && r->numeric &&
			 r->op == OP_GE)
			a.somaxconn_target = r->num;
	}
	if (sysctl_read("net.core.somaxconn", sm, sizeof(sm)) > 0)
		a.somaxconn = atoll(sm);
	if (!a.somaxconn_target)
		a.somaxconn_target = a.somaxconn;
	{
		struct journal jr;
		char jpath[PATH_MAX];

		snprintf(jpath, sizeof(jpath), "%s/journal", g_opt.state_dir);
		if (journal_load(jpath, &jr) == 0) {
			struct jentry *en = journal_find(&jr, J_SYSCTL, "net.core.somaxconn");

			if (en && en->old && jr.netns == a.cx.netns)
				a.somaxconn_before = atoll(en->old);
			journal_release(&jr);
		}
	}
	snprintf(rep->profile, sizeof(rep->profile), "%s", a.prof->name);
	rep->conns = a.conns;
	uname(&u);
	snprintf(rep->kernel, sizeof(rep->kernel), "%s", u.release);
	rep->netns = a.cx.netns;
	rep->initial_netns = a.cx.initial;
	rep->sample = sample;
	if (pid)
		snprintf(rep->target, sizeof(rep->target), "pid %d", (int)pid);
	else if (port)
		snprintf(rep->target, sizeof(rep->target), "port %d", port);

	take_snap(&a, &a.s0);
	if (sample) {
		sleep((unsigned)sample);
		take_snap(&a, &a.s1);
		resnap_listeners(&a, &a.s1);
	} else {
		a.s1 = a.s0;
	}
	find_daemons(&a);
	chk_env(&a);
	chk_sysctl_rules(&a);
	chk_listeners(&a);
	chk_counters(&a);
	chk_reuseport(&a);
	chk_fds(&a);
	chk_ports(&a);
	chk_cpu(&a);
	chk_irqs(&a);
	chk_rps_xps(&a);
	chk_nic(&a);
	chk_softnet(&a);
	chk_mem(&a);
	chk_persist(&a);
	chk_probes(&a);
	for (i = 0; i < a.prof->n; i++)
		if (a.prof->rules[i].kind == RULE_DISABLE)
			report_drop_id(rep, a.prof->rules[i].key);
	(void)is_disabled;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rep->duration = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
out:
	ctx_release(&a.cx);
	profile_free(a.prof);
	return e;
}

int do_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		TUNER_COMMON_LONGOPTS,
		{ "profile", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'P' },
		{ "port", required_argument, NULL, 'o' },
		{ "sample", required_argument, NULL, 's' },
		{ "prom", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = DEFAULT_PROFILE;
	unsigned long conns = 0, pid = 0, port = 0, sample = 0;
	struct report rep;
	char err[512];
	bool prom = false;
	int opt, e, rc;

	while ((opt = getopt_long(argc, argv, "jvp:c:h", longopts, NULL)) != -1) {
		if (tuner_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'p':
			profile = optarg;
			break;
		case 'c':
			if (parse_ulong(optarg, 100000000, &conns) || !conns) {
				tuner_err("invalid --conns '%s' (want 1..100000000)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'P':
			if (parse_ulong(optarg, INT_MAX, &pid) || !pid) {
				tuner_err("invalid --pid '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			if (parse_ulong(optarg, 65535, &port) || !port) {
				tuner_err("invalid --port '%s' (want 1..65535)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (parse_ulong(optarg, 3600, &sample) || !sample) {
				tuner_err("invalid --sample '%s' (want 1..3600 seconds)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			prom = true;
			break;
		case 'h':
			usage_audit();
			return EXIT_OK;
		default:
			usage_audit();
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		tuner_err("audit: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (pid && port) {
		tuner_err("audit: --pid and --port are exclusive");
		return EXIT_USAGE;
	}
	if (prom && g_opt.json) {
		tuner_err("audit: --json and --prom are exclusive");
		return EXIT_USAGE;
	}
	memset(&rep, 0, sizeof(rep));
	e = audit_run(&rep, profile, (long)conns, (pid_t)pid, (int)port, (int)sample, err, sizeof(err));
	if (e) {
		tuner_err("%s", err);
		report_release(&rep);
		return EXIT_FAIL;
	}
	if (g_opt.json)
		report_json(&rep, stdout);
	else if (prom)
		report_prom(&rep, stdout);
	else
		report_table(&rep, stdout, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"), g_opt.verbose);
	rc = report_count(&rep, CHK_FAIL) ? EXIT_DRIFT : EXIT_OK;
	report_release(&rep);
	return tuner_finish(rc);
}
