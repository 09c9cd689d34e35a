/* test_profile.c - the profile parser, expressions, inheritance and rule
 * evaluation. Parser input sits right before a PROT_NONE page, so any read
 * past the terminating NUL crashes the test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "profile.h"
#include "tap.h"

static char *guard_base;
static size_t guard_len;

/* Copies @s so that its NUL is the last byte before an unreadable page. */
static const char *guarded(const char *s)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = strlen(s) + 1, pages = (n + pg - 1) / pg + 1;
	char *m;

	if (guard_base)
		munmap(guard_base, guard_len);
	guard_len = pages * pg;
	m = mmap(NULL, guard_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		abort();
	mprotect(m + (pages - 1) * pg, pg, PROT_NONE);
	guard_base = m;
	m += (pages - 1) * pg - n;
	memcpy(m, s, n);
	return m;
}

static const struct {
	const char *text;
	const char *err;	/* expected error substring, NULL = parses */
	int nrules;
} parse_cases[] = {
	{ "", NULL, 0 },
	{ "# only a comment\n\n   \n", NULL, 0 },
	{ "sysctl net.core.somaxconn >= 4096", NULL, 1 },			/* no final newline */
	{ "sysctl net.core.somaxconn >= 4096\n", NULL, 1 },
	{ "inherit base\nsysctl net.core.somaxconn >= 4096 # why\n", NULL, 1 },
	{ "sysctl net.ipv4.tcp_rmem[2] >= default\n", NULL, 1 },
	{ "sysctl net.ipv4.ip_local_port_range >= 1024 65000\n", NULL, 1 },
	{ "sysctl net.ipv4.tcp_syncookies in 1,2\n", NULL, 1 },
	{ "nofile >= max(1024, conns*2.2)\nrps all\nxps spread\naffinity 0-1\ndisable LQ-008\n", NULL, 5 },
	{ "description \"a # not a comment\"\nconns 500\n", NULL, 0 },
	/* malformed */
	{ "sysctrl net.core.somaxconn >= 1\n", "t.profile:1: unknown directive 'sysctrl'", 0 },
	{ "sysctl net.core.somaxconn >= lots\n", "t.profile:1: net.core.somaxconn: malformed value 'lots'", 0 },
	{ "sysctl net.core.somaxconn >=\n", "t.profile:1: expected 'sysctl KEY OP VALUE'", 0 },
	{ "sysctl net.core.somaxconn => 1\n", "t.profile:1: net.core.somaxconn: unknown operator '=>'", 0 },
	{ "sysctl net..core >= 1\n", "t.profile:1: invalid sysctl key 'net..core'", 0 },
	{ "sysctl net/core/somaxconn >= 1\n", "invalid sysctl key", 0 },
	{ "sysctl somaxconn >= 1\n", "invalid sysctl key 'somaxconn'", 0 },
	{ "sysctl net.ipv4.tcp_rmem[3] >= 1\n", "t.profile:1: net.ipv4.tcp_rmem has 3 fields, no field 3", 0 },
	{ "sysctl net.ipv4.tcp_rmem[x] >= 1\n", "invalid sysctl key 'net.ipv4.tcp_rmem[x]'", 0 },
	{ "sysctl net.ipv4.tcp_rmem >= 1\n", "net.ipv4.tcp_rmem has 3 fields: name one", 0 },
	{ "sysctl net.ipv4.tcp_rmem >= 1 2\n", "net.ipv4.tcp_rmem takes 3 values, got 2", 0 },
	{ "sysctl net.ipv4.tcp_rmem[1] = 5\n", "a field takes '>=' or '<='", 0 },
	{ "sysctl net.core.somaxconn = abc\n", "malformed value 'abc' (want 1 integer)", 0 },
	{ "sysctl net.ipv4.tcp_syncookies in 1,,2\n", "empty item in list", 0 },
	{ "sysctl net.core.somaxconn >= 1\nsysctl net.core.somaxconn >= 2\n",
	  "t.profile:2: duplicate rule for net.core.somaxconn (first at t.profile:1)", 0 },
	{ "rps all\nrps off\n", "t.profile:2: duplicate 'rps' directive", 0 },
	{ "sysctl net.core.somaxconn >= 1\ninherit base\n", "t.profile:2: 'inherit' must be the first directive", 0 },
	{ "inherit\n", "expected 'inherit NAME|PATH'", 0 },
	{ "conns -5\n", "t.profile:1: conns: malformed value '-5'", 0 },
	{ "conns 0\n", "conns: malformed value '0'", 0 },
	{ "nofile <= 5\n", "expected 'nofile >= EXPR'", 0 },
	{ "nofile >= conns*\n", "nofile: malformed value 'conns*'", 0 },
	{ "nofile >= (conns\n", "nofile: malformed value '(conns'", 0 },
	{ "rps sometimes\n", "rps: malformed value 'sometimes'", 0 },
	{ "affinity 0-\n", "affinity: malformed value '0-'", 0 },
	{ "affinity off\n", "affinity: malformed value 'off'", 0 },
	{ "xps all\n", "xps: malformed value 'all'", 0 },
	{ "disable lq-8\n", "disable: malformed check id 'lq-8'", 0 },
	{ "disable NOPE-999\n", "t.profile:1: disable: unknown check id 'NOPE-999'", 0 },
	{ "sysctl net.ipv4.tcp_fastopen has 2\n", NULL, 1 },
	{ "sysctl net.ipv4.tcp_fastopen has 0x2\n", NULL, 1 },
	{ "sysctl net.ipv4.tcp_fastopen has two\n", "malformed bit mask 'two'", 0 },
	{ "sysctl net.ipv4.tcp_rmem has 1\n", "'has' takes a single-value key", 0 },
	{ "sysctl net.core.somaxconn >= 1/0\n", "malformed value '1/0'", 0 },
	{ "sysctl net.core.somaxconn >= sysctl(net/core)\n", "malformed value 'sysctl(net/core)'", 0 },
	{ "sysctl net.ipv4.tcp_max_syn_backlog >= max(4096, sysctl(net.core.somaxconn))\n", NULL, 1 },
};

static const struct {
	const char *expr;
	long conns;
	long long dflt;
	int ret;
	long long want;
} eval_cases[] = {
	{ "4096", 1, -1, 0, 4096 },
	{ "conns*2.2", 10000, -1, 0, 22000 },		/* not 22001 from binary rounding */
	{ "max(1024, conns*2.2)", 100, -1, 0, 1024 },
	{ "min(1024, conns*2.2)", 100, -1, 0, 220 },
	{ "conns*3.3", 10000, -1, 0, 33000 },
	{ "(conns + 1) * 2", 4, -1, 0, 10 },
	{ "conns/3", 10, -1, 0, 4 },			/* rounds up */
	{ "default", 1, 33554432, 0, 33554432 },
	{ "default", 1, -1, -ENOENT, 0 },
	{ "sysctl(no.such.key)", 1, -1, -ENOENT, 0 },
	{ "sysctl(net.core", 1, -1, -EINVAL, 0 },
	{ "1e30", 1, -1, -ERANGE, 0 },
	{ "conns conns", 1, -1, -EINVAL, 0 },
	{ "", 1, -1, -EINVAL, 0 },
};

static const struct {
	const char *rule;
	const char *cur;
	int want;
	const char *set;	/* value apply would write */
} eval_rules[] = {
	{ "sysctl net.core.somaxconn >= 4096", "128", 0, "4096" },
	{ "sysctl net.core.somaxconn >= 4096", "4096", 1, NULL },
	{ "sysctl net.core.somaxconn >= 4096", "65535", 1, NULL },		/* better passes */
	{ "sysctl net.ipv4.tcp_fin_timeout <= 30", "60", 0, "30" },
	{ "sysctl net.ipv4.tcp_fin_timeout <= 30", "10", 1, NULL },
	{ "sysctl net.ipv4.tcp_syncookies in 1,2", "2", 1, NULL },
	{ "sysctl net.ipv4.tcp_syncookies in 1,2", "0", 0, "1" },
	{ "sysctl net.ipv4.tcp_tw_reuse = 1", "2", 0, "1" },
	{ "sysctl net.ipv4.tcp_rmem[2] >= 33554432", "4096 131072 6291456", 0, "4096\t131072\t33554432" },
	{ "sysctl net.ipv4.tcp_rmem[2] >= 33554432", "4096\t131072\t67108864", 1, NULL },
	{ "sysctl net.ipv4.ip_local_port_range >= 1024 65000", "32768 60999", 0, "32768\t65000" },
	{ "sysctl net.ipv4.ip_local_port_range[0] <= 10240", "32768 60999", 0, "10240\t60999" },
	/* '<=' on every field: lowers the fields above, keeps those already below */
	{ "sysctl net.ipv4.tcp_wmem <= 4096 16384 4194304", "8192 16384 1048576", 0, "4096\t16384\t1048576" },
	{ "sysctl net.ipv4.tcp_wmem <= 4096 16384 4194304", "4096 8192 4194304", 1, NULL },
	{ "sysctl net.core.somaxconn >= 4096", "not a number", -EINVAL, NULL },
	{ "sysctl net.ipv4.tcp_congestion_control in bbr,cubic", "cubic", 1, NULL },
	{ "sysctl net.ipv4.tcp_congestion_control = bbr", "reno", 0, "bbr" },
	{ "sysctl fs.nr_open >= 5", "1024", 1, NULL },		/* below the key's minimum: clamped, holds */
	{ "sysctl net.ipv4.tcp_syncookies <= 9", "2", 1, NULL },	/* above the maximum: clamped */
	/* tcp_fastopen: 0x1 client, 0x2 server (ip-sysctl.rst); a server needs 0x2 */
	{ "sysctl net.ipv4.tcp_fastopen has 2", "1", 0, "3" },		/* keeps the client bit */
	{ "sysctl net.ipv4.tcp_fastopen has 2", "3", 1, NULL },
	{ "sysctl net.ipv4.tcp_fastopen has 2", "0x402", -EINVAL, NULL },
	{ "sysctl net.ipv4.tcp_fastopen has 2", "1026", 1, NULL },	/* 0x402: other bits kept */
	{ "sysctl net.ipv4.tcp_fastopen has 2", "0", 0, "2" },
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int main(void)
{
	char err[512], parent[256], dir[] = "/tmp/test_profile.XXXXXX", path[600], want[256];
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		struct profile p;
		int r;

		memset(&p, 0, sizeof(p));
		err[0] = '\0';
		r = profile_parse(&p, guarded(parse_cases[i].text), "t.profile", parent, sizeof(parent), err,
				  sizeof(err));
		if (parse_cases[i].err) {
			if (!tap_ok(r == -EINVAL && strstr(err, parse_cases[i].err), "parse case %zu rejected: %s", i,
				    parse_cases[i].err))
				tap_diag("got %d '%s'", r, err);
		} else if (!tap_ok(r == 0 && p.n == parse_cases[i].nrules, "parse case %zu accepted, %d rules", i,
				   parse_cases[i].nrules)) {
			tap_diag("got %d '%s' n=%d", r, err, p.n);
		}
		free(p.rules);
	}
	for (i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
		long long v = 0;
		int r = profile_eval(eval_cases[i].expr, eval_cases[i].conns, eval_cases[i].dflt, &v);

		if (!tap_ok(r == eval_cases[i].ret && (r || v == eval_cases[i].want), "eval '%s' conns=%ld -> %d/%lld",
		       eval_cases[i].expr, eval_cases[i].conns, eval_cases[i].ret, eval_cases[i].want))

			tap_diag("got %d/%lld", r, v);
	}
	for (i = 0; i < sizeof(eval_rules) / sizeof(eval_rules[0]); i++) {
		struct profile p;
		int r = -99;

		memset(&p, 0, sizeof(p));
		want[0] = '\0';
		if (profile_parse(&p, eval_rules[i].rule, "t", parent, sizeof(parent), err, sizeof(err)) == 0 &&
		    profile_resolve(&p, 10000, err, sizeof(err)) == 0)
			r = rule_eval(&p.rules[0], eval_rules[i].cur, want, sizeof(want));
		if (!tap_ok(r == eval_rules[i].want && (!eval_rules[i].set || !strcmp(want, eval_rules[i].set)),
		       "'%s' on '%s' -> %d", eval_rules[i].rule, eval_rules[i].cur, eval_rules[i].want))
			tap_diag("got %d want '%s' err '%s'", r, want, err);
		free(p.rules);
	}

	/* inheritance from files: child replaces, appends; relative parent path; loops */
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/parent.profile", dir);
	write_file(path, "inherit web-10k\nconns 2000\nsysctl net.core.somaxconn >= 8192\n");
	snprintf(path, sizeof(path), "%s/child.profile", dir);
	write_file(path, "# comment first\ninherit parent.profile\nsysctl net.core.somaxconn >= 16384\n"
			 "sysctl net.ipv4.tcp_fin_timeout <= 30\n");
	{
		struct profile *p = profile_load(path, err, sizeof(err));
		int j, n_somax = 0;
		long long somax = 0;
		bool fin = false;

		if (!tap_ok(p != NULL, "child loads through a relative parent path"))

			tap_diag("%s", err);
		if (p) {
			profile_resolve(p, 0, err, sizeof(err));
			for (j = 0; j < p->n; j++) {
				if (!strcmp(p->rules[j].key, "net.core.somaxconn")) {
					n_somax++;
					somax = p->rules[j].num;
				}
				fin |= !strcmp(p->rules[j].key, "net.ipv4.tcp_fin_timeout");
			}
			tap_ok(n_somax == 1 && somax == 16384, "the child's rule replaces its ancestors' (one rule, 16384)");
			tap_ok(fin, "the child's new rule is appended");
			tap_ok(p->conns == 2000, "conns inherited from the parent");
			tap_ok(!strcmp(p->name, "child"), "name from the file name");
			profile_free(p);
		}
	}
	snprintf(path, sizeof(path), "%s/a.profile", dir);
	write_file(path, "inherit b.profile\n");
	snprintf(path, sizeof(path), "%s/b.profile", dir);
	write_file(path, "inherit a.profile\n");
	{
		struct profile *p = profile_load(path, err, sizeof(err));

		if (!tap_ok(!p && strstr(err, "inheritance loop"), "an inheritance loop is an error"))
			tap_diag("%s", err);
		profile_free(p);
	}
	snprintf(path, sizeof(path), "%s/range.profile", dir);
	write_file(path, "inherit web-10k\nsysctl net.ipv4.tcp_syncookies >= conns\n");
	{
		struct profile *p = profile_load(path, err, sizeof(err));
		int r = p ? profile_resolve(p, 0, err, sizeof(err)) : 0;

		if (!tap_ok(r == -EINVAL && strstr(err, "range.profile:2: net.ipv4.tcp_syncookies: value 10000 out of range [0, 2]"),
		       "a target out of the key's range names file:line"))

			tap_diag("%d %s", r, err);
		profile_free(p);
	}
	/* sysctl(KEY) counts with the profile's own floor for KEY: apply raises KEY
	 * first, and a second apply must find nothing left to change */
	snprintf(path, sizeof(path), "%s/dep.profile", dir);
	write_file(path, "sysctl net.ipv4.tcp_max_syn_backlog >= max(4096, sysctl(net.core.somaxconn))\n"
			 "sysctl net.core.somaxconn >= 2000000000\n");
	{
		struct profile *p = profile_load(path, err, sizeof(err));
		int r = p ? profile_resolve(p, 0, err, sizeof(err)) : -1;

		if (!tap_ok(r == 0 && p->rules[0].num == 2000000000LL,
			    "sysctl(KEY) in a target counts with KEY's own >= rule"))
			tap_diag("%d %s %lld", r, err, p ? p->rules[0].num : 0);
		profile_free(p);
	}
	{
		const char *const *names = profile_builtin_names();
		int j, bad = 0;

		for (j = 0; names[j]; j++) {
			struct profile *p = profile_load(names[j], err, sizeof(err));

			if (!p || profile_resolve(p, 0, err, sizeof(err)))
				{ bad++; tap_diag("%s: %s", names[j], err); }
			profile_free(p);
		}
		tap_ok(j == 5 && !bad, "all %d built-in profiles load and resolve", j);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path))
		tap_diag("cleanup failed");
	return tap_done(0);
}
