/* probe_test_util.h - shared by the probes' symbolization unit tests:
 * bounded subprocesses, dropping capabilities, processes that map a file. */
#ifndef QPS_PROBE_TEST_UTIL_H
#define QPS_PROBE_TEST_UTIL_H
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BOUNDED_TIMEOUT (-1000)		/* run_bounded(): killed after @secs */
#define BOUNDED_SIGNAL(s) (-2000 - (s))	/* run_bounded(): died of signal s */

/* Runs @fn(@arg) in a child for at most @secs seconds: its exit status,
 * BOUNDED_TIMEOUT or BOUNDED_SIGNAL(sig). A hang in @fn cannot hang the test. */
static inline int run_bounded(int (*fn)(void *), void *arg, double secs)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	for (int i = 0; i < (int)(secs * 100); i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : BOUNDED_SIGNAL(WTERMSIG(st));
		nanosleep(&t, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return BOUNDED_TIMEOUT;
}

/* Drops CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (what /proc/PID/map_files
 * needs): the probe then works as with CAP_BPF + CAP_PERFMON only. */
static inline int drop_map_files_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
	d[40 / 32].effective &= ~(1u << (40 % 32));	/* CAP_CHECKPOINT_RESTORE */
	d[40 / 32].permitted &= ~(1u << (40 % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

struct mapper {
	pid_t pid;
	uint64_t addr;			/* where the file is mapped in the child */
	uint64_t len;			/* bytes mapped: the whole file */
};

/* A child that (after chroot(@root) if given) maps @path (relative to its
 * root) with @prot, reports the address and sleeps until killed. With
 * @bind, it does so in a mount namespace of its own and then bind-mounts
 * @bind over @path: the path now names another file, and /proc/PID/maps
 * still shows it (not " (deleted)"). */
static inline int mapper_start_bind(struct mapper *m, const char *root, const char *path, int prot,
				    const char *bind)
{
	int p[2];
	ssize_t n;

	if (pipe(p))
		return -errno;
	fflush(stdout);
	m->pid = fork();
	if (m->pid < 0)
		return -errno;
	if (m->pid == 0) {
		void *a[2] = { MAP_FAILED, NULL };
		struct stat st;
		int fd;

		close(p[0]);
		if (bind && (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)))
			_exit(1);
		if ((!root || (chroot(root) == 0 && chdir("/") == 0)) &&
		    (fd = open(path, O_RDONLY)) >= 0 && fstat(fd, &st) == 0) {
			a[1] = (void *)(uintptr_t)st.st_size;
			a[0] = mmap(NULL, (size_t)st.st_size, prot, MAP_PRIVATE, fd, 0);
		}
		if (bind && a[0] != MAP_FAILED && mount(bind, path, NULL, MS_BIND, NULL))
			a[0] = MAP_FAILED;
		if (write(p[1], a, sizeof(a)) != sizeof(a))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	{
		void *a[2] = { MAP_FAILED, NULL };

		n = read(p[0], a, sizeof(a));
		close(p[0]);
		if (n != sizeof(a) || a[0] == MAP_FAILED) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, NULL, 0);
			return -EIO;
		}
		m->addr = (uint64_t)(uintptr_t)a[0];
		m->len = (uint64_t)(uintptr_t)a[1];
	}
	return 0;
}

static inline int mapper_start(struct mapper *m, const char *root, const char *path, int prot)
{
	return mapper_start_bind(m, root, path, prot, NULL);
}

static inline void mapper_stop(struct mapper *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
}

/* The file offset in /proc/self/exe of our own code address @addr, from
 * /proc/self/maps, or -1. */
static inline int64_t self_file_offset(uint64_t addr)
{
	char line[4096];
	int64_t r = -1;
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, off;

		if (sscanf(line, "%llx-%llx %*s %llx", &s, &e, &off) == 3 && addr >= s && addr < e) {
			r = (int64_t)(addr - s + off);
			break;
		}
	}
	if (f)
		fclose(f);
	return r;
}

static inline int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, err = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0)
		err = -errno;
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			err = -EIO;
	close(in);
	if (out >= 0)
		close(out);
	return err;
}

/* Output of the shell command @cmd (first line, newline cut) into @buf. */
static inline int run_cmd(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int run_cmd(char *buf, size_t size, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	buf[0] = 0;
	if (fgets(buf, (int)size, p))
		buf[strcspn(buf, "\n")] = 0;
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif
