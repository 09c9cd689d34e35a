/* sockdiag.h - TCP listeners of the current network namespace via netlink
 * sock_diag (NETLINK_SOCK_DIAG, inet_diag_req_v2), with libmnl.
 *
 * For a listener the kernel reports idiag_rqueue = current accept-queue depth
 * and idiag_wqueue = the backlog limit it granted (sk_max_ack_backlog), and
 * INET_DIAG_SKMEMINFO[SK_MEMINFO_DROPS] = the listener's sk_drops, which every
 * listen-queue overflow and SYN-path listen drop increments.
 */
#ifndef QPS_SOCKDIAG_H
#define QPS_SOCKDIAG_H
#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

struct sd_listener {
	int family;			/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint16_t port;			/* host byte order */
	uint32_t queue;			/* current accept-queue depth (Recv-Q) */
	uint32_t backlog;		/* granted limit (Send-Q) */
	uint32_t drops;			/* sk_drops; UINT32_MAX if not reported */
	uint64_t inode;			/* socket inode, to find the owner */
	uint32_t uid;
	uint64_t cookie;		/* socket cookie (same as bpf_get_socket_cookie) */
	pid_t pid;			/* owning process, 0 if not found (see sockdiag_owners) */
	char comm[16];
};

/* Dumps every TCP listener (IPv4 and IPv6) of the current netns. On success
 * returns the count and sets *@out to a malloc'ed array the caller frees.
 * Returns -errno on failure (*@out untouched). Owners are not filled in. */
int sockdiag_listeners(struct sd_listener **out);

/* Fills pid/comm of each listener by scanning /proc/[pid]/fd for
 * "socket:[inode]". Processes in other mount namespaces are found too (same
 * pid namespace). Best effort: unreadable processes are skipped. Returns 0. */
int sockdiag_owners(struct sd_listener *l, int n);

/* "127.0.0.1:8080" or "[::1]:8080" into @buf. Returns @buf. */
char *sockdiag_addr_str(const struct sd_listener *l, char *buf, size_t size);
#endif
