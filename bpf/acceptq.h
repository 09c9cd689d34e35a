/* acceptq.h - types shared by bpf/acceptq.bpf.c and probes/acceptq.c. */
#ifndef QPS_BPF_ACCEPTQ_H
#define QPS_BPF_ACCEPTQ_H

#define ACCEPTQ_MAX_LISTENERS 4096	/* listener sockets tracked; more are counted in missed_listeners */
#define ACCEPTQ_HIST_SLOTS 32		/* log2 slots of queue depth; slot 0 = depth 0..1 */
#define ACCEPTQ_MAX_REASONS 256		/* enum skb_drop_reason values counted (more: the last slot) */
#define ACCEPTQ_MAX_SITES 4096		/* (listener, drop site, reason) triples; more: missed_sites */

/* Where a kfree_skb drop on a watched listener happened. The site decides
 * whether that drop also added to the listener's sk_drops: tcp_v4_rcv's
 * discard_and_relse and tcp_drop_reason() do, tcp_v4_do_rcv's reset/discard
 * and cookie_v4_check() (and their IPv6 twins) do not. */
struct acceptq_site_key {
	__u64 listener;		/* the listener's kernel address: the listeners map key */
	__u64 location;		/* kfree_skb's location: a return address in the dropping function */
	__u32 reason;		/* enum skb_drop_reason */
	__u32 pad;
};

/* One TCP listener socket, keyed by its kernel address (u64) while it lives. */
struct acceptq_val {
	__u64 cookie;		/* socket cookie (sock_diag's idiag_cookie); 0 if none yet */
	__u32 netns;		/* network namespace inode */
	__u16 family;		/* AF_INET / AF_INET6 */
	__u16 port;		/* local port, host order */
	__u8 addr[16];		/* local address: 4 bytes for IPv4, 16 for IPv6 */
	__u32 max_backlog;	/* sk_max_ack_backlog at the last event (the granted limit) */
	__u32 peak;		/* highest sk_ack_backlog right after an enqueue */
	__u64 enqueues;		/* children queued (sk_data_ready on the listener) */
	__u64 full_events;	/* enqueues that left the queue full (depth > limit) */
	__u64 full_since_ns;	/* CLOCK_MONOTONIC ns when it last became full; 0: not full */
	__u64 full_ns;		/* closed full periods, ns (upper bound, see probes/acceptq.c) */
	__u64 full_periods;	/* closed full periods */
	__u64 ack_overflow_drops;	/* kfree_skb reason TCP_LISTEN_OVERFLOW (ACK path, exact) */
	__u64 syn_overflow_drops;	/* fentry/kprobe tcp_conn_request with a full queue (SYN path, exact) */
	__u64 other_kfree_drops;	/* kfree_skb with another reason and this listener as rx_sk */
	__u32 sk_drops_first;	/* listener's sk_drops at the first event we saw */
	__u32 sk_drops_last;	/* ... and at the last one */
	__u64 first_ns, last_ns;	/* CLOCK_MONOTONIC ns of first/last event */
	__u64 hist[ACCEPTQ_HIST_SLOTS];	/* queue depth right after each enqueue, log2 */
};

#endif
