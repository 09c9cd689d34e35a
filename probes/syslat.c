/* syslat.c - `qps-tune probe syslat`: per-syscall count, total/mean/max
 * latency and a log2 latency histogram, optionally per process.
 *
 * Attach plan (first that loads wins): tp_btf/sys_enter+sys_exit ->
 * raw_tp/sys_enter+sys_exit. Neither needs tracefs. Latency is measured from
 * sys_enter to sys_exit of the same thread (bpf/syslat.bpf.c); calls already
 * in progress at attach are not counted, calls in progress at the report are
 * not counted yet. Reports are cumulative since attach.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bpf/syslat.h"
#include "common.h"
#include "json.h"
#include "procfs.h"
#include "syscalls.h"
#include "syslat.skel.h"

enum { SL_SYSCALL = 0x200, SL_MIN_US, SL_TOP, SL_PER_PROCESS, SL_HIST };

struct sl {
	struct probe_opts o;
	int nr;				/* --syscall, -1: all */
	uint64_t min_us;
	int top;			/* 0: 20 in text, all in JSON */
	bool per_process, hist;
	struct syslat_bpf *skel;
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
		"                             [--hist] [--json] [-v]\n"
		"  per syscall: count, total/mean/max latency and a log2 latency histogram (--hist\n"
		"  prints it in text; JSON always has it). --per-process adds the top (process,\n"
		"  syscall) pairs. --min-us counts only calls at least that slow. Reports are\n"
		"  cumulative since the probe attached.\n");
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
		if (r.s.count)
			rows[n++] = r;
	}
	qsort(rows, n, sizeof(*rows), cmp_rows);
	return n;
}

static int read_procs(struct sl *s, struct sl_prow **out)
{
	int fd = bpf_map__fd(s->skel->maps.procs), n = 0, cap = 256;
	struct sl_prow *rows = malloc(cap * sizeof(*rows));
	struct syslat_pkey key, next;
	bool first = true;

	if (!rows)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (n == cap) {
			struct sl_prow *r = realloc(rows, (cap *= 2) * sizeof(*rows));

			if (!r)
				break;
			rows = r;
		}
		rows[n].k = key;
		if (bpf_map_lookup_elem(fd, &key, &rows[n].v) == 0)
			n++;
	}
	qsort(rows, n, sizeof(*rows), cmp_prows);
	*out = rows;
	return n;
}

static void report_text(struct sl *s, struct sl_row *rows, int n, struct sl_prow *prows,
			int np, bool final)
{
	int top = s->top ? s->top : 20, i;
	uint64_t calls = 0;
	char buf[32];

	for (i = 0; i < n; i++)
		calls += rows[i].s.count;
	printf("%s %.1f s (%s)", final ? "syslat" : "syslat (so far)",
	       (probe_now_ns() - s->t0) / 1e9, s->method);
	if (s->o.pid)
		printf(", pid %d", (int)s->o.pid);
	if (s->o.comm[0])
		printf(", comm %s", s->o.comm);
	if (s->min_us)
		printf(", calls >= %llu us", (unsigned long long)s->min_us);
	printf(": %llu syscalls\n", (unsigned long long)calls);
	printf("%-22s %10s %12s %11s %11s\n", "SYSCALL", "COUNT", "TOTAL_MS", "MEAN_US", "MAX_US");
	for (i = 0; i < n && i < top; i++) {
		const struct syslat_stat *st = &rows[i].s;

		printf("%-22s %10llu %12.3f %11.1f %11.1f\n", sc_name(rows[i].nr, buf, sizeof(buf)),
		       (unsigned long long)st->count, st->total_ns / 1e6,
		       st->total_ns / 1e3 / st->count, st->max_ns / 1e3);
	}
	if (n > top)
		printf("(%d more syscalls; --top N shows more)\n", n - top);
	if (s->hist || s->nr >= 0) {
		for (i = 0; i < n && i < top; i++) {
			printf("\n%s latency:\n", sc_name(rows[i].nr, buf, sizeof(buf)));
			probe_print_hist(stdout, rows[i].s.hist, SYSLAT_HIST_SLOTS, "usecs", "");
		}
	}
	if (s->per_process) {
		printf("\n%-8s %-16s %-22s %10s %12s %11s %11s\n", "PID", "COMM", "SYSCALL", "COUNT",
		       "TOTAL_MS", "MEAN_US", "MAX_US");
		for (i = 0; i < np && i < top; i++) {
			const struct syslat_pval *v = &prows[i].v;

			printf("%-8u %-16s %-22s %10llu %12.3f %11.1f %11.1f\n", prows[i].k.tgid, v->comm,
			       sc_name((int)prows[i].k.nr, buf, sizeof(buf)), (unsigned long long)v->count,
			       v->total_ns / 1e6, v->count ? v->total_ns / 1e3 / v->count : 0.0,
			       v->max_ns / 1e3);
		}
	}
	if (s->skel->bss->collisions || s->skel->bss->missed_procs || s->skel->bss->out_of_range)
		printf("not counted: %llu calls (thread slot taken by another thread), %llu (process table full), %llu (syscall number >= %d)\n",
		       (unsigned long long)s->skel->bss->collisions,
		       (unsigned long long)s->skel->bss->missed_procs,
		       (unsigned long long)s->skel->bss->out_of_range, SYSLAT_MAX_NR);
	if (!final)
		printf("\n");
	fflush(stdout);
}

static void report_json(struct sl *s, struct sl_row *rows, int n, struct sl_prow *prows,
			int np, bool final)
{
	int top = s->top ? s->top : n, i;
	uint64_t calls = 0;
	struct json j;
	char buf[32];

	for (i = 0; i < n; i++)
		calls += rows[i].s.count;
	json_init(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "schema", "qps-tune.probe.syslat/1");
	json_bool(&j, "final", final);
	json_double(&j, "elapsed_s", (probe_now_ns() - s->t0) / 1e9);
	json_str(&j, "method", s->method);
	json_obj_open(&j, "filters");
	if (s->o.pid)
		json_int(&j, "pid", s->o.pid);
	else
		json_null(&j, "pid");
	json_str(&j, "comm", s->o.comm[0] ? s->o.comm : NULL);
	json_str(&j, "syscall", s->nr >= 0 ? sc_name(s->nr, buf, sizeof(buf)) : NULL);
	json_uint(&j, "min_us", s->min_us);
	json_obj_close(&j);
	json_uint(&j, "total_calls", calls);
	json_arr_open(&j, "syscalls");
	for (i = 0; i < n && i < top; i++) {
		const struct syslat_stat *st = &rows[i].s;

		json_obj_open(&j, NULL);
		json_str(&j, "name", sc_name(rows[i].nr, buf, sizeof(buf)));
		json_int(&j, "nr", rows[i].nr);
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
		for (i = 0; i < np && i < top; i++) {
			const struct syslat_pval *v = &prows[i].v;

			json_obj_open(&j, NULL);
			json_uint(&j, "pid", prows[i].k.tgid);
			json_str(&j, "comm", v->comm);
			json_str(&j, "name", sc_name((int)prows[i].k.nr, buf, sizeof(buf)));
			json_uint(&j, "count", v->count);
			json_double(&j, "total_us", v->total_ns / 1e3);
			json_double(&j, "mean_us", v->count ? v->total_ns / 1e3 / v->count : 0.0);
			json_double(&j, "max_us", v->max_ns / 1e3);
			json_obj_close(&j);
		}
		json_arr_close(&j);
	}
	json_obj_open(&j, "missed");
	json_uint(&j, "slot_collisions", s->skel->bss->collisions);
	json_uint(&j, "process_table_full", s->skel->bss->missed_procs);
	json_uint(&j, "nr_out_of_range", s->skel->bss->out_of_range);
	json_obj_close(&j);
	json_obj_close(&j);
	fflush(stdout);
}

static int sl_tick(void *ctx, bool final)
{
	struct sl *s = ctx;
	struct sl_row *rows = calloc(SYSLAT_MAX_NR, sizeof(*rows));
	struct sl_prow *prows = NULL;
	int n, np = 0;

	if (!rows)
		return -ENOMEM;
	n = read_stats(s, rows);
	if (s->per_process) {
		np = read_procs(s, &prows);
		if (np < 0)
			np = 0;
	}
	if (s->o.json)
		report_json(s, rows, n, prows, np, final);
	else
		report_text(s, rows, n, prows, np, final);
	free(prows);
	free(rows);
	return 0;
}

static int sl_load(struct sl *s, bool btf_tp, struct syslat_bpf **out)
{
	struct syslat_bpf *k = syslat_bpf__open();
	int err;

	if (!k)
		return -errno;
	k->rodata->target_tgid = (uint32_t)s->o.pid;
	k->rodata->self_tgid = (uint32_t)getpid();
	k->rodata->target_nr = s->nr;
	k->rodata->min_ns = s->min_us * 1000;
	k->rodata->per_process = s->per_process;
	if (s->o.comm[0]) {
		k->rodata->filter_comm = true;
		memcpy((char *)k->rodata->target_comm, s->o.comm, sizeof(s->o.comm));
	}
	if (!s->per_process)
		bpf_map__set_max_entries(k->maps.procs, 1);
	k->rodata->tid_mask = s->tid_slots - 1;
	bpf_map__set_max_entries(k->maps.starts, s->tid_slots);
	k->rodata->nr_exit = syscall_nr("exit") >= 0 && syscall_name(syscall_nr("exit")) ? syscall_nr("exit") : -1;
	k->rodata->nr_exit_group = syscall_nr("exit_group") >= 0 && syscall_name(syscall_nr("exit_group")) ? syscall_nr("exit_group") : -1;
	bpf_program__set_autoload(k->progs.sl_enter_btf, btf_tp);
	bpf_program__set_autoload(k->progs.sl_exit_btf, btf_tp);
	bpf_program__set_autoload(k->progs.sl_enter_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.sl_exit_raw, !btf_tp);
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
				fprintf(stderr, "qps-tune: probe syslat: unknown syscall '%s' (a name like 'read' or 'clock_nanosleep', or a number below %d)\n",
					optarg, SYSLAT_MAX_NR);
				return 2;
			}
			continue;
		case SL_MIN_US:
			if (probe_parse_u64(optarg, &s.min_us) || s.min_us > 86400000000ull) {
				fprintf(stderr, "qps-tune: probe syslat: invalid --min-us '%s'\n", optarg);
				return 2;
			}
			continue;
		case SL_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 100000) {
				fprintf(stderr, "qps-tune: probe syslat: invalid --top '%s': want a count >= 1\n", optarg);
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
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&s.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (probe_check_env(&s.o))
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
	err = probe_try_tp_btf() ? sl_load(&s, true, &s.skel) : -ENOTSUP;
	s.method = "tp_btf/sys_enter + tp_btf/sys_exit, per-thread slot array, per-CPU array";
	if (err) {
		if (s.o.verbose)
			fprintf(stderr, "syslat: tp_btf failed (%s), trying raw_tp\n", strerror(-err));
		err = sl_load(&s, false, &s.skel);
		s.method = "raw_tp/sys_enter + raw_tp/sys_exit, per-thread slot array, per-CPU array";
	}
	if (err) {
		probe_load_err(&s.o, "load and attach the syslat BPF programs", err);
		goto out;
	}
	s.t0 = probe_now_ns();
	probe_note(&s.o, "tracing syscalls (%s); Ctrl-C to end", s.method);
	ret = probe_run(&s.o, sl_tick, NULL, &s) ? 1 : 0;
out:
	syslat_bpf__destroy(s.skel);
	free(s.percpu);
	return ret;
}
