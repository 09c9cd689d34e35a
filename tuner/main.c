/* main.c - qps-tune's command line: options common to every command, the
 * command table (with each command's --help text), the one error reporter,
 * help, version and `checks`.
 *
 *   qps-tune [-j|--json] [-v] [--state-dir DIR] [--root DIR] COMMAND [ARGS]
 *
 * Command names match exactly: "a" could be audit or apply; a near miss only
 * gets a "did you mean" (edit distance <= 2), never runs.
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
#include "privhint.h"

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
	const char *usage;	/* one line, after "qps-tune " */
	const char *help;	/* what it does and its own options: `CMD --help`, `help CMD` */
};

/* Options every command takes, at the end of each command's --help. */
#define COMMON_HELP \
	"common options (before or after the command):\n" \
	"  -j, --json             one JSON document on stdout; errors as {\"error\": ...}\n" \
	"  -v, --verbose          more detail\n" \
	"      --state-dir DIR    journal directory (default " DEFAULT_STATE_DIR ")\n" \
	"      --root DIR         re-root /etc/sysctl.d, limits.d and systemd drop-ins (not /proc/sys)\n" \
	"      --run-dir DIR      host-wide lock and journal registry (default " DEFAULT_RUN_DIR ")\n" \
	"  -h, --help             this help\n"

static const struct cmd cmds[] = {
	{ "audit", do_audit,
	  "audit [-P PROFILE] [-c N] [-p PID | --port N] [--sample S] [--json | --prom]",
	  "Checks this host against a profile and prints the evidence; read-only.\n"
	  "  -P, --profile NAME|PATH  profile to check against (default " DEFAULT_PROFILE "; 'qps-tune profiles')\n"
	  "  -c, --conns N            expected concurrent connections (1..100000000; default: the profile's)\n"
	  "  -p, --pid PID            the server process: its limits, affinity and network namespace\n"
	  "      --port N             the server is the owner of the TCP listener on port N\n"
	  "      --sample S           also sample drop and overflow counters for S seconds (1..3600)\n"
	  "      --prom               node_exporter textfile format instead of the table\n"
	  "exit: 0 every check passed, 3 drift found, 1 failure, 2 usage error\n" },
	{ "apply", do_apply,
	  "apply [-P PROFILE] [-c N] [-n] [--persist] [-p PID] [--host] | apply --plan FILE [-n]",
	  "Raises what the audit of the profile finds too low (never lowers), with a journal for rollback.\n"
	  "  -P, --profile NAME|PATH  profile to apply (default " DEFAULT_PROFILE ")\n"
	  "  -c, --conns N            expected concurrent connections (1..100000000)\n"
	  "  -n, --dry-run            print the plan as a diff and write nothing (works without root;\n"
	  "                           what this user may not read or write is listed with the privilege)\n"
	  "      --persist            also write /etc/sysctl.d, limits.d and systemd drop-ins\n"
	  "  -p, --pid PID            the server process: raise its nofile limit, set its affinity\n"
	  "      --host               from a child network namespace, set host-wide keys too\n"
	  "      --plan FILE          apply exactly the settings 'qps-tune diagnose --plan-out' wrote\n"
	  "exit: 0 applied (or planned), 1 failure (nothing changed unless said), 2 usage error\n" },
	{ "diagnose", do_diagnose,
	  "diagnose [-p PID | --port N] [-d S] [-P PROFILE] [--plan-out FILE] [--no-probes]",
	  "Watches one server for a window and names what limits it, ranked, with the fix; read-only.\n"
	  "  -p, --pid PID            the server (default: the only process with a TCP listener)\n"
	  "      --port N             the server is the owner of the TCP listener on port N\n"
	  "  -d, --duration S         length of the window in seconds (0.5..3600, default 10)\n"
	  "  -P, --profile NAME|PATH  profile the fixes are taken from (default " DEFAULT_PROFILE ")\n"
	  "      --plan-out FILE      write the settings of the fixes for 'qps-tune apply --plan FILE'\n"
	  "      --no-probes          counters only: run no BPF probe\n"
	  "exit: 0 nothing limits the server, 3 something does, 1 failure, 2 usage error\n" },
	{ "rollback", do_rollback, "rollback [--force | --discard-stale]",
	  "Restores what the journal of the last apply recorded, where it is still as apply left it.\n"
	  "      --force              restore values changed since apply too\n"
	  "      --discard-stale      remove a journal whose network namespace or boot is gone\n"
	  "exit: 0 restored (or nothing to roll back), 1 something kept or failed, 2 usage error\n" },
	{ "checks", do_checks, "checks [--json | --markdown]",
	  "Lists every check id audit can report, with severity, area, title and whether apply fixes it.\n"
	  "      --markdown           print docs/checks.md\n" },
	{ "profiles", do_profiles, "profiles",
	  "Lists the profiles: those in " PROFILE_ETC_DIR " (root-owned files only) and the built-in\n"
	  "ones, with their source.\n" },
	{ "profile", do_profile, "profile show NAME|PATH [-r] [-c N]",
	  "Prints a profile as written.\n"
	  "  -r, --resolved           its merged rules (inheritance applied) with computed targets\n"
	  "  -c, --conns N            compute the targets for N concurrent connections\n" },
	{ "probe", do_probe, "probe NAME [-d S] [-i S] [-p PID] [--comm C] [--cgroup PATH] ...",
	  NULL /* probe.c prints its own help: the probe list, or one probe's options */ },
	{ "help", do_help, "help [COMMAND]", "Prints the usage of qps-tune, or the help of COMMAND.\n" },
	{ "version", do_version, "version", "Prints the version ({\"version\": ...} with --json).\n" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cmd *cmd_find(const char *name)
{
	const struct cmd *c;

	for (c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int cli_help(void)
{
	const struct cmd *c = cmd_find(opts.cmd);

	if (!c)
		return cli_err(EXIT_FAIL, "no help for '%s'", opts.cmd);
	printf("usage: qps-tune %s\n\n%s\n" COMMON_HELP, c->usage, c->help ? c->help : "");
	return cli_finish(EXIT_OK);
}

/* Levenshtein distance of @a and @b, capped at 9 (names are short). */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int d[33][33];

	if (la > 32 || lb > 32)
		return 9;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;

			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			/* a swap of two neighbours is one typo, not two */
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	return d[la][lb] > 9 ? 9 : d[la][lb];
}

const char *cli_suggest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	int bestd = 3;	/* at most 2 typos, and fewer than the word's length */
	size_t i;

	for (i = 0; i < n; i++) {
		int d = edit_distance(word, names[i]);

		if (d < bestd && (size_t)d < strlen(word)) {
			bestd = d;
			best = names[i];
		}
	}
	return best;
}

static int unknown_command(const char *name)
{
	const char *names[sizeof(cmds) / sizeof(cmds[0])];
	const char *s;
	size_t n = 0;

	for (n = 0; cmds[n].name; n++)
		names[n] = cmds[n].name;
	s = cli_suggest(name, names, n);
	opts.cmd = "";
	if (s)
		return cli_err(EXIT_USAGE, "unknown command '%s'; did you mean '%s'?", name, s);
	return cli_usage_err("unknown command '%s'", name);
}

/* ---- the one error reporter */

static void vreport(bool final, const char *fmt, va_list ap)
{
	char *msg = NULL, *full = NULL;
	size_t size;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	/* a permission error names the privilege, wherever it came from */
	if (msg && *priv_hint(msg)) {
		size = strlen(msg) + strlen(priv_hint(msg)) + 1;
		full = malloc(size);
		if (full) {
			memcpy(full, msg, strlen(msg) + 1);
			priv_annotate(full, size);
			free(msg);
			msg = full;
		}
	}
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
	char *msg = NULL;
	va_list ap;
	int n;

	/* one line: the message and where the full usage is */
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		msg = NULL;
	if (opts.cmd[0])
		cli_err(EXIT_USAGE, "%s; see 'qps-tune %s --help'", msg ? msg : fmt, opts.cmd);
	else
		cli_err(EXIT_USAGE, "%s; see 'qps-tune help'", msg ? msg : fmt);
	free(msg);
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

/* The long option @arg ("--name" or "--name=value") names, or NULL. Like
 * getopt_long, an unambiguous prefix names the option. */
static const struct option *long_find(const struct option *longopts, const char *arg, size_t len)
{
	const struct option *o, *hit = NULL;
	int nhit = 0;

	for (o = longopts; o->name; o++) {
		if (strncmp(o->name, arg, len))
			continue;
		if (strlen(o->name) == len)
			return o;
		hit = o;
		nhit++;
	}
	return nhit == 1 ? hit : NULL;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	const char *arg, *names[64], *s;
	const struct option *o;
	size_t len, n;
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	if (!strncmp(arg, "--", 2) && arg[2]) {
		len = strcspn(arg + 2, "=");
		o = long_find(longopts, arg + 2, len);
		if (o && o->has_arg == required_argument && !arg[2 + len])
			cli_usage_err("%s%soption '--%s' needs an argument", opts.cmd, opts.cmd[0] ? ": " : "", o->name);
		else if (o && o->has_arg == no_argument && arg[2 + len])
			cli_usage_err("%s%soption '--%s' takes no argument", opts.cmd, opts.cmd[0] ? ": " : "", o->name);
		else if (o)
			cli_usage_err("%s%sbad option '%s'", opts.cmd, opts.cmd[0] ? ": " : "", arg);
		else {
			char word[64];

			snprintf(word, sizeof(word), "%.*s", (int)len, arg + 2);
			for (n = 0, o = longopts; o->name && n < 64; o++)
				names[n++] = o->name;
			s = cli_suggest(word, names, n);
			if (s)
				cli_err(EXIT_USAGE, "%s%sunknown option '--%s'; did you mean '--%s'?", opts.cmd,
					opts.cmd[0] ? ": " : "", word, s);
			else
				cli_usage_err("%s%sunknown option '--%s'", opts.cmd, opts.cmd[0] ? ": " : "", word);
		}
	} else if (optopt > 0 && optopt < 0x100 && strchr(shortopts, optopt)) {
		cli_usage_err("%s%soption '-%c' needs an argument", opts.cmd, opts.cmd[0] ? ": " : "", optopt);
	} else if (optopt > 0 && optopt < 0x100) {
		cli_usage_err("%s%sunknown option '-%c'", opts.cmd, opts.cmd[0] ? ": " : "", optopt);
	} else {
		cli_usage_err("%s%sbad option '%s'", opts.cmd, opts.cmd[0] ? ": " : "", arg);
	}
	return '?';
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

	fprintf(f, "usage: qps-tune [-j|--json] [-v] [--state-dir DIR] [--root DIR] COMMAND [ARGS]\n"
		   "       qps-tune -h|--help | -V|--version\n\n"
		   "commands:\n");
	for (c = cmds; c->name; c++)
		fprintf(f, "  qps-tune %s\n", c->usage);
	fprintf(f, "\n'qps-tune help COMMAND' or 'qps-tune COMMAND --help' shows the options of one command;\n"
		   "'qps-tune probe NAME --help' those of one probe.\n\n"
		   COMMON_HELP
		   "  -V, --version          print the version\n"
		   "\nexit codes:\n"
		   "  0  success (audit: every check passed)\n"
		   "  1  failure\n"
		   "  2  usage error\n"
		   "  3  audit found drift (at least one check failed); diagnose found a limit\n"
		   "\nprofiles: built-in base, web-10k (default), web-100k, proxy, latency, and those in\n"
		   PROFILE_ETC_DIR "; see 'qps-tune profiles'\n"
		   "checks audit can report: 'qps-tune checks'\n"
		   "environment: NO_COLOR set: no colour in audit's table (there is none off a terminal)\n");
}

/* The options of help and version: the common ones and --help. */
static int simple_opts(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	int opt;

	while ((opt = cli_getopt(argc, argv, "jvh", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		if (opt == 'h')
			return cli_help();
		return EXIT_USAGE;
	}
	return -1;
}

/* help [COMMAND [ARGS]]: COMMAND's help; 'help probe NAME' that of one probe */
static int do_help(int argc, char **argv)
{
	const struct cmd *c;
	char *sub[4] = { NULL };
	int rc = simple_opts(argc, argv);

	if (rc >= 0)
		return rc;
	if (optind >= argc) {
		usage(stdout);
		return cli_finish(EXIT_OK);
	}
	c = cmd_find(argv[optind]);
	if (!c)
		return unknown_command(argv[optind]);
	if (argc - optind > 2 || (argc - optind == 2 && strcmp(c->name, "probe")))
		return cli_usage_err("help: unexpected argument '%s'", argv[optind + 1]);
	opts.cmd = c->name;
	if (c->help)
		return cli_help();
	/* probe: its own help, of one probe when named */
	rc = argc - optind == 2 ? 3 : 2;
	sub[0] = (char *)c->name;
	sub[1] = rc == 3 ? argv[optind + 1] : (char *)"--help";
	sub[2] = rc == 3 ? (char *)"--help" : NULL;
	optind = 0;
	return c->fn(rc, sub);
}

static int print_version(void)
{
	if (opts.json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "version", QPS_TUNE_VERSION);
		json_obj_close(&j);
	} else {
		printf("qps-tune %s\n", QPS_TUNE_VERSION);
	}
	return cli_finish(EXIT_OK);
}

static int do_version(int argc, char **argv)
{
	int rc = simple_opts(argc, argv);

	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage_err("version: unexpected argument '%s'", argv[optind]);
	return print_version();
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

	while ((opt = cli_getopt(argc, argv, "jvh", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		if (opt == 'h')
			return cli_help();
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
			usage(stdout);
			return cli_finish(EXIT_OK);
		case 'V':
			return print_version();
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_err("no command given");
	c = cmd_find(argv[optind]);
	if (!c)
		return unknown_command(argv[optind]);
	argc -= optind;
	argv += optind;
	opts.cmd = c->name;
	optind = 0;	/* the handler parses its own options; 0 re-inits getopt */
	return c->fn(argc, argv);
}
