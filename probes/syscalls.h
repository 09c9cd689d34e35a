/* syscalls.h - syscall names of this architecture (x86_64 table generated at
 * build time from asm/unistd_64.h). */
#ifndef QPS_PROBE_SYSCALLS_H
#define QPS_PROBE_SYSCALLS_H

/* Name of syscall @nr, or NULL when unknown. Static storage. */
const char *syscall_name(int nr);
/* Number of syscall @name ("read", "clock_nanosleep") or a decimal number
 * ("35"). Returns >= 0, or -ENOENT. */
int syscall_nr(const char *name);
/* Size of the table: numbers are < this. */
int syscall_count(void);

#endif
