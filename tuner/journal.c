/* journal.c - apply's journal of old values; see journal.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

static const char *const kinds[] = { "sysctl", "sysfs", "rlimit", "affinity", "file" };

const char *jkind_str(enum jkind k)
{
	return kinds[k];
}

void journal_release(struct journal *j)
{
	int i;

	for (i = 0; i < j->n; i++) {
		free(j->v[i].old);
		free(j->v[i].new_);
	}
	free(j->v);
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

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

int journal_record(struct journal *j, enum jkind kind, const char *key, const char *old,
		   const char *new_)
{
	struct jentry *e = journal_find(j, kind, key);
	int err = 0;

	if (e) {
		/* the first old value is what rollback must restore */
		free(e->new_);
		e->new_ = dup_or_null(new_, &err);
		return err;
	}
	if (j->n == j->cap) {
		int cap = j->cap ? j->cap * 2 : 32;
		struct jentry *v = realloc(j->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->v = v;
		j->cap = cap;
	}
	e = &j->v[j->n];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->old = dup_or_null(old, &err);
	e->new_ = dup_or_null(new_, &err);
	if (err) {
		free(e->old);
		free(e->new_);
		return err;
	}
	j->n++;
	return 0;
}

int journal_copy(struct journal *dst, const struct journal *src)
{
	int i, err;

	memset(dst, 0, sizeof(*dst));
	memcpy(dst->created, src->created, sizeof(dst->created));
	dst->netns = src->netns;
	dst->pid = src->pid;
	memcpy(dst->profile, src->profile, sizeof(dst->profile));
	for (i = 0; i < src->n; i++) {
		err = journal_record(dst, src->v[i].kind, src->v[i].key, src->v[i].old, src->v[i].new_);
		if (err) {
			journal_release(dst);
			return err;
		}
	}
	return 0;
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

int journal_load(const char *path, struct journal *j)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int err = 0, lineno = 0;
	FILE *f;

	memset(j, 0, sizeof(*j));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		char *fields[4], *save = NULL, *old, *new_;
		int n = 0, k;

		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "qps-tune-journal 1")) {
				err = -EINVAL;
				break;
			}
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
		if (!strncmp(line, "pid ", 4)) {
			j->pid = (pid_t)atoi(line + 4);
			continue;
		}
		if (!strncmp(line, "profile ", 8)) {
			snprintf(j->profile, sizeof(j->profile), "%s", line + 8);
			continue;
		}
		/* tabs separate fields; values never contain a raw tab (escaped) */
		for (char *t = strtok_r(line, "\t", &save); t && n < 4; t = strtok_r(NULL, "\t", &save))
			fields[n++] = t;
		if (n != 4) {
			err = -EINVAL;
			break;
		}
		for (k = 0; k < 5 && strcmp(kinds[k], fields[0]); k++)
			;
		if (k == 5 || decode(fields[2], &old) || decode(fields[3], &new_)) {
			err = -EINVAL;
			break;
		}
		err = journal_record(j, (enum jkind)k, fields[1], old, new_);
		if (err)
			break;
	}
	if (!err && lineno == 0)
		err = -EINVAL;
	free(line);
	fclose(f);
	if (err)
		journal_release(j);
	return err;
}

int write_atomic(const char *path, const char *data, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	size_t len = strlen(data), off = 0;
	int fd, dfd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* a stale temp file from a crash is ours to remove; never follow a planted link */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);	/* the rename itself must survive a crash */
		close(dfd);
	}
	return 0;
}

int journal_save(const char *path, const struct journal *j)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int i, err;

	if (!m)
		return -errno;
	fprintf(m, "qps-tune-journal 1\ncreated %s\nnetns %llu\npid %d\nprofile %s\n", j->created,
		(unsigned long long)j->netns, (int)j->pid, j->profile);
	for (i = 0; i < j->n; i++) {
		fprintf(m, "%s\t%s\t", kinds[j->v[i].kind], j->v[i].key);
		put_escaped(m, j->v[i].old);
		fputc('\t', m);
		put_escaped(m, j->v[i].new_);
		fputc('\n', m);
	}
	if (fclose(m)) {
		free(buf);
		return -ENOMEM;
	}
	err = write_atomic(path, buf, 0600);
	free(buf);
	return err;
}
