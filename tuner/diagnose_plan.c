/* diagnose_plan.c - the plan diagnose writes (--plan-out FILE) and apply
 * reads back (apply --plan FILE): the settings part of the findings' fixes.
 *
 * Text, one setting a line, fields separated by tabs (no value may hold a tab
 * or a newline; writing refuses one):
 *   qps-tune-plan 1
 *   created 2026-12-07T01:00:00Z
 *   netns 4026532675                   inode, and the cookie and boot below:
 *   netns_cookie 4097                  a plan is never applied in another
 *   boot_id 672ca6b0-...               namespace or boot
 *   server 12345 987654                pid and its start time (clock ticks)
 *   profile web-10k
 *   set	sysctl	net.core.somaxconn	64	4096	web-10k.profile:7	accept-queue-overflow
 *   set	rlimit	12345@987654	1024 1024	22000 22000	web-10k.profile:11	descriptor-exhaustion
 *
 * apply --plan checks that the file is ours (owner, not writable by others,
 * no symlink, a regular file), that it was made here, and that each value is
 * still the one diagnose read ("current"); then the ordinary apply path
 * journals and writes exactly these settings.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "diagnose.h"
#include "engine.h"
#include "apply.h"
#include "tuner.h"

#define PLAN_MAX (64 << 10)	/* bytes */

static bool clean(const char *s)
{
	return s[0] && !strpbrk(s, "\t\n\r");
}

int diagnose_plan_write(const struct diag_result *res, const char *path, char *err, size_t err_size)
{
	char tmp[PATH_MAX], created[32];
	time_t now = time(NULL);
	int fd = -1, e = 0, n = 0, i, k, m;
	FILE *f = NULL;

	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, err_size, "plan path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "cannot create '%s': %s", tmp, strerror(-e));
		return e;
	}
	f = fdopen(fd, "w");
	if (!f) {
		e = -errno;
		close(fd);
		goto fail;
	}
	fprintf(f, "%s\ncreated %s\nnetns %llu\nnetns_cookie %llu\nboot_id %s\nserver %d %llu\nprofile %s\n",
		DIAG_PLAN_MAGIC, created, (unsigned long long)res->netns, (unsigned long long)res->cookie,
		res->boot_id, (int)res->pid, res->start, res->profile);
	for (i = 0; i < res->nf; i++)
		for (k = 0; k < res->f[i].nset; k++) {
			const struct diag_set *s = &res->f[i].set[k];

			/* the same setting planned by two findings: once */
			for (m = 0; m < i; m++) {
				int q;

				for (q = 0; q < res->f[m].nset; q++)
					if (res->f[m].set[q].kind == s->kind && !strcmp(res->f[m].set[q].key, s->key))
						break;
				if (q < res->f[m].nset)
					break;
			}
			if (m < i)
				continue;
			for (m = 0; m < k && strcmp(res->f[i].set[m].key, s->key); m++)
				;
			if (m < k)
				continue;
			if (!clean(s->key) || !clean(s->old) || !clean(s->new_) || !clean(s->origin)) {
				e = -EINVAL;
				snprintf(err, err_size, "cannot write a plan for '%s': a value holds a tab or newline", s->key);
				goto fail;
			}
			fprintf(f, "set\t%s\t%s\t%s\t%s\t%s\t%s\n", s->kind == J_SYSCTL ? "sysctl" : "rlimit", s->key,
				s->old, s->new_, s->origin, res->f[i].name);
			n++;
		}
	if (fflush(f) || fsync(fd)) {
		e = -errno;
		goto fail;
	}
	if (fclose(f)) {
		f = NULL;
		e = -errno;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path)) {
		e = -errno;
		goto fail;
	}
	return n;
fail:
	if (f)
		fclose(f);
	unlink(tmp);
	if (!err[0] || e != -EINVAL)
		snprintf(err, err_size, "cannot write plan '%s': %s", path, strerror(e ? -e : EIO));
	return e ? e : -EIO;
}

/* Reads plan @path, ours and a regular file, into a malloc'ed string. */
static char *plan_read(const char *path, char *err, size_t err_size)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		snprintf(err, err_size, "cannot open plan '%s': %s%s", path, strerror(errno),
			 errno == ELOOP ? " (a symlink: refused)" : "");
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "plan '%s' is not a regular file: refused", path);
		goto out;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, err_size, "plan '%s' is owned by uid %u with mode %04o: refused (it must be ours and "
			 "writable by nobody else)", path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > PLAN_MAX) {
		snprintf(err, err_size, "plan '%s' is larger than %d bytes: refused", path, PLAN_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(err, err_size, "cannot read plan '%s': %s", path, n < 0 ? strerror(errno) : "short read");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n || (n && buf[n - 1] != '\n')) {
		snprintf(err, err_size, "plan '%s' is malformed (a NUL byte, or a last line without a newline)", path);
		free(buf);
		buf = NULL;
	}
out:
	close(fd);
	return buf;
}

static bool is_uint(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Two unsigned numbers "A B" (a nofile value). */
static bool two_uints(const char *s, unsigned long long *a, unsigned long long *b)
{
	char tail;

	return sscanf(s, "%llu %llu%c", a, b, &tail) == 2 && strspn(s, "0123456789 ") == strlen(s);
}

void diagnose_plan_build(struct run *r, const char *path)
{
	char err[PATH_MAX + 256] = "", boot[40] = "", pboot[40] = "", *buf, *line, *save = NULL;
	unsigned long long pnetns = 0, pcookie = 0;
	uint64_t netns = 0, cookie = 0;
	bool magic = false;
	int lineno = 0, e;

	buf = plan_read(path, err, sizeof(err));
	if (!buf) {
		plan_err(r, "%s", err);
		return;
	}
	e = netns_identity(&netns, &cookie, boot, sizeof(boot));
	if (e) {
		plan_err(r, "cannot read the identity of this network namespace: %s", strerror(-e));
		goto out;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8], *p = line;
		int nf = 0;

		lineno++;
		if (lineno == 1) {
			magic = !strcmp(line, DIAG_PLAN_MAGIC);
			if (!magic) {
				plan_err(r, "'%s' is not a qps-tune plan (first line '%.40s')", path, line);
				goto out;
			}
			continue;
		}
		if (!strncmp(line, "netns ", 6)) {
			pnetns = strtoull(line + 6, NULL, 10);
			continue;
		}
		if (!strncmp(line, "netns_cookie ", 13)) {
			pcookie = strtoull(line + 13, NULL, 10);
			continue;
		}
		if (!strncmp(line, "boot_id ", 8)) {
			snprintf(pboot, sizeof(pboot), "%s", line + 8);
			continue;
		}
		if (!strncmp(line, "created ", 8) || !strncmp(line, "server ", 7) || !strncmp(line, "profile ", 8))
			continue;
		if (strncmp(line, "set\t", 4)) {
			plan_err(r, "%s:%d: unknown line '%.40s'", path, lineno, line);
			continue;
		}
		/* every set comes after the identity: check it once, at the first */
		if (pcookie != cookie || strcmp(pboot, boot)) {
			plan_err(r, "plan '%s' was made in netns net:[%llu] (cookie %llu, boot %s), this is net:[%llu] "
				 "(cookie %llu, boot %s): run apply --plan in the namespace diagnose watched, or diagnose "
				 "again here", path, pnetns, pcookie, pboot[0] ? pboot : "?", (unsigned long long)netns,
				 (unsigned long long)cookie, boot);
			goto out;
		}
		while (nf < 8 && p) {
			f[nf++] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (nf != 7 || p) {
			plan_err(r, "%s:%d: want 7 tab-separated fields", path, lineno);
			continue;
		}
		if (!strcmp(f[1], "sysctl")) {
			char *cur = NULL;

			if (!journal_key_valid(J_SYSCTL, f[2])) {
				plan_err(r, "%s:%d: '%s' is not a sysctl key qps-tune writes", path, lineno, f[2]);
				continue;
			}
			e = apply_read(r->env, J_SYSCTL, f[2], &cur, NULL);
			if (e) {
				plan_err(r, "%s:%d: cannot read %s: %s", path, lineno, f[2], strerror(-e));
			} else if (!value_equal(cur, f[3])) {
				plan_err(r, "%s is '%s' now, '%s' when diagnose made plan '%s': the plan is not current; "
					 "run qps-tune diagnose again", f[2], cur, f[3], path);
			} else if (is_uint(f[3]) && is_uint(f[4]) && strtoull(f[4], NULL, 10) < strtoull(f[3], NULL, 10)) {
				plan_err(r, "%s:%d: %s would go down from %s to %s: apply never lowers", path, lineno, f[2],
					 f[3], f[4]);
			} else if (value_equal(cur, f[4])) {
				plan_same(r, J_SYSCTL, f[2], cur, f[2], f[5]);
			} else {
				plan_change(r, J_SYSCTL, f[2], cur, f[4], f[2], f[5]);
			}
			free(cur);
		} else if (!strcmp(f[1], "rlimit")) {
			unsigned long long os, oh, ns, nh, start;
			char *at = strchr(f[2], '@'), *cur = NULL, label[64];
			int pid;

			if (!journal_key_valid(J_RLIMIT, f[2]) || !at || !two_uints(f[3], &os, &oh) ||
			    !two_uints(f[4], &ns, &nh) || ns > nh) {
				plan_err(r, "%s:%d: malformed nofile setting", path, lineno);
				continue;
			}
			pid = atoi(f[2]);
			start = strtoull(at + 1, NULL, 10);
			if (pid <= 0 || proc_starttime(pid) != start) {
				plan_err(r, "pid %d of plan '%s' has exited (or the pid was reused) since diagnose: the plan is "
					 "not current", pid, path);
				continue;
			}
			e = apply_read(r->env, J_RLIMIT, f[2], &cur, NULL);
			snprintf(label, sizeof(label), "pid %d nofile", pid);
			if (e)
				plan_err(r, "cannot read the nofile limit of pid %d: %s", pid, strerror(-e));
			else if (!value_equal(cur, f[3]))
				plan_err(r, "pid %d nofile is '%s' now, '%s' when diagnose made plan '%s': the plan is not "
					 "current; run qps-tune diagnose again", pid, cur, f[3], path);
			else if (ns < os || nh < oh)
				plan_err(r, "%s:%d: pid %d nofile would go down: apply never lowers", path, lineno, pid);
			else if (nh > oh && !has_cap(24))
				plan_err(r, "raising the hard nofile limit of pid %d to %llu needs CAP_SYS_RESOURCE", pid, nh);
			else if (value_equal(cur, f[4]))
				plan_same(r, J_RLIMIT, f[2], cur, label, f[5]);
			else
				plan_change(r, J_RLIMIT, f[2], cur, f[4], label, f[5]);
			free(cur);
		} else {
			plan_err(r, "%s:%d: unknown kind '%s' (sysctl or rlimit)", path, lineno, f[1]);
		}
	}
	if (!magic)
		plan_err(r, "plan '%s' is empty", path);
out:
	free(buf);
}
