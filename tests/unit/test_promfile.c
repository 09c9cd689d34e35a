/* test_promfile.c - lib/promfile: escaping, histograms, atomic replace;
 * probes/flamegraph: folded-line parsing. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../probes/flamegraph.h"
#include "promfile.h"
#include "tap.h"

static char dir[] = "/tmp/qps-promfile.XXXXXX";

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	return buf;
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void label_cases(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "plain", "m{l=\"plain\"} 1\n" },
		{ "q\"b\\s", "m{l=\"q\\\"b\\\\s\"} 1\n" },
		{ "nl\nx", "m{l=\"nl\\nx\"} 1\n" },
		{ "caf\xc3\xa9", "m{l=\"caf\xc3\xa9\"} 1\n" },	/* valid UTF-8 kept */
		{ "bad\xff\x01", "m{l=\"bad??\"} 1\n" },		/* invalid byte, control byte */
	};
	char path[256];

	snprintf(path, sizeof(path), "%s/l.prom", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct promfile *p = promfile_new(path);

		promfile_sample(p, "m", (const char *[]){ "l", cases[i].in, NULL }, 1);
		tap_ok(promfile_commit(p) == 0, "label case %zu committed", i);
		promfile_free(p);
		if (!tap_ok(!strcmp(slurp(path), cases[i].want), "label case %zu escaped", i))
			tap_diag("got %s", slurp(path));
	}
}

static void hist_and_atomic(void)
{
	const unsigned long long slots[4] = { 1, 0, 2, 3 };
	char path[256];
	struct stat a, b;
	struct promfile *p;

	snprintf(path, sizeof(path), "%s/h.prom", dir);
	p = promfile_new(path);
	promfile_help(p, "h_seconds", "histogram", "x");
	promfile_log2_hist(p, "h_seconds", NULL, slots, 4, 1e-6, 0.5);
	tap_ok(promfile_commit(p) == 0, "histogram committed");
	promfile_free(p);
	const char *want = "# HELP h_seconds x\n# TYPE h_seconds histogram\n"
			   "h_seconds_bucket{le=\"1e-06\"} 1\nh_seconds_bucket{le=\"3e-06\"} 1\n"
			   "h_seconds_bucket{le=\"7e-06\"} 3\nh_seconds_bucket{le=\"1.5e-05\"} 6\n"
			   "h_seconds_bucket{le=\"+Inf\"} 6\nh_seconds_sum 0.5\nh_seconds_count 6\n";
	if (!tap_ok(!strcmp(slurp(path), want), "cumulative buckets, +Inf, _sum, _count"))
		tap_diag("got %s", slurp(path));
	stat(path, &a);
	p = promfile_new(path);
	promfile_sample(p, "x", NULL, 2);
	promfile_commit(p);
	promfile_free(p);
	stat(path, &b);
	tap_ok(a.st_ino != b.st_ino && (b.st_mode & 0777) == 0644, "replaced by rename (new inode), mode 0644");
	/* a bad name fails the commit and leaves the old file and no temporary */
	p = promfile_new(path);
	promfile_sample(p, "bad name", NULL, 1);
	tap_ok(promfile_commit(p) == -EINVAL, "invalid metric name: commit returns -EINVAL");
	promfile_free(p);
	tap_ok(!strcmp(slurp(path), "x 2\n") && entries() == 2, "old file kept, no temporary left");
}

static void folded_cases(void)
{
	static const struct { const char *line; int want; } cases[] = {
		{ "a;b;c 12\n", 0 },
		{ "a;b;c  7", 0 },		/* trailing spaces before the count are fine */
		{ "a;;b 1", 0 },		/* empty frame skipped */
		{ "a;b", -EINVAL },		/* no count */
		{ "a;b 1x", -EINVAL },
		{ " 5", -EINVAL },		/* no frames */
	};
	struct flamegraph *fg = flamegraph_new();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = flamegraph_add_folded(fg, cases[i].line);

		if (!tap_ok(got == cases[i].want, "folded case %zu", i))
			tap_diag("got %d want %d", got, cases[i].want);
	}
	flamegraph_free(fg);
}

int main(void)
{
	char path[256];

	tap_plan(10 + 5 + 6);
	if (!mkdtemp(dir))
		return 1;
	label_cases();
	hist_and_atomic();
	folded_cases();
	snprintf(path, sizeof(path), "%s/l.prom", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/h.prom", dir);
	unlink(path);
	rmdir(dir);
	return tap_done(1);
}
