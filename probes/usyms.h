/* usyms.h - user-space symbolization for stacks captured by BPF.
 *
 * Snapshots a process's executable mappings (/proc/PID/maps) and loads the
 * symbol tables (.symtab, else .dynsym, with libelf) of the files mapped
 * there, right away: a stack of a process that has exited since still
 * resolves. Files are opened through /proc/PID/map_files (works for deleted
 * files), else /proc/PID/root/PATH (processes in containers), else PATH.
 * PIE and shared libraries are handled through the PT_LOAD segments.
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
	USYMS_FUNC,		/* "function" */
	USYMS_MODULE,		/* "module+0xOFF": mapped file without a symbol there, or "[vdso]" */
	USYMS_NOT_MAPPED,	/* "[no-map]": outside every executable mapping (a frame-pointer
				 * chain broken by code built without frame pointers) */
	USYMS_NO_SNAPSHOT,	/* "[unknown]": we never read this process's maps */
};
/* Resolves @addr with the snapshot (@pid, @tag) into @buf (see above). */
enum usyms_result usyms_resolve(struct usyms *u, pid_t pid, uint32_t tag, uint64_t addr,
				char *buf, size_t size);
/* Number of processes and of files with symbols held. */
void usyms_stats(const struct usyms *u, int *procs, int *files);

#endif
