/* test_audit_sysctld.c - what systemd-sysctl will set at boot, as the audit's
 * persistence checks read it: directory precedence (a name in /etc masks the
 * same name in /usr/lib), lexical order across directories (last value
 * wins), '-' prefixes, slash-separated keys, comments, masking with
 * /dev/null; under --root no other symlink is followed (a link to a secret
 * outside, or even inside, the tree is not read). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysctld.h"
#include "tap.h"
#include "env.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256], cmd[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd))
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void link_to(const char *target, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	if (symlink(target, path))
		abort();
}

int main(void)
{
	const struct sysctld_entry *e;
	struct sysctld s;
	struct tenv env;
	char cmd[128];
	int r;

	snprintf(root, sizeof(root), "/tmp/test_sysctld.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	put("/usr/lib/sysctl.d/50-default.conf", "# vendor\nnet.core.somaxconn = 1024\n"
		"kernel.pid_max = 4194304\n-net.ipv4.tcp_fin_timeout=30\n");
	put("/etc/sysctl.d/50-default.conf", "; the admin's copy masks the vendor's\nnet.core.somaxconn = 2048\n");
	put("/run/sysctl.d/60-run.conf", "net/ipv4/tcp_syncookies = 2\n");
	put("/usr/lib/sysctl.d/70-masked.conf", "vm.swappiness = 1\n");
	link_to("/dev/null", "/etc/sysctl.d/70-masked.conf");
	put("/etc/sysctl.d/80-tabs.conf", "net.ipv4.tcp_rmem =\t4096\t131072   6291456 \n");
	put("/etc/sysctl.conf", "net.core.somaxconn = 8192\n");
	link_to("/etc/sysctl.conf", "/etc/sysctl.d/99-sysctl.conf");	/* a symlink under --root: refused */
	put("/etc/sysctl.d/90-later.conf", "net.core.somaxconn = 4096\n");
	link_to("/etc/hostname", "/etc/sysctl.d/95-secret.conf");	/* would print a host file */
	put("/etc/sysctl.d/README", "not a .conf file = 1\n");

	if (tenv_init(&env, root, "/nonexistent", "/nonexistent"))
		return 1;
	r = sysctld_load(&env, &s);
	tap_ok(r == 0, "sysctl.d loads");
	e = sysctld_final(&s, "net.core.somaxconn");
	tap_ok(e && !strcmp(e->value, "4096") && !strcmp(e->file, "/etc/sysctl.d/90-later.conf"),
	       "last file in lexical order wins; the 99-sysctl.conf symlink is not followed under --root");
	{
		int i, bad = 0;

		for (i = 0; i < s.n; i++)
			bad += !strcmp(s.v[i].file, "/etc/sysctl.d/95-secret.conf") ||
			       !strcmp(s.v[i].file, "/etc/sysctl.d/99-sysctl.conf");
		tap_ok(bad == 0, "no entry read through a symlink under --root");
	}
	e = sysctld_final(&s, "kernel.pid_max");
	tap_ok(e == NULL, "/etc/sysctl.d/50-default.conf masks /usr/lib/sysctl.d/50-default.conf");
	e = sysctld_final(&s, "net.ipv4.tcp_syncookies");
	tap_ok(e && !strcmp(e->value, "2") && e->line == 1, "slash-separated keys, /run/sysctl.d read");
	tap_ok(sysctld_final(&s, "vm.swappiness") == NULL, "a /dev/null link in /etc masks the file");
	e = sysctld_final(&s, "net.ipv4.tcp_rmem");
	tap_ok(e && !strcmp(e->value, "4096 131072 6291456"), "whitespace folded in values");
	tap_ok(sysctld_final(&s, "not a .conf file") == NULL, "only *.conf files are read");
	{
		int i, n = 0;

		for (i = 0; i < s.n; i++)
			n += !strcmp(s.v[i].key, "net.core.somaxconn");
		tap_ok(n == 2, "both somaxconn entries kept in order, for shadowing reports (got %d)", n);
	}
	sysctld_release(&s);
	tenv_release(&env);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		tap_diag("cleanup failed");
	return tap_done(0);
}
