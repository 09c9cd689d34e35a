/* rootfs.h - files under --root (a tree others may control) and in the state
 * directory, opened relative to a directory fd: openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS) (a component walk with O_NOFOLLOW where openat2 is
 * missing), O_NONBLOCK, and nothing but regular files and directories.
 * Paths are given as the host sees them ("/etc/sysctl.d/x.conf"). */
#ifndef QPS_ROOTFS_H
#define QPS_ROOTFS_H
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "env.h"

/* openat2 under @dirfd with symlinks refused (@follow: the real / only, where
 * the host's own /lib -> usr/lib links are trusted). O_NOFOLLOW, O_NONBLOCK
 * and O_CLOEXEC are added. A result that is not a regular file (or a
 * directory with O_DIRECTORY) is closed: -EINVAL. Returns fd or -errno. */
int rootfs_openat(int dirfd, const char *rel, int flags, mode_t mode, int follow);
/* Tests: use the fallback walk even where openat2 exists. */
void rootfs_force_walk(bool on);
/* @path under e->root, read-only. Symlinks refused under --root; followed
 * inside the real /. Returns fd or -errno (-ELOOP: a symlink). */
int root_open_read(const struct tenv *e, const char *path);
/* NULL with errno set on failure. */
FILE *root_fopen(const struct tenv *e, const char *path);
DIR *root_opendir(const struct tenv *e, const char *path);
/* Whole file, at most @max bytes, into malloc'ed *@buf (NUL-terminated);
 * fills @st of the file read. Returns its length or -errno (-EFBIG). */
ssize_t root_read(const struct tenv *e, const char *path, char **buf, size_t max, struct stat *st);
/* Target of symlink @path under root into @buf; -errno if not a symlink. */
int root_readlink(const struct tenv *e, const char *path, char *buf, size_t size);
/* Writes @data to @path atomically (temp file beside it, fsync, rename,
 * directory fsync), creating missing parents 0755; the file gets @mode,
 * @uid:@gid (-1: unchanged). Symlinks are refused everywhere on the way.
 * Fills @st of the new file if non-NULL. Returns 0 or -errno. */
int root_write(const struct tenv *e, const char *path, const char *data, mode_t mode, uid_t uid,
	       gid_t gid, struct stat *st);
/* Removes @path (a regular file). Returns 0, or -errno (-ENOENT is returned). */
int root_unlink(const struct tenv *e, const char *path);
/* lstat of @path under root without following any symlink. Returns 0 or -errno. */
int root_stat(const struct tenv *e, const char *path, struct stat *st);
/* The same atomic write relative to directory @dfd (state dir). */
int write_atomic_at(int dfd, const char *name, const char *data, mode_t mode, uid_t uid, gid_t gid,
		    struct stat *st);
/* 64-bit FNV-1a of @s: the identity of a file's content in the journal. */
uint64_t content_hash(const char *s);
#endif
