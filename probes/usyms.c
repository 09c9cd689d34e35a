/* usyms.c - user-space symbolization (see usyms.h). */
#include "usyms.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct usym {
	uint64_t addr, size;
	char *name;
};

struct seg {
	uint64_t off, vaddr, filesz;	/* a PT_LOAD program header */
};

/* One ELF file, cached by (dev, inode) for the life of the usyms. */
struct efile {
	dev_t dev;
	ino_t ino;
	char *base;			/* basename, for "module+0xOFF" */
	struct usym *syms;
	int nsyms;
	struct seg *segs;
	int nsegs;
	bool ok;			/* opened and parsed */
};

struct umap {
	uint64_t start, end, off;
	struct efile *f;		/* NULL: not a file ([vdso], anonymous JIT) */
	char name[24];			/* for non-file mappings: "[vdso]" */
};

struct uproc {
	pid_t pid;
	uint32_t tag;
	struct umap *maps;
	int n;
};

struct usyms {
	struct uproc *procs;
	int nprocs, capprocs;
	struct efile **files;
	int nfiles, capfiles;
};

struct usyms *usyms_new(void)
{
	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	return calloc(1, sizeof(struct usyms));
}

static void efile_free(struct efile *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->nsyms; i++)
		free(f->syms[i].name);
	free(f->syms);
	free(f->segs);
	free(f->base);
	free(f);
}

void usyms_free(struct usyms *u)
{
	if (!u)
		return;
	for (int i = 0; i < u->nprocs; i++)
		free(u->procs[i].maps);
	free(u->procs);
	for (int i = 0; i < u->nfiles; i++)
		efile_free(u->files[i]);
	free(u->files);
	free(u);
}

static int cmp_usym(const void *a, const void *b)
{
	const struct usym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int add_syms(struct efile *f, Elf *e, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n, i;
	int cap = f->nsyms;

	if (!d || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym s;
		const char *name;

		if (!gelf_getsym(d, (int)i, &s))
			continue;
		if ((GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
		    !s.st_value || s.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(e, sh->sh_link, s.st_name);
		if (!name || !*name)
			continue;
		if (f->nsyms == cap) {
			struct usym *p;

			cap = cap ? cap * 2 : 256;
			p = realloc(f->syms, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			f->syms = p;
		}
		f->syms[f->nsyms].addr = s.st_value;
		f->syms[f->nsyms].size = s.st_size;
		f->syms[f->nsyms].name = strdup(name);
		if (!f->syms[f->nsyms].name)
			return -ENOMEM;
		f->nsyms++;
	}
	return 0;
}

/* Reads the PT_LOAD headers and function symbols of the ELF file @fd. */
static int efile_parse(struct efile *f, int fd)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	GElf_Shdr sh, symsh = { 0 }, dynsh = { 0 };
	size_t nph = 0;
	int err = 0;
	Elf *e;

	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		return -ENOEXEC;
	}
	if (elf_getphdrnum(e, &nph) == 0 && nph) {
		f->segs = calloc(nph, sizeof(*f->segs));
		if (!f->segs) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
				f->segs[f->nsegs].off = ph.p_offset;
				f->segs[f->nsegs].vaddr = ph.p_vaddr;
				f->segs[f->nsegs].filesz = ph.p_filesz;
				f->nsegs++;
			}
		}
	}
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB) {
			symtab = scn;
			symsh = sh;
		} else if (sh.sh_type == SHT_DYNSYM) {
			dynsym = scn;
			dynsh = sh;
		}
	}
	/* .symtab has the static functions too; stripped files keep .dynsym */
	if (symtab)
		err = add_syms(f, e, symtab, &symsh);
	if (!err && dynsym)
		err = add_syms(f, e, dynsym, &dynsh);
	if (!err && f->nsyms)
		qsort(f->syms, f->nsyms, sizeof(*f->syms), cmp_usym);
out:
	elf_end(e);
	return err;
}

static struct efile *efile_get(struct usyms *u, pid_t pid, const struct umap *m, dev_t dev,
			       ino_t ino, const char *path)
{
	char p[PATH_MAX + 64];
	const char *slash = strrchr(path, '/');
	struct efile *f;
	int fd = -1;

	for (int i = 0; i < u->nfiles; i++)
		if (u->files[i]->dev == dev && u->files[i]->ino == ino)
			return u->files[i];
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev = dev;
	f->ino = ino;
	f->base = strdup(slash ? slash + 1 : path);
	/* map_files names the very file mapped (deleted, or in another mount
	 * namespace); /proc/PID/root reaches into a container's root */
	snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(p, sizeof(p), "/proc/%d/root%s", (int)pid, path);
		fd = open(p, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		f->ok = efile_parse(f, fd) == 0;
		close(fd);
	}
	if (u->nfiles == u->capfiles) {
		int cap = u->capfiles ? u->capfiles * 2 : 32;
		struct efile **nf = realloc(u->files, cap * sizeof(*nf));

		if (!nf) {
			efile_free(f);
			return NULL;
		}
		u->files = nf;
		u->capfiles = cap;
	}
	u->files[u->nfiles++] = f;
	return f;
}

static struct uproc *proc_find(const struct usyms *u, pid_t pid, uint32_t tag)
{
	for (int i = 0; i < u->nprocs; i++)
		if (u->procs[i].pid == pid && u->procs[i].tag == tag)
			return &u->procs[i];
	return NULL;
}

bool usyms_has(const struct usyms *u, pid_t pid, uint32_t tag)
{
	return proc_find(u, pid, tag) != NULL;
}

int usyms_snapshot(struct usyms *u, pid_t pid, uint32_t tag)
{
	char path[64], line[PATH_MAX + 128];
	struct umap *maps = NULL;
	struct uproc *p;
	int n = 0, cap = 0, err = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perms[8], *file;
		int pos = 0;
		struct umap m = { 0 };

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off,
			   &maj, &min, &ino, &pos) < 7 || !strchr(perms, 'x'))
			continue;
		file = line + pos;
		file[strcspn(file, "\n")] = 0;
		m.start = start;
		m.end = end;
		m.off = off;
		if (file[0] == '/') {
			char *del = strstr(file, " (deleted)");

			if (del)
				*del = 0;
		} else {
			snprintf(m.name, sizeof(m.name), "%s", *file ? file : "[anon]");
		}
		if (n == cap) {
			struct umap *nm;

			cap = cap ? cap * 2 : 64;
			nm = realloc(maps, cap * sizeof(*nm));
			if (!nm) {
				err = -ENOMEM;
				break;
			}
			maps = nm;
		}
		maps[n] = m;
		if (file[0] == '/')
			maps[n].f = efile_get(u, pid, &m, makedev(maj, min), (ino_t)ino, file);
		n++;
	}
	fclose(fp);
	if (!err && n == 0)
		err = -ESRCH;	/* a zombie or a kernel thread: keep what we had */
	if (err) {
		free(maps);
		return err;
	}
	p = proc_find(u, pid, tag);
	if (!p) {
		if (u->nprocs == u->capprocs) {
			int c = u->capprocs ? u->capprocs * 2 : 32;
			struct uproc *np = realloc(u->procs, c * sizeof(*np));

			if (!np) {
				free(maps);
				return -ENOMEM;
			}
			u->procs = np;
			u->capprocs = c;
		}
		p = &u->procs[u->nprocs++];
		p->pid = pid;
		p->tag = tag;
		p->maps = NULL;
	}
	free(p->maps);
	p->maps = maps;
	p->n = n;
	return 0;
}

static const struct usym *sym_find(const struct efile *f, uint64_t vaddr)
{
	int lo = 0, hi = f->nsyms - 1, best = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (f->syms[mid].addr <= vaddr) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (best < 0)
		return NULL;
	/* a sized symbol must contain the address; unsized ones (asm) are trusted */
	if (f->syms[best].size && vaddr >= f->syms[best].addr + f->syms[best].size)
		return NULL;
	return &f->syms[best];
}

enum usyms_result usyms_resolve(struct usyms *u, pid_t pid, uint32_t tag, uint64_t addr,
				char *buf, size_t size)
{
	const struct uproc *p = proc_find(u, pid, tag);

	if (!p) {
		snprintf(buf, size, "[unknown]");
		return USYMS_NO_SNAPSHOT;
	}
	for (int i = 0; i < p->n; i++) {
		const struct umap *m = &p->maps[i];
		uint64_t foff;

		if (addr < m->start || addr >= m->end)
			continue;
		if (!m->f) {
			snprintf(buf, size, "%s", m->name);
			return USYMS_MODULE;
		}
		foff = addr - m->start + m->off;
		if (m->f->ok) {
			for (int s = 0; s < m->f->nsegs; s++) {
				const struct seg *g = &m->f->segs[s];
				const struct usym *sym;

				if (foff < g->off || foff >= g->off + g->filesz)
					continue;
				sym = sym_find(m->f, foff - g->off + g->vaddr);
				if (sym) {
					snprintf(buf, size, "%s", sym->name);
					return USYMS_FUNC;
				}
				break;
			}
		}
		snprintf(buf, size, "%s+0x%llx", m->f->base, (unsigned long long)foff);
		return USYMS_MODULE;
	}
	snprintf(buf, size, "[no-map]");
	return USYMS_NOT_MAPPED;
}

void usyms_stats(const struct usyms *u, int *procs, int *files)
{
	*procs = u->nprocs;
	*files = u->nfiles;
}
