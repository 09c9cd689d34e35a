/* test_probe_hostile.c - usyms against processes and files that lie
 * (issue 15): a maps line long enough to be cut into a forged one, a FIFO,
 * a device node or another file swapped in at a mapped path, a container's
 * symlink aimed at a host file, an ELF file truncated while it is parsed.
 * Hangs and crashes are caught in bounded subprocesses; what the symbolizer
 * opened is checked with inotify (IN_OPEN: a real open, not an O_PATH one),
 * the maps line length with /proc/PID/maps itself. */
#include <stdbool.h>
#include <sys/inotify.h>
#include <sys/sysmacros.h>

#include "probe_test_util.h"
#include "tap.h"
#include "usyms.h"

__attribute__((noinline)) int hostile_marker_function(int x)
{
	return x * 5 + 2;
}

static char T[64];			/* scratch directory */
static char *shared;			/* 64 KiB shared with the bounded children */

/* do_snap()'s usyms_counts(), after the name in @shared */
static struct usyms_counts *counts(void)
{
	return (struct usyms_counts *)(void *)(shared + 61440);
}

struct snapq {
	pid_t first;			/* snapshotted before @pid in the same usyms, if set */
	pid_t pid;
	uint64_t addr;
	uint64_t start, end;		/* the mapping: map_files must refuse it */
	bool drop;			/* without CAP_SYS_ADMIN: no map_files */
};

/* In a bounded child: snapshot @q->pid, look up @q->addr; the name goes to
 * @shared, the usyms_result is the exit status (90+: setup failed). */
static int do_snap(void *arg)
{
	const struct snapq *q = arg;
	enum usyms_result r;
	struct usyms *u;
	char p[96];
	int fd;

	if (q->drop) {
		if (drop_map_files_caps())
			return 90;
		/* the point of the exercise: map_files must be refused now */
		snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", (int)q->pid,
			 (unsigned long long)q->start, (unsigned long long)((q->end + 4095) & ~4095ull));
		fd = open(p, O_PATH);
		if (fd >= 0 || errno != EPERM) {
			if (fd >= 0)
				close(fd);
			return 92;
		}
	}
	u = usyms_new();
	if (u && q->first)
		usyms_snapshot(u, q->first, 1);
	if (!u || usyms_snapshot(u, q->pid, 1))
		return 91;
	r = usyms_resolve(u, q->pid, 1, q->addr, shared, 60000);
	usyms_counts(u, counts());
	usyms_free(u);
	return (int)r;
}

static int watch_open(const char *path)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd >= 0 && inotify_add_watch(fd, path, IN_OPEN) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool saw_open(int fd)
{
	char buf[4096];
	bool seen = read(fd, buf, sizeof(buf)) > 0;

	close(fd);
	return seen;
}

/* Column where the path starts in a maps line (the kernel pads to it). */
static int maps_path_column(void)
{
	char line[8192];
	int col = -1;
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strchr(line, '/')) {
			col = (int)(strchr(line, '/') - line);
			break;
		}
	if (f)
		fclose(f);
	return col;
}

/* Longest line of /proc/@pid/maps, read with getline (the independent view). */
static size_t longest_maps_line(pid_t pid)
{
	char p[64], *line = NULL;
	size_t cap = 0, best = 0;
	ssize_t n;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid);
	f = fopen(p, "re");
	while (f && (n = getline(&line, &cap, f)) > 0)
		if ((size_t)n > best)
			best = (size_t)n;
	free(line);
	if (f)
		fclose(f);
	return best;
}

/* 1: a path rendered past 4,223 bytes ("\012" per newline) whose tail reads
 * as a maps line of its own: "<spaces>7f0000000000-7f0000001000 r-xp ...
 * /T/fifo". Cut by a fixed buffer, the tail became a mapping of the FIFO,
 * which the probe then opened and hung on. */
static void test_long_line(void)
{
	static const char fake[] = "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 ";
	char path[8192], fifo[128], comp[256];
	struct mapper m = { 0 };
	struct snapq q;
	int col = maps_path_column(), nl = 0, wfd, rc, fd;
	size_t rendered, pos;

	snprintf(fifo, sizeof(fifo), "%s/fifo", T);
	mkfifo(fifo, 0600);
	/* newline bytes so that byte 4,223 of the line falls inside the spaces */
	rendered = (size_t)col + strlen(T);
	while (rendered + 60 < 4223) {
		rendered += 4;
		nl++;
		if (nl % 200 == 0)
			rendered += 1;	/* a '/' between components */
	}
	pos = (size_t)snprintf(path, sizeof(path), "%s", T);
	for (int left = nl; left > 0; left -= 200) {
		int k = left > 200 ? 200 : left;

		memset(comp, '\n', (size_t)k);
		comp[k] = 0;
		pos += (size_t)snprintf(path + pos, sizeof(path) - pos, "/%s", comp);
		mkdir(path, 0700);
	}
	memset(comp, ' ', 120);
	snprintf(comp + 120, sizeof(comp) - 120, "%s", fake);
	pos += (size_t)snprintf(path + pos, sizeof(path) - pos, "/%s", comp);
	mkdir(path, 0700);
	/* then "/tmp/qps-syms.XXXXXX/fifo" as real directories below it */
	for (const char *s = T + 1; s; s = strchr(s + 1, '/')) {
		const char *e = strchr(s + 1, '/');

		pos += (size_t)snprintf(path + pos, sizeof(path) - pos, "/%.*s",
					(int)(e ? e - s - (*s == '/') : (int)strlen(s) - (*s == '/')),
					s + (*s == '/'));
		mkdir(path, 0700);
	}
	snprintf(path + pos, sizeof(path) - pos, "/fifo");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	tap_ok(fd >= 0 && ftruncate(fd, 8192) == 0, "a regular file at a %zu-byte path", strlen(path));
	if (fd >= 0)
		close(fd);
	rc = mapper_start(&m, NULL, path, PROT_READ);
	tap_ok(rc == 0 && longest_maps_line(m.pid) > 4224,
	       "its maps line is longer than 4,224 bytes (%zu, read with getline)", longest_maps_line(m.pid));
	wfd = watch_open(fifo);
	q = (struct snapq){ .pid = m.pid, .addr = 0x7f0000000800ull };
	rc = run_bounded(do_snap, &q, 10);
	tap_ok(rc != BOUNDED_TIMEOUT, "the snapshot does not hang (rc %d)", rc);
	tap_ok(rc == USYMS_NOT_MAPPED, "no forged mapping at 0x7f0000000000 (rc %d, '%s')", rc,
	       rc == USYMS_NOT_MAPPED || rc == USYMS_MODULE ? shared : "");
	tap_ok(wfd >= 0 && !saw_open(wfd), "the FIFO named by the tail was not opened");
	mapper_stop(&m);
}

/* Maps a copy of our own binary at @T/@name (in @root if given, as @inner),
 * then lets @swap replace what is at the path; returns the snapshot result of
 * our marker function's address in it, without map_files. */
static int swap_case(const char *name, void (*swap)(const char *path), const char *watch,
		     bool *opened, char *what, size_t what_size)
{
	char path[256];
	struct mapper m = { 0 };
	struct snapq q;
	int64_t foff = self_file_offset((uint64_t)(uintptr_t)hostile_marker_function);
	int rc, wfd = -1;

	snprintf(path, sizeof(path), "%s/%s", T, name);
	if (copy_file("/proc/self/exe", path) || mapper_start(&m, NULL, path, PROT_READ | PROT_EXEC))
		return -1;
	swap(path);
	if (watch)
		wfd = watch_open(watch);
	q = (struct snapq){ .pid = m.pid, .addr = m.addr + (uint64_t)foff, .drop = true,
			    .start = m.addr, .end = m.addr + m.len };
	rc = run_bounded(do_snap, &q, 10);
	if (opened)
		*opened = wfd >= 0 ? saw_open(wfd) : true;
	snprintf(what, what_size, "%s", rc >= 0 && rc < 90 ? shared : "");
	mapper_stop(&m);
	return rc;
}

static void to_fifo(const char *path)
{
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	mkfifo(tmp, 0600);
	rename(tmp, path);
}

static void to_devnull(const char *path)
{
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	mknod(tmp, S_IFCHR | 0600, makedev(1, 3));
	rename(tmp, path);
}

static void to_other_file(const char *path)
{
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	copy_file("/proc/self/exe", tmp);
	rename(tmp, path);
}

static void noop(const char *path)
{
	(void)path;
}

/* @kind 'f': a regular file, 'p': a FIFO, 'c': /dev/null's device node,
 * bind-mounted over the mapped path in the process's own mount namespace:
 * maps still shows the path (not " (deleted)"), which now names @kind.
 * *@opened: IN_OPEN seen on what was mounted. */
static int bind_case(const char *name, char kind, bool *opened, char *what, size_t what_size)
{
	char path[256], other[256];
	struct mapper m = { 0 };
	struct snapq q;
	int64_t foff = self_file_offset((uint64_t)(uintptr_t)hostile_marker_function);
	int rc, wfd, made;

	snprintf(path, sizeof(path), "%s/%s", T, name);
	snprintf(other, sizeof(other), "%s/%s.other", T, name);
	made = kind == 'f' ? copy_file("/proc/self/exe", other) :
	       kind == 'p' ? mkfifo(other, 0600) : mknod(other, S_IFCHR | 0600, makedev(1, 3));
	if (made || copy_file("/proc/self/exe", path) ||
	    mapper_start_bind(&m, NULL, path, PROT_READ | PROT_EXEC, other))
		return -1;
	wfd = watch_open(other);
	q = (struct snapq){ .pid = m.pid, .addr = m.addr + (uint64_t)foff, .drop = true,
			    .start = m.addr, .end = m.addr + m.len };
	rc = run_bounded(do_snap, &q, 10);
	*opened = wfd >= 0 ? saw_open(wfd) : true;
	snprintf(what, what_size, "%s", rc >= 0 && rc < 90 ? shared : "");
	mapper_stop(&m);
	return rc;
}

static void test_swaps(void)
{
	char what[4096], want[300], path[256];
	int64_t foff = self_file_offset((uint64_t)(uintptr_t)hostile_marker_function);
	bool opened = true;
	int rc;

	snprintf(path, sizeof(path), "%s/fifo.so", T);
	rc = swap_case("fifo.so", to_fifo, path, &opened, what, sizeof(what));
	tap_ok(rc != BOUNDED_TIMEOUT && rc < 90, "a FIFO swapped in at a mapped path does not hang the snapshot (rc %d)", rc);
	tap_ok(!opened, "the FIFO was not opened");
	tap_ok(counts()->files_unreadable == 1, "... (the mapped file shows as deleted: unreadable without map_files: %d)",
	       counts()->files_unreadable);

	snprintf(path, sizeof(path), "%s/dev.so", T);
	rc = swap_case("dev.so", to_devnull, path, &opened, what, sizeof(what));
	tap_ok(rc != BOUNDED_TIMEOUT && rc < 90, "a device node swapped in: snapshot done (rc %d)", rc);
	tap_ok(!opened, "the device node was not opened");
	rc = bind_case("fifo2.so", 'p', &opened, what, sizeof(what));
	tap_ok(rc == USYMS_MODULE && !opened, "a FIFO mounted over the mapped path: no hang, not opened (rc %d, '%s')", rc, what);
	tap_ok(counts()->files_refused == 1, "... and counted as refused (%d)", counts()->files_refused);
	rc = bind_case("dev2.so", 'c', &opened, what, sizeof(what));
	tap_ok(rc == USYMS_MODULE && !opened, "a device node mounted over the mapped path: not opened (rc %d)", rc);
	tap_ok(counts()->files_refused == 1, "... and counted as refused (%d)", counts()->files_refused);

	/* another regular file (same content, another inode): not the mapped file */
	snprintf(want, sizeof(want), "other.so+0x%llx", (unsigned long long)foff);
	rc = swap_case("other.so", to_other_file, NULL, NULL, what, sizeof(what));
	tap_ok(rc == USYMS_MODULE && !strcmp(what, want),
	       "a file swapped in (dev/ino differ) is not read: '%s' (want '%s')", what, want);

	/* untouched, without map_files: the path under /proc/PID/root is used */
	rc = swap_case("same.so", noop, NULL, NULL, what, sizeof(what));
	tap_ok(rc == USYMS_FUNC && !strcmp(what, "hostile_marker_function"),
	       "an untouched file resolves through /proc/PID/root without map_files: '%s'", what);
	/* a file bind-mounted over the path in the process's mount namespace:
	 * maps still shows the path, which now names another inode */
	snprintf(want, sizeof(want), "bound.so+0x%llx", (unsigned long long)foff);
	rc = bind_case("bound.so", 'f', &opened, what, sizeof(what));
	tap_ok(rc == USYMS_MODULE && !strcmp(what, want),
	       "another file mounted over the mapped path (dev/ino differ) is not read: '%s' (want '%s')", what, want);
	tap_ok(counts()->files_refused == 1, "... and counted as refused (%d)", counts()->files_refused);
}

/* A chrooted process (a container without a mount namespace of its own):
 * its maps show the host path T/ct/lib.so; inside its root the owner puts a
 * symlink there aimed at a host file. Resolved under /proc/PID/root the old
 * way, the absolute link jumped back to our root and read the host file. */
static void test_container_link(void)
{
	char ct[128], lib[160], inner[700], dir[300], host[160], what[4096];
	int64_t foff = self_file_offset((uint64_t)(uintptr_t)hostile_marker_function);
	struct mapper m = { 0 };
	struct snapq q;
	int rc, wfd;

	snprintf(ct, sizeof(ct), "%s/ct", T);
	snprintf(lib, sizeof(lib), "%s/lib.so", ct);
	snprintf(host, sizeof(host), "%s/host.so", T);
	mkdir(ct, 0755);
	copy_file("/proc/self/exe", lib);
	copy_file("/proc/self/exe", host);
	rc = mapper_start(&m, ct, "/lib.so", PROT_READ | PROT_EXEC);
	tap_ok(rc == 0, "a chrooted process maps /lib.so");
	if (rc)
		return;
	/* inside the container: <ct>/<T>/ct/lib.so -> host.so (absolute) */
	snprintf(dir, sizeof(dir), "%s%s", ct, T);
	snprintf(inner, sizeof(inner), "mkdir -p '%s/ct'", dir);
	tap_ok(system(inner) == 0, "the container creates its own '%s/ct'", T);
	snprintf(inner, sizeof(inner), "%s/ct/lib.so", dir);
	tap_ok(symlink(host, inner) == 0, "... with lib.so a symlink to the host's '%s'", host);
	wfd = watch_open(host);
	q = (struct snapq){ .pid = m.pid, .addr = m.addr + (uint64_t)foff, .drop = true,
			    .start = m.addr, .end = m.addr + m.len };
	rc = run_bounded(do_snap, &q, 10);
	snprintf(what, sizeof(what), "%s", rc >= 0 && rc < 90 ? shared : "");
	tap_ok(wfd >= 0 && !saw_open(wfd), "the host file the link names was not opened");
	tap_ok(rc == USYMS_MODULE && !strncmp(what, "lib.so+0x", 9), "the frame stays 'lib.so+0x...' ('%s', rc %d)", what, rc);
	tap_ok(counts()->files_refused == 1, "... and the symlink counted as refused (%d)", counts()->files_refused);
	/* the same file mapped by a host process: refused through the
	 * container, it is tried again (and read) through this one */
	{
		struct mapper h = { 0 };

		rc = mapper_start(&h, NULL, lib, PROT_READ | PROT_EXEC);
		q = (struct snapq){ .first = m.pid, .pid = h.pid, .addr = h.addr + (uint64_t)foff, .drop = true,
				    .start = h.addr, .end = h.addr + h.len };
		rc = rc ? rc : run_bounded(do_snap, &q, 10);
		tap_ok(rc == USYMS_FUNC && !strcmp(shared, "hostile_marker_function"),
		       "the file, refused through the container, resolves through a host process mapping it: '%s' (rc %d)",
		       rc >= 0 && rc < 90 ? shared : "", rc);
		mapper_stop(&h);
	}
	mapper_stop(&m);
}

struct trunc_arg {
	const char *path;
	double secs;
	int *rounds;
};

/* Maps @path itself and symbolizes it again and again (a new usyms each
 * time: no cache) while another process truncates and rewrites it. */
static int snap_loop(void *arg)
{
	const struct trunc_arg *a = arg;
	struct timespec t0, t;
	int fd = open(a->path, O_RDONLY), n = 0;
	void *p;

	if (fd < 0)
		return 90;
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 91;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct usyms *u = usyms_new();

		usyms_snapshot(u, getpid(), 1);
		usyms_free(u);
		n++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < a->secs);
	*a->rounds = n;
	return 0;
}

static void test_truncate(void)
{
	const char *src = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	char path[160], dbg[512];
	struct trunc_arg a;
	int *rounds = (int *)(shared + 60000);
	pid_t tr;
	int rc, fd;
	struct stat st;
	char *img;

	/* a big ELF with a big .symtab: libc's debug file when installed */
	if (run_cmd(dbg, sizeof(dbg), "f=/usr/lib/debug/.build-id/$(readelf -n %s | awk '/Build ID/ {print substr($3,1,2) \"/\" substr($3,3)}').debug; [ -f $f ] && echo $f", src) == 0 && dbg[0])
		src = dbg;
	snprintf(path, sizeof(path), "%s/trunc.so", T);
	copy_file(src, path);
	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st) || !(img = malloc((size_t)st.st_size)) ||
	    pread(fd, img, (size_t)st.st_size, 0) != st.st_size) {
		tap_ok(0, "copy '%s'", src);
		return;
	}
	fflush(stdout);
	tr = fork();
	if (tr == 0) {
		for (unsigned i = 0;; i++) {
			if (pwrite(fd, img, (size_t)st.st_size, 0) != st.st_size)
				_exit(1);
			usleep(i % 7 * 150);
			if (ftruncate(fd, 4096))
				_exit(1);
			usleep(i % 5 * 100);
		}
	}
	a = (struct trunc_arg){ .path = path, .secs = 3, .rounds = rounds };
	*rounds = 0;
	rc = run_bounded(snap_loop, &a, 20);
	kill(tr, SIGKILL);
	waitpid(tr, NULL, 0);
	if (pwrite(fd, img, (size_t)st.st_size, 0) != st.st_size)
		rc = -1;
	close(fd);
	free(img);
	tap_ok(rc == 0, "%d symbolizations of '%s' while it is truncated and rewritten: no SIGBUS (rc %d%s)",
	       *rounds, src, rc, rc == BOUNDED_SIGNAL(SIGBUS) ? ", SIGBUS" : "");
}

int main(void)
{
	char cmd[128];

	tap_plan(27);
	snprintf(T, sizeof(T), "/tmp/qps-syms.XXXXXX");
	shared = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!mkdtemp(T) || shared == MAP_FAILED || geteuid() != 0) {
		for (int i = 0; i < 27; i++)
			tap_ok(1, "# SKIP needs root (CAP_SYS_ADMIN to drop, mknod, chroot) and a scratch dir");
		return tap_done(27);
	}
	test_long_line();
	test_swaps();
	test_container_link();
	test_truncate();
	tap_ok(hostile_marker_function(0) == 2, "marker function kept");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", T);
	if (system(cmd))
		tap_diag("cannot remove '%s'", T);
	return tap_done(27);
}
