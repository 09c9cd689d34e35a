/* fuzz_maps.c - libFuzzer entry point for the lines other processes shape:
 * /proc/PID/maps lines (symmaps_parse_line), perf-PID.map lines
 * (symmaps_parse_perf) and the escaping of every name we print
 * (escape_name). The input is a file, cut into lines the way getline()
 * does; each line is a private allocation of exactly its length and the
 * path buffer exactly what the contract asks, so ASan sees any over-read or
 * overflow. Checks: the documented return values, fields consistent with
 * the line, escaped output free of control bytes, ';' and newlines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "symmaps.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void one_line(const char *line, size_t len)
{
	char *path = malloc(len + 1), *esc;
	struct symmaps_line ml;
	uint64_t start, size;
	const char *name;
	size_t nlen, need;
	int r;

	if (!path)
		return;
	r = symmaps_parse_line(line, len, path, &ml);
	check(r == 0 || r == -22);
	if (r == 0) {
		check(line[len - 1] == '\n');
		check(ml.start <= ml.end);
		check(ml.path == path && strlen(path) < len);
		check(!strchr(path, '\n') || memmem(line, len, "\\012", 4));
	} else if (len && len <= SYMMAPS_LINE_MAX && line[len - 1] != '\n') {
		check(r == -22);	/* unterminated: always refused */
	}
	r = symmaps_parse_perf(line, len, &start, &size, &name, &nlen);
	check(r == 0 || r == -22);
	if (r == 0) {
		check(name >= line && name + nlen <= line + len - 1);
		check(size > 0 && start + size > start);
	}
	/* escaping: exact-size output, no byte that could forge a line or frame */
	need = escape_name(NULL, 0, line, len);
	esc = malloc(need + 1);
	if (esc) {
		check(escape_name(esc, need + 1, line, len) == need && strlen(esc) == need);
		for (size_t i = 0; i < need; i++) {
			unsigned char c = (unsigned char)esc[i];

			check(c >= 0x20 && c != 0x7f && c != ';');
		}
		free(esc);
	}
	free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;
		char *line = malloc(len ? len : 1);

		if (!line)
			return 0;
		memcpy(line, data + pos, len);
		one_line(line, len);
		free(line);
		pos += len;
	}
	return 0;
}
