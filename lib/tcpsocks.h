/* tcpsocks.h - every TCP socket of a network namespace, in any state, via
 * netlink sock_diag (inet_diag_req_v2, IPv4 and IPv6) with libmnl; the
 * connection-level twin of sockdiag.h's listener dump.
 */
#ifndef QPS_TCPSOCKS_H
#define QPS_TCPSOCKS_H
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct tcp_sock {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t state;			/* TCP_ESTABLISHED (1) .. TCP_CLOSING (11) */
	uint8_t laddr[16], raddr[16];	/* IPv4 in the first 4 bytes */
	uint16_t lport, rport;		/* host byte order */
	uint32_t rqueue, wqueue;	/* bytes not read / not acknowledged */
	uint64_t inode;			/* 0 for sockets without a file (TIME_WAIT, orphans) */
};

/* Dumps the TCP sockets of the namespace of @netns_fd (an open
 * /proc/PID/ns/net; -1: the caller's). The calling thread enters that
 * namespace only to open the netlink socket and returns to its own before
 * this returns. On success returns the count and sets *@out to a malloc'ed
 * array the caller frees; -errno on failure. */
int tcpsocks_dump(int netns_fd, struct tcp_sock **out);
/* "1.2.3.4:80" or "[::1]:80" of the remote end into @buf. Returns @buf. */
char *tcpsocks_remote_str(const struct tcp_sock *s, char *buf, size_t size);
/* "ESTABLISHED", "CLOSE_WAIT", ... ("UNKNOWN" out of range). */
const char *tcpsocks_state_name(unsigned int state);
#endif
