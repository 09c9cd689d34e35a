/* ksyms.c - /proc/kallsyms lookup (see ksyms.h). */
#include "ksyms.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ksym {
	uint64_t addr;
	char *name;
};

struct ksyms {
	struct ksym *syms;
	int n, cap;
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
	free(k);
}

struct ksyms *ksyms_load(const char *path)
{
	struct ksyms *k = calloc(1, sizeof(*k));
	char line[512], name[256], type;
	unsigned long long addr;
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
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3)
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (addr)
			nonzero = true;
		if (k->n == k->cap) {
			int cap = k->cap ? k->cap * 2 : 4096;
			struct ksym *s = realloc(k->syms, cap * sizeof(*s));

			if (!s) {
				err = ENOMEM;
				break;
			}
			k->syms = s;
			k->cap = cap;
		}
		k->syms[k->n].addr = addr;
		k->syms[k->n].name = strdup(name);
		if (!k->syms[k->n].name) {
			err = ENOMEM;
			break;
		}
		k->n++;
	}
	fclose(f);
	if (!err && !nonzero)
		err = k->n ? EPERM : ENOENT;
	if (err) {
		ksyms_free(k);
		errno = err;
		return NULL;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	return k;
}

const char *ksyms_find(const struct ksyms *k, uint64_t addr, uint64_t *off)
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
	if (best < 0)
		return NULL;
	if (off)
		*off = addr - k->syms[best].addr;
	return k->syms[best].name;
}

int ksyms_count(const struct ksyms *k)
{
	return k->n;
}
