/* probe.c - `qps-tune probe NAME`: dispatch to the loaders in probes/. */
#include <stdio.h>
#include <string.h>

#include "../probes/common.h"
#include "../probes/probe.h"
#include "tuner.h"

/* main.c's global options (-j/-v before the command); weak so that unit
 * tests linking this file without main.c still link. */
extern struct tuner_opts g_opt __attribute__((weak));

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} probes[] = {
	{ "acceptq", probe_acceptq, "accept-queue saturation and drops per TCP listener" },
	{ "syslat", probe_syslat, "syscall counts and latency histograms" },
	{ "offcpu", probe_offcpu, "off-CPU time by kernel+user stack" },
};

static void probe_usage(FILE *f)
{
	fprintf(f, "usage: qps-tune probe NAME [--duration S] [--interval S [--cumulative]] [--pid PID] [--comm C] [--cgroup PATH] [--json] [-v] ...\n");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		fprintf(f, "  %-8s %s\n", probes[i].name, probes[i].what);
	fprintf(f, "'qps-tune probe NAME --help' lists the options of one probe.\n");
}

int do_probe(int argc, char **argv)
{
	int rc = 2;

	if (&g_opt)
		probe_set_global_flags(g_opt.json, g_opt.verbose > 0);
	if (argc < 2) {
		probe_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		probe_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(argv[1], probes[i].name) == 0) {
			rc = probes[i].fn(argc - 1, argv + 1);
			if (fflush(stdout) != 0 || ferror(stdout)) {
				fprintf(stderr, "qps-tune: probe: cannot write to stdout\n");
				rc = 1;
			}
			return rc;
		}
	}
	fprintf(stderr, "qps-tune: probe: unknown probe '%s'\n", argv[1]);
	probe_usage(stderr);
	return 2;
}
