/* tcpdrop.h - types shared by bpf/tcpdrop.bpf.c and probes/tcpdrop.c. */
#ifndef QPS_BPF_TCPDROP_H
#define QPS_BPF_TCPDROP_H

#define TCPDROP_MAX_DROPS 8192		/* distinct drop keys; more -> lost_drops */
#define TCPDROP_MAX_CONNS 8192		/* distinct retransmit/reset keys; more -> lost_conns */
#define TCPDROP_MAX_STACKS 4096		/* with --stacks */
#define TCPDROP_MAX_SOCKS 16384		/* sockets whose total_retrans is followed (LRU) */
#define TCPDROP_MAX_DEPTH 127

/* one kfree_skb drop place */
struct tcpdrop_drop_key {
	__u32 reason;		/* enum skb_drop_reason (names from kernel BTF at run time) */
	__u32 netns;		/* network namespace inode; 0: unknown */
	__u64 location;		/* kernel address that freed the skb */
	__u16 lport;		/* local port (host order), 0: not TCP/UDP or unknown */
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP, 0: other/unknown */
	__u8 pad;
	__s32 kstack;		/* with --stacks; -1 otherwise */
};

enum tcpdrop_kind {
	TCPDROP_RETRANS = 1,	/* tcp:tcp_retransmit_skb */
	TCPDROP_RST_SENT = 2,	/* tcp:tcp_send_reset */
	TCPDROP_RST_RECV = 3,	/* tcp:tcp_receive_reset */
};

/* one retransmit/reset flow (remote end + local port + state) */
struct tcpdrop_conn_key {
	__u8 kind;		/* enum tcpdrop_kind */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 state;		/* TCP state of the socket; 0: no socket (reset for an unknown flow) */
	__u8 err;		/* retransmit attempt that failed: -errno (clipped to 255); 0: sent */
	__u16 lport;		/* host order */
	__u16 rport;		/* host order */
	__u32 netns;
	__u8 raddr[16];		/* IPv4 in the first 4 bytes */
};

struct tcpdrop_conn_val {
	__u64 events;
	__u64 segs;		/* retransmitted segments (tcp_skb_pcount), as TcpRetransSegs counts */
	__u64 untraced;		/* segments the socket's total_retrans gained that no
				 * tracepoint call carried (retransmits only, err 0 rows) */
};

#endif
