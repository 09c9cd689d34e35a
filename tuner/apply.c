/* apply.c - the apply engine: bring the host (or this netns) up to a profile.
 *
 *   PLAN: every area planner of the registry (checks.c) decides its changes
 *     with the same decision audit reports (rules.c); every error collected
 *     | any error (unknown key, read-only, a value the kernel would refuse,
 *     |   privilege...): report all, nothing written
 *     | --dry-run: the plan, nothing written
 *   LOCK (host-wide) -> JOURNAL every change as "planned" (atomic)
 *   -> WRITE each change, RE-READ what the kernel kept, judge the rule on it,
 *      mark the entry "done" (journal rewritten: the progress marker)
 *     | a write fails or the kept value breaks the rule: undo what was
 *     |   written (reverse order), restore the previous journal
 *   DONE: report changed / unchanged / not applied / restart needed
 *
 * Never lowers a value that is already better than the profile.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "audit.h"
#include "cpuset.h"
#include "diagnose.h"
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"
#include "sysctld.h"
#include "tuner.h"

#define FILE_MAX (1 << 20)	/* bytes of a file apply may replace */

/* ---- plan building */

static void *grow(struct plan *p, void *v, int *cap, int n, size_t sz)
{
	void *nv;

	if (n < *cap)
		return v;
	nv = realloc(v, (size_t)(*cap ? *cap * 2 : 16) * sz);
	if (!nv) {
		p->oom = true;
		return NULL;
	}
	*cap = *cap ? *cap * 2 : 16;
	return nv;
}

static char *dup0(struct plan *p, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		p->oom = true;
	return d;
}

static struct item *add_item(struct plan *p, struct item **v, int *n, int *cap, enum jkind kind,
			     const char *key, const char *old, const char *new_, const char *label,
			     const char *origin)
{
	struct item *nv = grow(p, *v, cap, *n, sizeof(**v)), *it;

	if (!nv)
		return NULL;
	*v = nv;
	it = &(*v)[(*n)++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->key = dup0(p, key);
	it->old = dup0(p, old);
	it->new_ = dup0(p, new_);
	it->label = dup0(p, label ? label : key);
	it->origin = dup0(p, origin ? origin : "");
	return it;
}

struct item *plan_change(struct run *r, enum jkind kind, const char *key, const char *old,
			 const char *new_, const char *label, const char *origin)
{
	struct plan *p = r->plan;

	return add_item(p, &p->ch, &p->nch, &p->capch, kind, key, old, new_, label, origin);
}

struct item *plan_same(struct run *r, enum jkind kind, const char *key, const char *old,
		       const char *label, const char *origin)
{
	struct plan *p = r->plan;

	return add_item(p, &p->same, &p->nsame, &p->capsame, kind, key, old, old, label, origin);
}

struct item *plan_find(struct plan *p, enum jkind kind, const char *key)
{
	int i;

	for (i = 0; i < p->nch; i++)
		if (p->ch[i].kind == kind && !strcmp(p->ch[i].key, key))
			return &p->ch[i];
	return NULL;
}

static void add_note(struct plan *p, struct note **v, int *n, int *cap, const char *what, char *why)
{
	struct note *nv;
	int i;

	if (!why) {
		p->oom = true;
		return;
	}
	for (i = 0; i < *n; i++)
		if (!strcmp((*v)[i].what, what) && !strcmp((*v)[i].why, why)) {
			free(why);
			return;
		}
	nv = grow(p, *v, cap, *n, sizeof(**v));
	if (!nv) {
		free(why);
		return;
	}
	*v = nv;
	(*v)[*n].what = dup0(p, what);
	(*v)[*n].why = why;
	(*n)++;
}

static char *vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

void plan_na(struct run *r, const char *what, const char *fmt, ...)
{
	struct plan *p = r->plan;
	va_list ap;

	va_start(ap, fmt);
	add_note(p, &p->na, &p->nna, &p->capna, what, vfmt(fmt, ap));
	va_end(ap);
}

void plan_restart(struct run *r, const char *what, const char *fmt, ...)
{
	struct plan *p = r->plan;
	va_list ap;

	va_start(ap, fmt);
	add_note(p, &p->restart, &p->nrestart, &p->caprestart, what, vfmt(fmt, ap));
	va_end(ap);
}

void plan_err(struct run *r, const char *fmt, ...)
{
	struct plan *p = r->plan;
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = vfmt(fmt, ap);
	va_end(ap);
	add_note(p, &p->err, &p->nerr, &p->caperr, m ? m : "out of memory", strdup(""));
	free(m);
}

void plan_denied(struct run *r, const char *what, const char *fmt, ...)
{
	struct plan *p = r->plan;
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = vfmt(fmt, ap);
	va_end(ap);
	if (r->o.dry_run)
		add_note(p, &p->denied, &p->ndenied, &p->capdenied, what, m ? m : strdup("out of memory"));
	else {
		add_note(p, &p->err, &p->nerr, &p->caperr, m ? m : "out of memory", strdup(""));
		free(m);
	}
}

char *show_path(const struct tenv *env, const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", env->root, path);
	return buf;
}

/* Dry run: may this user write @shown (or create it: the nearest existing
 * directory above it)? 0 or -errno. */
static int may_write(const char *shown, bool exists)
{
	char dir[PATH_MAX];
	char *slash;

	if (exists)
		return access(shown, W_OK) ? -errno : 0;
	snprintf(dir, sizeof(dir), "%s", shown);
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (access(dir, F_OK) == 0)
			return access(dir, W_OK) ? -errno : 0;
	}
	return access("/", W_OK) ? -errno : 0;
}

void plan_file(struct run *r, const char *path, const char *content, const char *origin)
{
	char *cur = NULL, shown[PATH_MAX];
	struct stat st;
	ssize_t n = root_read(r->env, path, &cur, FILE_MAX, &st);

	show_path(r->env, path, shown, sizeof(shown));
	if ((n == -EACCES || n == -EPERM) && r->o.dry_run) {
		plan_denied(r, shown, "cannot read '%s': %s (needs root)", shown, strerror((int)-n));
	} else if (n < 0 && n != -ENOENT) {
		plan_err(r, "cannot read '%s': %s%s", shown, strerror((int)-n),
			 n == -ELOOP ? " (a symlink: refused)" : n == -EINVAL ? " (not a regular file: refused)" : "");
	} else if (n >= 0 && !strcmp(cur, content)) {
		plan_same(r, J_FILE, path, cur, shown, origin);
	} else {
		plan_change(r, J_FILE, path, n >= 0 ? cur : NULL, content, shown, origin);
		if (r->o.dry_run) {
			int e = may_write(shown, n >= 0);

			if (e == -EACCES || e == -EPERM || e == -EROFS)
				plan_denied(r, shown, "cannot %s '%s': %s%s", n >= 0 ? "write" : "create", shown,
					    strerror(-e), e == -EROFS ? "" : " (needs root)");
		}
	}
	free(cur);
}

static void items_free(struct item *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].old);
		free(v[i].new_);
		free(v[i].label);
		free(v[i].origin);
	}
	free(v);
}

static void notes_free(struct note *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(v[i].what);
		free(v[i].why);
	}
	free(v);
}

static void plan_release(struct plan *p)
{
	items_free(p->ch, p->nch);
	items_free(p->same, p->nsame);
	notes_free(p->na, p->nna);
	notes_free(p->restart, p->nrestart);
	notes_free(p->err, p->nerr);
	notes_free(p->denied, p->ndenied);
	free(p->persist);
	memset(p, 0, sizeof(*p));
}

void apply_result_release(struct apply_result *res)
{
	int i;

	plan_release(&res->plan);
	free(res->err);
	for (i = 0; i < res->nwarn; i++)
		free(res->warn[i]);
	free(res->warn);
	memset(res, 0, sizeof(*res));
}

static void res_err(struct apply_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void res_err(struct apply_result *res, const char *fmt, ...)
{
	va_list ap;

	free(res->err);
	va_start(ap, fmt);
	res->err = vfmt(fmt, ap);
	va_end(ap);
	if (!res->err)
		res->err = strdup("out of memory");
}

static void res_warn(struct apply_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void res_warn(struct apply_result *res, const char *fmt, ...)
{
	char **v = realloc(res->warn, (size_t)(res->nwarn + 1) * sizeof(*v));
	va_list ap;

	if (!v)
		return;
	res->warn = v;
	va_start(ap, fmt);
	v[res->nwarn] = vfmt(fmt, ap);
	va_end(ap);
	if (v[res->nwarn])
		res->nwarn++;
}

/* True when this process's /etc is the host's (that of pid 1's root):
 * a child netns sharing it must not persist its values there. */
static bool etc_is_hosts(void)
{
	struct stat a, b;

	if (stat("/etc", &a) < 0 || stat("/proc/1/root/etc", &b) < 0)
		return true;	/* cannot tell: assume the worst */
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void build_plan(struct run *r)
{
	const struct check_def *tab;
	area_plan_fn done[32];
	size_t n, i, k, ndone = 0;

	if (r->o.persist && !r->cx.initial && !tenv_rooted(r->env) && etc_is_hosts()) {
		plan_err(r, "refusing --persist in network namespace net:[%llu]: it shares the host's /etc, and "
			 "systemd-sysctl would apply %s to the host's initial namespace at boot, not to this "
			 "one; give --root naming this namespace's own tree, or persist on the host",
			 (unsigned long long)r->cx.netns, SYSCTLD_OURS);
		return;
	}
	/* each planner once, in registry order (sysctl rules first, persistence last) */
	tab = checks_table(&n);
	for (i = 0; i < n; i++) {
		if (!tab[i].plan)
			continue;
		for (k = 0; k < ndone && done[k] != tab[i].plan; k++)
			;
		if (k < ndone)
			continue;
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = tab[i].plan;
		if (tab[i].plan != persist_plan)
			tab[i].plan(r);
	}
	persist_plan(r);
}

/* ---- writing */

int apply_read(const struct tenv *env, enum jkind kind, const char *key, char **out, struct stat *st)
{
	char path[PATH_MAX], buf[4096];
	ssize_t n;

	*out = NULL;
	switch (kind) {
	case J_SYSCTL:
	case J_SYSFS:
		if (kind == J_SYSCTL)
			sysctl_path(key, path, sizeof(path));
		else
			snprintf(path, sizeof(path), "%s", key);
		n = procfs_read(path, buf, sizeof(buf));
		if (n < 0)
			return (int)n;
		*out = strdup(buf);
		return *out ? 0 : -ENOMEM;
	case J_RLIMIT: {
		unsigned long long s, h;
		int e = proc_nofile((pid_t)atoi(key), &s, &h);

		if (e)
			return e;
		snprintf(buf, sizeof(buf), "%llu %llu", s, h);
		*out = strdup(buf);
		return *out ? 0 : -ENOMEM;
	}
	case J_AFFINITY: {
		cpu_set_t set;
		struct cpuset cs;
		int cpu;

		if (sched_getaffinity((pid_t)atoi(key), sizeof(set), &set) < 0)
			return -errno;
		memset(&cs, 0, sizeof(cs));
		for (cpu = 0; cpu < CPU_SETSIZE && cpu < CPUSET_WORDS * 64; cpu++)
			if (CPU_ISSET(cpu, &set))
				cpuset_set(&cs, cpu);
		cpuset_list_str(&cs, buf, sizeof(buf));
		*out = strdup(buf);
		return *out ? 0 : -ENOMEM;
	}
	case J_FILE:
		n = root_read(env, key, out, FILE_MAX, st);
		if (n == -ENOENT)
			return 0;
		return n < 0 ? (int)n : 0;
	}
	return -EINVAL;
}

static int errf(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int errf(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*err = vfmt(fmt, ap);
	va_end(ap);
	return 0;
}

int apply_write(const struct tenv *env, enum jkind kind, const char *key, const char *val, mode_t mode,
		uid_t uid, gid_t gid, struct stat *st, char **err)
{
	char path[PATH_MAX];
	int e = 0;

	*err = NULL;
	switch (kind) {
	case J_SYSCTL:
		sysctl_path(key, path, sizeof(path));
		e = procfs_write(path, val);
		if (e)
			errf(err, "cannot write '%s': %s", path, strerror(-e));
		return e;
	case J_SYSFS:
		e = procfs_write(key, val);
		if (e)
			errf(err, "cannot write '%s': %s", key, strerror(-e));
		return e;
	case J_RLIMIT: {
		struct rlimit rl;
		unsigned long long s, h;

		if (sscanf(val, "%llu %llu", &s, &h) != 2) {
			errf(err, "malformed nofile value '%s'", val);
			return -EINVAL;
		}
		rl.rlim_cur = s;
		rl.rlim_max = h;
		if (prlimit(atoi(key), RLIMIT_NOFILE, &rl, NULL) < 0) {
			e = -errno;
			errf(err, "cannot set the nofile limit of pid %d to %s: %s%s", atoi(key), val,
			     strerror(-e), e == -EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : "");
		}
		return e;
	}
	case J_AFFINITY: {
		struct cpuset cs;
		cpu_set_t set;
		int cpu;

		if (cpuset_parse_list(val, &cs)) {
			errf(err, "malformed CPU list '%s'", val);
			return -EINVAL;
		}
		CPU_ZERO(&set);
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (cpuset_is_set(&cs, cpu))
				CPU_SET(cpu, &set);
		if (sched_setaffinity(atoi(key), sizeof(set), &set) < 0) {
			e = -errno;
			errf(err, "cannot set the CPU affinity of pid %d to %s: %s", atoi(key), val, strerror(-e));
		}
		return e;
	}
	case J_FILE:
		show_path(env, key, path, sizeof(path));
		if (!val) {
			e = root_unlink(env, key);
			if (e == -ENOENT)
				e = 0;
			if (e)
				errf(err, "cannot remove '%s': %s%s", path, strerror(-e),
				     e == -ELOOP ? " (a symlink: refused)" : "");
			return e;
		}
		e = root_write(env, key, val, mode, uid, gid, st);
		if (e)
			errf(err, "cannot write '%s': %s%s", path, strerror(-e),
			     e == -ELOOP || e == -ENOTDIR ? " (a symlink or a non-directory on the way: refused)" : "");
		return e;
	}
	return -EINVAL;
}

/* The kernel kept what was written (masks compare as CPU sets). */
static bool kept_equal(enum jkind kind, const char *kept, const char *want)
{
	struct cpuset a, b;

	if (kind == J_SYSFS && cpuset_parse_mask(kept, &a) == 0 && cpuset_parse_mask(want, &b) == 0)
		return cpuset_equal(&a, &b);
	if (kind == J_SYSFS && cpuset_parse_list(kept, &a) == 0 && cpuset_parse_list(want, &b) == 0)
		return cpuset_equal(&a, &b);
	return value_equal(kept, want);
}

/* Every sysctl rule of the profile on @key holds for @kept. */
static bool rules_hold(const struct run *r, const char *key, const char *kept)
{
	int i;

	for (i = 0; i < r->prof->n; i++) {
		const struct rule *ru = &r->prof->rules[i];

		if (ru->kind == RULE_SYSCTL && !ru->skip && !strcmp(ru->key, key) && !rule_holds(ru, kept))
			return false;
	}
	return true;
}

/* Test hook (QPS_TUNE_TEST_KILL_AFTER=N via the CLI): SIGKILL after N writes,
 * to prove the progress marker and temp-file handling. */
static void maybe_die(const struct tenv *env, int writes)
{
	if (env->kill_after > 0 && writes >= env->kill_after)
		raise(SIGKILL);
}

int apply_run(const struct tenv *env, const struct apply_opts *o, struct apply_result *res)
{
	struct journal jr, prev;
	struct run r;
	struct plan *p = &res->plan;
	char err[3 * PATH_MAX];
	bool have_prev = false;
	int lock = -1, dfd = -1, e, i, done = 0, failed = -1;

	memset(res, 0, sizeof(*res));
	memset(&jr, 0, sizeof(jr));
	memset(&prev, 0, sizeof(prev));
	e = run_prepare(&r, env, o->profile, o->conns, o->pid, 0, err, sizeof(err));
	r.o = *o;
	r.plan = p;
	if (e) {
		res_err(res, "%s; nothing changed", err);
		goto out;
	}
	snprintf(res->profile, sizeof(res->profile), "%s", r.prof->name);
	res->netns = r.cx.netns;
	res->initial = r.cx.initial;
	if (!o->dry_run) {
		lock = host_lock(env->run_dir, err, sizeof(err));
		if (lock < 0) {
			e = lock;
			res_err(res, "%s; nothing changed", err);
			goto out;
		}
	}
	if (o->plan)
		diagnose_plan_build(&r, o->plan);	/* exactly the plan, if still current */
	else
		build_plan(&r);
	if (p->oom) {
		e = -ENOMEM;
		res_err(res, "out of memory; nothing changed");
		goto out;
	}
	if (p->nerr) {
		/* every error on stderr, the first one also as the final (JSON) error */
		for (i = 1; i < p->nerr; i++)
			res_warn(res, "%s", p->err[i].what);
		if (p->nerr > 1)
			res_err(res, "%s (and %d more above); nothing changed", p->err[0].what, p->nerr - 1);
		else
			res_err(res, "%s; nothing changed", p->err[0].what);
		e = -EINVAL;
		goto out;
	}
	snprintf(res->journal, sizeof(res->journal), "%s/journal", env->state_dir);
	if (o->dry_run || !p->nch) {
		if (o->dry_run || access(res->journal, F_OK))
			res->journal[0] = '\0';
		goto out;
	}
	dfd = state_dir_open(env->state_dir, true, err, sizeof(err));
	if (dfd < 0) {
		e = dfd;
		res_err(res, "%s; nothing changed", err);
		goto out;
	}
	/* journal first: old values are on disk before anything changes */
	e = journal_load(dfd, &jr, err, sizeof(err));
	if (e == -ENOENT) {
		time_t now = time(NULL);

		strftime(jr.created, sizeof(jr.created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		e = netns_identity(&jr.netns, &jr.cookie, jr.boot_id, sizeof(jr.boot_id));
		if (e) {
			res_err(res, "cannot read the identity of this network namespace: %s; nothing changed",
				strerror(-e));
			goto out;
		}
		jr.pid = o->pid;
		jr.root = strdup(env->root);
		snprintf(jr.profile, sizeof(jr.profile), "%s", r.prof->name);
		if (!jr.root) {
			e = -ENOMEM;
			res_err(res, "out of memory; nothing changed");
			goto out;
		}
	} else if (e) {
		res_err(res, "cannot use journal '%s': %s; nothing changed", res->journal, err[0] ? err : strerror(-e));
		goto out;
	} else {
		pid_t holder;
		int where = journal_where(&jr, &holder);

		if (where == 0) {
			e = -ESTALE;
			res_err(res, "journal '%s' is stale: it was written in netns net:[%llu] (cookie %llu, boot %s), "
				"which no longer exists, so nothing it names can be restored; discard it with "
				"'qps-tune rollback --discard-stale --state-dir %s'; nothing changed", res->journal,
				(unsigned long long)jr.netns, (unsigned long long)jr.cookie, jr.boot_id, env->state_dir);
			goto out;
		}
		if (where != 1) {
			e = -EXDEV;
			res_err(res, "journal '%s' belongs to netns net:[%llu] (cookie %llu)%s, this is net:[%llu]: "
				"roll it back there or use another --state-dir; nothing changed", res->journal,
				(unsigned long long)jr.netns, (unsigned long long)jr.cookie,
				holder ? ", still alive" : "", (unsigned long long)r.cx.netns);
			goto out;
		}
		if (strcmp(jr.root, env->root)) {
			e = -EXDEV;
			res_err(res, "journal '%s' records files under --root '%s', not '%s': roll it back first or use "
				"another --state-dir; nothing changed", res->journal, jr.root, env->root);
			goto out;
		}
		/* a copy to put back if this apply fails */
		for (i = 0; i < jr.n; i++) {
			struct jentry *c = journal_record(&prev, jr.v[i].kind, jr.v[i].key, jr.v[i].old, jr.v[i].new_);

			if (!c) {
				e = -ENOMEM;
				res_err(res, "out of memory; nothing changed");
				goto out;
			}
			c->done = jr.v[i].done;
			c->have_meta = jr.v[i].have_meta;
			c->old_mode = jr.v[i].old_mode;
			c->old_uid = jr.v[i].old_uid;
			c->old_gid = jr.v[i].old_gid;
			c->dev = jr.v[i].dev;
			c->ino = jr.v[i].ino;
			c->hash = jr.v[i].hash;
		}
		memcpy(prev.created, jr.created, sizeof(prev.created));
		prev.netns = jr.netns;
		prev.cookie = jr.cookie;
		memcpy(prev.boot_id, jr.boot_id, sizeof(prev.boot_id));
		prev.pid = jr.pid;
		prev.root = strdup(jr.root);
		memcpy(prev.profile, jr.profile, sizeof(prev.profile));
		have_prev = true;
	}
	for (i = 0; i < p->nch; i++) {
		struct jentry *je;
		struct stat st;
		bool existed = jr.n && journal_find(&jr, p->ch[i].kind, p->ch[i].key);

		je = journal_record(&jr, p->ch[i].kind, p->ch[i].key, p->ch[i].old, p->ch[i].new_);
		if (!je) {
			e = -ENOMEM;
			res_err(res, "out of memory; nothing changed");
			goto out;
		}
		if (p->ch[i].kind == J_FILE && !existed) {
			je->have_meta = true;
			je->old_mode = 0644;
			if (p->ch[i].old && root_stat(env, p->ch[i].key, &st) == 0) {
				je->old_mode = st.st_mode & 07777;
				je->old_uid = st.st_uid;
				je->old_gid = st.st_gid;
			}
		}
	}
	e = journal_save(dfd, &jr);
	if (e) {
		res_err(res, "cannot write journal '%s': %s; nothing changed", res->journal, strerror(-e));
		goto out;
	}
	registry_add(env->run_dir, env->state_dir);
	/* done: how many changes were made (and must be undone on failure);
	 * failed: the change that failed, -1 if none */
	for (done = 0; done < p->nch; done++) {
		struct item *it = &p->ch[done];
		struct jentry *je = journal_find(&jr, it->kind, it->key);
		struct stat st;
		char *werr = NULL, *kept = NULL;
		mode_t mode = je->have_meta && it->old ? je->old_mode : 0644;
		uid_t uid = je->have_meta && it->old ? je->old_uid : 0;
		gid_t gid = je->have_meta && it->old ? je->old_gid : 0;

		if (apply_write(env, it->kind, it->key, it->new_, mode, uid, gid, &st, &werr)) {
			snprintf(err, sizeof(err), "%s", werr ? werr : "write failed");
			free(werr);
			failed = done;
			break;
		}
		if (it->kind == J_FILE) {
			je->dev = st.st_dev;
			je->ino = st.st_ino;
			je->hash = content_hash(it->new_);
		} else if (apply_read(env, it->kind, it->key, &kept, NULL) == 0 && kept &&
			   !kept_equal(it->kind, kept, it->new_)) {
			/* the kernel may accept a write and keep something else (rounding to
			 * jiffies, clamping): judge the rule on what it kept */
			if (it->kind != J_SYSCTL || !rules_hold(&r, it->key, kept)) {
				snprintf(err, sizeof(err), "wrote '%s' to %s but the kernel kept '%s'%s", it->new_,
					 it->label, kept, it->kind == J_SYSCTL ? ", which does not satisfy the rule" : "");
				free(kept);
				failed = done++;	/* it did change: undo it too */
				break;
			}
			free(it->new_);
			it->new_ = kept;
			free(je->new_);
			je->new_ = strdup(kept);
			kept = NULL;
		}
		free(kept);
		je->done = true;
		journal_save(dfd, &jr);	/* progress: what a crash leaves is what rollback finds */
		maybe_die(env, done + 1);
	}
	if (failed >= 0) {
		int undone = 0, bad = 0;

		res_warn(res, "%s", err);
		for (i = done - 1; i >= 0; i--) {
			struct jentry *je = journal_find(&jr, p->ch[i].kind, p->ch[i].key);
			char *werr = NULL;

			if (apply_write(env, p->ch[i].kind, p->ch[i].key, p->ch[i].old, je->old_mode, je->old_uid,
					je->old_gid, NULL, &werr)) {
				res_warn(res, "rollback: %s", werr ? werr : "write failed");
				bad++;
			} else {
				undone++;
				je->done = false;
			}
			free(werr);
		}
		if (!bad) {
			if (have_prev) {
				journal_save(dfd, &prev);
			} else {
				unlinkat(dfd, "journal", 0);
				registry_remove(env->run_dir, env->state_dir);
			}
			res_err(res, "apply failed at %s (%s); rolled back %d change%s; nothing changed",
				p->ch[failed].label, p->ch[failed].origin[0] ? p->ch[failed].origin : "persist",
				undone, undone == 1 ? "" : "s");
		} else {
			journal_save(dfd, &jr);
			res_err(res, "apply failed at %s and %d of %d changes could not be undone; the journal '%s' "
				"keeps the old values: run qps-tune rollback", p->ch[failed].label, bad, done,
				res->journal);
		}
		e = -EIO;
		goto out;
	}
	res->changed = p->nch;
	e = 0;
out:
	if (dfd >= 0)
		close(dfd);
	if (lock >= 0)
		close(lock);
	run_release(&r);
	journal_release(&jr);
	journal_release(&prev);
	return e;
}
