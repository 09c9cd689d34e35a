/* main.c - qps-tune: options common to every command and the command table.
 *
 *   qps-tune [-j|--json] [-v] [--state-dir DIR] [--root DIR] COMMAND [ARGS]
 *
 * Command names match exactly: "a" could be audit or apply.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tuner.h"

#if defined(__has_include)
#if __has_include("../probes/probe.h")
#include "../probes/probe.h"
#define HAVE_PROBE 1
#endif
#endif

static int do_help(int argc, char **argv);
static int do_version(int argc, char **argv);

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct cmd cmds[] = {
	{ "audit", do_audit,
	  "audit [--profile P] [--conns N] [--pid PID | --port N] [--sample S] [--json | --prom]" },
	{ "apply", do_apply,
	  "apply [--profile P] [--conns N] [--dry-run] [--persist] [--pid PID] [--host]" },
	{ "rollback", do_rollback, "rollback" },
	{ "profiles", do_profiles, "profiles" },
	{ "profile", do_profile, "profile show NAME|PATH [--resolved] [--conns N]" },
#ifdef HAVE_PROBE
	{ "probe", do_probe,
	  "probe acceptq|syslat|offcpu [--duration S] [--interval S] [--pid PID] [--comm C]" },
#endif
	{ "help", do_help, "help" },
	{ "version", do_version, "version" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct cmd *c;

	fprintf(f, "usage: qps-tune [-j|--json] [-v] [--state-dir DIR] [--root DIR] COMMAND [ARGS]\n\n"
		   "commands:\n");
	for (c = cmds; c->name; c++)
		fprintf(f, "  qps-tune %s\n", c->usage);
	fprintf(f, "\noptions accepted by every command:\n"
		   "  -j, --json         one JSON document on stdout (errors as {\"error\": ...})\n"
		   "  -v, --verbose      more detail (audit: evidence of passing checks too)\n"
		   "  --state-dir DIR    journal and lock directory (default " DEFAULT_STATE_DIR ")\n"
		   "  --root DIR         re-root /etc/sysctl.d, limits.d and systemd drop-ins (not /proc/sys)\n"
		   "\nexit codes:\n"
		   "  0  success (audit: every check passed)\n"
		   "  1  failure\n"
		   "  2  usage error\n"
		   "  3  audit found drift (at least one check failed)\n"
		   "\nbuilt-in profiles: base, web-10k (default), web-100k, proxy, latency; see 'qps-tune profiles'\n");
}

static int do_help(int argc, char **argv)
{
	usage(stdout);
	return tuner_finish(EXIT_OK);
}

static int do_version(int argc, char **argv)
{
	printf("qps-tune %s\n", QPS_TUNE_VERSION);
	return tuner_finish(EXIT_OK);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		TUNER_COMMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *c;
	int opt;

	/* stop at the first non-option: that is the command */
	while ((opt = getopt_long(argc, argv, "+jvhV", longopts, NULL)) != -1) {
		if (tuner_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			return do_help(0, NULL);
		case 'V':
			return do_version(0, NULL);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (c = cmds; c->name; c++) {
		if (!strcmp(c->name, argv[optind])) {
			argc -= optind;
			argv += optind;
			optind = 0;	/* the handler parses its own options; 0 re-inits getopt */
			return c->fn(argc, argv);
		}
	}
	tuner_err("unknown command '%s'; see 'qps-tune help'", argv[optind]);
	return EXIT_USAGE;
}
