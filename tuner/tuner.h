/* tuner.h - small helpers every part of qps-tune shares: exit codes, number
 * parsing, value comparison. No options and no globals here: the CLI keeps
 * those (cli.h), the engine gets struct tenv (env.h). */
#ifndef QPS_TUNER_H
#define QPS_TUNER_H
#include <stdbool.h>
#include <stddef.h>

#include "version.h"		/* $(BUILD)/version.h: QPS_VERSION, from scripts/version.sh */
#define QPS_TUNE_VERSION QPS_VERSION
#define DEFAULT_PROFILE "web-10k"

/* Exit codes are part of the CLI contract (docs/cli-contract.md). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_DRIFT = 3,		/* audit: at least one check failed */
};

/* Parses a positive decimal integer (no sign, no junk). Returns 0 or -EINVAL/-ERANGE. */
int parse_ulong(const char *s, unsigned long max, unsigned long *out);
/* True if @a and @b are equal up to runs of blanks ("4096\t131072" == "4096 131072"),
 * or are lists of the same integers ("01" == "1"). */
bool value_equal(const char *a, const char *b);
#endif
