/* ctx.c - namespace, process and device discovery shared by audit and apply. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctx.h"
#include "procfs.h"

bool has_cap(int cap)
{
	char buf[4096], *p;
	unsigned long long eff;

	if (procfs_read("/proc/self/status", buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "CapEff:");
	if (!p || sscanf(p + 7, "%llx", &eff) != 1)
		return false;
	return (eff >> cap) & 1;
}

/* "Max open files  SOFT  HARD  files" of /proc/PID/limits ("unlimited":
 * RLIM_INFINITY): the kernel's text, readable by anyone. */
static int limits_nofile(pid_t pid, unsigned long long *soft, unsigned long long *hard)
{
	char path[64], buf[4096], s[32], h[32], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	n = procfs_read(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	p = strstr(buf, "\nMax open files ");
	if (!p || sscanf(p + 16, " %31s %31s", s, h) != 2)
		return -EINVAL;
	if (!strcmp(s, "unlimited"))
		*soft = RLIM_INFINITY;
	else if (sscanf(s, "%llu", soft) != 1)
		return -EINVAL;
	if (!strcmp(h, "unlimited"))
		*hard = RLIM_INFINITY;
	else if (sscanf(h, "%llu", hard) != 1)
		return -EINVAL;
	return 0;
}

int proc_nofile(pid_t pid, unsigned long long *soft, unsigned long long *hard)
{
	struct rlimit rl;
	int e;

	if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) < 0) {
		/* reading another user's limits with prlimit() needs
		 * CAP_SYS_RESOURCE (a worker that dropped to nobody, root
		 * without that capability): /proc/PID/limits says the same */
		e = -errno;
		if ((e == -EPERM || e == -EACCES) && !limits_nofile(pid, soft, hard))
			return 0;
		return e;
	}
	*soft = rl.rlim_cur;
	*hard = rl.rlim_max;
	return 0;
}

int proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

void proc_unit(pid_t pid, char *buf, size_t size)
{
	char path[64], cg[4096], *line, *save;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read(path, cg, sizeof(cg)) < 0)
		return;
	/* "0::/system.slice/nginx.service" or "1:name=systemd:/system.slice/x.service" */
	for (line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *svc = strstr(line, ".service"), *start;

		if (!svc || (strncmp(line, "0::", 3) && !strstr(line, "name=systemd")))
			continue;
		start = svc;
		while (start > line && start[-1] != '/')
			start--;
		snprintf(buf, size, "%.*s", (int)(svc + 8 - start), start);
		return;
	}
}

char *netdev_path(const char *dev, const char *rel, char *buf, size_t size)
{
	snprintf(buf, size, "/sys/class/net/%s/%s", dev, rel);
	return buf;
}

bool ctx_in_init_net(void)
{
	/* Host-only net.core keys exist only in init_net (measured on 6.18):
	 * this works even where /proc/1/ns/net cannot be read, unlike comparing
	 * with pid 1 (which may itself live in a child netns). */
	if (access("/proc/sys/net/core/netdev_max_backlog", F_OK) == 0)
		return true;
	if (access("/proc/sys/net/core", F_OK) == 0)
		return false;
	return netns_is_initial();
}

void netdev_driver(const char *dev, char *buf, size_t size)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	buf[0] = '\0';
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		snprintf(buf, size, "%.*s", (int)sizeof(di.driver), di.driver);
	close(fd);
}

/* IRQ numbers of @dev's queues: PCI msi_irqs, or virtioN-* names in /proc/interrupts. */
int netdev_irqs(const char *dev, int *irqs, int max)
{
	char path[256], real[PATH_MAX], *base, prefix[64], buf[65536], *line, *save;
	int n = 0;

	if (!realpath(netdev_path(dev, "device", path, sizeof(path)), real))
		return 0;
	base = strrchr(real, '/');
	base = base ? base + 1 : real;
	if (!strncmp(base, "virtio", 6))
		snprintf(prefix, sizeof(prefix), "%s-", base);
	else
		snprintf(prefix, sizeof(prefix), "%s", dev);
	if (procfs_read("/proc/interrupts", buf, sizeof(buf)) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char *name = strrchr(line, ' ');
		int irq;

		if (!name || sscanf(line, " %d:", &irq) != 1)
			continue;
		name++;
		if (strncmp(name, prefix, strlen(prefix)) || strstr(name, "config"))
			continue;
		irqs[n++] = irq;
	}
	return n;
}

unsigned long long proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (procfs_read(path, buf, sizeof(buf)) < 0)
		return 0;
	p = strrchr(buf, ')');	/* comm may contain spaces */
	if (!p)
		return 0;
	/* after ") " come fields 3.. ; starttime is field 22 */
	for (i = 3; i <= 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

pid_t find_comm(const char *comm)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	while (proc && !found && (de = readdir(proc))) {
		char c[32];

		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && proc_comm(atoi(de->d_name), c, sizeof(c)) == 0 &&
		    !strcmp(c, comm))
			found = atoi(de->d_name);
	}
	if (proc)
		closedir(proc);
	return found;
}

/* sysfs is tagged with the netns of whoever mounted it: after unshare -n or
 * setns, /sys/class/net still lists the old namespace's devices. A private
 * mount namespace with a fresh sysfs shows ours, without touching anyone
 * else's view. */
/* True when /sys/class/net lists exactly the devices of the current netns
 * (/proc/net/dev is always per netns), with matching ifindexes. */
static bool sysfs_matches_netns(void)
{
	char buf[16384], *line, *save, path[256], idx[32];
	int nproc = 0, nsys = 0;
	struct dirent *de;
	DIR *d;

	if (procfs_read("/proc/net/dev", buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *name = line;

		if (!colon)
			continue;
		*colon = '\0';
		while (*name == ' ')
			name++;
		nproc++;
		snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", name);
		if (procfs_read(path, idx, sizeof(idx)) < 0 || (unsigned)atoi(idx) != if_nametoindex(name))
			return false;
	}
	d = opendir("/sys/class/net");
	while (d && (de = readdir(d))) {
		/* devices only: not bonding_masters and the like */
		snprintf(path, sizeof(path), "/sys/class/net/%.200s/ifindex", de->d_name);
		nsys += de->d_name[0] != '.' && access(path, F_OK) == 0;
	}
	if (d)
		closedir(d);
	return nproc > 0 && nsys == nproc;
}

bool ctx_private_sysfs(void)
{
	char path[64];
	bool ok;
	int cg;

	if (sysfs_matches_netns())
		return true;	/* already ours (ip netns exec, or a sysfs mounted by the caller) */
	if (unshare(CLONE_NEWNS) < 0)
		return false;
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return false;
	/* a fresh sysfs on /sys hides the cgroup mounts under it: keep them, or
	 * the cgroup checks (CPU quota, units) would go blind in a child netns */
	cg = open("/sys/fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ok = mount("sysfs", "/sys", "sysfs", 0, NULL) == 0;
	if (ok && cg >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", cg);
		mount(path, "/sys/fs/cgroup", NULL, MS_BIND | MS_REC, NULL);
	}
	if (cg >= 0)
		close(cg);
	return ok;
}

static int count_queues(const char *dev, const char *prefix)
{
	char path[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(netdev_path(dev, "queues", path, sizeof(path)));
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

/* Devices of the current netns from /proc/net/dev (always per netns). */
static void find_devs(struct ctx *c)
{
	char buf[16384], *line, *save, path[256];
	int seen = 0;

	if (procfs_read("/proc/net/dev", buf, sizeof(buf)) < 0)
		return;
	c->sysfs_ok = sysfs_matches_netns();
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *name = line;
		struct netdev *d;

		if (!colon || c->ndev == CTX_MAX_DEVS)
			continue;
		*colon = '\0';
		while (*name == ' ')
			name++;
		seen++;
		if (!strcmp(name, "lo"))
			continue;
		d = &c->dev[c->ndev++];
		snprintf(d->name, sizeof(d->name), "%s", name);
		d->rxq = count_queues(name, "rx-");
		d->txq = count_queues(name, "tx-");
		d->physical = access(netdev_path(name, "device", path, sizeof(path)), F_OK) == 0;
		netdev_driver(name, d->driver, sizeof(d->driver));
		/* RPS/XPS matter for NICs and for veth (what containers receive on) */
		d->steerable = d->physical || !strcmp(d->driver, "veth");
	}
	if (!seen)
		c->sysfs_ok = false;
}

/*
 * Owners of the listeners: like sockdiag_owners() (a readlink per open fd of
 * every process) but cheap on a busy host, where a server or a load generator
 * holds 100k sockets:
 *   pass 0: processes whose /proc/PID uid is some unowned listener's uid, and
 *           only their first FIRST_FDS descriptors (listening sockets are
 *           opened at start-up, and /proc/PID/fd lists in fd order);
 *   pass 1: the first FIRST_FDS descriptors of the other processes (an owner
 *           that changed uid after listen());
 *   pass 2: every descriptor of every process, up to BUDGET readlinks in all
 *           (an owner in another pid namespace is never found: "owner unknown").
 * Each pass runs only while some listener is unowned.
 */
#define FIRST_FDS 64
#define BUDGET 5000

struct proc_ent {
	pid_t pid;
	uid_t uid;	/* owner of /proc/PID: the process's euid */
};

bool fd_socket_inode(const char *fddir, const char *name, unsigned long long *ino)
{
	char fp[PATH_MAX], link[64];
	ssize_t len;

	if (name[0] == '.' || (size_t)snprintf(fp, sizeof(fp), "%s/%s", fddir, name) >= sizeof(fp))
		return false;
	len = readlink(fp, link, sizeof(link) - 1);
	if (len <= 0)
		return false;
	link[len] = '\0';
	return sscanf(link, "socket:[%llu]", ino) == 1;
}

/* Scans the descriptors of @procs whose uid matching an unowned listener is
 * @by_uid (-1: any), at most FIRST_FDS each if @first_only, else all of them
 * within *@budget. Returns the number of listeners still unowned. */
static int owners_pass(struct sd_listener *l, int n, int left, const struct proc_ent *procs,
		       int np, int by_uid, bool first_only, long *budget)
{
	int p, i;

	for (p = 0; p < np && left > 0 && *budget > 0; p++) {
		char path[64];
		struct dirent *fe;
		bool match = false;
		DIR *fds;
		int seen = 0;

		for (i = 0; i < n && !match; i++)
			match = !l[i].pid && l[i].uid == procs[p].uid;
		if (by_uid >= 0 && match != (bool)by_uid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)procs[p].pid);
		fds = opendir(path);
		while (fds && left > 0 && (fe = readdir(fds))) {
			unsigned long long ino;

			if (fe->d_name[0] == '.')
				continue;
			if ((first_only && ++seen > FIRST_FDS) || (!first_only && --*budget <= 0))
				break;
			if (!fd_socket_inode(path, fe->d_name, &ino))
				continue;
			for (i = 0; i < n; i++) {
				if (l[i].inode != ino || l[i].pid)
					continue;
				l[i].pid = procs[p].pid;
				if (proc_comm(procs[p].pid, l[i].comm, sizeof(l[i].comm)))
					snprintf(l[i].comm, sizeof(l[i].comm), "?");
				left--;
			}
		}
		if (fds)
			closedir(fds);
	}
	return left;
}

static void find_owners(struct sd_listener *l, int n)
{
	struct proc_ent *procs = NULL;
	int np = 0, cap = 0, left = n;
	long budget = BUDGET;
	struct dirent *de;
	DIR *proc;

	if (n <= 0)
		return;
	proc = opendir("/proc");
	while (proc && (de = readdir(proc))) {
		char path[64];
		struct stat st;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (stat(path, &st) < 0)
			continue;
		if (np == cap) {
			struct proc_ent *v = realloc(procs, (size_t)(cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!v)
				break;
			procs = v;
		}
		procs[np].pid = pid;
		procs[np].uid = st.st_uid;
		np++;
	}
	if (proc)
		closedir(proc);
	left = owners_pass(l, n, left, procs, np, 1, true, &budget);
	if (left > 0)
		left = owners_pass(l, n, left, procs, np, 0, true, &budget);
	if (left > 0)
		owners_pass(l, n, left, procs, np, -1, false, &budget);
	free(procs);
}

static void add_server(struct ctx *c, pid_t pid, const char *comm)
{
	int i;

	if (pid <= 0 || c->nsrv == CTX_MAX_SERVERS)
		return;
	for (i = 0; i < c->nsrv; i++)
		if (c->srv[i].pid == pid)
			return;
	c->srv[c->nsrv].pid = pid;
	if (comm)
		snprintf(c->srv[c->nsrv].comm, sizeof(c->srv[0].comm), "%s", comm);
	else if (proc_comm(pid, c->srv[c->nsrv].comm, sizeof(c->srv[0].comm)))
		snprintf(c->srv[c->nsrv].comm, sizeof(c->srv[0].comm), "?");
	proc_unit(pid, c->srv[c->nsrv].unit, sizeof(c->srv[0].unit));
	c->nsrv++;
}

int ctx_init(struct ctx *c, pid_t pid, int port, char *err, size_t err_size)
{
	int n, i, o;

	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->port = port;
	if (pid) {
		char path[64];
		int e;

		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (access(path, F_OK)) {
			snprintf(err, err_size, "no process with pid %d", (int)pid);
			return -ESRCH;
		}
		if (netns_inode(pid) != netns_inode(0)) {
			e = netns_enter_pid(pid);
			if (e) {
				snprintf(err, err_size, "cannot enter the network namespace of pid %d: %s",
					 (int)pid, strerror(-e));
				return e;
			}
		}
	}
	c->netns = netns_inode(0);
	c->initial = ctx_in_init_net();
	if (!c->initial)
		ctx_private_sysfs();	/* best effort: device checks say so if sysfs is stale */
	if (cpuset_online(&c->online))
		cpuset_set(&c->online, 0);
	c->ncpus = cpuset_count(&c->online);

	n = sockdiag_listeners(&c->ls);
	if (n < 0) {
		c->ls_err = n;
		c->ls = NULL;
		n = 0;
	} else {
		find_owners(c->ls, n);
	}
	for (i = o = 0; i < n; i++) {
		if (port && c->ls[i].port != port)
			continue;
		if (pid && !port && c->ls[i].pid != pid)
			continue;
		c->ls[o++] = c->ls[i];
	}
	c->nls = o;
	if (pid)
		add_server(c, pid, NULL);
	for (i = 0; i < c->nls; i++)
		add_server(c, c->ls[i].pid, c->ls[i].comm);
	find_devs(c);
	return 0;
}

void ctx_release(struct ctx *c)
{
	free(c->ls);
	c->ls = NULL;
}
