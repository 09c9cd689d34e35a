/* acceptq_acct.c - listen-drop accounting of acceptq (see acceptq_acct.h). */
#include "acceptq_acct.h"

#include <string.h>

/* In tcp_v4_rcv (discard_and_relse: tcp_check_req's refusals, socket filter,
 * ...) and tcp_drop_reason() (RST, bad flags in tcp_rcv_state_process) a
 * drop adds to sk_drops: sk_drops_skbadd() comes first. In tcp_v4_do_rcv (an
 * ACK with no request: TCP_FLAGS, answered with a reset; a checksum error)
 * and cookie_v4_check (a syncookie ACK refused: NO_SOCKET, after
 * tcp_listendrop() when the accept queue is full) it does not; same in IPv6.
 * A bad checksum never does. */
bool acceptq_site_in_sk_drops(const char *fn, const char *reason, bool *sure)
{
	static const char *const not_counted[] = {
		"tcp_v4_do_rcv", "tcp_v6_do_rcv", "cookie_v4_check", "cookie_v6_check",
	};

	*sure = true;
	if (reason && strcmp(reason, "TCP_CSUM") == 0)
		return false;
	if (!fn) {
		/* by reason only: TCP_FLAGS is also SYN+FIN in tcp_rcv_state_process */
		*sure = false;
		return !reason || (strcmp(reason, "NO_SOCKET") != 0 && strcmp(reason, "TCP_FLAGS") != 0);
	}
	for (size_t i = 0; i < sizeof(not_counted) / sizeof(not_counted[0]); i++) {
		size_t n = strlen(not_counted[i]);

		/* also a compiler's tcp_v4_do_rcv.cold or .isra.0 */
		if (strncmp(fn, not_counted[i], n) == 0 && (fn[n] == '\0' || fn[n] == '.'))
			return false;
	}
	return true;
}

uint64_t acceptq_listen_drops(uint64_t drops, uint64_t kfree, uint64_t not_in)
{
	uint64_t counted_twice = kfree > not_in ? kfree - not_in : 0;

	return drops > counted_twice ? drops - counted_twice : 0;
}

void acceptq_account(uint64_t drops, const struct acceptq_site *sites, int n, struct acceptq_acct *out)
{
	memset(out, 0, sizeof(*out));
	out->exact = true;
	for (int i = 0; i < n; i++) {
		bool sure, in = acceptq_site_in_sk_drops(sites[i].fn, sites[i].reason, &sure);

		if (sites[i].reason && strcmp(sites[i].reason, "TCP_LISTEN_OVERFLOW") == 0)
			out->ack_drops += sites[i].count;
		else
			out->other_kfree += sites[i].count;
		if (!in)
			out->not_in_sk_drops += sites[i].count;
		if (!sure)
			out->exact = false;
	}
	out->listen_drops = acceptq_listen_drops(drops, out->ack_drops + out->other_kfree, out->not_in_sk_drops);
}
