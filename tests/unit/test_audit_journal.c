/* test_audit_journal.c - the apply journal round-trips every value exactly
 * (tabs, newlines, backslashes, absent files), keeps the first old value of
 * a key, and rejects malformed journals; the audit report counts and JSON. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "report.h"
#include "tap.h"

int main(void)
{
	char dir[] = "/tmp/test_journal.XXXXXX", path[600], cmd[700];
	struct journal j, k;
	struct report r;
	struct check *c;
	char *buf = NULL;
	size_t size = 0;
	FILE *m;
	int e;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/journal", dir);
	memset(&j, 0, sizeof(j));
	snprintf(j.created, sizeof(j.created), "2026-11-28T12:00:00Z");
	j.netns = 4026531833ULL;
	j.pid = 42;
	snprintf(j.profile, sizeof(j.profile), "web-10k");
	journal_record(&j, J_SYSCTL, "net.ipv4.tcp_rmem", "4096\t87380\t6291456", "4096\t87380\t33554432");
	journal_record(&j, J_SYSCTL, "net.core.somaxconn", "128", "4096");
	journal_record(&j, J_SYSCTL, "net.core.somaxconn", "4096", "8192");	/* second apply */
	journal_record(&j, J_FILE, "/etc/sysctl.d/90-qps-tune.conf", NULL, "a = 1\nb\\c = 2\n");
	journal_record(&j, J_FILE, "/etc/x.conf", "", "y\n");
	journal_record(&j, J_RLIMIT, "1234", "1024 4096", "4096 4096");
	e = journal_save(path, &j);
	tap_ok(e == 0, "journal saved");
	e = journal_load(path, &k);
	if (!tap_ok(e == 0 && k.n == 5, "journal loads %d entries", 5))
		tap_diag("e=%d n=%d", e, k.n);
	if (e == 0 && k.n == 5) {
		tap_ok(!strcmp(k.v[0].old, "4096\t87380\t6291456"), "tabs in a multi-value old value survive");
		tap_ok(!strcmp(k.v[1].old, "128") && !strcmp(k.v[1].new_, "8192"),
		       "a key changed twice keeps its first old value");
		tap_ok(k.v[2].old == NULL && !strcmp(k.v[2].new_, "a = 1\nb\\c = 2\n"),
		       "absent file and newlines/backslashes survive");
		tap_ok(k.v[3].old && k.v[3].old[0] == '\0', "an empty old file is not an absent one");
		tap_ok(k.netns == j.netns && k.pid == 42 && !strcmp(k.profile, "web-10k") &&
		       !strcmp(k.created, j.created), "header fields survive");
		tap_ok(k.v[4].kind == J_RLIMIT && !strcmp(k.v[4].key, "1234"), "kinds survive");
	} else {
		int i;

		for (i = 0; i < 6; i++)
			tap_ok(0, "journal content");
	}
	journal_release(&k);
	journal_release(&j);
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int n = 0;

		while (d && (de = readdir(d)))
			n += de->d_name[0] != '.';
		if (d)
			closedir(d);
		tap_ok(access(path, F_OK) == 0 && n == 1, "only the journal in the directory: no temp file left");
	}

	m = fopen(path, "w");
	fputs("qps-tune-journal 1\nsysctl\tnet.core.somaxconn\t128\t=4096\n", m);
	fclose(m);
	tap_ok(journal_load(path, &k) == -EINVAL, "a value without its =/! prefix is malformed");
	m = fopen(path, "w");
	fputs("something else\n", m);
	fclose(m);
	tap_ok(journal_load(path, &k) == -EINVAL, "a foreign file is not a journal");
	unlink(path);
	tap_ok(journal_load(path, &k) == -ENOENT, "no journal: -ENOENT");

	/* report: counting and JSON escaping */
	memset(&r, 0, sizeof(r));
	snprintf(r.profile, sizeof(r.profile), "web-10k");
	c = report_add(&r, "LQ-001", "high", CHK_FAIL, "net.core.somaxconn");
	CSET(c->evidence, "quote \" backslash \\ tab \t");
	report_add(&r, "LQ-005", "high", CHK_PASS, "net.ipv4.tcp_syncookies");
	report_add(&r, "LQ-008", "low", CHK_INFO, "x");
	tap_ok(report_count(&r, CHK_FAIL) == 1 && report_count(&r, CHK_PASS) == 1, "report counts by status");
	m = open_memstream(&buf, &size);
	report_json(&r, m);
	fclose(m);
	if (!tap_ok(strstr(buf, "\"evidence\":\"quote \\\" backslash \\\\ tab \\t\"") ||
	       strstr(buf, "\"evidence\": \"quote \\\" backslash \\\\ tab \\t\""), "JSON escapes evidence"))
		tap_diag("%s", buf);
	tap_ok(strstr(buf, "\"summary\"") && strstr(buf, "qps-tune.audit/1"), "JSON has schema and summary");
	free(buf);
	report_drop_id(&r, "LQ-008");
	tap_ok(r.n == 2, "disable drops a check id");
	report_release(&r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		tap_diag("cleanup failed");
	return tap_done(0);
}
