/* test_probe_syms.c - the probes' symbol tables: syscall names, kallsyms
 * parsing and lookup, and user-space symbolization of this very binary
 * (PIE: resolved through /proc/self/maps and the PT_LOAD headers). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "ksyms.h"
#include "syscalls.h"
#include "usyms.h"

__attribute__((noinline)) int probe_syms_marker_function(int x)
{
	return x * 3 + 1;
}

int main(void)
{
	char path[] = "/tmp/test_probe_syms.XXXXXX", buf[128];
	uint64_t off = 0;
	struct ksyms *k;
	struct usyms *u;
	FILE *f;
	int fd;

	tap_plan(14);
	/* syscalls: x86_64 numbers are ABI */
#if defined(__x86_64__)
	tap_ok(syscall_name(0) && !strcmp(syscall_name(0), "read"), "syscall 0 is read");
	tap_ok(syscall_nr("clock_nanosleep") == 230, "clock_nanosleep is 230");
#else
	tap_ok(1, "syscall numbers # SKIP not x86_64");
	tap_ok(1, "syscall numbers # SKIP not x86_64");
#endif
	tap_ok(syscall_nr("no_such_syscall") == -ENOENT, "unknown name -> -ENOENT");
	tap_ok(syscall_nr("35") == 35, "a number is accepted");
	tap_ok(syscall_name(-1) == NULL && syscall_name(100000) == NULL, "out of range -> NULL");

	/* ksyms from a small file: text symbols only, nearest below */
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs("ffffffff81000100 T second\n"
	      "ffffffff81000000 T first\n"
	      "ffffffff81000050 D data_not_text\n"
	      "ffffffffc0000000 t bpf_prog_abc_x\t[bpf]\n", f);
	fclose(f);
	k = ksyms_load(path);
	tap_ok(k && ksyms_count(k) == 3, "3 text symbols loaded");
	tap_ok(k && !strcmp(ksyms_find(k, 0xffffffff81000080ull, &off), "first") && off == 0x80,
	   "address resolves to the symbol below it, with offset");
	tap_ok(k && !strcmp(ksyms_find(k, 0xffffffff81000100ull, NULL), "second"), "exact address");
	tap_ok(k && ksyms_find(k, 0x1000, NULL) == NULL, "below every symbol -> NULL");
	ksyms_free(k);
	f = fopen(path, "w");
	fputs("0000000000000000 T hidden\n", f);
	fclose(f);
	k = ksyms_load(path);
	tap_ok(!k && errno == EPERM, "all-zero addresses (kptr_restrict) -> EPERM");
	unlink(path);

	/* usyms: this binary's own function, through /proc/self/maps */
	u = usyms_new();
	tap_ok(u && usyms_snapshot(u, getpid(), 7) == 0, "snapshot of our own maps");
	tap_ok(u && usyms_resolve(u, getpid(), 7, (uint64_t)(uintptr_t)probe_syms_marker_function + 4,
			      buf, sizeof(buf)) == USYMS_FUNC &&
	   !strcmp(buf, "probe_syms_marker_function"), "own function resolved by name");
	tap_ok(u && usyms_resolve(u, getpid(), 8, (uint64_t)(uintptr_t)main, buf, sizeof(buf)) ==
		       USYMS_NO_SNAPSHOT && !strcmp(buf, "[unknown]"),
	   "another image (tag) of the pid is not resolved with this one's maps");
	tap_ok(u && usyms_resolve(u, getpid(), 7, 8, buf, sizeof(buf)) == USYMS_NOT_MAPPED,
	   "an address outside every mapping -> [no-map]");
	usyms_free(u);
	return probe_syms_marker_function(0) == 1 ? tap_done(14) : 1;
}
