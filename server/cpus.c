/* cpus.c - usable CPU count from affinity and cgroup quota (see cpus.h) */
#include "cpus.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one line of @path into @buf. Returns 0 or -errno. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		err = -EIO;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return err;
}

/* v2: "max 100000" or "150000 100000"; returns CPUs or 0 for no limit */
static double v2_quota(const char *dir)
{
	char path[PATH_MAX], line[128];
	long long q, per;

	if (snprintf(path, sizeof(path), "%s/cpu.max", dir) >= (int)sizeof(path))
		return 0;
	if (read_line(path, line, sizeof(line)) < 0)
		return 0;
	if (sscanf(line, "%lld %lld", &q, &per) != 2 || q <= 0 || per <= 0)
		return 0;	/* "max ..." does not parse as a number */
	return (double)q / (double)per;
}

static double v1_quota(const char *dir)
{
	char path[PATH_MAX], line[64];
	long long q, per;

	if (snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir) >= (int)sizeof(path))
		return 0;
	if (read_line(path, line, sizeof(line)) < 0 || sscanf(line, "%lld", &q) != 1 || q <= 0)
		return 0;
	if (snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir) >= (int)sizeof(path))
		return 0;
	if (read_line(path, line, sizeof(line)) < 0 || sscanf(line, "%lld", &per) != 1 || per <= 0)
		return 0;
	return (double)q / (double)per;
}

/* Smallest quota of @rel and its ancestors under @base (v2 nests limits). */
static double walk_quota(const char *base, const char *rel, int v2)
{
	char dir[PATH_MAX], *slash;
	double best = 0, q;

	if (snprintf(dir, sizeof(dir), "%s%s", base, rel) >= (int)sizeof(dir))
		return 0;
	for (;;) {
		q = v2 ? v2_quota(dir) : v1_quota(dir);
		if (q > 0 && (best == 0 || q < best))
			best = q;
		if (strlen(dir) <= strlen(base))
			break;
		slash = strrchr(dir, '/');
		if (!slash || slash < dir + strlen(base))
			break;
		*slash = 0;
	}
	return best;
}

static double cgroup_quota(const char *root, const char *proc_cgroup)
{
	FILE *f = fopen(proc_cgroup, "re");
	char line[PATH_MAX + 64], base[PATH_MAX];
	double best = 0, q;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *ctrl, *path;

		line[strcspn(line, "\n")] = 0;
		ctrl = strchr(line, ':');
		if (!ctrl)
			continue;
		*ctrl++ = 0;	/* line = hierarchy id, ctrl = controllers */
		path = strchr(ctrl, ':');
		if (!path)
			continue;
		*path++ = 0;
		if (strcmp(line, "0") == 0 && *ctrl == 0) {
			/* v2 unified hierarchy */
			q = walk_quota(root, strcmp(path, "/") ? path : "", 1);
		} else if (strstr(ctrl, "cpu") && !strstr(ctrl, "cpuset") &&
			   (strcmp(ctrl, "cpu") == 0 || strstr(ctrl, "cpu,") ||
			    strstr(ctrl, ",cpu"))) {
			/* v1: the cpu controller, possibly co-mounted with cpuacct */
			q = 0;
			if (snprintf(base, sizeof(base), "%s/%s", root, ctrl) < (int)sizeof(base))
				q = walk_quota(base, strcmp(path, "/") ? path : "", 0);
			if (q == 0 && snprintf(base, sizeof(base), "%s/cpu", root) < (int)sizeof(base))
				q = walk_quota(base, strcmp(path, "/") ? path : "", 0);
		} else {
			continue;
		}
		if (q > 0 && (best == 0 || q < best))
			best = q;
	}
	fclose(f);
	return best;
}

int cpus_detect(struct cpus *c, const char *cgroup_root, const char *proc_cgroup)
{
	int n;

	memset(c, 0, sizeof(*c));
	if (sched_getaffinity(0, sizeof(c->allowed), &c->allowed))
		return -errno;
	c->nallowed = CPU_COUNT(&c->allowed);
	c->quota = cgroup_quota(cgroup_root, proc_cgroup);
	n = c->nallowed;
	if (c->quota > 0) {
		int q = (int)c->quota;	/* rounded up: 1.5 CPUs -> 2 workers */

		if (c->quota > q + 1e-9)
			q++;
		if (q < n)
			n = q;
	}
	c->usable = n < 1 ? 1 : n;
	return 0;
}

int cpus_nth(const struct cpus *c, int i)
{
	int cpu, k = 0;

	if (c->nallowed < 1)
		return 0;
	i %= c->nallowed;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &c->allowed) && k++ == i)
			return cpu;
	return 0;
}

void cpus_format(const struct cpus *c, char *buf, size_t len)
{
	size_t o = 0;
	int cpu, start = -1;

	buf[0] = 0;
	for (cpu = 0; cpu <= CPU_SETSIZE; cpu++) {
		int in = cpu < CPU_SETSIZE && CPU_ISSET(cpu, &c->allowed);

		if (in && start < 0)
			start = cpu;
		if (!in && start >= 0) {
			int w = start == cpu - 1 ?
				snprintf(buf + o, len - o, "%s%d", o ? "," : "", start) :
				snprintf(buf + o, len - o, "%s%d-%d", o ? "," : "", start, cpu - 1);
			if (w < 0 || (size_t)w >= len - o)
				return;
			o += (size_t)w;
			start = -1;
		}
	}
}
