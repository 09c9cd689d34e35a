/* test_rootfs.c - files under a --root tree others control: symlinks are
 * refused anywhere on the path (even ones that stay inside the tree), '..'
 * cannot leave it, FIFOs and devices are refused without blocking, writes
 * never go through a symlinked directory or replace a symlink, an atomic
 * write leaves no temp file and sweeps those of killed writers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env.h"
#include "rootfs.h"
#include "tap.h"

static char root[64], outside[96];

static void put(const char *rel, const char *text)
{
	char path[256], cmd[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd))
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static int count_entries(const char *dir)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

int main(void)
{
	char path[256], *buf = NULL, cmd[1024];
	struct timespec t0, t1;
	struct tenv env;
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(root, sizeof(root), "/tmp/test_rootfs.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	snprintf(outside, sizeof(outside), "%s.out", root);
	mkdir(outside, 0755);
	put("/etc/sysctl.d/10-a.conf", "a = 1\n");
	snprintf(path, sizeof(path), "%s/secret", outside);
	put("/etc/in-tree", "inside\n");
	{
		FILE *f = fopen(path, "w");

		fputs("SECRET\n", f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "ln -s '%s/secret' '%s/etc/sysctl.d/20-abs.conf' && "
		 "ln -s ../in-tree '%s/etc/sysctl.d/30-rel.conf' && ln -s '%s' '%s/etc/linkdir' && "
		 "mkfifo '%s/etc/sysctl.d/40-fifo.conf'", outside, root, root, outside, root, root);
	if (system(cmd))
		return 1;
	if (tenv_init(&env, root, "/nonexistent", "/nonexistent"))
		return 1;

	n = root_read(&env, "/etc/sysctl.d/10-a.conf", &buf, 4096, &st);
	tap_ok(n == 6 && !strcmp(buf, "a = 1\n") && S_ISREG(st.st_mode), "a regular file in the tree is read");
	free(buf);
	buf = NULL;
	tap_ok(root_open_read(&env, "/etc/sysctl.d/20-abs.conf") == -ELOOP, "a symlink out of the tree: -ELOOP");
	tap_ok(root_open_read(&env, "/etc/sysctl.d/30-rel.conf") == -ELOOP, "a symlink inside the tree: refused too");
	tap_ok(root_open_read(&env, "/etc/linkdir/secret") == -ELOOP, "a symlinked directory on the path: refused");
	fd = root_open_read(&env, "/../../../../etc/hostname");
	tap_ok(fd == -ENOENT, "'..' stays in the tree (/etc/hostname of the tree, which does not exist)");
	if (fd >= 0)
		close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = root_open_read(&env, "/etc/sysctl.d/40-fifo.conf");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_ok(fd == -EINVAL && t1.tv_sec - t0.tv_sec < 2, "a FIFO is refused without blocking");
	fd = rootfs_openat(env.rootfd, "/etc", O_RDONLY | O_DIRECTORY, 0, 0);
	tap_ok(fd >= 0, "a directory opens when asked for one");
	if (fd >= 0)
		close(fd);
	tap_ok(rootfs_openat(env.rootfd, "/etc", O_RDONLY, 0, 0) == -EINVAL, "but not as a file");
	put("/etc/big", "0123456789");
	tap_ok(root_read(&env, "/etc/big", &buf, 9, NULL) == -EFBIG && !buf, "a file over the size cap: -EFBIG");

	/* writes */
	n = root_write(&env, "/etc/linkdir/90-qps-tune.conf", "x\n", 0644, -1, -1, NULL);
	tap_ok((n == -ELOOP || n == -ENOTDIR) && count_entries(outside) == 1,
	       "no write through a symlinked directory (%zd)", n);
	tap_ok(root_write(&env, "/etc/sysctl.d/20-abs.conf", "x\n", 0644, -1, -1, NULL) == -ELOOP,
	       "a symlink is not replaced by a file");
	tap_ok(root_unlink(&env, "/etc/sysctl.d/20-abs.conf") == -ELOOP, "nor removed");
	tap_ok(root_write(&env, "/etc/security/limits.d/90-qps-tune.conf", "y\n", 0640, 12, 34, &st) == 0 &&
	       (st.st_mode & 07777) == 0640 && st.st_uid == 12 && st.st_gid == 34,
	       "a new file (and its directories) with the mode and owner asked for");
	snprintf(path, sizeof(path), "%s/etc/security/limits.d", root);
	tap_ok(count_entries(path) == 1, "no temp file left beside it");
	{
		char stale[300];
		pid_t dead = 4194000;

		while (kill(dead, 0) == 0)
			dead++;
		snprintf(stale, sizeof(stale), "%s/.90-qps-tune.conf.qps-tune.%d", path, (int)dead);
		close(open(stale, O_CREAT | O_WRONLY, 0600));
		snprintf(stale, sizeof(stale), "%s/.90-qps-tune.conf.qps-tune.%d", path, (int)getppid());
		close(open(stale, O_CREAT | O_WRONLY, 0600));
		root_write(&env, "/etc/security/limits.d/90-qps-tune.conf", "z\n", 0644, -1, -1, NULL);
		tap_ok(count_entries(path) == 2, "the temp file of a dead writer is swept, a live one's kept");
		unlink(stale);
	}
	/* the same refusals through the fallback walk (kernels without openat2) */
	rootfs_force_walk(true);
	n = root_read(&env, "/etc/sysctl.d/10-a.conf", &buf, 4096, NULL);
	tap_ok(n == 6, "walk: a regular file is read");
	free(buf);
	buf = NULL;
	tap_ok(root_open_read(&env, "/etc/sysctl.d/20-abs.conf") == -ELOOP &&
	       root_open_read(&env, "/etc/sysctl.d/30-rel.conf") == -ELOOP, "walk: symlinks refused");
	fd = root_open_read(&env, "/etc/linkdir/secret");
	tap_ok(fd == -ENOTDIR || fd == -ELOOP, "walk: a symlinked directory refused (%d)", fd);
	tap_ok(root_open_read(&env, "/../etc/sysctl.d/10-a.conf") == -EXDEV, "walk: '..' refused");
	tap_ok(root_open_read(&env, "/etc/sysctl.d/40-fifo.conf") == -EINVAL, "walk: a FIFO refused without blocking");
	n = root_write(&env, "/etc/linkdir/x.conf", "x\n", 0644, -1, -1, NULL);
	tap_ok(n < 0 && count_entries(outside) == 1, "walk: no write through a symlinked directory");
	rootfs_force_walk(false);
	tap_ok(content_hash("a") != content_hash("b") && content_hash("abc") == content_hash("abc"),
	       "content hash");
	tenv_release(&env);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, outside);
	if (system(cmd))
		tap_diag("cleanup failed");
	return tap_done(0);
}
