/* common.c - helpers shared by the CLI and the engine (see tuner.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "knob.h"
#include "tuner.h"

int parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Equal up to runs of blanks (the kernel prints tabs where we wrote spaces). */
bool value_equal(const char *a, const char *b)
{
	long long fa[16], fb[16];
	int na = knob_fields(a, fa, 16), nb = knob_fields(b, fb, 16), i;

	/* integer lists compare by value: "01" is what the kernel prints as "1" */
	if (na > 0 && na == nb) {
		for (i = 0; i < na; i++)
			if (fa[i] != fb[i])
				return false;
		return true;
	}
	for (;;) {
		bool wa = *a == ' ' || *a == '\t' || *a == '\n', wb = *b == ' ' || *b == '\t' || *b == '\n';

		if (wa && wb) {
			while (*a == ' ' || *a == '\t' || *a == '\n')
				a++;
			while (*b == ' ' || *b == '\t' || *b == '\n')
				b++;
			continue;
		}
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}
