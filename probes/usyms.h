/* usyms.h - user-space symbolization for stacks captured by BPF.
 *
 * Snapshots a process's executable mappings (/proc/PID/maps) and loads the
 * function symbols of the files mapped there right away: a stack of a
 * process that has exited since still resolves. Trust model (docs/symbols.md):
 * everything read here is controlled by other users, so
 *  - maps are read with getline; a line not ending in '\n' is refused;
 *  - a mapped file is opened through /proc/PID/map_files (the very file the
 *    kernel mapped), else under /proc/PID/root with openat2(RESOLVE_IN_ROOT |
 *    RESOLVE_NO_SYMLINKS) and only if its dev/inode match the maps line;
 *    never by its bare path; only regular files (O_PATH + fstat first, so a
 *    FIFO or a device is never really opened);
 *  - ELF files are read with pread into private buffers (symelf.h);
 *  - every name handed out is escaped (escape.h): no newline, ';', control
 *    character or invalid UTF-8 reaches the output.
 * Symbols come from .symtab, else a separate debug file found by build-id
 * (/usr/lib/debug/.build-id/xx/rest.debug) or .gnu_debuglink (beside the
 * file, in .debug/, under /usr/lib/debug), else .dynsym; JIT code from the
 * process's /tmp/perf-PID.map; C++ names are demangled when libstdc++ is
 * there. PIE and shared libraries are handled through the PT_LOAD segments.
 */
#ifndef QPS_PROBE_USYMS_H
#define QPS_PROBE_USYMS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct usyms;

struct usyms *usyms_new(void);		/* NULL + errno on failure */
void usyms_free(struct usyms *u);	/* NULL is a no-op */
/* (Re)reads the maps of @pid and loads the symbols of its files, stored under
 * (@pid, @tag): @tag tells images of one pid apart (before/after exec, a
 * reused pid). On failure an older snapshot is kept. Returns 0 or -errno
 * (-ESRCH/-ENOENT: gone). */
int usyms_snapshot(struct usyms *u, pid_t pid, uint32_t tag);
/* True when a snapshot of (@pid, @tag) exists. */
bool usyms_has(const struct usyms *u, pid_t pid, uint32_t tag);
enum usyms_result {
	USYMS_FUNC,		/* "function" (also a JIT symbol from perf-PID.map) */
	USYMS_MODULE,		/* "module+0xOFF": mapped file without a symbol there, or "[vdso]" */
	USYMS_NOT_MAPPED,	/* "[no-map]": outside every executable mapping (a frame-pointer
				 * chain broken by code built without frame pointers) */
	USYMS_NO_SNAPSHOT,	/* "[unknown]": we never read this process's maps */
};
/* Resolves @addr with the snapshot (@pid, @tag) into @buf (see above; cut
 * short when @size is too small: prefer usyms_lookup()). */
enum usyms_result usyms_resolve(struct usyms *u, pid_t pid, uint32_t tag, uint64_t addr,
				char *buf, size_t size);
/* The same, never cut short: the escaped name, owned by @u and valid until
 * the next call on @u. NULL and errno (ENOMEM) on failure. */
const char *usyms_lookup(struct usyms *u, pid_t pid, uint32_t tag, uint64_t addr,
			 enum usyms_result *res);
/* After a report: forgets the images not resolved nor snapshotted since the
 * previous sweep whose process has exited or exec'ed since (a newer tag of
 * the pid was snapshotted), and the files no image maps any more. Returns
 * the number of images forgotten. */
int usyms_sweep(struct usyms *u);
/* Number of images (processes) and of files with symbols held. */
void usyms_stats(const struct usyms *u, int *procs, int *files);

/* Where the last file that would not open failed. */
enum usyms_unopened {
	USYMS_UNOPENED_FILE,		/* the file itself (permissions, gone) */
	USYMS_UNOPENED_ROOT,		/* /proc/PID/root (ptrace access) */
	USYMS_UNOPENED_DELETED,		/* a deleted file and no /proc/PID/map_files */
};

/* What the files held came to, for a report that says why frames stay
 * "file+0xOFF" (STYLE.md §14). */
struct usyms_counts {
	int images, files;
	int files_symbols;		/* parsed, with function symbols */
	int files_refused;		/* not opened on purpose: not a regular file, another
					 * file than the mapped one (dev/inode), a symlink */
	int files_unreadable;		/* could not be opened (permissions, gone, no map_files
					 * and a deleted file) */
	int files_not_elf;		/* opened, but not ELF, malformed, or over the size cap */
	/* since usyms_new(), refusals not counted: */
	int unopened_pids;		/* processes with files that could not be opened */
	pid_t unopened_pid;		/* the last of them */
	int unopened_files;		/* ... how many of its files */
	int unopened_err;		/* -errno of the last failure */
	enum usyms_unopened unopened_how;
};
void usyms_counts(const struct usyms *u, struct usyms_counts *c);
/* Writes to @buf why files were not opened, e.g. "3 files of pid 42 not
 * opened: /proc/42/root needs ptrace access (this process lacks
 * CAP_SYS_PTRACE)". Returns 1 when some were not, else 0 (@buf ""). */
int usyms_unopened_why(const struct usyms_counts *c, char *buf, size_t size);

#endif
