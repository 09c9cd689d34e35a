/* cli.h - the command-line layer: options common to every command, the one
 * error reporter, and the command handlers. Only files of this layer
 * (main.c, cli_*.c, profilecmd.c, probe.c) include it; the engine below
 * takes a struct tenv instead. */
#ifndef QPS_CLI_H
#define QPS_CLI_H
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "env.h"
#include "tuner.h"

struct cli_opts {
	bool json;		/* one JSON document on stdout */
	int verbose;
	const char *state_dir;
	const char *root;	/* "" = / */
	const char *run_dir;
	const char *prog;	/* "qps-tune" */
	const char *cmd;	/* the command being run, for usage lines */
};
/* The options parsed so far (main and the command's own parser). */
struct cli_opts *cli(void);

/* The one error reporter: "qps-tune: <msg>" on stderr, and under --json also
 * {"error": "<msg>"} as the document on stdout. Call it once per failing
 * command; never truncates. Returns @rc, so: return cli_err(EXIT_USAGE, ...). */
int cli_err(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An extra line on stderr (warnings, the errors before the final one). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error for the current command: one line, the message and where the
 * usage is ("see 'qps-tune audit --help'"), through cli_err; exit code 2. */
int cli_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Flushes stdout; returns EXIT_FAIL with a message when that fails, else @rc. */
int cli_finish(int rc);
/* Handles an option common to every command. True when @c was one. */
bool cli_common_opt(int c, const char *arg);
/* Runs getopt_long with opterr off; an unknown option (with the closest
 * long one: "did you mean '--profile'?") or a missing argument becomes a
 * usage error through cli_usage_err (returns '?'). */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* The engine's environment from the options. Returns 0 or an exit code
 * after reporting. */
int cli_env(struct tenv *e);

#define CLI_COMMON_LONGOPTS \
	{ "json", no_argument, NULL, 'j' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "state-dir", required_argument, NULL, 0x101 }, \
	{ "root", required_argument, NULL, 0x102 }, \
	{ "run-dir", required_argument, NULL, 0x103 }, \
	{ "help", no_argument, NULL, 'h' }

int do_audit(int argc, char **argv);
int do_apply(int argc, char **argv);
int do_diagnose(int argc, char **argv);
int do_rollback(int argc, char **argv);
int do_checks(int argc, char **argv);
int do_profiles(int argc, char **argv);
int do_profile(int argc, char **argv);
int do_probe(int argc, char **argv);
/* Prints the help of the current command (cli()->cmd) on stdout: its usage,
 * its options and the common ones. Returns the exit code (0). */
int cli_help(void);
/* The one of @names (@n of them) closest to @word by edit distance, when at
 * most 2 edits away and fewer than @word's length; else NULL. */
const char *cli_suggest(const char *word, const char *const *names, size_t n);

/* Named profiles are also looked up here (real root only; root-owned files). */
#define PROFILE_ETC_DIR "/etc/qps-tune/profiles"
#endif
