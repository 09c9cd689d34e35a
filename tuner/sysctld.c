/* sysctld.c - the boot-time sysctl configuration as systemd-sysctl sees it. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysctld.h"
#include "rootfs.h"

static const char *const dirs[] = {
	"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d",
	"/lib/sysctl.d",
};

struct name {
	char base[128];
	char path[256];		/* host path */
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->base, ((const struct name *)b)->base);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int add(struct sysctld *s, const char *key, const char *val, const char *file, int line)
{
	struct sysctld_entry *e;
	size_t i, o = 0;
	int sp = 0;

	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 64;
		struct sysctld_entry *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n++];
	snprintf(e->key, sizeof(e->key), "%s", key);
	/* "net/ipv4/x" and "net.ipv4.x" name the same key */
	if (strchr(e->key, '/') && (!strchr(e->key, '.') || strchr(e->key, '/') < strchr(e->key, '.')))
		for (i = 0; e->key[i]; i++)
			if (e->key[i] == '/')
				e->key[i] = '.';
	for (i = 0; val[i] && o + 1 < sizeof(e->value); i++) {
		if (val[i] == ' ' || val[i] == '\t') {
			sp = 1;
			continue;
		}
		if (sp && o)
			e->value[o++] = ' ';
		sp = 0;
		e->value[o++] = val[i];
	}
	e->value[o] = '\0';
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->line = line;
	return 0;
}

static int parse_file(const struct tenv *env, struct sysctld *s, const char *host_path)
{
	char link[PATH_MAX], buf[1024];
	FILE *f;
	int line = 0, err = 0;

	if (root_readlink(env, host_path, link, sizeof(link)) == 0 && !strcmp(link, "/dev/null"))
		return 0;	/* masked */
	/* under --root a symlink is refused (ELOOP): not read, like a missing file */
	f = root_fopen(env, host_path);
	if (!f)
		return errno == ENOENT || errno == ELOOP || errno == EINVAL ? 0 : -errno;
	while (fgets(buf, sizeof(buf), f)) {
		char *l = trim(buf), *eq;

		line++;
		if (!*l || *l == '#' || *l == ';')
			continue;
		eq = strchr(l, '=');
		if (!eq)
			continue;
		*eq = '\0';
		l = trim(l);
		if (*l == '-')
			l++;
		if (!*l || strchr(l, '*'))
			continue;
		err = add(s, l, trim(eq + 1), host_path, line);
		if (err)
			break;
	}
	fclose(f);
	return err;
}

int sysctld_load(const struct tenv *env, struct sysctld *s)
{
	struct name *names = NULL;
	int n = 0, cap = 0, i, err = 0;
	size_t d;

	memset(s, 0, sizeof(*s));
	for (d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		struct dirent *de;
		DIR *dir;

		dir = root_opendir(env, dirs[d]);
		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			size_t len = strlen(de->d_name);

			if (len < 6 || strcmp(de->d_name + len - 5, ".conf") || len >= sizeof(names[0].base))
				continue;
			for (i = 0; i < n; i++)
				if (!strcmp(names[i].base, de->d_name))
					break;
			if (i < n)
				continue;	/* masked by an earlier directory */
			if (n == cap) {
				struct name *nn;

				cap = cap ? cap * 2 : 32;
				nn = realloc(names, cap * sizeof(*nn));
				if (!nn) {
					err = -ENOMEM;
					closedir(dir);
					goto out;
				}
				names = nn;
			}
			snprintf(names[n].base, sizeof(names[n].base), "%s", de->d_name);
			snprintf(names[n].path, sizeof(names[n].path), "%s/%s", dirs[d], de->d_name);
			n++;
		}
		closedir(dir);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n && !err; i++)
		err = parse_file(env, s, names[i].path);
out:
	free(names);
	return err;
}

const struct sysctld_entry *sysctld_final(const struct sysctld *s, const char *key)
{
	int i;

	for (i = s->n - 1; i >= 0; i--)
		if (!strcmp(s->v[i].key, key))
			return &s->v[i];
	return NULL;
}

void sysctld_release(struct sysctld *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}
