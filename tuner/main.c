/* main.c - qps-tune's command line: options common to every command, the
 * command table, the one error reporter, help, version and `checks`.
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
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "json.h"

static struct cli_opts opts = {
	.state_dir = DEFAULT_STATE_DIR,
	.root = "",
	.run_dir = NULL,
	.prog = "qps-tune",
	.cmd = "",
};

struct cli_opts *cli(void)
{
	return &opts;
}

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
	  "apply [--profile P] [--conns N] [--dry-run] [--persist] [--pid PID] [--host] | apply --plan FILE [--dry-run]" },
	{ "diagnose", do_diagnose,
	  "diagnose [--pid PID | --port N] [--duration S] [--profile P] [--plan-out FILE] [--json]" },
	{ "rollback", do_rollback, "rollback [--force] [--discard-stale]" },
	{ "checks", do_checks, "checks [--json] [--markdown]" },
	{ "profiles", do_profiles, "profiles" },
	{ "profile", do_profile, "profile show NAME|PATH [--resolved] [--conns N]" },
	{ "probe", do_probe,
	  "probe acceptq|syslat|offcpu [--duration S] [--interval S] [--pid PID] [--comm C]" },
	{ "help", do_help, "help" },
	{ "version", do_version, "version" },
	{ NULL, NULL, NULL },
};

const char *cli_usage_of(const char *name)
{
	const struct cmd *c;

	for (c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c->usage;
	return "";
}

/* ---- the one error reporter */

static void vreport(bool final, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	fprintf(stderr, "%s: %s\n", opts.prog, msg ? msg : fmt);
	if (final && opts.json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "error", msg ? msg : fmt);
		json_obj_close(&j);
	}
	free(msg);
}

int cli_err(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(true, fmt, ap);
	va_end(ap);
	fflush(stdout);
	return rc;
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(false, fmt, ap);
	va_end(ap);
}

int cli_usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(true, fmt, ap);
	va_end(ap);
	if (opts.cmd[0])
		fprintf(stderr, "usage: qps-tune %s\n", cli_usage_of(opts.cmd));
	else
		fprintf(stderr, "usage: qps-tune [-j|--json] [-v] [--state-dir DIR] [--root DIR] COMMAND [ARGS]; "
			"see 'qps-tune help'\n");
	fflush(stdout);
	return EXIT_USAGE;
}

int cli_finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to stdout: %s\n", opts.prog, strerror(errno ? errno : EIO));
		return EXIT_FAIL;
	}
	return rc;
}

bool cli_common_opt(int c, const char *arg)
{
	switch (c) {
	case 'j':
		opts.json = true;
		return true;
	case 'v':
		opts.verbose++;
		return true;
	case 0x101:
		opts.state_dir = arg;
		return true;
	case 0x102:
		/* "/" and "" both mean the real root */
		opts.root = strcmp(arg, "/") ? arg : "";
		return true;
	case 0x103:
		opts.run_dir = arg;
		return true;
	}
	return false;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?' || c == ':') {
		if (optopt && optopt < 0x100 && strchr(shortopts, optopt))
			cli_usage_err("%s: option '-%c' needs an argument", opts.cmd, optopt);
		else if (optopt && optopt < 0x100)
			cli_usage_err("%s: unknown option '-%c'", opts.cmd, optopt);
		else
			cli_usage_err("%s: unknown option or missing argument '%s'", opts.cmd, argv[optind - 1]);
		return '?';
	}
	return c;
}

int cli_env(struct tenv *e)
{
	const char *run = opts.run_dir ? opts.run_dir : getenv("QPS_TUNE_RUN_DIR");
	const char *kill_after = getenv("QPS_TUNE_TEST_KILL_AFTER");
	int err = tenv_init(e, opts.root, opts.state_dir, run && *run ? run : NULL);

	if (err)
		return cli_err(EXIT_FAIL, "cannot open --root '%s': %s", opts.root, strerror(-err));
	if (kill_after)
		e->kill_after = atoi(kill_after);
	return 0;
}

/* ---- help, version, checks */

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
		   "  --state-dir DIR    journal directory (default " DEFAULT_STATE_DIR ")\n"
		   "  --root DIR         re-root /etc/sysctl.d, limits.d and systemd drop-ins (not /proc/sys)\n"
		   "  --run-dir DIR      host-wide lock and journal registry (default " DEFAULT_RUN_DIR ")\n"
		   "\nexit codes:\n"
		   "  0  success (audit: every check passed)\n"
		   "  1  failure\n"
		   "  2  usage error\n"
		   "  3  audit found drift (at least one check failed); diagnose found a limit\n"
		   "\nbuilt-in profiles: base, web-10k (default), web-100k, proxy, latency; see 'qps-tune profiles'\n"
		   "checks audit can report: 'qps-tune checks'\n");
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return cli_finish(EXIT_OK);
}

static int do_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("qps-tune %s\n", QPS_TUNE_VERSION);
	return cli_finish(EXIT_OK);
}

int do_checks(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "markdown", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	const struct check_def *t;
	bool md = false;
	size_t n, i;
	int opt;

	while ((opt = cli_getopt(argc, argv, "jv", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		if (opt == 'm')
			md = true;
		else
			return opt == '?' ? EXIT_USAGE : cli_usage_err("checks: unexpected option");
	}
	if (optind < argc)
		return cli_usage_err("checks: unexpected argument '%s'", argv[optind]);
	t = checks_table(&n);
	if (opts.json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.checks/1");
		json_arr_open(&j, "checks");
		for (i = 0; i < n; i++) {
			json_obj_open(&j, NULL);
			json_str(&j, "id", t[i].id);
			json_str(&j, "severity", t[i].severity);
			json_str(&j, "area", t[i].area);
			json_str(&j, "title", t[i].title);
			json_bool(&j, "apply_fixes", t[i].plan != NULL);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
	} else if (md) {
		const char *area = "";

		printf("# Checks\n\n"
		       "Generated by `qps-tune checks --markdown` from the registry in tuner/checks.c\n"
		       "(`make docs/checks.md`; a test fails when this file and the registry differ).\n"
		       "Every id `qps-tune audit` can report is listed; `disable ID` in a profile must\n"
		       "name one of them, and a disabled check does not run (nor does apply change its\n"
		       "setting). *apply* says whether `qps-tune apply` fixes it.\n");
		for (i = 0; i < n; i++) {
			if (strcmp(area, t[i].area)) {
				area = t[i].area;
				printf("\n## %s\n\n| id | severity | apply | what it checks |\n|---|---|---|---|\n", area);
			}
			printf("| %s | %s | %s | %s |\n", t[i].id, t[i].severity, t[i].plan ? "yes" : "-",
			       t[i].title);
		}
	} else {
		printf("%-9s %-5s %-15s %-5s %s\n", "ID", "SEV", "AREA", "APPLY", "TITLE");
		for (i = 0; i < n; i++)
			printf("%-9s %-5s %-15s %-5s %s\n", t[i].id, t[i].severity, t[i].area,
			       t[i].plan ? "yes" : "-", t[i].title);
	}
	return cli_finish(EXIT_OK);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cmd *c;
	int opt, i;

	/* --json anywhere (before "--") decides how even a usage error is reported */
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			opts.json = true;
	/* stop at the first non-option: that is the command */
	while ((opt = cli_getopt(argc, argv, "+jvhV", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			return do_help(0, NULL);
		case 'V':
			return do_version(0, NULL);
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_err("no command given");
	for (c = cmds; c->name; c++) {
		if (!strcmp(c->name, argv[optind])) {
			argc -= optind;
			argv += optind;
			opts.cmd = c->name;
			optind = 0;	/* the handler parses its own options; 0 re-inits getopt */
			return c->fn(argc, argv);
		}
	}
	return cli_usage_err("unknown command '%s'", argv[optind]);
}
