/* acceptq.c - `qps-tune probe acceptq`: accept-queue saturation and drops of
 * the TCP listeners of one network namespace.
 *
 * Three sources, joined per listener socket (by socket cookie, else by
 * family/address/port):
 *   sock_diag (lib/sockdiag.h) at start and at each report: the listener
 *     list, owner, granted backlog, current queue and sk_drops. "drops" is
 *     the sk_drops delta: exact, every packet the listener dropped.
 *   /proc/net/netstat of the namespace: TcpExt ListenOverflows/ListenDrops
 *     deltas: exact, per namespace.
 *   BPF (bpf/acceptq.bpf.c): depth at each enqueue (peak, histogram), how
 *     often and how long the queue was full, kfree_skb drops whose rx_sk is
 *     the listener, by reason (TCP_LISTEN_OVERFLOW: ACK-path overflows) and,
 *     where fentry or kprobes work, SYN-path overflows per event.
 * sk_drops counts each listen drop once (tcp_listendrop: SYN or ACK refused
 * on a full queue) and most kfree_skb drops on the listener once more (those
 * in tcp_v4_rcv and tcp_drop_reason; not those in tcp_v4_do_rcv and
 * cookie_v4_check, told apart by the drop's kernel function), so
 * "listen_drops" = drops - the kfree_skb drops sk_drops also counted: the
 * listener's share of TcpExt ListenDrops. Whatever share of the namespace's
 * ListenDrops delta no reported listener accounts for is reported as
 * "unattributed_listen_drops", so the figures add up (0 in
 * tests/bpf/acceptq-reuseport.t: two SO_REUSEPORT listeners, syncookies).
 *
 * Attach plan, chosen at run time (first that loads wins):
 *   enqueue: tp_btf/sk_data_ready -> raw_tp/sk_data_ready
 *   SYN path: fentry/tcp_conn_request -> kprobe/tcp_conn_request -> none
 *   ACK path: tp_btf/kfree_skb (raw_tp with the raw_tp plan) when kernel BTF
 *             has SKB_DROP_REASON_TCP_LISTEN_OVERFLOW
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../bpf/acceptq.h"
#include "common.h"
#include "escape.h"
#include "acceptq.skel.h"
#include "acceptq_acct.h"
#include "json.h"
#include "ksyms.h"
#include "procfs.h"
#include "promfile.h"
#include "sockdiag.h"

enum { AQ_PORT = 0x200, AQ_PROM };

/* --prom: a listener's counts since the start (reports may cover intervals) */
struct aq_prom {
	char listener[64];		/* address:port */
	uint64_t drops, listen_drops;
};

struct aq_row {
	struct sd_listener now;		/* valid when in_diag */
	bool in_diag;			/* listed by sock_diag at this report */
	bool at_start;			/* listed at start: drops are a delta */
	uint32_t start_drops;
	uint32_t start_queue, start_backlog;
	bool in_bpf;
	uint64_t key;			/* listeners map key (kernel address) when in_bpf */
	struct acceptq_val b;		/* BPF aggregate when in_bpf */
	uint64_t kfree_not_in_drops;	/* of b's kfree_skb drops, those sk_drops did not count */
};

/* kfree_skb drops on the reported listeners, by dropping function and reason */
struct aq_site {
	char fn[48];			/* function (kallsyms) or "0x..." when unresolved */
	uint32_t reason;
	bool in_sk_drops;		/* the drop also added to the listener's sk_drops */
	uint64_t count;
};

enum { AQ_MAX_SHOWN_SITES = 32 };	/* distinct (function, reason) pairs reported */

struct aq {
	struct probe_opts o;
	struct probe_tpw tpw;		/* perf's hits of skb:kfree_skb, when its program is attached */
	uint16_t port;			/* --port filter, 0: all */
	struct acceptq_bpf *skel;
	uint32_t netns;
	struct sd_listener *start;	/* sock_diag at start */
	int nstart;
	uint64_t ovf0, drops0;		/* netns counters at start */
	bool have_ovf0, have_drops0;
	uint64_t t0;			/* CLOCK_MONOTONIC ns at attach */
	const char *m_enqueue, *m_syn, *m_ack;
	char m_ack_why[160];
	bool enq;			/* sock:sk_data_ready exists: enqueues are traced */
	char *reason_names[ACCEPTQ_MAX_REASONS];	/* enum skb_drop_reason, from kernel BTF */
	unsigned long long reasons[ACCEPTQ_MAX_REASONS];	/* summed over CPUs at the last report */
	int ncpus;
	struct ksyms *ksyms;		/* to tell drop sites apart; NULL: by reason only */
	struct aq_site sites[AQ_MAX_SHOWN_SITES];	/* at the last report */
	int nsites;
	bool sites_exact;		/* every site resolved and counted at the last report */
	uint64_t ovf, ldrops;		/* netns counters at the last report */
	bool have_ovf, have_ldrops;
	char kallsyms_why[300];		/* why kernel symbols are unavailable ("" if loaded) */
	struct probe_cfg cfg;		/* --cgroup (owners' cgroup), namespaces */
	struct probe_target target;	/* what --pid named */
	/* per-interval reports (--interval without --cumulative): the figures
	 * of each report cover [ws, now); the previous report's cumulative
	 * values are subtracted (peak stays the highest since the start) */
	bool deltas;
	int seq;			/* reports so far */
	const char *prom;		/* --prom FILE: node_exporter textfile, each report */
	struct aq_prom *pacc;		/* its counters, one per listener seen */
	int npacc;
	uint64_t pacc_ovf, pacc_ldrops;	/* the namespace's ListenOverflows/ListenDrops since the start */
	uint64_t ws;			/* CLOCK_MONOTONIC start of this report's window */
	struct sd_listener *cur;	/* sock_diag listing of this report: the next window's start */
	int ncur;
	struct aq_prevb { uint64_t key; struct acceptq_val v; } *prevb, *nextb;
	int nprevb, nnextb;
	struct aq_prevs { struct acceptq_site_key k; uint64_t cnt; } *prevs, *nexts;
	int nprevs, nnexts;
	unsigned long long prev_reasons[ACCEPTQ_MAX_REASONS];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe acceptq [--duration S] [--interval S] [--pid PID] [--comm C]\n"
		"                              [--port N] [--cgroup PATH] [--cumulative] [--json] [--prom FILE] [-v]\n"
		"  per TCP listener of the network namespace (of --pid, else our own): granted\n"
		"  backlog, queue depth at each enqueue (peak, log2 histogram), how often and how\n"
		"  long the queue was full, drops (exact, from the listener's sk_drops) and the\n"
		"  namespace's TcpExt ListenOverflows/ListenDrops deltas.\n"
		"  --pid/--comm keep the listeners owned by that process, --cgroup those whose owner\n"
		"  is in that cgroup v2 directory or below; --port keeps one port. --interval\n"
		"  reports cover the time since the previous one (--cumulative: since the start).\n"
		"  --prom FILE writes Prometheus textfile metrics (drops since the start, queue and\n"
		"  backlog now) at each report.\n");
}

static bool listener_wanted(const struct aq *a, const struct sd_listener *l)
{
	if (a->port && l->port != a->port)
		return false;
	if (a->o.pid && l->pid != a->target.tgid)
		return false;
	if (a->o.cgroup && !probe_pid_in_cgroup(&a->cfg, l->pid))
		return false;
	if (a->o.comm[0] && strcmp(l->comm, a->o.comm) != 0)
		return false;
	return true;
}

static bool same_socket(const struct sd_listener *l, const struct acceptq_val *b)
{
	if (l->cookie && b->cookie)
		return l->cookie == b->cookie;
	if (l->port != b->port || l->family != b->family)
		return false;
	if (l->family == AF_INET)
		return memcmp(&l->addr.v4, b->addr, 4) == 0;
	return memcmp(&l->addr.v6, b->addr, 16) == 0;
}

static void bpf_addr_str(const struct acceptq_val *b, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(b->family == AF_INET6 ? AF_INET6 : AF_INET, b->addr, a, sizeof(a));
	if (b->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, b->port);
	else
		snprintf(buf, size, "%s:%u", a, b->port);
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct aq_row *x = pa, *y = pb;
	uint64_t dx = x->in_diag ? x->now.drops - (x->at_start ? x->start_drops : 0) : 0;
	uint64_t dy = y->in_diag ? y->now.drops - (y->at_start ? y->start_drops : 0) : 0;

	if (dx != dy)
		return dx > dy ? -1 : 1;
	if (x->b.full_events != y->b.full_events)
		return x->b.full_events > y->b.full_events ? -1 : 1;
	if (x->b.enqueues != y->b.enqueues)
		return x->b.enqueues > y->b.enqueues ? -1 : 1;
	return (int)x->now.port - (int)y->now.port;
}

/* Reads the drop_sites map: adds to each row's kfree_not_in_drops and fills
 * a->sites. */
static void read_sites(struct aq *a, struct aq_row *rows, int n)
{
	int fd = bpf_map__fd(a->skel->maps.drop_sites), i;
	struct acceptq_site_key key, next;
	bool first = true;

	a->nsites = 0;
	a->sites_exact = a->ksyms && !a->skel->bss->missed_sites;
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		const char *fn = NULL, *rname = NULL;
		char addr[48];
		uint64_t cnt, off;
		bool in, sure;

		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &cnt))
			continue;
		if (a->deltas) {
			struct aq_prevs *ns = realloc(a->nexts, (a->nnexts + 1) * sizeof(*ns));

			if (ns) {
				a->nexts = ns;
				ns[a->nnexts].k = key;
				ns[a->nnexts++].cnt = cnt;
			}
			for (i = 0; i < a->nprevs; i++)
				if (!memcmp(&a->prevs[i].k, &key, sizeof(key))) {
					cnt -= a->prevs[i].cnt;
					break;
				}
			if (!cnt)
				continue;
		}
		for (i = 0; i < n; i++)
			if (rows[i].in_bpf && rows[i].key == key.listener)
				break;
		if (i == n)
			continue;	/* a listener not in this report */
		if (a->ksyms)
			fn = ksyms_find(a->ksyms, key.location, &off);
		if (key.reason < ACCEPTQ_MAX_REASONS)
			rname = a->reason_names[key.reason];
		in = acceptq_site_in_sk_drops(fn, rname, &sure);
		if (!sure)
			a->sites_exact = false;
		if (!in)
			rows[i].kfree_not_in_drops += cnt;
		if (!fn) {
			snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)key.location);
			fn = addr;
		}
		for (i = 0; i < a->nsites; i++)
			if (a->sites[i].reason == key.reason && strcmp(a->sites[i].fn, fn) == 0)
				break;
		if (i == a->nsites) {
			if (a->nsites == AQ_MAX_SHOWN_SITES)
				continue;
			memset(&a->sites[i], 0, sizeof(a->sites[i]));
			snprintf(a->sites[i].fn, sizeof(a->sites[i].fn), "%s", fn);
			a->sites[i].reason = key.reason;
			a->sites[i].in_sk_drops = in;
			a->nsites++;
		}
		a->sites[i].count += cnt;
	}
}

static int read_counters(uint64_t *ovf, bool *have_ovf, uint64_t *drops, bool *have_drops);

/* Collects the rows of one report: the current sock_diag listeners merged with
 * the BPF map. Returns the count, rows in *@out (caller frees), or -errno. */
static int collect(struct aq *a, struct aq_row **out)
{
	struct sd_listener *cur = NULL;
	struct aq_row *rows = NULL;
	int ncur, n = 0, cap, i, k, fd;
	uint64_t key, next;
	bool first = true;

	ncur = sockdiag_listeners(&cur);
	if (ncur < 0)
		return ncur;
	sockdiag_owners(cur, ncur);
	cap = ncur + 64;
	rows = calloc(cap, sizeof(*rows));
	if (!rows) {
		free(cur);
		return -ENOMEM;
	}
	for (i = 0; i < ncur; i++) {
		if (!listener_wanted(a, &cur[i]))
			continue;
		rows[n].now = cur[i];
		rows[n].in_diag = true;
		for (k = 0; k < a->nstart; k++) {
			if (a->start[k].cookie == cur[i].cookie) {
				rows[n].at_start = true;
				rows[n].start_drops = a->start[k].drops;
				rows[n].start_queue = a->start[k].queue;
				rows[n].start_backlog = a->start[k].backlog;
			}
		}
		n++;
	}
	if (a->deltas) {
		free(a->cur);
		a->cur = cur;
		a->ncur = ncur;
	} else {
		free(cur);
	}

	fd = bpf_map__fd(a->skel->maps.listeners);
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		struct acceptq_val v;

		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		for (k = 0; k < n; k++) {
			if (!rows[k].in_bpf && same_socket(&rows[k].now, &v))
				break;
		}
		if (k == n) {
			/* gone before this report (or filtered out by owner) */
			if (a->o.pid || a->o.comm[0] || a->o.cgroup || (a->port && v.port != a->port))
				continue;
			if (n == cap) {
				struct aq_row *r = realloc(rows, (cap *= 2) * sizeof(*rows));

				if (!r)
					break;
				rows = r;
			}
			memset(&rows[n], 0, sizeof(rows[n]));
			n++;
		}
		if (a->deltas) {
			struct aq_prevb *nb = realloc(a->nextb, (a->nnextb + 1) * sizeof(*nb));

			if (nb) {
				a->nextb = nb;
				nb[a->nnextb].key = key;
				nb[a->nnextb++].v = v;
			}
			for (int p = 0; p < a->nprevb; p++) {
				const struct acceptq_val *o = &a->prevb[p].v;

				if (a->prevb[p].key != key)
					continue;
				v.enqueues -= o->enqueues;
				v.full_events -= o->full_events;
				v.full_ns -= o->full_ns;
				v.full_periods -= o->full_periods;
				v.ack_overflow_drops -= o->ack_overflow_drops;
				v.syn_overflow_drops -= o->syn_overflow_drops;
				v.other_kfree_drops -= o->other_kfree_drops;
				v.sk_drops_first = o->sk_drops_last;
				for (int h = 0; h < ACCEPTQ_HIST_SLOTS; h++)
					v.hist[h] -= o->hist[h];
				break;
			}
		}
		rows[k].in_bpf = true;
		rows[k].key = key;
		rows[k].b = v;
	}
	read_sites(a, rows, n);
	/* last: a drop after the sock_diag dump is then in the namespace delta
	 * but in no listener's, so the unattributed remainder is never negative */
	read_counters(&a->ovf, &a->have_ovf, &a->ldrops, &a->have_ldrops);
	qsort(rows, n, sizeof(*rows), cmp_rows);
	*out = rows;
	return n;
}

struct aq_fig {
	uint32_t peak;			/* BPF's peak, or a deeper queue sock_diag saw */
	uint64_t drops;			/* this listener's drops in the window */
	bool drops_exact;
	uint64_t listen_drops;		/* drops that were listen drops (TcpExt ListenDrops share) */
	bool listen_exact;
	uint64_t syn_drops;		/* only with fentry/kprobe */
	double full_ms;
	bool full_now;
};

static void figures(const struct aq *a, const struct aq_row *r, uint64_t now, struct aq_fig *f)
{
	memset(f, 0, sizeof(*f));
	if (r->in_diag && r->now.drops != UINT32_MAX) {
		f->drops = (uint32_t)(r->now.drops - (r->at_start ? r->start_drops : 0));
		f->drops_exact = true;
		f->full_now = r->now.queue > r->now.backlog;
	} else if (r->in_bpf) {
		/* closed listener: what BPF read on it at its first and last event */
		f->drops = (uint32_t)(r->b.sk_drops_last - r->b.sk_drops_first);
	}
	/* sk_drops counts each listen drop once (tcp_listendrop) and most
	 * kfree_skb drops on the listener once more (an ACK-path overflow is
	 * both); the kfree_skb drops in tcp_v4_do_rcv and cookie_v4_check are
	 * not in sk_drops (a refused syncookie ACK is a listen drop counted
	 * once). Without the kfree_skb drops that sk_drops counted, what is left
	 * are the listen drops. */
	f->listen_drops = f->drops;
	if (a->m_ack) {
		f->listen_drops = acceptq_listen_drops(f->drops, r->b.ack_overflow_drops + r->b.other_kfree_drops,
						       r->kfree_not_in_drops);
		f->listen_exact = f->drops_exact && a->sites_exact;
	}
	f->syn_drops = r->b.syn_overflow_drops;
	f->peak = r->b.peak;
	if (r->at_start && r->start_queue > f->peak)
		f->peak = r->start_queue;
	if (r->in_diag && r->now.queue > f->peak)
		f->peak = r->now.queue;
	f->full_ms = r->b.full_ns / 1e6;
	/* full when we started and no child queued since (no room was made,
	 * or it would have been taken): full all along if it still is */
	if (r->at_start && r->start_queue > r->start_backlog && !r->b.enqueues && f->full_now)
		f->full_ms = (now - a->ws) / 1e6;
	if (r->b.full_since_ns) {
		/* open period: still full now, or at least until the last event;
		 * per interval, from the window's start at the earliest */
		uint64_t end = f->full_now ? now : r->b.last_ns;
		uint64_t since = r->b.full_since_ns > a->ws ? r->b.full_since_ns : a->ws;

		if (end > since)
			f->full_ms += (end - since) / 1e6;
	}
}

/* Sums the per-CPU drop-reason counters into a->reasons. */
static void read_reasons(struct aq *a)
{
	int fd = bpf_map__fd(a->skel->maps.drop_reasons);
	unsigned long long *v = calloc(a->ncpus, sizeof(*v));

	memset(a->reasons, 0, sizeof(a->reasons));
	if (!v)
		return;
	for (uint32_t r = 0; r < ACCEPTQ_MAX_REASONS && a->m_ack; r++) {
		if (bpf_map_lookup_elem(fd, &r, v))
			continue;
		for (int c = 0; c < a->ncpus; c++)
			a->reasons[r] += v[c];
		if (a->deltas) {
			unsigned long long cum = a->reasons[r];

			a->reasons[r] -= a->prev_reasons[r];
			a->prev_reasons[r] = cum;
		}
	}
	free(v);
}

static const char *reason_name(const struct aq *a, int r, char *buf, size_t size)
{
	if (a->reason_names[r])
		return a->reason_names[r];
	snprintf(buf, size, "reason_%d", r);
	return buf;
}

/* The namespace's ListenDrops delta that no listener of the report accounts
 * for: net delta - the sum of listen_drops. Drops on listeners left out by
 * --pid/--comm/--port, on listeners closed before a report whose BPF
 * reading missed them, and drops between the start counters and the start
 * sock_diag dump (or the end dump and the end counters) land here. */
static long long unattributed(const struct aq *a, const struct aq_row *rows, int n, uint64_t now,
			      uint64_t ddrops)
{
	long long sum = 0;
	struct aq_fig f;

	for (int i = 0; i < n; i++) {
		figures(a, &rows[i], now, &f);
		sum += (long long)f.listen_drops;
	}
	return (long long)ddrops - sum;
}

static int read_counters(uint64_t *ovf, bool *have_ovf, uint64_t *drops, bool *have_drops)
{
	*have_ovf = snmp_counter("TcpExt:ListenOverflows", ovf) == 0;
	*have_drops = snmp_counter("TcpExt:ListenDrops", drops) == 0;
	return 0;
}

/* Calls the kernel skipped because the program was already running on that
 * CPU (recursion_misses), since the start, every namespace and listener;
 * for kfree_skb minus what its backup counted. */
struct aq_unseen {
	uint64_t enqueues, kfree, kfree_caught, syn;
	uint64_t kfree_nd;	/* hits of the tracepoint that never reached the program */
};

static void aq_unseen_read(const struct aq *a, struct aq_unseen *u)
{
	const struct acceptq_bpf *s = a->skel;
	/* the witness first: a hit between the reads counts as delivered */
	uint64_t w = probe_tpw_read(&a->tpw, 0);
	uint64_t k = probe_prog_misses(s->progs.aq_kfree_skb_btf) + probe_prog_misses(s->progs.aq_kfree_skb_raw);

	u->enqueues = probe_prog_misses(s->progs.aq_data_ready_btf) + probe_prog_misses(s->progs.aq_data_ready_raw);
	u->kfree_caught = s->bss->kfree_caught;
	u->kfree = k > u->kfree_caught ? k - u->kfree_caught : 0;
	u->syn = probe_prog_misses(s->progs.aq_conn_request_fentry) + probe_prog_misses(s->progs.aq_conn_request_kprobe);
	u->kfree_nd = probe_tpw_gap(w, s->bss->kfree_calls + k);
}

static void report_text(struct aq *a, struct aq_row *rows, int n, bool final,
			uint64_t dovf, bool have_ovf, uint64_t ddrops, bool have_drops)
{
	uint64_t now = probe_now_ns();
	struct aq_unseen un;
	char at[40];
	int i;

	probe_stamp(at, sizeof(at));
	printf("%s %.1f s at %s%s, TCP listeners in netns %u (enqueue: %s; ACK-path overflow: %s; SYN-path overflow: %s)\n",
	       final ? "acceptq" : "acceptq (interval)", (now - a->t0) / 1e9, at,
	       a->deltas ? (a->seq > 1 ? " (since the previous report; PEAK since the start)" : " (since the start)") : "", a->netns,
	       a->m_enqueue, a->m_ack ? a->m_ack : "not traced",
	       a->m_syn ? a->m_syn : "not traced per event, in LISTENDROP");
	printf("%-24s %-22s %6s %6s %6s %9s %6s %9s %8s %10s %8s\n", "LISTENER", "OWNER", "LIMIT",
	       "QUEUE", "PEAK", "ENQUEUED", "FULL", "FULL_MS", "DROPS", "LISTENDROP", "ACK_OVF");
	for (i = 0; i < n; i++) {
		const struct aq_row *r = &rows[i];
		char addr[64], owner[16 + ESCAPE_COMM_MAX] = "-", queue[12] = "-", comm[ESCAPE_COMM_MAX];
		struct aq_fig f;

		figures(a, r, now, &f);
		if (r->in_diag) {
			sockdiag_addr_str(&r->now, addr, sizeof(addr));
			if (r->now.pid)
				snprintf(owner, sizeof(owner), "%d/%s", (int)r->now.pid, escape_comm(comm, r->now.comm));
		} else {
			bpf_addr_str(&r->b, addr, sizeof(addr));
			snprintf(owner, sizeof(owner), "(closed)");
		}
		if (r->in_diag)
			snprintf(queue, sizeof(queue), "%u", r->now.queue);
		printf("%-24s %-22s %6u %6s %6u %9llu %6llu %9.1f %7llu%s %9llu%s %8llu\n", addr, owner,
		       r->in_diag ? r->now.backlog : r->b.max_backlog, queue, f.peak,
		       (unsigned long long)r->b.enqueues, (unsigned long long)r->b.full_events,
		       f.full_ms, (unsigned long long)f.drops, f.drops_exact ? " " : "~",
		       (unsigned long long)f.listen_drops, f.listen_exact ? " " : "~",
		       (unsigned long long)r->b.ack_overflow_drops);
		if (a->m_syn)
			printf("  SYN-path overflows (%s): %llu\n", a->m_syn, (unsigned long long)f.syn_drops);
		if (r->b.enqueues && final) {
			printf("  queue depth right after each enqueue:\n");
			probe_print_hist(stdout, r->b.hist, ACCEPTQ_HIST_SLOTS, "depth", "  ");
		}
	}
	if (!n)
		printf("(no TCP listeners%s)\n", probe_has_filter(&a->o) || a->port ? " match the filters" : "");
	probe_report_filter(&a->o, &a->target, n > 0, final, NULL, NULL);
	printf("netns %u: TcpExt ListenOverflows %s%llu, ListenDrops %s%llu (exact, whole namespace)\n",
	       a->netns, have_ovf ? "+" : "n/a ", (unsigned long long)dovf,
	       have_drops ? "+" : "n/a ", (unsigned long long)ddrops);
	if (have_drops) {
		long long u = unattributed(a, rows, n, now, ddrops);

		printf("ListenDrops +%llu = LISTENDROP of the listeners above %lld + unattributed %lld%s\n",
		       (unsigned long long)ddrops, (long long)ddrops - u, u,
		       u ? " (listeners filtered out or closed, or drops while the report was read)" : "");
	}
	if (a->m_ack) {
		bool any = false;
		char b[32];

		for (i = 0; i < ACCEPTQ_MAX_REASONS; i++) {
			if (!a->reasons[i])
				continue;
			printf("%s%s %llu", any ? ", " : "kfree_skb drops on these listeners by reason: ",
			       reason_name(a, i, b, sizeof(b)), a->reasons[i]);
			any = true;
		}
		if (any)
			printf("\n");
		any = false;
		for (i = 0; i < a->nsites; i++) {
			if (a->sites[i].in_sk_drops)
				continue;
			printf("%s%s %s %llu", any ? ", " : "of which not in sk_drops (not subtracted from DROPS): ",
			       a->sites[i].fn, reason_name(a, (int)(a->sites[i].reason < ACCEPTQ_MAX_REASONS ?
							  a->sites[i].reason : ACCEPTQ_MAX_REASONS - 1), b, sizeof(b)),
			       (unsigned long long)a->sites[i].count);
			any = true;
		}
		if (any)
			printf("\n");
	}
	printf("DROPS: packets the listener dropped (its sk_drops delta); LISTENDROP: those refused because\n"
	       "the accept (or SYN) queue was full, its share of TcpExt ListenDrops (DROPS minus the kfree_skb\n"
	       "drops sk_drops also counted); ACK_OVF: handshake ACKs refused on a full queue (kfree_skb\n"
	       "TCP_LISTEN_OVERFLOW); '~' = attributed. FULL: enqueues that filled the queue (depth > limit);\n"
	       "FULL_MS: upper bound (accept(2) has no tracepoint).\n");
	if (!a->ksyms && a->m_ack)
		printf("LISTENDROP '~' (kfree_skb drops told apart by reason only): %s\n", a->kallsyms_why);
	if (a->skel->bss->missed_listeners)
		printf("listeners that did not fit the BPF map: %llu events lost\n",
		       (unsigned long long)a->skel->bss->missed_listeners);
	aq_unseen_read(a, &un);
	if (un.enqueues || un.kfree || un.syn)
		printf("unseen since the start (program already running on that CPU; every namespace): "
		       "%llu enqueues, %llu kfree_skb drops, %llu SYN-path calls\n",
		       (unsigned long long)un.enqueues, (unsigned long long)un.kfree, (unsigned long long)un.syn);
	if (un.kfree_caught)
		printf("%llu kfree_skb drops skipped on a busy CPU were counted by the backup program\n",
		       (unsigned long long)un.kfree_caught);
	if (un.kfree_nd)
		printf("not delivered since the start (the tracepoint was hit, perf counted it, the program never ran; "
		       "every namespace): %llu kfree_skb drops - ack_drops may be short by as much\n",
		       (unsigned long long)un.kfree_nd);
}

/* The missed.* counters and their causes (JSON missed.causes, warnings). */
static const struct { const char *key; const char *why; } aq_missed[] = {
	{ "listener_events", "events on listeners beyond the " "4096" "-listener BPF map: their enqueues and kfree_skb drops are not in the per-listener figures (sock_diag drops still are)" },
	{ "ack_overflow_unattributed", "ACK-path overflows (kfree_skb TCP_LISTEN_OVERFLOW) with no socket to attribute them to: in the namespace counters only" },
	{ "drop_sites", "kfree_skb drop sites beyond the " "4096" "-entry site map: their drops cannot be told in or out of sk_drops (listen_drops become attributed)" },
};
#define AQ_NMISSED ((int)(sizeof(aq_missed) / sizeof(aq_missed[0])))

static void aq_warn_missed(struct aq *a)
{
	const uint64_t n[AQ_NMISSED] = { a->skel->bss->missed_listeners, a->skel->bss->ack_overflow_unattributed,
					 a->skel->bss->missed_sites };

	for (int i = 0; i < AQ_NMISSED; i++)
		if (n[i])
			probe_warn(&a->o, "missed.%s %llu: %s", aq_missed[i].key, (unsigned long long)n[i], aq_missed[i].why);
	struct aq_unseen u;

	aq_unseen_read(a, &u);
	if (u.enqueues || u.kfree || u.syn)
		probe_warn(&a->o, "unseen since the start (program already running on that CPU; every namespace): "
			   "%llu enqueues, %llu kfree_skb drops, %llu SYN-path calls",
			   (unsigned long long)u.enqueues, (unsigned long long)u.kfree, (unsigned long long)u.syn);
	if (u.kfree_nd)
		probe_warn(&a->o, "%llu kfree_skb drops hit the tracepoint (perf's count) but never reached the program: "
			   "ack_drops may be short by as much", (unsigned long long)u.kfree_nd);
}

static void report_json(struct aq *a, struct aq_row *rows, int n, bool final,
			uint64_t dovf, bool have_ovf, uint64_t ddrops, bool have_drops)
{
	uint64_t now = probe_now_ns();
	struct aq_unseen u;
	struct json j;
	char addr[64];
	int i;

	json_init(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "schema", "qps-tune.probe.acceptq/1");
	json_bool(&j, "final", final);
	json_double(&j, "elapsed_s", (now - a->t0) / 1e9);
	probe_json_stamp(&j, &a->o, a->seq, (now - a->ws) / 1e9);
	json_uint(&j, "netns", a->netns);
	json_obj_open(&j, "filters");
	if (a->o.pid)
		json_int(&j, "pid", a->o.pid);
	else
		json_null(&j, "pid");
	json_str(&j, "comm", a->o.comm[0] ? a->o.comm : NULL);
	json_str(&j, "cgroup", a->o.cgroup);
	if (a->port)
		json_uint(&j, "port", a->port);
	else
		json_null(&j, "port");
	json_obj_close(&j);
	probe_report_filter(&a->o, &a->target, n > 0, final, NULL, &j);
	json_obj_open(&j, "method");
	json_str(&j, "enqueue", a->m_enqueue);
	json_str(&j, "ack_overflow", a->m_ack ? a->m_ack : a->m_ack_why);
	json_str(&j, "syn_overflow", a->m_syn ? a->m_syn :
		 "not traced per event (no fentry/kprobe here): they are in listen_drops");
	json_str(&j, "drops", "listener sk_drops delta via sock_diag SKMEMINFO (exact)");
	json_str(&j, "listen_drops", a->m_ack ?
		 (a->ksyms ? "drops - the kfree_skb drops on the listener that sk_drops counted too (by drop site)" :
		  "drops - the kfree_skb drops on the listener that sk_drops counted too (by reason: no kernel symbols)") :
		 "= drops (kfree_skb not traced: cannot separate other drops)");
	json_str(&j, "kernel_symbols", a->ksyms ? "named (/proc/kallsyms)" : a->kallsyms_why);
	json_str(&j, "full_ms", "from the enqueue that filled the queue to the first later enqueue that found room, or now if still full (upper bound)");
	json_obj_close(&j);
	json_arr_open(&j, "listeners");
	for (i = 0; i < n; i++) {
		const struct aq_row *r = &rows[i];
		struct aq_fig f;
		char a4[INET6_ADDRSTRLEN] = "";

		figures(a, r, now, &f);
		json_obj_open(&j, NULL);
		if (r->in_diag) {
			inet_ntop(r->now.family, &r->now.addr, a4, sizeof(a4));
			sockdiag_addr_str(&r->now, addr, sizeof(addr));
		} else {
			inet_ntop(r->b.family == AF_INET6 ? AF_INET6 : AF_INET, r->b.addr, a4, sizeof(a4));
			bpf_addr_str(&r->b, addr, sizeof(addr));
		}
		json_str(&j, "listener", addr);
		json_str(&j, "addr", a4);
		json_uint(&j, "port", r->in_diag ? r->now.port : r->b.port);
		json_str(&j, "family", (r->in_diag ? r->now.family : r->b.family) == AF_INET6 ? "ipv6" : "ipv4");
		json_uint(&j, "netns", a->netns);
		if (r->in_diag && r->now.pid) {
			json_int(&j, "pid", r->now.pid);
			json_str(&j, "comm", r->now.comm);
		} else {
			json_null(&j, "pid");
			json_null(&j, "comm");
		}
		json_bool(&j, "closed", !r->in_diag);
		json_uint(&j, "cookie", r->in_diag ? r->now.cookie : r->b.cookie);
		json_uint(&j, "backlog", r->in_diag ? r->now.backlog : r->b.max_backlog);
		if (r->in_diag)
			json_uint(&j, "queue", r->now.queue);
		else
			json_null(&j, "queue");
		json_uint(&j, "peak", f.peak);
		json_uint(&j, "enqueues", r->b.enqueues);
		json_uint(&j, "full_events", r->b.full_events);
		json_bool(&j, "full_now", f.full_now);
		json_bool(&j, "was_full", f.full_now || r->b.full_events || r->b.full_since_ns ||
			  r->b.full_periods || f.drops || (r->at_start && r->start_queue > r->start_backlog));
		json_double(&j, "full_ms", f.full_ms);
		json_uint(&j, "drops", f.drops);
		json_bool(&j, "drops_exact", f.drops_exact);
		json_uint(&j, "listen_drops", f.listen_drops);
		json_bool(&j, "listen_drops_exact", f.listen_exact);
		if (a->m_syn)
			json_uint(&j, "syn_drops", f.syn_drops);
		else
			json_null(&j, "syn_drops");
		json_uint(&j, "other_kfree_drops", r->b.other_kfree_drops);
		json_uint(&j, "ack_drops", r->b.ack_overflow_drops);
		json_bool(&j, "ack_drops_exact", a->m_ack != NULL);
		probe_json_hist(&j, "depth_hist", r->b.hist, ACCEPTQ_HIST_SLOTS);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_open(&j, "netns_counters");
	if (have_ovf)
		json_uint(&j, "ListenOverflows", dovf);
	else
		json_null(&j, "ListenOverflows");
	if (have_drops)
		json_uint(&j, "ListenDrops", ddrops);
	else
		json_null(&j, "ListenDrops");
	json_obj_close(&j);
	if (have_drops)
		json_int(&j, "unattributed_listen_drops", unattributed(a, rows, n, now, ddrops));
	else
		json_null(&j, "unattributed_listen_drops");
	if (a->m_ack) {
		char b[32];

		json_obj_open(&j, "drop_reasons");
		for (i = 0; i < ACCEPTQ_MAX_REASONS; i++)
			if (a->reasons[i])
				json_uint(&j, reason_name(a, i, b, sizeof(b)), a->reasons[i]);
		json_obj_close(&j);
		json_arr_open(&j, "drop_sites");
		for (i = 0; i < a->nsites; i++) {
			uint32_t r = a->sites[i].reason;

			json_obj_open(&j, NULL);
			json_str(&j, "function", a->sites[i].fn);
			json_str(&j, "reason", reason_name(a, (int)(r < ACCEPTQ_MAX_REASONS ? r : ACCEPTQ_MAX_REASONS - 1),
							   b, sizeof(b)));
			json_uint(&j, "count", a->sites[i].count);
			json_bool(&j, "in_sk_drops", a->sites[i].in_sk_drops);
			json_obj_close(&j);
		}
		json_arr_close(&j);
	} else {
		json_null(&j, "drop_reasons");
		json_null(&j, "drop_sites");
	}
	json_obj_open(&j, "missed");
	json_uint(&j, "listener_events", a->skel->bss->missed_listeners);
	json_uint(&j, "ack_overflow_unattributed", a->skel->bss->ack_overflow_unattributed);
	json_uint(&j, "drop_sites", a->skel->bss->missed_sites);
	json_obj_open(&j, "causes");
	for (i = 0; i < AQ_NMISSED; i++)
		json_str(&j, aq_missed[i].key, aq_missed[i].why);
	json_obj_close(&j);
	json_obj_close(&j);
	aq_unseen_read(a, &u);
	json_obj_open(&j, "unseen");
	json_str(&j, "cause", "program already running on that CPU (nested call skipped by the kernel); "
			      "since the start, every namespace and listener");
	json_uint(&j, "enqueues", u.enqueues);
	json_uint(&j, "kfree_skb_drops", u.kfree);
	json_uint(&j, "kfree_skb_caught_by_backup", u.kfree_caught);
	json_uint(&j, "syn_path_calls", u.syn);
	if (probe_tpw_ok(&a->tpw)) {
		json_uint(&j, "kfree_skb_not_delivered", u.kfree_nd);
		json_str(&j, "witness", "perf counters of skb:kfree_skb");
	} else {
		json_null(&j, "kfree_skb_not_delivered");
		json_str(&j, "witness", a->tpw.err[0] ? a->tpw.err : "none (no kfree_skb program)");
	}
	json_obj_close(&j);
	json_obj_close(&j);
	fflush(stdout);
}

/* Adds this report's figures to the --prom counters (a report covers the
 * window since the previous one, or with --cumulative the whole run), then
 * writes the textfile: drops and listen drops per listener and of the
 * namespace as counters since the start, queue and backlog as gauges. */
static int write_prom(struct aq *a, const struct aq_row *rows, int n, uint64_t dovf, bool have_ovf,
		      uint64_t ddrops, bool have_drops)
{
	uint64_t now = probe_now_ns();
	struct aq_unseen un;
	struct promfile *p;
	char addr[64], v[16];
	struct aq_fig f;
	int k, err;

	for (int i = 0; i < n; i++) {
		const struct aq_row *r = &rows[i];

		if (r->in_diag)
			sockdiag_addr_str(&r->now, addr, sizeof(addr));
		else
			bpf_addr_str(&r->b, addr, sizeof(addr));
		figures(a, r, now, &f);
		for (k = 0; k < a->npacc && strcmp(a->pacc[k].listener, addr); k++)
			;
		if (k == a->npacc) {
			struct aq_prom *q = realloc(a->pacc, (a->npacc + 1) * sizeof(*q));

			if (!q)
				return -ENOMEM;
			a->pacc = q;
			memset(&q[k], 0, sizeof(q[k]));
			snprintf(q[k].listener, sizeof(q[k].listener), "%s", addr);
			a->npacc++;
		}
		if (a->deltas) {
			a->pacc[k].drops += f.drops;
			a->pacc[k].listen_drops += f.listen_drops;
		} else {
			a->pacc[k].drops = f.drops;
			a->pacc[k].listen_drops = f.listen_drops;
		}
	}
	if (have_ovf)
		a->pacc_ovf = a->deltas ? a->pacc_ovf + dovf : dovf;
	if (have_drops)
		a->pacc_ldrops = a->deltas ? a->pacc_ldrops + ddrops : ddrops;
	p = promfile_new(a->prom);
	if (!p)
		return -errno;
	promfile_help(p, "qps_acceptq_drops_total", "counter", "packets the listener dropped (its sk_drops) since the probe started");
	for (k = 0; k < a->npacc; k++)
		promfile_sample(p, "qps_acceptq_drops_total", (const char *[]){ "listener", a->pacc[k].listener, NULL },
				(double)a->pacc[k].drops);
	promfile_help(p, "qps_acceptq_listen_drops_total", "counter", "listen drops (full accept or SYN queue) of the listener since the probe started");
	for (k = 0; k < a->npacc; k++)
		promfile_sample(p, "qps_acceptq_listen_drops_total", (const char *[]){ "listener", a->pacc[k].listener, NULL },
				(double)a->pacc[k].listen_drops);
	promfile_help(p, "qps_acceptq_queue", "gauge", "accept-queue depth at the report (sock_diag)");
	for (int i = 0; i < n; i++)
		if (rows[i].in_diag) {
			sockdiag_addr_str(&rows[i].now, addr, sizeof(addr));
			promfile_sample(p, "qps_acceptq_queue", (const char *[]){ "listener", addr, NULL }, rows[i].now.queue);
		}
	promfile_help(p, "qps_acceptq_backlog", "gauge", "the accept-queue limit the kernel granted (min(backlog, somaxconn))");
	for (int i = 0; i < n; i++)
		if (rows[i].in_diag) {
			sockdiag_addr_str(&rows[i].now, addr, sizeof(addr));
			promfile_sample(p, "qps_acceptq_backlog", (const char *[]){ "listener", addr, NULL }, rows[i].now.backlog);
		}
	snprintf(v, sizeof(v), "%u", a->netns);
	if (have_ovf) {
		promfile_help(p, "qps_acceptq_netns_listen_overflows_total", "counter", "TcpExt ListenOverflows of the network namespace since the probe started");
		promfile_sample(p, "qps_acceptq_netns_listen_overflows_total", (const char *[]){ "netns", v, NULL }, (double)a->pacc_ovf);
	}
	if (have_drops) {
		promfile_help(p, "qps_acceptq_netns_listen_drops_total", "counter", "TcpExt ListenDrops of the network namespace since the probe started");
		promfile_sample(p, "qps_acceptq_netns_listen_drops_total", (const char *[]){ "netns", v, NULL }, (double)a->pacc_ldrops);
	}
	aq_unseen_read(a, &un);
	promfile_counters(p, "qps_acceptq_unseen_events_total",
			  "events the probe could not see (its program was already running on that CPU), every namespace",
			  "event", (const char *const[]){ "enqueue", "kfree_skb", "syn_path" },
			  (const uint64_t[]){ un.enqueues, un.kfree, un.syn }, 3);
	if (probe_tpw_ok(&a->tpw))
		promfile_counters(p, "qps_acceptq_undelivered_events_total",
				  "tracepoint hits (perf's count) that never reached the probe's programs, every namespace",
				  "event", (const char *const[]){ "kfree_skb" }, &un.kfree_nd, 1);
	err = promfile_commit(p);
	promfile_free(p);
	return err;
}

static int aq_tick(void *ctx, bool final)
{
	struct aq *a = ctx;
	struct aq_row *rows = NULL;
	uint64_t ovf, drops;
	bool have_ovf, have_drops;
	int n, err = 0;

	a->seq++;
	n = collect(a, &rows);
	if (n < 0) {
		probe_err(&a->o, "cannot list TCP listeners via sock_diag: %s", strerror(-n));
		return n;
	}
	ovf = a->ovf;
	drops = a->ldrops;
	have_ovf = a->have_ovf;
	have_drops = a->have_ldrops;
	read_reasons(a);
	have_ovf = have_ovf && a->have_ovf0;
	have_drops = have_drops && a->have_drops0;
	if (a->o.json)
		report_json(a, rows, n, final, ovf - a->ovf0, have_ovf, drops - a->drops0, have_drops);
	else
		report_text(a, rows, n, final, ovf - a->ovf0, have_ovf, drops - a->drops0, have_drops);
	if (a->prom) {
		err = write_prom(a, rows, n, ovf - a->ovf0, have_ovf, drops - a->drops0, have_drops);
		if (err)
			probe_err(&a->o, "cannot write '%s': %s", a->prom, strerror(-err));
	}
	free(rows);
	if (final)
		aq_warn_missed(a);
	if (a->deltas) {
		/* the next window starts here */
		free(a->start);
		a->start = a->cur;
		a->nstart = a->ncur;
		a->cur = NULL;
		a->ovf0 = ovf;
		a->drops0 = drops;
		a->have_ovf0 = a->have_ovf;
		a->have_drops0 = a->have_ldrops;
		free(a->prevb);
		a->prevb = a->nextb;
		a->nprevb = a->nnextb;
		a->nextb = NULL;
		a->nnextb = 0;
		free(a->prevs);
		a->prevs = a->nexts;
		a->nprevs = a->nnexts;
		a->nexts = NULL;
		a->nnexts = 0;
		a->ws = probe_now_ns();
	}
	return err;
}

/* Opens, configures and loads the skeleton with one attach plan. */
/* Opens, configures and loads the skeleton with one attach plan; @enq false:
 * no enqueue programs (the kernel has no sock:sk_data_ready). */
static int aq_load(struct aq *a, bool btf_tp, int syn, bool ack, struct acceptq_bpf **out)
{
	struct acceptq_bpf *s;
	int err;

	s = acceptq_bpf__open();
	if (!s)
		return -errno;
	s->rodata->target_netns = a->netns;
	s->rodata->target_port = a->port;
	bpf_program__set_autoload(s->progs.aq_data_ready_btf, a->enq && btf_tp);
	bpf_program__set_autoload(s->progs.aq_data_ready_raw, a->enq && !btf_tp);
	bpf_program__set_autoload(s->progs.aq_conn_request_fentry, syn == 1);
	bpf_program__set_autoload(s->progs.aq_conn_request_kprobe, syn == 2);
	bpf_program__set_autoload(s->progs.aq_kfree_skb_btf, ack && btf_tp);
	bpf_program__set_autoload(s->progs.aq_kfree_skb_raw, ack && !btf_tp);
	/* the backup of the kfree_skb program in use: attached by hand, after
	 * it, so that the tracepoint calls it second (bpf/backup.bpf.h) */
	bpf_program__set_autoload(s->progs.aq_kfree2_btf, ack && btf_tp);
	bpf_program__set_autoload(s->progs.aq_kfree2_raw, ack && !btf_tp);
	bpf_program__set_autoattach(s->progs.aq_kfree2_btf, false);
	bpf_program__set_autoattach(s->progs.aq_kfree2_raw, false);
	err = acceptq_bpf__load(s);
	if (!err)
		err = acceptq_bpf__attach(s);
	if (!err && ack) {
		struct bpf_program *b = btf_tp ? s->progs.aq_kfree2_btf : s->progs.aq_kfree2_raw;
		struct bpf_link **l = btf_tp ? &s->links.aq_kfree2_btf : &s->links.aq_kfree2_raw;

		*l = bpf_program__attach(b);
		if (!*l)
			err = -errno;
	}
	if (err) {
		acceptq_bpf__destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

int probe_acceptq(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "port", required_argument, NULL, AQ_PORT },
		{ "prom", required_argument, NULL, AQ_PROM },
		{ NULL, 0, NULL, 0 },
	};
	struct aq a = { 0 };
	bool help = false, ack = false, btf_used = false;
	long long ovf_reason;
	int c, err, syn, end, ret = 1, self_ns = -1;
	uint64_t v;

	probe_opts_init(&a.o, "acceptq");
	a.ncpus = libbpf_num_possible_cpus();
	optind = 1;
	while ((c = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&a.o, c, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		if (c == AQ_PROM) {
			a.prom = optarg;
			continue;
		}
		if (c == AQ_PORT && probe_parse_u64(optarg, &v) == 0 && v > 0 && v < 65536) {
			a.port = (uint16_t)v;
			continue;
		}
		if (c == AQ_PORT)
			probe_err(&a.o, "invalid --port '%s'", optarg);
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&a.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (a.o.cumulative && a.o.interval <= 0) {
		probe_err(&a.o, "--cumulative needs --interval");
		return 2;
	}
	if (probe_check_env(&a.o))
		return 1;
	if (probe_cfg_init(&a.o, false, &a.cfg, &a.target))
		return 1;
	a.deltas = a.o.interval > 0 && !a.o.cumulative;
	probe_setup(&a.o);

	if (a.o.pid) {
		self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		err = netns_enter_pid(a.o.pid);
		if (err) {
			probe_err(&a.o, "cannot enter the network namespace of pid %d: %s", (int)a.o.pid, strerror(-err));
			goto out;
		}
	}
	a.netns = (uint32_t)netns_inode(0);

	a.enq = probe_kernel_has_tp("sk_data_ready");
	if (!a.enq)
		probe_note(&a.o, "this kernel has no sock:sk_data_ready tracepoint: enqueues, the depth histogram and full time are not measured (peak and full come from sock_diag at each report); listeners, queues, limits, drops and the namespace counters are still reported");
	if (probe_kernel_enum_value("skb_drop_reason", "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW", &ovf_reason) &&
	    probe_kernel_has_tp("kfree_skb")) {
		ack = true;
	} else {
		snprintf(a.m_ack_why, sizeof(a.m_ack_why),
			 "not traced: kernel has no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (Linux >= 6.15); counted in drops");
	}
	/* plans in order of preference: SYN-path tracing needs fentry or kprobes */
	static const struct { bool btf_tp; int syn; } plans[] = {
		{ true, 1 }, { true, 2 }, { true, 0 }, { false, 0 },
	};
	err = -ENOENT;
	syn = 0;
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]) && err; i++) {
		if (plans[i].syn == 2 && !probe_kernel_has_kprobe("tcp_conn_request"))
			continue;
		if (plans[i].btf_tp && !probe_try_tp_btf())
			continue;
		err = aq_load(&a, plans[i].btf_tp, plans[i].syn, ack, &a.skel);
		if (a.o.verbose)
			fprintf(stderr, "acceptq: attach plan %zu: %s\n", i, err ? strerror(-err) : "loaded");
		if (!err) {
			syn = plans[i].syn;
			btf_used = plans[i].btf_tp;
			a.m_enqueue = !a.enq ? "not traced: the kernel has no sock:sk_data_ready tracepoint" :
				      plans[i].btf_tp ? "tp_btf/sk_data_ready" : "raw_tp/sk_data_ready";
		}
	}
	if (err && ack) {
		/* kfree_skb refused: one more try without it */
		ack = false;
		snprintf(a.m_ack_why, sizeof(a.m_ack_why), "not traced: kfree_skb program did not load; counted in drops");
		err = aq_load(&a, probe_try_tp_btf(), 0, false, &a.skel);
		btf_used = probe_try_tp_btf();
		a.m_enqueue = !a.enq ? "not traced: the kernel has no sock:sk_data_ready tracepoint" :
			      probe_try_tp_btf() ? "tp_btf/sk_data_ready" : "raw_tp/sk_data_ready";
	}
	if (err) {
		probe_load_err(&a.o, "load and attach the acceptq BPF programs", err);
		goto out;
	}
	if (ack && a.ncpus > 0)
		probe_kernel_enum_names("skb_drop_reason", "SKB_DROP_REASON_", a.reason_names,
					ACCEPTQ_MAX_REASONS);
	else
		ack = false;
	a.m_syn = syn == 1 ? "fentry/tcp_conn_request (exact)" : syn == 2 ? "kprobe/tcp_conn_request (exact)" : NULL;
	if (ack)
		a.m_ack = btf_used ?
			"tp_btf/kfree_skb reason TCP_LISTEN_OVERFLOW (exact)" :
			"raw_tp/kfree_skb reason TCP_LISTEN_OVERFLOW (exact)";

	a.ksyms = ksyms_load(NULL);
	if (!a.ksyms) {
		int e = errno;

		probe_kallsyms_why(a.kallsyms_why, sizeof(a.kallsyms_why));
		if (!a.kallsyms_why[0])
			snprintf(a.kallsyms_why, sizeof(a.kallsyms_why), "cannot read '/proc/kallsyms': %s", strerror(e));
		if (ack)
			probe_warn(&a.o, "kfree_skb drops are told apart by reason only, so listen_drops are attributed, not exact: %s",
				   a.kallsyms_why);
	}
	/* the witness after the attach */
	if (a.m_ack)
		probe_tpw_open(&a.tpw, &a.o, (const char *const[]){ "skb/kfree_skb" }, 1);
	/* baseline after attach: every drop from here is both in BPF and in the
	 * deltas. Counters first: a drop before the sock_diag dump is then in
	 * the namespace delta but in no listener's (unattributed, never < 0). */
	read_counters(&a.ovf0, &a.have_ovf0, &a.drops0, &a.have_drops0);
	a.nstart = sockdiag_listeners(&a.start);
	if (a.nstart < 0) {
		probe_err(&a.o, "cannot list TCP listeners via sock_diag (NETLINK_SOCK_DIAG): %s", strerror(-a.nstart));
		a.start = NULL;
		goto out;
	}
	a.t0 = a.ws = probe_now_ns();
	probe_note(&a.o, "tracing %d TCP listener(s) in netns %u (%s%s%s); Ctrl-C to end", a.nstart, a.netns,
		   a.enq ? a.m_enqueue : "no enqueue tracing", a.m_ack ? (btf_used ? ", tp_btf/kfree_skb" : ", raw_tp/kfree_skb") : "",
		   syn == 1 ? ", fentry/tcp_conn_request" : syn == 2 ? ", kprobe/tcp_conn_request" : "");
	err = probe_run(&a.o, aq_tick, NULL, &a);
	ret = err ? 1 : 0;
out:
	probe_tpw_close(&a.tpw);
	acceptq_bpf__destroy(a.skel);
	ksyms_free(a.ksyms);
	probe_names_free(a.reason_names, ACCEPTQ_MAX_REASONS);
	free(a.start);
	free(a.pacc);
	free(a.cur);
	free(a.prevb);
	free(a.nextb);
	free(a.prevs);
	free(a.nexts);
	if (self_ns >= 0) {
		setns(self_ns, CLONE_NEWNET);
		close(self_ns);
	}
	return ret;
}
