/* ksyms.c - /proc/kallsyms lookup (see ksyms.h). */
#include "ksyms.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "escape.h"

struct ksym {
	uint64_t addr;
	char *name;			/* escaped */
	int mod;			/* index in ksyms.mods, -1: the kernel image */
};

struct ksyms {
	struct ksym *syms;
	int n, cap;
	char **mods;			/* escaped module names */
	int nmods;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void ksyms_free(struct ksyms *k)
{
	if (!k)
		return;
	for (int i = 0; i < k->n; i++)
		free(k->syms[i].name);
	free(k->syms);
	for (int i = 0; i < k->nmods; i++)
		free(k->mods[i]);
	free(k->mods);
	free(k);
}

/* Index of module @name (added if new); -ENOMEM. Lines of one module come
 * together, so the last one is checked first. */
static int mod_index(struct ksyms *k, const char *name, size_t len)
{
	char **m, *s;

	for (int i = k->nmods - 1; i >= 0 && i >= k->nmods - 4; i--)
		if (!strncmp(k->mods[i], name, len) && !k->mods[i][len])
			return i;
	s = strndup(name, len);
	if (!s)
		return -ENOMEM;
	m = realloc(k->mods, (size_t)(k->nmods + 1) * sizeof(*m));
	if (!m) {
		free(s);
		return -ENOMEM;
	}
	k->mods = m;
	k->mods[k->nmods] = escape_dup(s);
	free(s);
	if (!k->mods[k->nmods])
		return -ENOMEM;
	return k->nmods++;
}

struct ksyms *ksyms_load(const char *path)
{
	struct ksyms *k = calloc(1, sizeof(*k));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	bool nonzero = false;
	int err = 0;
	FILE *f;

	if (!k)
		return NULL;
	f = fopen(path ? path : "/proc/kallsyms", "re");
	if (!f) {
		err = errno;
		free(k);
		errno = err;
		return NULL;
	}
	/* "ADDR TYPE NAME[\t[MODULE]]\n"; getline: no name is cut short */
	while ((len = getline(&line, &lcap, f)) > 0) {
		unsigned long long addr;
		char type, *name, *end, *mod;
		int pos = 0, mi = -1;

		if (line[len - 1] != '\n')
			break;		/* the last line, unterminated: not trusted */
		line[len - 1] = 0;
		if (sscanf(line, "%llx %c %n", &addr, &type, &pos) != 2 || !pos)
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		name = line + pos;
		end = name + strcspn(name, " \t");
		mod = end + strspn(end, " \t");
		*end = 0;
		if (!*name)
			continue;
		if (*mod == '[') {
			size_t ml = strcspn(mod + 1, "]");

			mi = mod_index(k, mod + 1, ml);
			if (mi < 0) {
				err = ENOMEM;
				break;
			}
		}
		if (addr)
			nonzero = true;
		if (k->n == k->cap) {
			int cap = k->cap ? k->cap * 2 : 4096;
			struct ksym *s = realloc(k->syms, (size_t)cap * sizeof(*s));

			if (!s) {
				err = ENOMEM;
				break;
			}
			k->syms = s;
			k->cap = cap;
		}
		k->syms[k->n].addr = addr;
		k->syms[k->n].mod = mi;
		k->syms[k->n].name = escape_dup(name);
		if (!k->syms[k->n].name) {
			err = ENOMEM;
			break;
		}
		k->n++;
	}
	free(line);
	fclose(f);
	if (!err && !nonzero)
		err = k->n ? EPERM : ENOENT;
	if (err) {
		ksyms_free(k);
		errno = err;
		return NULL;
	}
	qsort(k->syms, (size_t)k->n, sizeof(*k->syms), cmp_ksym);
	return k;
}

const char *ksyms_find_mod(const struct ksyms *k, uint64_t addr, uint64_t *off, const char **mod)
{
	int lo = 0, hi = k->n - 1, best = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (mod)
		*mod = best >= 0 && k->syms[best].mod >= 0 ? k->mods[k->syms[best].mod] : NULL;
	if (best < 0)
		return NULL;
	if (off)
		*off = addr - k->syms[best].addr;
	return k->syms[best].name;
}

const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *off)
{
	return ksyms_find_mod(k, addr, off, NULL);
}

int ksyms_count(const struct ksyms *k)
{
	return k->n;
}

static int read_sysctl_int(const char *path, int *v)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%d", v) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

static bool has_cap_syslog(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_SYSLOG / 32].effective & (1u << (CAP_SYSLOG % 32));
}

enum ksyms_hidden ksyms_hidden_reason(char *buf, size_t size)
{
	int kptr = -1, paranoid = 2;
	bool cap = has_cap_syslog();

	read_sysctl_int("/proc/sys/kernel/kptr_restrict", &kptr);
	read_sysctl_int("/proc/sys/kernel/perf_event_paranoid", &paranoid);
	/* the kernel's kallsyms_show_value() */
	if (kptr >= 2) {
		snprintf(buf, size, "kernel.kptr_restrict is %d: kernel addresses are hidden even from CAP_SYSLOG", kptr);
		return KSYMS_HIDDEN_KPTR_RESTRICT;
	}
	if (kptr == 1 && !cap) {
		snprintf(buf, size, "kernel.kptr_restrict is 1 and this process lacks CAP_SYSLOG");
		return KSYMS_HIDDEN_CAP_SYSLOG;
	}
	if (kptr == 0 && paranoid > 1 && !cap) {
		snprintf(buf, size, "this process lacks CAP_SYSLOG and kernel.perf_event_paranoid is %d (kernel.kptr_restrict is 0: addresses need CAP_SYSLOG or perf_event_paranoid <= 1)",
			 paranoid);
		return KSYMS_HIDDEN_CAP_SYSLOG_PARANOID;
	}
	if (kptr >= 0 && (cap || (kptr == 0 && paranoid <= 1))) {
		snprintf(buf, size, "kernel addresses should be visible (kernel.kptr_restrict %d, kernel.perf_event_paranoid %d, CAP_SYSLOG %s)",
			 kptr, paranoid, cap ? "held" : "not held");
		return KSYMS_SHOWN;
	}
	snprintf(buf, size, "kernel addresses are hidden for a reason not known here (kernel.kptr_restrict unreadable)");
	return KSYMS_HIDDEN_UNKNOWN;
}
