/* cli_diagnose.c - `qps-tune diagnose`: options and rendering (table or
 * JSON schema qps-tune.diagnose/1, docs/diagnose.md); the work is
 * diagnose.c's. Exit 0: nothing limits the server in the window; 3: at least
 * one finding; 1: failure; 2: usage. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diagnose.h"
#include "json.h"

static void on_signal(int sig)
{
	(void)sig;
	diagnose_interrupt();
}

static const char *kind_str(enum jkind k)
{
	return k == J_SYSCTL ? "sysctl" : k == J_RLIMIT ? "rlimit" : "other";
}

/* What the run could not see (a tool that cannot see says so). */
static int blind_probes(const struct diag_result *res)
{
	int i, n = 0;

	for (i = 0; i < res->np; i++)
		n += !strcmp(res->p[i].status, "unavailable");
	return n;
}

static int blind_areas(const struct diag_result *res)
{
	int i, n = 0;

	for (i = 0; i < res->nc; i++)
		n += !strcmp(res->c[i].status, "unseen");
	return n;
}

static void render_json(const struct diag_result *res, const char *plan_out, int nplan)
{
	struct json j;
	int i, k;

	json_init(&j, stdout);
	json_obj_open(&j, NULL);
	json_str(&j, "schema", DIAG_SCHEMA);
	json_obj_open(&j, "server");
	json_int(&j, "pid", res->pid);
	json_str(&j, "comm", res->comm);
	json_int(&j, "listeners", res->nls);
	json_str(&j, "listening", res->listeners);
	json_arr_open(&j, "shared_with");
	for (i = 0; i < res->nshared && i < DIAG_MAX_SHARED; i++)
		json_int(&j, NULL, res->shared[i]);
	json_arr_close(&j);
	json_int(&j, "shared_with_count", res->nshared);
	if (res->owner)
		json_int(&j, "listener_owner", res->owner);
	else
		json_null(&j, "listener_owner");
	json_obj_close(&j);
	json_uint(&j, "netns", res->netns);
	json_bool(&j, "initial_netns", res->initial);
	json_str(&j, "profile", res->profile);
	json_double(&j, "window_s", res->window);
	json_double(&j, "elapsed_s", res->elapsed);
	json_bool(&j, "interrupted", res->interrupted);
	json_arr_open(&j, "findings");
	for (i = 0; i < res->nf; i++) {
		const struct diag_finding *f = &res->f[i];

		json_obj_open(&j, NULL);
		json_int(&j, "rank", i + 1);
		json_str(&j, "name", f->name);
		json_str(&j, "title", f->title);
		json_double(&j, "impact", f->impact);
		json_str(&j, "confidence", f->confidence);
		json_str(&j, "evidence", f->evidence);
		json_str(&j, "checks", f->checks);
		json_str(&j, "fix", f->fix);
		json_obj_open(&j, "figures");
		for (k = 0; k < f->nfig; k++)
			json_double(&j, f->fig[k].name, f->fig[k].v);
		json_obj_close(&j);
		json_arr_open(&j, "settings");
		for (k = 0; k < f->nset; k++) {
			json_obj_open(&j, NULL);
			json_str(&j, "kind", kind_str(f->set[k].kind));
			json_str(&j, "key", f->set[k].label);
			json_str(&j, "old", f->set[k].old);
			json_str(&j, "new", f->set[k].new_);
			json_str(&j, "rule", f->set[k].origin);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "checked");
	for (i = 0; i < res->nc; i++) {
		json_obj_open(&j, NULL);
		json_str(&j, "what", res->c[i].what);
		json_str(&j, "status", res->c[i].status);
		json_str(&j, "figures", res->c[i].figures);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "probes");
	for (i = 0; i < res->np; i++) {
		json_obj_open(&j, NULL);
		json_str(&j, "name", res->p[i].name);
		json_str(&j, "status", res->p[i].status);
		json_str(&j, "detail", res->p[i].why);
		json_double(&j, "elapsed_s", res->p[i].elapsed);
		if (res->p[i].started >= 0)
			json_double(&j, "started_s", res->p[i].started);
		else
			json_null(&j, "started_s");
		json_str(&j, "trigger", res->p[i].trigger);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_obj_open(&j, "plan");
	json_str(&j, "file", plan_out);
	json_int(&j, "settings", nplan);
	json_obj_close(&j);
	json_obj_open(&j, "summary");
	json_int(&j, "findings", res->nf);
	json_bool(&j, "limited", res->nf > 0);
	json_int(&j, "probes_unavailable", blind_probes(res));
	json_int(&j, "areas_unseen", blind_areas(res));
	json_obj_close(&j);
	json_obj_close(&j);
}

static void render_text(const struct diag_result *res, const char *plan_out, int nplan)
{
	int i, k;

	printf("qps-tune diagnose: pid %d (%s), %s, netns net:[%llu]%s, window %.1f s (took %.1f s%s)\n", (int)res->pid,
	       res->comm, res->nls ? res->listeners : "no listener", (unsigned long long)res->netns,
	       res->initial ? "" : " (not the initial netns)", res->window, res->elapsed,
	       res->interrupted ? ", ended early by a signal" : "");
	if (res->owner)
		printf("a prefork server: pid %d owns the listener%s and its children accept on it; watching the busiest "
		       "of them (CPU so far), pid %d\n", (int)res->owner, res->nls == 1 ? "" : "s", (int)res->pid);
	if (res->nshared) {
		printf("not watched: %d %schild process%s of pid %d hold%s its listener, as the workers of a prefork server do (",
		       res->nshared, res->owner ? "other " : "", res->nshared == 1 ? "" : "es",
		       (int)(res->owner ? res->owner : res->pid), res->nshared == 1 ? "s" : "");
		for (i = 0; i < res->nshared && i < DIAG_MAX_SHARED; i++)
			printf("%s%d", i ? ", " : "", (int)res->shared[i]);
		printf("%s): their threads, CPU and descriptors are not in this report; name one with --pid\n",
		       res->nshared > DIAG_MAX_SHARED ? ", ..." : "");
	}
	/* which probes the window's evidence called for, when, and why (or why not) */
	printf("probes:%s\n", res->np ? "" : " none");
	for (i = 0; i < res->np; i++) {
		const struct diag_probe *p = &res->p[i];

		if (!strcmp(p->status, "used"))
			printf("  %-8s used from %.1f s (%.1f s traced): %s\n", p->name, p->started, p->elapsed,
			       p->trigger);
		else if (p->started >= 0)
			printf("  %-8s unavailable (%s); started at %.1f s: %s\n", p->name, p->why, p->started,
			       p->trigger);
		else
			printf("  %-8s %s: %s\n", p->name, !strcmp(p->status, "not-needed") ? "not needed" : p->status,
			       p->why);
	}
	for (i = 0; i < res->nf; i++) {
		const struct diag_finding *f = &res->f[i];

		printf("\n%d. %s (impact %.0f, confidence %s): %s\n", i + 1, f->name, f->impact, f->confidence, f->title);
		printf("   evidence: %s\n", f->evidence);
		printf("   checks:   %s\n", f->checks[0] ? f->checks : "-");
		printf("   fix:      %s\n", f->fix);
		for (k = 0; k < f->nset; k++)
			printf("   plan:     %s %s -> %s (%s)\n", f->set[k].label, f->set[k].old, f->set[k].new_,
			       f->set[k].origin);
	}
	printf("\nchecked:\n");
	for (i = 0; i < res->nc; i++)
		printf("  %-8s %-27s %s\n", res->c[i].status, res->c[i].what, res->c[i].figures);
	if (blind_probes(res) || blind_areas(res))
		printf("not seen: %d of %d probes unavailable, %d area%s unseen (causes above): what they answer "
		       "was not looked at\n", blind_probes(res), res->np, blind_areas(res),
		       blind_areas(res) == 1 ? "" : "s");
	if (!res->nf)
		printf("nothing limits pid %d in this window: no finding (exit 0)\n", (int)res->pid);
	else
		printf("%d finding%s: something limits the server (exit 3)%s%s%s\n", res->nf, res->nf == 1 ? "" : "s",
		       plan_out && nplan ? "; 'qps-tune apply --plan " : "", plan_out && nplan ? plan_out : "",
		       plan_out && nplan ? "' applies the settings" : "");
}

int do_diagnose(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "pid", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 0x201 },
		{ "duration", required_argument, NULL, 'd' },
		{ "plan-out", required_argument, NULL, 0x202 },
		{ "profile", required_argument, NULL, 'P' },
		{ "no-probes", no_argument, NULL, 0x203 },
		{ NULL, 0, NULL, 0 },
	};
	struct diag_opts o = { .duration = 10, .exe = "/proc/self/exe", .profile = DEFAULT_PROFILE };
	struct diag_result *res = NULL;
	const char *plan_out = NULL;
	char err[PATH_MAX + 256] = "";
	struct tenv env;
	unsigned long v;
	int opt, rc, nplan = 0;
	char *end;

	while ((opt = cli_getopt(argc, argv, "jvhp:d:P:", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'p':
			if (parse_ulong(optarg, INT_MAX, &v) || !v)
				return cli_usage_err("invalid --pid '%s'", optarg);
			o.pid = (pid_t)v;
			break;
		case 0x201:
			if (parse_ulong(optarg, 65535, &v) || !v)
				return cli_usage_err("invalid --port '%s' (want 1..65535)", optarg);
			o.port = (int)v;
			break;
		case 'd':
			o.duration = strtod(optarg, &end);
			if (end == optarg || *end || !(o.duration >= 0.5 && o.duration <= 3600))
				return cli_usage_err("invalid --duration '%s' (want 0.5..3600 seconds)", optarg);
			break;
		case 0x202:
			plan_out = optarg;
			break;
		case 'P':
			o.profile = optarg;
			break;
		case 0x203:
			o.no_probes = true;
			break;
		case 'h':
			return cli_help();
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_err("diagnose: unexpected argument '%s'", argv[optind]);
	if (o.pid && o.port)
		return cli_usage_err("diagnose: give --pid or --port, not both");
	res = calloc(1, sizeof(*res));
	if (!res)
		return cli_err(EXIT_FAIL, "out of memory");
	rc = cli_env(&env);
	if (rc) {
		free(res);
		return rc;
	}
	{
		/* Ctrl-C or SIGTERM ends the window early: probes stopped and reaped, report printed */
		struct sigaction sa = { .sa_handler = on_signal };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (diagnose_run(&env, &o, res)) {
		rc = cli_err(EXIT_FAIL, "diagnose: %s", res->err);
		goto out;
	}
	if (plan_out) {
		nplan = diagnose_plan_write(res, plan_out, err, sizeof(err));
		if (nplan < 0) {
			rc = cli_err(EXIT_FAIL, "%s", err);
			goto out;
		}
	}
	if (cli()->json)
		render_json(res, plan_out, nplan);
	else
		render_text(res, plan_out, nplan);
	rc = cli_finish(res->nf ? EXIT_DRIFT : EXIT_OK);
out:
	tenv_release(&env);
	free(res);
	return rc;
}
