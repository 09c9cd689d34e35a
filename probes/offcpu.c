/* offcpu.c - `qps-tune probe offcpu`: off-CPU time by kernel + user stack.
 *
 * Attach plan (first that loads wins): tp_btf/sched_switch +
 * sched_process_exit + sched_process_exec -> raw_tp twins. Neither needs tracefs; the
 * classic sched:sched_switch tracepoint gives next's pid but not its tgid or
 * stack ids cheaply, so it is not used.
 *
 * Symbolization, and why no "[unknown]" for processes that exited:
 *   BPF announces each process image once, at its first recorded off-CPU
 *   period and again after each exec, with a unique "gen" that is also in
 *   the stack key (ring buffer, woken at once); we snapshot /proc/PID/maps
 *   under (pid, gen) and load the symbol tables of its files right then. At
 *   its exit (leader's sched_process_exit) and at each report we refresh the
 *   snapshot of the current image if the process is still readable
 *   (dlopen'ed libraries). A stack of a process that exited before the report
 *   resolves from its snapshot; a stack made before an exec resolves with
 *   the maps of the image that made it. Residual gap: a process that execs or
 *   exits within the ~ms between its first off-CPU period and our read of
 *   its maps, and libraries mapped after the last refresh; their frames show
 *   as "module+0xOFF" or "[unknown]" (counted in lost.maps_unreadable).
 * User stacks are walked by the kernel through frame pointers: code built
 * without them (most distribution libc builds) loses its callers' frames.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bpf/offcpu.h"
#include "common.h"
#include "json.h"
#include "ksyms.h"
#include "offcpu.skel.h"
#include "usyms.h"

#define STR_(x) #x
#define STR(x) STR_(x)

enum { OC_MIN_US = 0x200, OC_MAX_US, OC_PER_THREAD, OC_FOLDED, OC_TOP, OC_NO_KTHREADS };

struct oc {
	struct probe_opts o;
	uint64_t min_us, max_us;
	bool per_thread, folded, kthreads;
	int top;			/* stacks shown; 0: 10 in text, all in JSON/folded */
	struct offcpu_bpf *skel;
	struct ring_buffer *rb;
	struct ksyms *ksyms;
	struct usyms *usyms;
	const char *method;
	uint64_t t0;
	uint64_t snap_fail;		/* announced processes whose maps we could not read */
};

struct oc_row {
	struct offcpu_key k;
	struct offcpu_val v;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe offcpu [--duration S] [--interval S] [--pid PID] [--comm C]\n"
		"                             [--min-us N] [--max-us N] [--per-thread] [--top N]\n"
		"                             [--no-kernel-threads] [--folded | --json] [-v]\n"
		"  time threads spent off CPU (blocked or preempted), by kernel + user stack,\n"
		"  per process (--per-thread: per thread). Periods shorter than --min-us\n"
		"  (default 1) or longer than --max-us are not counted. --folded prints\n"
		"  'comm;user frames;kernel frames_[k] microseconds' lines for flamegraph.pl.\n");
}

static int oc_event(void *ctx, void *data, size_t size)
{
	struct oc *c = ctx;
	const struct offcpu_event *e = data;

	if (size < sizeof(*e))
		return 0;
	/* first sight and exec: a new image; exit: last chance for a refresh */
	if (usyms_snapshot(c->usyms, (pid_t)e->tgid, e->gen) && e->kind != OFFCPU_EV_EXIT &&
	    !usyms_has(c->usyms, (pid_t)e->tgid, e->gen))
		c->snap_fail++;
	return 0;
}

static int oc_poll(void *ctx, int ms)
{
	struct oc *c = ctx;
	int err = ring_buffer__poll(c->rb, ms);

	return err < 0 ? err : 0;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct oc_row *x = pa, *y = pb;

	if (x->v.total_ns != y->v.total_ns)
		return x->v.total_ns > y->v.total_ns ? -1 : 1;
	return 0;
}

static int read_rows(struct oc *c, struct oc_row **out)
{
	int fd = bpf_map__fd(c->skel->maps.counts), n = 0, cap = 1024;
	struct oc_row *rows = malloc(cap * sizeof(*rows));
	struct offcpu_key key, next;
	bool first = true;

	if (!rows)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (n == cap) {
			struct oc_row *r = realloc(rows, (cap *= 2) * sizeof(*rows));

			if (!r)
				break;
			rows = r;
		}
		rows[n].k = key;
		if (bpf_map_lookup_elem(fd, &key, &rows[n].v) == 0)
			n++;
	}
	qsort(rows, n, sizeof(*rows), cmp_rows);
	*out = rows;
	return n;
}

/* A symbolized stack: frames innermost first. */
struct frames {
	int n;
	char name[OFFCPU_MAX_DEPTH][96];
	bool lost;			/* the stack did not fit (id < 0, not -EFAULT) */
};

static bool is_tracing_frame(const char *s)
{
	return !strncmp(s, "bpf_prog_", 9) || !strncmp(s, "bpf_trace_run", 13) ||
	       !strncmp(s, "__bpf_trace_", 12) || !strncmp(s, "__traceiter_", 12);
}

static void resolve(struct oc *c, int id, bool user, pid_t tgid, uint32_t gen, struct frames *fr)
{
	uint64_t ips[OFFCPU_MAX_DEPTH];

	fr->n = 0;
	fr->lost = id < 0 && id != -EFAULT;
	if (id < 0 || bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stack_traces), &id, ips))
		return;
	for (int i = 0; i < OFFCPU_MAX_DEPTH && ips[i]; i++) {
		char *b = fr->name[fr->n];

		if (user) {
			/* return addresses point after the call: look up addr-1 */
			enum usyms_result r = usyms_resolve(c->usyms, tgid, gen, i ? ips[i] - 1 : ips[i],
							    b, sizeof(fr->name[0]));

			/* past a broken frame-pointer link every frame is noise */
			if (r == USYMS_NOT_MAPPED && i > 0)
				break;
		} else {
			const char *s = c->ksyms ? ksyms_find(c->ksyms, ips[i], NULL) : NULL;

			/* the innermost frames are the tracing machinery itself */
			if (s && fr->n == 0 && is_tracing_frame(s))
				continue;
			if (s)
				snprintf(b, sizeof(fr->name[0]), "%s", s);
			else
				snprintf(b, sizeof(fr->name[0]), "0x%llx", (unsigned long long)ips[i]);
		}
		fr->n++;
	}
}

/* Each lost.* counter with its cause; a non-zero one is also a warning on
 * stderr (once, at the final report). */
static void print_lost(FILE *f, struct oc *c, bool json, struct json *j, bool final)
{
	struct offcpu_bpf__bss *b = c->skel->bss;
	const struct { const char *key; uint64_t n; const char *why; } l[] = {
		{ "stacks", b->lost_stacks, "stacks that did not fit the stack map (" STR(OFFCPU_MAX_STACKS) " stacks) or collided in it: their periods are recorded with the stack marked lost" },
		{ "threads", b->lost_threads, "periods not measured: more threads were off CPU at the same time than the thread table holds (entries of exiting threads are never kept)" },
		{ "keys", b->lost_keys, "periods measured but not recorded: more distinct (process, stacks) keys than the key table holds (" STR(OFFCPU_MAX_KEYS) ")" },
		{ "process_announcements", b->lost_events, "processes not announced to user space (ring buffer or process table full): their frames may stay unresolved" },
		{ "maps_unreadable", c->snap_fail, "processes whose /proc/PID/maps could not be read before they exited or exec'ed: their frames print [unknown]" },
	};
	bool any = false;

	if (json)
		json_obj_open(j, "lost");
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		if (json) {
			json_uint(j, l[i].key, l[i].n);
			continue;
		}
		if (!l[i].n)
			continue;
		fprintf(f, "%slost.%s %llu: %s\n", any ? "" : "\n", l[i].key, (unsigned long long)l[i].n, l[i].why);
		any = true;
	}
	if (json) {
		json_obj_open(j, "causes");
		for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
			json_str(j, l[i].key, l[i].why);
		json_obj_close(j);
		json_obj_close(j);
	}
	for (size_t i = 0; final && i < sizeof(l) / sizeof(l[0]); i++)
		if (l[i].n)
			probe_note(&c->o, "warning: lost.%s %llu: %s", l[i].key, (unsigned long long)l[i].n, l[i].why);
}

static int oc_tick(void *ctx, bool final)
{
	struct oc *c = ctx;
	struct oc_row *rows = NULL;
	struct frames *uf = NULL, *kf = NULL;
	uint64_t total = 0;
	struct json j;
	int n, i, top;

	ring_buffer__consume(c->rb);
	n = read_rows(c, &rows);
	if (n < 0)
		return n;
	uf = malloc(sizeof(*uf));
	kf = malloc(sizeof(*kf));
	if (!uf || !kf) {
		free(rows);
		free(uf);
		free(kf);
		return -ENOMEM;
	}
	/* refresh the current image of live processes (libraries loaded since);
	 * exited or exec'ed images keep their snapshot */
	for (i = 0; i < n; i++) {
		uint32_t cur;

		if (rows[i].k.ustack < 0 || rows[i].k.gen == 0 ||
		    (i && rows[i].k.tgid == rows[i - 1].k.tgid && rows[i].k.gen == rows[i - 1].k.gen))
			continue;
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.known_tgids), &rows[i].k.tgid, &cur) == 0 &&
		    cur == rows[i].k.gen)
			usyms_snapshot(c->usyms, (pid_t)rows[i].k.tgid, cur);
	}
	for (i = 0; i < n; i++)
		total += rows[i].v.total_ns;
	top = c->top ? c->top : (c->o.json || c->folded ? n : 10);

	if (c->o.json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.probe.offcpu/1");
		json_bool(&j, "final", final);
		json_double(&j, "elapsed_s", (probe_now_ns() - c->t0) / 1e9);
		json_str(&j, "method", c->method);
		json_str(&j, "aggregation", c->per_thread ? "thread" : "process");
		json_obj_open(&j, "filters");
		if (c->o.pid)
			json_int(&j, "pid", c->o.pid);
		else
			json_null(&j, "pid");
		json_str(&j, "comm", c->o.comm[0] ? c->o.comm : NULL);
		json_uint(&j, "min_us", c->min_us);
		if (c->max_us)
			json_uint(&j, "max_us", c->max_us);
		else
			json_null(&j, "max_us");
		json_obj_close(&j);
		json_double(&j, "total_us", total / 1e3);
		json_uint(&j, "stacks_total", n);
		json_arr_open(&j, "stacks");
	} else if (!c->folded) {
		printf("%s %.1f s (%s), off-CPU time by stack, per %s, %d stacks, %.3f s in all\n",
		       final ? "offcpu" : "offcpu (so far)", (probe_now_ns() - c->t0) / 1e9, c->method,
		       c->per_thread ? "thread" : "process", n, total / 1e9);
	}
	for (i = 0; i < n && i < top; i++) {
		const struct oc_row *r = &rows[i];
		int f;

		resolve(c, r->k.kstack, false, r->k.tgid, r->k.gen, kf);
		resolve(c, r->k.ustack, true, r->k.tgid, r->k.gen, uf);
		if (c->o.json) {
			json_obj_open(&j, NULL);
			json_uint(&j, "pid", r->k.tgid);
			if (c->per_thread)
				json_uint(&j, "tid", r->k.pid);
			json_str(&j, "comm", r->k.comm);
			json_double(&j, "total_us", r->v.total_ns / 1e3);
			json_uint(&j, "count", r->v.count);
			json_arr_open(&j, "kernel");
			for (f = 0; f < kf->n; f++)
				json_str(&j, NULL, kf->name[f]);
			json_arr_close(&j);
			json_arr_open(&j, "user");
			for (f = 0; f < uf->n; f++)
				json_str(&j, NULL, uf->name[f]);
			json_arr_close(&j);
			json_bool(&j, "kernel_lost", kf->lost);
			json_bool(&j, "user_lost", uf->lost);
			json_obj_close(&j);
		} else if (c->folded) {
			/* root first: user frames outermost..innermost, then kernel */
			fputs(r->k.comm, stdout);
			if (c->per_thread)
				printf("-%u", r->k.pid);
			if (uf->lost)
				fputs(";[lost]", stdout);
			for (f = uf->n - 1; f >= 0; f--)
				printf(";%s", uf->name[f]);
			if (kf->lost)
				fputs(";[lost]_[k]", stdout);
			for (f = kf->n - 1; f >= 0; f--)
				printf(";%s_[k]", kf->name[f]);
			printf(" %llu\n", (unsigned long long)(r->v.total_ns / 1000));
		} else {
			printf("\n");
			for (f = 0; f < kf->n; f++)
				printf("    %s\n", kf->name[f]);
			if (kf->lost)
				printf("    [kernel stack lost]\n");
			printf("    --\n");
			for (f = 0; f < uf->n; f++)
				printf("    %s\n", uf->name[f]);
			if (uf->lost)
				printf("    [user stack lost]\n");
			if (c->per_thread)
				printf("    -                %s (%u/%u)\n", r->k.comm, r->k.tgid, r->k.pid);
			else
				printf("    -                %s (%u)\n", r->k.comm, r->k.tgid);
			printf("        %llu us in %llu periods\n", (unsigned long long)(r->v.total_ns / 1000),
			       (unsigned long long)r->v.count);
		}
	}
	if (c->o.json) {
		json_arr_close(&j);
		print_lost(stdout, c, true, &j, final);
		json_obj_close(&j);
	} else if (!c->folded) {
		if (n > top)
			printf("\n(%d more stacks; --top N shows more)\n", n - top);
		print_lost(stdout, c, false, NULL, final);
		if (!final)
			printf("\n");
	} else {
		print_lost(stderr, c, false, NULL, final);
	}
	fflush(stdout);
	free(uf);
	free(kf);
	free(rows);
	return 0;
}

static int oc_load(struct oc *c, bool btf_tp, struct offcpu_bpf **out)
{
	struct offcpu_bpf *k = offcpu_bpf__open();
	int err;

	if (!k)
		return -errno;
	k->rodata->target_tgid = (uint32_t)c->o.pid;
	k->rodata->self_tgid = (uint32_t)getpid();
	k->rodata->per_thread = c->per_thread;
	k->rodata->kernel_threads = c->kthreads;
	k->rodata->min_ns = c->min_us * 1000;
	/* tests shrink the thread table to fill it with a small fork storm */
	if (getenv("QPS_PROBE_OFFCPU_THREADS"))
		bpf_map__set_max_entries(k->maps.starts, (uint32_t)strtoul(getenv("QPS_PROBE_OFFCPU_THREADS"), NULL, 10) ?: 1);
	k->rodata->max_ns = c->max_us ? c->max_us * 1000 : ~0ull;
	if (c->o.comm[0]) {
		k->rodata->filter_comm = true;
		memcpy((char *)k->rodata->target_comm, c->o.comm, sizeof(c->o.comm));
	}
	bpf_program__set_autoload(k->progs.oc_switch_btf, btf_tp);
	bpf_program__set_autoload(k->progs.oc_exit_btf, btf_tp);
	bpf_program__set_autoload(k->progs.oc_exec_btf, btf_tp);
	bpf_program__set_autoload(k->progs.oc_exec_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.oc_switch_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.oc_exit_raw, !btf_tp);
	err = offcpu_bpf__load(k);
	if (!err)
		err = offcpu_bpf__attach(k);
	if (err) {
		offcpu_bpf__destroy(k);
		return err;
	}
	*out = k;
	return 0;
}

int probe_offcpu(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "min-us", required_argument, NULL, OC_MIN_US },
		{ "max-us", required_argument, NULL, OC_MAX_US },
		{ "per-thread", no_argument, NULL, OC_PER_THREAD },
		{ "folded", no_argument, NULL, OC_FOLDED },
		{ "top", required_argument, NULL, OC_TOP },
		{ "no-kernel-threads", no_argument, NULL, OC_NO_KTHREADS },
		{ NULL, 0, NULL, 0 },
	};
	struct oc c = { .min_us = 1, .kthreads = true };
	bool help = false;
	int ch, err, end, ret = 1;
	uint64_t v;

	probe_opts_init(&c.o, "offcpu");
	optind = 1;
	while ((ch = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&c.o, ch, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		switch (ch) {
		case OC_MIN_US:
		case OC_MAX_US:
			if (probe_parse_u64(optarg, &v) || v > 86400000000ull) {
				fprintf(stderr, "qps-tune: probe offcpu: invalid --%s '%s'\n",
					ch == OC_MIN_US ? "min-us" : "max-us", optarg);
				return 2;
			}
			*(ch == OC_MIN_US ? &c.min_us : &c.max_us) = v;
			continue;
		case OC_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 1000000) {
				fprintf(stderr, "qps-tune: probe offcpu: invalid --top '%s'\n", optarg);
				return 2;
			}
			c.top = (int)v;
			continue;
		case OC_PER_THREAD:
			c.per_thread = true;
			continue;
		case OC_FOLDED:
			c.folded = true;
			continue;
		case OC_NO_KTHREADS:
			c.kthreads = false;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&c.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (c.folded && c.o.json) {
		fprintf(stderr, "qps-tune: probe offcpu: --folded and --json exclude each other\n");
		return 2;
	}
	if (c.max_us && c.max_us < c.min_us) {
		fprintf(stderr, "qps-tune: probe offcpu: --max-us is below --min-us\n");
		return 2;
	}
	if (probe_check_env(&c.o))
		return 1;
	probe_setup(&c.o);
	if (!probe_kernel_has_tp("sched_switch")) {
		probe_err(&c.o, "this kernel lacks the tracepoint sched:sched_switch: off-CPU time cannot be measured");
		return 1;
	}
	c.usyms = usyms_new();
	if (!c.usyms) {
		probe_err(&c.o, "cannot initialize libelf: %s", strerror(errno));
		return 1;
	}
	err = probe_try_tp_btf() ? oc_load(&c, true, &c.skel) : -ENOTSUP;
	c.method = "tp_btf/sched_switch + tp_btf/sched_process_exit + tp_btf/sched_process_exec";
	if (err) {
		if (c.o.verbose)
			fprintf(stderr, "offcpu: tp_btf failed (%s), trying raw_tp\n", strerror(-err));
		err = oc_load(&c, false, &c.skel);
		c.method = "raw_tp/sched_switch + raw_tp/sched_process_exit + raw_tp/sched_process_exec";
	}
	if (err) {
		probe_load_err(&c.o, "load and attach the offcpu BPF programs", err);
		goto out;
	}
	c.rb = ring_buffer__new(bpf_map__fd(c.skel->maps.events), oc_event, &c, NULL);
	if (!c.rb) {
		err = -errno;
		probe_err(&c.o, "cannot open the BPF ring buffer: %s", strerror(-err));
		goto out;
	}
	/* kernel symbols once, after attach so our own programs are named
	 * (and skipped); a failure only costs names */
	c.ksyms = ksyms_load(NULL);
	if (!c.ksyms)
		probe_note(&c.o, "cannot read kernel symbols from '/proc/kallsyms' (%s): kernel frames stay addresses%s",
			   strerror(errno), errno == EPERM ? "; addresses are hidden by kernel.kptr_restrict" : "");
	c.t0 = probe_now_ns();
	probe_note(&c.o, "tracing off-CPU time (%s); Ctrl-C to end", c.method);
	ret = probe_run(&c.o, oc_tick, oc_poll, &c) ? 1 : 0;
out:
	ring_buffer__free(c.rb);
	offcpu_bpf__destroy(c.skel);
	ksyms_free(c.ksyms);
	usyms_free(c.usyms);
	return ret;
}
