/* fuzz_elf.c - libFuzzer entry point for the ELF symbolizer (symelf.c), the
 * code that reads files any user can write: the input is an ELF image
 * (seeds: small real programs, stripped and not, and a debug file). After a
 * parse, every PT_LOAD, every symbol and a few addresses derived from the
 * input go through the lookups the probes make, names demangled and escaped.
 * Checks: documented errors only, sorted symbols, names inside the private
 * string copy, lookups that return a symbol containing the address, escaped
 * names free of control bytes, ';' and newlines. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symelf.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_name(const char *s)
{
	if (!s)
		return;		/* ENOMEM */
	for (; *s; s++)
		check((unsigned char)*s >= 0x20 && *s != 0x7f && *s != ';');
}

static void lookup(struct symelf *e, uint64_t vaddr)
{
	struct symelf_sym *s = symelf_find(e, vaddr);

	if (!s)
		return;
	check(s >= e->syms && s < e->syms + e->nsyms);
	check(s->addr <= vaddr && (!s->size || vaddr - s->addr < s->size));
	check_name(symelf_name(e, s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct symelf e = { 0 };
	uint8_t *img = malloc(size ? size : 1);	/* libelf may convert in place */
	int r;

	if (!img)
		return 0;
	memcpy(img, data, size);
	r = symelf_load_mem(&e, img, size);
	check(r == 0 || r == -ENOEXEC || r == -ENOMEM || r == -EFBIG);
	if (r == 0) {
		check(e.nsyms <= SYMELF_MAX_SYMS && e.build_id_len <= SYMELF_BUILD_ID_MAX);
		check(!e.debuglink || (!strchr(e.debuglink, '/') && strlen(e.debuglink) < 256));
		for (size_t i = 0; i < e.nsyms; i++) {
			check(e.syms[i].name < e.nstrs);
			check(strnlen(e.strs + e.syms[i].name, e.nstrs - e.syms[i].name) < e.nstrs - e.syms[i].name);
			if (i)
				check(e.syms[i - 1].addr <= e.syms[i].addr);
		}
		for (size_t i = 0; i < e.nsyms && i < 64; i++)
			lookup(&e, e.syms[i].addr + (e.syms[i].size ? e.syms[i].size - 1 : 0));
		for (size_t i = 0; i < e.nsegs; i++) {
			uint64_t v;

			if (symelf_vaddr(&e, e.segs[i].off, &v) == 0)
				lookup(&e, v);
		}
		/* addresses from the input itself */
		for (size_t i = 0; i + 8 <= size && i < 256; i += 8) {
			uint64_t a, v;

			memcpy(&a, data + i, 8);
			lookup(&e, a);
			if (symelf_vaddr(&e, a, &v) == 0)
				lookup(&e, v);
		}
	}
	symelf_release(&e);
	free(img);
	return 0;
}
