/* area_nic.c - CPU, IRQ and NIC: cgroup quota, governor, C-states, pressure
 * (CPU-*), queue IRQs (IRQ-*), RPS/XPS, channels, rings, softnet (PKT-*);
 * the planner sets RPS/XPS masks, IRQ affinity and --pid CPU affinity. */
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
#include "ethtool_nl.h"
#include "engine.h"
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"

/* ---- CPU */

void read_cgroup_cpu(pid_t pid, char *quota, size_t qsize, uint64_t *periods,
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

static void chk_cpu(struct run *a)
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
void find_daemons(struct run *a)
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

static void chk_irqs(struct run *a)
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
			char banned[256] = "";
			FILE *f = root_fopen(a->env, "/etc/default/irqbalance");

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

static void chk_rps_xps(struct run *a)
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

static void chk_nic(struct run *a)
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
			else if (e)	/* no sizes: say so, never "ring rx 0 (max 0)" */
				CSET(c->evidence, "%s since boot rx_dropped %llu rx_missed_errors %llu; ring sizes "
				     "unknown (ethtool RINGS_GET: %s)", nd->name,
				     (unsigned long long)a->s0.dev_rx_dropped[d],
				     (unsigned long long)a->s0.dev_rx_missed[d], strerror(e < 0 ? -e : e));
			else
				CSET(c->evidence, "%s since boot rx_dropped %llu rx_missed_errors %llu; ring rx %u "
				     "(max %u) tx %u (max %u)", nd->name,
				     (unsigned long long)a->s0.dev_rx_dropped[d],
				     (unsigned long long)a->s0.dev_rx_missed[d], rg.rx, rg.rx_max, rg.tx, rg.tx_max);
			if (!e && rg.rx < rg.rx_max)
				CSET(c->fix, "if drops grow: ethtool -G %s rx %u", nd->name, rg.rx_max);
		}
	}
}

static void chk_softnet(struct run *a)
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

static void plan_rps_xps(struct run *R, const struct rule *r)
{
	const struct ctx *cx = &R->cx;
	struct plan *p = R->plan;
	struct cpuset fixed;
	int cpu;
	int d, q;
	bool xps = r->kind == RULE_XPS;

	if (!cx->sysfs_ok) {
		NA(p, xps ? "xps" : "rps", "sysfs does not show this network namespace's devices "
		   "(mounting a private sysfs needs CAP_SYS_ADMIN)");
		return;
	}
	/* what the write would reject, found before anything is written:
	 * the kernel refuses a mask naming a CPU that is not online (EINVAL) */
	memset(&fixed, 0, sizeof(fixed));
	if (!xps && strcmp(r->resolved, "all") && strcmp(r->resolved, "off")) {
		if (cpuset_parse_list(r->resolved, &fixed)) {
			ERR(p, "%s: rps: malformed CPU list '%s'", r->origin, r->resolved);
			return;
		}
		for (cpu = 0; cpu < CPUSET_WORDS * 64; cpu++)
			if (cpuset_is_set(&fixed, cpu) && !cpuset_is_set(&cx->online, cpu)) {
				char online[128];

				cpuset_list_str(&cx->online, online, sizeof(online));
				ERR(p, "%s: rps %s names CPU %d, which is not online (online: %s); the kernel "
				    "would refuse the mask", r->origin, r->resolved, cpu, online);
				return;
			}
	}
	for (d = 0; d < cx->ndev; d++) {
		const struct netdev *nd = &cx->dev[d];
		int nq = xps ? nd->txq : nd->rxq;

		if (!nd->steerable)
			continue;
		/* RPS only helps when the NIC has fewer RX queues than CPUs */
		if (!xps && nd->rxq >= cx->ncpus && strcmp(r->resolved, "off"))
			continue;
		for (q = 0; q < nq; q++) {
			char rel[64], path[256], cur[160], want[160], label[96];
			struct cpuset cs, w;

			snprintf(rel, sizeof(rel), xps ? "queues/tx-%d/xps_cpus" : "queues/rx-%d/rps_cpus", q);
			netdev_path(nd->name, rel, path, sizeof(path));
			if (procfs_read(path, cur, sizeof(cur)) < 0)
				continue;
			memset(&w, 0, sizeof(w));
			if (xps) {
				if (!strcmp(r->resolved, "spread"))
					for (cpu = q; cpu < cx->ncpus; cpu += nq)
						cpuset_set(&w, cpu);
			} else if (!strcmp(r->resolved, "all")) {
				w = cx->online;
			} else if (strcmp(r->resolved, "off")) {
				w = fixed;
			}
			cpuset_mask_str(&w, want, sizeof(want));
			snprintf(label, sizeof(label), "%s/%s", nd->name, rel + 7);
			if (cpuset_parse_mask(cur, &cs) == 0 && cpuset_equal(&cs, &w)) {
				SAME(p, J_SYSFS, path, cur, cur, label, r->origin);
			} else if (access(path, W_OK)) {
				plan_denied(R, label, "%s: cannot write '%s': %s%s", r->origin, path, strerror(errno),
					    errno == EACCES || errno == EPERM ? " (needs root)" : "");
				if (R->o.dry_run)
					CHANGE(p, J_SYSFS, path, cur, want, label, r->origin);
			} else {
				CHANGE(p, J_SYSFS, path, cur, want, label, r->origin);
			}
		}
	}
}

/* NIC queue IRQs round-robin over the online CPUs: IRQ i of a device on the
 * i-th online CPU. Host-wide: from a child netns only with --host. */
static void plan_irq(struct run *R, const struct rule *r)
{
	const struct ctx *cx = &R->cx;
	const struct apply_opts *o = &R->o;
	struct plan *p = R->plan;
	pid_t irqbalance;
	int cpus[CPUSET_WORDS * 64], ncpu = 0, d, i, cpu;

	if (!cx->initial && !o->host) {
		NA(p, "irq spread", "IRQ affinity is host-wide; run with --host");
		return;
	}
	irqbalance = find_comm("irqbalance");
	for (cpu = 0; cpu < CPUSET_WORDS * 64; cpu++)
		if (cpuset_is_set(&cx->online, cpu))
			cpus[ncpu++] = cpu;
	for (d = 0; d < cx->ndev && ncpu; d++) {
		int irqs[64], n;

		if (!cx->dev[d].physical)
			continue;
		n = netdev_irqs(cx->dev[d].name, irqs, 64);
		for (i = 0; i < n; i++) {
			char path[96], cur[256], want[16], label[96];

			snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irqs[i]);
			if (procfs_read(path, cur, sizeof(cur)) < 0)
				continue;
			snprintf(want, sizeof(want), "%d", cpus[i % ncpu]);
			snprintf(label, sizeof(label), "%s irq %d", cx->dev[d].name, irqs[i]);
			if (!strcmp(cur, want))
				SAME(p, J_SYSFS, path, cur, cur, label, r->origin);
			else if (access(path, W_OK)) {
				plan_denied(R, label, "%s: cannot write '%s': %s%s", r->origin, path, strerror(errno),
					    errno == EACCES || errno == EPERM ? " (needs root)" : "");
				if (R->o.dry_run)
					CHANGE(p, J_SYSFS, path, cur, want, label, r->origin);
			} else
				CHANGE(p, J_SYSFS, path, cur, want, label, r->origin);
		}
	}
	if (irqbalance)
		NA(p, "irq spread (kept)", "irqbalance is running and will rewrite IRQ affinity: stop it or ban "
		   "these IRQs (IRQBALANCE_BANNED_CPUS / --banirq)");
}

static void plan_affinity(struct run *R, const struct rule *r)
{
	const struct ctx *cx = &R->cx;
	const struct apply_opts *o = &R->o;
	struct plan *p = R->plan;
	cpu_set_t set;
	struct cpuset cur, want;
	char key[64], old[256], new_[256], label[96];
	int cpu;

	if (!o->pid) {
		NA(p, "affinity", "CPU affinity is applied to --pid PID only");
		return;
	}
	if (sched_getaffinity(o->pid, sizeof(set), &set) < 0) {
		ERR(p, "cannot read the CPU affinity of pid %d: %s", (int)o->pid, strerror(errno));
		return;
	}
	memset(&cur, 0, sizeof(cur));
	for (cpu = 0; cpu < CPU_SETSIZE && cpu < CPUSET_WORDS * 64; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpuset_set(&cur, cpu);
	if (!strcmp(r->resolved, "all"))
		want = cx->online;
	else
		cpuset_parse_list(r->resolved, &want);
	for (cpu = 0; cpu < CPUSET_WORDS * 64; cpu++)
		if (cpuset_is_set(&want, cpu) && !cpuset_is_set(&cx->online, cpu)) {
			ERR(p, "%s: affinity %s names CPU %d, which is not online", r->origin, r->resolved, cpu);
			return;
		}
	snprintf(key, sizeof(key), "%d@%llu", (int)o->pid, proc_starttime(o->pid));
	cpuset_list_str(&cur, old, sizeof(old));
	cpuset_list_str(&want, new_, sizeof(new_));
	snprintf(label, sizeof(label), "pid %d affinity", (int)o->pid);
	if (cpuset_equal(&cur, &want))
		SAME(p, J_AFFINITY, key, old, old, label, r->origin);
	else
		CHANGE(p, J_AFFINITY, key, old, new_, label, r->origin);
}


void nic_plan(struct run *R)
{
	if (R->rps && run_on(R, "PKT-005"))
		plan_rps_xps(R, R->rps);
	if (R->xps && run_on(R, "PKT-008"))
		plan_rps_xps(R, R->xps);
	if (R->affinity && run_on(R, "CPU-006"))
		plan_affinity(R, R->affinity);
	if (R->irq && run_on(R, "IRQ-001"))
		plan_irq(R, R->irq);
}

void cpu_audit(struct run *a)
{
	chk_cpu(a);
}

void nic_audit(struct run *a)
{
	chk_irqs(a);
	chk_rps_xps(a);
	chk_nic(a);
	chk_softnet(a);
}
