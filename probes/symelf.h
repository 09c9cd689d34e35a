/* symelf.h - the function symbols of one ELF file, read without trusting it.
 *
 * The file belongs to whoever can write it (a user's binary, a container's
 * library): it is never mmap'ed (its owner could truncate it under us and
 * SIGBUS the probe); libelf reads it with pread (ELF_C_READ) into private
 * buffers, every size is checked against the file's and against caps, and a
 * malformed file is refused, never trusted.
 */
#ifndef QPS_PROBE_SYMELF_H
#define QPS_PROBE_SYMELF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYMELF_MAX_FILE (1ull << 30)	/* bytes: bigger files are refused (-EFBIG) */
#define SYMELF_MAX_SYMS (1u << 22)	/* function symbols kept per file */
#define SYMELF_BUILD_ID_MAX 64		/* bytes of a build-id note we accept */

struct symelf_sym {
	uint64_t addr, size;		/* st_value, st_size (0: unsized, asm) */
	uint32_t name;			/* offset in symelf.strs */
	bool local;			/* STB_LOCAL: an alias others name better */
	char *pretty;			/* demangled + escaped, made on first use */
};

struct symelf_seg {
	uint64_t off, vaddr, filesz;	/* a PT_LOAD program header */
};

struct symelf {
	struct symelf_sym *syms;	/* sorted by addr */
	size_t nsyms;
	char *strs;			/* private copy of the names, NUL-separated */
	size_t nstrs;
	struct symelf_seg *segs;
	size_t nsegs;
	unsigned char build_id[SYMELF_BUILD_ID_MAX];
	size_t build_id_len;		/* 0: no NT_GNU_BUILD_ID note */
	char *debuglink;		/* .gnu_debuglink file name (no '/'), or NULL */
	uint32_t debuglink_crc;
	bool has_symtab;		/* a .symtab (else only .dynsym or nothing) */
};

/* Parses the ELF file @fd (read with pread; @fd is not kept). Storage is
 * owned by @e: symelf_release() it even on failure. Returns 0, -ENOEXEC (not
 * ELF or malformed), -EFBIG (over SYMELF_MAX_FILE), -ENOMEM. */
int symelf_load_fd(struct symelf *e, int fd);
/* The same from @size bytes at @buf, a private copy that libelf may convert
 * in place (not kept): the fuzz entry point. */
int symelf_load_mem(struct symelf *e, void *buf, size_t size);
void symelf_release(struct symelf *e);	/* leaves @e zeroed */
/* Replaces @e's symbols by those of @dbg (a separate debug file of the same
 * build), which is left empty. */
void symelf_take_syms(struct symelf *e, struct symelf *dbg);
/* The file virtual address of file offset @foff (through PT_LOAD), or -ENOENT. */
int symelf_vaddr(const struct symelf *e, uint64_t foff, uint64_t *vaddr);
/* The function containing @vaddr (a sized symbol must contain it), or NULL.
 * Of aliases at one address the name callers use wins: sized, then global
 * or weak, then the fewest leading '_' ("read" over "__libc_read"). */
struct symelf_sym *symelf_find(const struct symelf *e, uint64_t vaddr);
/* @s's name demangled (C++, when the runtime's __cxa_demangle is there) and
 * escaped (escape.h); owned by @e. NULL and errno on ENOMEM. */
const char *symelf_name(const struct symelf *e, struct symelf_sym *s);
/* Demangles @name when it is a C++ name and libstdc++ can be loaded: a heap
 * string (free() it), or NULL (not mangled, or no demangler). */
char *symelf_demangle(const char *name);

#endif
