/* test_http_cpus.c - qps-server support code: the usable-CPU count from a
 * scratch cgroup tree (v2 cpu.max with nesting, v1 cfs quota), and the
 * buffer pool's reuse and bounds. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpus.h"
#include "pool.h"
#include "tap.h"

static char root[256];

static void put_file(const char *rel, const char *text)
{
	char path[512], dir[512], *s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (s = dir + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(dir, 0755);
		*s = '/';
	}
	f = fopen(path, "w");
	if (!f) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static int usable(const char *proc_cgroup_rel)
{
	char pc[512];
	struct cpus c;

	snprintf(pc, sizeof(pc), "%s/%s", root, proc_cgroup_rel);
	if (cpus_detect(&c, root, pc))
		return -1;
	return c.usable;
}

int main(void)
{
	cpu_set_t set;
	int n, want;
	struct cpus c;
	char buf[64], line_want[64];

	snprintf(root, sizeof(root), "/tmp/qps-cpus-test.%d", (int)getpid());
	mkdir(root, 0755);
	sched_getaffinity(0, sizeof(set), &set);
	n = CPU_COUNT(&set);

	/* v2, no limit */
	put_file("pc-none", "0::/a\n");
	put_file("a/cpu.max", "max 100000\n");
	tap_ok(usable("pc-none") == n, "v2 cpu.max 'max': affinity count (%d)", n);

	/* v2, 0.5 CPU -> 1 worker; 1.5 -> 2 (rounded up), capped by affinity */
	put_file("pc-half", "0::/half\n");
	put_file("half/cpu.max", "50000 100000\n");
	tap_ok(usable("pc-half") == 1, "v2 quota 0.5 CPU -> 1");
	put_file("pc-1p5", "0::/x\n");
	put_file("x/cpu.max", "150000 100000\n");
	want = n < 2 ? n : 2;
	tap_ok(usable("pc-1p5") == want, "v2 quota 1.5 CPUs -> %d (rounded up, capped by affinity)", want);

	/* v2 nesting: a parent's tighter limit wins */
	put_file("pc-nest", "0::/p/child\n");
	put_file("p/cpu.max", "100000 100000\n");
	put_file("p/child/cpu.max", "max 100000\n");
	tap_ok(usable("pc-nest") == 1, "v2: parent quota 1 CPU limits an unlimited child");

	/* v1: cpu,cpuacct controller */
	put_file("pc-v1", "4:memory:/m\n3:cpu,cpuacct:/job\n0::/\n");
	put_file("cpu,cpuacct/job/cpu.cfs_quota_us", "100000\n");
	put_file("cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
	tap_ok(usable("pc-v1") == 1, "v1 cfs quota 1 CPU -> 1");
	put_file("pc-v1-none", "3:cpu,cpuacct:/free\n");
	put_file("cpu,cpuacct/free/cpu.cfs_quota_us", "-1\n");
	put_file("cpu,cpuacct/free/cpu.cfs_period_us", "100000\n");
	tap_ok(usable("pc-v1-none") == n, "v1 quota -1: no limit");

	/* no cgroup file at all: affinity only */
	tap_ok(usable("does-not-exist") == n, "no /proc/self/cgroup: affinity only");

	/* the allowed list as the kernel itself prints it */
	cpus_detect(&c, root, "/nonexistent");
	cpus_format(&c, buf, sizeof(buf));
	{
		char line[256], kern[256] = "";
		FILE *f = fopen("/proc/self/status", "r");

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "Cpus_allowed_list: %255s", kern) == 1)
				break;
		if (f)
			fclose(f);
		tap_ok(kern[0] && strcmp(buf, kern) == 0,
		       "allowed list '%s' is the kernel's Cpus_allowed_list '%s'", buf, kern);
	}
	/* runs, singles, and a run at the end of the set */
	CPU_ZERO(&c.allowed);
	CPU_SET(0, &c.allowed);
	CPU_SET(2, &c.allowed);
	CPU_SET(3, &c.allowed);
	CPU_SET(6, &c.allowed);
	CPU_SET(CPU_SETSIZE - 2, &c.allowed);
	CPU_SET(CPU_SETSIZE - 1, &c.allowed);
	cpus_format(&c, buf, sizeof(buf));
	snprintf(line_want, sizeof(line_want), "0,2-3,6,%d-%d", CPU_SETSIZE - 2, CPU_SETSIZE - 1);
	tap_ok(strcmp(buf, line_want) == 0, "list formatting: '%s' (want '%s')", buf, line_want);
	cpus_format(&c, buf, 6);
	tap_ok(strlen(buf) < 6, "list formatting: truncated to the buffer ('%s')", buf);
	cpus_detect(&c, root, "/nonexistent");
	tap_ok(CPU_ISSET(cpus_nth(&c, 0), &set) && CPU_ISSET(cpus_nth(&c, n), &set) &&
	       cpus_nth(&c, n) == cpus_nth(&c, 0), "cpus_nth wraps around allowed CPUs");

	/* pool: a returned buffer is handed out again; keep bound honoured */
	{
		struct pool *p = pool_new(4096, 2);
		void *a = pool_get(p), *b = pool_get(p), *c3 = pool_get(p), *d;

		tap_ok(a && b && c3 && pool_in_use(p) == 3, "pool: three buffers out");
		pool_put(p, a);
		pool_put(p, b);
		pool_put(p, c3);
		tap_ok(pool_kept(p) == 2 && pool_in_use(p) == 0, "pool: keeps at most 2 free");
		d = pool_get(p);
		tap_ok(d == b || d == a, "pool: reuses a kept buffer (no malloc)");
		memset(d, 0xab, 4096);
		pool_put(p, d);
		{
			size_t kept = pool_kept(p), used = pool_in_use(p);
			pid_t pid;
			int wst = -1;

			pool_put(p, NULL);
			tap_ok(pool_kept(p) == kept && pool_in_use(p) == used,
			       "pool: put(NULL) changes nothing (kept %zu, in use %zu)",
			       pool_kept(p), pool_in_use(p));
			pool_free(p);
			/* in a child: a crash there is a failed test, not a dead suite */
			pid = fork();
			if (pid == 0) {
				pool_free(NULL);
				_exit(7);
			}
			waitpid(pid, &wst, 0);
			tap_ok(WIFEXITED(wst) && WEXITSTATUS(wst) == 7, "pool: free(NULL) returns");
		}
	}

	if (system("rm -rf /tmp/qps-cpus-test.*") != 0)
		tap_diag("cleanup failed");
	return tap_done(0);
}
