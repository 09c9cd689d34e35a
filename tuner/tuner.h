/* tuner.h - what the qps-tune commands share: global options, exit codes,
 * the command handlers and the few helpers every command uses to report. */
#ifndef QPS_TUNER_H
#define QPS_TUNER_H
#include <stdbool.h>
#include <stddef.h>

#define QPS_TUNE_VERSION "0.1.0"
#define DEFAULT_STATE_DIR "/var/lib/qps-tune"
#define DEFAULT_PROFILE "web-10k"

/* Exit codes are part of the CLI contract (docs/cli-contract.md). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_DRIFT = 3,		/* audit: at least one check failed */
};

struct tuner_opts {
	bool json;		/* one JSON document on stdout */
	int verbose;
	const char *state_dir;	/* journal and lock live here */
	const char *root;	/* re-roots /etc files; "" means / (never /proc/sys) */
	const char *prog;	/* "qps-tune" */
};
extern struct tuner_opts g_opt;

int do_audit(int argc, char **argv);
int do_apply(int argc, char **argv);
int do_rollback(int argc, char **argv);
int do_profiles(int argc, char **argv);
int do_profile(int argc, char **argv);

/* "qps-tune: <msg>" on stderr; in JSON mode also {"error": "<msg>"} on stdout.
 * Call it once per failing command, at its top level. */
void tuner_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like tuner_err() but only to stderr (warnings, extra lines). */
void tuner_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Handles an option common to every command (--json, -v, --state-dir, --root).
 * Returns true when @c was one. */
bool tuner_common_opt(int c, const char *arg);
/* getopt_long entries for the common options; spread them into a command's table. */
#define TUNER_COMMON_LONGOPTS \
	{ "json", no_argument, NULL, 'j' }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "state-dir", required_argument, NULL, 0x101 }, \
	{ "root", required_argument, NULL, 0x102 }

/* /etc path @path under --root into @buf. Returns @buf. */
char *root_path(const char *path, char *buf, size_t size);
/* Parses a positive decimal integer (no sign, no junk). Returns 0 or -EINVAL/-ERANGE. */
int parse_ulong(const char *s, unsigned long max, unsigned long *out);
/* True if @a and @b are equal up to runs of blanks ("4096\t131072" == "4096 131072"),
 * or are lists of the same integers ("01" == "1"). */
bool value_equal(const char *a, const char *b);
/* Flushes stdout; returns EXIT_FAIL with a message when that fails, else @rc. */
int tuner_finish(int rc);
#endif
