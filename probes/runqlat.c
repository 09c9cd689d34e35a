/* runqlat.c - `qps-tune probe runqlat`: is the server waiting for a CPU?
 *
 * Run-queue latency (runnable -> running) histograms per process and per
 * cgroup from bpf/runqlat.bpf.c (sched_wakeup, sched_wakeup_new,
 * sched_switch; tp_btf -> raw_tp), plus the CFS bandwidth throttling of one
 * cgroup over the same window: deltas of nr_periods, nr_throttled and the
 * throttled time from its cpu.stat (cgroup v2: throttled_usec; v1 cpu
 * controller: throttled_time in ns), with its quota. The cgroup is --cgroup,
 * else the cpu cgroup of --pid.
 *
 * Which cgroups: with a unified (v2) /sys/fs/cgroup, a task's v2 cgroup; on
 * a v1 or hybrid host, the cgroup of its v1 cpu controller (the one whose
 * quota throttles it).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "../bpf/runqlat.h"
#include "common.h"
#include "escape.h"
#include "json.h"
#include "procfs.h"
#include "promfile.h"
#include "runqlat.skel.h"

enum { RQ_TOP = 0x200, RQ_PROM };

#define RQ_MAX_WALK 20000		/* cgroup directories visited to name ids */

struct cpustat {
	bool ok;
	unsigned long long nr_periods, nr_throttled, throttled_us;
};

struct cgname {
	uint64_t id;
	char *path;			/* relative to the hierarchy root, "/" for it */
};

struct rq {
	struct probe_opts o;
	const char *cgroup_arg, *prom;
	int top;			/* processes shown; 0: 10 (text), all (JSON) */
	bool v1;			/* cgroup ids are of the v1 cpu hierarchy */
	const char *root;		/* that hierarchy's mount point */
	char target[4096];		/* cgroup whose throttling we report; "" none */
	char target_why[256];		/* why none */
	uint64_t target_id;		/* filter (--cgroup only) */
	long long quota_us, period_us;	/* -1: no quota */
	struct cpustat st0;
	struct cgname *names;
	int nnames;
	int ticks, walked;		/* the tree is walked at most once a report */
	uint32_t tid_slots;		/* power of two >= pid_max, at most 2^20 */
	struct runqlat_bpf *skel;
	const char *method;
	uint64_t t0;
	struct probe_cfg cfg;		/* qps_cfg: pid namespace, --pid, --cgroup (v2) */
	struct probe_target ptarget;	/* what --pid named */
	void *pprev, *gprev;		/* last report's cumulative rows (per-interval deltas) */
	int npprev, ngprev;
	struct cpustat stlast;		/* cpu.stat at the last report */
	uint64_t last_ns;		/* CLOCK_MONOTONIC of the last report (t0 at first) */
};

struct hist_row {
	uint64_t key;
	struct runqlat_hist h;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe runqlat [--duration S] [--interval S] [--pid PID] [--comm C]\n"
		"                              [--cgroup PATH] [--top N] [--json] [--prom FILE] [-v]\n"
		"  run-queue latency (time runnable before getting a CPU) as log2 histograms per\n"
		"  process and per cgroup, and the CFS throttling of one cgroup over the window\n"
		"  (cpu.stat deltas): --cgroup PATH (a cgroup v2 directory, or one of the v1 cpu\n"
		"  hierarchy; relative paths are under /sys/fs/cgroup), else the cpu cgroup of --pid.\n"
		"  --cgroup also limits the histograms to that cgroup's tasks.\n");
}

/* Reads a small file of a cgroup directory without following links. */
static ssize_t read_small(const char *dir, const char *name, char *buf, size_t size)
{
	char path[4200];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = 0;
	close(fd);
	return n;
}

static struct cpustat read_cpustat(const struct rq *c)
{
	struct cpustat s = { 0 };
	char buf[2048], *line, *save = NULL;
	unsigned long long v;
	char key[64];

	if (!c->target[0] || read_small(c->target, "cpu.stat", buf, sizeof(buf)) <= 0)
		return s;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%63s %llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "nr_periods"))
			s.nr_periods = v, s.ok = true;
		else if (!strcmp(key, "nr_throttled"))
			s.nr_throttled = v;
		else if (!strcmp(key, "throttled_usec"))	/* v2 */
			s.throttled_us = v;
		else if (!strcmp(key, "throttled_time"))	/* v1, ns */
			s.throttled_us = v / 1000;
	}
	return s;
}

static void read_quota(struct rq *c)
{
	char buf[128];
	long long q, p;

	c->quota_us = c->period_us = -1;
	if (read_small(c->target, "cpu.max", buf, sizeof(buf)) > 0) {
		if (sscanf(buf, "%lld %lld", &q, &p) == 2) {
			c->quota_us = q;
			c->period_us = p;
		} else if (sscanf(buf, "max %lld", &p) == 1) {
			c->period_us = p;
		}
	} else if (read_small(c->target, "cpu.cfs_quota_us", buf, sizeof(buf)) > 0) {
		c->quota_us = strtoll(buf, NULL, 10);
		if (read_small(c->target, "cpu.cfs_period_us", buf, sizeof(buf)) > 0)
			c->period_us = strtoll(buf, NULL, 10);
	}
}

static bool is_fs(const char *path, long magic)
{
	struct statfs s;

	return statfs(path, &s) == 0 && (long)s.f_type == magic;
}

/* The hierarchy: v2 when /sys/fs/cgroup is cgroup2; else the v1 cpu one. */
static int pick_hierarchy(struct rq *c)
{
	static const char *const v1[] = { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", NULL };

	if (is_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC)) {
		c->root = "/sys/fs/cgroup";
		return 0;
	}
	for (int i = 0; v1[i]; i++) {
		char q[4200];

		snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", v1[i]);
		if (is_fs(v1[i], CGROUP_SUPER_MAGIC) && access(q, F_OK) == 0) {
			c->root = v1[i];
			c->v1 = true;
			return 0;
		}
	}
	if (is_fs("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC)) {
		c->root = "/sys/fs/cgroup/unified";
		return 0;
	}
	return -ENOENT;
}

/* The cpu cgroup of @pid from /proc/PID/cgroup, as a directory. */
static void target_of_pid(struct rq *c, pid_t pid)
{
	char path[64], line[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(c->target_why, sizeof(c->target_why), "cannot read '%s': %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *rel;
		bool match;

		if (!ctl || !(rel = strchr(ctl + 1, ':')))
			continue;
		*rel++ = 0;
		ctl++;
		rel[strcspn(rel, "\n")] = 0;
		if (c->v1) {
			/* "4:cpu,cpuacct:/path": a list that names cpu */
			char *save = NULL, *t;

			match = false;
			for (t = strtok_r(ctl, ",", &save); t; t = strtok_r(NULL, ",", &save))
				match |= !strcmp(t, "cpu");
		} else {
			match = line[0] == '0' && !*ctl;
		}
		if (match && !strstr(rel, "..")) {
			snprintf(c->target, sizeof(c->target), "%s%s", c->root, strcmp(rel, "/") ? rel : "");
			break;
		}
	}
	fclose(f);
	if (!c->target[0])
		snprintf(c->target_why, sizeof(c->target_why), "no cpu cgroup for pid %d in '%s'", (int)pid, path);
}

static int resolve_cgroup_arg(struct rq *c)
{
	struct statfs sfs;
	struct stat st;
	char q[4200];

	if (c->cgroup_arg[0] == '/')
		snprintf(c->target, sizeof(c->target), "%s", c->cgroup_arg);
	else
		snprintf(c->target, sizeof(c->target), "/sys/fs/cgroup/%s", c->cgroup_arg);
	if (stat(c->target, &st) || statfs(c->target, &sfs)) {
		int err = -errno;

		probe_err(&c->o, "cannot open cgroup '%s': %s", c->target, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode) || (sfs.f_type != CGROUP2_SUPER_MAGIC && sfs.f_type != CGROUP_SUPER_MAGIC)) {
		probe_err(&c->o, "'%s' is not a cgroup directory", c->target);
		return -EINVAL;
	}
	snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", c->target);
	if (sfs.f_type == CGROUP_SUPER_MAGIC && access(q, F_OK)) {
		probe_err(&c->o, "'%s' is a cgroup v1 directory outside the cpu hierarchy: give the cgroup of the cpu controller", c->target);
		return -EINVAL;
	}
	c->v1 = sfs.f_type == CGROUP_SUPER_MAGIC;
	c->target_id = st.st_ino;	/* kernfs: the inode is the cgroup id */
	return 0;
}

/* id -> path of the hierarchy's directories (bounded walk) */
static struct rq *walk_ctx;
static int walk_n;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct rq *c = walk_ctx;
	struct cgname *v;
	size_t rl = strlen(c->root);

	if (flag != FTW_D)
		return 0;
	if (++walk_n > RQ_MAX_WALK)
		return 1;
	v = realloc(c->names, (c->nnames + 1) * sizeof(*v));
	if (!v)
		return 1;
	c->names = v;
	v[c->nnames].id = st->st_ino;
	v[c->nnames].path = strdup(path[rl] ? path + rl : "/");
	if (v[c->nnames].path)
		c->nnames++;
	return 0;
}

static const char *cg_name(struct rq *c, uint64_t id)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < c->nnames; i++)
			if (c->names[i].id == id)
				return c->names[i].path;
		if (pass || c->walked == c->ticks)
			break;
		c->walked = c->ticks;
		for (int i = 0; i < c->nnames; i++)
			free(c->names[i].path);
		c->nnames = 0;
		walk_ctx = c;
		walk_n = 0;
		nftw(c->root, walk_one, 16, FTW_PHYS | FTW_MOUNT);
	}
	return NULL;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct hist_row *x = pa, *y = pb;

	if (x->h.sum_ns != y->h.sum_ns)
		return x->h.sum_ns > y->h.sum_ns ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

struct pair_row {
	struct runqlat_key key;
	struct runqlat_hist h;
};

static uint64_t pair_key(const struct pair_row *r, bool by_cg)
{
	return by_cg ? r->key.cgid : r->key.tgid;
}

static bool by_cg_sort;

static int cmp_pairs(const void *pa, const void *pb)
{
	uint64_t x = pair_key(pa, by_cg_sort), y = pair_key(pb, by_cg_sort);

	return x < y ? -1 : x > y;
}

/* The (process, cgroup) table summed by cgroup (@by_cg) or by process, sorted
 * by total wait: rows of one key add their slots and totals, keep the longest
 * wait and the first name. Reorders @pr. Returns the row count or -errno. */
static int merge_pairs(struct pair_row *pr, int n, bool by_cg, struct hist_row **out)
{
	struct hist_row *rows = calloc(n ? n : 1, sizeof(*rows));
	int m = 0;

	if (!rows)
		return -ENOMEM;
	by_cg_sort = by_cg;
	qsort(pr, n, sizeof(*pr), cmp_pairs);
	for (int i = 0; i < n; i++) {
		struct hist_row *r = &rows[m];

		if (m && rows[m - 1].key == pair_key(&pr[i], by_cg)) {
			r = &rows[m - 1];
			for (int k = 0; k < RUNQLAT_SLOTS; k++)
				r->h.slots[k] += pr[i].h.slots[k];
			r->h.sum_ns += pr[i].h.sum_ns;
			if (pr[i].h.max_ns > r->h.max_ns)
				r->h.max_ns = pr[i].h.max_ns;
		} else {
			r->key = pair_key(&pr[i], by_cg);
			r->h = pr[i].h;
			m++;
		}
	}
	for (int i = 0; i < m; i++) {
		rows[i].h.count = 0;
		for (int k = 0; k < RUNQLAT_SLOTS; k++)
			rows[i].h.count += rows[i].h.slots[k];
	}
	qsort(rows, m, sizeof(*rows), cmp_rows);
	*out = rows;
	return m;
}

static void json_row(struct json *j, const struct runqlat_hist *h)
{
	json_uint(j, "count", h->count);
	json_double(j, "total_us", h->sum_ns / 1e3);
	json_double(j, "avg_us", h->count ? h->sum_ns / 1e3 / h->count : 0);
	json_double(j, "max_us", h->max_ns / 1e3);
	probe_json_hist(j, "hist_us", (const unsigned long long *)h->slots, RUNQLAT_SLOTS);
}

static int write_prom(struct rq *c, const struct hist_row *p, int np, const struct hist_row *g, int ng,
		      const struct cpustat *d)
{
	struct promfile *f = promfile_new(c->prom);
	int err;

	if (!f)
		return -errno;
	promfile_help(f, "qps_runqlat_wait_seconds", "histogram", "run-queue latency by command name");
	/* one series per comm (pids come and go; comms are stable) */
	for (int i = 0; i < np; i++) {
		struct runqlat_hist sum = p[i].h;
		bool dup = false;

		for (int k = 0; k < i && !dup; k++)
			dup = !strncmp(p[k].h.comm, p[i].h.comm, 16);
		if (dup)
			continue;
		for (int k = i + 1; k < np; k++) {
			if (strncmp(p[k].h.comm, p[i].h.comm, 16))
				continue;
			for (int s = 0; s < RUNQLAT_SLOTS; s++)
				sum.slots[s] += p[k].h.slots[s];
			sum.sum_ns += p[k].h.sum_ns;
		}
		char comm[17];

		snprintf(comm, sizeof(comm), "%.16s", p[i].h.comm);
		promfile_log2_hist(f, "qps_runqlat_wait_seconds", (const char *[]){ "comm", comm, NULL },
				   (const unsigned long long *)sum.slots, RUNQLAT_SLOTS, 1e-6, sum.sum_ns / 1e9);
	}
	promfile_help(f, "qps_runqlat_cgroup_wait_seconds", "histogram", "run-queue latency by cgroup");
	for (int i = 0; i < ng; i++) {
		const char *name = cg_name(c, g[i].key);
		char id[32];

		snprintf(id, sizeof(id), "id:%llu", (unsigned long long)g[i].key);
		promfile_log2_hist(f, "qps_runqlat_cgroup_wait_seconds", (const char *[]){ "cgroup", name ? name : id, NULL },
				   (const unsigned long long *)g[i].h.slots, RUNQLAT_SLOTS, 1e-6, g[i].h.sum_ns / 1e9);
	}
	if (d) {
		const char *lbl[] = { "cgroup", c->target + strlen(c->root), NULL };

		if (!lbl[1][0])
			lbl[1] = "/";
		promfile_help(f, "qps_runqlat_cfs_periods_total", "counter", "CFS bandwidth periods of the cgroup since the probe started");
		promfile_sample(f, "qps_runqlat_cfs_periods_total", lbl, (double)d->nr_periods);
		promfile_help(f, "qps_runqlat_cfs_throttled_periods_total", "counter", "periods in which the cgroup was throttled");
		promfile_sample(f, "qps_runqlat_cfs_throttled_periods_total", lbl, (double)d->nr_throttled);
		promfile_help(f, "qps_runqlat_cfs_throttled_seconds_total", "counter", "time the cgroup spent throttled");
		promfile_sample(f, "qps_runqlat_cfs_throttled_seconds_total", lbl, d->throttled_us / 1e6);
	}
	err = promfile_commit(f);
	promfile_free(f);
	return err;
}

static int rq_tick(void *ctx, bool final)
{
	struct rq *c = ctx;
	struct hist_row *p = NULL, *g = NULL;
	struct cpustat now, d = { 0 };
	int np, ng, i, top, err = 0;
	uint64_t waits = 0, tnow = probe_now_ns();
	double elapsed = (tnow - c->t0) / 1e9, window = (tnow - (c->o.cumulative ? c->t0 : c->last_ns)) / 1e9;
	bool deltas = c->o.interval > 0 && !c->o.cumulative;
	const struct cpustat *base = deltas ? &c->stlast : &c->st0;
	char ecomm[ESCAPE_COMM_MAX], at[40];
	struct json j;

	c->ticks++;
	probe_stamp(at, sizeof(at));
	{
		struct pair_row *pr = NULL;
		int n = probe_map_dump(bpf_map__fd(c->skel->maps.procs), sizeof(pr->key), offsetof(struct pair_row, h),
				       sizeof(*pr), (void **)&pr);

		if (n < 0)
			return n;
		np = merge_pairs(pr, n, false, &p);
		ng = np < 0 ? np : merge_pairs(pr, n, true, &g);
		free(pr);
		if (np < 0 || ng < 0) {
			free(p);
			return np < 0 ? np : ng;
		}
	}
	if (deltas) {
		/* per-interval waits (slots, count, total); max_us stays since attach */
		np = probe_delta_rows(p, np, sizeof(*p), sizeof(p->key), offsetof(struct hist_row, h.slots),
				      RUNQLAT_SLOTS + 2, &c->pprev, &c->npprev);
		ng = np < 0 ? np : probe_delta_rows(g, ng, sizeof(*g), sizeof(g->key), offsetof(struct hist_row, h.slots),
						    RUNQLAT_SLOTS + 2, &c->gprev, &c->ngprev);
		if (np < 0 || ng < 0) {
			free(p);
			free(g);
			return np < 0 ? np : ng;
		}
		qsort(p, np, sizeof(*p), cmp_rows);
		qsort(g, ng, sizeof(*g), cmp_rows);
	}
	now = read_cpustat(c);
	if (now.ok && base->ok) {
		d.ok = true;
		d.nr_periods = now.nr_periods - base->nr_periods;
		d.nr_throttled = now.nr_throttled - base->nr_throttled;
		d.throttled_us = now.throttled_us - base->throttled_us;
	}
	c->stlast = now;
	c->last_ns = tnow;
	for (i = 0; i < np; i++)
		waits += p[i].h.count;
	top = c->top ? c->top : (c->o.json ? np : 10);
	if (c->o.json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.probe.runqlat/1");
		json_bool(&j, "final", final);
		json_double(&j, "elapsed_s", elapsed);
		probe_json_stamp(&j, &c->o, c->ticks, window);
		json_str(&j, "method", c->method);
		json_str(&j, "cgroup_hierarchy", c->v1 ? "v1 cpu" : "v2");
		json_obj_open(&j, "filters");
		if (c->o.pid)
			json_int(&j, "pid", c->o.pid);
		else
			json_null(&j, "pid");
		json_str(&j, "comm", c->o.comm[0] ? c->o.comm : NULL);
		json_str(&j, "cgroup", c->cgroup_arg ? c->target : NULL);
		json_obj_close(&j);
		probe_report_filter(&c->o, &c->ptarget, c->skel->bss->qps_matched, final, NULL, &j);
		json_obj_open(&j, "pid_namespace");
		json_uint(&j, "level", c->cfg.pidns_level ? c->skel->bss->qps_pidns_level : 0);
		json_uint(&j, "inode", c->cfg.pidns_ino);
		json_obj_close(&j);
		json_uint(&j, "waits", waits);
		json_str(&j, "empty", waits ? NULL : c->o.pid || c->o.comm[0] || c->cgroup_arg ?
			 "no run-queue wait matched the filters (the target was not woken or preempted)" :
			 "no run-queue wait was seen");
		json_arr_open(&j, "processes");
		for (i = 0; i < np && i < top; i++) {
			json_obj_open(&j, NULL);
			json_uint(&j, "pid", p[i].key);
			json_str(&j, "comm", p[i].h.comm);
			json_row(&j, &p[i].h);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_arr_open(&j, "cgroups");
		for (i = 0; i < ng; i++) {
			json_obj_open(&j, NULL);
			json_uint(&j, "id", g[i].key);
			json_str(&j, "path", cg_name(c, g[i].key));
			json_row(&j, &g[i].h);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		if (d.ok) {
			json_obj_open(&j, "throttling");
			json_str(&j, "cgroup", c->target);
			if (c->quota_us >= 0)
				json_int(&j, "quota_us", c->quota_us);
			else
				json_null(&j, "quota_us");
			json_int(&j, "period_us", c->period_us);
			json_uint(&j, "nr_periods", d.nr_periods);
			json_uint(&j, "nr_throttled", d.nr_throttled);
			json_uint(&j, "throttled_usec", d.throttled_us);
			json_obj_close(&j);
		} else {
			json_null(&j, "throttling");
			json_str(&j, "throttling_unavailable",
				 c->target[0] ? "cannot read cpu.stat of the cgroup" :
				 c->target_why[0] ? c->target_why : "no cgroup: give --cgroup or --pid");
		}
		json_obj_open(&j, "lost");
		json_uint(&j, "threads", c->skel->bss->lost_threads);
		json_uint(&j, "processes", c->skel->bss->lost_procs);
		json_uint(&j, "cgroups", c->skel->bss->lost_procs);	/* the same table */
		json_obj_close(&j);
		json_obj_close(&j);
	} else {
		printf("%s %.1f s (%s) at %s, %llu run-queue waits in %d processes%s\n",
		       final ? "runqlat" : "runqlat (interval)", elapsed, c->method, at, (unsigned long long)waits, np,
		       deltas ? (c->ticks > 1 ? "; since the previous report (max us: since the start)" :
				 "; since the start") : "");
		if (!waits && (c->o.pid || c->o.comm[0] || c->cgroup_arg))
			printf("no run-queue wait matched the filters (the target was not woken or preempted)\n");
		if (np)
			printf("\n%-8s %-16s %10s %10s %10s %12s\n", "pid", "comm", "waits", "avg us", "max us", "total ms");
		for (i = 0; i < np && i < top; i++)
			printf("%-8llu %-16s %10llu %10.1f %10.1f %12.3f\n", (unsigned long long)p[i].key,
			       escape_comm(ecomm, p[i].h.comm),
			       (unsigned long long)p[i].h.count, p[i].h.count ? p[i].h.sum_ns / 1e3 / p[i].h.count : 0,
			       p[i].h.max_ns / 1e3, p[i].h.sum_ns / 1e6);
		if (np > top)
			printf("(%d more processes; --top N shows more)\n", np - top);
		for (i = 0; i < np && i < 3 && i < top; i++) {
			printf("\n%s (%llu), run-queue latency:\n", escape_comm(ecomm, p[i].h.comm),
			       (unsigned long long)p[i].key);
			probe_print_hist(stdout, (const unsigned long long *)p[i].h.slots, RUNQLAT_SLOTS, "usecs", "");
		}
		if (ng)
			printf("\n%-40s %10s %10s %10s %12s\n", c->v1 ? "cgroup (v1 cpu)" : "cgroup", "waits", "avg us", "max us", "total ms");
		for (i = 0; i < ng && i < top; i++) {
			const char *n = cg_name(c, g[i].key);
			char id[32];

			snprintf(id, sizeof(id), "id %llu", (unsigned long long)g[i].key);
			printf("%-40s %10llu %10.1f %10.1f %12.3f\n", n ? n : id, (unsigned long long)g[i].h.count,
			       g[i].h.count ? g[i].h.sum_ns / 1e3 / g[i].h.count : 0, g[i].h.max_ns / 1e3, g[i].h.sum_ns / 1e6);
		}
		if (d.ok) {
			printf("\nCFS throttling of '%s' (quota ", c->target);
			if (c->quota_us >= 0)
				printf("%lld us per %lld us):", c->quota_us, c->period_us);
			else
				printf("none):");
			printf(" %llu periods, %llu throttled (%.1f %%), %.3f s throttled\n", d.nr_periods, d.nr_throttled,
			       d.nr_periods ? 100.0 * d.nr_throttled / d.nr_periods : 0.0, d.throttled_us / 1e6);
		} else {
			printf("\nCFS throttling: not measured (%s)\n",
			       c->target[0] ? "cannot read cpu.stat of the cgroup" :
			       c->target_why[0] ? c->target_why : "give --cgroup or --pid");
		}
		probe_report_filter(&c->o, &c->ptarget, c->skel->bss->qps_matched, final, stdout, NULL);
		if (c->skel->bss->lost_threads || c->skel->bss->lost_procs)
			printf("lost: %llu waits (two waiting threads shared a slot: pid_max above 2^20), %llu (the "
			       "(process, cgroup) table was full)\n",
			       (unsigned long long)c->skel->bss->lost_threads, (unsigned long long)c->skel->bss->lost_procs);
		if (!final)
			printf("\n");
	}
	fflush(stdout);
	if (c->prom) {
		/* Prometheus counters count since the start: the cumulative rows */
		struct cpustat dc = { 0 };

		if (now.ok && c->st0.ok) {
			dc.ok = true;
			dc.nr_periods = now.nr_periods - c->st0.nr_periods;
			dc.nr_throttled = now.nr_throttled - c->st0.nr_throttled;
			dc.throttled_us = now.throttled_us - c->st0.throttled_us;
		}
		if (deltas)
			err = write_prom(c, c->pprev, c->npprev, c->gprev, c->ngprev, dc.ok ? &dc : NULL);
		else
			err = write_prom(c, p, np, g, ng, dc.ok ? &dc : NULL);
		if (err)
			probe_err(&c->o, "cannot write '%s': %s", c->prom, strerror(-err));
	}
	free(p);
	free(g);
	return err;
}

static int rq_load(struct rq *c, bool btf_tp)
{
	struct runqlat_bpf *k = runqlat_bpf__open();
	int err;

	if (!k)
		return -errno;
	k->rodata->qps_cfg = c->cfg;
	k->rodata->target_cgroup = c->v1 ? c->target_id : 0;
	k->rodata->cgroup_v1_cpu = c->v1;
	k->rodata->tid_mask = c->tid_slots - 1;
	bpf_map__set_max_entries(k->maps.waits, c->tid_slots);
	if (c->o.comm[0]) {
		k->rodata->filter_comm = true;
		memcpy((char *)k->rodata->target_comm, c->o.comm, sizeof(c->o.comm));
	}
	bpf_program__set_autoload(k->progs.rq_wakeup_btf, btf_tp);
	bpf_program__set_autoload(k->progs.rq_wakeup_new_btf, btf_tp);
	bpf_program__set_autoload(k->progs.rq_switch_btf, btf_tp);
	bpf_program__set_autoload(k->progs.rq_wakeup_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.rq_wakeup_new_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.rq_switch_raw, !btf_tp);
	err = runqlat_bpf__load(k);
	if (!err)
		err = runqlat_bpf__attach(k);
	if (err) {
		runqlat_bpf__destroy(k);
		return err;
	}
	c->skel = k;
	return 0;
}

int probe_runqlat(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "top", required_argument, NULL, RQ_TOP },
		{ "prom", required_argument, NULL, RQ_PROM },
		{ NULL, 0, NULL, 0 },
	};
	struct rq c = { 0 };
	bool help = false;
	int ch, err, end, ret = 1;
	uint64_t v;

	probe_opts_init(&c.o, "runqlat");
	optind = 1;
	while ((ch = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&c.o, ch, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		switch (ch) {
		case RQ_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 1000000) {
				probe_err(&c.o, "invalid --top '%s'", optarg);
				return 2;
			}
			c.top = (int)v;
			continue;
		case RQ_PROM:
			c.prom = optarg;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&c.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	c.cgroup_arg = c.o.cgroup;	/* the common --cgroup (v1 cpu hierarchy too) */
	if (probe_check_env(&c.o))
		return 1;
	if (c.cgroup_arg) {
		if (resolve_cgroup_arg(&c))
			return 1;
		c.root = c.v1 ? (access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", F_OK) == 0 ? "/sys/fs/cgroup/cpu" :
				 "/sys/fs/cgroup/cpu,cpuacct") : NULL;
		if (!c.v1) {
			c.root = is_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC) ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
		}
	} else if (pick_hierarchy(&c)) {
		probe_note(&c.o, "no cgroup hierarchy with the cpu controller found: per-cgroup histograms are keyed by cgroup v2 id");
		c.root = "/sys/fs/cgroup";
	} else if (c.o.pid) {
		target_of_pid(&c, c.o.pid);
	}
	if (c.target[0])
		read_quota(&c);
	{
		/* a v1 cpu cgroup is filtered apart (target_cgroup); the common
		 * layer takes v2 directories, the caller's pid namespace, --pid as
		 * a process or a thread; a kernel thread waits for a CPU too */
		struct probe_opts o2 = c.o;

		if (c.v1)
			o2.cgroup = NULL;
		if (probe_cfg_init(&o2, true, &c.cfg, &c.ptarget))
			return 1;
		if (c.v1 && c.cgroup_arg)
			c.cfg.filtered = 1;
	}
	probe_setup(&c.o);
	if (!probe_kernel_has_tp("sched_switch") || !probe_kernel_has_tp("sched_wakeup")) {
		probe_err(&c.o, "this kernel lacks the sched_switch/sched_wakeup tracepoints: run-queue latency cannot be measured");
		return 1;
	}
	{
		long long pid_max = 32768;

		procfs_read_ll("/proc/sys/kernel/pid_max", &pid_max);
		for (c.tid_slots = 1024; c.tid_slots < pid_max && c.tid_slots < (1u << 20);)
			c.tid_slots <<= 1;
	}
	err = probe_try_tp_btf() ? rq_load(&c, true) : -ENOTSUP;
	c.method = "tp_btf/sched_wakeup + sched_wakeup_new + sched_switch";
	if (err) {
		if (c.o.verbose)
			fprintf(stderr, "runqlat: tp_btf failed (%s), trying raw_tp\n", strerror(-err));
		err = rq_load(&c, false);
		c.method = "raw_tp/sched_wakeup + sched_wakeup_new + sched_switch";
	}
	if (err) {
		probe_load_err(&c.o, "load and attach the runqlat BPF programs", err);
		goto out;
	}
	/* the window of the cpu.stat deltas starts now, before we say so */
	c.st0 = read_cpustat(&c);
	c.stlast = c.st0;
	c.t0 = probe_now_ns();
	c.last_ns = c.t0;
	probe_note(&c.o, "tracing run-queue latency (%s); Ctrl-C to end", c.method);
	ret = probe_run(&c.o, rq_tick, NULL, &c) ? 1 : 0;
out:
	runqlat_bpf__destroy(c.skel);
	free(c.pprev);
	free(c.gprev);
	for (int i = 0; i < c.nnames; i++)
		free(c.names[i].path);
	free(c.names);
	return ret;
}
