// SPDX-License-Identifier: GPL-2.0
/* acceptq.bpf.c - accept-queue saturation of TCP listeners.
 *
 * Which programs load is decided at run time by probes/acceptq.c:
 *   enqueue  tp_btf/sk_data_ready (or raw_tp/sk_data_ready): the listener's
 *            sk_data_ready fires each time a child is queued; depth and limit
 *            are read on the listener.
 *   ACK-path overflow: tp_btf/kfree_skb (or raw_tp) with SKB_DROP_REASON_TCP_LISTEN_OVERFLOW
 *            (Linux >= 6.15; the reason's value comes from kernel BTF via CO-RE).
 *   SYN-path overflow: fentry or kprobe on tcp_conn_request with a full queue
 *            (no tracepoint sees it; off where neither loads).
 * Everything is aggregated in the listeners map; nothing goes to user space
 * per event.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "acceptq.h"
#include "common.bpf.h"

#define EV_KINDS 1		/* kfree_skb, the one program with a backup */
#include "backup.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define TCP_LISTEN_STATE 10

const volatile __u32 target_netns = 0;	/* 0: every network namespace */
const volatile __u16 target_port = 0;	/* 0: every port */

__u64 missed_listeners = 0;	/* events on listeners that did not fit the map */
__u64 ack_overflow_unattributed = 0;	/* TCP_LISTEN_OVERFLOW drops with no listener */
__u64 missed_sites = 0;		/* kfree_skb drops whose site did not fit drop_sites */
__u64 kfree_caught = 0;		/* kfree_skb calls the backup counted (skipped by the primary) */
__u64 kfree_calls = 0;		/* calls of the primary: user space compares them with perf's count */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ACCEPTQ_MAX_LISTENERS);
	__type(key, __u64);
	__type(value, struct acceptq_val);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct acceptq_val);
} zero SEC(".maps");

/* kfree_skb drops whose rx_sk is a watched listener, by drop reason */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ACCEPTQ_MAX_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} drop_reasons SEC(".maps");

/* kfree_skb drops on a watched listener by (listener, site, reason): user
 * space resolves the site to a function and so knows which of them are in
 * sk_drops (see struct acceptq_site_key) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ACCEPTQ_MAX_SITES);
	__type(key, struct acceptq_site_key);
	__type(value, __u64);
} drop_sites SEC(".maps");

/* The listener's entry, created on first sight; NULL if @sk is not a TCP
 * listener we watch or the map is full. */
static __always_inline struct acceptq_val *listener_get(struct sock *sk, __u64 cookie, __u64 now)
{
	__u64 key = (__u64)sk;
	struct acceptq_val *v;
	__u32 netns, zkey = 0;
	__u16 port;

	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN_STATE ||
	    BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (target_netns && netns != target_netns)
		return NULL;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (target_port && port != target_port)
		return NULL;
	v = bpf_map_lookup_elem(&listeners, &key);
	if (v) {
		if (!v->cookie && cookie)
			v->cookie = cookie;
		return v;
	}
	v = bpf_map_lookup_elem(&zero, &zkey);
	if (!v)
		return NULL;
	__builtin_memset(v, 0, sizeof(*v));
	v->cookie = cookie;
	v->netns = netns;
	v->port = port;
	v->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (v->family == AF_INET6)
		BPF_CORE_READ_INTO(&v->addr, sk, __sk_common.skc_v6_rcv_saddr);
	else
		BPF_CORE_READ_INTO(&v->addr, sk, __sk_common.skc_rcv_saddr);
	v->sk_drops_first = BPF_CORE_READ(sk, sk_drops.counter);
	v->first_ns = now;
	if (bpf_map_update_elem(&listeners, &key, v, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&listeners, &key)) {
		__sync_fetch_and_add(&missed_listeners, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&listeners, &key);
}

static __always_inline void on_enqueue(struct sock *sk, __u64 cookie)
{
	__u64 now = bpf_ktime_get_ns();
	struct acceptq_val *v = listener_get(sk, cookie, now);
	__u32 depth, limit;
	int slot;

	if (!v)
		return;
	depth = BPF_CORE_READ(sk, sk_ack_backlog);
	limit = BPF_CORE_READ(sk, sk_max_ack_backlog);
	v->max_backlog = limit;
	if (depth > v->peak)
		v->peak = depth;
	__sync_fetch_and_add(&v->enqueues, 1);
	slot = log2_u64(depth);
	if (slot >= ACCEPTQ_HIST_SLOTS)
		slot = ACCEPTQ_HIST_SLOTS - 1;
	__sync_fetch_and_add(&v->hist[slot], 1);
	/* the kernel's sk_acceptq_is_full() is depth > limit: the next child
	 * (SYN or completing ACK) will be dropped */
	if (depth > limit) {
		__sync_fetch_and_add(&v->full_events, 1);
		if (!v->full_since_ns)
			v->full_since_ns = now;
	} else if (v->full_since_ns) {
		/* an accept(2) made room at some point since it filled; accept has
		 * no tracepoint, so this closes the period at the latest bound */
		__sync_fetch_and_add(&v->full_ns, now - v->full_since_ns);
		__sync_fetch_and_add(&v->full_periods, 1);
		v->full_since_ns = 0;
	}
	v->sk_drops_last = BPF_CORE_READ(sk, sk_drops.counter);
	v->last_ns = now;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(aq_data_ready_btf, struct sock *sk)
{
	if (sk->__sk_common.skc_state != TCP_LISTEN_STATE)
		return 0;
	on_enqueue(sk, bpf_get_socket_cookie(sk));
	return 0;
}

SEC("raw_tp/sk_data_ready")
int BPF_PROG(aq_data_ready_raw, struct sock *sk)
{
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN_STATE)
		return 0;
	/* raw_tp has no socket-cookie helper: read what sock_diag generated */
	on_enqueue(sk, BPF_CORE_READ(sk, __sk_common.skc_cookie.counter));
	return 0;
}

static __always_inline void on_overflow(struct sock *sk, bool syn_path)
{
	__u64 now = bpf_ktime_get_ns();
	struct acceptq_val *v = listener_get(sk, 0, now);

	if (!v)
		return;
	if (syn_path)
		__sync_fetch_and_add(&v->syn_overflow_drops, 1);
	else
		__sync_fetch_and_add(&v->ack_overflow_drops, 1);
	if (!v->full_since_ns)
		v->full_since_ns = now;
	/* at tcp_conn_request entry the drop is not counted yet; at kfree_skb it is */
	v->sk_drops_last = BPF_CORE_READ(sk, sk_drops.counter) + (syn_path ? 1 : 0);
	v->last_ns = now;
}

static __always_inline bool is_watched_listener(struct sock *sk)
{
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN_STATE ||
	    BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	if (target_netns && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != target_netns)
		return false;
	return !target_port || BPF_CORE_READ(sk, __sk_common.skc_num) == target_port;
}

static __always_inline void count_site(struct sock *sk, void *location, __u32 reason)
{
	struct acceptq_site_key k = {
		.listener = (__u64)sk, .location = (__u64)location, .reason = reason,
	};
	__u64 one = 1, *c;

	c = bpf_map_lookup_elem(&drop_sites, &k);
	if (c) {
		__sync_fetch_and_add(c, 1);
		return;
	}
	if (bpf_map_update_elem(&drop_sites, &k, &one, BPF_NOEXIST)) {
		/* lost a race with another CPU creating it, or the map is full */
		c = bpf_map_lookup_elem(&drop_sites, &k);
		if (c)
			__sync_fetch_and_add(c, 1);
		else
			__sync_fetch_and_add(&missed_sites, 1);
	}
}

static __always_inline void on_kfree_skb(struct sk_buff *skb, void *location, enum skb_drop_reason reason,
					 struct sock *rx_sk, bool backup)
{
	bool overflow;
	__u32 r = reason;
	__u64 *cnt;

	if (!backup)
		__sync_fetch_and_add(&kfree_calls, 1);
	if (!bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW))
		return;
	/* a call the kernel skipped on a CPU where the primary was running is
	 * counted by the backup (backup.bpf.h): the drops of a whole softirq
	 * can hide behind one task-context drop */
	if (ev_counted(0, EV_FP(), (__u64)skb, (__u64)location, r, backup, &kfree_caught))
		return;
	overflow = reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW);
	/* rx_sk (Linux >= 6.10) is the socket the segment was for: the listener */
	if (!rx_sk) {
		if (overflow)
			__sync_fetch_and_add(&ack_overflow_unattributed, 1);
		return;
	}
	if (!is_watched_listener(rx_sk))
		return;
	/* every drop on a watched listener, by reason: what else is in sk_drops */
	if (r >= ACCEPTQ_MAX_REASONS)
		r = ACCEPTQ_MAX_REASONS - 1;
	cnt = bpf_map_lookup_elem(&drop_reasons, &r);
	if (cnt)
		(*cnt)++;
	count_site(rx_sk, location, reason);
	if (overflow) {
		on_overflow(rx_sk, false);
	} else {
		/* most of these add to the listener's sk_drops too; user space
		 * tells which from drop_sites and subtracts those to get the
		 * drops that are listen drops (TcpExt ListenDrops) */
		struct acceptq_val *v = listener_get(rx_sk, 0, bpf_ktime_get_ns());

		if (v)
			__sync_fetch_and_add(&v->other_kfree_drops, 1);
	}
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(aq_kfree_skb_btf, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason, struct sock *rx_sk)
{
	on_kfree_skb(skb, location, reason, rx_sk, false);
	return 0;
}

/* loaded only where the reason exists (>= 6.15), so the 4th argument does too */
SEC("raw_tp/kfree_skb")
int BPF_PROG(aq_kfree_skb_raw, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason, struct sock *rx_sk)
{
	on_kfree_skb(skb, location, reason, rx_sk, false);
	return 0;
}

/* their backups, attached by user space after them */
SEC("tp_btf/kfree_skb")
int BPF_PROG(aq_kfree2_btf, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason, struct sock *rx_sk)
{
	ev_backup_running(0, 1);
	on_kfree_skb(skb, location, reason, rx_sk, true);
	ev_backup_running(0, 0);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(aq_kfree2_raw, struct sk_buff *skb, void *location,
	     enum skb_drop_reason reason, struct sock *rx_sk)
{
	ev_backup_running(0, 1);
	on_kfree_skb(skb, location, reason, rx_sk, true);
	ev_backup_running(0, 0);
	return 0;
}

/* tcp_conn_request(rsk_ops, af_ops, sk, skb): a SYN on a listener whose
 * accept queue is full is dropped (after the syncookie decision). */
static __always_inline void on_conn_request(struct sock *sk)
{
	if (BPF_CORE_READ(sk, sk_ack_backlog) > BPF_CORE_READ(sk, sk_max_ack_backlog))
		on_overflow(sk, true);
}

SEC("fentry/tcp_conn_request")
int BPF_PROG(aq_conn_request_fentry, void *rsk_ops, void *af_ops, struct sock *sk)
{
	on_conn_request(sk);
	return 0;
}

SEC("kprobe/tcp_conn_request")
int BPF_KPROBE(aq_conn_request_kprobe, void *rsk_ops, void *af_ops, struct sock *sk)
{
	on_conn_request(sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
