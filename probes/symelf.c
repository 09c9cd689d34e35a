/* symelf.c - function symbols of an untrusted ELF file (see symelf.h). */
#include "symelf.h"

#include <dlfcn.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "escape.h"

#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

void symelf_release(struct symelf *e)
{
	for (size_t i = 0; i < e->nsyms; i++)
		free(e->syms[i].pretty);
	free(e->syms);
	free(e->strs);
	free(e->segs);
	free(e->debuglink);
	memset(e, 0, sizeof(*e));
}

/* symelf.strs while sorting (qsort has no context argument) */
static const char *sort_strs;

static int cmp_sym(const void *a, const void *b)
{
	const struct symelf_sym *x = a, *y = b;
	const char *nx = sort_strs + x->name, *ny = sort_strs + y->name;
	size_t ux = strspn(nx, "_"), uy = strspn(ny, "_");

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* aliases: the first one is the name shown (see symelf_find) */
	if (!x->size != !y->size)
		return x->size ? -1 : 1;
	if (x->local != y->local)
		return x->local ? 1 : -1;
	if (ux != uy)
		return ux < uy ? -1 : 1;
	return strcmp(nx, ny);
}

static int add_syms(struct symelf *e, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
		    size_t *cap, size_t *capstrs)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n, i;

	if (!d || sh->sh_entsize != (gelf_getclass(elf) == ELFCLASS32 ? sizeof(Elf32_Sym)
								      : sizeof(Elf64_Sym)))
		return 0;
	n = d->d_size / sh->sh_entsize;
	for (i = 0; i < n && e->nsyms < SYMELF_MAX_SYMS; i++) {
		GElf_Sym s;
		const char *name;
		size_t len;

		if (!gelf_getsym(d, (int)i, &s))
			continue;
		if ((GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC) ||
		    !s.st_value || s.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh->sh_link, s.st_name);	/* NUL inside the section, or NULL */
		if (!name || !*name)
			continue;
		len = strlen(name) + 1;
		if (e->nsyms == *cap) {
			size_t c = *cap ? *cap * 2 : 256;
			struct symelf_sym *p = realloc(e->syms, c * sizeof(*p));

			if (!p)
				return -ENOMEM;
			e->syms = p;
			*cap = c;
		}
		if (e->nstrs + len > *capstrs) {
			size_t c = *capstrs ? *capstrs : 4096;
			char *p;

			while (c < e->nstrs + len)
				c *= 2;
			if (c > UINT32_MAX)
				return 0;	/* names past 4 GiB: keep what we have */
			p = realloc(e->strs, c);
			if (!p)
				return -ENOMEM;
			e->strs = p;
			*capstrs = c;
		}
		memcpy(e->strs + e->nstrs, name, len);
		e->syms[e->nsyms].addr = s.st_value;
		e->syms[e->nsyms].size = s.st_size;
		e->syms[e->nsyms].name = (uint32_t)e->nstrs;
		e->syms[e->nsyms].local = GELF_ST_BIND(s.st_info) == STB_LOCAL;
		e->syms[e->nsyms].pretty = NULL;
		e->nstrs += len;
		e->nsyms++;
	}
	return 0;
}

static void read_build_id(struct symelf *e, Elf_Scn *scn)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t off = 0, noff, doff;
	GElf_Nhdr nh;

	if (!d)
		return;
	while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp((const char *)d->d_buf + noff, "GNU", 4) && nh.n_descsz > 0 &&
		    nh.n_descsz <= SYMELF_BUILD_ID_MAX) {
			memcpy(e->build_id, (const char *)d->d_buf + doff, nh.n_descsz);
			e->build_id_len = nh.n_descsz;
			return;
		}
	}
}

/* .gnu_debuglink: a file name, NUL, padding to 4, a CRC-32 of the debug file */
static int read_debuglink(struct symelf *e, Elf *elf, Elf_Scn *scn)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	const char *p;
	size_t len, crc_off;
	uint32_t crc;

	if (!d || !d->d_buf)
		return 0;
	p = d->d_buf;
	len = strnlen(p, d->d_size);
	crc_off = (len + 4) & ~(size_t)3;
	if (!len || len >= 256 || crc_off + 4 > d->d_size || memchr(p, '/', len) ||
	    !strcmp(p, ".") || !strcmp(p, ".."))
		return 0;	/* a name that would leave the directory: ignored */
	memcpy(&crc, p + crc_off, 4);
	if ((elf_getident(elf, NULL)[EI_DATA] == ELFDATA2MSB) != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__))
		crc = __builtin_bswap32(crc);
	e->debuglink = strndup(p, len);
	if (!e->debuglink)
		return -ENOMEM;
	e->debuglink_crc = crc;
	return 0;
}

static int parse(struct symelf *e, Elf *elf)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	GElf_Shdr sh, symsh = { 0 }, dynsh = { 0 };
	size_t nph = 0, shstrndx = 0, cap = 0, capstrs = 0;
	bool have_shstr;
	int err = 0;

	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) == ELFCLASSNONE)
		return -ENOEXEC;
	if (elf_getphdrnum(elf, &nph) == 0 && nph) {
		if (nph > 65535)
			return -ENOEXEC;
		e->segs = calloc(nph, sizeof(*e->segs));
		if (!e->segs)
			return -ENOMEM;
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
				e->segs[e->nsegs].off = ph.p_offset;
				e->segs[e->nsegs].vaddr = ph.p_vaddr;
				e->segs[e->nsegs].filesz = ph.p_filesz;
				e->nsegs++;
			}
		}
	}
	have_shstr = elf_getshdrstrndx(elf, &shstrndx) == 0;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB && !symtab) {
			symtab = scn;
			symsh = sh;
		} else if (sh.sh_type == SHT_DYNSYM && !dynsym) {
			dynsym = scn;
			dynsh = sh;
		} else if (sh.sh_type == SHT_NOTE && !e->build_id_len) {
			read_build_id(e, scn);
		} else if (sh.sh_type == SHT_PROGBITS && have_shstr && !e->debuglink &&
			   (name = elf_strptr(elf, shstrndx, sh.sh_name)) && !strcmp(name, ".gnu_debuglink")) {
			err = read_debuglink(e, elf, scn);
			if (err)
				return err;
		}
	}
	/* .symtab has the static functions too; stripped files keep .dynsym */
	e->has_symtab = symtab != NULL;
	if (symtab)
		err = add_syms(e, elf, symtab, &symsh, &cap, &capstrs);
	if (!err && dynsym)
		err = add_syms(e, elf, dynsym, &dynsh, &cap, &capstrs);
	if (!err && e->nsyms) {
		sort_strs = e->strs;
		qsort(e->syms, e->nsyms, sizeof(*e->syms), cmp_sym);
		sort_strs = NULL;
	}
	return err;
}

static void init_libelf(void)
{
	elf_version(EV_CURRENT);
}

int symelf_load_fd(struct symelf *e, int fd)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct stat st;
	Elf *elf;
	int err;

	pthread_once(&once, init_libelf);
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > SYMELF_MAX_FILE)
		return -EFBIG;
	/* ELF_C_READ: libelf preads what it needs into its own buffers; a file
	 * truncated meanwhile gives a short read (an error), never a SIGBUS */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	err = parse(e, elf);
	elf_end(elf);
	return err;
}

int symelf_load_mem(struct symelf *e, void *buf, size_t size)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	Elf *elf;
	int err;

	pthread_once(&once, init_libelf);
	if (size > SYMELF_MAX_FILE)
		return -EFBIG;
	elf = elf_memory(buf, size);
	err = parse(e, elf);
	elf_end(elf);
	return err;
}

void symelf_take_syms(struct symelf *e, struct symelf *dbg)
{
	for (size_t i = 0; i < e->nsyms; i++)
		free(e->syms[i].pretty);
	free(e->syms);
	free(e->strs);
	e->syms = dbg->syms;
	e->nsyms = dbg->nsyms;
	e->strs = dbg->strs;
	e->nstrs = dbg->nstrs;
	e->has_symtab = dbg->has_symtab;
	dbg->syms = NULL;
	dbg->nsyms = 0;
	dbg->strs = NULL;
	dbg->nstrs = 0;
}

int symelf_vaddr(const struct symelf *e, uint64_t foff, uint64_t *vaddr)
{
	for (size_t i = 0; i < e->nsegs; i++) {
		const struct symelf_seg *g = &e->segs[i];

		if (foff >= g->off && foff - g->off < g->filesz) {
			*vaddr = foff - g->off + g->vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

struct symelf_sym *symelf_find(const struct symelf *e, uint64_t vaddr)
{
	size_t lo = 0, hi = e->nsyms;

	/* the last symbol at or below @vaddr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* among symbols at that address, the first one (sized first, see cmp_sym) */
	while (lo > 1 && e->syms[lo - 2].addr == e->syms[lo - 1].addr)
		lo--;
	/* a sized symbol must contain the address; unsized ones (asm) are trusted */
	if (e->syms[lo - 1].size && vaddr - e->syms[lo - 1].addr >= e->syms[lo - 1].size)
		return NULL;
	return &e->syms[lo - 1];
}

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);
static demangle_fn demangler;

static void load_demangler(void)
{
	/* libstdc++'s demangler when the runtime has it: no link dependency */
	void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);

	if (h)
		demangler = (demangle_fn)dlsym(h, "__cxa_demangle");
}

char *symelf_demangle(const char *name)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int status = -1;
	char *out;

	if (strncmp(name, "_Z", 2))
		return NULL;
	pthread_once(&once, load_demangler);
	if (!demangler)
		return NULL;
	out = demangler(name, NULL, NULL, &status);
	if (status) {
		free(out);
		return NULL;
	}
	return out;
}

const char *symelf_name(const struct symelf *e, struct symelf_sym *s)
{
	if (!s->pretty) {
		const char *raw = e->strs + s->name;
		char *dm = symelf_demangle(raw);

		s->pretty = escape_dup(dm ? dm : raw);
		free(dm);
	}
	return s->pretty;
}
