/* common.c - options and reporting helpers every qps-tune command shares
 * (kept out of main.c so unit tests can link them). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "knob.h"
#include "tuner.h"

struct tuner_opts g_opt = {
	.state_dir = DEFAULT_STATE_DIR,
	.root = "",
	.prog = "qps-tune",
};

static void vmsg(bool to_json, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "%s: %s\n", g_opt.prog, buf);
	if (to_json && g_opt.json) {
		struct json j;

		json_init(&j, stdout);
		json_obj_open(&j, NULL);
		json_str(&j, "error", buf);
		json_obj_close(&j);
	}
}

void tuner_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(true, fmt, ap);
	va_end(ap);
}

void tuner_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(false, fmt, ap);
	va_end(ap);
}

bool tuner_common_opt(int c, const char *arg)
{
	switch (c) {
	case 'j':
		g_opt.json = true;
		return true;
	case 'v':
		g_opt.verbose++;
		return true;
	case 0x101:
		g_opt.state_dir = arg;
		return true;
	case 0x102:
		/* "/" and "" both mean the real root */
		g_opt.root = strcmp(arg, "/") ? arg : "";
		return true;
	}
	return false;
}

char *root_path(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", g_opt.root, path);
	return buf;
}

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

int tuner_finish(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to stdout: %s\n", g_opt.prog,
			strerror(errno ? errno : EIO));
		return EXIT_FAIL;
	}
	return rc;
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
		bool wa = *a == ' ' || *a == '\t', wb = *b == ' ' || *b == '\t';

		if (wa && wb) {
			while (*a == ' ' || *a == '\t')
				a++;
			while (*b == ' ' || *b == '\t')
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
