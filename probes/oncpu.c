/* oncpu.c - `qps-tune probe oncpu`: an on-CPU profile by kernel + user stack.
 *
 * A cpu-clock software perf event (a timer: works without a PMU, in VMs) on
 * every online CPU, with a fixed period of 1/--freq seconds of CPU time, runs
 * bpf/oncpu.bpf.c on each tick; it counts samples per (process, user stack,
 * kernel stack) in the kernel. Processes are announced to us at their first
 * sample and at each exec, and we snapshot their maps then (as offcpu does),
 * so short-lived processes still resolve.
 *
 * Outputs: the top functions by self samples (innermost frame) and by total
 * samples (anywhere on the stack, once per sample); --json; --folded (root
 * first, kernel frames suffixed _[k]); --pprof FILE (gzip'd profile.proto
 * for `go tool pprof`); --svg FILE (interactive flame graph). Files are
 * written at each --interval and at the end, atomically.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/magic.h>
#include <linux/perf_event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../bpf/oncpu.h"
#include "common.h"
#include "flamegraph.h"
#include "json.h"
#include "ksyms.h"
#include "oncpu.skel.h"
#include "pprof.h"
#include "promfile.h"
#include "usyms.h"

enum { ON_FREQ = 0x200, ON_TOP, ON_FOLDED, ON_PPROF, ON_SVG, ON_PROM };

#define ON_MAX_CPUS 1024
#define ON_NAME 96			/* bytes per frame name */

struct on {
	struct probe_opts o;
	uint64_t freq;			/* samples per second of CPU time, per CPU */
	const char *cgroup, *pprof, *svg, *prom;
	uint64_t cgroup_id;
	bool cgroup_v1;			/* cgroup_id is of the v1 cpu hierarchy */
	bool folded;
	int top;			/* rows in the text tables; 0: 15 */
	struct oncpu_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[ON_MAX_CPUS];
	int pfds[ON_MAX_CPUS];
	int ncpu;
	struct ksyms *ksyms;
	struct usyms *usyms;
	const char *method;
	uint64_t t0;
	double wall0;
	uint64_t snap_fail;		/* announced processes whose maps we could not read */
	struct probe_cfg cfg;		/* qps_cfg: pid namespace, --pid, --cgroup (v2) */
	struct probe_target target;
	void *prev;			/* last report's cumulative rows (per-interval deltas) */
	int nprev;
	int seq;			/* reports so far */
	uint64_t last_ns;		/* CLOCK_MONOTONIC of the last report (t0 at first) */
};

struct on_row {
	struct oncpu_key k;
	uint64_t n;
};

/* one function's counts (name includes "_[k]" for kernel frames) */
struct on_fn {
	char name[ON_NAME];
	uint64_t self, total, last_row;	/* last_row: counted once per stack */
};

struct fn_table {
	struct on_fn *v;
	size_t n, cap;			/* cap: power of two, open addressing */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe oncpu [--duration S] [--interval S] [--pid PID] [--comm C]\n"
		"                            [--cgroup PATH] [--freq HZ] [--top N]\n"
		"                            [--folded | --json] [--pprof FILE] [--svg FILE] [--prom FILE] [-v]\n"
		"  sample what runs on every CPU --freq times per second of CPU time (default 99,\n"
		"  a cpu-clock timer), with kernel + user stacks. Prints the top functions by\n"
		"  self samples (innermost frame) and total samples (anywhere on the stack).\n"
		"  --cgroup: only tasks of that cgroup (a v2 directory or one of the v1 cpu\n"
		"  hierarchy; absolute, or relative to /sys/fs/cgroup). --folded: 'comm;user frames;kernel frames_[k] samples' lines.\n"
		"  --pprof FILE: gzip'd profile.proto for 'go tool pprof'. --svg FILE: an\n"
		"  interactive flame graph. --prom FILE: node_exporter textfile metrics.\n");
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct on *c = ctx;
	const struct oncpu_event *e = data;

	if (size < sizeof(*e))
		return 0;
	if (usyms_snapshot(c->usyms, (pid_t)e->tgid, e->gen) && !usyms_has(c->usyms, (pid_t)e->tgid, e->gen))
		c->snap_fail++;
	return 0;
}

static int on_poll(void *ctx, int ms)
{
	struct on *c = ctx;
	int err = ring_buffer__poll(c->rb, ms);

	return err < 0 ? err : 0;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct on_row *x = pa, *y = pb;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return 0;
}

static int read_rows(struct on *c, struct on_row **out)
{
	int n = probe_map_dump(bpf_map__fd(c->skel->maps.counts), sizeof(struct oncpu_key),
			       offsetof(struct on_row, n), sizeof(struct on_row), (void **)out);

	if (n > 0)
		qsort(*out, n, sizeof(**out), cmp_rows);
	return n;
}

/* A symbolized sample stack, root first: [comm], user outermost..innermost,
 * kernel outermost..innermost (suffixed _[k]). */
struct stack {
	int n, first;			/* frames; index of the first after the comm */
	bool ulost, klost;
	char name[2 * ONCPU_MAX_DEPTH + 3][ON_NAME];
};

static bool is_tracing_frame(const char *s)
{
	return !strncmp(s, "bpf_prog_", 9) || !strncmp(s, "bpf_trace_run", 13) ||
	       !strncmp(s, "__bpf_trace_", 12) || !strncmp(s, "__traceiter_", 12) ||
	       !strncmp(s, "bpf_overflow_handler", 20) || !strncmp(s, "__perf_event_overflow", 21) ||
	       !strncmp(s, "perf_swevent_hrtimer", 20) || !strncmp(s, "perf_event_overflow", 19);
}

static void resolve(struct on *c, const struct on_row *r, struct stack *st)
{
	uint64_t ips[ONCPU_MAX_DEPTH];
	int fd = bpf_map__fd(c->skel->maps.stack_traces), i, n;
	char tmp[ONCPU_MAX_DEPTH][ON_NAME];

	st->n = 0;
	snprintf(st->name[st->n++], ON_NAME, "%s", r->k.tgid ? r->k.comm : "[idle]");
	st->first = st->n;
	st->ulost = r->k.ustack < 0 && r->k.ustack != -14 /* -EFAULT: none */;
	st->klost = r->k.kstack < 0 && r->k.kstack != -14;
	if (st->ulost)
		snprintf(st->name[st->n++], ON_NAME, "[lost]");
	n = 0;
	if (r->k.ustack >= 0 && !bpf_map_lookup_elem(fd, &r->k.ustack, ips)) {
		for (i = 0; i < ONCPU_MAX_DEPTH && ips[i]; i++) {
			/* return addresses point after the call: look up addr-1 */
			enum usyms_result res = usyms_resolve(c->usyms, (pid_t)r->k.tgid, r->k.gen,
							      i ? ips[i] - 1 : ips[i], tmp[n], ON_NAME);

			/* past a broken frame-pointer link every frame is noise */
			if (res == USYMS_NOT_MAPPED && i > 0)
				break;
			n++;
		}
	}
	while (n > 0)
		memcpy(st->name[st->n++], tmp[--n], ON_NAME);
	if (st->klost)
		snprintf(st->name[st->n++], ON_NAME, "[lost]_[k]");
	n = 0;
	if (r->k.kstack >= 0 && !bpf_map_lookup_elem(fd, &r->k.kstack, ips)) {
		for (i = 0; i < ONCPU_MAX_DEPTH && ips[i]; i++) {
			const char *s = c->ksyms ? ksyms_find(c->ksyms, ips[i], NULL) : NULL;

			/* the innermost frames are the sampling machinery itself */
			if (s && n == 0 && is_tracing_frame(s))
				continue;
			if (s)
				snprintf(tmp[n], ON_NAME, "%.90s_[k]", s);
			else
				snprintf(tmp[n], ON_NAME, "0x%llx_[k]", (unsigned long long)ips[i]);
			n++;
		}
	}
	while (n > 0)
		memcpy(st->name[st->n++], tmp[--n], ON_NAME);
}

static struct on_fn *fn_get(struct fn_table *t, const char *name)
{
	size_t h = 5381, i;

	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct on_fn *v = calloc(cap, sizeof(*v));

		if (!v)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			if (!t->v[k].name[0])
				continue;
			size_t hk = 5381;

			for (const char *s = t->v[k].name; *s; s++)
				hk = hk * 33 + (unsigned char)*s;
			for (i = hk & (cap - 1); v[i].name[0]; i = (i + 1) & (cap - 1))
				;
			v[i] = t->v[k];
		}
		free(t->v);
		t->v = v;
		t->cap = cap;
	}
	for (const char *s = name; *s; s++)
		h = h * 33 + (unsigned char)*s;
	for (i = h & (t->cap - 1); t->v[i].name[0]; i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	snprintf(t->v[i].name, ON_NAME, "%s", name);
	t->n++;
	return &t->v[i];
}

static int cmp_self(const void *pa, const void *pb)
{
	const struct on_fn *x = pa, *y = pb;

	if (x->self != y->self)
		return x->self > y->self ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_total(const void *pa, const void *pb)
{
	const struct on_fn *x = pa, *y = pb;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* "name_[k]" -> "name" and kernel = true */
static const char *plain(const char *name, char *buf, bool *kernel)
{
	size_t len = strlen(name);

	*kernel = len > 4 && !strcmp(name + len - 4, "_[k]");
	snprintf(buf, ON_NAME, "%.*s", (int)(*kernel ? len - 4 : len), name);
	return buf;
}

static void print_lost(struct on *c, bool json, struct json *j)
{
	struct oncpu_bpf__bss *b = c->skel->bss;

	if (json) {
		json_obj_open(j, "lost");
		json_uint(j, "stacks", b->lost_stacks);
		json_uint(j, "samples", b->lost_keys);
		json_uint(j, "process_announcements", b->lost_events);
		json_uint(j, "maps_unreadable", c->snap_fail);
		json_obj_close(j);
		return;
	}
	if (b->lost_stacks || b->lost_keys || b->lost_events || c->snap_fail)
		fprintf(c->folded ? stderr : stdout,
			"lost: %llu stacks (stack map full or hash collision), %llu samples (stack-key table full), %llu process announcements, %llu processes whose maps could not be read\n",
			(unsigned long long)b->lost_stacks, (unsigned long long)b->lost_keys,
			(unsigned long long)b->lost_events, (unsigned long long)c->snap_fail);
}

static int write_prom(struct on *c, const struct on_fn *fns, size_t nfn, uint64_t total)
{
	struct promfile *p = promfile_new(c->prom);
	struct oncpu_bpf__bss *b = c->skel->bss;
	char name[ON_NAME];
	bool k;
	int err;

	if (!p)
		return -errno;
	promfile_help(p, "qps_oncpu_samples_total", "counter", "CPU samples taken by qps-tune probe oncpu that passed its filters");
	promfile_sample(p, "qps_oncpu_samples_total", NULL, (double)total);
	promfile_help(p, "qps_oncpu_lost_samples_total", "counter", "samples not recorded (stack-key table full)");
	promfile_sample(p, "qps_oncpu_lost_samples_total", NULL, (double)b->lost_keys);
	promfile_help(p, "qps_oncpu_function_self_samples_total", "counter", "samples whose innermost frame is this function (top 50)");
	for (size_t i = 0; i < nfn && i < 50; i++) {
		plain(fns[i].name, name, &k);
		promfile_sample(p, "qps_oncpu_function_self_samples_total", (const char *[]){ "function", name, "space", k ? "kernel" : "user", NULL },
				(double)fns[i].self);
	}
	promfile_help(p, "qps_oncpu_frequency_hertz", "gauge", "sampling frequency per CPU");
	promfile_sample(p, "qps_oncpu_frequency_hertz", NULL, (double)c->freq);
	err = promfile_commit(p);
	promfile_free(p);
	return err;
}

static int on_tick(void *ctx, bool final)
{
	struct on *c = ctx;
	struct on_row *rows = NULL;
	struct stack *st = NULL;
	struct fn_table ft = { 0 };
	struct flamegraph *fg = NULL;
	struct pprof *pp = NULL;
	uint64_t total = 0;
	struct json j;
	int n, i, f, top, err = 0;
	uint64_t now = probe_now_ns();
	double elapsed = (now - c->t0) / 1e9, window = (now - (c->o.cumulative ? c->t0 : c->last_ns)) / 1e9;
	bool deltas = c->o.interval > 0 && !c->o.cumulative;
	char at[40];

	ring_buffer__consume(c->rb);
	c->seq++;
	probe_stamp(at, sizeof(at));
	n = read_rows(c, &rows);
	if (n < 0)
		return n;
	if (deltas) {
		/* per-interval samples: what each stack gained since the last report */
		n = probe_delta_rows(rows, n, sizeof(*rows), sizeof(rows->k), offsetof(struct on_row, n), 1,
				     &c->prev, &c->nprev);
		if (n < 0) {
			free(rows);
			return n;
		}
		qsort(rows, n, sizeof(*rows), cmp_rows);
	}
	c->last_ns = now;
	st = malloc(sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		goto out;
	}
	if (c->svg && !(fg = flamegraph_new())) {
		err = -ENOMEM;
		goto out;
	}
	if (c->pprof && !(pp = pprof_new("cpu", "nanoseconds", (int64_t)(1000000000ull / c->freq)))) {
		err = -ENOMEM;
		goto out;
	}
	/* refresh the current image of live processes (libraries loaded since) */
	for (i = 0; i < n; i++) {
		uint32_t cur;

		if (rows[i].k.ustack < 0 || !rows[i].k.gen)
			continue;
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.known_tgids), &rows[i].k.tgid, &cur) == 0 &&
		    cur == rows[i].k.gen && !usyms_has(c->usyms, (pid_t)rows[i].k.tgid, cur))
			usyms_snapshot(c->usyms, (pid_t)rows[i].k.tgid, cur);
	}
	for (i = 0; i < n; i++)
		total += rows[i].n;
	if (c->o.json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.probe.oncpu/1");
		json_bool(&j, "final", final);
		json_double(&j, "elapsed_s", elapsed);
		probe_json_stamp(&j, &c->o, c->seq, window);
		json_str(&j, "method", c->method);
		json_uint(&j, "freq_hz", c->freq);
		json_uint(&j, "cpus", c->ncpu);
		json_obj_open(&j, "filters");
		if (c->o.pid)
			json_int(&j, "pid", c->o.pid);
		else
			json_null(&j, "pid");
		json_str(&j, "comm", c->o.comm[0] ? c->o.comm : NULL);
		json_str(&j, "cgroup", c->cgroup);
		json_obj_close(&j);
		probe_report_filter(&c->o, &c->target, c->skel->bss->qps_matched, final, NULL, &j);
		json_obj_open(&j, "pid_namespace");
		json_uint(&j, "level", c->cfg.pidns_level ? c->skel->bss->qps_pidns_level : 0);
		json_uint(&j, "inode", c->cfg.pidns_ino);
		json_obj_close(&j);
		json_uint(&j, "samples", total);
		json_uint(&j, "idle_samples", c->skel->bss->idle_samples);
		/* a tool that cannot see says so: an empty profile is explained */
		json_str(&j, "empty", total ? NULL : c->o.pid || c->o.comm[0] || c->cgroup ?
			 "no sample matched the filters (the target did not run on a CPU)" : "no sample was taken");
		json_arr_open(&j, "stacks");
	}
	for (i = 0; i < n; i++) {
		const struct on_row *r = &rows[i];

		resolve(c, r, st);
		/* self: the innermost frame; total: every distinct frame once */
		for (f = st->first; f < st->n; f++) {
			struct on_fn *fn = fn_get(&ft, st->name[f]);

			if (!fn) {
				err = -ENOMEM;
				goto out;
			}
			if (f == st->n - 1)
				fn->self += r->n;
			if (fn->last_row != (uint64_t)i + 1) {
				fn->total += r->n;
				fn->last_row = (uint64_t)i + 1;
			}
		}
		if (fg) {
			const char *fr[2 * ONCPU_MAX_DEPTH + 3];

			for (f = 0; f < st->n; f++)
				fr[f] = st->name[f];
			if (flamegraph_add(fg, fr, st->n, r->n)) {
				err = -ENOMEM;
				goto out;
			}
		}
		if (pp) {
			const char *fr[2 * ONCPU_MAX_DEPTH + 3];
			int m = 0;

			for (f = st->n - 1; f >= st->first; f--)
				fr[m++] = st->name[f];
			if (pprof_add(pp, fr, m, r->n)) {
				err = -ENOMEM;
				goto out;
			}
		}
		if (c->o.json) {
			char name[ON_NAME];
			bool k;

			json_obj_open(&j, NULL);
			json_uint(&j, "pid", r->k.tgid);
			json_str(&j, "comm", st->name[0]);
			json_uint(&j, "samples", r->n);
			json_arr_open(&j, "kernel");	/* innermost first, like offcpu */
			for (f = st->n - 1; f >= st->first; f--) {
				plain(st->name[f], name, &k);
				if (k)
					json_str(&j, NULL, name);
			}
			json_arr_close(&j);
			json_arr_open(&j, "user");
			for (f = st->n - 1; f >= st->first; f--) {
				plain(st->name[f], name, &k);
				if (!k)
					json_str(&j, NULL, name);
			}
			json_arr_close(&j);
			json_bool(&j, "kernel_lost", st->klost);
			json_bool(&j, "user_lost", st->ulost);
			json_obj_close(&j);
		} else if (c->folded) {
			for (f = 0; f < st->n; f++)
				printf("%s%s", f ? ";" : "", st->name[f]);
			printf(" %llu\n", (unsigned long long)r->n);
		}
	}
	/* compact the table for sorting */
	size_t nfn = 0;

	for (size_t k = 0; k < ft.cap; k++)
		if (ft.v[k].name[0])
			ft.v[nfn++] = ft.v[k];
	top = c->top ? c->top : 15;
	if (c->o.json) {
		char name[ON_NAME];
		bool k;

		json_arr_close(&j);
		if (nfn)
			qsort(ft.v, nfn, sizeof(*ft.v), cmp_self);
		json_arr_open(&j, "functions");
		for (size_t x = 0; x < nfn; x++) {
			json_obj_open(&j, NULL);
			json_str(&j, "name", plain(ft.v[x].name, name, &k));
			json_str(&j, "space", k ? "kernel" : "user");
			json_uint(&j, "self", ft.v[x].self);
			json_uint(&j, "total", ft.v[x].total);
			json_double(&j, "self_pct", total ? 100.0 * ft.v[x].self / total : 0);
			json_double(&j, "total_pct", total ? 100.0 * ft.v[x].total / total : 0);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		probe_report_usyms(&c->o, c->usyms, final, NULL, &j);
		print_lost(c, true, &j);
		json_obj_close(&j);
	} else if (!c->folded) {
		char name[ON_NAME];
		bool k;

		printf("%s %.1f s (%s, %llu Hz on %d CPUs) at %s, %llu samples in %d stacks (%llu idle samples not shown)%s\n",
		       final ? "oncpu" : "oncpu (interval)", elapsed, c->method, (unsigned long long)c->freq,
		       c->ncpu, at, (unsigned long long)total, n, (unsigned long long)c->skel->bss->idle_samples,
		       deltas ? (c->seq > 1 ? "; since the previous report" : "; since the start") : "");
		if (total) {
			if (nfn)
			qsort(ft.v, nfn, sizeof(*ft.v), cmp_self);
			printf("\n%10s %7s %10s %7s  %-2s %s\n", "self", "self%", "total", "total%", "", "function (by self)");
			for (size_t x = 0; x < nfn && x < (size_t)top; x++)
				printf("%10llu %6.2f%% %10llu %6.2f%%  %-2s %s\n", (unsigned long long)ft.v[x].self,
				       100.0 * ft.v[x].self / total, (unsigned long long)ft.v[x].total,
				       100.0 * ft.v[x].total / total, plain(ft.v[x].name, name, &k) && k ? "k" : "u", name);
			if (nfn)
			qsort(ft.v, nfn, sizeof(*ft.v), cmp_total);
			printf("\n%10s %7s %10s %7s  %-2s %s\n", "total", "total%", "self", "self%", "", "function (by total)");
			for (size_t x = 0; x < nfn && x < (size_t)top; x++)
				printf("%10llu %6.2f%% %10llu %6.2f%%  %-2s %s\n", (unsigned long long)ft.v[x].total,
				       100.0 * ft.v[x].total / total, (unsigned long long)ft.v[x].self,
				       100.0 * ft.v[x].self / total, plain(ft.v[x].name, name, &k) && k ? "k" : "u", name);
		} else {
			printf("no samples matched the filters\n");
		}
		probe_report_filter(&c->o, &c->target, c->skel->bss->qps_matched, final, stdout, NULL);
		probe_report_usyms(&c->o, c->usyms, final, stdout, NULL);
		print_lost(c, false, NULL);
		if (!final)
			printf("\n");
	} else {
		probe_report_filter(&c->o, &c->target, c->skel->bss->qps_matched, final, NULL, NULL);
		probe_report_usyms(&c->o, c->usyms, final, NULL, NULL);
		print_lost(c, false, NULL);
	}
	fflush(stdout);
	if (fg) {
		char title[256];

		snprintf(title, sizeof(title), "oncpu: %llu samples at %llu Hz, %.1f s", (unsigned long long)total,
			 (unsigned long long)c->freq, elapsed);
		err = flamegraph_write_file(fg, c->svg, title, "samples");
		if (err) {
			probe_err(&c->o, "cannot write '%s': %s", c->svg, strerror(-err));
			goto out;
		}
	}
	if (pp) {
		err = pprof_write_file(pp, c->pprof, (int64_t)(c->wall0 * 1e9), (int64_t)(elapsed * 1e9));
		if (err) {
			probe_err(&c->o, "cannot write '%s': %s", c->pprof, strerror(-err));
			goto out;
		}
	}
	if (c->prom) {
		if (nfn)
			qsort(ft.v, nfn, sizeof(*ft.v), cmp_self);
		err = write_prom(c, ft.v, nfn, total);
		if (err) {
			probe_err(&c->o, "cannot write '%s': %s", c->prom, strerror(-err));
			goto out;
		}
	}
out:
	flamegraph_free(fg);
	pprof_free(pp);
	free(ft.v);
	free(st);
	free(rows);
	return err;
}

static int on_load(struct on *c, bool btf_tp)
{
	struct oncpu_bpf *k = oncpu_bpf__open();
	int err;

	if (!k)
		return -errno;
	k->rodata->qps_cfg = c->cfg;
	k->rodata->target_cgroup = c->cgroup_v1 ? c->cgroup_id : 0;
	if (c->o.comm[0]) {
		k->rodata->filter_comm = true;
		memcpy((char *)k->rodata->target_comm, c->o.comm, sizeof(c->o.comm));
	}
	bpf_program__set_autoload(k->progs.oncpu_exec_btf, btf_tp);
	bpf_program__set_autoload(k->progs.oncpu_exec_raw, !btf_tp);
	err = oncpu_bpf__load(k);
	if (!err)
		err = oncpu_bpf__attach(k);	/* the exec hook; perf events below */
	if (err) {
		oncpu_bpf__destroy(k);
		return err;
	}
	c->skel = k;
	return 0;
}

static int attach_perf(struct on *c)
{
	static bool online[ON_MAX_CPUS];
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.size = sizeof(attr),
		.sample_period = 1000000000ull / c->freq,	/* ns of CPU time */
	};
	int n = probe_online_cpus(online, ON_MAX_CPUS), err;

	if (n < 0)
		return n;
	for (int cpu = 0; cpu < ON_MAX_CPUS; cpu++) {
		if (!online[cpu])
			continue;
		int fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV)	/* went offline meanwhile */
				continue;
			return err;
		}
		c->pfds[c->ncpu] = fd;
		c->links[c->ncpu] = bpf_program__attach_perf_event(c->skel->progs.oncpu_sample, fd);
		c->ncpu++;
		if (!c->links[c->ncpu - 1])
			return -errno;
	}
	return c->ncpu ? 0 : -ENODEV;
}

static int cgroup_id(struct on *c)
{
	char path[4096], q[4200];
	struct statfs sfs;
	struct stat st;

	if (c->cgroup[0] == '/')
		snprintf(path, sizeof(path), "%s", c->cgroup);
	else
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", c->cgroup);
	if (stat(path, &st) || statfs(path, &sfs)) {
		int err = -errno;

		probe_err(&c->o, "cannot open cgroup '%s': %s", path, strerror(-err));
		return err;
	}
	snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", path);
	c->cgroup_v1 = sfs.f_type == CGROUP_SUPER_MAGIC && access(q, F_OK) == 0;
	if ((sfs.f_type != CGROUP2_SUPER_MAGIC && !c->cgroup_v1) || !S_ISDIR(st.st_mode)) {
		probe_err(&c->o, "'%s' is not a cgroup v2 directory nor one of the v1 cpu hierarchy", path);
		return -EINVAL;
	}
	c->cgroup_id = st.st_ino;	/* kernfs: the inode is the cgroup id */
	return 0;
}

int probe_oncpu(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "freq", required_argument, NULL, ON_FREQ },
		{ "top", required_argument, NULL, ON_TOP },
		{ "folded", no_argument, NULL, ON_FOLDED },
		{ "pprof", required_argument, NULL, ON_PPROF },
		{ "svg", required_argument, NULL, ON_SVG },
		{ "prom", required_argument, NULL, ON_PROM },
		{ NULL, 0, NULL, 0 },
	};
	struct on c = { .freq = 99 };
	bool help = false;
	int ch, err, end, ret = 1;
	uint64_t v;

	probe_opts_init(&c.o, "oncpu");
	optind = 1;
	while ((ch = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&c.o, ch, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		switch (ch) {
		case ON_FREQ:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 10000) {
				probe_err(&c.o, "invalid --freq '%s': want 1 to 10000 Hz", optarg);
				return 2;
			}
			c.freq = v;
			continue;
		case ON_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 1000000) {
				probe_err(&c.o, "invalid --top '%s'", optarg);
				return 2;
			}
			c.top = (int)v;
			continue;
		case ON_FOLDED:
			c.folded = true;
			continue;
		case ON_PPROF:
			c.pprof = optarg;
			continue;
		case ON_SVG:
			c.svg = optarg;
			continue;
		case ON_PROM:
			c.prom = optarg;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&c.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	c.cgroup = c.o.cgroup;	/* the common --cgroup */
	if (c.folded && c.o.json) {
		probe_err(&c.o, "--folded and --json exclude each other");
		return 2;
	}
	if (probe_check_env(&c.o))
		return 1;
	if (c.cgroup && cgroup_id(&c))
		return 1;
	{
		/* a v1 cpu cgroup is filtered apart (target_cgroup); the common
		 * layer takes v2 directories, and the caller's pid namespace,
		 * --pid as a process or thread (kernel threads are sampled too) */
		struct probe_opts o2 = c.o;

		if (c.cgroup_v1)
			o2.cgroup = NULL;
		if (probe_cfg_init(&o2, true, &c.cfg, &c.target))
			return 1;
		if (c.cgroup_v1)
			c.cfg.filtered = 1;
	}
	probe_setup(&c.o);
	c.usyms = usyms_new();
	if (!c.usyms) {
		probe_err(&c.o, "cannot initialize libelf: %s", strerror(errno));
		return 1;
	}
	err = probe_try_tp_btf() ? on_load(&c, true) : -ENOTSUP;
	c.method = "perf_event cpu-clock + tp_btf/sched_process_exec";
	if (err) {
		if (c.o.verbose)
			fprintf(stderr, "oncpu: tp_btf failed (%s), trying raw_tp\n", strerror(-err));
		err = on_load(&c, false);
		c.method = "perf_event cpu-clock + raw_tp/sched_process_exec";
	}
	if (err) {
		probe_load_err(&c.o, "load and attach the oncpu BPF programs", err);
		goto out;
	}
	err = attach_perf(&c);
	if (err) {
		probe_err(&c.o, "cannot open a cpu-clock perf event on every CPU: %s%s", strerror(-err),
			  err == -EACCES || err == -EPERM ?
			  ": need root or CAP_PERFMON (kernel.perf_event_paranoid may also refuse)" : "");
		goto out;
	}
	c.rb = ring_buffer__new(bpf_map__fd(c.skel->maps.events), on_event, &c, NULL);
	if (!c.rb) {
		err = -errno;
		probe_err(&c.o, "cannot open the BPF ring buffer: %s", strerror(-err));
		goto out;
	}
	c.ksyms = ksyms_load(NULL);
	if (!c.ksyms)
		probe_note(&c.o, "cannot read kernel symbols from '/proc/kallsyms' (%s): kernel frames stay addresses%s",
			   strerror(errno), errno == EPERM ? "; addresses are hidden by kernel.kptr_restrict" : "");
	c.t0 = probe_now_ns();
	c.last_ns = c.t0;
	c.wall0 = probe_wall();
	probe_note(&c.o, "tracing on-CPU samples at %llu Hz on %d CPUs (%s); Ctrl-C to end",
		   (unsigned long long)c.freq, c.ncpu, c.method);
	ret = probe_run(&c.o, on_tick, on_poll, &c) ? 1 : 0;
out:
	for (int i = 0; i < c.ncpu; i++) {
		bpf_link__destroy(c.links[i]);
		close(c.pfds[i]);
	}
	ring_buffer__free(c.rb);
	oncpu_bpf__destroy(c.skel);
	ksyms_free(c.ksyms);
	usyms_free(c.usyms);
	free(c.prev);
	return ret;
}
