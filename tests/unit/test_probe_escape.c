/* test_probe_escape.c - escape_name(): what other processes name themselves
 * or their symbols must not forge a line, a --folded frame or a terminal
 * sequence. Table-driven; each output is also checked against the C
 * library's UTF-8 decoder (mbrtowc in C.UTF-8: valid, no control
 * character) and decoded back to the input (nothing lost or confused). */
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "escape.h"
#include "tap.h"

static const struct {
	const char *in;
	const char *want;
} cases[] = {
	{ "plain_name", "plain_name" },
	{ "a;b", "a\\x3bb" },				/* the --folded separator */
	{ "line\nbreak", "line\\x0abreak" },
	{ "\x1b[2Jclear", "\\x1b[2Jclear" },		/* ESC */
	{ "tab\there\r", "tab\\x09here\\x0d" },
	{ "del\x7f", "del\\x7f" },
	{ "back\\slash", "back\\\\slash" },		/* so "\\x3b" in a name stays distinct */
	{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },	/* valid UTF-8 kept */
	{ "bad\xff", "bad\\xff" },
	{ "over\xc0\xaflong", "over\\xc0\\xaflong" },	/* overlong '/' */
	{ "csi\xc2\x9b" "31m", "csi\\xc2\\x9b31m" },	/* C1 CSI as UTF-8 */
	{ "sur\xed\xa0\x80", "sur\\xed\\xa0\\x80" },	/* UTF-16 surrogate */
	{ "cut\xe2\x82", "cut\\xe2\\x82" },		/* truncated sequence */
	{ "std::vector<int, std::allocator<int> >::push_back(int const&)",
	  "std::vector<int, std::allocator<int> >::push_back(int const&)" },
	{ "", "" },
};

/* Valid UTF-8 without any control character (C0, DEL, C1), no ';' or '\n'. */
static bool printable(const char *s)
{
	mbstate_t st = { 0 };
	size_t n = strlen(s);

	while (n) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s, n, &st);

		if (k == (size_t)-1 || k == (size_t)-2 || k == 0 || iswcntrl((wint_t)wc) || wc == L';')
			return false;
		s += k;
		n -= k;
	}
	return true;
}

/* Inverse of escape_name(), for the round trip. */
static void unescape(char *out, const char *s)
{
	while (*s) {
		if (s[0] == '\\' && s[1] == '\\') {
			*out++ = '\\';
			s += 2;
		} else if (s[0] == '\\' && s[1] == 'x') {
			char h[3] = { s[2], s[3], 0 };

			*out++ = (char)strtol(h, NULL, 16);
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = 0;
}

int main(void)
{
	int n = (int)(sizeof(cases) / sizeof(cases[0]));
	char out[512], back[512], comm[ESCAPE_COMM_MAX], small[8];
	size_t need;

	tap_plan(n * 2 + 4);
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		tap_diag("no C.UTF-8 locale: the decoder check is weaker");
	for (int i = 0; i < n; i++) {
		need = escape_name(out, sizeof(out), cases[i].in, strlen(cases[i].in));
		tap_ok(!strcmp(out, cases[i].want) && need == strlen(out), "case %d: '%s'", i, out);
		unescape(back, out);
		tap_ok(printable(out) && !strcmp(back, cases[i].in),
		       "case %d: printable UTF-8, decodes back to the input", i);
	}
	/* a comm is 16 bytes, maybe without NUL */
	escape_comm(comm, "0123456789;\n\x1b" "ABCDEFGH");
	tap_ok(!strcmp(comm, "0123456789\\x3b\\x0a\\x1bABC"), "comm: 16 bytes at most, escaped: '%s'", comm);
	/* snprintf-like: the needed length, the output cut and terminated */
	need = escape_name(small, sizeof(small), "a;b;c", 5);
	tap_ok(need == 11 && strlen(small) == 7, "cut short: returns the length needed (%zu)", need);
	{
		char *d = escape_dup("x\ny");

		tap_ok(d && !strcmp(d, "x\\x0ay"), "escape_dup");
		free(d);
	}
	tap_ok(escape_name(NULL, 0, "abc", 3) == 3, "size 0: only the length");
	return tap_done(n * 2 + 4);
}
