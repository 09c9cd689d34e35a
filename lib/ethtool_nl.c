/* ethtool_nl.c - ethtool genetlink queries with libmnl; see ethtool_nl.h.
 *
 * resolve family "ethtool" (CTRL_CMD_GETFAMILY) -> send CHANNELS_GET/RINGS_GET
 * with a nested header naming the device -> parse the u32 attributes.
 */
#include "ethtool_nl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/ethtool_netlink.h>
#include <linux/genetlink.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct attrs {
	const struct nlattr *tb[64];
	int max;
};

static int cb_attr(const struct nlattr *a, void *data)
{
	struct attrs *at = data;
	int type = mnl_attr_get_type(a);

	if (type <= at->max && type < 64)
		at->tb[type] = a;
	return MNL_CB_OK;
}

static int cb_family(const struct nlmsghdr *nlh, void *data)
{
	struct attrs at = { .max = CTRL_ATTR_MAX };

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), cb_attr, &at);
	if (at.tb[CTRL_ATTR_FAMILY_ID])
		*(uint16_t *)data = mnl_attr_get_u16(at.tb[CTRL_ATTR_FAMILY_ID]);
	return MNL_CB_OK;
}

struct reply {
	struct attrs at;
	int got;
};

static int cb_reply(const struct nlmsghdr *nlh, void *data)
{
	struct reply *r = data;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), cb_attr, &r->at);
	r->got = 1;
	return MNL_CB_OK;
}

static int request(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl), seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(buf, n, seq, portid, cb, data);
		if (ret < 0)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* One request/reply: @cmd on @ifname, reply attributes up to @max into @r. */
static int query(const char *ifname, uint8_t cmd, int hdr_attr, int max, struct reply *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct nlattr *nest;
	uint16_t family = 0;
	unsigned int seq = (unsigned int)time(NULL);
	int err;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, ETHTOOL_GENL_NAME);
	err = request(nl, nlh, cb_family, &family);
	if (err) {
		err = err == -ENOENT ? -ENOENT : err;
		goto out;
	}
	if (!family) {
		err = -ENOENT;
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = ETHTOOL_GENL_VERSION;
	nest = mnl_attr_nest_start(nlh, hdr_attr);
	mnl_attr_put_strz(nlh, ETHTOOL_A_HEADER_DEV_NAME, ifname);
	mnl_attr_nest_end(nlh, nest);
	memset(r, 0, sizeof(*r));
	r->at.max = max;
	err = request(nl, nlh, cb_reply, r);
	if (!err && !r->got)
		err = -EOPNOTSUPP;
out:
	mnl_socket_close(nl);
	return err;
}

static uint32_t u32_or0(const struct nlattr *a)
{
	return a ? mnl_attr_get_u32(a) : 0;
}

int ethnl_channels_get(const char *ifname, struct ethnl_channels *c)
{
	struct reply r;
	int err = query(ifname, ETHTOOL_MSG_CHANNELS_GET, ETHTOOL_A_CHANNELS_HEADER,
			ETHTOOL_A_CHANNELS_MAX, &r);

	if (err)
		return err;
	c->rx_max = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_RX_MAX]);
	c->tx_max = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_TX_MAX]);
	c->other_max = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_OTHER_MAX]);
	c->combined_max = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_COMBINED_MAX]);
	c->rx = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_RX_COUNT]);
	c->tx = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_TX_COUNT]);
	c->other = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_OTHER_COUNT]);
	c->combined = u32_or0(r.at.tb[ETHTOOL_A_CHANNELS_COMBINED_COUNT]);
	return 0;
}

int ethnl_rings_get(const char *ifname, struct ethnl_rings *rg)
{
	struct reply r;
	int err = query(ifname, ETHTOOL_MSG_RINGS_GET, ETHTOOL_A_RINGS_HEADER,
			ETHTOOL_A_RINGS_MAX, &r);

	if (err)
		return err;
	rg->rx_max = u32_or0(r.at.tb[ETHTOOL_A_RINGS_RX_MAX]);
	rg->tx_max = u32_or0(r.at.tb[ETHTOOL_A_RINGS_TX_MAX]);
	rg->rx = u32_or0(r.at.tb[ETHTOOL_A_RINGS_RX]);
	rg->tx = u32_or0(r.at.tb[ETHTOOL_A_RINGS_TX]);
	return 0;
}
