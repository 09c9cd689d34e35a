/* test_acceptq_acct.c - acceptq's listen-drop accounting with recorded
 * event sequences: the kfree_skb drop sites (function, reason, count) and
 * sk_drops deltas that `probe acceptq --json` recorded on Linux 6.18 in
 * tests/bpf/acceptq.t (TCP_DEFER_ACCEPT: ACK-path overflows) and
 * tests/bpf/acceptq-reuseport.t (refused syncookie ACKs), with the TcpExt
 * ListenDrops delta the kernel counted at the same time as the expected
 * listen_drops. So the ACK-path branch (kernels >= 6.15) is proven here on
 * any kernel, not only where that path runs. */
#include <stdio.h>

#include "tap.h"
#include "acceptq_acct.h"

static const struct acceptq_site ack_path[] = {
	{ "tcp_v4_rcv", "NOT_SPECIFIED", 5 },
	{ "tcp_v4_rcv", "TCP_LISTEN_OVERFLOW", 25 },
};
static const struct acceptq_site cookies[] = {
	{ "cookie_v4_check", "NO_SOCKET", 2414 },
};
/* the same without kernel symbols (CAP_SYSLOG missing): by reason only */
static const struct acceptq_site cookies_nosyms[] = {
	{ NULL, "NO_SOCKET", 2414 },
};
/* an ACK for no request, answered with a reset, and a bad checksum: neither
 * in sk_drops; plus one listen overflow on the ACK path (in sk_drops) */
static const struct acceptq_site mixed[] = {
	{ "tcp_v4_do_rcv", "TCP_FLAGS", 7 },
	{ "tcp_v4_do_rcv.cold", "TCP_FLAGS", 1 },
	{ "tcp_v4_rcv", "TCP_CSUM", 2 },
	{ "tcp_v4_rcv", "TCP_LISTEN_OVERFLOW", 10 },
	{ "tcp_v6_rcv", "TCP_LISTEN_OVERFLOW", 3 },
};

static const struct {
	const char *name;
	const struct acceptq_site *sites;
	int n;
	uint64_t drops;			/* sk_drops delta recorded */
	uint64_t want_listen;		/* TcpExt ListenDrops delta recorded */
	uint64_t want_ack, want_not_in;
	int want_exact;
} cases[] = {
	{ "ACK path (defer accept, 50 clients)", ack_path, 2, 135, 105, 25, 0, 1 },
	{ "refused syncookie ACKs (reuseport)", cookies, 1, 2802, 2802, 0, 2414, 1 },
	{ "refused syncookie ACKs, no kernel symbols", cookies_nosyms, 1, 2802, 2802, 0, 2414, 0 },
	/* 13 overflows are both listen drops and in sk_drops twice; 10 not in */
	{ "resets, checksum errors and overflows", mixed, 5, 20 + 13, 20, 13, 10, 1 },
	{ "no kfree_skb drop: every drop a listen drop (SYN path)", NULL, 0, 195, 195, 0, 0, 1 },
};

int main(void)
{
	int n = sizeof(cases) / sizeof(cases[0]);
	bool sure;

	tap_plan(n * 4 + 6);
	for (int i = 0; i < n; i++) {
		struct acceptq_acct a;

		acceptq_account(cases[i].drops, cases[i].sites, cases[i].n, &a);
		if (!tap_ok(a.listen_drops == cases[i].want_listen, "%s: listen_drops %llu == ListenDrops delta %llu",
			    cases[i].name, (unsigned long long)a.listen_drops, (unsigned long long)cases[i].want_listen))
			tap_diag("ack %llu other %llu not_in %llu", (unsigned long long)a.ack_drops,
				 (unsigned long long)a.other_kfree, (unsigned long long)a.not_in_sk_drops);
		tap_ok(a.ack_drops == cases[i].want_ack, "%s: ack_drops %llu", cases[i].name,
		       (unsigned long long)a.ack_drops);
		tap_ok(a.not_in_sk_drops == cases[i].want_not_in, "%s: not in sk_drops %llu", cases[i].name,
		       (unsigned long long)a.not_in_sk_drops);
		tap_ok(a.exact == cases[i].want_exact, "%s: %s", cases[i].name,
		       cases[i].want_exact ? "exact (sites by function)" : "attributed (by reason only)");
	}
	tap_ok(acceptq_site_in_sk_drops("tcp_drop_reason", "TCP_FLAGS", &sure) && sure,
	       "tcp_drop_reason TCP_FLAGS (SYN+FIN in tcp_rcv_state_process) is in sk_drops");
	tap_ok(!acceptq_site_in_sk_drops(NULL, "TCP_FLAGS", &sure) && !sure,
	       "TCP_FLAGS without a function: guessed not in sk_drops, not sure");
	tap_ok(!acceptq_site_in_sk_drops("cookie_v6_check", "NO_SOCKET", &sure) && sure, "cookie_v6_check: not in sk_drops");
	tap_ok(acceptq_site_in_sk_drops("tcp_v4_do_rcvx", "NOT_SPECIFIED", &sure),
	       "tcp_v4_do_rcvx is not tcp_v4_do_rcv (prefix match stops at '.')");
	tap_ok(acceptq_listen_drops(3, 10, 0) == 0, "listen drops never below 0");
	tap_ok(acceptq_listen_drops(10, 4, 6) == 10, "more drops outside sk_drops than kfree_skb drops: nothing subtracted");
	return tap_done(1);
}
