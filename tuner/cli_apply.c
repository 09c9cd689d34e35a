/* cli_apply.c - `qps-tune apply`: options and rendering of the plan (a diff
 * for --dry-run) and of what changed; the work is apply.c's. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "json.h"

static void show_val(FILE *f, const char *v)
{
	if (!v) {
		fputs("(absent)", f);
		return;
	}
	for (; *v; v++)
		fputc(*v == '\t' ? ' ' : *v, f);
}

static void print_diff(const struct plan *p, const char *profile, const char *plan)
{
	int i;

	printf("--- current\n+++ after qps-tune apply %s %s (dry run: nothing written)\n", plan ? "--plan" : "--profile",
	       plan ? plan : profile);
	for (i = 0; i < p->nch; i++) {
		const struct item *it = &p->ch[i];

		if (it->kind == J_FILE) {
			const char *s;

			printf("@@ file %s%s\n", it->label, it->old ? "" : " (new)");
			if (it->old) {
				printf("-");
				for (s = it->old; *s; s++)
					if (*s == '\n' && s[1])
						fputs("\n-", stdout);
					else if (*s != '\n')
						putchar(*s);
				putchar('\n');
			}
			printf("+");
			for (s = it->new_; *s; s++)
				if (*s == '\n' && s[1])
					fputs("\n+", stdout);
				else if (*s != '\n')
					putchar(*s);
			putchar('\n');
			continue;
		}
		printf("-%s = ", it->label);
		show_val(stdout, it->old);
		printf("\n+%s = ", it->label);
		show_val(stdout, it->new_);
		printf("\n");
	}
}

static void json_items(struct json *j, const char *name, const struct item *v, int n)
{
	int i;

	json_arr_open(j, name);
	for (i = 0; i < n; i++) {
		json_obj_open(j, NULL);
		/* contract kinds: sysctl|file|rlimit|affinity (RPS/XPS masks are affinity) */
		json_str(j, "kind", v[i].kind == J_SYSCTL ? "sysctl" : v[i].kind == J_FILE ? "file" :
				    v[i].kind == J_RLIMIT ? "rlimit" : "affinity");
		json_str(j, "key", v[i].kind == J_FILE ? v[i].key : v[i].label);
		if (v[i].kind == J_FILE)
			json_str(j, "path", v[i].label);
		json_str(j, "old", v[i].old);
		json_str(j, "new", v[i].new_);
		if (v[i].origin[0])
			json_str(j, "rule", v[i].origin);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void json_notes(struct json *j, const char *name, const char *k1, const char *k2,
		       const struct note *v, int n)
{
	int i;

	json_arr_open(j, name);
	for (i = 0; i < n; i++) {
		json_obj_open(j, NULL);
		json_str(j, k1, v[i].what);
		json_str(j, k2, v[i].why);
		json_obj_close(j);
	}
	json_arr_close(j);
}

static void render(const struct apply_result *res, const struct apply_opts *o)
{
	const struct plan *p = &res->plan;
	int i;

	if (cli()->json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.apply/1");
		json_bool(&j, "dry_run", o->dry_run);
		json_str(&j, "profile", res->profile);
		json_uint(&j, "netns", res->netns);
		json_bool(&j, "initial_netns", res->initial);
		/* dry run: what would change (Ansible check mode reads "changed") */
		json_int(&j, "changed", o->dry_run ? p->nch : res->changed);
		json_items(&j, "changes", p->ch, o->dry_run ? p->nch : res->changed);
		json_items(&j, "unchanged", p->same, p->nsame);
		json_notes(&j, "not_applied", "key", "reason", p->na, p->nna);
		json_notes(&j, "restart_needed", "what", "why", p->restart, p->nrestart);
		/* dry run as a user: what it could not read or may not write, and the privilege */
		json_notes(&j, "needs_privilege", "key", "reason", p->denied, p->ndenied);
		if (res->journal[0])
			json_str(&j, "journal", res->journal);
		else
			json_null(&j, "journal");
		json_obj_close(&j);
		return;
	}
	if (o->dry_run) {
		print_diff(p, res->profile, o->plan);
	} else {
		printf("qps-tune apply: profile %s, netns net:[%llu]%s\n", res->profile,
		       (unsigned long long)res->netns, res->initial ? "" : " (not the initial netns)");
		for (i = 0; i < res->changed; i++) {
			printf("changed    %s: ", p->ch[i].kind == J_FILE ? p->ch[i].key : p->ch[i].label);
			if (p->ch[i].kind == J_FILE) {
				printf("%s\n", p->ch[i].old ? "rewritten" : "created");
			} else {
				show_val(stdout, p->ch[i].old);
				printf(" -> ");
				show_val(stdout, p->ch[i].new_);
				printf("\n");
			}
		}
		if (cli()->verbose)
			for (i = 0; i < p->nsame; i++) {
				printf("unchanged  %s: ", p->same[i].label);
				show_val(stdout, p->same[i].kind == J_FILE ? "(as planned)" : p->same[i].old);
				printf("\n");
			}
	}
	for (i = 0; i < p->nna; i++)
		printf("not applied  %s: %s\n", p->na[i].what, p->na[i].why);
	for (i = 0; i < p->nrestart; i++)
		printf("restart needed  %s: %s\n", p->restart[i].what, p->restart[i].why);
	for (i = 0; i < p->ndenied; i++)
		printf("needs privilege  %s: %s\n", p->denied[i].what, p->denied[i].why);
	if (o->dry_run)
		printf("%d would change, %d unchanged, %d not applied%s%.0d%s (dry run: nothing written)\n", p->nch,
		       p->nsame, p->nna, p->ndenied ? ", " : "", p->ndenied,
		       p->ndenied ? " need a privilege this user lacks" : "");
	else
		printf("%d changed, %d unchanged, %d not applied%s%s\n", res->changed, p->nsame, p->nna,
		       res->journal[0] ? "; journal " : "", res->journal);
}

int do_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "profile", required_argument, NULL, 'P' },
		{ "conns", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "persist", no_argument, NULL, 0x202 },
		{ "pid", required_argument, NULL, 'p' },
		{ "host", no_argument, NULL, 0x203 },
		{ "plan", required_argument, NULL, 0x201 },
		{ NULL, 0, NULL, 0 },
	};
	struct apply_opts o = { .profile = DEFAULT_PROFILE };
	struct apply_result res;
	struct tenv env;
	unsigned long v;
	int opt, rc, i;

	while ((opt = cli_getopt(argc, argv, "jvhP:c:np:", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		switch (opt) {
		case 'P':
			o.profile = optarg;
			break;
		case 'c':
			if (parse_ulong(optarg, 100000000, &v) || !v)
				return cli_usage_err("invalid --conns '%s' (want 1..100000000)", optarg);
			o.conns = (long)v;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 0x202:
			o.persist = true;
			break;
		case 'p':
			if (parse_ulong(optarg, INT_MAX, &v) || !v)
				return cli_usage_err("invalid --pid '%s'", optarg);
			o.pid = (pid_t)v;
			break;
		case 0x203:
			o.host = true;
			break;
		case 0x201:
			o.plan = optarg;
			break;
		case 'h':
			return cli_help();
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_err("apply: unexpected argument '%s'", argv[optind]);
	if (o.plan && (o.persist || o.pid || o.host || o.conns || strcmp(o.profile, DEFAULT_PROFILE)))
		return cli_usage_err("apply: --plan applies the plan as written; it takes only --dry-run");
	rc = cli_env(&env);
	if (rc)
		return rc;
	apply_run(&env, &o, &res);
	tenv_release(&env);
	for (i = 0; i < res.nwarn; i++)
		cli_warn("%s", res.warn[i]);
	if (res.err)
		rc = cli_err(EXIT_FAIL, "%s", res.err);
	else {
		render(&res, &o);
		rc = cli_finish(EXIT_OK);
	}
	apply_result_release(&res);
	return rc;
}
