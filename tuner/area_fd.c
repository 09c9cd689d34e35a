/* area_fd.c - descriptors: RLIMIT_NOFILE of the servers, fs.nr_open,
 * fs.file-nr, unit LimitNOFILE= (FD-*); the planner raises nofile live
 * (--pid) and persists it (limits.d, unit drop-ins), never lowering. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuset.h"
#include "engine.h"
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"

/* ---- descriptors */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* LimitNOFILE= of @unit as systemd resolves it: the unit file from the first
 * directory that has it (/etc > /run > /usr/lib > /lib), then every drop-in
 * UNIT.d/NAME.conf in file-name order (a name in an earlier directory masks the
 * same name in a later one); the last assignment wins. */
static void read_unit_limit_x(const struct tenv *env, const char *unit, bool skip_ours, char *out, size_t size,
			      char *src, size_t src_size)
{
	static const char *const unit_dirs[] = { "/etc/systemd/system", "/run/systemd/system",
						 "/usr/lib/systemd/system", "/lib/systemd/system" };
	char rel[PATH_MAX], line[512], *names[64], *srcs[64];
	int n = 0, i, k;
	size_t d;
	FILE *f;

	out[0] = src[0] = '\0';
	for (d = 0; d < sizeof(unit_dirs) / sizeof(unit_dirs[0]); d++) {
		snprintf(rel, sizeof(rel), "%s/%s", unit_dirs[d], unit);
		f = root_fopen(env, rel);
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "LimitNOFILE=", 12)) {
				snprintf(out, size, "%.*s", (int)strcspn(line + 12, "\n"), line + 12);
				snprintf(src, src_size, "%s", rel);
			}
		fclose(f);
		break;
	}
	for (d = 0; d < sizeof(unit_dirs) / sizeof(unit_dirs[0]); d++) {
		struct dirent *de;
		DIR *dd;

		snprintf(rel, sizeof(rel), "%s/%s.d", unit_dirs[d], unit);
		dd = root_opendir(env, rel);
		while (dd && (de = readdir(dd)) && n < 64) {
			size_t len = strlen(de->d_name);

			if (len < 6 || strcmp(de->d_name + len - 5, ".conf") ||
			    (skip_ours && !strcmp(de->d_name, "90-qps-tune.conf")))
				continue;
			for (i = 0; i < n && strcmp(names[i], de->d_name); i++)
				;
			if (i < n)
				continue;	/* masked by an earlier directory */
			names[n] = strdup(de->d_name);
			if (asprintf(&srcs[n], "%s/%s", rel, de->d_name) < 0)
				srcs[n] = NULL;
			if (!names[n] || !srcs[n]) {
				free(names[n]);
				free(srcs[n]);
				continue;
			}
			n++;
		}
		if (dd)
			closedir(dd);
	}
	/* sort names, keeping each one's source path alongside */
	for (i = 1; i < n; i++)
		for (k = i; k > 0 && cmp_str(&names[k - 1], &names[k]) > 0; k--) {
			char *t = names[k], *u = srcs[k];

			names[k] = names[k - 1];
			srcs[k] = srcs[k - 1];
			names[k - 1] = t;
			srcs[k - 1] = u;
		}
	for (i = 0; i < n; i++) {
		f = root_fopen(env, srcs[i]);
		while (f && fgets(line, sizeof(line), f))
			if (!strncmp(line, "LimitNOFILE=", 12)) {
				snprintf(out, size, "%.*s", (int)strcspn(line + 12, "\n"), line + 12);
				snprintf(src, src_size, "%s", srcs[i]);
			}
		if (f)
			fclose(f);
		free(names[i]);
		free(srcs[i]);
	}
}

static void read_unit_limit(const struct tenv *env, const char *unit, char *out, size_t size, char *src,
			    size_t src_size)
{
	read_unit_limit_x(env, unit, false, out, size, src, src_size);
}

static void chk_fds(struct run *a)
{
	char buf[256];
	long long nr_open = 0, target = a->nofile ? a->nofile->num : 0;
	unsigned long long used = 0, freefd = 0, max = 0;
	struct check *c;
	int i;

	procfs_read_ll("/proc/sys/fs/nr_open", &nr_open);
	if (procfs_read("/proc/sys/fs/file-nr", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%llu %llu %llu", &used, &freefd, &max) == 3 && max) {
		c = report_add(a->rep, "FD-003", "high", used * 100 > max * 80 ? CHK_FAIL : CHK_PASS,
			       "fs.file-nr");
		if (c) {
			c->scope = a->cx.initial ? "global" : "host";
			CSET(c->current, "%llu/%llu (%llu%%)", used, max, used * 100 / max);
			CSET(c->target, "< 80%% used");
			CSET(c->reason, "at the system-wide limit every open/accept fails with ENFILE");
			CSET(c->evidence, "/proc/sys/fs/file-nr = %s", buf);
			CSET(c->fix, "raise fs.file-max or find the descriptor leak");
		}
	}
	if (target && nr_open && target > nr_open) {
		c = report_add(a->rep, "FD-002", "high", CHK_FAIL, "fs.nr_open");
		if (c) {
			c->scope = a->cx.initial ? "global" : "host";
			CSET(c->current, "%lld", nr_open);
			CSET(c->target, ">= %lld", target);
			CSET(c->reason, "setrlimit(RLIMIT_NOFILE) above fs.nr_open fails with EPERM");
			CSET(c->evidence, "nofile target %lld (%s) > fs.nr_open %lld", target,
			     a->nofile->origin, nr_open);
			CSET(c->fix, "sysctl -w fs.nr_open=%lld (host-wide)", target);
		}
	}
	for (i = 0; i < a->cx.nsrv; i++) {
		const struct server *s = &a->cx.srv[i];
		unsigned long long soft, hard;
		char key[96], lim[64], src[PATH_MAX];
		int nfd = proc_fd_count(s->pid), e;

		snprintf(key, sizeof(key), "pid %d %s nofile", (int)s->pid, s->comm);
		e = proc_nofile(s->pid, &soft, &hard);
		if (e) {
			c = report_add(a->rep, "FD-001", "crit", CHK_SKIP, key);
			if (c)
				CSET(c->evidence, "prlimit(%d): %s", (int)s->pid, strerror(-e));
			continue;
		}
		c = report_add(a->rep, "FD-001", "crit", CHK_INFO, key);
		if (!c)
			return;
		c->scope = "process";
		CSET(c->current, "soft %llu", soft);
		CSET(c->reason, "each connection is a descriptor: at the soft limit accept() fails "
		     "with EMFILE");
		CSET(c->evidence, "/proc/%d/limits Max open files soft=%llu hard=%llu; %d open",
		     (int)s->pid, soft, hard, nfd);
		if (target) {
			CSET(c->target, ">= %lld", target);
			c->status = soft >= (unsigned long long)target ? CHK_PASS : CHK_FAIL;
			CSET(c->evidence, "/proc/%d/limits Max open files soft=%llu hard=%llu; %d open; "
			     "target %lld (%s, conns %ld)", (int)s->pid, soft, hard, nfd, target,
			     a->nofile->origin, a->conns);
			if (hard < (unsigned long long)target && !has_cap(24))
				CSET(c->fix, "raise it where %s starts (%s); the running process's hard limit "
				     "%llu is below the target and raising it needs CAP_SYS_RESOURCE", s->comm,
				     s->unit[0] ? "LimitNOFILE= drop-in: qps-tune apply --persist" : "ulimit -n / LimitNOFILE=",
				     hard);
			else if (s->unit[0])
				CSET(c->fix, "LimitNOFILE=%lld in a drop-in for %s (qps-tune apply --persist), "
				     "then restart it; or qps-tune apply --pid %d for the running process",
				     target, s->unit, (int)s->pid);
			else
				CSET(c->fix, "qps-tune apply --pid %d (prlimit on the running process); make "
				     "it permanent in the service's start-up (ulimit -n / LimitNOFILE)",
				     (int)s->pid);
			c = report_add(a->rep, "FD-002", "high",
				       hard >= (unsigned long long)target ? CHK_PASS : CHK_FAIL, key);
			if (c) {
				c->scope = "process";
				CSET(c->current, "hard %llu", hard);
				CSET(c->target, ">= %lld", target);
				CSET(c->reason, "the soft limit cannot go above the hard limit; raising the "
				     "hard limit needs CAP_SYS_RESOURCE");
				CSET(c->evidence, "/proc/%d/limits Max open files hard=%llu", (int)s->pid, hard);
				CSET(c->fix, "raise the hard limit where the service starts (LimitNOFILE=) - "
				     "a running process's hard limit needs CAP_SYS_RESOURCE");
			}
		}
		if (nfd >= 0 && soft) {
			bool hot = (unsigned long long)nfd * 100 > soft * 80;

			c = report_add(a->rep, "FD-004", "med", hot ? CHK_FAIL : CHK_PASS, key);
			if (c) {
				c->scope = "process";
				CSET(c->current, "%d/%llu", nfd, soft);
				CSET(c->target, "< 80%%");
				CSET(c->reason, "descriptor use close to the soft limit: EMFILE is near");
				CSET(c->evidence, "/proc/%d/fd has %d entries; soft limit %llu", (int)s->pid,
				     nfd, soft);
				CSET(c->fix, "raise the soft nofile limit (qps-tune apply --pid %d)",
				     (int)s->pid);
			}
		}
		if (!s->unit[0])
			continue;
		{
			/* limits.conf does not apply to services (pam_limits runs for logins) */
			char found[300] = "";
			static const char *const lfiles[] = { "/etc/security/limits.conf" };
			struct dirent *de;
			DIR *dd;
			size_t k;

			for (k = 0; k < 1 && !found[0]; k++) {
				FILE *f = root_fopen(a->env, lfiles[k]);
				char line[512];

				while (f && fgets(line, sizeof(line), f))
					if (line[0] != '#' && strstr(line, "nofile"))
						snprintf(found, sizeof(found), "%s", lfiles[k]);
				if (f)
					fclose(f);
			}
			dd = root_opendir(a->env, "/etc/security/limits.d");
			while (dd && !found[0] && (de = readdir(dd))) {
				char fp[PATH_MAX + 256], line[512];
				FILE *f;

				if (de->d_name[0] == '.' || strstr(de->d_name, "qps-tune"))
					continue;
				snprintf(fp, sizeof(fp), "/etc/security/limits.d/%s", de->d_name);
				f = root_fopen(a->env, fp);
				while (f && fgets(line, sizeof(line), f))
					if (line[0] != '#' && strstr(line, "nofile"))
						snprintf(found, sizeof(found), "/etc/security/limits.d/%s", de->d_name);
				if (f)
					fclose(f);
			}
			if (dd)
				closedir(dd);
			if (found[0]) {
				c = report_add(a->rep, "FD-006", "info", CHK_INFO, s->unit);
				if (c) {
					c->scope = "file";
					CSET(c->current, "%s", found);
					CSET(c->reason, "limits.conf / limits.d set nofile for login sessions (pam_limits), "
					     "not for systemd services");
					CSET(c->evidence, "%s sets nofile; %s (pid %d) runs under systemd and ignores it",
					     found, s->unit, (int)s->pid);
					CSET(c->fix, "set LimitNOFILE= in a drop-in for %s", s->unit);
				}
			}
		}
		read_unit_limit(a->env, s->unit, lim, sizeof(lim), src, sizeof(src));
		c = report_add(a->rep, "FD-005", "med", CHK_INFO, s->unit);
		if (!c)
			return;
		c->scope = "process";
		CSET(c->current, "%s", lim[0] ? lim : "(DefaultLimitNOFILE 1024:524288)");
		CSET(c->reason, "services get nofile from LimitNOFILE=, not limits.conf");
		if (lim[0])
			CSET(c->evidence, "%s sets LimitNOFILE=%s; live soft=%llu hard=%llu%s", src, lim,
			     soft, hard, strtoull(lim, NULL, 10) != soft ? " - restart pending (FD-007)" : "");
		else
			CSET(c->evidence, "%s has no LimitNOFILE (unit file or drop-in) under %s/etc and "
			     "/usr/lib/systemd/system", s->unit, a->env->root);
		if (target) {
			CSET(c->target, ">= %lld", target);
			if (!lim[0] || strtoull(lim, NULL, 10) < (unsigned long long)target) {
				c->status = CHK_FAIL;
				CSET(c->fix, "qps-tune apply --persist writes a drop-in with LimitNOFILE=%lld; "
				     "then systemctl daemon-reload and restart %s", target, s->unit);
			} else {
				c->status = CHK_PASS;
			}
		}
		/* FD-007: the unit says more than the running process has: a restart is pending */
		if (lim[0] && strcmp(lim, "infinity") && strtoull(lim, NULL, 10) != soft) {
			unsigned long long want = strtoull(lim, NULL, 10);

			c = report_add(a->rep, "FD-007", "med", want > soft ? CHK_FAIL : CHK_INFO, s->unit);
			if (c) {
				c->scope = "process";
				CSET(c->current, "live soft %llu", soft);
				CSET(c->target, "= LimitNOFILE %s", lim);
				CSET(c->reason, "LimitNOFILE= applies when the service starts: the running process "
				     "still has its old limit");
				CSET(c->evidence, "%s sets LimitNOFILE=%s; /proc/%d/limits soft=%llu hard=%llu", src,
				     lim, (int)s->pid, soft, hard);
				CSET(c->fix, "systemctl daemon-reload && systemctl restart %s", s->unit);
			}
		}
	}
}

/* "N", "S:H" or "infinity" (systemd's LimitNOFILE=) into soft and hard. */
static bool parse_limit(const char *v, unsigned long long *soft, unsigned long long *hard)
{
	char *end;

	if (!strcmp(v, "infinity")) {
		*soft = *hard = ~0ULL;
		return true;
	}
	*soft = strtoull(v, &end, 10);
	if (end == v)
		return false;
	if (*end == ':') {
		if (!strcmp(end + 1, "infinity"))
			*hard = ~0ULL;
		else
			*hard = strtoull(end + 1, &end, 10);
	} else {
		*hard = *soft;
	}
	return *end == '\0' || *end == ' ';
}

/* Highest nofile soft and hard that limits.conf and limits.d (other than our
 * own file) give the '*' domain now: what login sessions get without us. */
static void limits_effective(const struct tenv *env, unsigned long long *soft, unsigned long long *hard)
{
	char *names[64];
	int n = 0, i;
	struct dirent *de;
	DIR *d;

	*soft = *hard = 0;
	names[n++] = strdup("/etc/security/limits.conf");
	d = root_opendir(env, "/etc/security/limits.d");
	while (d && n < 64 && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") || !strcmp(de->d_name, "90-qps-tune.conf"))
			continue;
		if (asprintf(&names[n], "/etc/security/limits.d/%s", de->d_name) >= 0)
			n++;
	}
	if (d)
		closedir(d);
	for (i = 0; i < n; i++) {
		FILE *f = names[i] ? root_fopen(env, names[i]) : NULL;
		char line[512], dom[128], type[16], item[32], val[64];

		while (f && fgets(line, sizeof(line), f)) {
			unsigned long long v;

			if (sscanf(line, "%127s %15s %31s %63s", dom, type, item, val) != 4 || dom[0] == '#' ||
			    strcmp(dom, "*") || strcmp(item, "nofile"))
				continue;
			v = !strcmp(val, "unlimited") || !strcmp(val, "infinity") ? ~0ULL : strtoull(val, NULL, 10);
			if ((!strcmp(type, "soft") || !strcmp(type, "-")) && v > *soft)
				*soft = v;
			if ((!strcmp(type, "hard") || !strcmp(type, "-")) && v > *hard)
				*hard = v;
		}
		if (f)
			fclose(f);
		free(names[i]);
	}
}

static unsigned long long ull_max(unsigned long long a, unsigned long long b)
{
	return a > b ? a : b;
}

static void fmt_limit(char *buf, size_t size, unsigned long long v)
{
	if (v == ~0ULL)
		snprintf(buf, size, "infinity");
	else
		snprintf(buf, size, "%llu", v);
}

static void plan_nofile(struct run *R, const struct rule *r)
{
	const struct ctx *cx = &R->cx;
	const struct apply_opts *o = &R->o;
	struct plan *p = R->plan;
	long long nr_open = 0;
	int i;

	procfs_read_ll("/proc/sys/fs/nr_open", &nr_open);
	if (nr_open && r->num > nr_open)
		ERR(p, "%s: nofile target %lld exceeds fs.nr_open %lld (setrlimit would fail with EPERM); "
		    "raise fs.nr_open first", r->origin, r->num, nr_open);
	if (o->pid && run_on(R, "FD-001")) {
		unsigned long long soft, hard, nsoft, nhard;
		char key[64], old[64], new_[64], label[96];
		int e = proc_nofile(o->pid, &soft, &hard);

		if (e == -EPERM || e == -EACCES) {
			plan_denied(R, "nofile", "cannot read the nofile limit of pid %d: %s (another user's process: "
				    "needs root or CAP_SYS_RESOURCE)", (int)o->pid, strerror(-e));
			return;
		}
		if (e) {
			ERR(p, "cannot read the nofile limit of pid %d: %s", (int)o->pid, strerror(-e));
			return;
		}
		nsoft = soft < (unsigned long long)r->num ? (unsigned long long)r->num : soft;
		nhard = hard < nsoft ? nsoft : hard;
		/* pid@starttime: rollback must not touch a process that reused the pid */
		snprintf(key, sizeof(key), "%d@%llu", (int)o->pid, proc_starttime(o->pid));
		snprintf(old, sizeof(old), "%llu %llu", soft, hard);
		snprintf(new_, sizeof(new_), "%llu %llu", nsoft, nhard);
		snprintf(label, sizeof(label), "pid %d %s nofile", (int)o->pid, cx->nsrv ? cx->srv[0].comm : "");
		if (nsoft == soft) {
			SAME(p, J_RLIMIT, key, old, old, label, r->origin);
		} else if (nhard > hard && !has_cap(24)) {
			if (R->o.dry_run)
				CHANGE(p, J_RLIMIT, key, old, new_, label, r->origin);
			plan_denied(R, label, "%s: raising the hard nofile limit of pid %d from %llu to %llu needs "
			    "CAP_SYS_RESOURCE, which this process lacks; raise it where the service starts "
			    "(LimitNOFILE=) or lower the target with --conns", r->origin, (int)o->pid, hard,
			    nhard);
		} else {
			CHANGE(p, J_RLIMIT, key, old, new_, label, r->origin);
		}
	}
	for (i = 0; i < cx->nsrv; i++) {
		const struct server *s = &cx->srv[i];
		unsigned long long soft, hard;
		char what[200], why[200];
		int e;

		if (s->pid == o->pid)
			continue;
		e = proc_nofile(s->pid, &soft, &hard);
		if ((e == -EPERM || e == -EACCES) && o->dry_run) {
			/* a user's dry run: say whose limit it could not see */
			snprintf(what, sizeof(what), "pid %d %s nofile", (int)s->pid, s->comm);
			plan_denied(R, what, "cannot read the nofile limit of pid %d: %s (another user's process: "
				    "needs root or CAP_SYS_RESOURCE)", (int)s->pid, strerror(-e));
			continue;
		}
		if (e)
			continue;
		if (soft >= (unsigned long long)r->num)
			continue;
		snprintf(what, sizeof(what), "pid %d %s%s%s%s (nofile soft %llu < %lld)", (int)s->pid, s->comm,
			 s->unit[0] ? " (" : "", s->unit, s->unit[0] ? ")" : "", soft, r->num);
		snprintf(why, sizeof(why), "a process's nofile is set when it starts: %s",
			 s->unit[0] && o->persist ? "restart the unit to pick up the LimitNOFILE drop-in" :
			 "use --persist and restart it, or --pid PID to raise it live");
		RESTART(p, what, why);
	}
	if (o->persist) {
		unsigned long long es, eh, t = (unsigned long long)r->num;
		char content[512], s1[32], s2[32];

		/* never lower: what is in effect now wins where it is higher */
		limits_effective(R->env, &es, &eh);
		if (es < t || eh < t) {
			fmt_limit(s1, sizeof(s1), ull_max(es, t));
			fmt_limit(s2, sizeof(s2), ull_max(eh, ull_max(es, t)));
			snprintf(content, sizeof(content),
				 "# written by qps-tune apply (profile %s); 'qps-tune rollback' removes it\n"
				 "*\tsoft\tnofile\t%s\n*\thard\tnofile\t%s\n", o->profile, s1, s2);
			plan_file(R, "/etc/security/limits.d/90-qps-tune.conf", content, r->origin);
		}
		for (i = 0; i < cx->nsrv; i++) {
			const struct server *s = &cx->srv[i];
			char rel[PATH_MAX], unitc[512], lim[64], src[PATH_MAX];
			unsigned long long us = 1024, uh = 524288;	/* systemd's DefaultLimitNOFILE */

			if (!s->unit[0])
				continue;
			if (!unit_name_valid(s->unit)) {
				/* a delegated cgroup can be named anything: never a path */
				plan_na(R, "LimitNOFILE drop-in", "the cgroup of pid %d names no valid systemd service "
					"unit; no drop-in written", (int)s->pid);
				continue;
			}
			read_unit_limit_x(R->env, s->unit, true, lim, sizeof(lim), src, sizeof(src));
			if (lim[0] && !parse_limit(lim, &us, &uh))
				us = uh = 0;
			if (us >= t && uh >= t)
				continue;	/* the unit already allows as much: nothing to pin */
			us = ull_max(us, t);
			uh = ull_max(uh, us);
			fmt_limit(s1, sizeof(s1), us);
			fmt_limit(s2, sizeof(s2), uh);
			snprintf(rel, sizeof(rel), "/etc/systemd/system/%s.d/90-qps-tune.conf", s->unit);
			if (us == uh)
				snprintf(unitc, sizeof(unitc), "# written by qps-tune apply (profile %s)\n[Service]\n"
					 "LimitNOFILE=%s\n", o->profile, s1);
			else
				snprintf(unitc, sizeof(unitc), "# written by qps-tune apply (profile %s)\n[Service]\n"
					 "LimitNOFILE=%s:%s\n", o->profile, s1, s2);
			plan_file(R, rel, unitc, r->origin);
			if (plan_find(p, J_FILE, rel)) {
				char what[200];

				snprintf(what, sizeof(what), "%s (pid %d %s)", s->unit, (int)s->pid, s->comm);
				RESTART(p, what, "systemctl daemon-reload && systemctl restart: LimitNOFILE applies at start");
			}
		}
	}
}

void fd_plan(struct run *R)
{
	if (R->nofile && (run_on(R, "FD-001") || run_on(R, "FD-005")))
		plan_nofile(R, R->nofile);
}

void fd_audit(struct run *a)
{
	chk_fds(a);
}
