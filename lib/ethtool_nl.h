/* ethtool_nl.h - NIC channels and rings through the ethtool generic-netlink
 * family (ETHTOOL_MSG_CHANNELS_GET / ETHTOOL_MSG_RINGS_GET), with libmnl;
 * what `ethtool -l` and `ethtool -g` show. Works in the current netns. */
#ifndef QPS_ETHTOOL_NL_H
#define QPS_ETHTOOL_NL_H
#include <stdint.h>

struct ethnl_channels {
	uint32_t rx_max, tx_max, other_max, combined_max;
	uint32_t rx, tx, other, combined;
};

struct ethnl_rings {
	uint32_t rx_max, tx_max;
	uint32_t rx, tx;
};

/* Returns 0, -ENOENT when the kernel has no ethtool netlink family,
 * -EOPNOTSUPP when the driver does not report it, or -errno. */
int ethnl_channels_get(const char *ifname, struct ethnl_channels *c);
int ethnl_rings_get(const char *ifname, struct ethnl_rings *r);
#endif
