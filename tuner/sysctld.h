/* sysctld.h - what systemd-sysctl will set at boot: every *.conf in
 * /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d,
 * /lib/sysctl.d (a name in an earlier directory masks the same name in a
 * later one), applied in lexical order of file name; the last value wins.
 * Paths are re-rooted under --root. */
#ifndef QPS_SYSCTLD_H
#define QPS_SYSCTLD_H
#include <stddef.h>

#include "env.h"

struct sysctld_entry {
	char key[96];		/* dots, never slashes */
	char value[192];	/* whitespace folded */
	char file[256];		/* path as the host sees it (without --root) */
	int line;
};

struct sysctld {
	struct sysctld_entry *v;	/* in application order */
	int n, cap;
};

/* Reads all files under @env's root (symlinks refused under --root).
 * Returns 0 or -errno (missing directories are fine). */
int sysctld_load(const struct tenv *env, struct sysctld *s);
/* The entry that wins for @key at boot, or NULL. */
const struct sysctld_entry *sysctld_final(const struct sysctld *s, const char *key);
void sysctld_release(struct sysctld *s);

/* Our own persisted file. */
#define SYSCTLD_OURS "/etc/sysctl.d/90-qps-tune.conf"
#endif
