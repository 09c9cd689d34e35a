/* apply.c - `qps-tune apply`: bring the host (or this netns) up to a profile.
 *
 *   PLAN: read every current value, decide changes; collect every error
 *     | any error (unknown key, read-only, privilege...): report all, exit 1,
 *     |   nothing written
 *     | --dry-run: print the plan as a diff, exit 0, nothing written
 *   LOCK the state dir (flock) -> JOURNAL old values (atomic) -> WRITE each change
 *     | a write fails: restore what was written (reverse order), restore the
 *     |   previous journal, exit 1 "rolled back N changes"
 *   DONE: report changed / unchanged / not applied / restart needed
 *
 * Never lowers a value that is already better than the profile (rule_eval).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cpuset.h"
#include "ctx.h"
#include "journal.h"
#include "json.h"
#include "knob.h"
#include "procfs.h"
#include "profile.h"
#include "sysctld.h"
#include "tuner.h"

#define VAL_MAX 4096

struct item {
	enum jkind kind;
	char key[512];		/* sysctl key, sysfs path, pid, file path */
	char *old;		/* NULL: absent file */
	char *new_;
	char label[160];	/* what to show: key, "pid 12 nofile", file path */
	char origin[128];	/* profile file:line */
};

struct note {
	char what[200];
	char why[200];
};

struct plan {
	struct item *ch;	/* changes, in apply order */
	int nch, capch;
	struct item *same;	/* already satisfied */
	int nsame, capsame;
	struct note *na;	/* not applied */
	int nna, capna;
	struct note *restart;
	int nrestart, caprestart;
	struct note *err;	/* validation errors */
	int nerr, caperr;
};

static void *grow(void *v, int *cap, int n, size_t sz)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 16;
	v = realloc(v, (size_t)*cap * sz);
	if (!v) {
		fprintf(stderr, "qps-tune: out of memory\n");
		exit(EXIT_FAIL);
	}
	return v;
}

static char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d) {
		fprintf(stderr, "qps-tune: out of memory\n");
		exit(EXIT_FAIL);
	}
	return d;
}

static struct item *add_item(struct item **v, int *n, int *cap, enum jkind kind, const char *key,
			     const char *old, const char *new_, const char *label, const char *origin)
{
	struct item *it;

	*v = grow(*v, cap, *n, sizeof(**v));
	it = &(*v)[(*n)++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	snprintf(it->key, sizeof(it->key), "%s", key);
	it->old = xstrdup(old);
	it->new_ = xstrdup(new_);
	snprintf(it->label, sizeof(it->label), "%s", label ? label : key);
	snprintf(it->origin, sizeof(it->origin), "%s", origin ? origin : "");
	return it;
}

static void add_note2(struct note **v, int *n, int *cap, const char *what, const char *why)
{
	int i;

	for (i = 0; i < *n; i++)
		if (!strcmp((*v)[i].what, what) && !strcmp((*v)[i].why, why))
			return;
	*v = grow(*v, cap, *n, sizeof(**v));
	snprintf((*v)[*n].what, sizeof((*v)[0].what), "%s", what);
	snprintf((*v)[*n].why, sizeof((*v)[0].why), "%s", why);
	(*n)++;
}

#define NA(p, w, y) add_note2(&(p)->na, &(p)->nna, &(p)->capna, (w), (y))
#define RESTART(p, w, y) add_note2(&(p)->restart, &(p)->nrestart, &(p)->caprestart, (w), (y))
#define ERR(p, ...) do { char _m[400]; snprintf(_m, sizeof(_m), __VA_ARGS__); \
	add_note2(&(p)->err, &(p)->nerr, &(p)->caperr, _m, ""); } while (0)
#define CHANGE(p, ...) add_item(&(p)->ch, &(p)->nch, &(p)->capch, __VA_ARGS__)
#define SAME(p, ...) add_item(&(p)->same, &(p)->nsame, &(p)->capsame, __VA_ARGS__)

static void items_free(struct item *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(v[i].old);
		free(v[i].new_);
	}
	free(v);
}

static void plan_release(struct plan *p)
{
	items_free(p->ch, p->nch);
	items_free(p->same, p->nsame);
	free(p->na);
	free(p->restart);
	free(p->err);
	memset(p, 0, sizeof(*p));
}

struct apply_opts {
	const char *profile;
	long conns;
	bool dry_run, persist, host;
	pid_t pid;
	pid_t irqbalance;	/* running irqbalance, found when the profile has 'irq' */
};

/* Reads a whole small file exactly (procfs_read strips trailing newlines,
 * rollback must not). Returns the length or -errno. */
static ssize_t read_exact(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	if (ferror(f) || !feof(f)) {
		int e = ferror(f) ? -EIO : -EFBIG;

		fclose(f);
		return e;
	}
	fclose(f);
	return (ssize_t)n;
}

/* Plans writing @content to @path (shown as @label): unchanged if identical. */
static void plan_file(struct plan *p, const char *path, const char *label, const char *content,
		      const char *origin)
{
	char cur[16384];
	ssize_t n = read_exact(path, cur, sizeof(cur));

	if (n < 0 && n != -ENOENT) {
		ERR(p, "cannot read '%s': %s", path, strerror((int)-n));
		return;
	}
	if (n >= 0 && !strcmp(cur, content))
		SAME(p, J_FILE, path, cur, cur, label, origin);
	else
		CHANGE(p, J_FILE, path, n >= 0 ? cur : NULL, content, label, origin);
}

/* ---- planning */

static void plan_sysctls(struct plan *p, const struct profile *pr, const struct ctx *cx,
			 const struct apply_opts *o, char *persist, size_t psize)
{
	size_t po = strlen(persist);
	int i;

	for (i = 0; i < pr->n; i++) {
		const struct rule *r = &pr->rules[i];
		char path[PATH_MAX], raw[VAL_MAX], folded[VAL_MAX], want[VAL_MAX], label[160];
		struct item *pending;
		bool host_key;
		ssize_t n;
		int ok, j;

		if (r->kind != RULE_SYSCTL)
			continue;
		if (sysctl_path(r->key, path, sizeof(path))) {
			ERR(p, "%s: invalid sysctl key '%s'", r->origin, r->key);
			continue;
		}
		if (r->field >= 0)
			snprintf(label, sizeof(label), "%s[%d]", r->key, r->field);
		else
			snprintf(label, sizeof(label), "%s", r->key);
		if (r->skip) {
			NA(p, label, r->resolved);
			continue;
		}
		n = procfs_read(path, raw, sizeof(raw));
		if (n == -ENOENT) {
			if (!cx->initial && knob_lookup(r->key) && knob_scope(r->key) == KNOB_HOST_ABSENT)
				NA(p, label, "not present in this network namespace (host-owned); apply it on the host");
			else if (knob_lookup(r->key))
				NA(p, label, "absent on this kernel - skipped");
			else
				ERR(p, "%s: unknown sysctl key '%s' (no %s %s)", r->origin, r->key, path,
				    cx->initial ? "on this kernel" : "in this network namespace; if it is "
				    "host-only, apply it on the host");
			continue;
		}
		if (n < 0) {
			ERR(p, "%s: cannot read '%s': %s", r->origin, path, strerror((int)-n));
			continue;
		}
		/* a multi-field key can have several rules: build on the pending value */
		pending = NULL;
		for (j = 0; j < p->nch; j++)
			if (p->ch[j].kind == J_SYSCTL && !strcmp(p->ch[j].key, r->key))
				pending = &p->ch[j];
		snprintf(folded, sizeof(folded), "%s", pending ? pending->new_ : raw);
		for (char *c = folded; *c; c++)
			if (*c == '\n')
				*c = ' ';
		ok = rule_eval(r, folded, want, sizeof(want));
		if (ok < 0) {
			ERR(p, "%s: %s: current value '%s' cannot be compared with '%s'", r->origin, r->key,
			    folded, r->resolved);
			continue;
		}
		host_key = knob_is_host(r->key);
		if (ok == 1) {
			bool listed = pending != NULL;

			for (j = 0; j < p->nsame && !listed; j++)
				listed = p->same[j].kind == J_SYSCTL && !strcmp(p->same[j].key, r->key);
			if (!listed)
				SAME(p, J_SYSCTL, r->key, raw, raw, r->key, r->origin);
		} else if (!cx->initial && host_key && !o->host) {
			char why[200];

			if (knob_scope(r->key) == KNOB_GLOBAL)
				snprintf(why, sizeof(why), "host-wide key (wants %s %s, is %s); run with --host to set it",
					 rule_op_str(r->op), r->resolved, folded);
			else
				snprintf(why, sizeof(why), "host-wide key, read-only in this network namespace (wants "
					 "%s %s, is %s); set it on the host", rule_op_str(r->op), r->resolved, folded);
			NA(p, label, why);
			continue;
		} else if (access(path, W_OK) != 0) {
			int e = errno;

			ERR(p, "%s: cannot write '%s': %s%s", r->origin, path, strerror(e),
			    !cx->initial && host_key ? " (read-only in this network namespace: host-owned key)" :
			    e == EACCES || e == EPERM ? " (needs root / CAP_NET_ADMIN, CAP_SYS_ADMIN for global keys)" : "");
			continue;
		} else if (pending) {
			free(pending->new_);
			pending->new_ = xstrdup(want);
		} else {
			/* an earlier rule on another field of this key held: now it changes */
			for (j = 0; j < p->nsame; j++) {
				if (p->same[j].kind == J_SYSCTL && !strcmp(p->same[j].key, r->key)) {
					free(p->same[j].old);
					free(p->same[j].new_);
					memmove(&p->same[j], &p->same[j + 1], (size_t)(p->nsame - j - 1) * sizeof(p->same[0]));
					p->nsame--;
					break;
				}
			}
			CHANGE(p, J_SYSCTL, r->key, raw, want, r->key, r->origin);
		}
		if (o->persist && (cx->initial || !host_key || o->host) && po < psize) {
			/* the value that will be in effect, once per key */
			char line[VAL_MAX + 128], *val = ok == 1 ? (pending ? pending->new_ : raw) : want;
			char key_eq[160];

			snprintf(key_eq, sizeof(key_eq), "\n%s = ", r->key);
			if (strstr(persist, key_eq)) {
				/* second rule on the same key: rewrite that line */
				char *at = strstr(persist, key_eq), *end = strchr(at + 1, '\n');
				size_t tail = end ? strlen(end) : 0;

				memmove(at, end ? end : at + strlen(at), tail + 1);
				po = strlen(persist);
			}
			snprintf(line, sizeof(line), "%s = %s\n", r->key, val);
			for (char *c = line + strlen(r->key) + 3; *c; c++)
				if (*c == '\t')
					*c = ' ';
			po += snprintf(persist + po, psize - po, "%s", line);
		}
	}
}

static void plan_nofile(struct plan *p, const struct rule *r, const struct ctx *cx,
			const struct apply_opts *o)
{
	long long nr_open = 0;
	int i;

	procfs_read_ll("/proc/sys/fs/nr_open", &nr_open);
	if (nr_open && r->num > nr_open)
		ERR(p, "%s: nofile target %lld exceeds fs.nr_open %lld (setrlimit would fail with EPERM); "
		    "raise fs.nr_open first", r->origin, r->num, nr_open);
	if (o->pid) {
		unsigned long long soft, hard, nsoft, nhard;
		char key[64], old[64], new_[64], label[96];
		int e = proc_nofile(o->pid, &soft, &hard);

		if (e) {
			ERR(p, "cannot read the nofile limit of pid %d: %s", (int)o->pid, strerror(-e));
			return;
		}
		nsoft = soft < (unsigned long long)r->num ? (unsigned long long)r->num : soft;
		nhard = hard < nsoft ? nsoft : hard;
		/* pid@starttime: rollback must not touch a process that reused the pid */
		snprintf(key, sizeof(key), "%d@%llu", (int)o->pid, proc_starttime(o->pid));
		snprintf(old, sizeof(old), "%llu %llu", soft, hard);
		snprintf(new_, sizeof(new_), "%llu %llu", nsoft, nhard);
		snprintf(label, sizeof(label), "pid %d %s nofile", (int)o->pid, cx->nsrv ? cx->srv[0].comm : "");
		if (nsoft == soft) {
			SAME(p, J_RLIMIT, key, old, old, label, r->origin);
		} else if (nhard > hard && !has_cap(24)) {
			ERR(p, "%s: raising the hard nofile limit of pid %d from %llu to %llu needs "
			    "CAP_SYS_RESOURCE, which this process lacks; raise it where the service starts "
			    "(LimitNOFILE=) or lower the target with --conns", r->origin, (int)o->pid, hard,
			    nhard);
		} else {
			CHANGE(p, J_RLIMIT, key, old, new_, label, r->origin);
		}
	}
	for (i = 0; i < cx->nsrv; i++) {
		const struct server *s = &cx->srv[i];
		unsigned long long soft, hard;
		char what[200], why[200];

		if (s->pid == o->pid || proc_nofile(s->pid, &soft, &hard))
			continue;
		if (soft >= (unsigned long long)r->num)
			continue;
		snprintf(what, sizeof(what), "pid %d %s%s%s%s (nofile soft %llu < %lld)", (int)s->pid, s->comm,
			 s->unit[0] ? " (" : "", s->unit, s->unit[0] ? ")" : "", soft, r->num);
		snprintf(why, sizeof(why), "a process's nofile is set when it starts: %s",
			 s->unit[0] && o->persist ? "restart the unit to pick up the LimitNOFILE drop-in" :
			 "use --persist and restart it, or --pid PID to raise it live");
		RESTART(p, what, why);
	}
	if (o->persist) {
		char path[PATH_MAX], host[PATH_MAX], content[256];

		snprintf(content, sizeof(content),
			 "# written by qps-tune apply (profile %s); 'qps-tune rollback' removes it\n"
			 "*\tsoft\tnofile\t%lld\n*\thard\tnofile\t%lld\n", o->profile, r->num, r->num);
		snprintf(host, sizeof(host), "/etc/security/limits.d/90-qps-tune.conf");
		root_path(host, path, sizeof(path));
		plan_file(p, path, host, content, r->origin);
		for (i = 0; i < cx->nsrv; i++) {
			const struct server *s = &cx->srv[i];
			char rel[PATH_MAX], unitc[256];

			if (!s->unit[0])
				continue;
			snprintf(rel, sizeof(rel), "/etc/systemd/system/%s.d/90-qps-tune.conf", s->unit);
			root_path(rel, path, sizeof(path));
			snprintf(unitc, sizeof(unitc), "# written by qps-tune apply (profile %s)\n[Service]\n"
				 "LimitNOFILE=%lld\n", o->profile, r->num);
			plan_file(p, path, rel, unitc, r->origin);
			if (p->nch && !strcmp(p->ch[p->nch - 1].key, path)) {
				char what[200];

				snprintf(what, sizeof(what), "%s (pid %d %s)", s->unit, (int)s->pid, s->comm);
				RESTART(p, what, "systemctl daemon-reload && systemctl restart: LimitNOFILE applies at start");
			}
		}
	}
}

static void plan_rps_xps(struct plan *p, const struct rule *r, const struct ctx *cx)
{
	int d, q;
	bool xps = r->kind == RULE_XPS;

	if (!cx->sysfs_ok) {
		NA(p, xps ? "xps" : "rps", "sysfs does not show this network namespace's devices "
		   "(mounting a private sysfs needs CAP_SYS_ADMIN)");
		return;
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
			int cpu;

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
				cpuset_parse_list(r->resolved, &w);
			}
			cpuset_mask_str(&w, want, sizeof(want));
			snprintf(label, sizeof(label), "%s/%s", nd->name, rel + 7);
			if (cpuset_parse_mask(cur, &cs) == 0 && cpuset_equal(&cs, &w)) {
				SAME(p, J_SYSFS, path, cur, cur, label, r->origin);
			} else if (access(path, W_OK)) {
				ERR(p, "%s: cannot write '%s': %s", r->origin, path, strerror(errno));
			} else {
				CHANGE(p, J_SYSFS, path, cur, want, label, r->origin);
			}
		}
	}
}

/* NIC queue IRQs round-robin over the online CPUs: IRQ i of a device on the
 * i-th online CPU. Host-wide: from a child netns only with --host. */
static void plan_irq(struct plan *p, const struct rule *r, const struct ctx *cx,
		     struct apply_opts *o)
{
	int cpus[CPUSET_WORDS * 64], ncpu = 0, d, i, cpu;

	if (!cx->initial && !o->host) {
		NA(p, "irq spread", "IRQ affinity is host-wide; run with --host");
		return;
	}
	o->irqbalance = find_comm("irqbalance");
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
			else if (access(path, W_OK))
				ERR(p, "%s: cannot write '%s': %s", r->origin, path, strerror(errno));
			else
				CHANGE(p, J_SYSFS, path, cur, want, label, r->origin);
		}
	}
	if (o->irqbalance)
		NA(p, "irq spread (kept)", "irqbalance is running and will rewrite IRQ affinity: stop it or ban "
		   "these IRQs (IRQBALANCE_BANNED_CPUS / --banirq)");
}

static void plan_affinity(struct plan *p, const struct rule *r, const struct ctx *cx,
			  const struct apply_opts *o)
{
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

/* Listeners whose backlog was capped by the somaxconn this apply raises, or
 * by the one an earlier apply raised (the journal's old value). */
static void plan_listeners(struct plan *p, const struct ctx *cx, long long somax_before)
{
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

static int build_plan(struct plan *p, const struct profile *pr, const struct ctx *cx,
		      struct apply_opts *o)
{
	char persist[16384];
	int i;

	snprintf(persist, sizeof(persist),
		 "# written by qps-tune apply (profile %s); 'qps-tune rollback' removes it\n", o->profile);
	plan_sysctls(p, pr, cx, o, persist, sizeof(persist));
	for (i = 0; i < pr->n; i++) {
		const struct rule *r = &pr->rules[i];

		if (r->kind == RULE_NOFILE)
			plan_nofile(p, r, cx, o);
		else if (r->kind == RULE_RPS || r->kind == RULE_XPS)
			plan_rps_xps(p, r, cx);
		else if (r->kind == RULE_AFFINITY)
			plan_affinity(p, r, cx, o);
		else if (r->kind == RULE_IRQ)
			plan_irq(p, r, cx, o);
	}
	{
		struct journal jr;
		char jpath[PATH_MAX];
		long long before = 0;

		snprintf(jpath, sizeof(jpath), "%s/journal", g_opt.state_dir);
		if (journal_load(jpath, &jr) == 0) {
			struct jentry *en = journal_find(&jr, J_SYSCTL, "net.core.somaxconn");

			if (en && en->old && jr.netns == cx->netns)
				before = atoll(en->old);
			journal_release(&jr);
		}
		plan_listeners(p, cx, before);
	}
	if (o->persist) {
		char path[PATH_MAX];

		root_path(SYSCTLD_OURS, path, sizeof(path));
		plan_file(p, path, SYSCTLD_OURS, persist, "");
		if (!cx->initial)
			NA(p, SYSCTLD_OURS " at boot", "systemd-sysctl applies it to the host's initial "
			   "network namespace, not to this one");
	}
	return p->nerr ? -EINVAL : 0;
}

/* ---- writing */

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX], *s;

	snprintf(buf, sizeof(buf), "%s", dir);
	for (s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Writes one value. For rollback too: @val NULL removes a file. */
int apply_write(enum jkind kind, const char *key, const char *val, char *err, size_t err_size)
{
	char path[PATH_MAX];
	int e = 0;

	switch (kind) {
	case J_SYSCTL:
		sysctl_path(key, path, sizeof(path));
		e = procfs_write(path, val);
		if (e)
			snprintf(err, err_size, "cannot write '%s': %s", path, strerror(-e));
		return e;
	case J_SYSFS:
		e = procfs_write(key, val);
		if (e)
			snprintf(err, err_size, "cannot write '%s': %s", key, strerror(-e));
		return e;
	case J_RLIMIT: {
		struct rlimit rl;
		unsigned long long s, h;

		if (sscanf(val, "%llu %llu", &s, &h) != 2) {
			snprintf(err, err_size, "malformed nofile value '%s'", val);
			return -EINVAL;
		}
		rl.rlim_cur = s;
		rl.rlim_max = h;
		if (prlimit(atoi(key), RLIMIT_NOFILE, &rl, NULL) < 0) {
			e = -errno;
			snprintf(err, err_size, "cannot set the nofile limit of pid %s to %s: %s%s", key, val,
				 strerror(-e), e == -EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : "");
		}
		return e;
	}
	case J_AFFINITY: {
		struct cpuset cs;
		cpu_set_t set;
		int cpu;

		if (cpuset_parse_list(val, &cs)) {
			snprintf(err, err_size, "malformed CPU list '%s'", val);
			return -EINVAL;
		}
		CPU_ZERO(&set);
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (cpuset_is_set(&cs, cpu))
				CPU_SET(cpu, &set);
		if (sched_setaffinity(atoi(key), sizeof(set), &set) < 0) {
			e = -errno;
			snprintf(err, err_size, "cannot set the CPU affinity of pid %s to %s: %s", key, val,
				 strerror(-e));
		}
		return e;
	}
	case J_FILE:
		if (!val) {
			if (unlink(key) < 0 && errno != ENOENT) {
				e = -errno;
				snprintf(err, err_size, "cannot remove '%s': %s", key, strerror(-e));
			}
			return e;
		}
		snprintf(path, sizeof(path), "%s", key);
		*strrchr(path, '/') = '\0';
		e = mkdir_p(path);
		if (!e)
			e = write_atomic(key, val, 0644);
		if (e)
			snprintf(err, err_size, "cannot write '%s': %s", key, strerror(-e));
		return e;
	}
	return -EINVAL;
}

int state_lock(const char *dir, bool create, char *err, size_t err_size)
{
	int fd;

	if (create) {
		int e = mkdir_p(dir);

		if (e) {
			snprintf(err, err_size, "cannot create state directory '%s': %s", dir, strerror(-e));
			return e;
		}
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;

		snprintf(err, err_size, "cannot open state directory '%s': %s", dir, strerror(-e));
		return e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = -errno;

		close(fd);
		if (e == -EWOULDBLOCK)
			snprintf(err, err_size, "another qps-tune apply or rollback holds the lock on '%s'", dir);
		else
			snprintf(err, err_size, "cannot lock '%s': %s", dir, strerror(-e));
		return e == -EWOULDBLOCK ? -EBUSY : e;
	}
	return fd;
}

/* ---- output */

static void show_val(FILE *f, const char *v)
{
	if (!v) {
		fputs("(absent)", f);
		return;
	}
	for (; *v; v++)
		fputc(*v == '\t' ? ' ' : *v, f);
}

static void print_diff(const struct plan *p, const struct apply_opts *o, const struct profile *pr)
{
	int i;

	printf("--- current\n+++ after qps-tune apply --profile %s (dry run: nothing written)\n", pr->name);
	for (i = 0; i < p->nch; i++) {
		const struct item *it = &p->ch[i];

		if (it->kind == J_FILE) {
			const char *s;

			printf("@@ file %s%s\n", it->label, it->old ? "" : " (new)");
			if (it->old) {
				printf("-");
				for (s = it->old; *s; s++)
					fputs(*s == '\n' ? "\n-" : (char[2]){ *s, 0 }, stdout);
				putchar('\n');
			}
			printf("+");
			for (s = it->new_; *s; s++)
				if (*s == '\n' && s[1])
					fputs("\n+", stdout);
				else if (*s != '\n')
					putchar(*s);
			putchar('\n');
			continue;
		}
		printf("-%s = ", it->label);
		show_val(stdout, it->old);
		printf("\n+%s = ", it->label);
		show_val(stdout, it->new_);
		printf("\n");
	}
	(void)o;
}

static void json_items(struct json *j, const char *name, const struct item *v, int n)
{
	int i;

	json_arr_open(j, name);
	for (i = 0; i < n; i++) {
		json_obj_open(j, NULL);
		/* contract kinds: sysctl|file|rlimit|affinity (RPS/XPS masks are affinity) */
		json_str(j, "kind", v[i].kind == J_SYSCTL ? "sysctl" : v[i].kind == J_FILE ? "file" :
				    v[i].kind == J_RLIMIT ? "rlimit" : "affinity");
		json_str(j, "key", v[i].label);
		if (v[i].kind == J_FILE)
			json_str(j, "path", v[i].key);
		json_str(j, "old", v[i].old);
		json_str(j, "new", v[i].new_);
		if (v[i].origin[0])
			json_str(j, "rule", v[i].origin);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_notes(struct json *j, const char *name, const char *k1, const char *k2,
		       const struct note *v, int n)
{
	int i;

	json_arr_open(j, name);
	for (i = 0; i < n; i++) {
		json_obj_open(j, NULL);
		json_str(j, k1, v[i].what);
		json_str(j, k2, v[i].why);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void report(const struct plan *p, const struct apply_opts *o, const struct profile *pr,
		   const struct ctx *cx, const char *journal, int changed)
{
	int i;

	if (g_opt.json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.apply/1");
		json_bool(&j, "dry_run", o->dry_run);
		json_str(&j, "profile", pr->name);
		json_uint(&j, "netns", cx->netns);
		json_bool(&j, "initial_netns", cx->initial);
		/* dry run: what would change (Ansible check mode reads "changed") */
		json_int(&j, "changed", o->dry_run ? p->nch : changed);
		json_items(&j, "changes", p->ch, o->dry_run ? p->nch : changed);
		json_items(&j, "unchanged", p->same, p->nsame);
		json_notes(&j, "not_applied", "key", "reason", p->na, p->nna);
		json_notes(&j, "restart_needed", "what", "why", p->restart, p->nrestart);
		if (journal)
			json_str(&j, "journal", journal);
		else
			json_null(&j, "journal");
		json_obj_close(&j);
		return;
	}
	if (o->dry_run) {
		print_diff(p, o, pr);
	} else {
		printf("qps-tune apply: profile %s, netns net:[%llu]%s\n", pr->name,
		       (unsigned long long)cx->netns, cx->initial ? "" : " (not the initial netns)");
		for (i = 0; i < changed; i++) {
			printf("changed    %s: ", p->ch[i].label);
			if (p->ch[i].kind == J_FILE)
				printf("%s\n", p->ch[i].old ? "rewritten" : "created");
			else {
				show_val(stdout, p->ch[i].old);
				printf(" -> ");
				show_val(stdout, p->ch[i].new_);
				printf("\n");
			}
		}
		if (g_opt.verbose)
			for (i = 0; i < p->nsame; i++) {
				printf("unchanged  %s: ", p->same[i].label);
				show_val(stdout, p->same[i].old);
				printf("\n");
			}
	}
	for (i = 0; i < p->nna; i++)
		printf("not applied  %s: %s\n", p->na[i].what, p->na[i].why);
	for (i = 0; i < p->nrestart; i++)
		printf("restart needed  %s: %s\n", p->restart[i].what, p->restart[i].why);
	if (o->dry_run)
		printf("%d would change, %d unchanged, %d not applied (dry run: nothing written)\n", p->nch,
		       p->nsame, p->nna);
	else
		printf("%d changed, %d unchanged, %d not applied%s%s\n", changed, p->nsame, p->nna,
		       journal ? "; journal " : "", journal ? journal : "");
}

/* ---- command */

static void usage_apply(void)
{
	fprintf(stderr, "usage: qps-tune apply [--profile P] [--conns N] [--dry-run] [--persist] "
			"[--pid PID] [--host] [--state-dir DIR] [--root DIR] [--json]\n");
}

int do_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
		TUNER_COMMON_LONGOPTS,
		{ "profile", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "persist", no_argument, NULL, 'P' },
		{ "pid", required_argument, NULL, 'i' },
		{ "host", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct apply_opts o = { .profile = DEFAULT_PROFILE };
	struct journal jr, prev;
	struct profile *pr = NULL;
	struct plan p;
	struct ctx cx;
	char err[1024], jpath[PATH_MAX];
	unsigned long v;
	bool have_prev = false, cx_ok = false;
	int opt, rc = EXIT_FAIL, lock = -1, e, i, done = 0, failed = -1;

	memset(&p, 0, sizeof(p));
	memset(&jr, 0, sizeof(jr));
	memset(&prev, 0, sizeof(prev));
	while ((opt = getopt_long(argc, argv, "jvp:c:nh", longopts, NULL)) != -1) {
		if (tuner_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'p':
			o.profile = optarg;
			break;
		case 'c':
			if (parse_ulong(optarg, 100000000, &v) || !v) {
				tuner_err("invalid --conns '%s' (want 1..100000000)", optarg);
				return EXIT_USAGE;
			}
			o.conns = (long)v;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'P':
			o.persist = true;
			break;
		case 'i':
			if (parse_ulong(optarg, INT_MAX, &v) || !v) {
				tuner_err("invalid --pid '%s'", optarg);
				return EXIT_USAGE;
			}
			o.pid = (pid_t)v;
			break;
		case 'H':
			o.host = true;
			break;
		case 'h':
			usage_apply();
			return EXIT_OK;
		default:
			usage_apply();
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		tuner_err("apply: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	pr = profile_load(o.profile, err, sizeof(err));
	if (!pr) {
		tuner_err("%s; nothing changed", err);
		goto out;
	}
	/* enter --pid's netns first: sysctl(KEY) targets read that netns */
	if (ctx_init(&cx, o.pid, 0, err, sizeof(err))) {
		tuner_err("%s; nothing changed", err);
		goto out;
	}
	cx_ok = true;
	if (profile_resolve(pr, o.conns, err, sizeof(err))) {
		tuner_err("%s; nothing changed", err);
		goto out;
	}
	snprintf(jpath, sizeof(jpath), "%s/journal", g_opt.state_dir);
	if (!o.dry_run) {
		lock = state_lock(g_opt.state_dir, true, err, sizeof(err));
		if (lock < 0) {
			tuner_err("%s; nothing changed", err);
			goto out;
		}
	}
	build_plan(&p, pr, &cx, &o);
	if (p.nerr) {
		/* every error on stderr, the first one also as the final (JSON) error */
		for (i = 1; i < p.nerr; i++)
			tuner_warn("%s", p.err[i].what);
		if (p.nerr > 1)
			tuner_err("%s (and %d more above); nothing changed", p.err[0].what, p.nerr - 1);
		else
			tuner_err("%s; nothing changed", p.err[0].what);
		goto out;
	}
	if (o.dry_run || !p.nch) {
		report(&p, &o, pr, &cx, o.dry_run ? NULL : (access(jpath, F_OK) ? NULL : jpath), 0);
		rc = tuner_finish(EXIT_OK);
		goto out;
	}
	/* journal first: old values are on disk before anything changes */
	e = journal_load(jpath, &jr);
	if (e == -ENOENT) {
		time_t now = time(NULL);

		strftime(jr.created, sizeof(jr.created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		jr.netns = cx.netns;
		jr.pid = o.pid;
		snprintf(jr.profile, sizeof(jr.profile), "%s", pr->name);
	} else if (e) {
		tuner_err("cannot read journal '%s': %s; nothing changed", jpath,
			  e == -EINVAL ? "malformed" : strerror(-e));
		goto out;
	} else {
		if (jr.netns != cx.netns) {
			tuner_err("journal '%s' belongs to netns net:[%llu], this is net:[%llu]: roll it back "
				  "there or use another --state-dir; nothing changed", jpath,
				  (unsigned long long)jr.netns, (unsigned long long)cx.netns);
			goto out;
		}
		if (journal_copy(&prev, &jr)) {
			tuner_err("out of memory; nothing changed");
			goto out;
		}
		have_prev = true;
	}
	for (i = 0; i < p.nch; i++)
		if (journal_record(&jr, p.ch[i].kind, p.ch[i].key, p.ch[i].old, p.ch[i].new_)) {
			tuner_err("out of memory; nothing changed");
			goto out;
		}
	e = journal_save(jpath, &jr);
	if (e) {
		tuner_err("cannot write journal '%s': %s; nothing changed", jpath, strerror(-e));
		goto out;
	}
	/* done: how many changes were made (and must be undone on failure);
	 * failed: the change that failed, -1 if none */
	for (done = 0; done < p.nch; done++) {
		if (apply_write(p.ch[done].kind, p.ch[done].key, p.ch[done].new_, err, sizeof(err))) {
			failed = done;
			break;
		}
		if (p.ch[done].kind == J_SYSCTL) {
			/* the kernel may accept a write and store something else (clamping) */
			char path[PATH_MAX], back[VAL_MAX];

			sysctl_path(p.ch[done].key, path, sizeof(path));
			if (procfs_read(path, back, sizeof(back)) >= 0 && !value_equal(back, p.ch[done].new_)) {
				snprintf(err, sizeof(err), "wrote '%s' to '%s' but the kernel kept '%s'",
					 p.ch[done].new_, path, back);
				failed = done++;	/* it did change: undo it too */
				break;
			}
		}
	}
	if (failed >= 0) {
		int undone = 0, bad = 0;
		char err2[512];

		tuner_warn("%s", err);
		for (i = done - 1; i >= 0; i--) {
			if (apply_write(p.ch[i].kind, p.ch[i].key, p.ch[i].old, err2, sizeof(err2))) {
				tuner_warn("rollback: %s", err2);
				bad++;
			} else {
				undone++;
			}
		}
		if (!bad) {
			if (have_prev)
				journal_save(jpath, &prev);
			else
				unlink(jpath);
			tuner_err("apply failed at %s (%s); rolled back %d change%s; nothing changed",
				  p.ch[failed].label, p.ch[failed].origin[0] ? p.ch[failed].origin : "persist",
				  undone, undone == 1 ? "" : "s");
		} else {
			tuner_err("apply failed at %s and %d of %d changes could not be undone; the journal '%s' "
				  "keeps the old values: run qps-tune rollback", p.ch[failed].label, bad, done, jpath);
		}
		goto out;
	}
	report(&p, &o, pr, &cx, jpath, p.nch);
	rc = tuner_finish(EXIT_OK);
out:
	if (lock >= 0)
		close(lock);
	if (cx_ok)
		ctx_release(&cx);
	journal_release(&jr);
	journal_release(&prev);
	plan_release(&p);
	profile_free(pr);
	return rc;
}
