/* cli_audit.c - `qps-tune audit`: options and rendering; the checks are the
 * engine's (audit.c and the area files). Exit 0 clean, 3 drift, 1 error, 2 usage. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "cli.h"
#include "report.h"

int do_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "profile", required_argument, NULL, 'P' },
		{ "conns", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 0x201 },
		{ "sample", required_argument, NULL, 0x202 },
		{ "prom", no_argument, NULL, 0x203 },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile = DEFAULT_PROFILE;
	unsigned long conns = 0, pid = 0, port = 0, sample = 0;
	struct report rep;
	struct tenv env;
	char err[3 * PATH_MAX];
	bool prom = false;
	int opt, e, rc;

	while ((opt = cli_getopt(argc, argv, "jvhP:c:p:", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'P':
			profile = optarg;
			break;
		case 'c':
			if (parse_ulong(optarg, 100000000, &conns) || !conns)
				return cli_usage_err("invalid --conns '%s' (want 1..100000000)", optarg);
			break;
		case 'p':
			if (parse_ulong(optarg, INT_MAX, &pid) || !pid)
				return cli_usage_err("invalid --pid '%s'", optarg);
			break;
		case 0x201:
			if (parse_ulong(optarg, 65535, &port) || !port)
				return cli_usage_err("invalid --port '%s' (want 1..65535)", optarg);
			break;
		case 0x202:
			if (parse_ulong(optarg, 3600, &sample) || !sample)
				return cli_usage_err("invalid --sample '%s' (want 1..3600 seconds)", optarg);
			break;
		case 0x203:
			prom = true;
			break;
		case 'h':
			return cli_help();
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_err("audit: unexpected argument '%s'", argv[optind]);
	if (pid && port)
		return cli_usage_err("audit: --pid and --port are exclusive");
	if (prom && cli()->json)
		return cli_usage_err("audit: --json and --prom are exclusive");
	rc = cli_env(&env);
	if (rc)
		return rc;
	memset(&rep, 0, sizeof(rep));
	e = audit_run(&rep, &env, profile, (long)conns, (pid_t)pid, (int)port, (int)sample, err, sizeof(err));
	tenv_release(&env);
	if (e) {
		report_release(&rep);
		return cli_err(EXIT_FAIL, "%s", err);
	}
	if (cli()->json)
		report_json(&rep, stdout);
	else if (prom)
		report_prom(&rep, stdout);
	else
		/* no-color.org: NO_COLOR present and not empty */
		report_table(&rep, stdout, isatty(STDOUT_FILENO) && !(getenv("NO_COLOR") && *getenv("NO_COLOR")),
			     cli()->verbose);
	rc = report_count(&rep, CHK_FAIL) ? EXIT_DRIFT : EXIT_OK;
	report_release(&rep);
	return cli_finish(rc);
}
