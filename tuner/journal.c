/* journal.c - apply's journal of old values, its identity and validation,
 * the state directory, the host lock and the registry of journals; see journal.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#define JOURNAL_NAME "journal"
#define JOURNAL_MAX (4 << 20)	/* bytes: apply writes a few KiB */

static const char *const kinds[] = { "sysctl", "sysfs", "rlimit", "affinity", "file" };

const char *jkind_str(enum jkind k)
{
	return kinds[k];
}

static void entry_free(struct jentry *e)
{
	free(e->key);
	free(e->old);
	free(e->new_);
}

void journal_release(struct journal *j)
{
	int i;

	for (i = 0; i < j->n; i++)
		entry_free(&j->v[i]);
	free(j->v);
	free(j->root);
	memset(j, 0, sizeof(*j));
}

struct jentry *journal_find(struct journal *j, enum jkind kind, const char *key)
{
	int i;

	for (i = 0; i < j->n; i++)
		if (j->v[i].kind == kind && !strcmp(j->v[i].key, key))
			return &j->v[i];
	return NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

struct jentry *journal_record(struct journal *j, enum jkind kind, const char *key, const char *old,
			      const char *new_)
{
	struct jentry *e = journal_find(j, kind, key);
	bool oom = false;

	if (e) {
		/* the first old value is what rollback must restore */
		char *n = dup_or_null(new_, &oom);

		if (oom)
			return NULL;
		free(e->new_);
		e->new_ = n;
		e->done = false;
		return e;
	}
	if (j->n == j->cap) {
		int cap = j->cap ? j->cap * 2 : 32;
		struct jentry *v = realloc(j->v, (size_t)cap * sizeof(*v));

		if (!v)
			return NULL;
		j->v = v;
		j->cap = cap;
	}
	e = &j->v[j->n];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->key = dup_or_null(key, &oom);
	e->old = dup_or_null(old, &oom);
	e->new_ = dup_or_null(new_, &oom);
	if (oom || !e->key) {
		entry_free(e);
		return NULL;
	}
	j->n++;
	return e;
}

/* ---- validation: what apply can produce, nothing else */

bool unit_name_valid(const char *u)
{
	size_t n = strlen(u), i;
	int at = 0;

	/* systemd: [A-Za-z0-9:_.@\-], at most 255, one '@'; drop-ins only for services */
	if (n < 9 || n > 255 || strcmp(u + n - 8, ".service") || u[0] == '.' || u[0] == '@')
		return false;
	for (i = 0; i < n - 8; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c == '@')
			at++;
		else if (!isalnum(c) && c != ':' && c != '_' && c != '.' && c != '-' && c != '\\')
			return false;
	}
	return at <= 1;
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool ifname_valid(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 15 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:@-", s[i]))
			return false;
	return true;
}

bool journal_key_valid(enum jkind kind, const char *key)
{
	const char *p, *q;

	switch (kind) {
	case J_SYSCTL:
		return knob_key_valid(key);
	case J_SYSFS:
		if (!strncmp(key, "/proc/irq/", 10)) {
			p = key + 10;
			q = strchr(p, '/');
			return q && all_digits(p, (size_t)(q - p)) && !strcmp(q, "/smp_affinity_list");
		}
		if (strncmp(key, "/sys/class/net/", 15))
			return false;
		p = key + 15;
		q = strchr(p, '/');
		if (!q || !ifname_valid(p, (size_t)(q - p)) || strncmp(q, "/queues/", 8))
			return false;
		p = q + 8;
		if (!strncmp(p, "rx-", 3) || !strncmp(p, "tx-", 3)) {
			bool rx = p[0] == 'r';

			p += 3;
			q = strchr(p, '/');
			return q && all_digits(p, (size_t)(q - p)) && !strcmp(q, rx ? "/rps_cpus" : "/xps_cpus");
		}
		return false;
	case J_RLIMIT:
	case J_AFFINITY:
		q = strchr(key, '@');
		return q && all_digits(key, (size_t)(q - key)) && all_digits(q + 1, strlen(q + 1));
	case J_FILE:
		if (!strcmp(key, "/etc/sysctl.d/90-qps-tune.conf") ||
		    !strcmp(key, "/etc/security/limits.d/90-qps-tune.conf"))
			return true;
		if (strncmp(key, "/etc/systemd/system/", 20))
			return false;
		p = key + 20;
		q = strstr(p, ".d/90-qps-tune.conf");
		if (!q || strcmp(q, ".d/90-qps-tune.conf")) {
			return false;
		} else {
			char unit[256];

			if ((size_t)(q - p) >= sizeof(unit))
				return false;
			memcpy(unit, p, (size_t)(q - p));
			unit[q - p] = '\0';
			return unit_name_valid(unit);
		}
	}
	return false;
}

static bool value_valid(enum jkind kind, const char *v)
{
	if (!v)
		return kind == J_FILE;
	if (kind == J_FILE)
		return true;
	/* one line, what the kernel prints for a sysctl or mask */
	return strlen(v) < 4096 && !strchr(v, '\n');
}

/* ---- encoding */

static void put_escaped(FILE *f, const char *s)
{
	if (!s) {
		fputc('!', f);
		return;
	}
	fputc('=', f);
	for (; *s; s++) {
		if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\\')
			fputs("\\\\", f);
		else
			fputc(*s, f);
	}
}

/* Decodes one field in place. Returns 0, sets *@out (NULL for absent). */
static int decode(char *s, char **out)
{
	char *o, *p;

	if (*s == '!' && !s[1]) {
		*out = NULL;
		return 0;
	}
	if (*s != '=')
		return -EINVAL;
	for (p = s + 1, o = s; *p; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		p++;
		if (*p == 't')
			*o++ = '\t';
		else if (*p == 'n')
			*o++ = '\n';
		else if (*p == '\\')
			*o++ = '\\';
		else
			return -EINVAL;
	}
	*o = '\0';
	*out = s;
	return 0;
}

static int parse_meta(const char *s, struct jentry *e)
{
	unsigned long long m, u, g, d, i, h;

	if (!strcmp(s, "-"))
		return 0;
	if (sscanf(s, "m=%llo,u=%llu,g=%llu,d=%llu,i=%llu,h=%llx", &m, &u, &g, &d, &i, &h) != 6 ||
	    m > 07777)
		return -EINVAL;
	e->have_meta = true;
	e->old_mode = (mode_t)m;
	e->old_uid = (uid_t)u;
	e->old_gid = (gid_t)g;
	e->dev = d;
	e->ino = i;
	e->hash = h;
	return 0;
}

#define BAD(...) do { snprintf(err, err_size, __VA_ARGS__); rc = -EINVAL; goto out; } while (0)

int journal_load(int dfd, struct journal *j, char *err, size_t err_size)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct stat st;
	int rc = 0, lineno = 0, fd;
	FILE *f = NULL;

	memset(j, 0, sizeof(*j));
	err[0] = '\0';
	fd = openat(dfd, JOURNAL_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* written by a less trusted party: refused, never carried out */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, err_size, "not a regular file");
		return -EINVAL;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		snprintf(err, err_size, "owned by uid %u with mode %04o: only a journal of uid %u, not "
			 "writable by others, is trusted", (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_size > JOURNAL_MAX) {
		close(fd);
		snprintf(err, err_size, "larger than %d bytes", JOURNAL_MAX);
		return -EFBIG;
	}
	f = fdopen(fd, "re");
	if (!f) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		char *fields[6], *save = NULL, *key, *old, *new_;
		struct jentry *e;
		int n = 0, k;

		lineno++;
		if (line[len - 1] != '\n')
			BAD("line %d: not terminated by a newline (truncated)", lineno);
		line[--len] = '\0';
		if (lineno == 1) {
			if (!strcmp(line, "qps-tune-journal 1"))
				BAD("format 1, written by qps-tune before 0.2: it does not say which namespace "
				    "(cookie) or boot it belongs to; roll it back with the qps-tune that wrote it, "
				    "or move it out of the state directory");
			if (strcmp(line, "qps-tune-journal 2"))
				BAD("line 1: not a qps-tune journal of format 2");
			continue;
		}
		if (!strncmp(line, "created ", 8)) {
			snprintf(j->created, sizeof(j->created), "%s", line + 8);
			continue;
		}
		if (!strncmp(line, "netns ", 6)) {
			j->netns = strtoull(line + 6, NULL, 10);
			continue;
		}
		if (!strncmp(line, "netns_cookie ", 13)) {
			j->cookie = strtoull(line + 13, NULL, 10);
			continue;
		}
		if (!strncmp(line, "boot_id ", 8)) {
			snprintf(j->boot_id, sizeof(j->boot_id), "%s", line + 8);
			continue;
		}
		if (!strncmp(line, "pid ", 4)) {
			j->pid = (pid_t)atoi(line + 4);
			continue;
		}
		if (!strncmp(line, "root ", 5)) {
			char *r;

			if (decode(line + 5, &r) || !r || (r[0] && r[0] != '/'))
				BAD("line %d: malformed root", lineno);
			free(j->root);
			j->root = strdup(r);
			if (!j->root)
				BAD("out of memory");
			continue;
		}
		if (!strncmp(line, "profile ", 8)) {
			snprintf(j->profile, sizeof(j->profile), "%s", line + 8);
			continue;
		}
		/* tabs separate fields; keys and values never contain a raw tab (escaped) */
		for (char *t = strtok_r(line, "\t", &save); t && n < 6; t = strtok_r(NULL, "\t", &save))
			fields[n++] = t;
		if (n != 6)
			BAD("line %d: want 6 tab-separated fields, got %d", lineno, n);
		for (k = 0; k < 5 && strcmp(kinds[k], fields[0]); k++)
			;
		if (k == 5 || decode(fields[1], &key) || !key || decode(fields[2], &old) ||
		    decode(fields[3], &new_) || (strcmp(fields[4], "done") && strcmp(fields[4], "planned")))
			BAD("line %d: malformed entry", lineno);
		if (!journal_key_valid((enum jkind)k, key))
			BAD("line %d: %s '%s' is nothing qps-tune apply writes", lineno, kinds[k], key);
		if (!value_valid((enum jkind)k, old) || !value_valid((enum jkind)k, new_) || (k != J_FILE && !new_))
			BAD("line %d: malformed value for '%s'", lineno, key);
		e = journal_record(j, (enum jkind)k, key, old, new_);
		if (!e)
			BAD("out of memory");
		e->done = !strcmp(fields[4], "done");
		if (parse_meta(fields[5], e))
			BAD("line %d: malformed file identity", lineno);
	}
	if (!rc && lineno == 0)
		BAD("empty");
	if (!j->root) {
		j->root = strdup("");
		if (!j->root)
			BAD("out of memory");
	}
out:
	free(line);
	fclose(f);
	if (rc)
		journal_release(j);
	return rc;
}

int journal_save(int dfd, const struct journal *j)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int i, err;

	if (!m)
		return -errno;
	fprintf(m, "qps-tune-journal 2\ncreated %s\nnetns %llu\nnetns_cookie %llu\nboot_id %s\npid %d\nroot ",
		j->created, (unsigned long long)j->netns, (unsigned long long)j->cookie, j->boot_id, (int)j->pid);
	put_escaped(m, j->root ? j->root : "");
	fprintf(m, "\nprofile %s\n", j->profile);
	for (i = 0; i < j->n; i++) {
		const struct jentry *e = &j->v[i];

		fprintf(m, "%s\t", kinds[e->kind]);
		put_escaped(m, e->key);
		fputc('\t', m);
		put_escaped(m, e->old);
		fputc('\t', m);
		put_escaped(m, e->new_);
		fprintf(m, "\t%s\t", e->done ? "done" : "planned");
		if (e->have_meta)
			fprintf(m, "m=%04o,u=%u,g=%u,d=%llu,i=%llu,h=%llx\n", (unsigned)e->old_mode,
				(unsigned)e->old_uid, (unsigned)e->old_gid, (unsigned long long)e->dev,
				(unsigned long long)e->ino, (unsigned long long)e->hash);
		else
			fputs("-\n", m);
	}
	if (fclose(m)) {
		free(buf);
		return -ENOMEM;
	}
	err = write_atomic_at(dfd, JOURNAL_NAME, buf, 0600, (uid_t)-1, (gid_t)-1, NULL);
	free(buf);
	return err;
}

/* ---- identity */

static int cookie_of_current(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len) < 0)
		err = -errno;
	close(fd);
	return err;
}

int netns_identity(uint64_t *inode, uint64_t *cookie, char *boot_id, size_t size)
{
	int err;

	*inode = netns_inode(0);
	err = cookie_of_current(cookie);
	if (err)
		return err;
	if (procfs_read("/proc/sys/kernel/random/boot_id", boot_id, size) < 0)
		return -errno ? -errno : -EIO;
	return 0;
}

/* Cookie of the netns at @path (/proc/PID/ns/net, /run/netns/NAME), read by a
 * child that enters it: 0 when it cannot be read. */
static uint64_t cookie_at(const char *path)
{
	int pfd[2], fd, status;
	uint64_t cookie = 0;
	pid_t child;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 0;
	child = fork();
	if (child == 0) {
		uint64_t c = 0;

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0 && cookie_of_current(&c) == 0 &&
		    write(pfd[1], &c, sizeof(c)) == sizeof(c))
			_exit(0);
		_exit(1);
	}
	close(pfd[1]);
	if (child > 0) {
		if (read(pfd[0], &cookie, sizeof(cookie)) != sizeof(cookie))
			cookie = 0;
		waitpid(child, &status, 0);
	}
	close(pfd[0]);
	return cookie;
}

int journal_where(const struct journal *j, pid_t *holder)
{
	uint64_t ino, cookie;
	char boot[40], path[300];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = 0;

	*holder = 0;
	if (netns_identity(&ino, &cookie, boot, sizeof(boot)))
		return -EIO;
	if (strcmp(boot, j->boot_id))
		return 0;	/* another boot: that namespace is gone */
	if (cookie == j->cookie)
		return 1;
	/* the inode alone is reused by the kernel: confirm with the cookie */
	d = opendir("/proc");
	while (d && !found && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (stat(path, &st) == 0 && st.st_ino == j->netns && cookie_at(path) == j->cookie) {
			*holder = (pid_t)atoi(de->d_name);
			found = 2;
		}
	}
	if (d)
		closedir(d);
	d = found ? NULL : opendir("/run/netns");
	while (d && !found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (de->d_name[0] != '.' && stat(path, &st) == 0 && st.st_ino == j->netns &&
		    cookie_at(path) == j->cookie)
			found = 2;
	}
	if (d)
		closedir(d);
	return found;
}

/* ---- state directory, lock, registry */

static int mkdir_parents(const char *dir)
{
	char buf[PATH_MAX], *s;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

int state_dir_open(const char *dir, bool create, char *err, size_t err_size)
{
	struct stat st;
	int fd, e;

	if (create) {
		e = mkdir_parents(dir);
		if (!e && mkdir(dir, 0700) < 0 && errno != EEXIST)
			e = -errno;
		if (e) {
			snprintf(err, err_size, "cannot create state directory '%s': %s", dir, strerror(-e));
			return e;
		}
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "cannot open state directory '%s': %s%s", dir, strerror(-e),
			 e == -ELOOP || e == -ENOTDIR ? " (a symlink or not a directory: refused)" : "");
		return e;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(err, err_size, "refusing state directory '%s': owned by uid %u with mode %04o; it must "
			 "be owned by uid %u and not writable by group or others (a journal there is carried "
			 "out as root)", dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	return fd;
}

static int run_dir_open(const char *run_dir, char *err, size_t err_size)
{
	return state_dir_open(run_dir, true, err, err_size);
}

int host_lock(const char *run_dir, char *err, size_t err_size)
{
	int dfd = run_dir_open(run_dir, err, err_size), fd, i;

	if (dfd < 0)
		return dfd;
	fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	close(dfd);
	if (fd < 0) {
		int e = -errno;

		snprintf(err, err_size, "cannot open lock '%s/lock': %s", run_dir, strerror(-e));
		return e;
	}
	for (i = 0; i < 40; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK)
			break;
		nanosleep(&ts, NULL);
	}
	snprintf(err, err_size, "another qps-tune apply or rollback holds the lock '%s/lock'", run_dir);
	close(fd);
	return -EBUSY;
}

char **registry_list(const char *run_dir)
{
	char err[256], *text = NULL, *line, *save = NULL, **v;
	int dfd = run_dir_open(run_dir, err, sizeof(err)), fd, n = 0;
	struct stat st;
	ssize_t len;

	v = calloc(65, sizeof(*v));
	if (!v || dfd < 0)
		goto out;
	fd = openat(dfd, "journals", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	text = calloc(1, (size_t)st.st_size + 1);
	len = text ? read(fd, text, (size_t)st.st_size) : -1;
	close(fd);
	if (len <= 0)
		goto out;
	for (line = strtok_r(text, "\n", &save); line && n < 64; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '/' && (v[n] = strdup(line)))
			n++;
out:
	free(text);
	if (dfd >= 0)
		close(dfd);
	return v;
}

static int registry_write(const char *run_dir, char **v, const char *skip, const char *add)
{
	char err[256], *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int dfd, i, e;

	if (!m)
		return -ENOMEM;
	for (i = 0; v && v[i]; i++)
		if (!(skip && !strcmp(v[i], skip)) && !(add && !strcmp(v[i], add)))
			fprintf(m, "%s\n", v[i]);
	if (add)
		fprintf(m, "%s\n", add);
	if (fclose(m)) {
		free(buf);
		return -ENOMEM;
	}
	dfd = run_dir_open(run_dir, err, sizeof(err));
	if (dfd < 0) {
		free(buf);
		return dfd;
	}
	e = write_atomic_at(dfd, "journals", buf, 0600, (uid_t)-1, (gid_t)-1, NULL);
	close(dfd);
	free(buf);
	return e;
}

static void list_free(char **v)
{
	int i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int registry_add(const char *run_dir, const char *state_dir)
{
	char real[PATH_MAX], **v;
	int e;

	if (!realpath(state_dir, real))
		return -errno;
	v = registry_list(run_dir);
	e = registry_write(run_dir, v, NULL, real);
	list_free(v);
	return e;
}

int registry_remove(const char *run_dir, const char *state_dir)
{
	char real[PATH_MAX], **v;
	int e;

	if (!realpath(state_dir, real))
		return -errno;
	v = registry_list(run_dir);
	e = registry_write(run_dir, v, real, NULL);
	list_free(v);
	return e;
}

long long journal_somaxconn_before(const struct tenv *env, uint64_t netns)
{
	char err[256];
	struct journal j;
	long long v = 0;
	int dfd = open(env->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return 0;
	if (journal_load(dfd, &j, err, sizeof(err)) == 0) {
		struct jentry *e = journal_find(&j, J_SYSCTL, "net.core.somaxconn");

		if (e && e->old && j.netns == netns)
			v = atoll(e->old);
		journal_release(&j);
	}
	close(dfd);
	return v;
}
