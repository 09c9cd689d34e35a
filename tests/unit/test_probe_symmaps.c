/* test_probe_symmaps.c - the maps and perf-map line parsers, table-driven.
 * Each line is placed right before a PROT_NONE page (and the path buffer
 * gets exactly the documented len + 1 bytes, also before one), so any
 * over-read or overflow crashes the test. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "escape.h"
#include "symmaps.h"
#include "tap.h"

static const struct {
	const char *line;
	int want;
	const char *path;		/* when want == 0 */
	unsigned long long start, end, off, ino;
	int exec, deleted;
} maps[] = {
	{ "55d0c0a00000-55d0c0a21000 r-xp 00001000 fd:01 1234567                    /usr/bin/x\n", 0,
	  "/usr/bin/x", 0x55d0c0a00000ull, 0x55d0c0a21000ull, 0x1000, 1234567, 1, 0 },
	{ "7f00-7f10 r--p 00000000 08:02 42 /tmp/a b (deleted)\n", 0, "/tmp/a b", 0x7f00, 0x7f10, 0, 42, 0, 1 },
	{ "7f00-7f10 r-xs 00000000 08:02 42 /tmp/new\\012line\n", 0, "/tmp/new\nline", 0x7f00, 0x7f10, 0, 42, 1, 0 },
	{ "7ffc1b5f0000-7ffc1b5f2000 r-xp 00000000 00:00 0                          [vdso]\n", 0,
	  "[vdso]", 0x7ffc1b5f0000ull, 0x7ffc1b5f2000ull, 0, 0, 1, 0 },
	{ "7f00-7f10 rw-p 00000000 00:00 0\n", 0, "", 0x7f00, 0x7f10, 0, 0, 0, 0 },
	{ "7f00-7f10 r-xp 00000000 08:02 42 /x", -22, NULL, 0, 0, 0, 0, 0, 0 },	/* unterminated: a cut line */
	{ "7f00-7f10 r-xp 00000000 08:02 42 /x\0y\n", -22, NULL, 0, 0, 0, 0, 0, 0 },	/* see len below */
	{ "7f10-7f00 r-xp 00000000 08:02 42 /x\n", -22, NULL, 0, 0, 0, 0, 0, 0 },	/* end < start */
	{ "7f00-7f10 rxxp 00000000 08:02 42 /x\n", -22, NULL, 0, 0, 0, 0, 0, 0 },	/* perms */
	{ "10000000000000000-7f10 r-xp 0 08:02 42 /x\n", -22, NULL, 0, 0, 0, 0, 0, 0 },	/* 17 digits */
	{ "7f00-7f10 r-xp 00000000 08:02 99999999999999999999 /x\n", -22, NULL, 0, 0, 0, 0, 0, 0 },
	{ "7f00-7f10 r-xp 00000000 0802 42 /x\n", -22, NULL, 0, 0, 0, 0, 0, 0 },	/* dev */
	{ "      7f0000000000-7f0000001000 r-xp 00000000 00:00 0 /tmp/fifo\n", -22, NULL, 0, 0, 0, 0, 0, 0 },
	{ "\n", -22, NULL, 0, 0, 0, 0, 0, 0 },
};

static const struct {
	const char *line;
	int want;
	unsigned long long start, size;
	const char *name;
} perf[] = {
	{ "7f12a0001000 40 Interpreter::jit_one\n", 0, 0x7f12a0001000ull, 0x40, "Interpreter::jit_one" },
	{ "0x7f12a0002000 0x80 LazyCompile:*hot js\n", 0, 0x7f12a0002000ull, 0x80, "LazyCompile:*hot js" },
	{ "7f12a0003000 10 partial", -22, 0, 0, NULL },		/* being written */
	{ "7f12a0003000 0 zero\n", -22, 0, 0, NULL },
	{ "ffffffffffffff00 200 wraps\n", -22, 0, 0, NULL },
	{ "7f12a0003000 10 \n", -22, 0, 0, NULL },		/* no name */
	{ "7f12a0003000 10\n", -22, 0, 0, NULL },
	{ "zz 10 x\n", -22, 0, 0, NULL },
};

/* @len bytes of @s copied to end right at a PROT_NONE page. */
static char *guarded(char *area, size_t page, const char *s, size_t len)
{
	char *p = area + page - len;

	memcpy(p, s, len);
	return p;
}

int main(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), nm = sizeof(maps) / sizeof(maps[0]);
	size_t np = sizeof(perf) / sizeof(perf[0]);
	char *a = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	tap_plan((int)(nm + np + 1));
	mprotect(a + page, page, PROT_NONE);
	mprotect(a + 3 * page, page, PROT_NONE);
	for (size_t i = 0; i < nm; i++) {
		size_t len = strlen(maps[i].line);
		struct symmaps_line ml;
		char *line, *path, shown[256];
		int r;

		if (i == 6)
			len = sizeof("7f00-7f10 r-xp 00000000 08:02 42 /x\0y\n") - 1;
		line = guarded(a, page, maps[i].line, len);
		path = a + 3 * page - (len + 1);	/* exactly len + 1 bytes */
		r = symmaps_parse_line(line, len, path, &ml);
		escape_name(shown, sizeof(shown), r == 0 ? ml.path : "(refused)", SIZE_MAX);
		if (maps[i].want)
			tap_ok(r == maps[i].want, "maps %zu refused (%d)", i, r);
		else
			tap_ok(r == 0 && !strcmp(ml.path, maps[i].path) && ml.start == maps[i].start &&
				       ml.end == maps[i].end && ml.off == maps[i].off && ml.ino == maps[i].ino &&
				       ml.exec == maps[i].exec && ml.deleted == maps[i].deleted,
			       "maps %zu: '%s'", i, shown);
	}
	for (size_t i = 0; i < np; i++) {
		size_t len = strlen(perf[i].line), nlen = 0;
		uint64_t start = 0, size = 0;
		const char *name = NULL;
		int r = symmaps_parse_perf(guarded(a, page, perf[i].line, len), len, &start, &size, &name, &nlen);

		if (perf[i].want)
			tap_ok(r == perf[i].want, "perf %zu refused (%d)", i, r);
		else
			tap_ok(r == 0 && start == perf[i].start && size == perf[i].size &&
				       nlen == strlen(perf[i].name) && !memcmp(name, perf[i].name, nlen),
			       "perf %zu: '%.*s'", i, (int)nlen, name ? name : "");
	}
	{
		/* a line over the cap is refused even when terminated */
		static char big[SYMMAPS_LINE_MAX + 64];
		char path[8];
		struct symmaps_line ml;

		memset(big, 'a', sizeof(big));
		memcpy(big, "7f00-7f10 r-xp 00000000 08:02 42 /", 34);
		big[sizeof(big) - 1] = '\n';
		tap_ok(symmaps_parse_line(big, sizeof(big), path, &ml) == -22,
		       "a line over SYMMAPS_LINE_MAX (%d) is refused", SYMMAPS_LINE_MAX);
	}
	return tap_done((int)(nm + np + 1));
}
