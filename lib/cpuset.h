/* cpuset.h - CPU lists ("0-3,6") and hex masks ("f", "00000003,ffffffff") as
 * 64-bit-word bitmaps, as found in sysfs rps_cpus/xps_cpus and /proc/PID/status. */
#ifndef QPS_CPUSET_H
#define QPS_CPUSET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPUSET_WORDS 16		/* up to 1024 CPUs */

struct cpuset {
	uint64_t w[CPUSET_WORDS];
};

/* "0-3,6" -> set. Returns 0 or -EINVAL. */
int cpuset_parse_list(const char *s, struct cpuset *cs);
/* "3", "00000000,0000000f" (sysfs mask, comma every 32 bits) -> set. 0 or -EINVAL. */
int cpuset_parse_mask(const char *s, struct cpuset *cs);
/* Writes the set as a list "0-3,6" ("" if empty). Returns @buf. */
char *cpuset_list_str(const struct cpuset *cs, char *buf, size_t size);
/* Writes the set as a hex mask without leading zeros ("3", "0" when empty). */
char *cpuset_mask_str(const struct cpuset *cs, char *buf, size_t size);
int cpuset_count(const struct cpuset *cs);
bool cpuset_equal(const struct cpuset *a, const struct cpuset *b);
bool cpuset_is_set(const struct cpuset *cs, int cpu);
void cpuset_set(struct cpuset *cs, int cpu);
/* CPUs online (/sys/devices/system/cpu/online). Returns 0 or -errno. */
int cpuset_online(struct cpuset *cs);
#endif
