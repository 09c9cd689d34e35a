/* ksyms.h - kernel symbols from /proc/kallsyms, for stack symbolization. */
#ifndef QPS_PROBE_KSYMS_H
#define QPS_PROBE_KSYMS_H
#include <stddef.h>
#include <stdint.h>

struct ksyms;

/* Loads the text symbols of /proc/kallsyms (@path NULL) or of @path, with
 * the modules' ("name [module]"). Returns NULL and sets errno on failure
 * (EPERM: addresses hidden, i.e. all zero: ksyms_hidden_reason() says why).
 * Free with ksyms_free(). */
struct ksyms *ksyms_load(const char *path);
void ksyms_free(struct ksyms *k);	/* NULL is a no-op */
/* The function containing @addr (nearest symbol at or below it), its
 * offset in *@off; NULL if @addr is below every symbol. Owned by @k; names
 * are escaped (escape.h). */
const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *off);
/* The same, and in *@mod the module the function belongs to (NULL: the
 * kernel image itself), e.g. "bpf" or "nf_tables". */
const char *ksyms_find_mod(const struct ksyms *k, uint64_t addr, uint64_t *off, const char **mod);
int ksyms_count(const struct ksyms *k);

enum ksyms_hidden {
	KSYMS_SHOWN,			/* this process sees kernel addresses */
	KSYMS_HIDDEN_KPTR_RESTRICT,	/* kernel.kptr_restrict >= 2: hidden from everyone */
	KSYMS_HIDDEN_CAP_SYSLOG,	/* kptr_restrict 1, and no CAP_SYSLOG */
	KSYMS_HIDDEN_CAP_SYSLOG_PARANOID, /* kptr_restrict 0, perf_event_paranoid > 1, no CAP_SYSLOG */
	KSYMS_HIDDEN_UNKNOWN,		/* hidden, and none of the above explains it */
};
/* Why /proc/kallsyms shows this process zero addresses, the kernel's rule
 * (kallsyms_show_value()) applied to kernel.kptr_restrict,
 * kernel.perf_event_paranoid and CAP_SYSLOG in our effective set. @buf gets
 * a sentence naming the sysctl or capability to change (no trailing stop),
 * e.g. "kernel.kptr_restrict is 1 and this process lacks CAP_SYSLOG". */
enum ksyms_hidden ksyms_hidden_reason(char *buf, size_t size);

#endif
