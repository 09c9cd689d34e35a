/* test_probe_syms.c - the probes' symbol tables: syscall names, kallsyms
 * parsing and lookup, and user-space symbolization of this very binary
 * (PIE: resolved through /proc/self/maps and the PT_LOAD headers); then what
 * issue 10 asks of it, each name checked against binutils (nm, addr2line,
 * c++filt, readelf) on the same files: libc's static functions through its
 * build-id debug file (libc6-dbg), a stripped program through its
 * .gnu_debuglink (beside it, in .debug/, under /usr/lib/debug), JIT code
 * through /tmp/perf-PID.map, C++ names demangled, names of any length, kernel
 * module symbols, why kernel addresses are hidden, and bounded memory over
 * many short-lived images. */
#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe_test_util.h"
#include "tap.h"
#include "ksyms.h"
#include "syscalls.h"
#include "usyms.h"

static char T[64];
extern char **environ;

/* Under ASan, freed memory waits in a quarantine: RSS would measure that */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=0";
}

/* Starts @argv0 and waits until it runs that binary (exec done). */
static pid_t start_prog(const char *path)
{
	char exe[4096], p[64];
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 200; i++) {
		ssize_t n = readlink(p, exe, sizeof(exe) - 1);

		if (n > 0 && (exe[n] = 0, !strcmp(exe, path)))
			return pid;
		usleep(10000);
	}
	return pid;
}

static void stop_prog(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Start of the mapping of @file at offset 0 in @pid (the load bias of a PIE
 * or a shared library whose first PT_LOAD is at 0), from /proc/PID/maps. */
static uint64_t load_bias(pid_t pid, const char *file)
{
	char p[64], line[8192];
	uint64_t r = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long s, off;
		char *path = strchr(line, '/');

		if (!path || sscanf(line, "%llx-%*x %*s %llx", &s, &off) != 2 || off)
			continue;
		path[strcspn(path, "\n")] = 0;
		if (!strcmp(path, file) || (strstr(file, "libc.so") && strstr(path, "/libc.so.6"))) {
			r = s;
			break;
		}
	}
	if (f)
		fclose(f);
	return r;
}

/* usyms_lookup() of @addr in a fresh snapshot of @pid, copied to @out. */
static enum usyms_result lookup_in(pid_t pid, uint64_t addr, char *out, size_t size)
{
	struct usyms *u = usyms_new();
	enum usyms_result r = USYMS_NO_SNAPSHOT;

	out[0] = 0;
	if (!u || usyms_snapshot(u, pid, 1)) {
		usyms_free(u);
		return r;
	}
	r = usyms_resolve(u, pid, 1, addr, out, size);
	usyms_free(u);
	return r;
}

/* libc6-dbg: a function of libc's .symtab (a static one, not in .dynsym, the
 * only symbol at its address) resolves by name in our own process. */
static void test_libc_build_id(void)
{
	char dbg[512], pick[512], name[512] = "", got[4096], a2l[512];
	unsigned long long vaddr = 0;
	uint64_t bias = load_bias(getpid(), "libc.so.6");
	int r;

	r = run_cmd(dbg, sizeof(dbg), "L=$(ldd /proc/%d/exe | awk '/libc.so.6/ {print $3}'); "
		    "id=$(readelf -n $L | awk '/Build ID/ {print $3}'); "
		    "f=/usr/lib/debug/.build-id/$(echo $id | cut -c1-2)/$(echo $id | cut -c3-).debug; "
		    "[ -f $f ] && echo $f", (int)getpid());
	if (r || !dbg[0]) {
		tap_ok(0, "libc's build-id debug file (libc6-dbg) is installed");
		tap_ok(0, "libc aliases # (no debug file)");
		tap_ok(0, "libc static function # (no debug file)");
		return;
	}
	tap_ok(1, "libc's build-id debug file: '%s'", dbg);
	/* aliases (read, __read, __libc_read, __GI___read, ...): the name callers use */
	{
		char names[512];

		run_cmd(names, sizeof(names), "a=$(nm -S %s | awk '$4==\"read\" {print $1}'); nm %s | awk -v a=$a '$1==a {print $3}' | sort | tr '\\n' ' '",
			dbg, dbg);
		r = lookup_in(getpid(), (uint64_t)(uintptr_t)read + 4, got, sizeof(got));
		tap_ok(r == USYMS_FUNC && !strcmp(got, "read"), "of libc's aliases (%s) read() is named 'read': '%s'", names, got);
	}
	run_cmd(pick, sizeof(pick), "nm -D --defined-only /lib/x86_64-linux-gnu/libc.so.6 | awk '{print $NF}' | sed 's/@.*//' > %s/dyn; "
		"nm -S --defined-only %s > %s/all; "
		"awk 'NR==FNR {d[$1]=1; next} NF==4 {c[$1]++; if ($3==\"t\" && !($4 in d) && $2 ~ /[1-9a-f]/) n[$1]=$4} "
		"END {for (a in c) if (c[a]==1 && (a in n)) print a, n[a]}' %s/dyn %s/all | sort | sed -n 200p",
		T, dbg, T, T, T);
	if (sscanf(pick, "%llx %511s", &vaddr, name) != 2 || !bias) {
		tap_ok(0, "pick a static libc function with nm ('%s')", pick);
		return;
	}
	run_cmd(a2l, sizeof(a2l), "addr2line -f -e %s 0x%llx | head -1", dbg, vaddr + 2);
	r = lookup_in(getpid(), bias + vaddr + 2, got, sizeof(got));
	tap_ok(r == USYMS_FUNC && !strcmp(got, name),
	       "libc+0x%llx resolves to the static function '%s' (nm; addr2line says '%s'): got '%s'",
	       vaddr + 2, name, a2l, got);
}

static const char prog_c[] =
	"#include <unistd.h>\n"
	"static __attribute__((noinline)) int dl_static_fn(int x) { return x * 7 + 3; }\n"
	"int main(void) { volatile int v = dl_static_fn(1); (void)v; for (;;) pause(); }\n";

/* A stripped program whose debug file lies in @where (0: beside it, 1: in
 * .debug/, 2: under /usr/lib/debug + its directory). */
static void test_debuglink(int where)
{
	static const char *const names[] = { "beside it", "in .debug/", "under /usr/lib/debug" };
	char dir[128], prog[160], dbgdir[300], out[512], want[512], vaddr_s[64], got[4096], nosym[4096];
	unsigned long long vaddr;
	uint64_t bias;
	pid_t pid;
	int r;

	snprintf(dir, sizeof(dir), "%s/dl%d", T, where);
	snprintf(prog, sizeof(prog), "%s/prog", dir);
	if (where == 0)
		snprintf(dbgdir, sizeof(dbgdir), "%s", dir);
	else if (where == 1)
		snprintf(dbgdir, sizeof(dbgdir), "%s/.debug", dir);
	else
		snprintf(dbgdir, sizeof(dbgdir), "/usr/lib/debug%s", dir);
	r = run_cmd(out, sizeof(out),
		    "set -e; mkdir -p %s %s; cd %s; printf '%%s' '%s' > prog.c; cc -g -O1 -fno-inline -o prog.full prog.c; "
		    "objcopy --only-keep-debug prog.full prog.debug; objcopy --strip-all prog.full prog; "
		    "objcopy --add-gnu-debuglink=prog.debug prog; [ %s = %s ] || mv prog.debug %s/; "
		    "nm prog 2>/dev/null | wc -l; readelf -S prog | grep -c '.gnu_debuglink'",
		    dir, dbgdir, dir, prog_c, dir, dbgdir, dbgdir);
	run_cmd(vaddr_s, sizeof(vaddr_s), "nm %s/prog.debug | awk '$3==\"dl_static_fn\" {print $1}'", dbgdir);
	run_cmd(want, sizeof(want), "addr2line -f -e %s/prog.debug 0x%s", dbgdir, vaddr_s);
	if (r || sscanf(vaddr_s, "%llx", &vaddr) != 1) {
		tap_ok(0, "build a stripped program with a debuglink (%s): '%s'", names[where], out);
		return;
	}
	pid = start_prog(prog);
	bias = load_bias(pid, prog);
	r = lookup_in(pid, bias + vaddr + 1, got, sizeof(got));
	tap_ok(r == USYMS_FUNC && !strcmp(got, want),
	       "stripped program, debug file %s: '%s' (addr2line: '%s')", names[where], got, want);
	/* and without the debug file: only the module form is possible */
	if (where == 0) {
		char moved[400];

		snprintf(moved, sizeof(moved), "%s/prog.debug", dbgdir);
		unlink(moved);
		r = lookup_in(pid, bias + vaddr + 1, nosym, sizeof(nosym));
		tap_ok(r == USYMS_MODULE && !strncmp(nosym, "prog+0x", 7),
		       "without its debug file: '%s' (the program is really stripped)", nosym);
	}
	stop_prog(pid);
	if (where == 2) {
		/* and /usr/lib/debug/tmp when we made it and it is empty now */
		snprintf(out, sizeof(out), "rm -rf '/usr/lib/debug%s' && rmdir --ignore-fail-on-non-empty /usr/lib/debug/tmp", T);
		if (system(out))
			tap_diag("cannot remove '/usr/lib/debug%s'", T);
	}
}

static char *make_long(char c, int n)
{
	char *s = malloc((size_t)n + 1);

	memset(s, c, (size_t)n);
	s[n] = 0;
	return s;
}

/* C++: a template in nested namespaces, demangled as c++filt does; and a
 * 300-character name, whole. */
static void test_cxx_and_long(void)
{
	char src[2048], out[512], mangled[4096], want[4096], got[4096], vaddr_s[64], prog[160];
	char *longname = make_long('L', 300);
	unsigned long long vaddr;
	uint64_t bias;
	pid_t pid;
	int r;

	snprintf(prog, sizeof(prog), "%s/cxx", T);
	snprintf(src, sizeof(src),
		 "#include <unistd.h>\n"
		 "namespace qps { namespace deep { template <typename T> struct Box { T v; };\n"
		 "template <typename T> __attribute__((noinline)) int cxx_fn(Box<T> *b, const char *) { return (int)sizeof(b->v); } } }\n"
		 "extern \"C\" __attribute__((noinline)) int qps_%s(int x) { return x + 1; }\n"
		 "int main() { qps::deep::Box<long> b{1}; volatile int v = qps::deep::cxx_fn(&b, \"x\") + qps_%s(2); (void)v; for (;;) pause(); }\n",
		 longname, longname);
	r = run_cmd(out, sizeof(out), "cd %s && printf '%%s' '%s' > cxx.cc && g++ -O1 -o cxx cxx.cc && echo built", T, src);
	if (r) {
		tap_ok(0, "g++ builds the C++ program: '%s'", out);
		tap_ok(0, "long name # (no program)");
		free(longname);
		return;
	}
	pid = start_prog(prog);
	bias = load_bias(pid, prog);
	run_cmd(mangled, sizeof(mangled), "nm %s | awk '$3 ~ /cxx_fn/ {print $1, $3}'", prog);
	{
		char m[4000];

		if (sscanf(mangled, "%llx %3999s", &vaddr, m) != 2)
			vaddr = 0;
		run_cmd(want, sizeof(want), "echo '%s' | c++filt", m);
		r = lookup_in(pid, bias + vaddr + 1, got, sizeof(got));
		tap_ok(r == USYMS_FUNC && !strcmp(got, want) && strchr(want, ':'),
		       "C++ '%s' demangled like c++filt: '%s'", m, got);
	}
	run_cmd(vaddr_s, sizeof(vaddr_s), "nm %s | awk 'length($3) > 300 {print $1}'", prog);
	snprintf(want, sizeof(want), "qps_%s", longname);
	vaddr = strtoull(vaddr_s, NULL, 16);
	r = lookup_in(pid, bias + vaddr + 1, got, sizeof(got));
	tap_ok(vaddr && r == USYMS_FUNC && !strcmp(got, want), "a %zu-character name is not cut short (got %zu characters)",
	       strlen(want), strlen(got));
	stop_prog(pid);
	free(longname);
}

/* JIT code: an anonymous executable mapping named by /tmp/perf-PID.map;
 * a map that is not the process's own, or a FIFO, is not read. */
static int jit_lookup(void *arg)
{
	char *out = arg;
	void *code = mmap(NULL, 16384, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t base = (uint64_t)(uintptr_t)code;
	char path[64];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	f = fopen(path, "we");
	if (!f || code == MAP_FAILED)
		return 90;
	fprintf(f, "%llx 80 Interpreter::jit_one\n%llx 40 LazyCompile:*hot;js\x1b[31m\n%llx 40 partial",
		(unsigned long long)base + 0x100, (unsigned long long)base + 0x200,
		(unsigned long long)base + 0x300);
	fclose(f);
	if (out[0] == 'n' && chown(path, 65534, 65534))
		return 91;
	if (out[0] == 'f') {
		unlink(path);
		mkfifo(path, 0600);
	}
	r = lookup_in(getpid(), base + 0x110, out, 256);
	r = r * 10 + lookup_in(getpid(), base + 0x210, out + 256, 256);
	r = r * 10 + lookup_in(getpid(), base + 0x310, out + 512, 256);
	unlink(path);
	return r;
}

static void test_perf_map(void)
{
	char *out = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int r;

	out[0] = 0;
	r = run_bounded(jit_lookup, out, 10);
	tap_ok(r == USYMS_FUNC * 100 + USYMS_FUNC * 10 + USYMS_MODULE && !strcmp(out, "Interpreter::jit_one"),
	       "JIT code named by perf-PID.map: '%s' (rc %d)", out, r);
	tap_ok(!strcmp(out + 256, "LazyCompile:*hot\\x3bjs\\x1b[31m"), "JIT names are escaped: '%s'", out + 256);
	tap_ok(!strcmp(out + 512, "[anon]"), "an unterminated last line is not read: '%s'", out + 512);
	strcpy(out, "nobody");
	r = run_bounded(jit_lookup, out, 10);
	tap_ok(r == USYMS_MODULE * 111 && !strcmp(out, "[anon]"), "a perf map owned by another user is ignored: '%s' (rc %d)", out, r);
	strcpy(out, "fifo");
	r = run_bounded(jit_lookup, out, 10);
	tap_ok(r == USYMS_MODULE * 111, "a FIFO as perf map: no hang, not read (rc %d)", r);
	munmap(out, 4096);
}

/* Images of short-lived processes are dropped by usyms_sweep() after a
 * "report": memory stays bounded however many processes come and go
 * (without the sweep: 3,000 images held, +3.5 MiB RSS from image 1,000 to
 * 3,000). SYMS_IMAGES=40000 for the full-size run. */
static void test_sweep(void)
{
	int n = getenv("SYMS_IMAGES") ? atoi(getenv("SYMS_IMAGES")) : 3000, per_report = 500;
	struct usyms *u = usyms_new();
	long rss0 = -1, rss1 = -1, peak_procs = 0;
	int procs = 0, files = 0, evicted = 0;
	struct timespec t0, t1;
	char line[256];
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n && u; i++) {
		char *argv[] = { "sleep", "60", NULL };
		pid_t pid;

		/* a short-lived process of its own image (posix_spawn: exec done
		 * when it returns; cheap even for a sanitized parent) */
		if (posix_spawn(&pid, "/bin/sleep", NULL, NULL, argv, environ))
			break;
		usyms_snapshot(u, pid, 1);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if ((i + 1) % per_report == 0) {
			usyms_stats(u, &procs, &files);
			if (procs > peak_procs)
				peak_procs = procs;
			evicted += usyms_sweep(u);
			if (i + 1 == per_report * 2) {
				f = fopen("/proc/self/status", "re");
				while (f && fgets(line, sizeof(line), f))
					sscanf(line, "VmRSS: %ld", &rss0);
				if (f)
					fclose(f);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "VmRSS: %ld", &rss1);
	if (f)
		fclose(f);
	usyms_stats(u, &procs, &files);
	tap_diag("%d short-lived images in %.2f s: %d evicted, at most %ld held, RSS %ld -> %ld KiB",
		 n, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, evicted, peak_procs, rss0, rss1);
	/* an image lives through the report after its last use, no longer */
	tap_ok(u && peak_procs <= 2 * per_report && evicted >= n - 2 * per_report,
	       "exited images are dropped after each report (%d of %d; at most %ld held)", evicted, n, peak_procs);
	tap_ok(rss0 > 0 && rss1 - rss0 < 1024, "RSS grows < 1 MiB from image %d to %d (VmRSS %ld -> %ld KiB)",
	       per_report * 2, n, rss0, rss1);
	usyms_free(u);
}

/* kallsyms: module symbols, names of any length; and why addresses are hidden */
static int hidden_child(void *arg)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	char *why = arg, line[256];
	struct ksyms *k;
	unsigned long long a = 1;
	FILE *f;

	if (syscall(SYS_capget, &h, d))
		return 90;
	d[CAP_SYSLOG / 32].effective &= ~(1u << (CAP_SYSLOG % 32));
	d[CAP_SYSLOG / 32].permitted &= ~(1u << (CAP_SYSLOG % 32));
	if (syscall(SYS_capset, &h, d))
		return 91;
	/* the kernel's verdict: addresses read as zero without CAP_SYSLOG? */
	f = fopen("/proc/kallsyms", "re");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "%llx", &a) != 1)
		return 92;
	fclose(f);
	k = ksyms_load(NULL);
	if (k) {
		ksyms_free(k);
		return a ? 10 : 93;	/* shown: nothing to explain */
	}
	if (errno != EPERM || a)
		return 94;
	return (int)ksyms_hidden_reason(why, 1024);
}

static void test_ksyms_more(const char *path)
{
	char *longname = make_long('k', 600), *why;
	const char *mod = NULL, *name;
	int kptr = -1, paranoid = -1, r, want;
	struct ksyms *k;
	FILE *f;

	f = fopen(path, "w");
	fprintf(f, "ffffffff81000000 T first\n"
		   "ffffffffc0001000 t mod_fn\t[some_mod]\n"
		   "ffffffffc0002000 t %s\t[other_mod]\n"
		   "ffffffffc0003000 t tail_fn\t[other_mod]\n", longname);
	fclose(f);
	k = ksyms_load(path);
	name = k ? ksyms_find_mod(k, 0xffffffffc0001010ull, NULL, &mod) : NULL;
	tap_ok(name && !strcmp(name, "mod_fn") && mod && !strcmp(mod, "some_mod"), "module symbol with its module: %s [%s]",
	       name ? name : "-", mod ? mod : "-");
	name = k ? ksyms_find_mod(k, 0xffffffffc0002010ull, NULL, &mod) : NULL;
	tap_ok(name && !strcmp(name, longname) && mod && !strcmp(mod, "other_mod"),
	       "a 600-character name is whole, and no line split forges a symbol (%d loaded)", k ? ksyms_count(k) : -1);
	name = k ? ksyms_find_mod(k, 0xffffffff81000010ull, NULL, &mod) : NULL;
	tap_ok(name && !strcmp(name, "first") && !mod, "a kernel-image symbol has no module");
	ksyms_free(k);
	free(longname);
	/* the live /proc/kallsyms: __builtin__ftrace's trampoline is in every ftrace kernel */
	k = ksyms_load(NULL);
	{
		char line[512];
		unsigned long long a = 0;

		f = fopen("/proc/kallsyms", "re");
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "[__builtin__ftrace]") && sscanf(line, "%llx", &a) == 1)
				break;
		if (f)
			fclose(f);
		name = k && a ? ksyms_find_mod(k, a, NULL, &mod) : NULL;
		if (!a)
			tap_ok(1, "# SKIP no [__builtin__ftrace] symbol in /proc/kallsyms");
		else
			tap_ok(name && mod && !strcmp(mod, "__builtin__ftrace"), "/proc/kallsyms module symbol: %s [%s]",
			       name ? name : "-", mod ? mod : "-");
	}
	ksyms_free(k);
	/* without CAP_SYSLOG: the reason, by the kernel's rule on the live sysctls */
	why = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	why[0] = 0;
	f = fopen("/proc/sys/kernel/kptr_restrict", "re");
	if (f && fscanf(f, "%d", &kptr) != 1)
		kptr = -1;
	if (f)
		fclose(f);
	f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	if (f && fscanf(f, "%d", &paranoid) != 1)
		paranoid = -1;
	if (f)
		fclose(f);
	want = kptr >= 2 ? KSYMS_HIDDEN_KPTR_RESTRICT : kptr == 1 ? KSYMS_HIDDEN_CAP_SYSLOG :
	       paranoid > 1 ? KSYMS_HIDDEN_CAP_SYSLOG_PARANOID : 10;
	r = run_bounded(hidden_child, why, 10);
	tap_ok(r == want && (want == 10 || want == KSYMS_HIDDEN_KPTR_RESTRICT ? 1 : strstr(why, "CAP_SYSLOG") != NULL),
	       "without CAP_SYSLOG (kptr_restrict %d, perf_event_paranoid %d): '%s' (rc %d, want %d)", kptr, paranoid,
	       why, r, want);
	munmap(why, 4096);
}

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

	tap_plan(36);
	snprintf(T, sizeof(T), "/tmp/qps-syms-u.XXXXXX");
	if (!mkdtemp(T))
		return 1;
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
	{
		enum usyms_result r = USYMS_NO_SNAPSHOT;
		const char *name = u ? usyms_lookup(u, getpid(), 7, (uint64_t)(uintptr_t)probe_syms_marker_function + 4, &r) : NULL;

		tap_ok(name && r == USYMS_FUNC && !strcmp(name, "probe_syms_marker_function"),
		       "usyms_lookup(): the same name, in storage of the usyms");
	}
	tap_ok(u && usyms_resolve(u, getpid(), 8, (uint64_t)(uintptr_t)main, buf, sizeof(buf)) ==
		       USYMS_NO_SNAPSHOT && !strcmp(buf, "[unknown]"),
	   "another image (tag) of the pid is not resolved with this one's maps");
	tap_ok(u && usyms_resolve(u, getpid(), 7, 8, buf, sizeof(buf)) == USYMS_NOT_MAPPED,
	   "an address outside every mapping -> [no-map]");
	usyms_free(u);

	if (geteuid() != 0) {
		for (int i = 0; i < 21; i++)
			tap_ok(1, "# SKIP needs root (CAP_SYSLOG to drop, /usr/lib/debug, chown)");
	} else {
		test_ksyms_more(path);
		unlink(path);
		test_libc_build_id();
		for (int w = 0; w < 3; w++)
			test_debuglink(w);
		test_cxx_and_long();
		test_perf_map();
		test_sweep();
	}
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T);
		if (system(cmd))
			tap_diag("cannot remove '%s'", T);
	}
	if (0)
		tap_diag("cannot remove '%s'", T);
	return probe_syms_marker_function(0) == 1 ? tap_done(36) : 1;
}
