// SPDX-License-Identifier: GPL-2.0
/* tcpdrop.bpf.c - packet drops by reason and place; TCP retransmits and
 * resets by remote end, aggregated in the kernel.
 *
 * skb:kfree_skb gives the reason (enum skb_drop_reason) and the freeing
 * address; the local port comes from the packet's headers (or its socket)
 * and the namespace from its device (or socket). tcp:tcp_retransmit_skb,
 * tcp:tcp_send_reset and tcp:tcp_receive_reset are keyed by the remote
 * address/port, local port and TCP state; a reset sent for a packet that
 * matched no socket takes its addresses from that packet. tp_btf first,
 * raw_tp twins as the fallback (same code): no kprobe, no tracefs.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tcpdrop.h"
#include "common.bpf.h"

enum { EV_RTX, EV_DROP, EV_KINDS };
#define EV_KINDS EV_KINDS
#include "backup.bpf.h"

__u64 rtx_caught = 0;		/* events the backups counted, every namespace */
__u64 drop_caught = 0;
/* calls of the primaries, before any filter: with the kernel's skips, what
 * reached the programs (user space compares it with perf's count of the
 * tracepoint's hits) */
__u64 drop_calls = 0;
__u64 rtx_calls = 0;
__u64 synack_calls = 0;

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

const volatile __u32 target_netns = 0;	/* 0: every namespace */
const volatile __u16 target_port = 0;	/* 0: every port; else local or remote port */
const volatile bool with_stacks = false;
const volatile bool all_protocols = false;	/* count drops of non-TCP packets too */
const volatile bool has_rx_sk = false;		/* kfree_skb has a 4th argument, rx_sk (Linux >= 6.12) */

__u64 lost_drops = 0;		/* drops map full */
__u64 lost_conns = 0;		/* conns map full */
__u64 lost_stacks = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPDROP_MAX_DROPS);
	__type(key, struct tcpdrop_drop_key);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPDROP_MAX_CONNS);
	__type(key, struct tcpdrop_conn_key);
	__type(value, struct tcpdrop_conn_val);
} conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, TCPDROP_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, TCPDROP_MAX_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

static __always_inline __u32 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* --cgroup (qps_cfg.cgid): @sk belongs to that cgroup v2 or one below it -
 * the cgroup of the task that created it, or created the listener it was
 * accepted from. A request socket answers for its listener; a TIME_WAIT
 * socket and no socket belong to none. */
static __always_inline bool sk_in_cgroup(const struct sock *sk)
{
	__u8 state;

	if (!qps_cfg.cgid)
		return true;
	if (!sk)
		return false;
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == 6 /* TCP_TIME_WAIT */)
		return false;
	if (state == 12 /* TCP_NEW_SYN_RECV */) {
		sk = BPF_CORE_READ(sk, __sk_common.skc_listener);	/* rsk_listener */
		if (!sk)
			return false;
	}
	return cgroup_in_target(BPF_CORE_READ(sk, sk_cgrp_data.cgroup));
}

static __always_inline __u32 skb_netns(const struct sk_buff *skb)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct sock *sk;

	if (dev)
		return BPF_CORE_READ(dev, nd_net.net, ns.inum);
	sk = BPF_CORE_READ(skb, sk);
	return sk ? sk_netns(sk) : 0;
}

/* The IP protocol, source and destination ports (host order) and, with
 * @raddr, the source address of @skb's headers. Returns the protocol, or 0
 * when the headers are not (yet) there. */
static __always_inline __u8 skb_ports(const struct sk_buff *skb, __u16 *sport, __u16 *dport,
				      __u8 *family, __u8 *raddr)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header), th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	__u8 ipproto = 0;
	__be16 ports[2];

	if (!head || nh == (__u16)~0U)
		return 0;
	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return 0;
		ipproto = ip.protocol;
		*family = AF_INET;
		if (raddr)
			__builtin_memcpy(raddr, &ip.saddr, 4);
		if (th == (__u16)~0U || th == nh)
			th = nh + ip.ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return 0;
		ipproto = ip6.nexthdr;		/* extension headers: not followed */
		*family = AF_INET6;
		if (raddr)
			bpf_probe_read_kernel(raddr, 16, &ip6.saddr);
		if (th == (__u16)~0U || th == nh)
			th = nh + sizeof(ip6);
	} else {
		return 0;
	}
	if (ipproto != IPPROTO_TCP && ipproto != IPPROTO_UDP)
		return ipproto;
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return 0;
	*sport = bpf_ntohs(ports[0]);
	*dport = bpf_ntohs(ports[1]);
	return ipproto;
}

static __always_inline void on_drop(void *ctx, struct sk_buff *skb, void *location, __u32 reason,
				    struct sock *rx_sk, bool backup)
{
	struct tcpdrop_drop_key k = { .reason = reason, .kstack = -1 };
	__u16 sport = 0, dport = 0;
	__u8 family = 0, proto;
	struct sock *sk;
	__u64 one = 1, *v, fp;

	if (!backup)
		__sync_fetch_and_add(&drop_calls, 1);
	if (reason <= 1)	/* SKB_NOT_DROPPED_YET, SKB_CONSUMED */
		return;
	fp = EV_FP();
	if (ev_counted(EV_DROP, fp, (__u64)skb, (__u64)location, reason, backup, &drop_caught))
		return;
	k.netns = skb_netns(skb);
	if (target_netns && k.netns != target_netns)
		return;
	proto = skb_ports(skb, &sport, &dport, &family, NULL);
	if (proto != IPPROTO_TCP && !all_protocols)
		return;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		k.proto = proto;
		/* a packet we send has our port as its source */
		sk = BPF_CORE_READ(skb, sk);
		k.lport = sk && BPF_CORE_READ(sk, __sk_common.skc_num) == sport ? sport : dport;
	}
	if (target_port && sport != target_port && dport != target_port)
		return;
	/* the socket that received the packet, else the one that owns it */
	if (qps_cfg.cgid && !sk_in_cgroup(rx_sk ? rx_sk : BPF_CORE_READ(skb, sk)))
		return;
	k.location = (__u64)location;
	if (with_stacks) {
		k.kstack = bpf_get_stackid(ctx, &stack_traces, 0);
		if (k.kstack < 0)
			__sync_fetch_and_add(&lost_stacks, 1);
	}
	v = bpf_map_lookup_elem(&drops, &k);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	if (bpf_map_update_elem(&drops, &k, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&drops, &k);
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			__sync_fetch_and_add(&lost_drops, 1);
	}
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(td_drop_btf, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	on_drop(ctx, skb, location, reason, has_rx_sk ? (struct sock *)ctx[3] : NULL, false);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(td_drop_raw, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	on_drop(ctx, skb, location, reason, has_rx_sk ? (struct sock *)ctx[3] : NULL, false);
	return 0;
}

/* the backups of the two above (see ev_counted), attached by user space
 * after the primary */
SEC("tp_btf/kfree_skb")
int BPF_PROG(td_drop2_btf, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	ev_backup_running(EV_DROP, 1);
	on_drop(ctx, skb, location, reason, has_rx_sk ? (struct sock *)ctx[3] : NULL, true);
	ev_backup_running(EV_DROP, 0);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(td_drop2_raw, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	ev_backup_running(EV_DROP, 1);
	on_drop(ctx, skb, location, reason, has_rx_sk ? (struct sock *)ctx[3] : NULL, true);
	ev_backup_running(EV_DROP, 0);
	return 0;
}

static __always_inline bool conn_wanted(const struct tcpdrop_conn_key *k)
{
	if (target_netns && k->netns != target_netns)
		return false;
	return !target_port || k->lport == target_port || k->rport == target_port;
}

/* adds @events, @segs and @untraced to @k's row (created when missing) */
static __always_inline void count_conn(struct tcpdrop_conn_key *k, __u64 events, __u64 segs, __u64 untraced)
{
	struct tcpdrop_conn_val *v, zero = {};

	if (!conn_wanted(k))
		return;
	v = bpf_map_lookup_elem(&conns, k);
	if (!v) {
		if (bpf_map_update_elem(&conns, k, &zero, BPF_NOEXIST) && !bpf_map_lookup_elem(&conns, k)) {
			__sync_fetch_and_add(&lost_conns, 1);
			return;
		}
		v = bpf_map_lookup_elem(&conns, k);
		if (!v)
			return;
	}
	if (events)
		__sync_fetch_and_add(&v->events, events);
	if (segs)
		__sync_fetch_and_add(&v->segs, segs);
	if (untraced)
		__sync_fetch_and_add(&v->untraced, untraced);
}

/* remote end, local port, state and namespace of @sk */
static __always_inline void sk_key(const struct sock *sk, struct tcpdrop_conn_key *k)
{
	k->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	k->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	k->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	k->netns = sk_netns(sk);
	if (k->family == AF_INET6)
		BPF_CORE_READ_INTO(&k->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	else
		BPF_CORE_READ_INTO((__u32 *)k->raddr, sk, __sk_common.skc_daddr);
}

/*
 * Retransmits no tracepoint call showed. The kernel adds to TcpRetransSegs
 * and to the socket's tcp_sock.total_retrans together (__tcp_retransmit_skb,
 * before it transmits). Under load the probe still fell a segment short now
 * and then (1 run in 5 of tests/bpf/tcpdrop.t, no call skipped by the
 * kernel) while the sum of each socket's total_retrans steps matched the
 * counter: so each retransmit call also reads total_retrans, and what it
 * gained since the socket's previous call beyond that call's segments is
 * counted as "untraced"; what it gains after the last call is counted when
 * the socket is destroyed (tcp:tcp_destroy_sock), and a connection opened
 * while the probe runs starts from its birth (sock:inet_sock_set_state).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPDROP_MAX_SOCKS);
	__type(key, __u64);		/* struct sock * */
	__type(value, __u32);		/* total_retrans at its last retransmit call */
} rtx_socks SEC(".maps");

/* Segments @sk's total_retrans (@tr now) gained since its previous call
 * beyond the @segs this call carries; 0 on its first call. */
static __always_inline __u32 rtx_untraced(const struct sock *sk, __u32 tr, __u32 segs)
{
	__u64 key = (__u64)sk;
	__u32 *seen = bpf_map_lookup_elem(&rtx_socks, &key), d;

	if (!seen) {
		bpf_map_update_elem(&rtx_socks, &key, &tr, BPF_ANY);
		return 0;
	}
	d = tr - *seen;
	*seen = tr;
	/* tcp_disconnect() zeroes total_retrans: a step back is no retransmit */
	return d > segs && d - segs < (1U << 30) ? d - segs : 0;
}

/* A connection's birth sets its baseline, so that steps before its first
 * retransmit call count too: an active open (-> SYN_SENT: total_retrans 0)
 * or a passive one (SYN_RECV -> ESTABLISHED: the SYN-ACK retransmits it
 * carries were counted at tcp_retransmit_synack). */
static __always_inline void on_set_state(const struct sock *sk, int oldstate, int newstate)
{
	struct tcpdrop_conn_key k = {};
	__u64 key = (__u64)sk;
	__u32 tr;

	if (!sk || !(newstate == 2 /* SYN_SENT */ || (oldstate == 3 /* SYN_RECV */ && newstate == 1)))
		return;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !sk_in_cgroup(sk))
		return;
	sk_key(sk, &k);
	if (!conn_wanted(&k))
		return;
	tr = BPF_CORE_READ((struct tcp_sock *)sk, total_retrans);
	bpf_map_update_elem(&rtx_socks, &key, &tr, BPF_ANY);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(td_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	on_set_state(sk, oldstate, newstate);
	return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(td_state_raw, const struct sock *sk, const int oldstate, const int newstate)
{
	on_set_state(sk, oldstate, newstate);
	return 0;
}

static __always_inline void on_destroy(const struct sock *sk)
{
	struct tcpdrop_conn_key k = { .kind = TCPDROP_RETRANS };
	__u64 key = (__u64)sk;
	__u32 *seen, d;

	if (!sk)
		return;
	seen = bpf_map_lookup_elem(&rtx_socks, &key);
	if (!seen)
		return;
	d = BPF_CORE_READ((struct tcp_sock *)sk, total_retrans) - *seen;
	bpf_map_delete_elem(&rtx_socks, &key);
	if (!d || d >= (1U << 30) || !sk_in_cgroup(sk))
		return;
	sk_key(sk, &k);
	count_conn(&k, 0, 0, d);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(td_destroy_btf, struct sock *sk)
{
	on_destroy(sk);
	return 0;
}

SEC("raw_tp/tcp_destroy_sock")
int BPF_PROG(td_destroy_raw, struct sock *sk)
{
	on_destroy(sk);
	return 0;
}

static __always_inline void on_retrans(const struct sock *sk, const struct sk_buff *skb, int err, bool backup)
{
	struct tcpdrop_conn_key k = { .kind = TCPDROP_RETRANS };
	struct tcp_skb_cb *cb;
	__u32 tr, untraced;
	__u16 segs = 0;
	__u64 fp;

	if (!backup)
		__sync_fetch_and_add(&rtx_calls, 1);
	if (!sk)
		return;
	fp = EV_FP();
	tr = BPF_CORE_READ((struct tcp_sock *)sk, total_retrans);
	if (ev_counted(EV_RTX, fp, (__u64)sk, (__u64)skb, ((__u64)(__u32)err << 32) | tr, backup, &rtx_caught))
		return;
	if (!sk_in_cgroup(sk))
		return;
	sk_key(sk, &k);
	if (!conn_wanted(&k))
		return;
	if (skb) {
		cb = (struct tcp_skb_cb *)&skb->cb[0];
		segs = BPF_CORE_READ(cb, tcp_gso_segs);
	}
	if (!segs)
		segs = 1;
	/* a failed attempt carries no segment of the counter: refused before
	 * the kernel counted (EBUSY, window, route), or counted and then failed
	 * to transmit - total_retrans tells, as untraced segments */
	untraced = rtx_untraced(sk, tr, err < 0 ? 0 : segs);
	k.err = err < 0 ? (err < -255 ? 255 : -err) : 0;
	count_conn(&k, 1, segs, 0);
	if (untraced) {
		k.err = 0;
		count_conn(&k, 0, 0, untraced);
	}
}

/* kernels before 6.10 have no err argument (and fire on success only):
 * the raw_tp/_noerr twins read two arguments. The td_rtx2_* programs are
 * the backups, attached after the primaries by user space. */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(td_retrans_btf, const struct sock *sk, const struct sk_buff *skb, int err)
{
	on_retrans(sk, skb, err, false);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(td_retrans_raw, const struct sock *sk, const struct sk_buff *skb, int err)
{
	on_retrans(sk, skb, err, false);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(td_retrans_btf_noerr, const struct sock *sk, const struct sk_buff *skb)
{
	on_retrans(sk, skb, 0, false);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(td_rtx2_btf, const struct sock *sk, const struct sk_buff *skb, int err)
{
	ev_backup_running(EV_RTX, 1);
	on_retrans(sk, skb, err, true);
	ev_backup_running(EV_RTX, 0);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(td_rtx2_raw, const struct sock *sk, const struct sk_buff *skb, int err)
{
	ev_backup_running(EV_RTX, 1);
	on_retrans(sk, skb, err, true);
	ev_backup_running(EV_RTX, 0);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(td_rtx2_btf_noerr, const struct sock *sk, const struct sk_buff *skb)
{
	ev_backup_running(EV_RTX, 1);
	on_retrans(sk, skb, 0, true);
	ev_backup_running(EV_RTX, 0);
	return 0;
}

/* SYN-ACK retransmits: TcpRetransSegs counts them too (tcp_rtx_synack), but
 * they have their own tracepoint, with the request socket (its addresses,
 * state NEW_SYN_RECV) and the listener (or a fast-open child) */
static __always_inline void on_retrans_synack(const struct sock *sk, const struct request_sock *req)
{
	struct tcpdrop_conn_key k = { .kind = TCPDROP_RETRANS };
	__u64 key = (__u64)sk;
	__u32 *seen;

	__sync_fetch_and_add(&synack_calls, 1);
	if (!req || !sk_in_cgroup(sk))
		return;
	sk_key((const struct sock *)req, &k);	/* sock_common first in both */
	count_conn(&k, 1, 1, 0);
	/* a passive fast-open child counts it in its total_retrans as well:
	 * not an untraced segment */
	seen = sk ? bpf_map_lookup_elem(&rtx_socks, &key) : NULL;
	if (seen)
		__sync_fetch_and_add(seen, 1);
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(td_synack_btf, const struct sock *sk, const struct request_sock *req)
{
	on_retrans_synack(sk, req);
	return 0;
}

SEC("raw_tp/tcp_retransmit_synack")
int BPF_PROG(td_synack_raw, const struct sock *sk, const struct request_sock *req)
{
	on_retrans_synack(sk, req);
	return 0;
}

static __always_inline void on_send_reset(const struct sock *sk, const struct sk_buff *skb)
{
	struct tcpdrop_conn_key k = { .kind = TCPDROP_RST_SENT };
	__u16 sport = 0, dport = 0;
	__u8 family = 0;

	if (!sk_in_cgroup(sk))
		return;
	if (sk && BPF_CORE_READ(sk, __sk_common.skc_state) != 12 /* TCP_NEW_SYN_RECV */) {
		sk_key(sk, &k);
	} else if (skb) {
		/* no full socket: the reset answers @skb, whose source is the remote */
		if (skb_ports(skb, &sport, &dport, &family, k.raddr) != IPPROTO_TCP)
			return;
		k.family = family;
		k.rport = sport;
		k.lport = dport;
		k.netns = skb_netns(skb);
		if (!k.netns && sk)
			k.netns = sk_netns(sk);
		k.state = sk ? 12 : 0;
	} else {
		return;
	}
	count_conn(&k, 1, 0, 0);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(td_send_reset_btf, const struct sock *sk, const struct sk_buff *skb)
{
	on_send_reset(sk, skb);
	return 0;
}

SEC("raw_tp/tcp_send_reset")
int BPF_PROG(td_send_reset_raw, const struct sock *sk, const struct sk_buff *skb)
{
	on_send_reset(sk, skb);
	return 0;
}

static __always_inline void on_receive_reset(const struct sock *sk)
{
	struct tcpdrop_conn_key k = { .kind = TCPDROP_RST_RECV };

	if (!sk || !sk_in_cgroup(sk))
		return;
	sk_key(sk, &k);
	count_conn(&k, 1, 0, 0);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(td_recv_reset_btf, const struct sock *sk)
{
	on_receive_reset(sk);
	return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(td_recv_reset_raw, const struct sock *sk)
{
	on_receive_reset(sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
