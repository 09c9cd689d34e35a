/* promfile.h - the node_exporter textfile format (Prometheus text exposition
 * 0.0.4), written atomically: everything goes to a temporary file in the
 * target's directory, which promfile_commit() renames over the target, so
 * the collector never reads half a file.
 *
 *   struct promfile *p = promfile_new("/var/lib/node_exporter/qps.prom");
 *   promfile_help(p, "qps_x_total", "counter", "what it counts");
 *   promfile_sample(p, "qps_x_total", (const char *[]){ "port", "80", NULL }, 3);
 *   err = promfile_commit(p);   then promfile_free(p)
 *
 * Write each metric family's samples together, after its promfile_help().
 * Label values are escaped (\\, \", \n); names are checked. Errors are
 * sticky: the first one is returned by promfile_commit(). Never prints.
 */
#ifndef QPS_PROMFILE_H
#define QPS_PROMFILE_H
#include <stdint.h>

struct promfile;

/* NULL + errno on failure (cannot create the temporary file). */
struct promfile *promfile_new(const char *path);
/* Discards the temporary file unless committed. NULL is a no-op. */
void promfile_free(struct promfile *p);
/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram). */
void promfile_help(struct promfile *p, const char *name, const char *type, const char *help);
/* "name{k="v",...} value"; @labels: NULL or key, value, ..., NULL. */
void promfile_sample(struct promfile *p, const char *name, const char *const *labels, double value);
/* A counter family by one label: "# HELP/# TYPE name counter" and one
 * sample name{@label="@values[i]"} @counts[i] for each of the @n. */
void promfile_counters(struct promfile *p, const char *name, const char *help, const char *label,
		       const char *const *values, const uint64_t *counts, int n);
/* A histogram from log2 slots (slot 0: [0, 2), slot i: [2^i, 2^(i+1)) in
 * the probe's unit): name_bucket{le=...} cumulative for each upper bound
 * times @scale (e.g. 1e-6 for microseconds -> seconds) and +Inf, name_sum
 * (@sum, already in base units) and name_count. */
void promfile_log2_hist(struct promfile *p, const char *name, const char *const *labels,
			const unsigned long long *slots, int nslots, double scale, double sum);
/* Flushes, fsyncs and renames over the target. Returns 0 or -errno. */
int promfile_commit(struct promfile *p);

#endif
