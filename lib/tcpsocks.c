/* tcpsocks.c - every TCP socket via NETLINK_SOCK_DIAG; see tcpsocks.h. */
#include "tcpsocks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const states[] = {
	"UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
};

const char *tcpsocks_state_name(unsigned int state)
{
	return state < sizeof(states) / sizeof(states[0]) ? states[state] : "UNKNOWN";
}

struct dump {
	struct tcp_sock *v;
	int n, cap;
	int err;
};

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct tcp_sock *s;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_OK;
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 64;
		struct tcp_sock *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = v;
		d->cap = cap;
	}
	s = &d->v[d->n++];
	memset(s, 0, sizeof(*s));
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	memcpy(s->laddr, m->id.idiag_src, s->family == AF_INET6 ? 16 : 4);
	memcpy(s->raddr, m->id.idiag_dst, s->family == AF_INET6 ? 16 : 4);
	s->lport = ntohs(m->id.idiag_sport);
	s->rport = ntohs(m->id.idiag_dport);
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	s->inode = m->idiag_inode;
	return MNL_CB_OK;
}

static int dump_family(struct mnl_socket *nl, int family, struct dump *d)
{
	char buf[32768];
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	unsigned int seq = (unsigned int)time(NULL) + family;
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0U;		/* every state */
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, seq, portid, on_msg, d);
		if (ret == MNL_CB_STOP)
			return 0;
		if (ret < 0)
			return d->err ? d->err : -errno;
	}
}

int tcpsocks_dump(int netns_fd, struct tcp_sock **out)
{
	struct dump d = { 0 };
	struct mnl_socket *nl = NULL;
	int self = -1, err = 0;

	if (netns_fd >= 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return -errno;
		if (setns(netns_fd, CLONE_NEWNET)) {
			err = -errno;
			goto out;
		}
	}
	/* the socket stays in the namespace it was created in */
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		err = -errno;
	if (self >= 0 && setns(self, CLONE_NEWNET) && !err)
		err = -errno;
	if (err)
		goto out;
	err = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ? -errno : 0;
	if (!err)
		err = dump_family(nl, AF_INET, &d);
	if (!err) {
		int e6 = dump_family(nl, AF_INET6, &d);

		if (e6 && e6 != -ENOENT && e6 != -EAFNOSUPPORT && e6 != -EINVAL)
			err = e6;
	}
out:
	if (nl)
		mnl_socket_close(nl);
	if (self >= 0)
		close(self);
	if (err) {
		free(d.v);
		return err;
	}
	*out = d.v;
	return d.n;
}

char *tcpsocks_remote_str(const struct tcp_sock *s, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(s->family == AF_INET6 ? AF_INET6 : AF_INET, s->raddr, a, sizeof(a));
	if (s->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", a, s->rport);
	else
		snprintf(buf, size, "%s:%u", a, s->rport);
	return buf;
}
