/* symmaps.h - parsers for lines other processes write or shape:
 * /proc/PID/maps (paths are chosen by any user) and /tmp/perf-PID.map
 * (written by the process itself). Both take one line as read by getline(),
 * newline included; a line that does not end in '\n' is refused (a line cut
 * by a reader's buffer must never be parsed as a line of its own). */
#ifndef QPS_PROBE_SYMMAPS_H
#define QPS_PROBE_SYMMAPS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest maps line we accept: a path of PATH_MAX bytes renders up to 4x
 * as long (the kernel shows '\n' as "\012") plus the fields before it. */
#define SYMMAPS_LINE_MAX (4 * 4096 + 256)
#define SYMMAPS_PERF_LINE_MAX 8192	/* a perf map line: "START SIZE name\n" */

struct symmaps_line {
	uint64_t start, end, off, ino;
	unsigned int maj, min;
	bool exec;			/* 'x' in the permissions */
	bool deleted;			/* " (deleted)" was cut from @path */
	/* the path, "\012" decoded to '\n' (NUL-terminated, in caller storage),
	 * or a pseudo name ("[vdso]"), or "" (anonymous) */
	char *path;
};

/* Parses the maps line @line of @len bytes (getline's result, '\n' last);
 * @path must hold @len + 1 bytes. Returns 0, or -EINVAL (malformed,
 * unterminated, over SYMMAPS_LINE_MAX, or a NUL inside). */
int symmaps_parse_line(const char *line, size_t len, char *path, struct symmaps_line *ml);

/* Parses one perf map line "START SIZE name\n" (hex, hex, rest of the line).
 * *@name points into @line (not NUL-terminated: *@namelen bytes). Returns 0
 * or -EINVAL. */
int symmaps_parse_perf(const char *line, size_t len, uint64_t *start, uint64_t *size,
		       const char **name, size_t *namelen);

#endif
