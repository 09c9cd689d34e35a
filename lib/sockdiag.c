/* sockdiag.c - TCP listeners via NETLINK_SOCK_DIAG with libmnl; see sockdiag.h.
 *
 * One SOCK_DIAG_BY_FAMILY dump per address family, states = 1 << TCP_LISTEN,
 * asking for INET_DIAG_SKMEMINFO (sk_drops lives in SK_MEMINFO_DROPS).
 */
#include "sockdiag.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

struct dump {
	struct sd_listener *v;
	int n, cap;
	int err;
};

static int on_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, INET_DIAG_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[INET_DIAG_MAX + 1] = { 0 };
	struct sd_listener *l;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_OK;
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 16;
		struct sd_listener *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = v;
		d->cap = cap;
	}
	l = &d->v[d->n++];
	memset(l, 0, sizeof(*l));
	l->family = m->idiag_family;
	if (l->family == AF_INET)
		memcpy(&l->addr.v4, m->id.idiag_src, 4);
	else
		memcpy(&l->addr.v6, m->id.idiag_src, 16);
	l->port = ntohs(m->id.idiag_sport);
	l->queue = m->idiag_rqueue;
	l->backlog = m->idiag_wqueue;
	l->inode = m->idiag_inode;
	l->uid = m->idiag_uid;
	l->cookie = (uint64_t)m->id.idiag_cookie[1] << 32 | m->id.idiag_cookie[0];
	l->drops = UINT32_MAX;
	mnl_attr_parse(nlh, sizeof(*m), on_attr, tb);
	if (tb[INET_DIAG_SKMEMINFO] &&
	    mnl_attr_get_payload_len(tb[INET_DIAG_SKMEMINFO]) >= (SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) {
		const uint32_t *mem = mnl_attr_get_payload(tb[INET_DIAG_SKMEMINFO]);

		l->drops = mem[SK_MEMINFO_DROPS];
	}
	return MNL_CB_OK;
}

static int dump_family(struct mnl_socket *nl, int family, struct dump *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768];
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
	req->idiag_states = 1 << TCP_LISTEN;
	req->idiag_ext = 1 << (INET_DIAG_SKMEMINFO - 1);

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

int sockdiag_listeners(struct sd_listener **out)
{
	struct dump d = { 0 };
	struct mnl_socket *nl;
	int err;

	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return -errno;
	err = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ? -errno : 0;
	if (!err)
		err = dump_family(nl, AF_INET, &d);
	/* no IPv6 in this kernel or netns is not an error */
	if (!err) {
		int e6 = dump_family(nl, AF_INET6, &d);

		if (e6 && e6 != -ENOENT && e6 != -EAFNOSUPPORT && e6 != -EINVAL)
			err = e6;
	}
	mnl_socket_close(nl);
	if (err) {
		free(d.v);
		return err;
	}
	*out = d.v;
	return d.n;
}

int sockdiag_owners(struct sd_listener *l, int n)
{
	DIR *proc;
	struct dirent *de;
	int left = n;

	if (n <= 0)
		return 0;
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (left > 0 && (de = readdir(proc))) {
		char path[300], link[64];
		DIR *fds;
		struct dirent *fe;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while (left > 0 && (fe = readdir(fds))) {
			ssize_t len;
			unsigned long long ino;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, fe->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) != 1)
				continue;
			for (int i = 0; i < n; i++) {
				if (l[i].inode != ino || l[i].pid)
					continue;
				l[i].pid = pid;
				proc_comm(pid, l[i].comm, sizeof(l[i].comm));
				left--;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return 0;
}

char *sockdiag_addr_str(const struct sd_listener *l, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (l->family == AF_INET6) {
		inet_ntop(AF_INET6, &l->addr.v6, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, l->port);
	} else {
		inet_ntop(AF_INET, &l->addr.v4, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, l->port);
	}
	return buf;
}
