/* cpuset.c - CPU list and mask parsing; see cpuset.h. */
#include "cpuset.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

#define MAXCPU (CPUSET_WORDS * 64)

void cpuset_set(struct cpuset *cs, int cpu)
{
	if (cpu >= 0 && cpu < MAXCPU)
		cs->w[cpu / 64] |= 1ULL << (cpu % 64);
}

bool cpuset_is_set(const struct cpuset *cs, int cpu)
{
	return cpu >= 0 && cpu < MAXCPU && (cs->w[cpu / 64] >> (cpu % 64)) & 1;
}

int cpuset_count(const struct cpuset *cs)
{
	int i, n = 0;

	for (i = 0; i < CPUSET_WORDS; i++)
		n += __builtin_popcountll(cs->w[i]);
	return n;
}

bool cpuset_equal(const struct cpuset *a, const struct cpuset *b)
{
	return !memcmp(a, b, sizeof(*a));
}

int cpuset_parse_list(const char *s, struct cpuset *cs)
{
	const char *p = s;

	memset(cs, 0, sizeof(*cs));
	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && *p != '\n') {
		char *end;
		long a, b;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		a = strtol(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtol(p, &end, 10);
			p = end;
		}
		if (a > b || b >= MAXCPU)
			return -EINVAL;
		for (; a <= b; a++)
			cpuset_set(cs, (int)a);
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -EINVAL;
	}
	return 0;
}

int cpuset_parse_mask(const char *s, struct cpuset *cs)
{
	size_t len = strlen(s);
	int bit = 0;

	memset(cs, 0, sizeof(*cs));
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	if (!len)
		return -EINVAL;
	while (len--) {
		char c = s[len];
		int v, i;

		if (c == ',')
			continue;
		if (!isxdigit((unsigned char)c))
			return -EINVAL;
		v = isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
		for (i = 0; i < 4; i++, bit++)
			if (v & (1 << i))
				cpuset_set(cs, bit);
	}
	return 0;
}

char *cpuset_list_str(const struct cpuset *cs, char *buf, size_t size)
{
	size_t o = 0;
	int c = 0;

	buf[0] = '\0';
	while (c < MAXCPU) {
		int start;

		if (!cpuset_is_set(cs, c)) {
			c++;
			continue;
		}
		start = c;
		while (c + 1 < MAXCPU && cpuset_is_set(cs, c + 1))
			c++;
		if (o < size)
			o += snprintf(buf + o, size - o, start == c ? "%s%d" : "%s%d-%d",
				      o ? "," : "", start, c);
		c++;
	}
	return buf;
}

char *cpuset_mask_str(const struct cpuset *cs, char *buf, size_t size)
{
	/* sysfs bitmaps take 32-bit hex groups separated by commas */
	int top = CPUSET_WORDS * 2 - 1, i;
	size_t o;

#define GROUP(i) ((unsigned)(cs->w[(i) / 2] >> ((i) % 2 * 32)) & 0xffffffffu)
	while (top > 0 && !GROUP(top))
		top--;
	o = snprintf(buf, size, "%x", GROUP(top));
	for (i = top - 1; i >= 0 && o < size; i--)
		o += snprintf(buf + o, size - o, ",%08x", GROUP(i));
#undef GROUP
	return buf;
}

int cpuset_online(struct cpuset *cs)
{
	char buf[256];
	ssize_t n = procfs_read("/sys/devices/system/cpu/online", buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return cpuset_parse_list(buf, cs);
}
