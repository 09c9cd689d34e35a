/* procfs.h - reading and writing /proc and /sys files; sysctl keys; SNMP counters. */
#ifndef QPS_PROCFS_H
#define QPS_PROCFS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to @size-1 bytes of @path into @buf, NUL-terminated, trailing
 * newlines stripped. Returns the length or -errno. */
ssize_t procfs_read(const char *path, char *buf, size_t size);
/* Reads @path and parses one integer. Returns 0 or -errno (-EINVAL if not a number). */
int procfs_read_ll(const char *path, long long *val);
/* Writes @val (no newline needed) to @path with a single write(2). Returns 0 or -errno. */
int procfs_write(const char *path, const char *val);

/* "net.core.somaxconn" -> "/proc/sys/net/core/somaxconn" (dots become slashes).
 * Returns 0 or -ENAMETOOLONG / -EINVAL (empty, "..", or a '/' in the key). */
int sysctl_path(const char *key, char *path, size_t size);
/* Reads a sysctl as text with runs of tabs/spaces folded to one space
 * ("4096\t131072\t6291456" -> "4096 131072 6291456"). Returns length or -errno
 * (-ENOENT: the key does not exist on this kernel or in this netns). */
ssize_t sysctl_read(const char *key, char *buf, size_t size);
int sysctl_write(const char *key, const char *val);

/* Counters from /proc/net/netstat and /proc/net/snmp of the *current* network
 * namespace, by "Prefix:Name", e.g. "TcpExt:ListenOverflows", "Tcp:ActiveOpens".
 * Returns 0 and sets @val, -ENOENT when the counter does not exist, or -errno. */
int snmp_counter(const char *name, uint64_t *val);

/* Inode of /proc/@pid/ns/net (@pid 0: self), i.e. the "net:[N]" number. 0 on error. */
uint64_t netns_inode(pid_t pid);
/* True when the calling thread is in the initial network namespace: that of
 * pid 1, or where pid 1 cannot be inspected, the one with host-only net keys. */
bool netns_is_initial(void);
/* Enters the network namespace of @pid (setns). Returns 0 or -errno. */
int netns_enter_pid(pid_t pid);

/* /proc/@pid/comm into @buf. Returns 0 or -errno. */
int proc_comm(pid_t pid, char *buf, size_t size);
#endif
