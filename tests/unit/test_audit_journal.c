/* test_audit_journal.c - the apply journal round-trips every value exactly
 * (tabs, newlines, backslashes, absent files), escapes keys like values,
 * keeps the first old value of a key, keeps the progress marker and file
 * identity, and refuses what apply cannot have written (foreign paths,
 * sysctl keys and unit names out of pattern, a hostile owner); the audit
 * report counts and JSON. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "report.h"
#include "tap.h"

static int dfd;

static int load_text(const char *text, struct journal *k)
{
	char err[512];
	int fd = openat(dfd, "journal", O_WRONLY | O_CREAT | O_TRUNC, 0600), e;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	e = journal_load(dfd, k, err, sizeof(err));
	if (e)
		tap_diag("refused: %s", err);
	return e;
}

#define HDR "qps-tune-journal 2\ncreated x\nnetns 1\nnetns_cookie 2\nboot_id b\npid 0\nroot =\nprofile p\n"

int main(void)
{
	char dir[] = "/tmp/test_journal.XXXXXX", cmd[700], err[512];
	struct journal j, k;
	struct jentry *je;
	struct report r;
	struct check *c;
	char *buf = NULL;
	size_t size = 0;
	FILE *m;
	int e;

	if (!mkdtemp(dir))
		return 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	memset(&j, 0, sizeof(j));
	snprintf(j.created, sizeof(j.created), "2026-11-28T12:00:00Z");
	j.netns = 4026531833ULL;
	j.cookie = 4097;
	snprintf(j.boot_id, sizeof(j.boot_id), "672ca6b0-dc3b-4563-aa8f-37ca154d19ee");
	j.pid = 42;
	j.root = strdup("/srv/a\tb");
	snprintf(j.profile, sizeof(j.profile), "web-10k");
	journal_record(&j, J_SYSCTL, "net.ipv4.tcp_rmem", "4096\t87380\t6291456", "4096\t87380\t33554432")->done = true;
	journal_record(&j, J_SYSCTL, "net.core.somaxconn", "128", "4096");
	journal_record(&j, J_SYSCTL, "net.core.somaxconn", "4096", "8192");	/* second apply */
	je = journal_record(&j, J_FILE, "/etc/sysctl.d/90-qps-tune.conf", NULL, "a = 1\nb\\c = 2\n");
	je->have_meta = true;
	je->old_mode = 0640;
	je->old_uid = 7;
	je->old_gid = 8;
	je->dev = 2049;
	je->ino = 1234;
	je->hash = 0xdeadbeefcafeULL;
	journal_record(&j, J_FILE, "/etc/security/limits.d/90-qps-tune.conf", "", "y\n");
	journal_record(&j, J_RLIMIT, "1234@99", "1024 4096", "4096 4096");
	journal_record(&j, J_FILE, "/etc/systemd/system/a\\x2db.service.d/90-qps-tune.conf", NULL, "x");
	e = journal_save(dfd, &j);
	tap_ok(e == 0, "journal saved");
	e = journal_load(dfd, &k, err, sizeof(err));
	if (!tap_ok(e == 0 && k.n == 6, "journal loads %d entries", 6))
		tap_diag("e=%d n=%d %s", e, k.n, err);
	if (e == 0 && k.n == 6) {
		tap_ok(!strcmp(k.v[0].old, "4096\t87380\t6291456") && k.v[0].done, "tabs in a multi-value old value "
		       "survive, with the progress marker");
		tap_ok(!strcmp(k.v[1].old, "128") && !strcmp(k.v[1].new_, "8192") && !k.v[1].done,
		       "a key changed twice keeps its first old value; not done yet");
		tap_ok(k.v[2].old == NULL && !strcmp(k.v[2].new_, "a = 1\nb\\c = 2\n"),
		       "absent file and newlines/backslashes survive");
		tap_ok(k.v[2].have_meta && k.v[2].old_mode == 0640 && k.v[2].old_uid == 7 && k.v[2].old_gid == 8 &&
		       k.v[2].dev == 2049 && k.v[2].ino == 1234 && k.v[2].hash == 0xdeadbeefcafeULL,
		       "old mode/owner and the identity of the written file survive");
		tap_ok(k.v[3].old && k.v[3].old[0] == '\0', "an empty old file is not an absent one");
		tap_ok(k.netns == j.netns && k.cookie == 4097 && !strcmp(k.boot_id, j.boot_id) && k.pid == 42 &&
		       !strcmp(k.profile, "web-10k") && !strcmp(k.created, j.created) && !strcmp(k.root, "/srv/a\tb"),
		       "header fields survive (identity: inode, cookie, boot id; escaped root)");
		tap_ok(k.v[4].kind == J_RLIMIT && !strcmp(k.v[4].key, "1234@99"), "kinds survive");
	} else {
		int i;

		for (i = 0; i < 7; i++)
			tap_ok(0, "journal content");
	}
	journal_release(&k);
	journal_release(&j);
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int n = 0;

		while (d && (de = readdir(d)))
			n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		if (d)
			closedir(d);
		tap_ok(n == 1, "only the journal in the directory: no temp file left");
	}

	tap_ok(load_text("qps-tune-journal 2\nsysctl\t=net.core.somaxconn\t128\t=4096\tdone\t-\n", &k) == -EINVAL,
	       "a value without its =/! prefix is malformed");
	tap_ok(load_text("something else\n", &k) == -EINVAL, "a foreign file is not a journal");
	tap_ok(load_text(HDR "file\t=/etc/passwd\t=x\t=y\tdone\t-\n", &k) == -EINVAL,
	       "a file outside the persist locations is refused");
	tap_ok(load_text(HDR "sysfs\t=/sys/kernel/mm/x\t=1\t=2\tdone\t-\n", &k) == -EINVAL,
	       "a sysfs path apply never writes is refused");
	tap_ok(load_text(HDR "sysctl\t=../../etc/shadow\t=1\t=2\tdone\t-\n", &k) == -EINVAL,
	       "a sysctl key out of pattern is refused");
	tap_ok(load_text(HDR "file\t=/etc/systemd/system/default.target\\t!\\t=evil.service.d/90-qps-tune.conf\t!\t=x\tdone\t-\n",
			 &k) == -EINVAL, "a unit name with tabs (a crafted cgroup) is refused");
	tap_ok(load_text(HDR "sysctl\t=net.core.somaxconn\t=128\t=4096\tdone\t-", &k) == -EINVAL,
	       "a line without its newline (truncated) is refused");
	/* a crash cuts a line anywhere: here inside the file's hash, which still
	 * parses; only the missing newline tells (the same line with it loads) */
	tap_ok(load_text(HDR "file\t=/etc/sysctl.d/90-qps-tune.conf\t!\t=x\tdone\tm=0644,u=0,g=0,d=1,i=2,h=1f2e3d\n",
			 &k) == 0 && k.n == 1, "a persisted-file entry with its identity loads");
	journal_release(&k);
	tap_ok(load_text(HDR "file\t=/etc/sysctl.d/90-qps-tune.conf\t!\t=x\tdone\tm=0644,u=0,g=0,d=1,i=2,h=1f2e3d",
			 &k) == -EINVAL, "the same entry cut inside its hash (no newline) is refused");
	tap_ok(load_text(HDR "sysfs\t=/sys/class/net/eth0/queues/rx-0/rps_cpus\t=0\t=3\tdone\t-\n", &k) == 0 &&
	       k.n == 1, "an RPS mask path is accepted");
	journal_release(&k);
	if (geteuid() == 0) {
		tap_ok(fchownat(dfd, "journal", 65534, 65534, 0) == 0, "journal handed to nobody");
		tap_ok(journal_load(dfd, &k, err, sizeof(err)) == -EPERM, "a journal another user owns is refused");
	} else {
		tap_ok(fchmodat(dfd, "journal", 0666, 0) == 0, "journal made world-writable");
		tap_ok(journal_load(dfd, &k, err, sizeof(err)) == -EPERM, "a world-writable journal is refused");
	}
	unlinkat(dfd, "journal", 0);
	tap_ok(journal_load(dfd, &k, err, sizeof(err)) == -ENOENT, "no journal: -ENOENT");
	tap_ok(unit_name_valid("nginx.service") && unit_name_valid("getty@tty1.service") &&
	       !unit_name_valid("../x.service") && !unit_name_valid("a b.service") && !unit_name_valid("x.target"),
	       "unit names follow systemd's rules");

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
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		tap_diag("cleanup failed");
	return tap_done(0);
}
