/* ksyms.h - kernel symbols from /proc/kallsyms, for stack symbolization. */
#ifndef QPS_PROBE_KSYMS_H
#define QPS_PROBE_KSYMS_H
#include <stdint.h>

struct ksyms;

/* Loads the text symbols of /proc/kallsyms (@path NULL) or of @path.
 * Returns NULL and sets errno on failure (EPERM: addresses hidden by
 * kernel.kptr_restrict, i.e. all zero). Free with ksyms_free(). */
struct ksyms *ksyms_load(const char *path);
void ksyms_free(struct ksyms *k);	/* NULL is a no-op */
/* The function containing @addr (nearest symbol at or below it), its
 * offset in *@off; NULL if @addr is below every symbol. Owned by @k. */
const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *off);
int ksyms_count(const struct ksyms *k);

#endif
