/* probe.c - `qps-tune probe NAME`: dispatch to the loaders in probes/.
 * Also linked without the rest of the CLI (tests/bpf/qps-probe): the CLI's
 * options and error reporter are weak references there, and errors then go
 * to stderr only. */
#include <stdio.h>
#include <string.h>

#include "../probes/common.h"
#include "../probes/probe.h"
#include "cli.h"
#include "json.h"

extern struct cli_opts *cli(void) __attribute__((weak));
extern int cli_err(int rc, const char *fmt, ...) __attribute__((weak, format(printf, 2, 3)));
extern int cli_usage_err(const char *fmt, ...) __attribute__((weak, format(printf, 1, 2)));
extern int cli_finish(int rc) __attribute__((weak));
extern const char *cli_suggest(const char *word, const char *const *names, size_t n) __attribute__((weak));

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
	fprintf(f, "usage: qps-tune probe NAME [-d S] [-i S [--cumulative]] [-p PID] [--comm C] [--cgroup PATH] [-j] [-v] ...\n\n");
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		fprintf(f, "  %-8s %s\n", probes[i].name, probes[i].what);
	fprintf(f, "\noptions every probe takes:\n"
		   "  -d, --duration S       run S seconds (default: until SIGINT or SIGTERM)\n"
		   "  -i, --interval S       a report every S seconds, each since the previous one\n"
		   "      --cumulative       with --interval: each report since the start\n"
		   "  -p, --pid PID          only this process (a thread id: that thread)\n"
		   "      --comm C           only processes named C\n"
		   "      --cgroup PATH      only tasks of this cgroup v2 directory and below\n"
		   "  -j, --json             JSON (one document per report)\n"
		   "  -v, --verbose          libbpf messages on stderr\n"
		   "  -h, --help             this help; 'qps-tune probe NAME --help' lists one probe's options\n"
		   "needs root, or CAP_BPF and CAP_PERFMON; kernel BTF\n");
}

/* One line through the CLI's reporter when linked into qps-tune (honours --json). */
static int usage_error(const char *msg, const char *arg)
{
	const char *names[sizeof(probes) / sizeof(probes[0])];
	const char *s = NULL;
	size_t i;

	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		names[i] = probes[i].name;
	if (arg && cli_suggest)
		s = cli_suggest(arg, names, i);
	if (s && cli_err)
		return cli_err(2, "probe: %s '%s'; did you mean '%s'?", msg, arg, s);
	if (cli_usage_err)
		return cli_usage_err("probe: %s%s%s%s", msg, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	fprintf(stderr, "qps-tune: probe: %s%s%s%s; see 'qps-tune probe --help'\n", msg, arg ? " '" : "",
		arg ? arg : "", arg ? "'" : "");
	return 2;
}

int do_probe(int argc, char **argv)
{
	bool json = cli ? cli()->json : false;
	int rc;

	/* --json anywhere after the name decides how a usage error is reported */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = true;
	probe_set_global_flags(json, cli ? cli()->verbose > 0 : 0);
	if (cli)
		cli()->json = json;
	if (argc < 2)
		return usage_error("name a probe", NULL);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		probe_usage(stdout);
		return cli_finish ? cli_finish(0) : 0;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (strcmp(argv[1], probes[i].name) == 0) {
			probe_set_argv(argc - 1, argv + 1);
			probe_nerr = 0;
			rc = probes[i].fn(argc - 1, argv + 1);
			if (rc == 2 && !probe_nerr && json) {
				/* a probe's own usage message went to stderr only: the document */
				char msg[128];

				snprintf(msg, sizeof(msg), "probe %s: usage error; see 'qps-tune probe %s --help'",
					 probes[i].name, probes[i].name);
				fputs("{\"error\": ", stdout);
				json_write_string(stdout, msg);
				fputs("}\n", stdout);
			}
			if (cli_finish)
				return cli_finish(rc);
			if (fflush(stdout) != 0 || ferror(stdout)) {
				fprintf(stderr, "qps-tune: probe: cannot write to stdout\n");
				rc = 1;
			}
			return rc;
		}
	}
	if (argv[1][0] == '-')
		return usage_error("name a probe before its options, not", argv[1]);
	return usage_error("unknown probe", argv[1]);
}
