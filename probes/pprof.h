/* pprof.h - a gzip'd profile.proto (the format `go tool pprof` reads), from
 * symbolized stacks, written by our own protobuf encoder and zlib.
 *
 * Each sample has two values: a count (sample type "samples"/"count") and
 * that count times the period (e.g. "cpu"/"nanoseconds"). One Function and
 * one Location per distinct frame name (no addresses: frames are already
 * symbolized), no Mapping.
 */
#ifndef QPS_PROBE_PPROF_H
#define QPS_PROBE_PPROF_H
#include <stdint.h>

struct pprof;

/* @type/@unit name the second value ("cpu", "nanoseconds"); @period is the
 * value of one sample in @unit. NULL + errno on failure. */
struct pprof *pprof_new(const char *type, const char *unit, int64_t period);
void pprof_free(struct pprof *p);	/* NULL is a no-op */
/* Adds @count samples of the stack @frames[0] (leaf) .. @frames[@n-1] (root).
 * Returns 0 or -ENOMEM. */
int pprof_add(struct pprof *p, const char *const *frames, int n, uint64_t count);
/* Writes the gzip'd profile to @path atomically (temporary file + rename).
 * @time_ns: wall-clock start (ns since the epoch), @duration_ns: the window.
 * Returns 0 or -errno. */
int pprof_write_file(struct pprof *p, const char *path, int64_t time_ns, int64_t duration_ns);

#endif
