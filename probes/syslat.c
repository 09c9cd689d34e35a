/* syslat.c - `qps-tune probe syslat`: per-syscall count, total/mean/max
 * latency and a log2 latency histogram, optionally per process.
 *
 * Attach plan (first that loads wins): tp_btf/sys_enter+sys_exit ->
 * raw_tp/sys_enter+sys_exit. Neither needs tracefs. Latency is measured from
 * sys_enter to sys_exit of the same thread (bpf/syslat.bpf.c); calls already
 * in progress at attach are not counted, calls in progress at the report are
 * not counted yet: they are listed "in flight" (pid, tid, syscall, for how
 * long) from a task iterator. --interval reports count the calls that ended
 * since the previous report (--cumulative: since attach); max_us stays the
 * maximum since attach. Ids are those of the caller's pid namespace.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <string.h>
#include <unistd.h>

#include "../bpf/syslat.h"
#include "common.h"
#include "escape.h"
#include "json.h"
#include "procfs.h"
#include "promfile.h"
#include "syscalls.h"
#include "syslat.skel.h"

enum { SL_SYSCALL = 0x200, SL_MIN_US, SL_TOP, SL_PER_PROCESS, SL_HIST, SL_ERRORS, SL_PER_CGROUP, SL_PROM };

struct sl_erow {
	struct syslat_ekey k;
	uint64_t count;
};

struct sl_crow {
	struct syslat_ckey k;
	struct syslat_cval v;
};

struct sl {
	struct probe_opts o;
	int nr;				/* --syscall, -1: all */
	uint64_t min_us;
	int top;			/* 0: 20 in text, all in JSON */
	bool per_process, hist, errors, per_cgroup;
	const char *prom;		/* --prom FILE: node_exporter textfile, each report */
	struct syslat_bpf *skel;
	struct probe_cfg cfg;
	struct probe_target target;
	struct bpf_link *iter;		/* in-flight iterator; NULL: not available */
	char inflight_why[160];
	int seq;			/* reports so far */
	uint64_t last_ns;		/* CLOCK_MONOTONIC of the previous report */
	struct syslat_stat *prev_stats;	/* SYSLAT_MAX_NR cumulative stats at the previous report */
	void *prev_procs, *prev_cg, *prev_errs;
	int nprev_procs, nprev_cg, nprev_errs;
	const char *method;
	uint64_t t0;
	int ncpus;
	uint32_t tid_slots;		/* power of two >= pid_max, at most 2^20 */
	struct syslat_stat *percpu;	/* ncpus values, scratch for lookups */
};

struct sl_row {
	int nr;
	struct syslat_stat s;		/* summed over CPUs */
};

struct sl_prow {
	struct syslat_pkey k;
	struct syslat_pval v;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe syslat [--duration S] [--interval S] [--pid PID] [--comm C]\n"
		"                             [--syscall NAME] [--min-us N] [--top N] [--per-process]\n"
		"                             [--hist] [--errors] [--per-cgroup] [--cgroup PATH]\n"
		"                             [--cumulative] [--json] [--prom FILE] [-v]\n"
		"  per syscall: count, total/mean/max latency and a log2 latency histogram (--hist\n"
		"  prints it in text; JSON always has it). --per-process adds the top (process,\n"
		"  syscall) pairs, --per-cgroup the top (cgroup, syscall) pairs, --errors the\n"
		"  failed calls by syscall and errno. --min-us counts only calls at least that\n"
		"  slow. Syscalls still in progress at a report are listed (in flight).\n"
		"  --interval reports cover the time since the previous one (--cumulative: since\n"
		"  the start). --cgroup keeps the threads of that cgroup v2 directory and below.\n"
		"  --prom FILE writes Prometheus textfile metrics (counts since the start) at\n"
		"  each report.\n");
}

static const char *sc_name(int nr, char *buf, size_t size)
{
	const char *n = syscall_name(nr);

	if (n)
		return n;
	snprintf(buf, size, "syscall_%d", nr);
	return buf;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct sl_row *x = pa, *y = pb;

	if (x->s.total_ns != y->s.total_ns)
		return x->s.total_ns > y->s.total_ns ? -1 : 1;
	return x->nr - y->nr;
}

static int cmp_prows(const void *pa, const void *pb)
{
	const struct sl_prow *x = pa, *y = pb;

	if (x->v.total_ns != y->v.total_ns)
		return x->v.total_ns > y->v.total_ns ? -1 : 1;
	return (int)x->k.tgid - (int)y->k.tgid;
}

/* Sums the per-CPU array. Returns the number of syscalls seen (rows). */
static int read_stats(struct sl *s, struct sl_row *rows)
{
	int fd = bpf_map__fd(s->skel->maps.stats), n = 0;

	for (uint32_t nr = 0; nr < SYSLAT_MAX_NR; nr++) {
		struct sl_row r = { .nr = (int)nr };

		if (bpf_map_lookup_elem(fd, &nr, s->percpu))
			continue;
		for (int c = 0; c < s->ncpus; c++) {
			const struct syslat_stat *p = &s->percpu[c];

			r.s.count += p->count;
			r.s.total_ns += p->total_ns;
			if (p->max_ns > r.s.max_ns)
				r.s.max_ns = p->max_ns;
			for (int i = 0; i < SYSLAT_HIST_SLOTS; i++)
				r.s.hist[i] += p->hist[i];
		}
		if (s->prev_stats) {
			/* per interval: what ended since the previous report (max_ns
			 * cannot be split: it stays the maximum since attach) */
			struct syslat_stat cum = r.s, *p = &s->prev_stats[nr];

			r.s.count -= p->count;
			r.s.total_ns -= p->total_ns;
			for (int i = 0; i < SYSLAT_HIST_SLOTS; i++)
				r.s.hist[i] -= p->hist[i];
			*p = cum;
		}
		if (r.s.count)
			rows[n++] = r;
	}
	qsort(rows, n, sizeof(*rows), cmp_rows);
	return n;
}

static int cmp_erows(const void *pa, const void *pb)
{
	const struct sl_erow *x = pa, *y = pb;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->k.nr != y->k.nr ? (int)x->k.nr - (int)y->k.nr : (int)x->k.err - (int)y->k.err;
}

static int cmp_crows(const void *pa, const void *pb)
{
	const struct sl_crow *x = pa, *y = pb;

	if (x->v.total_ns != y->v.total_ns)
		return x->v.total_ns > y->v.total_ns ? -1 : 1;
	return x->k.nr - (int)y->k.nr;
}

struct sl_fl {
	struct syslat_inflight r;
	uint64_t for_ns;		/* in the syscall so far (since before attach: at least the run) */
};

static int cmp_fl(const void *pa, const void *pb)
{
	const struct sl_fl *x = pa, *y = pb;

	if (!x->r.since_ns != !y->r.since_ns)
		return !x->r.since_ns ? -1 : 1;
	if (x->for_ns != y->for_ns)
		return x->for_ns > y->for_ns ? -1 : 1;
	return (int)x->r.tid - (int)y->r.tid;
}

static int read_inflight(struct sl *s, uint64_t now, struct sl_fl **out)
{
	struct sl_fl *fl = NULL;
	int fd, n = 0, cap = 0;

	*out = NULL;
	if (!s->iter)
		return 0;
	fd = bpf_iter_create(bpf_link__fd(s->iter));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (n == cap) {
			struct sl_fl *r = realloc(fl, (cap = cap ? cap * 2 : 64) * sizeof(*fl));

			if (!r)
				break;
			fl = r;
		}
		if (read(fd, &fl[n].r, sizeof(fl[n].r)) != (ssize_t)sizeof(fl[n].r))
			break;
		fl[n].for_ns = fl[n].r.since_ns ? (now > fl[n].r.since_ns ? now - fl[n].r.since_ns : 0) : now - s->t0;
		if (fl[n].for_ns >= s->min_us * 1000)
			n++;
	}
	close(fd);
	if (n)
		qsort(fl, n, sizeof(*fl), cmp_fl);
	*out = fl;
	return n;
}

static const char *err_name(uint32_t e, char *buf, size_t size)
{
	const char *n = e < 4096 ? strerrorname_np((int)e) : NULL;

	if (n)
		return n;
	snprintf(buf, size, "errno_%u", e);
	return buf;
}

struct sl_missed {
	const char *key;
	uint64_t n;
	const char *why;
};

static int missed_list(struct sl *s, struct sl_missed *m)
{
	struct syslat_bpf__bss *b = s->skel->bss;
	int i = 0;

	m[i++] = (struct sl_missed){ "slot_collisions", b->collisions,
		"calls not counted: two threads whose ids share a slot of the thread array (pid_max above 2^20) were in a syscall at once" };
	m[i++] = (struct sl_missed){ "process_table_full", b->missed_procs,
		"--per-process: calls not recorded per process (65536 (pid, syscall) pairs, exited processes included); the per-syscall totals have them" };
	m[i++] = (struct sl_missed){ "cgroup_table_full", b->missed_cgroups,
		"--per-cgroup: calls not recorded per cgroup (16384 (cgroup, syscall) pairs); the per-syscall totals have them" };
	m[i++] = (struct sl_missed){ "error_table_full", b->missed_errs,
		"--errors: failed calls not recorded (4096 (syscall, errno) pairs)" };
	m[i++] = (struct sl_missed){ "nr_out_of_range", b->out_of_range,
		"calls with a syscall number >= 512 (not an x86_64 syscall): not counted" };
	return i;
}

struct sl_rep {
	struct sl_row *rows;
	int n;
	struct sl_prow *prows;
	int np;
	struct sl_erow *erows;
	int ne;
	struct sl_crow *crows;
	int nc;
	struct sl_fl *fl;
	int nfl;
	bool final;
	uint64_t now;
	double window;
	char at[40];
};

static void report_text(struct sl *s, struct sl_rep *R)
{
	int top = s->top ? s->top : 20, i, nm;
	uint64_t calls = 0, failed = 0;
	struct sl_missed m[8];
	bool deltas = s->prev_stats != NULL;
	char buf[32], path[512];

	for (i = 0; i < R->n; i++)
		calls += R->rows[i].s.count;
	printf("%s %.1f s (%s) at %s", R->final ? "syslat" : "syslat (interval)",
	       (R->now - s->t0) / 1e9, s->method, R->at);
	if (s->o.pid)
		printf(", pid %d%s", (int)s->o.pid, s->target.tid ? " (thread)" : "");
	if (s->o.comm[0])
		printf(", comm %s", s->o.comm);
	if (s->o.cgroup)
		printf(", cgroup %s", s->o.cgroup);
	if (s->min_us)
		printf(", calls >= %llu us", (unsigned long long)s->min_us);
	printf(": %llu syscalls%s\n", (unsigned long long)calls,
	       deltas ? (s->seq > 1 ? " since the previous report (MAX_US: since the start)" : " since the start") : "");
	printf("%-22s %10s %12s %11s %11s\n", "SYSCALL", "COUNT", "TOTAL_MS", "MEAN_US", "MAX_US");
	for (i = 0; i < R->n && i < top; i++) {
		const struct syslat_stat *st = &R->rows[i].s;

		printf("%-22s %10llu %12.3f %11.1f %11.1f\n", sc_name(R->rows[i].nr, buf, sizeof(buf)),
		       (unsigned long long)st->count, st->total_ns / 1e6,
		       st->total_ns / 1e3 / st->count, st->max_ns / 1e3);
	}
	if (R->n > top)
		printf("(%d more syscalls; --top N shows more)\n", R->n - top);
	if (s->hist || s->nr >= 0) {
		for (i = 0; i < R->n && i < top; i++) {
			printf("\n%s latency:\n", sc_name(R->rows[i].nr, buf, sizeof(buf)));
			probe_print_hist(stdout, R->rows[i].s.hist, SYSLAT_HIST_SLOTS, "usecs", "");
		}
	}
	if (s->per_process) {
		printf("\n%-8s %-16s %-22s %10s %12s %11s %11s\n", "PID", "COMM", "SYSCALL", "COUNT",
		       "TOTAL_MS", "MEAN_US", "MAX_US");
		for (i = 0; i < R->np && i < top; i++) {
			const struct syslat_pval *v = &R->prows[i].v;
			char comm[ESCAPE_COMM_MAX];

			printf("%-8u %-16s %-22s %10llu %12.3f %11.1f %11.1f\n", R->prows[i].k.tgid, escape_comm(comm, v->comm),
			       sc_name((int)R->prows[i].k.nr, buf, sizeof(buf)), (unsigned long long)v->count,
			       v->total_ns / 1e6, v->count ? v->total_ns / 1e3 / v->count : 0.0,
			       v->max_ns / 1e3);
		}
	}
	if (s->per_cgroup) {
		printf("\n%-40s %-22s %10s %12s\n", "CGROUP", "SYSCALL", "COUNT", "TOTAL_MS");
		for (i = 0; i < R->nc && i < top; i++) {
			probe_cgroup_path(R->crows[i].k.cgid, path, sizeof(path));
			printf("%-40s %-22s %10llu %12.3f\n", path, sc_name((int)R->crows[i].k.nr, buf, sizeof(buf)),
			       (unsigned long long)R->crows[i].v.count, R->crows[i].v.total_ns / 1e6);
		}
	}
	if (s->errors) {
		char eb[32];

		for (i = 0; i < R->ne; i++)
			failed += R->erows[i].count;
		printf("\nfailed calls: %llu\n%-22s %-16s %10s\n", (unsigned long long)failed, "SYSCALL", "ERRNO", "COUNT");
		for (i = 0; i < R->ne && i < top; i++)
			printf("%-22s %-16s %10llu\n", sc_name((int)R->erows[i].k.nr, buf, sizeof(buf)),
			       err_name(R->erows[i].k.err, eb, sizeof(eb)), (unsigned long long)R->erows[i].count);
	}
	if (!s->iter) {
		printf("\nin flight: not listed (%s)\n", s->inflight_why);
	} else {
		printf("\nin flight at %s: %d syscall%s in progress%s\n", R->at, R->nfl, R->nfl == 1 ? "" : "s",
		       R->nfl > top ? " (longest first; --top N shows more)" : R->nfl ? " (longest first)" : "");
		if (R->nfl)
			printf("%-8s %-8s %-16s %-22s %14s\n", "PID", "TID", "COMM", "SYSCALL", "FOR_MS");
		for (i = 0; i < R->nfl && i < top; i++) {
			const struct syslat_inflight *r = &R->fl[i].r;
			char comm[ESCAPE_COMM_MAX];

			printf("%-8u %-8u %-16s %-22s %s%13.3f\n", r->tgid, r->tid, escape_comm(comm, r->comm),
			       sc_name(r->nr, buf, sizeof(buf)),
			       r->since_ns ? " " : ">", R->fl[i].for_ns / 1e6);
		}
		if (R->nfl)
			printf("('>': in the call since before the probe started)\n");
	}
	probe_report_filter(&s->o, &s->target, s->skel->bss->qps_matched, R->final, stdout, NULL);
	nm = missed_list(s, m);
	for (i = 0; i < nm; i++) {
		if (!m[i].n)
			continue;
		printf("missed.%s %llu: %s\n", m[i].key, (unsigned long long)m[i].n, m[i].why);
		if (R->final)
			probe_warn(&s->o, "missed.%s %llu: %s", m[i].key, (unsigned long long)m[i].n, m[i].why);
	}
	if (!R->final)
		printf("\n");
	fflush(stdout);
}

static void report_json(struct sl *s, struct sl_rep *R)
{
	int top = s->top ? s->top : R->n, i, nm;
	uint64_t calls = 0, failed = 0;
	struct sl_missed m[8];
	struct json j;
	char buf[32], eb[32], path[512];

	for (i = 0; i < R->n; i++)
		calls += R->rows[i].s.count;
	json_init(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "schema", "qps-tune.probe.syslat/1");
	json_bool(&j, "final", R->final);
	json_double(&j, "elapsed_s", (R->now - s->t0) / 1e9);
	probe_json_stamp(&j, &s->o, s->seq, R->window);
	json_str(&j, "method", s->method);
	json_obj_open(&j, "filters");
	if (s->o.pid)
		json_int(&j, "pid", s->o.pid);
	else
		json_null(&j, "pid");
	if (s->target.tid)
		json_int(&j, "tid", s->target.tid);
	json_str(&j, "comm", s->o.comm[0] ? s->o.comm : NULL);
	json_str(&j, "cgroup", s->o.cgroup);
	json_str(&j, "syscall", s->nr >= 0 ? sc_name(s->nr, buf, sizeof(buf)) : NULL);
	json_uint(&j, "min_us", s->min_us);
	json_obj_close(&j);
	probe_report_filter(&s->o, &s->target, s->skel->bss->qps_matched, R->final, NULL, &j);
	json_obj_open(&j, "pid_namespace");
	json_uint(&j, "level", s->cfg.pidns_level ? s->skel->bss->qps_pidns_level : 0);
	json_uint(&j, "inode", s->cfg.pidns_ino);
	json_obj_close(&j);
	json_uint(&j, "total_calls", calls);
	json_arr_open(&j, "syscalls");
	for (i = 0; i < R->n && i < top; i++) {
		const struct syslat_stat *st = &R->rows[i].s;

		json_obj_open(&j, NULL);
		json_str(&j, "name", sc_name(R->rows[i].nr, buf, sizeof(buf)));
		json_int(&j, "nr", R->rows[i].nr);
		json_uint(&j, "count", st->count);
		json_double(&j, "total_us", st->total_ns / 1e3);
		json_double(&j, "mean_us", st->total_ns / 1e3 / st->count);
		json_double(&j, "max_us", st->max_ns / 1e3);
		probe_json_hist(&j, "hist_us", st->hist, SYSLAT_HIST_SLOTS);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	if (s->per_process) {
		json_arr_open(&j, "processes");
		for (i = 0; i < R->np && i < top; i++) {
			const struct syslat_pval *v = &R->prows[i].v;

			json_obj_open(&j, NULL);
			json_uint(&j, "pid", R->prows[i].k.tgid);
			json_str(&j, "comm", v->comm);
			json_str(&j, "name", sc_name((int)R->prows[i].k.nr, buf, sizeof(buf)));
			json_uint(&j, "count", v->count);
			json_double(&j, "total_us", v->total_ns / 1e3);
			json_double(&j, "mean_us", v->count ? v->total_ns / 1e3 / v->count : 0.0);
			json_double(&j, "max_us", v->max_ns / 1e3);
			json_obj_close(&j);
		}
		json_arr_close(&j);
	}
	if (s->per_cgroup) {
		json_arr_open(&j, "cgroups");
		for (i = 0; i < R->nc && i < top; i++) {
			probe_cgroup_path(R->crows[i].k.cgid, path, sizeof(path));
			json_obj_open(&j, NULL);
			json_str(&j, "cgroup", path);
			json_uint(&j, "id", R->crows[i].k.cgid);
			json_str(&j, "name", sc_name((int)R->crows[i].k.nr, buf, sizeof(buf)));
			json_uint(&j, "count", R->crows[i].v.count);
			json_double(&j, "total_us", R->crows[i].v.total_ns / 1e3);
			json_obj_close(&j);
		}
		json_arr_close(&j);
	}
	if (s->errors) {
		for (i = 0; i < R->ne; i++)
			failed += R->erows[i].count;
		json_uint(&j, "failed_calls", failed);
		json_arr_open(&j, "errors");
		for (i = 0; i < R->ne; i++) {
			json_obj_open(&j, NULL);
			json_str(&j, "name", sc_name((int)R->erows[i].k.nr, buf, sizeof(buf)));
			json_str(&j, "errno", err_name(R->erows[i].k.err, eb, sizeof(eb)));
			json_uint(&j, "errno_value", R->erows[i].k.err);
			json_uint(&j, "count", R->erows[i].count);
			json_obj_close(&j);
		}
		json_arr_close(&j);
	}
	json_obj_open(&j, "in_flight");
	json_bool(&j, "available", s->iter != NULL);
	json_str(&j, "why_not", s->iter ? NULL : s->inflight_why);
	json_uint(&j, "total", R->nfl);
	json_uint(&j, "not_visible", s->skel->bss->inflight_invisible);
	json_arr_open(&j, "calls");
	for (i = 0; i < R->nfl && i < (s->top ? s->top : 100); i++) {
		const struct syslat_inflight *r = &R->fl[i].r;

		probe_cgroup_path(r->cgid, path, sizeof(path));
		json_obj_open(&j, NULL);
		json_uint(&j, "pid", r->tgid);
		json_uint(&j, "tid", r->tid);
		json_str(&j, "comm", r->comm);
		json_str(&j, "name", sc_name(r->nr, buf, sizeof(buf)));
		json_int(&j, "nr", r->nr);
		json_double(&j, "for_us", R->fl[i].for_ns / 1e3);
		json_bool(&j, "since_before_start", !r->since_ns);
		if (r->since_ns) {
			char since[40];

			probe_stamp_ago(since, sizeof(since), R->fl[i].for_ns);
			json_str(&j, "since_at", since);
		} else {
			json_null(&j, "since_at");
		}
		json_str(&j, "cgroup", path);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_close(&j);
	nm = missed_list(s, m);
	json_obj_open(&j, "missed");
	for (i = 0; i < nm; i++)
		json_uint(&j, m[i].key, m[i].n);
	json_obj_open(&j, "causes");
	for (i = 0; i < nm; i++)
		json_str(&j, m[i].key, m[i].why);
	json_obj_close(&j);
	json_obj_close(&j);
	json_obj_close(&j);
	for (i = 0; R->final && i < nm; i++)
		if (m[i].n)
			probe_warn(&s->o, "missed.%s %llu: %s", m[i].key, (unsigned long long)m[i].n, m[i].why);
	fflush(stdout);
}

/* The node_exporter textfile: counts since the start whatever --interval
 * (Prometheus counters; rate() makes intervals): per-syscall latency
 * histograms, failed calls (--errors), missed calls by cause. */
static int write_prom(struct sl *s, const struct sl_rep *R)
{
	struct promfile *p = promfile_new(s->prom);
	const struct sl_erow *e = s->prev_stats ? s->prev_errs : R->erows;
	int ne = s->prev_stats ? s->nprev_errs : R->ne;
	struct sl_missed m[8];
	char buf[32], eb[32];
	int nm = missed_list(s, m), err;

	if (!p)
		return -errno;
	promfile_help(p, "qps_syslat_duration_seconds", "histogram", "syscall latency (entry to exit), by syscall");
	for (int nr = 0; nr < SYSLAT_MAX_NR; nr++) {
		const struct syslat_stat *st = NULL;

		if (s->prev_stats) {
			st = &s->prev_stats[nr];	/* cumulative since attach */
		} else {
			for (int i = 0; i < R->n && !st; i++)
				if (R->rows[i].nr == nr)
					st = &R->rows[i].s;
		}
		if (!st || !st->count)
			continue;
		promfile_log2_hist(p, "qps_syslat_duration_seconds",
				   (const char *[]){ "syscall", sc_name(nr, buf, sizeof(buf)), NULL },
				   (const unsigned long long *)st->hist, SYSLAT_HIST_SLOTS, 1e-6, st->total_ns / 1e9);
	}
	if (s->errors) {
		promfile_help(p, "qps_syslat_failed_calls_total", "counter", "failed syscalls, by syscall and errno");
		for (int i = 0; i < ne; i++)
			promfile_sample(p, "qps_syslat_failed_calls_total",
					(const char *[]){ "syscall", sc_name((int)e[i].k.nr, buf, sizeof(buf)), "errno",
							  err_name(e[i].k.err, eb, sizeof(eb)), NULL }, (double)e[i].count);
	}
	promfile_help(p, "qps_syslat_missed_total", "counter", "calls the probe could not count, by cause");
	for (int i = 0; i < nm; i++)
		promfile_sample(p, "qps_syslat_missed_total", (const char *[]){ "cause", m[i].key, NULL }, (double)m[i].n);
	err = promfile_commit(p);
	promfile_free(p);
	return err;
}

static int sl_tick(void *ctx, bool final)
{
	struct sl *s = ctx;
	struct sl_rep R = { .final = final, .now = probe_now_ns() };
	int err = 0;

	s->seq++;
	R.window = (R.now - (s->prev_stats ? s->last_ns : s->t0)) / 1e9;
	probe_stamp(R.at, sizeof(R.at));
	R.rows = calloc(SYSLAT_MAX_NR, sizeof(*R.rows));
	if (!R.rows)
		return -ENOMEM;
	R.n = read_stats(s, R.rows);
	if (s->per_process) {
		R.np = probe_map_dump(bpf_map__fd(s->skel->maps.procs), sizeof(struct syslat_pkey),
				      offsetof(struct sl_prow, v), sizeof(struct sl_prow), (void **)&R.prows);
		if (R.np > 0 && s->prev_stats)
			R.np = probe_delta_rows(R.prows, R.np, sizeof(*R.prows), sizeof(struct syslat_pkey),
						offsetof(struct sl_prow, v.count), 2, &s->prev_procs, &s->nprev_procs);
		if (R.np > 0)
			qsort(R.prows, R.np, sizeof(*R.prows), cmp_prows);
	}
	if (s->per_cgroup) {
		R.nc = probe_map_dump(bpf_map__fd(s->skel->maps.cgroups), sizeof(struct syslat_ckey),
				      offsetof(struct sl_crow, v), sizeof(struct sl_crow), (void **)&R.crows);
		if (R.nc > 0 && s->prev_stats)
			R.nc = probe_delta_rows(R.crows, R.nc, sizeof(*R.crows), sizeof(struct syslat_ckey),
						offsetof(struct sl_crow, v), 2, &s->prev_cg, &s->nprev_cg);
		if (R.nc > 0)
			qsort(R.crows, R.nc, sizeof(*R.crows), cmp_crows);
	}
	if (s->errors) {
		R.ne = probe_map_dump(bpf_map__fd(s->skel->maps.errs), sizeof(struct syslat_ekey),
				      offsetof(struct sl_erow, count), sizeof(struct sl_erow), (void **)&R.erows);
		if (R.ne > 0 && s->prev_stats)
			R.ne = probe_delta_rows(R.erows, R.ne, sizeof(*R.erows), sizeof(struct syslat_ekey),
						offsetof(struct sl_erow, count), 1, &s->prev_errs, &s->nprev_errs);
		if (R.ne > 0)
			qsort(R.erows, R.ne, sizeof(*R.erows), cmp_erows);
	}
	R.nfl = read_inflight(s, R.now, &R.fl);
	if (R.nfl < 0) {
		probe_warn(&s->o, "cannot list the syscalls in progress: %s", strerror(-R.nfl));
		R.nfl = 0;
	}
	if (R.np < 0 || R.nc < 0 || R.ne < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (s->o.json)
		report_json(s, &R);
	else
		report_text(s, &R);
	s->last_ns = R.now;
	if (s->prom) {
		err = write_prom(s, &R);
		if (err)
			probe_err(&s->o, "cannot write '%s': %s", s->prom, strerror(-err));
	}
out:
	free(R.prows);
	free(R.crows);
	free(R.erows);
	free(R.fl);
	free(R.rows);
	return err;
}

static int sl_load(struct sl *s, bool btf_tp, bool iter, struct syslat_bpf **out)
{
	struct syslat_bpf *k = syslat_bpf__open();
	int err;

	if (!k)
		return -errno;
	k->rodata->qps_cfg = s->cfg;
	k->rodata->target_nr = s->nr;
	k->rodata->errors = s->errors;
	k->rodata->per_cgroup = s->per_cgroup;
	k->rodata->min_ns = s->min_us * 1000;
	k->rodata->per_process = s->per_process;
	if (s->o.comm[0]) {
		k->rodata->filter_comm = true;
		memcpy((char *)k->rodata->target_comm, s->o.comm, sizeof(s->o.comm));
	}
	if (!s->per_process)
		bpf_map__set_max_entries(k->maps.procs, 1);
	if (!s->per_cgroup)
		bpf_map__set_max_entries(k->maps.cgroups, 1);
	if (!s->errors)
		bpf_map__set_max_entries(k->maps.errs, 1);
	k->rodata->tid_mask = s->tid_slots - 1;
	bpf_map__set_max_entries(k->maps.starts, s->tid_slots);
	k->rodata->nr_exit = syscall_nr("exit") >= 0 && syscall_name(syscall_nr("exit")) ? syscall_nr("exit") : -1;
	k->rodata->nr_exit_group = syscall_nr("exit_group") >= 0 && syscall_name(syscall_nr("exit_group")) ? syscall_nr("exit_group") : -1;
	bpf_program__set_autoload(k->progs.sl_enter_btf, btf_tp);
	bpf_program__set_autoload(k->progs.sl_exit_btf, btf_tp);
	bpf_program__set_autoload(k->progs.sl_enter_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.sl_exit_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.sl_task_exit_btf, btf_tp);
	bpf_program__set_autoload(k->progs.sl_task_exit_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.sl_inflight, iter);
	err = syslat_bpf__load(k);
	if (!err)
		err = syslat_bpf__attach(k);
	if (err) {
		syslat_bpf__destroy(k);
		return err;
	}
	*out = k;
	return 0;
}

int probe_syslat(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "syscall", required_argument, NULL, SL_SYSCALL },
		{ "min-us", required_argument, NULL, SL_MIN_US },
		{ "top", required_argument, NULL, SL_TOP },
		{ "per-process", no_argument, NULL, SL_PER_PROCESS },
		{ "hist", no_argument, NULL, SL_HIST },
		{ "errors", no_argument, NULL, SL_ERRORS },
		{ "per-cgroup", no_argument, NULL, SL_PER_CGROUP },
		{ "prom", required_argument, NULL, SL_PROM },
		{ NULL, 0, NULL, 0 },
	};
	struct sl s = { .nr = -1 };
	bool help = false;
	int c, err, end, ret = 1;
	uint64_t v;

	probe_opts_init(&s.o, "syslat");
	optind = 1;
	while ((c = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&s.o, c, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		switch (c) {
		case SL_SYSCALL:
			s.nr = syscall_nr(optarg);
			if (s.nr < 0 || s.nr >= SYSLAT_MAX_NR) {
				probe_err(&s.o, "unknown syscall '%s' (a name like 'read' or 'clock_nanosleep', or a number below %d)",
					optarg, SYSLAT_MAX_NR);
				return 2;
			}
			continue;
		case SL_MIN_US:
			if (probe_parse_u64(optarg, &s.min_us) || s.min_us > 86400000000ull) {
				probe_err(&s.o, "invalid --min-us '%s'", optarg);
				return 2;
			}
			continue;
		case SL_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 100000) {
				probe_err(&s.o, "invalid --top '%s': want a count >= 1", optarg);
				return 2;
			}
			s.top = (int)v;
			continue;
		case SL_PER_PROCESS:
			s.per_process = true;
			continue;
		case SL_HIST:
			s.hist = true;
			continue;
		case SL_ERRORS:
			s.errors = true;
			continue;
		case SL_PER_CGROUP:
			s.per_cgroup = true;
			continue;
		case SL_PROM:
			s.prom = optarg;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&s.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (s.o.cumulative && s.o.interval <= 0) {
		probe_err(&s.o, "--cumulative needs --interval");
		return 2;
	}
	if (probe_check_env(&s.o))
		return 1;
	if (probe_cfg_init(&s.o, false, &s.cfg, &s.target))
		return 1;
	probe_setup(&s.o);
	s.ncpus = libbpf_num_possible_cpus();
	if (s.ncpus <= 0) {
		probe_err(&s.o, "cannot count the possible CPUs: %s", strerror(s.ncpus ? -s.ncpus : EINVAL));
		return 1;
	}
	{
		long long pid_max = 32768;

		procfs_read_ll("/proc/sys/kernel/pid_max", &pid_max);
		for (s.tid_slots = 1024; s.tid_slots < pid_max && s.tid_slots < (1u << 20);)
			s.tid_slots <<= 1;
	}
	s.percpu = calloc(s.ncpus, sizeof(*s.percpu));
	if (!s.percpu) {
		probe_err(&s.o, "out of memory");
		return 1;
	}
	if (!probe_kernel_has_tp("sys_enter") || !probe_kernel_has_tp("sys_exit")) {
		probe_err(&s.o, "this kernel lacks the raw_syscalls:sys_enter/sys_exit tracepoints (CONFIG_HAVE_SYSCALL_TRACEPOINTS): syscall latency cannot be measured");
		goto out;
	}
	{
		static const struct { bool btf, iter; } plans[] = {
			{ true, true }, { false, true }, { true, false }, { false, false },
		};
		int iter_err = 0;

		err = -ENOENT;
		for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]) && err; i++) {
			if (plans[i].btf && !probe_try_tp_btf())
				continue;
			err = sl_load(&s, plans[i].btf, plans[i].iter, &s.skel);
			if (s.o.verbose)
				fprintf(stderr, "syslat: plan %zu (%s%s): %s\n", i, plans[i].btf ? "tp_btf" : "raw_tp",
					plans[i].iter ? " + iter/task" : "", err ? strerror(-err) : "loaded");
			if (err && plans[i].iter && !iter_err)
				iter_err = err;
			if (err)
				continue;
			s.method = plans[i].btf ?
				"tp_btf/sys_enter + tp_btf/sys_exit, per-thread slot array, per-CPU array" :
				"raw_tp/sys_enter + raw_tp/sys_exit, per-thread slot array, per-CPU array";
			if (plans[i].iter)
				s.iter = s.skel->links.sl_inflight;
			else
				snprintf(s.inflight_why, sizeof(s.inflight_why),
					 "the task iterator (iter/task) did not load: %s", strerror(-iter_err));
		}
	}
	if (err) {
		probe_load_err(&s.o, "load and attach the syslat BPF programs", err);
		goto out;
	}
	if (s.o.interval > 0 && !s.o.cumulative) {
		s.prev_stats = calloc(SYSLAT_MAX_NR, sizeof(*s.prev_stats));
		if (!s.prev_stats) {
			probe_err(&s.o, "out of memory");
			goto out;
		}
	}
	s.t0 = s.last_ns = probe_now_ns();
	probe_note(&s.o, "tracing syscalls (%s); Ctrl-C to end", s.method);
	ret = probe_run(&s.o, sl_tick, NULL, &s) ? 1 : 0;
out:
	syslat_bpf__destroy(s.skel);
	free(s.percpu);
	free(s.prev_stats);
	free(s.prev_procs);
	free(s.prev_cg);
	free(s.prev_errs);
	return ret;
}
