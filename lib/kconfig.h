/* kconfig.h - look up options of the running kernel's build configuration,
 * from /proc/config.gz (zlib) or else /boot/config-$(uname -r). */
#ifndef QPS_KCONFIG_H
#define QPS_KCONFIG_H
#include <stddef.h>

struct kconfig_query {
	const char *name;	/* "CONFIG_KPROBES" */
	char val[16];		/* "y", "m", a number, or "" when unset / not found */
};

/* Fills the @n queries in one pass over the config. @source (may be NULL)
 * gets the file that was read. Returns 0, or -ENOENT when no config is
 * available, or -errno. */
int kconfig_lookup(struct kconfig_query *q, int n, char *source, size_t source_size);
#endif
