/* flamegraph.h - a self-contained interactive flame graph (SVG) from folded
 * stacks ("root;child;leaf COUNT"), written by our own code: one <g> per
 * frame with a <title> tooltip, a small inline script for click-to-zoom and
 * reset, names XML-escaped. No external file, font or script is referenced.
 */
#ifndef QPS_PROBE_FLAMEGRAPH_H
#define QPS_PROBE_FLAMEGRAPH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct flamegraph;

/* NULL + errno on failure. */
struct flamegraph *flamegraph_new(void);
void flamegraph_free(struct flamegraph *fg);	/* NULL is a no-op */
/* Adds @value to the stack @frames[0] (root) .. @frames[@n-1] (leaf).
 * Returns 0 or -ENOMEM. Frames ending in "_[k]" are drawn as kernel frames. */
int flamegraph_add(struct flamegraph *fg, const char *const *frames, int n, uint64_t value);
/* Adds @value to a stack given the way the stack probes resolve it: @comm
 * (the root), then @nu user frames and @nk kernel frames, each an array of
 * names @stride bytes apart, INNERMOST FIRST; kernel frames get the "_[k]"
 * suffix; @ulost/@klost add a "[lost]" frame where that stack was lost.
 * (The offcpu --svg hook.) Returns 0 or -ENOMEM. */
int flamegraph_add_split(struct flamegraph *fg, const char *comm, const char *user, int nu, bool ulost,
			 const char *kern, int nk, bool klost, size_t stride, uint64_t value);
/* Adds one folded line "a;b;c 123" (trailing newline allowed). Returns 0,
 * -EINVAL for a line without a count, or -ENOMEM. */
int flamegraph_add_folded(struct flamegraph *fg, const char *line);
/* Writes the SVG to @f. @title and @unit ("samples", "us") are escaped.
 * Returns 0 or -EIO. */
int flamegraph_write(const struct flamegraph *fg, FILE *f, const char *title, const char *unit);
/* Writes the SVG to @path atomically (a temporary file in the same
 * directory, then rename). Returns 0 or -errno. */
int flamegraph_write_file(const struct flamegraph *fg, const char *path, const char *title,
			  const char *unit);
/* Reads folded lines from @in and writes the SVG to @path (the hook for a
 * probe that already prints --folded: print to a memstream, then this).
 * Returns 0 or -errno. */
int flamegraph_from_folded(FILE *in, const char *path, const char *title, const char *unit);

#endif
