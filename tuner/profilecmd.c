/* profilecmd.c - `qps-tune profiles` and `qps-tune profile show NAME|PATH [--resolved]`. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "profile.h"
#include "cli.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the profiles in PROFILE_ETC_DIR (NAME.profile), sorted, into
 * @v (malloc'ed strings, at most @max). Returns the count; 0 when the
 * directory does not exist. */
static int etc_names(char **v, int max)
{
	DIR *d = opendir(PROFILE_ETC_DIR);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while (n < max && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		/* the names profile_load accepts: no path, at most 48 characters */
		if (len <= 8 || len - 8 > 48 || strcmp(de->d_name + len - 8, ".profile") || de->d_name[0] == '.')
			continue;
		v[n] = strndup(de->d_name, len - 8);
		if (v[n])
			n++;
	}
	closedir(d);
	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	return n;
}

int do_profiles(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	const char *const *builtin = profile_builtin_names();
	char *etc[256];
	const char *names[256 + 16];
	struct json j;
	int opt, i, k, n = 0, netc;

	while ((opt = cli_getopt(argc, argv, "jvh", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		return opt == 'h' ? cli_help() : EXIT_USAGE;
	}
	if (optind < argc)
		return cli_usage_err("profiles: unexpected argument '%s'", argv[optind]);
	/* /etc's first (a name there shadows a built-in), then the built-in ones */
	netc = etc_names(etc, 256);
	for (i = 0; i < netc; i++)
		names[n++] = etc[i];
	for (i = 0; builtin[i]; i++) {
		for (k = 0; k < netc && strcmp(etc[k], builtin[i]); k++)
			;
		if (k == netc)
			names[n++] = builtin[i];
	}
	if (cli()->json) {
		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.profiles/1");
		json_arr_open(&j, "profiles");
	} else {
		printf("%-9s %-9s %-13s %-30s %s\n", "NAME", "", "CONNS", "SOURCE", "DESCRIPTION");
	}
	for (i = 0; i < n; i++) {
		char err[512], src[PATH_MAX];
		struct profile *p = profile_load(names[i], err, sizeof(err));

		/* a refused /etc file is listed with why, not skipped */
		if (p)
			snprintf(src, sizeof(src), "%s", p->source);
		else if (i < netc)
			snprintf(src, sizeof(src), "%s/%s.profile", PROFILE_ETC_DIR, names[i]);
		else
			snprintf(src, sizeof(src), "built-in");
		if (cli()->json) {
			json_obj_open(&j, NULL);
			json_str(&j, "name", names[i]);
			json_str(&j, "source", src);
			json_str(&j, "description", p ? p->description : err);
			json_int(&j, "conns", p ? p->conns : 0);
			json_bool(&j, "default", !strcmp(names[i], DEFAULT_PROFILE));
			if (!p)
				json_str(&j, "error", err);
			json_obj_close(&j);
		} else {
			printf("%-9s %-9s conns %-7ld %-30s %s%s\n", names[i],
			       !strcmp(names[i], DEFAULT_PROFILE) ? "(default)" : "", p ? p->conns : 0, src,
			       p ? "" : "error: ", p ? p->description : err);
		}
		profile_free(p);
	}
	if (cli()->json) {
		json_arr_close(&j);
		json_obj_close(&j);
	}
	for (i = 0; i < netc; i++)
		free(etc[i]);
	return cli_finish(EXIT_OK);
}

static const char *kind_word(enum rule_kind k)
{
	static const char *const n[] = { "sysctl", "nofile", "rps", "xps", "affinity", "disable", "irq" };

	return n[k];
}

int do_profile(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "resolved", no_argument, NULL, 'r' },
		{ "conns", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long conns = 0;
	bool resolved = false;
	struct profile *p;
	char err[512];
	int opt, i;

	while ((opt = cli_getopt(argc, argv, "jvhrc:", longopts)) != -1) {
		if (cli_common_opt(opt, optarg))
			continue;
		if (opt == 'h')
			return cli_help();
		if (opt == 'r') {
			resolved = true;
		} else if (opt == 'c') {
			if (parse_ulong(optarg, 100000000, &conns) || !conns)
				return cli_usage_err("invalid --conns '%s' (want 1..100000000)", optarg);
		} else {
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2 || strcmp(argv[optind], "show")) {
		static const char *const subs[] = { "show" };

		if (optind < argc && strcmp(argv[optind], "show") && cli_suggest(argv[optind], subs, 1))
			return cli_err(EXIT_USAGE, "profile: unknown subcommand '%s'; did you mean 'show'?", argv[optind]);
		return cli_usage_err("profile: want 'show NAME|PATH'");
	}
	if (!resolved && !cli()->json) {
		/* the text as written, for a built-in or a file */
		const char *t = profile_builtin_text(argv[optind + 1]);

		p = profile_load(argv[optind + 1], err, sizeof(err));
		if (!p) {
			cli_err(EXIT_FAIL, "%s", err);
			return EXIT_FAIL;
		}
		if (!strcmp(p->source, "built-in") && t) {
			fputs(t, stdout);
		} else {
			FILE *f = fopen(p->source, "r");
			char buf[4096];
			size_t n;

			if (!f) {
				cli_err(EXIT_FAIL, "cannot open '%s': %s", p->source, strerror(errno));
				profile_free(p);
				return EXIT_FAIL;
			}
			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				fwrite(buf, 1, n, stdout);
			fclose(f);
		}
		profile_free(p);
		return cli_finish(EXIT_OK);
	}
	p = profile_load(argv[optind + 1], err, sizeof(err));
	if (!p || profile_resolve(p, (long)conns, err, sizeof(err))) {
		cli_err(EXIT_FAIL, "%s", err);
		profile_free(p);
		return EXIT_FAIL;
	}
	if (cli()->json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "schema", "qps-tune.profile/1");
		json_str(&j, "name", p->name);
		json_str(&j, "source", p->source);
		json_str(&j, "description", p->description);
		json_int(&j, "conns", conns ? (long)conns : p->conns);
		json_arr_open(&j, "rules");
		for (i = 0; i < p->n; i++) {
			const struct rule *r = &p->rules[i];

			json_obj_open(&j, NULL);
			json_str(&j, "kind", kind_word(r->kind));
			if (r->kind == RULE_SYSCTL || r->kind == RULE_DISABLE)
				json_str(&j, "key", r->key);
			if (r->field >= 0)
				json_int(&j, "field", r->field);
			json_str(&j, "op", rule_op_str(r->op));
			json_str(&j, "value", r->value);
			json_str(&j, r->skip ? "skip" : "resolved", r->resolved);
			json_str(&j, "origin", r->origin);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
		profile_free(p);
		return cli_finish(EXIT_OK);
	}
	printf("# profile %s (%s), resolved for conns %ld\n# %s\n", p->name, p->source,
	       conns ? (long)conns : p->conns, p->description);
	for (i = 0; i < p->n; i++) {
		const struct rule *r = &p->rules[i];
		char key[128];

		if (r->kind == RULE_SYSCTL) {
			if (r->field >= 0)
				snprintf(key, sizeof(key), "%s[%d]", r->key, r->field);
			else
				snprintf(key, sizeof(key), "%s", r->key);
			printf("sysctl %-40s %-2s %-20s # %s%s%s\n", key, rule_op_str(r->op),
			       r->skip ? r->value : r->resolved, r->origin, r->skip ? ": " : "",
			       r->skip ? r->resolved : "");
		} else if (r->kind == RULE_NOFILE) {
			printf("nofile >= %-52s # %s (%s)\n", r->resolved, r->origin, r->value);
		} else if (r->kind == RULE_DISABLE) {
			printf("disable %-54s # %s\n", r->key, r->origin);
		} else {
			printf("%s %-*s # %s\n", kind_word(r->kind), 62 - (int)strlen(kind_word(r->kind)),
			       r->resolved, r->origin);
		}
	}
	profile_free(p);
	return cli_finish(EXIT_OK);
}
