/* rootfs.c - safe access to --root trees and state directories; see rootfs.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "env.h"
#include "rootfs.h"

int tenv_init(struct tenv *e, const char *root, const char *state_dir, const char *run_dir)
{
	memset(e, 0, sizeof(*e));
	e->root = root && strcmp(root, "/") ? root : "";
	e->state_dir = state_dir ? state_dir : DEFAULT_STATE_DIR;
	e->run_dir = run_dir ? run_dir : DEFAULT_RUN_DIR;
	e->rootfd = open(e->root[0] ? e->root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return e->rootfd < 0 ? -errno : 0;
}

void tenv_release(struct tenv *e)
{
	if (e->rootfd >= 0)
		close(e->rootfd);
	e->rootfd = -1;
}

/* Fallback for kernels without openat2: one component at a time, never
 * following a symlink, never "..". */
static int walk_openat(int dirfd, const char *rel, int flags, mode_t mode)
{
	char buf[PATH_MAX], *save = NULL, *part, *next;
	int fd = dup(dirfd), nfd;

	if (fd < 0)
		return -errno;
	if (snprintf(buf, sizeof(buf), "%s", rel) >= (int)sizeof(buf)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	part = strtok_r(buf, "/", &save);
	while (part) {
		next = strtok_r(NULL, "/", &save);
		if (!strcmp(part, "..")) {
			close(fd);
			return -EXDEV;
		}
		if (!strcmp(part, ".")) {
			part = next;
			continue;
		}
		if (next)
			nfd = openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		else
			nfd = openat(fd, part, flags | O_NOFOLLOW, mode);
		if (nfd < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		close(fd);
		fd = nfd;
		part = next;
	}
	return fd;
}

static bool force_walk;	/* tests only: exercise the fallback */

void rootfs_force_walk(bool on)
{
	force_walk = on;
}

int rootfs_openat(int dirfd, const char *rel, int flags, mode_t mode, int follow)
{
	struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC | O_NONBLOCK),
				.mode = (flags & O_CREAT) ? mode : 0,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	struct stat st;
	int fd;

	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	if (!follow) {
		how.resolve |= RESOLVE_NO_SYMLINKS;
		how.flags |= O_NOFOLLOW;
	}
	if (force_walk) {
		fd = -1;
		errno = ENOSYS;
	} else {
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	}
	if (fd < 0 && errno == ENOSYS) {
		fd = walk_openat(dirfd, rel, flags | O_CLOEXEC | O_NONBLOCK, mode);
		if (fd < 0)
			return fd;
	} else if (fd < 0) {
		return -errno;
	}
	if (flags & O_PATH)
		return fd;
	/* FIFOs and devices would block or act: regular files (and asked-for directories) only */
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || ((flags & O_DIRECTORY) && S_ISDIR(st.st_mode)))) {
		close(fd);
		return -EINVAL;
	}
	/* reads must block normally from here on */
	if (!(flags & O_DIRECTORY))
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int root_open_read(const struct tenv *e, const char *path)
{
	return rootfs_openat(e->rootfd, path, O_RDONLY, 0, !tenv_rooted(e));
}

FILE *root_fopen(const struct tenv *e, const char *path)
{
	int fd = root_open_read(e, path);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "re");
	if (!f) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return f;
}

DIR *root_opendir(const struct tenv *e, const char *path)
{
	int fd = rootfs_openat(e->rootfd, path, O_RDONLY | O_DIRECTORY, 0, !tenv_rooted(e));
	DIR *d;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	d = fdopendir(fd);
	if (!d) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return d;
}

ssize_t root_read(const struct tenv *e, const char *path, char **buf, size_t max, struct stat *st)
{
	int fd = root_open_read(e, path);
	size_t len = 0;
	char *b;
	ssize_t n;

	*buf = NULL;
	if (fd < 0)
		return fd;
	if (st && fstat(fd, st) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	b = malloc(max + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	/* one byte more than allowed: tells "exactly max" from "too big" */
	while (len <= max) {
		n = read(fd, b + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(b);
			close(fd);
			return n;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		free(b);
		return -EFBIG;
	}
	b[len] = '\0';
	*buf = b;
	return (ssize_t)len;
}

/* Splits "/a/b/c" into a directory fd for "/a/b" (symlinks refused) and "c". */
static int open_parent(const struct tenv *e, const char *path, bool create, char *base, size_t size)
{
	char dir[PATH_MAX], *slash, *p;
	int fd;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	snprintf(base, size, "%s", slash + 1);
	if (!strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	*slash = '\0';
	fd = rootfs_openat(e->rootfd, dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY, 0, 0);
	if (fd != -ENOENT || !create)
		return fd;
	/* create the missing components one by one, refusing symlinks */
	for (p = dir + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		{
			char c = *p;
			int pfd;

			*p = '\0';
			pfd = rootfs_openat(e->rootfd, dir, O_RDONLY | O_DIRECTORY, 0, 0);
			if (pfd == -ENOENT) {
				char *ls = strrchr(dir, '/'), name[NAME_MAX + 1];
				int up;

				snprintf(name, sizeof(name), "%s", ls + 1);
				*ls = '\0';
				up = rootfs_openat(e->rootfd, dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY, 0, 0);
				*ls = '/';
				if (up < 0)
					return up;
				if (mkdirat(up, name, 0755) < 0 && errno != EEXIST) {
					int err = -errno;

					close(up);
					return err;
				}
				close(up);
				pfd = rootfs_openat(e->rootfd, dir, O_RDONLY | O_DIRECTORY, 0, 0);
			}
			*p = c;
			if (pfd < 0)
				return pfd;
			if (!c)
				return pfd;
			close(pfd);
		}
	}
}

/* Removes temp files of writers that were killed (their pid is gone):
 * ".NAME.qps-tune.PID", and "NAME.tmp.PID" of qps-tune before 0.2. */
static void sweep_stale(int dfd, const char *name)
{
	char prefix[NAME_MAX + 16], old[NAME_MAX + 16];
	struct dirent *de;
	DIR *d;
	int fd = dup(dfd);
	size_t n, on;

	if (fd < 0)
		return;
	n = (size_t)snprintf(prefix, sizeof(prefix), ".%s.qps-tune.", name);
	on = (size_t)snprintf(old, sizeof(old), "%s.tmp.", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (!strncmp(de->d_name, prefix, n))
			pid = strtol(de->d_name + n, &end, 10);
		else if (!strncmp(de->d_name, old, on))
			pid = strtol(de->d_name + on, &end, 10);
		else
			continue;
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

int write_atomic_at(int dfd, const char *name, const char *data, mode_t mode, uid_t uid, gid_t gid,
		    struct stat *st)
{
	char tmp[NAME_MAX + 32];
	size_t len = strlen(data), off = 0;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), ".%s.qps-tune.%d", name, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	sweep_stale(dfd, name);
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (!err && (uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		err = -errno;
	if (!err && fchmod(fd, mode) < 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (!err && st && fstat(fd, st) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, name) < 0)
		err = -errno;
	if (err) {
		unlinkat(dfd, tmp, 0);
		return err;
	}
	fsync(dfd);	/* the rename itself must survive a crash */
	return 0;
}

int root_write(const struct tenv *e, const char *path, const char *data, mode_t mode, uid_t uid,
	       gid_t gid, struct stat *st)
{
	char base[NAME_MAX + 1];
	struct stat cur;
	int dfd = open_parent(e, path, true, base, sizeof(base)), err;

	if (dfd < 0)
		return dfd;
	/* never replace a symlink, a directory or a device by a file */
	if (fstatat(dfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(cur.st_mode)) {
		close(dfd);
		return S_ISLNK(cur.st_mode) ? -ELOOP : -EINVAL;
	}
	err = write_atomic_at(dfd, base, data, mode, uid, gid, st);
	close(dfd);
	return err;
}

int root_unlink(const struct tenv *e, const char *path)
{
	char base[NAME_MAX + 1];
	struct stat cur;
	int dfd = open_parent(e, path, false, base, sizeof(base)), err = 0;

	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, base, &cur, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	else if (!S_ISREG(cur.st_mode))
		err = S_ISLNK(cur.st_mode) ? -ELOOP : -EINVAL;
	else if (unlinkat(dfd, base, 0) < 0)
		err = -errno;
	close(dfd);
	return err;
}

int root_stat(const struct tenv *e, const char *path, struct stat *st)
{
	char base[NAME_MAX + 1];
	int dfd = open_parent(e, path, false, base, sizeof(base)), err = 0;

	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	close(dfd);
	return err;
}

int root_readlink(const struct tenv *e, const char *path, char *buf, size_t size)
{
	char base[NAME_MAX + 1];
	int dfd = open_parent(e, path, false, base, sizeof(base));
	ssize_t n;

	if (dfd < 0)
		return dfd;
	n = readlinkat(dfd, base, buf, size - 1);
	close(dfd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

uint64_t content_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}
