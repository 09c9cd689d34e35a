/* offcpu.c - `qps-tune probe offcpu`: off-CPU time by kernel + user stack.
 *
 * Attach plan (first that loads wins): tp_btf/sched_switch +
 * sched_process_exit + sched_process_exec -> raw_tp twins, each first with
 * the sleepable task iterator (iter.s/task) that lists the threads off CPU
 * at a report ("in flight"), then without it. None needs tracefs; the
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
#include "escape.h"
#include "flamegraph.h"
#include "json.h"
#include "ksyms.h"
#include "offcpu.skel.h"
#include "promfile.h"
#include "usyms.h"

#define STR_(x) #x
#define STR(x) STR_(x)

struct oc_row {
	struct offcpu_key k;
	struct offcpu_val v;
	int drained;			/* index in oc.drained, -1: a row of the counts map */
};

/* A symbolized stack: frames innermost first. */
struct frames {
	int n;
	char *name[OFFCPU_MAX_DEPTH];	/* owned, escaped, never cut short */
	bool lost;			/* the stack did not fit (id < 0, not -EFAULT) */
};

static void frames_reset(struct frames *fr)
{
	for (int i = 0; i < fr->n; i++)
		free(fr->name[i]);
	fr->n = 0;
}

/* @fr as one owned string, frames '\n'-separated; NULL for no frame (and
 * *@oom set when out of memory). */
static char *frames_join(const struct frames *fr, bool *oom)
{
	size_t len = 0;
	char *s, *p;

	for (int f = 0; f < fr->n; f++)
		len += strlen(fr->name[f]) + 1;
	if (!len)
		return NULL;
	s = malloc(len);
	if (!s) {
		*oom = true;
		return NULL;
	}
	p = s;
	for (int f = 0; f < fr->n; f++)
		p += sprintf(p, "%s%s", f ? "\n" : "", fr->name[f]);
	return s;
}

/* The frames frames_join() made @s of. */
static void frames_split(const char *s, bool lost, struct frames *fr)
{
	frames_reset(fr);
	fr->lost = lost;
	while (s && *s && fr->n < OFFCPU_MAX_DEPTH) {
		size_t len = strcspn(s, "\n");

		fr->name[fr->n] = strndup(s, len);
		if (!fr->name[fr->n])
			break;
		fr->n++;
		s += len + (s[len] == '\n');
	}
}

/* A key of an exited process moved out of the counts map (see drain()). */
struct oc_drained {
	struct oc_row r;
	char *user;			/* its user frames, resolved when drained, '\n'-separated */
	bool user_lost;
};

/* A row as printed: rows whose stacks print alike are one (different raw
 * stacks can: another tracer on sched_switch adds __traceiter_sched_switch
 * below our own frames, which are not shown). */
struct oc_line {
	struct oc_row r;
	char *kern, *user;		/* frames_join() of the resolved stacks */
	bool kern_lost, user_lost;
};

enum { OC_MIN_US = 0x200, OC_MAX_US, OC_PER_THREAD, OC_FOLDED, OC_TOP, OC_NO_KTHREADS, OC_SVG, OC_PROM };

struct oc {
	struct probe_opts o;
	uint64_t min_us, max_us;
	bool per_thread, folded, kthreads;
	int top;			/* stacks shown; 0: 10 in text, all in JSON/folded */
	const char *svg;		/* --svg FILE: flame graph written at each report */
	const char *prom;		/* --prom FILE: node_exporter textfile, each report */
	struct offcpu_bpf *skel;
	struct ring_buffer *rb;
	struct ksyms *ksyms;
	struct usyms *usyms;
	const char *method;
	uint64_t t0;
	uint64_t snap_fail;		/* announced processes whose maps we could not read */
	struct probe_cfg cfg;
	struct probe_target target;
	struct bpf_link *iter;		/* in-flight task iterator; NULL: not available */
	char inflight_why[200];		/* why not */
	char kallsyms_why[300];		/* why kernel frames are addresses ("" if named) */
	struct oc_row *prev;		/* last report's cumulative rows, sorted by key */
	int nprev;
	int seq;			/* reports so far */
	uint64_t last_ns;		/* CLOCK_MONOTONIC of the last report (t0 at first) */
	struct { uint32_t tgid, gen; } *dead;	/* exited process images not drained yet */
	int ndead, capdead;
	struct oc_drained *drained;	/* their keys, out of the counts map */
	int ndrained;
	uint64_t drain_ns;		/* last drain */
	uint64_t drained_stacks;	/* user stack ids freed */
	uint32_t drain_batch;		/* exited processes per drain */
};


static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe offcpu [--duration S] [--interval S] [--pid PID] [--comm C]\n"
		"                             [--min-us N] [--max-us N] [--per-thread] [--top N]\n"
		"                             [--no-kernel-threads] [--cgroup PATH] [--cumulative]\n"
		"                             [--folded | --json] [--svg FILE] [--prom FILE] [-v]\n"
		"  time threads spent off CPU (blocked or preempted), by kernel + user stack,\n"
		"  per process (--per-thread: per thread), and per cgroup. Periods shorter than\n"
		"  --min-us (default 1) or longer than --max-us are not counted. Threads still\n"
		"  off CPU at a report are listed with their state and stacks ('in flight').\n"
		"  --interval reports cover the time since the previous one (--cumulative: since\n"
		"  the start). --cgroup keeps the threads of that cgroup v2 directory and below.\n"
		"  --folded prints 'comm;user frames;kernel frames_[k] microseconds' lines for\n"
		"  flamegraph.pl. --svg FILE writes an interactive flame graph of the same\n"
		"  stacks (microseconds off CPU) at each report. --prom FILE writes Prometheus\n"
		"  textfile metrics (off-CPU time by comm since the start, threads off CPU now).\n");
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
	/* an exit ends its image; an exec the one it replaced */
	if (e->kind == OFFCPU_EV_EXIT || (e->kind == OFFCPU_EV_EXEC && e->prev_gen)) {
		if (c->ndead == c->capdead) {
			int cap = c->capdead ? c->capdead * 2 : 256;
			void *d = realloc(c->dead, cap * sizeof(*c->dead));

			if (!d)
				return 0;	/* its keys stay in the map */
			c->dead = d;
			c->capdead = cap;
		}
		c->dead[c->ndead].tgid = e->tgid;
		c->dead[c->ndead++].gen = e->kind == OFFCPU_EV_EXIT ? e->gen : e->prev_gen;
	}
	return 0;
}

static void resolve(struct oc *c, int id, bool user, pid_t tgid, uint32_t gen, struct frames *fr);

static bool is_dead(const struct oc *c, uint32_t tgid, uint32_t gen)
{
	for (int i = 0; i < c->ndead; i++)
		if (c->dead[i].tgid == tgid && c->dead[i].gen == gen)
			return true;
	return false;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * Keys of exited processes would fill the counts map (and their user
 * stacks, unique per process with ASLR, the stack map) on a host that
 * starts many short-lived processes, and a later block would go
 * unrecorded. Their images are dead (exit event, gen no longer current),
 * so no period can add to those keys any more: move them to user space
 * with their user frames resolved now, and free the user stack ids no
 * remaining key uses. Kernel stack ids are shared and stay.
 */
static void drain(struct oc *c)
{
	int cfd = bpf_map__fd(c->skel->maps.counts), sfd = bpf_map__fd(c->skel->maps.stack_traces);
	int kfd = bpf_map__fd(c->skel->maps.known_tgids), nkeep = 0, capkeep = 0, *keep = NULL;
	int tfd = bpf_map__fd(c->skel->maps.starts);
	struct offcpu_key key, next, *gone = NULL;
	struct offcpu_start st;
	__u32 tid, ntid;
	int ngone = 0, capgone = 0;
	bool first = true;
	struct frames *uf;
	uint32_t cur;

	c->drain_ns = probe_now_ns();
	if (!c->ndead)
		return;
	/* a dead image whose tgid is known with that same gen still has
	 * threads running (the leader exited first): not yet */
	for (int i = 0; i < c->ndead;) {
		if (bpf_map_lookup_elem(kfd, &c->dead[i].tgid, &cur) == 0 && cur == c->dead[i].gen) {
			c->dead[i] = c->dead[--c->ndead];
			continue;	/* it will exit again later; forget this one */
		}
		i++;
	}
	uf = calloc(1, sizeof(*uf));
	if (!uf)
		return;
	while (bpf_map_get_next_key(cfd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.gen && is_dead(c, key.tgid, key.gen)) {
			if (ngone == capgone) {
				void *g = realloc(gone, (capgone = capgone ? capgone * 2 : 256) * sizeof(*gone));

				if (!g)
					break;
				gone = g;
			}
			gone[ngone++] = key;
		} else if (key.ustack >= 0) {
			if (nkeep == capkeep) {
				void *k = realloc(keep, (capkeep = capkeep ? capkeep * 2 : 1024) * sizeof(*keep));

				if (!k)
					break;
				keep = k;
			}
			keep[nkeep++] = key.ustack;
		}
	}
	/* user stacks of threads off CPU now are in use too (a child that
	 * forked without exec shares its parent's addresses, so its stack ids) */
	first = true;
	while (bpf_map_get_next_key(tfd, first ? NULL : &tid, &ntid) == 0) {
		first = false;
		tid = ntid;
		if (bpf_map_lookup_elem(tfd, &tid, &st) || st.ustack < 0)
			continue;
		if (nkeep == capkeep) {
			void *k = realloc(keep, (capkeep = capkeep ? capkeep * 2 : 1024) * sizeof(*keep));

			if (!k)
				break;
			keep = k;
		}
		keep[nkeep++] = st.ustack;
	}
	if (nkeep)
		qsort(keep, nkeep, sizeof(*keep), cmp_int);
	/* resolve every drained key before freeing any stack id: keys of one
	 * image that differ in their kernel stack share its user stack id (the
	 * first freed it and the others printed no user frame) */
	for (int i = 0; i < ngone; i++) {
		struct oc_drained *d;
		struct offcpu_val v;
		bool oom = false;

		if (bpf_map_lookup_and_delete_elem(cfd, &gone[i], &v)) {
			gone[i].ustack = -1;	/* not drained: not ours to free */
			continue;
		}
		d = realloc(c->drained, (c->ndrained + 1) * sizeof(*d));
		if (!d) {
			ngone = i;
			break;
		}
		c->drained = d;
		d = &c->drained[c->ndrained];
		memset(d, 0, sizeof(*d));
		d->r.k = gone[i];
		d->r.v = v;
		d->r.drained = c->ndrained++;
		resolve(c, gone[i].ustack, true, gone[i].tgid, gone[i].gen, uf);
		d->user_lost = uf->lost;
		d->user = frames_join(uf, &oom);
	}
	for (int i = 0; i < ngone; i++)
		if (gone[i].ustack >= 0 && !(nkeep && bsearch(&gone[i].ustack, keep, nkeep, sizeof(*keep), cmp_int)) &&
		    bpf_map_delete_elem(sfd, &gone[i].ustack) == 0)
			c->drained_stacks++;
	c->ndead = 0;
	if (uf)
		frames_reset(uf);
	free(uf);
	free(gone);
	free(keep);
}

static int oc_poll(void *ctx, int ms)
{
	struct oc *c = ctx;
	int err = ring_buffer__poll(c->rb, ms);

	/* drain exited processes' keys in batches (1/16 of the table), when
	 * the table is 3/4 full, or every second */
	if (c->ndead && ((uint32_t)c->ndead >= c->drain_batch ||
			 c->skel->bss->keys_created - c->ndrained > c->drain_batch * 12 ||
			 probe_now_ns() - c->drain_ns > 1000000000ull))
		drain(c);
	return err < 0 ? err : 0;
}

static int cmp_keys(const void *pa, const void *pb);

static int cmp_rows(const void *pa, const void *pb)
{
	const struct oc_row *x = pa, *y = pb;

	if (x->v.total_ns != y->v.total_ns)
		return x->v.total_ns > y->v.total_ns ? -1 : 1;
	return 0;
}

static int read_rows(struct oc *c, struct oc_row **out)
{
	int fd = bpf_map__fd(c->skel->maps.counts), n = 0, m = 0, cap = 1024;
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
		rows[n].drained = -1;
		if (bpf_map_lookup_elem(fd, &key, &rows[n].v) == 0)
			n++;
	}
	/* and the keys of exited processes moved out of the map */
	if (c->ndrained) {
		struct oc_row *r = realloc(rows, (n + c->ndrained) * sizeof(*rows));

		if (r) {
			rows = r;
			for (int i = 0; i < c->ndrained; i++)
				rows[n++] = c->drained[i].r;
		}
	}
	/* one row per key: a thread of an image already drained can still add
	 * a period (its leader exited first), and a key drained twice */
	qsort(rows, n, sizeof(*rows), cmp_keys);
	for (int i = 0; i < n; i++) {
		if (m && !cmp_keys(&rows[m - 1], &rows[i])) {
			rows[m - 1].v.total_ns += rows[i].v.total_ns;
			rows[m - 1].v.count += rows[i].v.count;
			if (rows[m - 1].drained < 0)
				rows[m - 1].drained = rows[i].drained;	/* its user frames */
		} else {
			rows[m++] = rows[i];
		}
	}
	n = m;
	qsort(rows, n, sizeof(*rows), cmp_rows);
	*out = rows;
	return n;
}


static bool is_tracing_frame(const char *s)
{
	return !strncmp(s, "bpf_prog_", 9) || !strncmp(s, "bpf_trace_run", 13) ||
	       !strncmp(s, "__bpf_trace_", 12) || !strncmp(s, "__traceiter_", 12);
}

static void resolve_ips(struct oc *c, const __u64 *ips, int n, bool user, pid_t tgid, uint32_t gen,
			struct frames *fr)
{
	for (int i = 0; i < n && i < OFFCPU_MAX_DEPTH && ips[i]; i++) {
		char **b = &fr->name[fr->n];

		if (user) {
			/* return addresses point after the call: look up addr-1 */
			enum usyms_result r = USYMS_NOT_MAPPED;
			const char *s = usyms_lookup(c->usyms, tgid, gen, i ? ips[i] - 1 : ips[i], &r);

			/* past a broken frame-pointer link every frame is noise */
			if (r == USYMS_NOT_MAPPED && i > 0)
				break;
			*b = strdup(s ? s : "[no-memory]");
		} else {
			const char *s = c->ksyms ? ksyms_find(c->ksyms, ips[i], NULL) : NULL;

			/* the innermost frames are the tracing machinery itself */
			if (s && fr->n == 0 && is_tracing_frame(s))
				continue;
			if (s)
				*b = strdup(s);
			else if (asprintf(b, "0x%llx", (unsigned long long)ips[i]) < 0)
				*b = NULL;
		}
		if (!*b)
			break;
		fr->n++;
	}
}

static void resolve(struct oc *c, int id, bool user, pid_t tgid, uint32_t gen, struct frames *fr)
{
	__u64 ips[OFFCPU_MAX_DEPTH];

	frames_reset(fr);
	fr->lost = id < 0 && id != -EFAULT;
	if (id < 0 || bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stack_traces), &id, ips))
		return;
	resolve_ips(c, ips, OFFCPU_MAX_DEPTH, user, tgid, gen, fr);
}

static int cmp_keys(const void *pa, const void *pb)
{
	const struct oc_row *x = pa, *y = pb;

	return memcmp(&x->k, &y->k, sizeof(x->k));
}

/* Per-interval figures: subtracts the previous report's cumulative values
 * (kept sorted by key) from @rows and drops rows that did not move; keeps
 * the current cumulative values for the next report. */
static int interval_delta(struct oc *c, struct oc_row *rows, int n)
{
	struct oc_row *cur = malloc((n ? n : 1) * sizeof(*cur));
	int m = 0;

	if (!cur)
		return -ENOMEM;
	memcpy(cur, rows, n * sizeof(*cur));
	qsort(cur, n, sizeof(*cur), cmp_keys);
	for (int i = 0; i < n; i++) {
		const struct oc_row *p = c->nprev ? bsearch(&rows[i], c->prev, c->nprev, sizeof(*p), cmp_keys) : NULL;

		if (p) {
			rows[i].v.total_ns -= p->v.total_ns;
			rows[i].v.count -= p->v.count;
		}
		if (rows[i].v.count)
			rows[m++] = rows[i];
	}
	free(c->prev);
	c->prev = cur;
	c->nprev = n;
	return m;
}

static const char *state_name(uint32_t st)
{
	if ((st & 0x402) == 0x402)
		return "I (idle)";
	if (st & 0x2)
		return "D (uninterruptible)";
	if (st & 0x1)
		return "S (sleeping)";
	if (st & 0x4)
		return "T (stopped)";
	if (st & 0x8)
		return "t (traced)";
	if (st & 0x8000)
		return "frozen";
	return st ? "other" : "R (preempted, waiting for a CPU)";
}

struct oc_fl {
	struct offcpu_inflight r;
	uint64_t off_ns;		/* off CPU so far (since before attach: at least the run) */
};

static int cmp_fl(const void *pa, const void *pb)
{
	const struct oc_fl *x = pa, *y = pb;
	bool dx = (x->r.state & 0x402) == 0x2, dy = (y->r.state & 0x402) == 0x2;

	/* uninterruptible (D) first: what a hang is usually made of */
	if (dx != dy)
		return dx ? -1 : 1;
	if (!x->r.since_ns != !y->r.since_ns)
		return !x->r.since_ns ? -1 : 1;
	if (x->off_ns != y->off_ns)
		return x->off_ns > y->off_ns ? -1 : 1;
	return (int)x->r.tid - (int)y->r.tid;
}

/* Threads off CPU now, longest first. Returns the count (rows in *@out),
 * or -errno. */
static int read_inflight(struct oc *c, uint64_t now, struct oc_fl **out)
{
	struct oc_fl *fl = NULL;
	int fd, n = 0, cap = 0;
	ssize_t got;

	*out = NULL;
	if (!c->iter)
		return 0;
	fd = bpf_iter_create(bpf_link__fd(c->iter));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (n == cap) {
			struct oc_fl *r = realloc(fl, (cap = cap ? cap * 2 : 64) * sizeof(*fl));

			if (!r)
				break;
			fl = r;
		}
		got = read(fd, &fl[n].r, sizeof(fl[n].r));
		if (got != (ssize_t)sizeof(fl[n].r))
			break;
		if (fl[n].r.since_ns && fl[n].r.since_ns < now)
			fl[n].off_ns = now - fl[n].r.since_ns;
		else
			fl[n].off_ns = fl[n].r.since_ns ? 0 : now - c->t0;
		/* shorter than --min-us: a thread between two quick sleeps */
		if (fl[n].off_ns >= c->min_us * 1000)
			n++;
	}
	close(fd);
	if (n)
		qsort(fl, n, sizeof(*fl), cmp_fl);
	*out = fl;
	return n;
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
		{ "maps_unreadable", c->snap_fail, "processes whose /proc/PID/maps could not be read (they exited or exec'ed first, or belong to another user and this process lacks CAP_SYS_PTRACE): their frames print [unknown]" },
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

struct oc_cg {
	uint64_t cgid, total_ns, count;
};

static int cmp_cg(const void *pa, const void *pb)
{
	const struct oc_cg *x = pa, *y = pb;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	return x->cgid < y->cgid ? -1 : x->cgid > y->cgid;
}

/* Off-CPU time per cgroup (the cgroup of the thread when it left the CPU). */
static int by_cgroup(const struct oc_row *rows, int n, struct oc_cg **out)
{
	struct oc_cg *cg = calloc(n ? n : 1, sizeof(*cg));
	int m = 0, i, k;

	if (!cg)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		for (k = 0; k < m && cg[k].cgid != rows[i].k.cgid; k++)
			;
		if (k == m)
			cg[m++].cgid = rows[i].k.cgid;
		cg[k].total_ns += rows[i].v.total_ns;
		cg[k].count += rows[i].v.count;
	}
	qsort(cg, m, sizeof(*cg), cmp_cg);
	*out = cg;
	return m;
}

static void print_frames_text(const struct frames *kf, const struct frames *uf)
{
	for (int f = 0; f < kf->n; f++)
		printf("    %s\n", kf->name[f]);
	if (kf->lost)
		printf("    [kernel stack lost]\n");
	printf("    --\n");
	for (int f = 0; f < uf->n; f++)
		printf("    %s\n", uf->name[f]);
	if (uf->lost)
		printf("    [user stack lost]\n");
}

static void json_frames(struct json *j, const struct frames *kf, const struct frames *uf)
{
	json_arr_open(j, "kernel");
	for (int f = 0; f < kf->n; f++)
		json_str(j, NULL, kf->name[f]);
	json_arr_close(j);
	json_arr_open(j, "user");
	for (int f = 0; f < uf->n; f++)
		json_str(j, NULL, uf->name[f]);
	json_arr_close(j);
	json_bool(j, "kernel_lost", kf->lost);
	json_bool(j, "user_lost", uf->lost);
}

#define INFLIGHT_TAG 0xffffffffu

/* The stacks of an in-flight thread: from the stack map when it left the
 * CPU while we traced, else the frames the iterator walked (its process
 * symbolized with the snapshot of its current image, else one taken now). */
static void inflight_frames(struct oc *c, const struct offcpu_inflight *r, struct frames *kf, struct frames *uf)
{
	if (r->since_ns) {
		resolve(c, r->kstack, false, r->tgid, r->gen, kf);
		resolve(c, r->ustack, true, r->tgid, r->gen, uf);
		return;
	}
	frames_reset(kf);
	frames_reset(uf);
	kf->lost = uf->lost = false;
	resolve_ips(c, r->kern, (int)r->nkern, false, r->tgid, 0, kf);
	if (r->nuser) {
		uint32_t tag = r->gen;

		/* no snapshot of its image: one taken now, once (tag INFLIGHT_TAG;
		 * BPF's gens count up from 1 and never get there) */
		if (!tag || !usyms_has(c->usyms, (pid_t)r->tgid, tag)) {
			tag = INFLIGHT_TAG;
			if (!usyms_has(c->usyms, (pid_t)r->tgid, tag))
				usyms_snapshot(c->usyms, (pid_t)r->tgid, tag);
		}
		resolve_ips(c, r->user, (int)r->nuser, true, r->tgid, tag, uf);
	}
}

static int cmp_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int cmp_line_id(const void *pa, const void *pb)
{
	const struct oc_line *x = pa, *y = pb;
	int d;

	if (x->r.k.tgid != y->r.k.tgid)
		return x->r.k.tgid < y->r.k.tgid ? -1 : 1;
	if (x->r.k.pid != y->r.k.pid)
		return x->r.k.pid < y->r.k.pid ? -1 : 1;
	if (x->r.k.cgid != y->r.k.cgid)
		return x->r.k.cgid < y->r.k.cgid ? -1 : 1;
	d = strncmp(x->r.k.comm, y->r.k.comm, sizeof(x->r.k.comm));
	if (!d)
		d = (int)x->kern_lost - (int)y->kern_lost;
	if (!d)
		d = (int)x->user_lost - (int)y->user_lost;
	if (!d)
		d = cmp_str(x->kern, y->kern);
	return d ? d : cmp_str(x->user, y->user);
}

static int cmp_line_total(const void *pa, const void *pb)
{
	return cmp_rows(&((const struct oc_line *)pa)->r, &((const struct oc_line *)pb)->r);
}

static void lines_free(struct oc_line *l, int n)
{
	for (int i = 0; l && i < n; i++) {
		free(l[i].kern);
		free(l[i].user);
	}
	free(l);
}

/* Resolves @rows and merges those that print alike, largest first.
 * Returns the number of lines in *@out, or -ENOMEM. */
static int oc_lines(struct oc *c, const struct oc_row *rows, int n, struct frames *kf, struct frames *uf,
		    struct oc_line **out)
{
	struct oc_line *l = calloc(n ? n : 1, sizeof(*l));
	bool oom = false;
	int m = 0;

	if (!l)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const struct oc_row *r = &rows[i];

		resolve(c, r->k.kstack, false, r->k.tgid, r->k.gen, kf);
		if (r->drained >= 0)
			frames_split(c->drained[r->drained].user, c->drained[r->drained].user_lost, uf);
		else
			resolve(c, r->k.ustack, true, r->k.tgid, r->k.gen, uf);
		l[i].r = *r;
		l[i].kern = frames_join(kf, &oom);
		l[i].kern_lost = kf->lost;
		l[i].user = frames_join(uf, &oom);
		l[i].user_lost = uf->lost;
	}
	if (oom) {
		lines_free(l, n);
		return -ENOMEM;
	}
	qsort(l, n, sizeof(*l), cmp_line_id);
	for (int i = 0; i < n; i++) {
		if (m && !cmp_line_id(&l[m - 1], &l[i])) {
			l[m - 1].r.v.total_ns += l[i].r.v.total_ns;
			l[m - 1].r.v.count += l[i].r.v.count;
			free(l[i].kern);
			free(l[i].user);
		} else {
			l[m++] = l[i];
		}
	}
	qsort(l, m, sizeof(*l), cmp_line_total);
	*out = l;
	return m;
}

/* The flame graph of @l (every line, not only the top): root first, the
 * comm, user frames outermost..innermost, kernel frames with "_[k]"; widths
 * in microseconds off CPU. Written atomically to --svg FILE. */
static int write_svg(struct oc *c, const struct oc_line *l, int n, struct frames *kf, struct frames *uf,
		     double window)
{
	struct flamegraph *fg = flamegraph_new();
	const char *fr[2 * OFFCPU_MAX_DEPTH + 3];
	char *kn[OFFCPU_MAX_DEPTH], comm[ESCAPE_COMM_MAX], title[160];
	int err = 0;

	if (!fg)
		return -errno;
	for (int i = 0; i < n && !err; i++) {
		int m = 0, nk = 0;

		frames_split(l[i].kern, l[i].kern_lost, kf);
		frames_split(l[i].user, l[i].user_lost, uf);
		fr[m++] = escape_comm(comm, l[i].r.k.comm);
		if (uf->lost)
			fr[m++] = "[lost]";
		for (int f = uf->n - 1; f >= 0; f--)
			fr[m++] = uf->name[f];
		if (kf->lost)
			fr[m++] = "[lost]_[k]";
		for (int f = kf->n - 1; f >= 0; f--) {
			if (asprintf(&kn[nk], "%s_[k]", kf->name[f]) < 0) {
				err = -ENOMEM;
				break;
			}
			fr[m++] = kn[nk++];
		}
		if (!err && flamegraph_add(fg, fr, m, l[i].r.v.total_ns / 1000))
			err = -ENOMEM;
		while (nk)
			free(kn[--nk]);
	}
	snprintf(title, sizeof(title), "offcpu: time off CPU by stack (us), %.1f s%s", window,
		 c->o.interval > 0 && !c->o.cumulative ? " since the previous report" : "");
	if (!err)
		err = flamegraph_write_file(fg, c->svg, title, "us");
	flamegraph_free(fg);
	return err;
}

/* The node_exporter textfile from the cumulative rows @r (counters since
 * the start whatever --interval): off-CPU time and periods by comm, threads
 * off CPU now, lost periods by cause. */
static int write_prom(struct oc *c, const struct oc_row *r, int n, int nfl)
{
	struct promfile *p = promfile_new(c->prom);
	struct offcpu_bpf__bss *b = c->skel->bss;
	struct { char comm[16]; uint64_t ns, count; } *agg = calloc(n ? n : 1, sizeof(*agg));
	int m = 0, k, err;

	if (!p || !agg) {
		err = -errno;
		free(agg);
		promfile_free(p);
		return err ? err : -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		for (k = 0; k < m && strncmp(agg[k].comm, r[i].k.comm, 16); k++)
			;
		if (k == m)
			memcpy(agg[m++].comm, r[i].k.comm, 16);
		agg[k].ns += r[i].v.total_ns;
		agg[k].count += r[i].v.count;
	}
	promfile_help(p, "qps_offcpu_seconds_total", "counter", "time threads spent off CPU, by command name");
	for (k = 0; k < m; k++) {
		char comm[17];

		snprintf(comm, sizeof(comm), "%.16s", agg[k].comm);
		promfile_sample(p, "qps_offcpu_seconds_total", (const char *[]){ "comm", comm, NULL }, agg[k].ns / 1e9);
	}
	promfile_help(p, "qps_offcpu_periods_total", "counter", "off-CPU periods, by command name");
	for (k = 0; k < m; k++) {
		char comm[17];

		snprintf(comm, sizeof(comm), "%.16s", agg[k].comm);
		promfile_sample(p, "qps_offcpu_periods_total", (const char *[]){ "comm", comm, NULL }, (double)agg[k].count);
	}
	promfile_help(p, "qps_offcpu_threads_off_cpu", "gauge", "threads off CPU at the report (in flight)");
	promfile_sample(p, "qps_offcpu_threads_off_cpu", NULL, nfl);
	promfile_help(p, "qps_offcpu_lost_total", "counter", "periods or stacks the probe could not record, by cause");
	promfile_sample(p, "qps_offcpu_lost_total", (const char *[]){ "cause", "stacks", NULL }, (double)b->lost_stacks);
	promfile_sample(p, "qps_offcpu_lost_total", (const char *[]){ "cause", "threads", NULL }, (double)b->lost_threads);
	promfile_sample(p, "qps_offcpu_lost_total", (const char *[]){ "cause", "keys", NULL }, (double)b->lost_keys);
	err = promfile_commit(p);
	promfile_free(p);
	free(agg);
	return err;
}

static int oc_tick(void *ctx, bool final)
{
	struct oc *c = ctx;
	struct oc_row *rows = NULL;
	struct oc_fl *fl = NULL;
	struct oc_cg *cg = NULL;
	struct frames *uf = NULL, *kf = NULL;
	struct oc_line *lines = NULL;
	uint64_t total = 0, now = probe_now_ns();
	double window = (now - (c->o.cumulative ? c->t0 : c->last_ns)) / 1e9;
	int n, nl, nfl, ncg, i, top, fltop, file_err = 0;
	bool deltas = c->o.interval > 0 && !c->o.cumulative;
	char at[40], path[512];
	struct json j;

	ring_buffer__consume(c->rb);
	c->seq++;
	n = read_rows(c, &rows);
	if (n < 0)
		return n;
	if (deltas) {
		n = interval_delta(c, rows, n);
		if (n < 0) {
			free(rows);
			return n;
		}
	}
	nfl = read_inflight(c, now, &fl);
	if (nfl < 0) {
		probe_warn(&c->o, "cannot list the threads off CPU now: %s", strerror(-nfl));
		nfl = 0;
	}
	if (c->prom) {
		/* counters since the start: the cumulative rows interval_delta keeps */
		file_err = deltas ? write_prom(c, c->prev, c->nprev, nfl) : write_prom(c, rows, n, nfl);
		if (file_err) {
			probe_err(&c->o, "cannot write '%s': %s", c->prom, strerror(-file_err));
			free(rows);
			free(fl);
			return file_err;
		}
	}
	ncg = by_cgroup(rows, n, &cg);
	uf = calloc(1, sizeof(*uf));
	kf = calloc(1, sizeof(*kf));
	if (!uf || !kf || ncg < 0) {
		free(rows);
		free(fl);
		free(cg);
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
	nl = oc_lines(c, rows, n, kf, uf, &lines);
	if (nl < 0) {
		free(rows);
		free(fl);
		free(cg);
		free(uf);
		free(kf);
		return nl;
	}
	for (i = 0; i < n; i++)
		total += rows[i].v.total_ns;
	top = c->top ? c->top : (c->o.json || c->folded ? nl : 10);
	fltop = c->top ? c->top : (c->o.json ? 100 : 10);
	probe_stamp(at, sizeof(at));

	if (c->o.json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.probe.offcpu/1");
		json_bool(&j, "final", final);
		json_double(&j, "elapsed_s", (now - c->t0) / 1e9);
		probe_json_stamp(&j, &c->o, c->seq, window);
		json_str(&j, "method", c->method);
		json_str(&j, "aggregation", c->per_thread ? "thread" : "process");
		json_obj_open(&j, "filters");
		if (c->o.pid)
			json_int(&j, "pid", c->o.pid);
		else
			json_null(&j, "pid");
		json_str(&j, "comm", c->o.comm[0] ? c->o.comm : NULL);
		json_str(&j, "cgroup", c->o.cgroup);
		json_uint(&j, "min_us", c->min_us);
		if (c->max_us)
			json_uint(&j, "max_us", c->max_us);
		else
			json_null(&j, "max_us");
		json_obj_close(&j);
		probe_report_filter(&c->o, &c->target, c->skel->bss->qps_matched, final, NULL, &j);
		json_obj_open(&j, "pid_namespace");
		json_uint(&j, "level", c->cfg.pidns_level ? c->skel->bss->qps_pidns_level : 0);
		json_uint(&j, "inode", c->cfg.pidns_ino);
		json_str(&j, "ids", c->cfg.pidns_level ? "the caller's pid namespace; threads outside it are not traced" :
			 "the initial pid namespace");
		json_obj_close(&j);
		json_str(&j, "kernel_symbols", c->ksyms ? "named (/proc/kallsyms)" : c->kallsyms_why);
		json_double(&j, "total_us", total / 1e3);
		json_uint(&j, "stacks_total", nl);
		json_arr_open(&j, "stacks");
	} else if (!c->folded) {
		printf("%s %.1f s (%s) at %s, off-CPU time by stack, per %s, %d stacks, %.3f s in all%s\n",
		       final ? "offcpu" : "offcpu (interval)", (now - c->t0) / 1e9, c->method, at,
		       c->per_thread ? "thread" : "process", nl, total / 1e9,
		       deltas ? (c->seq > 1 ? "; since the previous report" : "; since the start") : "");
		if (!c->ksyms)
			printf("kernel frames are addresses: %s\n", c->kallsyms_why);
	}
	for (i = 0; i < nl && i < top; i++) {
		const struct oc_row *r = &lines[i].r;
		char comm[ESCAPE_COMM_MAX];
		int f;

		frames_split(lines[i].kern, lines[i].kern_lost, kf);
		frames_split(lines[i].user, lines[i].user_lost, uf);
		if (c->o.json) {
			json_obj_open(&j, NULL);
			json_uint(&j, "pid", r->k.tgid);
			if (c->per_thread)
				json_uint(&j, "tid", r->k.pid);
			json_str(&j, "comm", r->k.comm);
			json_uint(&j, "cgroup_id", r->k.cgid);
			json_double(&j, "total_us", r->v.total_ns / 1e3);
			json_uint(&j, "count", r->v.count);
			json_frames(&j, kf, uf);
			json_obj_close(&j);
		} else if (c->folded) {
			/* root first: user frames outermost..innermost, then kernel */
			fputs(escape_comm(comm, r->k.comm), stdout);
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
			print_frames_text(kf, uf);
			if (c->per_thread)
				printf("    -                %s (%u/%u)\n", escape_comm(comm, r->k.comm), r->k.tgid, r->k.pid);
			else
				printf("    -                %s (%u)\n", escape_comm(comm, r->k.comm), r->k.tgid);
			printf("        %llu us in %llu periods\n", (unsigned long long)(r->v.total_ns / 1000),
			       (unsigned long long)r->v.count);
		}
	}
	if (c->o.json) {
		json_arr_close(&j);
		json_arr_open(&j, "cgroups");
		for (i = 0; i < ncg; i++) {
			probe_cgroup_path(cg[i].cgid, path, sizeof(path));
			json_obj_open(&j, NULL);
			json_str(&j, "cgroup", path);
			json_uint(&j, "id", cg[i].cgid);
			json_double(&j, "total_us", cg[i].total_ns / 1e3);
			json_uint(&j, "count", cg[i].count);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_open(&j, "in_flight");
		json_bool(&j, "available", c->iter != NULL);
		json_str(&j, "why_not", c->iter ? NULL : c->inflight_why);
		json_uint(&j, "total", nfl);
		json_uint(&j, "not_visible", c->skel->bss->inflight_invisible);
		json_uint(&j, "idle_kernel_threads_not_listed", c->skel->bss->inflight_idle);
		json_arr_open(&j, "threads");
	} else if (!c->folded) {
		if (nl > top)
			printf("\n(%d more stacks; --top N shows more)\n", nl - top);
		if (ncg > 1 || (ncg == 1 && c->o.cgroup)) {
			printf("\nby cgroup (where threads were when they left the CPU):\n");
			for (i = 0; i < ncg && i < top; i++) {
				probe_cgroup_path(cg[i].cgid, path, sizeof(path));
				printf("  %12.3f ms %8llu periods  %s\n", cg[i].total_ns / 1e6,
				       (unsigned long long)cg[i].count, path);
			}
		}
		if (!c->iter)
			printf("\nin flight: not listed (%s)\n", c->inflight_why);
		else
			printf("\nin flight at %s: %d thread%s off CPU now%s\n", at, nfl, nfl == 1 ? "" : "s",
			       nfl > fltop ? " (longest first; --top N shows more)" : nfl ? " (longest first)" : "");
	}
	for (i = 0; !c->folded && i < nfl && i < fltop; i++) {
		const struct offcpu_inflight *r = &fl[i].r;

		inflight_frames(c, r, kf, uf);
		probe_cgroup_path(r->cgid, path, sizeof(path));
		if (c->o.json) {
			json_obj_open(&j, NULL);
			json_uint(&j, "pid", r->tgid);
			json_uint(&j, "tid", r->tid);
			json_str(&j, "comm", r->comm);
			json_str(&j, "state", state_name(r->state));
			json_uint(&j, "state_raw", r->state);
			json_double(&j, "off_us", fl[i].off_ns / 1e3);
			json_bool(&j, "since_before_start", !r->since_ns);
			json_double(&j, "since_s", r->since_ns ? (r->since_ns - c->t0) / 1e9 : 0);
			if (r->since_ns) {
				char since[40];

				probe_stamp_ago(since, sizeof(since), fl[i].off_ns);
				json_str(&j, "since_at", since);
			} else {
				json_null(&j, "since_at");
			}
			json_str(&j, "cgroup", path);
			json_frames(&j, kf, uf);
			json_obj_close(&j);
		} else {
			printf("\n");
			print_frames_text(kf, uf);
			printf("    -                %s (%u/%u) %s, %s\n", r->comm, r->tgid, r->tid, state_name(r->state), path);
			if (r->since_ns)
				printf("        off CPU for %.3f s (since %.3f s into the run)\n", fl[i].off_ns / 1e9,
				       (r->since_ns - c->t0) / 1e9);
			else
				printf("        off CPU for more than %.3f s (since before the probe started)\n",
				       fl[i].off_ns / 1e9);
		}
	}
	if (c->o.json) {
		json_arr_close(&j);
		json_obj_close(&j);
		probe_report_usyms(&c->o, c->usyms, final, NULL, &j);
		print_lost(stdout, c, true, &j, final);
		json_obj_close(&j);
	} else if (!c->folded) {
		probe_report_filter(&c->o, &c->target, c->skel->bss->qps_matched, final, stdout, NULL);
		probe_report_usyms(&c->o, c->usyms, final, stdout, NULL);
		print_lost(stdout, c, false, NULL, final);
		if (!final)
			printf("\n");
	} else {
		probe_report_filter(&c->o, &c->target, c->skel->bss->qps_matched, final, NULL, NULL);
		probe_report_usyms(&c->o, c->usyms, final, NULL, NULL);
		print_lost(stderr, c, false, NULL, final);
	}
	fflush(stdout);
	if (c->svg) {
		file_err = write_svg(c, lines, nl, kf, uf, window);
		if (file_err)
			probe_err(&c->o, "cannot write '%s': %s", c->svg, strerror(-file_err));
	}
	frames_reset(uf);
	frames_reset(kf);
	c->last_ns = now;
	free(uf);
	free(kf);
	free(fl);
	free(cg);
	free(rows);
	lines_free(lines, nl);
	/* images of processes gone and not shown in this report are dropped */
	usyms_sweep(c->usyms);
	return file_err;
}

static int oc_load(struct oc *c, bool btf_tp, bool iter, struct offcpu_bpf **out)
{
	struct offcpu_bpf *k = offcpu_bpf__open();
	int err;

	if (!k)
		return -errno;
	k->rodata->qps_cfg = c->cfg;
	k->rodata->per_thread = c->per_thread;
	k->rodata->kernel_threads = c->kthreads;
	k->rodata->min_ns = c->min_us * 1000;
	/* tests shrink the thread and key tables to fill them with a small
	 * fork storm (tests/bpf/offcpu-storm.t) */
	if (getenv("QPS_PROBE_OFFCPU_THREADS"))
		bpf_map__set_max_entries(k->maps.starts, (uint32_t)strtoul(getenv("QPS_PROBE_OFFCPU_THREADS"), NULL, 10) ?: 1);
	if (getenv("QPS_PROBE_OFFCPU_KEYS"))
		bpf_map__set_max_entries(k->maps.counts, (uint32_t)strtoul(getenv("QPS_PROBE_OFFCPU_KEYS"), NULL, 10) ?: 1);
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
	bpf_program__set_autoload(k->progs.oc_inflight, iter);
	if (!iter)
		bpf_map__set_max_entries(k->maps.inflight_buf, 1);
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
		{ "svg", required_argument, NULL, OC_SVG },
		{ "prom", required_argument, NULL, OC_PROM },
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
				probe_err(&c.o, "invalid --%s '%s'",
					ch == OC_MIN_US ? "min-us" : "max-us", optarg);
				return 2;
			}
			*(ch == OC_MIN_US ? &c.min_us : &c.max_us) = v;
			continue;
		case OC_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 1000000) {
				probe_err(&c.o, "invalid --top '%s'", optarg);
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
		case OC_SVG:
			c.svg = optarg;
			continue;
		case OC_PROM:
			c.prom = optarg;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&c.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (c.folded && c.o.json) {
		probe_err(&c.o, "--folded and --json exclude each other");
		return 2;
	}
	if (c.o.cumulative && c.o.interval <= 0) {
		probe_err(&c.o, "--cumulative needs --interval");
		return 2;
	}
	if (c.max_us && c.max_us < c.min_us) {
		probe_err(&c.o, "--max-us is below --min-us");
		return 2;
	}
	if (probe_check_env(&c.o))
		return 1;
	if (probe_cfg_init(&c.o, c.kthreads, &c.cfg, &c.target))
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
	/* plans: tp_btf or raw_tp, each with the in-flight iterator, then without */
	{
		static const struct { bool btf, iter; } plans[] = {
			{ true, true }, { false, true }, { true, false }, { false, false },
		};
		int iter_err = 0;

		err = -ENOENT;
		for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]) && err; i++) {
			if (plans[i].btf && !probe_try_tp_btf())
				continue;
			err = oc_load(&c, plans[i].btf, plans[i].iter, &c.skel);
			if (c.o.verbose)
				fprintf(stderr, "offcpu: plan %zu (%s%s): %s\n", i, plans[i].btf ? "tp_btf" : "raw_tp",
					plans[i].iter ? " + iter.s/task" : "", err ? strerror(-err) : "loaded");
			if (err && plans[i].iter && !iter_err)
				iter_err = err;
			if (!err) {
				c.method = plans[i].btf ?
					"tp_btf/sched_switch + tp_btf/sched_process_exit + tp_btf/sched_process_exec" :
					"raw_tp/sched_switch + raw_tp/sched_process_exit + raw_tp/sched_process_exec";
				if (plans[i].iter)
					c.iter = c.skel->links.oc_inflight;
				else
					snprintf(c.inflight_why, sizeof(c.inflight_why),
						 "the sleepable task iterator (iter.s/task, Linux >= 6.1) did not load: %s",
						 strerror(-iter_err));
			}
		}
	}
	c.drain_batch = bpf_map__max_entries(c.skel->maps.counts) / 16;
	if (c.drain_batch < 16)
		c.drain_batch = 16;
	c.rb = ring_buffer__new(bpf_map__fd(c.skel->maps.events), oc_event, &c, NULL);
	if (!c.rb) {
		err = -errno;
		probe_err(&c.o, "cannot open the BPF ring buffer: %s", strerror(-err));
		goto out;
	}
	/* kernel symbols once, after attach so our own programs are named
	 * (and skipped); a failure only costs names */
	c.ksyms = ksyms_load(NULL);
	if (!c.ksyms) {
		int e = errno;

		probe_kallsyms_why(c.kallsyms_why, sizeof(c.kallsyms_why));
		if (!c.kallsyms_why[0])
			snprintf(c.kallsyms_why, sizeof(c.kallsyms_why), "cannot read '/proc/kallsyms': %s", strerror(e));
		probe_warn(&c.o, "kernel frames stay addresses: %s", c.kallsyms_why);
	}
	c.t0 = c.last_ns = probe_now_ns();
	probe_note(&c.o, "tracing off-CPU time (%s); Ctrl-C to end", c.method);
	ret = probe_run(&c.o, oc_tick, oc_poll, &c) ? 1 : 0;
out:
	ring_buffer__free(c.rb);
	offcpu_bpf__destroy(c.skel);
	ksyms_free(c.ksyms);
	usyms_free(c.usyms);
	free(c.prev);
	for (int i = 0; i < c.ndrained; i++)
		free(c.drained[i].user);
	free(c.drained);
	free(c.dead);
	return ret;
}
