/* test_privhint.c - lib/privhint: a permission error names the privilege it
 * needs, after the strerror text; other messages are left alone. */
#include <string.h>

#include "privhint.h"
#include "tap.h"

static const struct {
	const char *msg, *want;
} cases[] = {
	{ "cannot open state directory '/run/qps-tune': Permission denied; nothing changed",
	  "cannot open state directory '/run/qps-tune': Permission denied (run as root); nothing changed" },
	{ "cannot enter the network namespace of pid 1: Operation not permitted",
	  "cannot enter the network namespace of pid 1: Operation not permitted (needs root: CAP_SYS_ADMIN to "
	  "enter another namespace)" },
	{ "cannot write '/proc/sys/net/core/somaxconn': Permission denied",
	  "cannot write '/proc/sys/net/core/somaxconn': Permission denied (needs root: CAP_NET_ADMIN)" },
	{ "cannot write '/proc/sys/fs/nr_open': Permission denied",
	  "cannot write '/proc/sys/fs/nr_open': Permission denied (needs root: CAP_SYS_ADMIN)" },
	{ "prlimit of pid 7 nofile: Operation not permitted",
	  "prlimit of pid 7 nofile: Operation not permitted (needs root: CAP_SYS_RESOURCE)" },
	{ "bpf(BPF_PROG_LOAD): Operation not permitted",
	  "bpf(BPF_PROG_LOAD): Operation not permitted (needs root, or CAP_BPF and CAP_PERFMON)" },
	/* already names one, or is no permission error: unchanged */
	{ "cannot write 'x': Permission denied (needs root / CAP_NET_ADMIN)",
	  "cannot write 'x': Permission denied (needs root / CAP_NET_ADMIN)" },
	{ "raising it needs CAP_SYS_RESOURCE: Operation not permitted",
	  "raising it needs CAP_SYS_RESOURCE: Operation not permitted" },
	{ "cannot open 'x': No such file or directory", "cannot open 'x': No such file or directory" },
};

int main(void)
{
	char buf[512];
	size_t i;

	tap_plan((int)(sizeof(cases) / sizeof(cases[0])) + 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].msg);
		priv_annotate(buf, sizeof(buf));
		if (!tap_ok(!strcmp(buf, cases[i].want), "%s", cases[i].msg))
			tap_diag("got '%s'", buf);
	}
	/* no room: left as it was, never truncated */
	snprintf(buf, 48, "%s", "x: Permission denied");
	priv_annotate(buf, 24);
	tap_ok(!strcmp(buf, "x: Permission denied"), "a hint that does not fit is left out");
	return tap_done(1);
}
