/* probe.c - `qps-tune probe NAME`: dispatch to the loaders in probes/.
 * Also linked without the rest of the CLI (tests/bpf/qps-probe): the CLI's
 * options and error reporter are weak references there, and errors then go
 * to stderr only. */
#include <stdio.h>
#include <string.h>

#include "../probes/common.h"
#include "../probes/probe.h"
#include "cli.h"

extern struct cli_opts *cli(void) __attribute__((weak));
extern int cli_usage_err(const char *fmt, ...) __attribute__((weak, format(printf, 1, 2)));
extern int cli_finish(int rc) __attribute__((weak));

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} probes[] = {
	{ "acceptq", probe_acceptq, "accept-queue saturation and drops per TCP listener" },
	{ "syslat", probe_syslat, "syscall counts and latency histograms" },
	{ "offcpu", probe_offcpu, "off-CPU time by kernel+user stack" },
	{ "oncpu", probe_oncpu, "on-CPU profile (cpu-clock samples) by kernel+user stack" },
	{ "runqlat", probe_runqlat, "run-queue latency per process and cgroup; CFS throttling" },
	{ "leaks", probe_leaks, "descriptor and connection growth of one process (--pid)" },
	{ "tcpdrop", probe_tcpdrop, "packet drops by kernel reason and place; TCP retransmits and resets" },
};

static void probe_usage(FILE *f)
{
	fprintf(f, "usage: qps-tune probe NAME [--duration S] [--interval S [--cumulative]] [--pid PID] [--comm C] [--cgroup PATH] [--json] [-v] ...\n");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		fprintf(f, "  %-8s %s\n", probes[i].name, probes[i].what);
	fprintf(f, "'qps-tune probe NAME --help' lists the options of one probe.\n");
}

/* Through the CLI's reporter when linked into qps-tune (honours --json). */
static int usage_error(const char *msg, const char *arg)
{
	probe_usage(stderr);
	if (cli_usage_err)
		return cli_usage_err("probe: %s%s%s%s", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	fprintf(stderr, "qps-tune: probe: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return 2;
}

int do_probe(int argc, char **argv)
{
	int rc;

	if (cli)
		probe_set_global_flags(cli()->json, cli()->verbose > 0);
	if (argc < 2)
		return usage_error("name a probe", NULL);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		probe_usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(argv[1], probes[i].name) == 0) {
			rc = probes[i].fn(argc - 1, argv + 1);
			if (cli_finish)
				return cli_finish(rc);
			if (fflush(stdout) != 0 || ferror(stdout)) {
				fprintf(stderr, "qps-tune: probe: cannot write to stdout\n");
				rc = 1;
			}
			return rc;
		}
	}
	return usage_error("unknown probe", argv[1]);
}
