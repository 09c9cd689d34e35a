/* symmaps.c - maps and perf-map line parsers (see symmaps.h). */
#include "symmaps.h"

#include <errno.h>
#include <string.h>

/* A hex number of 1..16 digits at *@p, then one @sep. */
static int hex_field(const char **p, const char *end, char sep, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int n = 0;

	for (; s < end && n < 17; s++, n++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		x = x << 4 | (uint64_t)d;
	}
	if (n == 0 || n > 16 || s >= end || *s != sep)
		return -EINVAL;
	*p = s + 1;
	*v = x;
	return 0;
}

static int dec_field(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int n = 0;

	for (; s < end && *s >= '0' && *s <= '9' && n < 20; s++, n++) {
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (n == 0 || (s < end && *s != ' ' && *s != '\n'))
		return -EINVAL;
	*p = s;
	*v = x;
	return 0;
}

int symmaps_parse_line(const char *line, size_t len, char *path, struct symmaps_line *ml)
{
	const char *p = line, *end, *perm;
	uint64_t maj, min;
	size_t n = 0;

	if (!len || len > SYMMAPS_LINE_MAX || line[len - 1] != '\n' || memchr(line, 0, len))
		return -EINVAL;
	end = line + len - 1;		/* the '\n' */
	memset(ml, 0, sizeof(*ml));
	/* start-end perms offset maj:min inode [path] */
	if (hex_field(&p, end, '-', &ml->start) || hex_field(&p, end, ' ', &ml->end) ||
	    ml->end < ml->start)
		return -EINVAL;
	perm = p;
	if (end - p < 5 || p[4] != ' ' || !strchr("r-", p[0]) || !strchr("w-", p[1]) ||
	    !strchr("x-", p[2]) || !strchr("ps", p[3]))
		return -EINVAL;
	ml->exec = perm[2] == 'x';
	p += 5;
	if (hex_field(&p, end, ' ', &ml->off) || hex_field(&p, end, ':', &maj) ||
	    hex_field(&p, end, ' ', &min) || maj > 0xfff || min > 0xfffff ||
	    dec_field(&p, end, &ml->ino))
		return -EINVAL;
	ml->maj = (unsigned int)maj;
	ml->min = (unsigned int)min;
	while (p < end && *p == ' ')
		p++;
	/* the kernel escapes only '\n' in paths, as "\012" */
	while (p < end) {
		if (end - p >= 4 && !memcmp(p, "\\012", 4)) {
			path[n++] = '\n';
			p += 4;
		} else {
			path[n++] = *p++;
		}
	}
	path[n] = 0;
	if (path[0] == '/' && n > 10 && !strcmp(path + n - 10, " (deleted)")) {
		path[n - 10] = 0;
		ml->deleted = true;
	}
	ml->path = path;
	return 0;
}

int symmaps_parse_perf(const char *line, size_t len, uint64_t *start, uint64_t *size,
		       const char **name, size_t *namelen)
{
	const char *p = line, *end;

	if (!len || len > SYMMAPS_PERF_LINE_MAX || line[len - 1] != '\n' || memchr(line, 0, len))
		return -EINVAL;
	end = line + len - 1;
	/* perf accepts an optional "0x" */
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (hex_field(&p, end, ' ', start))
		return -EINVAL;
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (hex_field(&p, end, ' ', size) || !*size || *start + *size < *start || p >= end)
		return -EINVAL;
	*name = p;
	*namelen = (size_t)(end - p);
	return 0;
}
