/* ctx.h - the environment audit and apply look at: the network namespace
 * (entered with --pid), a sysfs that shows that namespace's devices, the
 * server processes (owners of TCP listeners, or --pid) and their limits. */
#ifndef QPS_CTX_H
#define QPS_CTX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cpuset.h"
#include "sockdiag.h"

#define CTX_MAX_SERVERS 32
#define CTX_MAX_DEVS 32

struct server {
	pid_t pid;
	char comm[16];
	char unit[128];		/* systemd unit ("nginx.service") or "" */
};

struct netdev {
	char name[32];
	int rxq, txq;		/* queue counts from sysfs */
	bool physical;		/* has a device (not veth/lo/bridge) */
	bool steerable;		/* RPS/XPS worth setting: physical or veth */
	char driver[32];	/* ETHTOOL_GDRVINFO driver: "virtio_net", "veth", ... */
};

struct ctx {
	pid_t pid;		/* --pid, 0 = none */
	int port;		/* --port, 0 = none */
	bool initial;		/* in the initial network namespace */
	uint64_t netns;
	bool sysfs_ok;		/* /sys/class/net shows this netns's devices */
	struct sd_listener *ls;	/* listeners (filtered by --port / --pid) */
	int nls;
	int ls_err;		/* -errno from sock_diag, 0 if fine */
	struct server srv[CTX_MAX_SERVERS];
	int nsrv;
	struct netdev dev[CTX_MAX_DEVS];
	int ndev;
	struct cpuset online;
	int ncpus;
};

/* Enters @pid's netns (if @pid), mounts a private sysfs for a non-initial
 * netns, finds listeners, servers and devices. Returns 0 or -errno (the
 * message is in @err). */
int ctx_init(struct ctx *c, pid_t pid, int port, char *err, size_t err_size);
void ctx_release(struct ctx *c);

/* RLIMIT_NOFILE of @pid. Returns 0 or -errno. */
int proc_nofile(pid_t pid, unsigned long long *soft, unsigned long long *hard);
/* True when descriptor @name of the /proc/PID/fd directory @fddir is a
 * socket; its inode in *@ino. */
bool fd_socket_inode(const char *fddir, const char *name, unsigned long long *ino);
/* Number of open descriptors of @pid, or -errno. */
int proc_fd_count(pid_t pid);
/* systemd unit of @pid from /proc/PID/cgroup ("" if none). */
void proc_unit(pid_t pid, char *buf, size_t size);
/* True if the calling process has capability @cap in its effective set. */
bool has_cap(int cap);
/* Mounts a sysfs of the current netns on /sys in a private mount namespace
 * (sysfs shows the devices of the netns that mounted it). True on success. */
bool ctx_private_sysfs(void);
/* True in the initial network namespace (where host-only keys exist). */
bool ctx_in_init_net(void);
/* Driver name of @dev ("" if unknown). */
void netdev_driver(const char *dev, char *buf, size_t size);
/* IRQ numbers of @dev's queues (PCI MSI-X names, or virtioN-* for virtio):
 * at most @max. Returns the count. */
int netdev_irqs(const char *dev, int *irqs, int max);
/* Start time of @pid (clock ticks after boot, /proc/PID/stat field 22); 0 if
 * gone. With the pid it names one process even after pid reuse. */
unsigned long long proc_starttime(pid_t pid);
/* First process whose comm is @comm, 0 if none. */
pid_t find_comm(const char *comm);
/* Sysfs path of a device attribute into @buf. */
char *netdev_path(const char *dev, const char *rel, char *buf, size_t size);
#endif
