/* rollback.c - the rollback engine: restore every value the journal
 * recorded (in reverse order of application), remove the files apply
 * created, then delete the journal.
 *
 * Only where the journal was written: the same network namespace (inode and
 * SO_NETNS_COOKIE) and boot; the journal's --pid namespace is entered if it
 * still lives. A journal whose namespace is gone is stale: refused, and
 * `rollback --discard-stale` removes it.
 * Only what apply left: a value changed since apply is kept and named (exit
 * 1) - or, when a later apply in another state dir changed it, that journal
 * inherits our old value, so interleaved rollbacks end at the original.
 * `--force` restores it anyway. A file is touched only while it is still the
 * one apply wrote (device, inode, content hash). What could not be restored
 * stays in the journal: a second rollback finishes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "cpuset.h"
#include "ctx.h"
#include "journal.h"
#include "procfs.h"
#include "rollback.h"
#include "rootfs.h"
#include "tuner.h"

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static void add_line(struct rb_result *res, enum rb_what w, enum jkind kind, const char *key,
		     const char *value, const char *detail)
{
	struct rb_line *v = realloc(res->v, (size_t)(res->n + 1) * sizeof(*v));

	if (!v)
		return;
	res->v = v;
	v[res->n].what = w;
	v[res->n].kind = jkind_str(kind);
	v[res->n].key = key ? strdup(key) : NULL;
	v[res->n].value = value ? strdup(value) : NULL;
	v[res->n].detail = detail ? strdup(detail) : NULL;
	res->n++;
}

static void add_step(struct rb_result *res, char *s)
{
	char **v;
	int i;

	if (!s)
		return;
	for (i = 0; i < res->nsteps; i++)
		if (!strcmp(res->steps[i], s)) {
			free(s);
			return;
		}
	v = realloc(res->steps, (size_t)(res->nsteps + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return;
	}
	res->steps = v;
	v[res->nsteps++] = s;
}

void rb_result_release(struct rb_result *res)
{
	int i;

	for (i = 0; i < res->n; i++) {
		free(res->v[i].key);
		free(res->v[i].value);
		free(res->v[i].detail);
	}
	free(res->v);
	for (i = 0; i < res->nsteps; i++)
		free(res->steps[i]);
	free(res->steps);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

static void label_of(const struct tenv *env, const struct jentry *en, char *buf, size_t size)
{
	if (en->kind == J_RLIMIT || en->kind == J_AFFINITY)
		snprintf(buf, size, "pid %d %s", atoi(en->key), en->kind == J_RLIMIT ? "nofile" : "affinity");
	else if (en->kind == J_FILE)
		show_path(env, en->key, buf, size);
	else
		snprintf(buf, size, "%s", en->key);
}

/* Is the live object still what apply left? 1 yes, 0 changed since (the
 * value now in *@now), -errno when it cannot be read. */
static int still_applied(const struct tenv *env, const struct jentry *en, char **now)
{
	struct stat st;
	int e = apply_read(env, en->kind, en->key, now, &st);

	if (e)
		return e;
	if (en->kind == J_FILE) {
		if (!*now)
			return 0;	/* removed since */
		return en->have_meta && (uint64_t)st.st_dev == en->dev && (uint64_t)st.st_ino == en->ino &&
		       content_hash(*now) == en->hash;
	}
	if (en->kind == J_SYSFS) {
		struct cpuset a, b;

		if (cpuset_parse_mask(*now, &a) == 0 && cpuset_parse_mask(en->new_, &b) == 0)
			return cpuset_equal(&a, &b);
	}
	return value_equal(*now, en->new_);
}

/* The value is what apply set before it ran (a crash between journal and write). */
static bool still_old(const struct jentry *en, const char *now)
{
	if (en->kind == J_FILE)
		return (!en->old && !now) || (en->old && now && !strcmp(en->old, now));
	return now && en->old && value_equal(now, en->old);
}

/* Another journal (a later apply, other state dir) that recorded our new
 * value as its old one for the same key: it inherits our old value. */
static bool hand_over(const struct tenv *env, const struct journal *j, const struct jentry *en, char *to,
		      size_t to_size)
{
	char **dirs = registry_list(env->run_dir), own[PATH_MAX], err[512];
	bool done = false;
	int i;

	if (!dirs)
		return false;
	if (!realpath(env->state_dir, own))
		own[0] = '\0';
	for (i = 0; dirs[i] && !done; i++) {
		struct journal o;
		struct jentry *oe;
		int dfd;

		if (!strcmp(dirs[i], own))
			continue;
		dfd = state_dir_open(dirs[i], false, err, sizeof(err));
		if (dfd < 0)
			continue;
		if (journal_load(dfd, &o, err, sizeof(err)) == 0) {
			oe = journal_find(&o, en->kind, en->key);
			if (oe && oe->done && o.cookie == j->cookie && !strcmp(o.boot_id, j->boot_id) &&
			    oe->old && en->new_ && en->kind != J_FILE && value_equal(oe->old, en->new_)) {
				char *old = en->old ? strdup(en->old) : NULL;

				if (old || !en->old) {
					free(oe->old);
					oe->old = old;
					if (journal_save(dfd, &o) == 0) {
						snprintf(to, to_size, "%s/journal", dirs[i]);
						done = true;
					}
				}
			}
			journal_release(&o);
		}
		close(dfd);
	}
	for (i = 0; dirs[i]; i++)
		free(dirs[i]);
	free(dirs);
	return done;
}

static void file_steps(struct rb_result *res, const char *path)
{
	if (!strncmp(path, "/etc/systemd/system/", 20)) {
		const char *u = path + 20, *d = strstr(u, ".d/");

		add_step(res, xfmt("systemctl daemon-reload && systemctl restart %.*s (LimitNOFILE= applies when "
				   "the service starts)", (int)(d - u), u));
	} else if (!strcmp(path, "/etc/security/limits.d/90-qps-tune.conf")) {
		add_step(res, xfmt("log in again: limits.d applies to new login sessions"));
	} else {
		add_step(res, xfmt("nothing to run for %s: the live values are restored, the file only acts at boot",
				   path));
	}
}

int rollback_run(const struct tenv *env, bool discard_stale, struct rb_result *res)
{
	struct journal j;
	char err[1024];
	bool *ok = NULL;
	int dfd = -1, lock = -1, e, i, bad = 0, kept = 0;
	pid_t holder;

	memset(res, 0, sizeof(*res));
	memset(&j, 0, sizeof(j));
	dfd = state_dir_open(env->state_dir, false, err, sizeof(err));
	if (dfd == -ENOENT)
		return 0;	/* nothing to roll back */
	if (dfd < 0) {
		res->err = strdup(err);
		return dfd;
	}
	lock = host_lock(env->run_dir, err, sizeof(err));
	if (lock < 0) {
		e = lock;
		res->err = strdup(err);
		goto out;
	}
	e = journal_load(dfd, &j, err, sizeof(err));
	if (e == -ENOENT) {
		e = 0;
		goto out;
	}
	snprintf(res->journal, sizeof(res->journal), "%s/journal", env->state_dir);
	if (e) {
		res->err = xfmt("refusing journal '%s': %s; nothing restored", res->journal, err[0] ? err : strerror(-e));
		goto out;
	}
	snprintf(res->profile, sizeof(res->profile), "%s", j.profile);
	snprintf(res->created, sizeof(res->created), "%s", j.created);
	e = journal_where(&j, &holder);
	if (discard_stale) {
		if (e != 0) {
			res->err = xfmt("journal '%s' is not stale: its network namespace net:[%llu] exists%s; roll it "
					"back instead", res->journal, (unsigned long long)j.netns,
					e == 1 ? " (this one)" : "");
			e = -EBUSY;
			goto out;
		}
		if (unlinkat(dfd, "journal", 0) < 0) {
			e = -errno;
			res->err = xfmt("cannot remove '%s': %s", res->journal, strerror(-e));
			goto out;
		}
		registry_remove(env->run_dir, env->state_dir);
		res->discarded = true;
		e = 0;
		goto out;
	}
	if (e == 0) {
		res->err = xfmt("journal '%s' is stale: it was written in netns net:[%llu] (cookie %llu) during boot "
				"%s, which no longer exists; its values cannot be restored anywhere; discard it with "
				"'qps-tune rollback --discard-stale --state-dir %s'", res->journal,
				(unsigned long long)j.netns, (unsigned long long)j.cookie, j.boot_id, env->state_dir);
		e = -ESTALE;
		goto out;
	}
	if (e == 2) {
		/* the journal's own --pid still lives there: enter it, and check again */
		if (j.pid && holder && netns_inode(j.pid) == j.netns && netns_enter_pid(j.pid) == 0 &&
		    journal_where(&j, &holder) == 1) {
			e = 1;
		} else {
			char where[64] = " (ip netns exec NAME qps-tune rollback)";

			if (holder)
				snprintf(where, sizeof(where), ": nsenter --net=/proc/%d/ns/net qps-tune rollback",
					 (int)holder);
			res->err = xfmt("journal '%s' was written in netns net:[%llu] (cookie %llu), this is net:[%llu]; "
					"run rollback there%s", res->journal, (unsigned long long)j.netns,
					(unsigned long long)j.cookie, (unsigned long long)netns_inode(0), where);
			e = -EXDEV;
			goto out;
		}
	}
	if (e < 0) {
		res->err = xfmt("cannot tell where journal '%s' was written: %s", res->journal, strerror(-e));
		goto out;
	}
	if (strcmp(j.root, env->root)) {
		res->err = xfmt("journal '%s' records files under --root '%s', not '%s': run rollback with --root '%s'",
				res->journal, j.root, env->root, j.root);
		e = -EXDEV;
		goto out;
	}
	/* RPS/XPS paths in the journal name this netns's devices: see them, not
	 * whatever another namespace's sysfs mounted on /sys shows */
	if (!ctx_in_init_net() && !ctx_private_sysfs()) {
		for (i = 0; i < j.n; i++)
			if (j.v[i].kind == J_SYSFS && !strncmp(j.v[i].key, "/sys/", 5)) {
				res->err = xfmt("cannot mount a sysfs for this network namespace (needs CAP_SYS_ADMIN): "
						"'%s' may name another namespace's device; nothing restored", j.v[i].key);
				e = -EPERM;
				goto out;
			}
	}
	ok = calloc(j.n ? (size_t)j.n : 1, sizeof(*ok));
	if (!ok) {
		res->err = strdup("out of memory");
		e = -ENOMEM;
		goto out;
	}
	for (i = j.n - 1; i >= 0; i--) {
		const struct jentry *en = &j.v[i];
		char label[PATH_MAX + 64], to[PATH_MAX + 16], *now = NULL, *werr = NULL;
		int still;

		label_of(env, en, label, sizeof(label));
		if (en->kind == J_RLIMIT || en->kind == J_AFFINITY) {
			const char *at = strchr(en->key, '@');

			if (!at || proc_starttime(atoi(en->key)) != strtoull(at + 1, NULL, 10)) {
				ok[i] = true;	/* exited (or the pid was reused): nothing to restore */
				add_line(res, RB_GONE, en->kind, label, NULL, "the process exited, not restored");
				continue;
			}
		}
		still = still_applied(env, en, &now);
		if (still < 0) {
			add_line(res, RB_FAILED, en->kind, label, NULL, strerror(-still));
			bad++;
			continue;
		}
		if (!en->done && still_old(en, now)) {
			/* the apply that wrote this journal stopped before this write */
			ok[i] = true;
			add_line(res, RB_UNTOUCHED, en->kind, label, NULL, "never written (apply stopped before it)");
			free(now);
			continue;
		}
		if (!still && !en->done && en->kind != J_FILE) {
			/* not marked done, value neither old nor new: changed by someone */
			still = 0;
		}
		if (!still && !env->force) {
			if (hand_over(env, &j, en, to, sizeof(to))) {
				ok[i] = true;
				add_line(res, RB_HANDED, en->kind, label, now, to);
			} else {
				add_line(res, RB_KEPT, en->kind, label, now ? now : "(absent)",
					 en->kind == J_FILE ? "the file is not the one apply wrote" : en->new_);
				kept++;
			}
			free(now);
			continue;
		}
		free(now);
		e = apply_write(env, en->kind, en->key, en->old, en->old_mode, en->old_uid, en->old_gid, NULL, &werr);
		if (e) {
			add_line(res, RB_FAILED, en->kind, label, NULL, werr ? werr : strerror(-e));
			free(werr);
			bad++;
			continue;
		}
		ok[i] = true;
		if (en->kind == J_FILE) {
			add_line(res, en->old ? RB_RESTORED : RB_REMOVED, en->kind, label,
				 en->old ? "(previous content, mode and owner)" : NULL, NULL);
			file_steps(res, en->key);
		} else {
			add_line(res, RB_RESTORED, en->kind, label, en->old, NULL);
		}
	}
	if (bad || kept) {
		/* keep only what was not restored, so a second rollback finishes it */
		int o = 0, total = j.n;

		for (i = 0; i < j.n; i++) {
			if (ok[i]) {
				free(j.v[i].key);
				free(j.v[i].old);
				free(j.v[i].new_);
			} else {
				j.v[o++] = j.v[i];
			}
		}
		j.n = o;
		journal_save(dfd, &j);
		if (kept && !bad)
			res->err = xfmt("%d value%s changed since apply and kept (named above); the journal keeps "
					"%s: 'qps-tune rollback --force' restores %s anyway", kept, kept > 1 ? "s" : "",
					kept > 1 ? "them" : "it", kept > 1 ? "them" : "it");
		else
			res->err = xfmt("%d of %d values could not be restored%s; the journal keeps them: run "
					"rollback again", bad + kept, total, kept ? " (some changed since apply)" : "");
		e = bad ? -EIO : -EBUSY;
		goto out;
	}
	if (unlinkat(dfd, "journal", 0) < 0) {
		e = -errno;
		res->err = xfmt("cannot remove '%s': %s", res->journal, strerror(-e));
		goto out;
	}
	registry_remove(env->run_dir, env->state_dir);
	e = 0;
out:
	free(ok);
	journal_release(&j);
	if (lock >= 0)
		close(lock);
	if (dfd >= 0)
		close(dfd);
	return e;
}
