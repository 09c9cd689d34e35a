/* procfs.c - /proc and /sys helpers; see procfs.h. */
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t procfs_read(const char *path, char *buf, size_t size)
{
	ssize_t n, len = 0;
	int fd, err = 0;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		len += n;
	}
	close(fd);
	if (err)
		return err;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return len;
}

int procfs_read_ll(const char *path, long long *val)
{
	char buf[64], *end;
	ssize_t n = procfs_read(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	errno = 0;
	*val = strtoll(buf, &end, 0);
	if (end == buf || errno)
		return -EINVAL;
	return 0;
}

int procfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

int sysctl_path(const char *key, char *path, size_t size)
{
	size_t klen = strlen(key), pre = strlen("/proc/sys/");

	if (!klen || strchr(key, '/') || strstr(key, "..") || key[0] == '.')
		return -EINVAL;
	if (pre + klen + 1 > size)
		return -ENAMETOOLONG;
	memcpy(path, "/proc/sys/", pre);
	for (size_t i = 0; i <= klen; i++)
		path[pre + i] = key[i] == '.' ? '/' : key[i];
	return 0;
}

ssize_t sysctl_read(const char *key, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n, o = 0;
	int err = sysctl_path(key, path, sizeof(path));

	if (err)
		return err;
	n = procfs_read(path, buf, size);
	if (n < 0)
		return n;
	/* fold whitespace runs (tabs in tcp_rmem, ip_local_port_range) to one space */
	for (ssize_t i = 0; i < n; i++) {
		bool ws = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n';

		if (ws && (o == 0 || buf[o - 1] == ' '))
			continue;
		buf[o++] = ws ? ' ' : buf[i];
	}
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
	return o;
}

int sysctl_write(const char *key, const char *val)
{
	char path[PATH_MAX];
	int err = sysctl_path(key, path, sizeof(path));

	return err ? err : procfs_write(path, val);
}

/* Looks @name ("TcpExt:ListenOverflows") up in one header/value-pair file. */
static int snmp_lookup(const char *file, const char *name, uint64_t *val)
{
	const char *colon = strchr(name, ':');
	char *hdr = NULL, *vals = NULL;
	size_t hcap = 0, vcap = 0;
	int err = -ENOENT;
	FILE *f;

	if (!colon || colon == name)
		return -EINVAL;
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (getline(&hdr, &hcap, f) > 0 && getline(&vals, &vcap, f) > 0) {
		size_t plen = (size_t)(colon - name) + 1;
		char *hs, *vs, *h, *v;

		if (strncmp(hdr, name, plen) || strncmp(vals, name, plen))
			continue;
		h = strtok_r(hdr + plen, " \n", &hs);
		v = strtok_r(vals + plen, " \n", &vs);
		while (h && v) {
			if (!strcmp(h, colon + 1)) {
				*val = strtoull(v, NULL, 10);
				err = 0;
				goto out;
			}
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
	}
out:
	free(hdr);
	free(vals);
	fclose(f);
	return err;
}

int snmp_counter(const char *name, uint64_t *val)
{
	int err = snmp_lookup("/proc/net/netstat", name, val);

	if (err == -ENOENT)
		err = snmp_lookup("/proc/net/snmp", name, val);
	return err;
}

uint64_t netns_inode(pid_t pid)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/thread-self/ns/net");
	if (stat(path, &st))
		return 0;
	return (uint64_t)st.st_ino;
}

bool netns_is_initial(void)
{
	uint64_t self = netns_inode(0), init = netns_inode(1);

	if (init)
		return self == init;
	/*
	 * pid 1's namespace is unreadable (a sandbox, a user namespace): fall
	 * back to a key that only the initial namespace has. netdev_max_backlog
	 * is host-wide and absent from /proc/sys of every child netns (6.x).
	 */
	return access("/proc/sys/net/core/netdev_max_backlog", F_OK) == 0;
}

int netns_enter_pid(pid_t pid)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

int proc_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = procfs_read(path, buf, size);
	return n < 0 ? (int)n : 0;
}
