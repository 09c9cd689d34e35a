/* cli_rollback.c - `qps-tune rollback [--force] [--discard-stale]`: options
 * and rendering; the work is rollback.c's. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "rollback.h"

static const char *const words[] = { "restored", "removed", "kept", "gone", "handed", "failed", "untouched" };

static void render_text(const struct rb_result *r)
{
	int i, nrest = 0, nrem = 0;

	if (r->journal[0])
		printf("qps-tune rollback: journal %s (profile %s, %s)\n", r->journal, r->profile, r->created);
	for (i = 0; i < r->n; i++) {
		const struct rb_line *l = &r->v[i];

		switch (l->what) {
		case RB_RESTORED:
			nrest++;
			printf("restored   %s = ", l->key);
			for (const char *c = l->value; c && *c; c++)
				putchar(*c == '\t' ? ' ' : *c);
			putchar('\n');
			break;
		case RB_REMOVED:
			nrem++;
			printf("removed    %s\n", l->key);
			break;
		case RB_KEPT:
			printf("kept       %s: changed since apply (now '%s', apply set '%s'); not restored\n", l->key,
			       l->value, l->detail);
			break;
		case RB_GONE:
			printf("gone       %s: %s\n", l->key, l->detail);
			break;
		case RB_HANDED:
			printf("handed     %s: changed since by a later apply (now '%s'); its journal %s now restores "
			       "the original\n", l->key, l->value, l->detail);
			break;
		case RB_FAILED:
			printf("failed     %s: %s\n", l->key, l->detail);
			break;
		case RB_UNTOUCHED:
			printf("untouched  %s: %s\n", l->key, l->detail);
			break;
		}
	}
	for (i = 0; i < r->nsteps; i++)
		printf("next step  %s\n", r->steps[i]);
	if (!r->err)
		printf("%d restored, %d removed; journal removed\n", nrest, nrem);
}

static void render_json(const struct rb_result *r)
{
	struct json js;
	int i, w;

	json_init(&js, stdout);
	json_obj_open(&js, NULL);
	json_str(&js, "schema", "qps-tune.rollback/1");
	if (r->journal[0])
		json_str(&js, "journal", r->journal);
	else
		json_null(&js, "journal");
	json_bool(&js, "discarded", r->discarded);
	json_arr_open(&js, "restored");
	for (i = 0; i < r->n; i++) {
		if (r->v[i].what != RB_RESTORED)
			continue;
		json_obj_open(&js, NULL);
		json_str(&js, "kind", r->v[i].kind);
		json_str(&js, "key", r->v[i].key);
		json_str(&js, "value", r->v[i].value);
		json_obj_close(&js);
	}
	json_arr_close(&js);
	json_arr_open(&js, "removed");
	for (i = 0; i < r->n; i++)
		if (r->v[i].what == RB_REMOVED)
			json_str(&js, NULL, r->v[i].key);
	json_arr_close(&js);
	for (w = RB_KEPT; w <= RB_UNTOUCHED; w++) {
		json_arr_open(&js, words[w]);
		for (i = 0; i < r->n; i++) {
			if ((int)r->v[i].what != w)
				continue;
			json_obj_open(&js, NULL);
			json_str(&js, "kind", r->v[i].kind);
			json_str(&js, "key", r->v[i].key);
			if (r->v[i].value)
				json_str(&js, "now", r->v[i].value);
			json_str(&js, w == RB_KEPT ? "applied" : "detail", r->v[i].detail);
			json_obj_close(&js);
		}
		json_arr_close(&js);
	}
	json_arr_open(&js, "next_steps");
	for (i = 0; i < r->nsteps; i++)
		json_str(&js, NULL, r->steps[i]);
	json_arr_close(&js);
	if (r->err)
		json_str(&js, "error", r->err);
	json_obj_close(&js);
}

int do_rollback(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "force", no_argument, NULL, 'f' },
		{ "discard-stale", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct rb_result res;
	struct tenv env;
	bool force = false, discard = false;
	int opt, rc;

	while ((opt = cli_getopt(argc, argv, "jvh", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		if (opt == 'h')
			return cli_help();
		if (opt == 'f')
			force = true;
		else if (opt == 'D')
			discard = true;
		else
			return EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage_err("rollback: unexpected argument '%s'", argv[optind]);
	if (force && discard)
		return cli_usage_err("rollback: --force and --discard-stale are exclusive");
	rc = cli_env(&env);
	if (rc)
		return rc;
	env.force = force;
	rollback_run(&env, discard, &res);
	tenv_release(&env);
	if (res.err && !res.n) {
		rc = cli_err(EXIT_FAIL, "%s", res.err);
	} else if (cli()->json) {
		/* one document: what was done, and the error if some was kept */
		render_json(&res);
		if (res.err)
			cli_warn("%s", res.err);
		rc = cli_finish(res.err ? EXIT_FAIL : EXIT_OK);
	} else if (!res.journal[0]) {
		printf("nothing to roll back (no journal in %s)\n", cli()->state_dir);
		rc = cli_finish(EXIT_OK);
	} else if (res.discarded) {
		printf("discarded stale journal %s\n", res.journal);
		rc = cli_finish(EXIT_OK);
	} else {
		render_text(&res);
		rc = res.err ? cli_err(EXIT_FAIL, "%s", res.err) : cli_finish(EXIT_OK);
	}
	rb_result_release(&res);
	return rc;
}
