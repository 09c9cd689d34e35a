/* acceptq_acct.h - the listen-drop accounting of `probe acceptq`, as pure
 * functions of what the probe recorded (no BPF, no kernel access), so the
 * ACK-path logic (kfree_skb drop reasons, Linux >= 6.15) is unit-tested with
 * recorded event sequences on any kernel (tests/unit/test_acceptq_acct.c). */
#ifndef QPS_PROBE_ACCEPTQ_ACCT_H
#define QPS_PROBE_ACCEPTQ_ACCT_H
#include <stdbool.h>
#include <stdint.h>

/* Does a kfree_skb drop on a listener, in kernel function @fn (NULL:
 * unknown, no kernel symbols) with drop reason @reason (name without
 * SKB_DROP_REASON_, NULL: unknown), also add to the listener's sk_drops?
 * *@sure is false when the answer is a guess by reason alone. */
bool acceptq_site_in_sk_drops(const char *fn, const char *reason, bool *sure);

/* One recorded kfree_skb drop site on a listener. */
struct acceptq_site {
	const char *fn;			/* kernel function, NULL if unresolved */
	const char *reason;		/* "TCP_LISTEN_OVERFLOW", "NO_SOCKET", ... */
	uint64_t count;
};

/* The accounting of one listener over a window. */
struct acceptq_acct {
	uint64_t ack_drops;		/* reason TCP_LISTEN_OVERFLOW: ACK-path overflows */
	uint64_t other_kfree;		/* the other kfree_skb drops on the listener */
	uint64_t not_in_sk_drops;	/* of all of them, those sk_drops did not count */
	uint64_t listen_drops;		/* its share of TcpExt ListenDrops */
	bool exact;			/* every site classified by function */
};

/* Listen drops from the listener's sk_drops delta @drops and its kfree_skb
 * drops @kfree (ACK-path overflows included), @not_in of which sk_drops
 * did not count: sk_drops counts each listen drop once (tcp_listendrop) and
 * the other kfree_skb drops once more. Never below 0. */
uint64_t acceptq_listen_drops(uint64_t drops, uint64_t kfree, uint64_t not_in);

/* Accounts @n recorded sites against the sk_drops delta @drops. */
void acceptq_account(uint64_t drops, const struct acceptq_site *sites, int n, struct acceptq_acct *out);

#endif
