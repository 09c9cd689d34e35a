/* tcpdrop.c - `qps-tune probe tcpdrop`: where did the packets go?
 *
 * Drops from skb:kfree_skb by reason (the kernel's enum skb_drop_reason,
 * named from its BTF at run time, not from a table of ours: new reasons of
 * newer kernels appear by name), by the kernel function that freed the
 * packet (location -> /proc/kallsyms) and by local port; TCP retransmits and
 * resets sent/received by remote address and port with the TCP state.
 * --stacks adds the kernel stack of each drop place.
 *
 * Attach plan: tp_btf for all four tracepoints -> raw_tp twins (the
 * retransmit tracepoint without its err argument before Linux 6.10).
 * kfree_skb sees every namespace: --netns limits it to one (a path such
 * as /proc/PID/ns/net or /run/netns/NAME, a pid, or "self").
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../bpf/tcpdrop.h"
#include "common.h"
#include "json.h"
#include "ksyms.h"
#include "promfile.h"
#include "tcpdrop.skel.h"

enum { TD_NETNS = 0x200, TD_PORT, TD_STACKS, TD_ALL, TD_TOP, TD_PROM };

#define TD_MAX_REASONS 1024		/* names read from BTF; larger values print as numbers */

struct td {
	struct probe_opts o;
	const char *netns_arg, *prom;
	uint32_t netns;
	uint16_t port;
	bool stacks, all;
	int top;			/* rows per table in text; 0: 20 */
	struct tcpdrop_bpf *skel;
	struct ksyms *ksyms;
	char *reasons[TD_MAX_REASONS];
	int nreasons;			/* names found; < 0: -errno */
	const char *method;
	uint64_t t0;
	uint64_t last_ns;		/* CLOCK_MONOTONIC of the last report (t0 at first) */
	int seq;			/* reports so far */
	bool matched;			/* an event passed --port/--netns/--cgroup during the run */
	struct probe_cfg cfg;		/* qps_cfg: --cgroup */
	bool rx_sk;			/* kfree_skb names the receiving socket (Linux >= 6.12) */
	bool backup;			/* the backup programs are attached */
	void *dprev, *cprev;		/* last report's cumulative rows (per-interval deltas) */
	struct probe_tpw tpw;		/* perf's hits of kfree_skb [0], tcp_retransmit_skb [1], tcp_retransmit_synack [2] */
	int ndprev, ncprev;
};

struct drop_row {
	struct tcpdrop_drop_key k;
	uint64_t n;
};

struct conn_row {
	struct tcpdrop_conn_key k;
	struct tcpdrop_conn_val v;
};

struct reason_sum {
	uint32_t reason;
	uint64_t n;
	int first_row;			/* its biggest drop place (rows are sorted) */
};

static const char *const tcp_states[] = {
	[0] = "NO_SOCKET", [1] = "ESTABLISHED", [2] = "SYN_SENT", [3] = "SYN_RECV",
	[4] = "FIN_WAIT1", [5] = "FIN_WAIT2", [6] = "TIME_WAIT", [7] = "CLOSE",
	[8] = "CLOSE_WAIT", [9] = "LAST_ACK", [10] = "LISTEN", [11] = "CLOSING",
	[12] = "NEW_SYN_RECV", [13] = "BOUND_INACTIVE",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qps-tune probe tcpdrop [--duration S] [--interval S] [--netns PATH|PID|self]\n"
		"                              [--port N] [--cgroup PATH] [--stacks] [--all-protocols]\n"
		"                              [--top N] [--json] [--prom FILE] [-v]\n"
		"  packet drops (skb:kfree_skb) of TCP packets by kernel drop reason, by the\n"
		"  function that dropped them and by local port; TCP retransmits and resets\n"
		"  sent/received by remote address, port and TCP state. Every network namespace\n"
		"  unless --netns; --port: one port (local or remote); --cgroup: the sockets of that\n"
		"  cgroup v2 and below (where the socket, or its listener, was created; drops of\n"
		"  packets no socket took, such as NO_SOCKET, are left out); --stacks: the kernel\n"
		"  stack of each drop place; --all-protocols: UDP and other packets' drops too.\n");
}

static const char *state_name(unsigned int s)
{
	return s < sizeof(tcp_states) / sizeof(tcp_states[0]) && tcp_states[s] ? tcp_states[s] : "?";
}

static const char *reason_name(struct td *c, uint32_t r, char *buf, size_t size)
{
	if (r < TD_MAX_REASONS && c->reasons[r])
		return c->reasons[r];
	snprintf(buf, size, "reason_%u", r);
	return buf;
}

static void addr_str(const struct tcpdrop_conn_key *k, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(k->family == AF_INET6 ? AF_INET6 : AF_INET, k->raddr, a, sizeof(a));
	if (k->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, k->rport);
	else
		snprintf(buf, size, "%s:%u", a, k->rport);
}

static const char *kind_name(int kind)
{
	return kind == TCPDROP_RETRANS ? "retransmit" : kind == TCPDROP_RST_SENT ? "reset_sent" : "reset_received";
}

static int cmp_drop(const void *pa, const void *pb)
{
	const struct drop_row *x = pa, *y = pb;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->k.reason < y->k.reason ? -1 : x->k.reason > y->k.reason;
}

static int cmp_conn(const void *pa, const void *pb)
{
	const struct conn_row *x = pa, *y = pb;

	if (x->k.kind != y->k.kind)
		return x->k.kind - y->k.kind;
	if (x->v.events != y->v.events)
		return x->v.events > y->v.events ? -1 : 1;
	return 0;
}

static int cmp_reason(const void *pa, const void *pb)
{
	const struct reason_sum *x = pa, *y = pb;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return x->reason < y->reason ? -1 : x->reason > y->reason;
}

static void print_stack(struct td *c, int id, const char *indent, struct json *j)
{
	uint64_t ips[TCPDROP_MAX_DEPTH];

	if (id < 0 || bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stack_traces), &id, ips))
		return;
	if (j)
		json_arr_open(j, "stack");
	for (int i = 0; i < TCPDROP_MAX_DEPTH && ips[i]; i++) {
		const char *s = c->ksyms ? ksyms_find(c->ksyms, ips[i], NULL) : NULL;
		char b[32];

		if (s && (!strncmp(s, "bpf_prog_", 9) || !strncmp(s, "bpf_trace_run", 13) ||
			  !strncmp(s, "__bpf_trace_", 12) || !strncmp(s, "__traceiter_", 12)))
			continue;
		if (!s) {
			snprintf(b, sizeof(b), "0x%llx", (unsigned long long)ips[i]);
			s = b;
		}
		if (j)
			json_str(j, NULL, s);
		else
			printf("%s%s\n", indent, s);
	}
	if (j)
		json_arr_close(j);
}

static bool same_place(const struct tcpdrop_drop_key *a, const struct tcpdrop_drop_key *b)
{
	return a->reason == b->reason && a->lport == b->lport && a->netns == b->netns &&
	       a->location == b->location && a->proto == b->proto;
}

static void location_str(struct td *c, uint64_t loc, char *buf, size_t size)
{
	uint64_t off = 0;
	const char *s = c->ksyms ? ksyms_find(c->ksyms, loc, &off) : NULL;

	if (s)
		snprintf(buf, size, "%s+0x%llx", s, (unsigned long long)off);
	else
		snprintf(buf, size, "0x%llx", (unsigned long long)loc);
}

/* What the programs could not see, since the start, in every namespace
 * (the kernel skips a nested call before any filter of ours runs), and
 * what hit the tracepoints but never reached them (*_nd: perf's count of
 * the hits less the primaries' calls and skips). */
struct td_unseen {
	uint64_t drops, drops_caught, retrans, caught, rst_sent, rst_recv;
	uint64_t drops_nd, retrans_nd;
};

static void td_unseen_read(const struct td *c, struct td_unseen *u)
{
	const struct tcpdrop_bpf *k = c->skel;
	/* the witness first: a hit between the two reads then counts as
	 * delivered, never as missed */
	uint64_t wdrops = probe_tpw_read(&c->tpw, 0), wrtx = probe_tpw_read(&c->tpw, 1), wsyn = probe_tpw_read(&c->tpw, 2);
	uint64_t missed = probe_prog_misses(k->progs.td_retrans_btf) + probe_prog_misses(k->progs.td_retrans_raw) +
			  probe_prog_misses(k->progs.td_retrans_btf_noerr);
	/* SYN-ACK retransmits have no backup */
	uint64_t synack = probe_prog_misses(k->progs.td_synack_btf) + probe_prog_misses(k->progs.td_synack_raw);

	uint64_t dmissed = probe_prog_misses(k->progs.td_drop_btf) + probe_prog_misses(k->progs.td_drop_raw);

	/* the backups counted what the primaries skipped, unless they were
	 * busy on that CPU too: only the rest was not seen */
	u->drops_caught = k->bss->drop_caught;
	u->drops = dmissed > u->drops_caught ? dmissed - u->drops_caught : 0;
	u->caught = k->bss->rtx_caught;
	u->retrans = (missed > u->caught ? missed - u->caught : 0) + synack;
	u->rst_sent = probe_prog_misses(k->progs.td_send_reset_btf) + probe_prog_misses(k->progs.td_send_reset_raw);
	u->rst_recv = probe_prog_misses(k->progs.td_recv_reset_btf) + probe_prog_misses(k->progs.td_recv_reset_raw);
	u->drops_nd = probe_tpw_gap(wdrops, k->bss->drop_calls + dmissed);
	u->retrans_nd = probe_tpw_gap(wrtx, k->bss->rtx_calls + missed) + probe_tpw_gap(wsyn, k->bss->synack_calls + synack);
}

static int write_prom(struct td *c, const struct reason_sum *rs, int nr, const struct drop_row *d, int nd,
		      const struct conn_row *cr, int nc)
{
	struct promfile *p = promfile_new(c->prom);
	char rb[32], port[8], ns[16];
	static const char *const metric[] = {
		[TCPDROP_RETRANS] = "qps_tcpdrop_retransmits_total",
		[TCPDROP_RST_SENT] = "qps_tcpdrop_resets_sent_total",
		[TCPDROP_RST_RECV] = "qps_tcpdrop_resets_received_total",
	};
	struct td_unseen u;
	int err;

	if (!p)
		return -errno;
	promfile_help(p, "qps_tcpdrop_drops_total", "counter", "packets dropped (skb:kfree_skb) by reason, local port and namespace, since the probe started");
	for (int i = 0; i < nd; i++) {
		snprintf(port, sizeof(port), "%u", d[i].k.lport);
		snprintf(ns, sizeof(ns), "%u", d[i].k.netns);
		/* one series per (reason, port, netns): locations vary by build */
		bool dup = false;

		for (int k = 0; k < i && !dup; k++)
			dup = d[k].k.reason == d[i].k.reason && d[k].k.lport == d[i].k.lport && d[k].k.netns == d[i].k.netns;
		if (dup)
			continue;
		uint64_t sum = 0;

		for (int k = i; k < nd; k++)
			if (d[k].k.reason == d[i].k.reason && d[k].k.lport == d[i].k.lport && d[k].k.netns == d[i].k.netns)
				sum += d[k].n;
		promfile_sample(p, "qps_tcpdrop_drops_total",
				(const char *[]){ "reason", reason_name(c, d[i].k.reason, rb, sizeof(rb)), "port", port, "netns", ns, NULL },
				(double)sum);
	}
	(void)rs;
	(void)nr;
	for (int kind = TCPDROP_RETRANS; kind <= TCPDROP_RST_RECV; kind++) {
		promfile_help(p, metric[kind], "counter",
			      kind == TCPDROP_RETRANS ? "TCP segments retransmitted, by remote address, local port and state" :
			      kind == TCPDROP_RST_SENT ? "TCP resets sent, by remote address, local port and state" :
			      "TCP resets received, by remote address, local port and state");
		for (int i = 0; i < nc; i++) {
			char remote[64], lp[8];

			if (cr[i].k.kind != kind)
				continue;
			addr_str(&cr[i].k, remote, sizeof(remote));
			snprintf(lp, sizeof(lp), "%u", cr[i].k.lport);
			snprintf(ns, sizeof(ns), "%u", cr[i].k.netns);
			promfile_sample(p, metric[kind],
					(const char *[]){ "remote", remote, "port", lp, "state", state_name(cr[i].k.state),
							  "netns", ns, "error", cr[i].k.err ? strerrorname_np(cr[i].k.err) : "", NULL },
					(double)(kind == TCPDROP_RETRANS ? cr[i].v.segs + cr[i].v.untraced : cr[i].v.events));
		}
	}
	promfile_help(p, "qps_tcpdrop_lost_events_total", "counter", "events not recorded because a BPF map was full");
	promfile_sample(p, "qps_tcpdrop_lost_events_total", NULL,
			(double)(c->skel->bss->lost_drops + c->skel->bss->lost_conns));
	td_unseen_read(c, &u);
	promfile_counters(p, "qps_tcpdrop_unseen_events_total",
			  "events the probe could not see (its program was already running on that CPU), every namespace",
			  "event", (const char *const[]){ "drop", "retransmit", "reset_sent", "reset_received" },
			  (const uint64_t[]){ u.drops, u.retrans, u.rst_sent, u.rst_recv }, 4);
	if (probe_tpw_ok(&c->tpw))
		promfile_counters(p, "qps_tcpdrop_undelivered_events_total",
				  "tracepoint hits (perf's count) that never reached the probe's programs, every namespace",
				  "event", (const char *const[]){ "drop", "retransmit" },
				  (const uint64_t[]){ u.drops_nd, u.retrans_nd }, 2);
	err = promfile_commit(p);
	promfile_free(p);
	return err;
}

/* The drops of rows @d summed by reason into @rs (room for @nd), each with its
 * first row, sorted by count. Returns the number of reasons. */
static int sum_reasons(const struct drop_row *d, int nd, struct reason_sum *rs)
{
	int nr = 0, k;

	for (int i = 0; i < nd; i++) {
		for (k = 0; k < nr && rs[k].reason != d[i].k.reason; k++)
			;
		if (k == nr) {
			rs[nr].reason = d[i].k.reason;
			rs[nr++].first_row = i;
		}
		rs[k].n += d[i].n;
	}
	qsort(rs, nr, sizeof(*rs), cmp_reason);
	return nr;
}

/* write_prom() for rows as read (cumulative), with their reason sums. */
static int write_prom_rows(struct td *c, const struct drop_row *d, int nd, const struct conn_row *cr, int nc)
{
	struct reason_sum *rs = calloc(nd ? nd : 1, sizeof(*rs));
	int nr, err;

	if (!rs)
		return -ENOMEM;
	nr = sum_reasons(d, nd, rs);
	err = write_prom(c, rs, nr, d, nd, cr, nc);
	free(rs);
	return err;
}

static int td_tick(void *ctx, bool final)
{
	struct td *c = ctx;
	struct drop_row *d = NULL;
	struct conn_row *cr = NULL;
	struct reason_sum *rs = NULL;
	int nd, nc, nr = 0, i, k, top, err = 0;
	uint64_t total = 0, segs = 0, untraced = 0, failed = 0, kinds[4] = { 0 };
	char rb[32], loc[160], remote[64];
	struct json j;
	uint64_t now = probe_now_ns();
	double elapsed = (now - c->t0) / 1e9, window = (now - (c->o.cumulative ? c->t0 : c->last_ns)) / 1e9;
	bool deltas = c->o.interval > 0 && !c->o.cumulative;
	char at[40], given[600];
	struct td_unseen u;

	c->seq++;
	td_unseen_read(c, &u);
	probe_stamp(at, sizeof(at));
	snprintf(given, sizeof(given), "%s%s%s%.0u%s%s", c->netns_arg ? "--netns " : "", c->netns_arg ? c->netns_arg : "",
		 c->port ? (c->netns_arg ? " --port " : "--port ") : "", c->port,
		 c->o.cgroup ? (c->netns_arg || c->port ? " --cgroup " : "--cgroup ") : "", c->o.cgroup ? c->o.cgroup : "");
	nd = probe_map_dump(bpf_map__fd(c->skel->maps.drops), sizeof(struct tcpdrop_drop_key),
		      offsetof(struct drop_row, n), sizeof(struct drop_row), (void **)&d);
	if (nd < 0)
		return nd;
	nc = probe_map_dump(bpf_map__fd(c->skel->maps.conns), sizeof(struct tcpdrop_conn_key),
		      offsetof(struct conn_row, v), sizeof(struct conn_row), (void **)&cr);
	if (nc < 0) {
		err = nc;
		goto out;
	}
	if (nd || nc)
		c->matched = true;
	if (c->prom) {
		/* Prometheus counters count since the start: before the deltas */
		err = write_prom_rows(c, d, nd, cr, nc);
		if (err) {
			probe_err(&c->o, "cannot write '%s': %s", c->prom, strerror(-err));
			goto out;
		}
	}
	if (deltas) {
		/* per-interval figures: what each row gained since the last report */
		nd = probe_delta_rows(d, nd, sizeof(*d), sizeof(d->k), offsetof(struct drop_row, n), 1,
				      &c->dprev, &c->ndprev);
		nc = nd < 0 ? nd : probe_delta_rows(cr, nc, sizeof(*cr), sizeof(cr->k), offsetof(struct conn_row, v), 3,
						    &c->cprev, &c->ncprev);
		if (nd < 0 || nc < 0) {
			err = nd < 0 ? nd : nc;
			goto out;
		}
	}
	c->last_ns = now;
	qsort(d, nd, sizeof(*d), cmp_drop);
	qsort(cr, nc, sizeof(*cr), cmp_conn);
	rs = calloc(nd ? nd : 1, sizeof(*rs));
	if (!rs) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nd; i++)
		total += d[i].n;
	nr = sum_reasons(d, nd, rs);
	for (i = 0; i < nc; i++) {
		/* a failed attempt (err != 0: throttled, no route) sent nothing
		 * and is not in TcpRetransSegs: counted apart */
		if (cr[i].k.kind == TCPDROP_RETRANS && cr[i].k.err) {
			failed += cr[i].v.events;
			continue;
		}
		kinds[cr[i].k.kind & 3] += cr[i].v.events;
		if (cr[i].k.kind == TCPDROP_RETRANS) {
			segs += cr[i].v.segs + cr[i].v.untraced;
			untraced += cr[i].v.untraced;
		}
	}
	top = c->top ? c->top : 20;

	if (c->o.json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.probe.tcpdrop/1");
		json_bool(&j, "final", final);
		json_double(&j, "elapsed_s", elapsed);
		probe_json_stamp(&j, &c->o, c->seq, window);
		json_str(&j, "method", c->method);
		if (given[0]) {
			json_obj_open(&j, "filter");
			json_str(&j, "given", given);
			json_bool(&j, "matched", c->matched);
			json_obj_close(&j);
		} else {
			json_null(&j, "filter");
		}
		json_obj_open(&j, "filters");
		if (c->netns)
			json_uint(&j, "netns", c->netns);
		else
			json_null(&j, "netns");
		if (c->port)
			json_uint(&j, "port", c->port);
		else
			json_null(&j, "port");
		json_bool(&j, "all_protocols", c->all);
		json_obj_close(&j);
		if (c->nreasons < 0)
			json_str(&j, "reason_names", "unavailable: kernel BTF has no enum skb_drop_reason");
		else
			json_str(&j, "reason_names", "kernel BTF enum skb_drop_reason");
		json_uint(&j, "drops_total", total);
		json_obj_open(&j, "drop_reasons");
		for (i = 0; i < nr; i++)
			json_uint(&j, reason_name(c, rs[i].reason, rb, sizeof(rb)), rs[i].n);
		json_obj_close(&j);
		json_arr_open(&j, "drops");
		for (i = 0; i < nd; i++) {
			json_obj_open(&j, NULL);
			json_str(&j, "reason", reason_name(c, d[i].k.reason, rb, sizeof(rb)));
			location_str(c, d[i].k.location, loc, sizeof(loc));
			json_str(&j, "location", loc);
			json_str(&j, "proto", d[i].k.proto == IPPROTO_TCP ? "tcp" : d[i].k.proto == IPPROTO_UDP ? "udp" : NULL);
			json_uint(&j, "port", d[i].k.lport);
			json_uint(&j, "netns", d[i].k.netns);
			json_uint(&j, "count", d[i].n);
			if (c->stacks)
				print_stack(c, d[i].k.kstack, "", &j);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_open(&j, "totals");
		json_uint(&j, "retransmits", kinds[TCPDROP_RETRANS]);
		json_uint(&j, "retransmitted_segments", segs);
		json_uint(&j, "untraced_segments", untraced);
		json_uint(&j, "failed_retransmit_attempts", failed);
		json_uint(&j, "resets_sent", kinds[TCPDROP_RST_SENT]);
		json_uint(&j, "resets_received", kinds[TCPDROP_RST_RECV]);
		json_obj_close(&j);
		for (int kind = TCPDROP_RETRANS; kind <= TCPDROP_RST_RECV; kind++) {
			json_arr_open(&j, kind == TCPDROP_RETRANS ? "retransmits" : kind == TCPDROP_RST_SENT ? "resets_sent" : "resets_received");
			for (i = 0; i < nc; i++) {
				if (cr[i].k.kind != kind)
					continue;
				json_obj_open(&j, NULL);
				addr_str(&cr[i].k, remote, sizeof(remote));
				json_str(&j, "remote", remote);
				json_uint(&j, "port", cr[i].k.lport);
				json_str(&j, "state", state_name(cr[i].k.state));
				json_uint(&j, "netns", cr[i].k.netns);
				json_uint(&j, "count", cr[i].v.events);
				if (kind == TCPDROP_RETRANS) {
					json_uint(&j, "segments", cr[i].v.segs + cr[i].v.untraced);
					json_uint(&j, "untraced_segments", cr[i].v.untraced);
					if (cr[i].k.err)
						json_str(&j, "error", strerror(cr[i].k.err));
					else
						json_null(&j, "error");
				}
				json_obj_close(&j);
			}
			json_arr_close(&j);
		}
		json_obj_open(&j, "lost");
		json_uint(&j, "drops", c->skel->bss->lost_drops);
		json_uint(&j, "flows", c->skel->bss->lost_conns);
		json_uint(&j, "stacks", c->skel->bss->lost_stacks);
		json_obj_close(&j);
		/* cumulative and for every namespace and port: the kernel skips a
		 * nested call before our filters run */
		json_obj_open(&j, "unseen");
		json_str(&j, "cause", "program already running on that CPU (nested call skipped by the kernel); "
				      "*_not_delivered: tracepoint hits perf counted that never reached the programs; "
				      "since the start, every namespace and port");
		json_uint(&j, "drops", u.drops);
		json_uint(&j, "drops_caught_by_backup", u.drops_caught);
		json_bool(&j, "drop_backup", c->backup);
		json_uint(&j, "retransmits", u.retrans);
		json_uint(&j, "retransmits_caught_by_backup", u.caught);
		json_bool(&j, "retransmit_backup", c->backup);
		json_uint(&j, "resets_sent", u.rst_sent);
		json_uint(&j, "resets_received", u.rst_recv);
		if (probe_tpw_ok(&c->tpw)) {
			json_uint(&j, "drops_not_delivered", u.drops_nd);
			json_uint(&j, "retransmits_not_delivered", u.retrans_nd);
			json_str(&j, "witness", "perf counters of skb:kfree_skb, tcp:tcp_retransmit_skb and tcp:tcp_retransmit_synack");
		} else {
			json_null(&j, "drops_not_delivered");
			json_null(&j, "retransmits_not_delivered");
			json_str(&j, "witness", c->tpw.err[0] ? c->tpw.err : "none");
		}
		json_obj_close(&j);
		json_obj_close(&j);
	} else {
		printf("%s %.1f s (%s) at %s%s%s%s: %llu drops, %llu retransmits (%llu segments, %llu failed attempts), %llu resets sent, %llu received\n",
		       final ? "tcpdrop" : "tcpdrop (interval)", elapsed, c->method, at,
		       deltas ? (c->seq > 1 ? ", since the previous report" : ", since the start") : "",
		       c->netns ? ", one netns" : ", all netns", c->port ? ", one port" : "",
		       (unsigned long long)total, (unsigned long long)kinds[TCPDROP_RETRANS], (unsigned long long)segs, (unsigned long long)failed,
		       (unsigned long long)kinds[TCPDROP_RST_SENT], (unsigned long long)kinds[TCPDROP_RST_RECV]);
		if (c->nreasons < 0)
			printf("drop reasons are numbers: kernel BTF has no enum skb_drop_reason\n");
		if (nr) {
			printf("\n%10s  %s\n", "drops", "reason");
			for (i = 0; i < nr; i++) {
				printf("%10llu  %s\n", (unsigned long long)rs[i].n, reason_name(c, rs[i].reason, rb, sizeof(rb)));
				if (c->stacks)
					print_stack(c, d[rs[i].first_row].k.kstack, "              ", NULL);
			}
			printf("\n%10s  %-28s %-8s %-12s %s\n", "drops", "reason", "port", "netns", "location");
			/* one line per place: rows that differ only in their stack merge */
			for (i = 0, k = 0; i < nd; i++) {
				uint64_t n = 0;
				bool seen = false;

				for (int x = 0; x < i && !seen; x++)
					seen = same_place(&d[x].k, &d[i].k);
				if (seen)
					continue;
				for (int x = i; x < nd; x++)
					if (same_place(&d[x].k, &d[i].k))
						n += d[x].n;
				if (k++ >= top)
					continue;
				location_str(c, d[i].k.location, loc, sizeof(loc));
				printf("%10llu  %-28s %-8u %-12u %s\n", (unsigned long long)n,
				       reason_name(c, d[i].k.reason, rb, sizeof(rb)), d[i].k.lport, d[i].k.netns, loc);
			}
			if (k > top)
				printf("(%d more drop places; --top N shows more)\n", k - top);
		}
		if (nc) {
			printf("\n%-15s %10s %8s  %-44s %-6s %s\n", "event", "count", "segs", "remote", "port", "state");
			for (i = 0, k = 0; i < nc; i++) {
				if (i && cr[i].k.kind != cr[i - 1].k.kind)
					k = 0;
				if (k++ >= top)
					continue;
				addr_str(&cr[i].k, remote, sizeof(remote));
				printf("%-15s %10llu %8llu  %-44s %-6u %s%s\n", kind_name(cr[i].k.kind),
				       (unsigned long long)cr[i].v.events,
				       (unsigned long long)(cr[i].k.kind == TCPDROP_RETRANS ? cr[i].v.segs + cr[i].v.untraced : 0), remote,
				       cr[i].k.lport, state_name(cr[i].k.state), cr[i].k.err ? " (failed)" : "");
			}
		}
		if (given[0] && !c->matched)
			printf("nothing matched the filters (%s) during the run: nothing to report for them\n", given);
		if (c->skel->bss->lost_drops || c->skel->bss->lost_conns || c->skel->bss->lost_stacks)
			printf("lost: %llu drops (table full), %llu retransmit/reset events (table full), %llu stacks\n",
			       (unsigned long long)c->skel->bss->lost_drops, (unsigned long long)c->skel->bss->lost_conns,
			       (unsigned long long)c->skel->bss->lost_stacks);
		if (u.drops || u.retrans || u.rst_sent || u.rst_recv)
			printf("unseen since the start (program already running on that CPU; every namespace and port): "
			       "%llu drops, %llu retransmits, %llu resets sent, %llu received\n",
			       (unsigned long long)u.drops, (unsigned long long)u.retrans,
			       (unsigned long long)u.rst_sent, (unsigned long long)u.rst_recv);
		if (u.caught || u.drops_caught)
			printf("%llu drops and %llu retransmits skipped on a busy CPU were counted by the backup programs\n",
			       (unsigned long long)u.drops_caught, (unsigned long long)u.caught);
		if (u.drops_nd || u.retrans_nd)
			printf("not delivered since the start (the tracepoint was hit, perf counted it, the programs never ran; "
			       "every namespace and port): %llu drops, %llu retransmit calls - the drop counts are short by as much\n",
			       (unsigned long long)u.drops_nd, (unsigned long long)u.retrans_nd);
		if (untraced)
			printf("%llu retransmitted segments no tracepoint call carried: counted from the sockets' total_retrans\n",
			       (unsigned long long)untraced);
		if (!final)
			printf("\n");
	}
	fflush(stdout);
	if (final && given[0] && !c->matched)
		probe_warn(&c->o, "nothing matched the filters (%s) during the run", given);
	if (final && (u.drops_nd || u.retrans_nd))
		probe_warn(&c->o, "%llu drops and %llu retransmit calls hit the tracepoints (perf's count) but never reached "
			   "the programs: the counts are short by as much", (unsigned long long)u.drops_nd,
			   (unsigned long long)u.retrans_nd);
out:
	free(rs);
	free(d);
	free(cr);
	return err;
}

static int td_load(struct td *c, bool btf_tp, bool with_err)
{
	struct tcpdrop_bpf *k = tcpdrop_bpf__open();
	struct bpf_program *backup, *dbackup;
	struct bpf_link **backup_link, **dbackup_link;
	int err;

	if (!k)
		return -errno;
	k->rodata->target_netns = c->netns;
	k->rodata->target_port = c->port;
	k->rodata->with_stacks = c->stacks;
	k->rodata->all_protocols = c->all;
	k->rodata->has_rx_sk = c->rx_sk;
	k->rodata->qps_cfg = c->cfg;
	bpf_program__set_autoload(k->progs.td_drop_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_retrans_btf, btf_tp && with_err);
	bpf_program__set_autoload(k->progs.td_retrans_btf_noerr, btf_tp && !with_err);
	bpf_program__set_autoload(k->progs.td_send_reset_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_recv_reset_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_destroy_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_synack_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_state_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_drop_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.td_retrans_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.td_send_reset_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.td_recv_reset_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.td_destroy_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.td_synack_raw, !btf_tp);
	bpf_program__set_autoload(k->progs.td_state_raw, !btf_tp);
	/* the backup twins of the drop and retransmit programs in use:
	 * attached by hand, after the primaries, so that each tracepoint calls
	 * them second (see ev_counted in bpf/tcpdrop.bpf.c) */
	if (!btf_tp) {
		backup = k->progs.td_rtx2_raw;
		backup_link = &k->links.td_rtx2_raw;
	} else if (with_err) {
		backup = k->progs.td_rtx2_btf;
		backup_link = &k->links.td_rtx2_btf;
	} else {
		backup = k->progs.td_rtx2_btf_noerr;
		backup_link = &k->links.td_rtx2_btf_noerr;
	}
	dbackup = btf_tp ? k->progs.td_drop2_btf : k->progs.td_drop2_raw;
	dbackup_link = btf_tp ? &k->links.td_drop2_btf : &k->links.td_drop2_raw;
	bpf_program__set_autoload(k->progs.td_rtx2_btf, backup == k->progs.td_rtx2_btf);
	bpf_program__set_autoload(k->progs.td_rtx2_raw, backup == k->progs.td_rtx2_raw);
	bpf_program__set_autoload(k->progs.td_rtx2_btf_noerr, backup == k->progs.td_rtx2_btf_noerr);
	bpf_program__set_autoload(k->progs.td_drop2_btf, btf_tp);
	bpf_program__set_autoload(k->progs.td_drop2_raw, !btf_tp);
	bpf_program__set_autoattach(k->progs.td_rtx2_btf, false);
	bpf_program__set_autoattach(k->progs.td_rtx2_raw, false);
	bpf_program__set_autoattach(k->progs.td_rtx2_btf_noerr, false);
	bpf_program__set_autoattach(k->progs.td_drop2_btf, false);
	bpf_program__set_autoattach(k->progs.td_drop2_raw, false);
	err = tcpdrop_bpf__load(k);
	if (!err)
		err = tcpdrop_bpf__attach(k);
	if (!err) {
		*backup_link = bpf_program__attach(backup);
		if (!*backup_link)
			err = -errno;
	}
	if (!err) {
		*dbackup_link = bpf_program__attach(dbackup);
		if (!*dbackup_link)
			err = -errno;
	}
	if (err) {
		tcpdrop_bpf__destroy(k);
		return err;
	}
	c->skel = k;
	c->backup = true;
	return 0;
}

/* --netns: "self", a pid, or a path to a namespace file -> its inode */
static int parse_netns(struct td *c)
{
	char path[4096];
	struct stat st;
	uint64_t pid;

	if (!strcmp(c->netns_arg, "self"))
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	else if (!probe_parse_u64(c->netns_arg, &pid))
		snprintf(path, sizeof(path), "/proc/%llu/ns/net", (unsigned long long)pid);
	else
		snprintf(path, sizeof(path), "%s", c->netns_arg);
	if (stat(path, &st)) {
		int err = -errno;

		probe_err(&c->o, "cannot open network namespace '%s': %s", path, strerror(-err));
		return err;
	}
	c->netns = (uint32_t)st.st_ino;
	return 0;
}

int probe_tcpdrop(int argc, char **argv)
{
	static const struct option longopts[] = {
		PROBE_COMMON_LONGOPTS,
		{ "netns", required_argument, NULL, TD_NETNS },
		{ "port", required_argument, NULL, TD_PORT },
		{ "stacks", no_argument, NULL, TD_STACKS },
		{ "all-protocols", no_argument, NULL, TD_ALL },
		{ "top", required_argument, NULL, TD_TOP },
		{ "prom", required_argument, NULL, TD_PROM },
		{ NULL, 0, NULL, 0 },
	};
	struct td c = { 0 };
	bool help = false;
	int ch, err, end, ret = 1;
	uint64_t v;

	probe_opts_init(&c.o, "tcpdrop");
	optind = 1;
	while ((ch = getopt_long(argc, argv, PROBE_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = probe_opt_common(&c.o, ch, optarg, &help);
		if (err < 0)
			return 2;
		if (err)
			continue;
		switch (ch) {
		case TD_NETNS:
			c.netns_arg = optarg;
			continue;
		case TD_PORT:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 65535) {
				probe_err(&c.o, "invalid --port '%s'", optarg);
				return 2;
			}
			c.port = (uint16_t)v;
			continue;
		case TD_TOP:
			if (probe_parse_u64(optarg, &v) || v == 0 || v > 1000000) {
				probe_err(&c.o, "invalid --top '%s'", optarg);
				return 2;
			}
			c.top = (int)v;
			continue;
		case TD_STACKS:
			c.stacks = true;
			continue;
		case TD_ALL:
			c.all = true;
			continue;
		case TD_PROM:
			c.prom = optarg;
			continue;
		}
		usage(stderr);
		return 2;
	}
	end = probe_args_end(&c.o, help, argc, argv, usage);
	if (end >= 0)
		return end;
	if (c.o.pid || c.o.comm[0]) {
		probe_err(&c.o, "--pid and --comm do not apply (drops happen in softirq context); use --port or --netns");
		return 2;
	}
	if (probe_check_env(&c.o))
		return 1;
	if (c.netns_arg && parse_netns(&c))
		return 1;
	c.rx_sk = probe_kernel_tp_nargs("kfree_skb") >= 4;
	if (c.o.cgroup) {
		if (!probe_kernel_has_member("sock_cgroup_data", "cgroup")) {
			probe_err(&c.o, "--cgroup: this kernel's sockets carry no cgroup pointer (struct sock_cgroup_data has no 'cgroup', Linux < 5.15): a drop cannot be told by cgroup");
			return 1;
		}
		if (probe_cfg_init(&c.o, false, &c.cfg, NULL))
			return 1;
		if (!c.rx_sk)
			probe_note(&c.o, "--cgroup: this kernel's kfree_skb does not name the receiving socket (Linux < 6.12): drops before a socket owns the packet (a full accept queue, a full receive buffer) are left out");
	}
	probe_setup(&c.o);
	if (!probe_kernel_has_tp("kfree_skb")) {
		probe_err(&c.o, "this kernel lacks the tracepoint skb:kfree_skb: drops cannot be seen");
		return 1;
	}
	c.nreasons = probe_kernel_enum_names("skb_drop_reason", "SKB_DROP_REASON_", c.reasons, TD_MAX_REASONS);
	err = -ENOTSUP;
	c.method = "tp_btf/kfree_skb + tp_btf/tcp_retransmit_skb + tp_btf/tcp_retransmit_synack + tp_btf/tcp_send_reset + tp_btf/tcp_receive_reset + tp_btf/tcp_destroy_sock + tp_btf/inet_sock_set_state";
	if (probe_try_tp_btf()) {
		err = td_load(&c, true, true);
		if (err)
			err = td_load(&c, true, false);
	}
	if (err) {
		if (c.o.verbose)
			fprintf(stderr, "tcpdrop: tp_btf failed (%s), trying raw_tp\n", strerror(-err));
		err = td_load(&c, false, true);
		c.method = "raw_tp/kfree_skb + raw_tp/tcp_retransmit_skb + raw_tp/tcp_retransmit_synack + raw_tp/tcp_send_reset + raw_tp/tcp_receive_reset + raw_tp/tcp_destroy_sock + raw_tp/inet_sock_set_state";
	}
	if (err) {
		probe_load_err(&c.o, "load and attach the tcpdrop BPF programs", err);
		goto out;
	}
	c.ksyms = ksyms_load(NULL);
	if (!c.ksyms)
		probe_note(&c.o, "cannot read kernel symbols from '/proc/kallsyms' (%s): drop places stay addresses",
			   strerror(errno));
	probe_tpw_open(&c.tpw, &c.o, (const char *const[]){ "skb/kfree_skb", "tcp/tcp_retransmit_skb",
							     "tcp/tcp_retransmit_synack" }, 3);
	c.t0 = probe_now_ns();
	c.last_ns = c.t0;
	probe_note(&c.o, "tracing TCP drops, retransmits and resets (%s); Ctrl-C to end", c.method);
	ret = probe_run(&c.o, td_tick, NULL, &c) ? 1 : 0;
out:
	probe_tpw_close(&c.tpw);
	tcpdrop_bpf__destroy(c.skel);
	free(c.dprev);
	free(c.cprev);
	ksyms_free(c.ksyms);
	probe_names_free(c.reasons, TD_MAX_REASONS);
	return ret;
}
