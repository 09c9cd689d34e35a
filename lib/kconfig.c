/* kconfig.c - kernel build configuration lookups; see kconfig.h. */
#include "kconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

static void match_line(const char *line, struct kconfig_query *q, int n)
{
	const char *eq;
	int i;

	if (strncmp(line, "CONFIG_", 7))
		return;
	eq = strchr(line, '=');
	if (!eq)
		return;
	for (i = 0; i < n; i++) {
		size_t len = strlen(q[i].name);

		if ((size_t)(eq - line) == len && !strncmp(line, q[i].name, len)) {
			size_t vl = strcspn(eq + 1, "\r\n");

			if (vl >= sizeof(q[i].val))
				vl = sizeof(q[i].val) - 1;
			memcpy(q[i].val, eq + 1, vl);
			q[i].val[vl] = '\0';
		}
	}
}

int kconfig_lookup(struct kconfig_query *q, int n, char *source, size_t source_size)
{
	char line[512], path[128];
	struct utsname u;
	gzFile gz;
	FILE *f;
	int i;

	for (i = 0; i < n; i++)
		q[i].val[0] = '\0';
	gz = gzopen("/proc/config.gz", "rb");
	if (gz) {
		while (gzgets(gz, line, sizeof(line)))
			match_line(line, q, n);
		gzclose(gz);
		if (source)
			snprintf(source, source_size, "/proc/config.gz");
		return 0;
	}
	if (uname(&u) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? -ENOENT : -errno;
	while (fgets(line, sizeof(line), f))
		match_line(line, q, n);
	fclose(f);
	if (source)
		snprintf(source, source_size, "%s", path);
	return 0;
}
