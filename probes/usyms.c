/* usyms.c - user-space symbolization (see usyms.h, docs/symbols.md).
 *
 * An image (pid, tag) holds the executable mappings of one process image;
 * each mapping of a file points to an efile, shared by every image that maps
 * the same (dev, inode) and freed with the last of them. Both live in hash
 * tables. Image lifecycle:
 *   snapshot --> LIVE --report resolves it--> LIVE (used)
 *   LIVE --exit, or a newer tag of the pid--> GONE --a sweep without use--> freed
 */
#include "usyms.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include "escape.h"
#include "symelf.h"
#include "symmaps.h"

#define PERF_MAP_MAX (64u << 20)	/* bytes of a perf-PID.map we read */
#define PERF_MAP_SYMS (1u << 20)	/* JIT symbols kept per image */
#define EFILE_TRIES 8			/* opens of a file that would not open */

/* One mapped file, by (dev, inode). */
struct efile {
	dev_t dev;
	ino_t ino;
	char *base;			/* escaped basename, for "module+0xOFF" */
	struct symelf elf;
	bool ok;			/* opened and parsed */
	int err;			/* else why: -errno of the open or the parse */
	bool parse_err;			/* @err came from the parse */
	int tries;			/* opens tried: at most EFILE_TRIES */
	int refs;			/* mappings of live images pointing here */
	struct efile *next;		/* hash chain */
};

struct umap {
	uint64_t start, end, off;
	struct efile *f;		/* NULL: not a file ([vdso], anonymous JIT) */
	char *name;			/* escaped pseudo name ("[vdso]", "[anon]") when !f */
};

struct jsym {
	uint64_t start, size;
	uint32_t seq;			/* line number: a later line wins (code reused) */
	char *name;			/* escaped */
};

struct uproc {
	pid_t pid;
	uint32_t tag;
	struct umap *maps;
	int n;
	struct jsym *jit;		/* from /tmp/perf-PID.map, sorted by start */
	int njit;
	bool used;			/* resolved or snapshotted since the last sweep */
	bool superseded;		/* a newer tag of this pid was snapshotted */
	struct uproc *next;		/* hash chain */
};

struct usyms {
	struct uproc **procs;		/* hash by pid: every tag of a pid in one chain */
	size_t nprocs, pbuckets;
	struct efile **files;		/* hash by (dev, inode) */
	size_t nfiles, fbuckets;
	int hostfd;			/* O_PATH of "/", for host debug files */
	char *scratch;			/* usyms_lookup()'s formatted names */
	size_t scratch_cap;
	struct {			/* files that could not be opened, since usyms_new() */
		pid_t pid;		/* the last process that had some */
		int files;		/* ... how many of its files */
		int pids;		/* processes that had some */
		int err;		/* -errno of the last */
		enum usyms_unopened how;
	} unopened;
};

struct usyms *usyms_new(void)
{
	struct usyms *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->pbuckets = u->fbuckets = 64;
	u->procs = calloc(u->pbuckets, sizeof(*u->procs));
	u->files = calloc(u->fbuckets, sizeof(*u->files));
	u->hostfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!u->procs || !u->files || u->hostfd < 0) {
		int err = errno;

		usyms_free(u);
		errno = err;
		return NULL;
	}
	return u;
}

static void efile_free(struct efile *f)
{
	if (!f)
		return;
	symelf_release(&f->elf);
	free(f->base);
	free(f);
}

static size_t file_hash(const struct usyms *u, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4full);

	return (size_t)(h ^ (h >> 29)) & (u->fbuckets - 1);
}

static size_t proc_hash(const struct usyms *u, pid_t pid)
{
	uint64_t h = (uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (u->pbuckets - 1);
}

static void efile_put(struct usyms *u, struct efile *f)
{
	struct efile **pp;

	if (!f || --f->refs > 0)
		return;
	for (pp = &u->files[file_hash(u, f->dev, f->ino)]; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			u->nfiles--;
			break;
		}
	efile_free(f);
}

static void maps_free(struct usyms *u, struct umap *maps, int n)
{
	for (int i = 0; i < n; i++) {
		efile_put(u, maps[i].f);
		free(maps[i].name);
	}
	free(maps);
}

static void jit_free(struct jsym *j, int n)
{
	for (int i = 0; i < n; i++)
		free(j[i].name);
	free(j);
}

static void proc_free(struct usyms *u, struct uproc *p)
{
	maps_free(u, p->maps, p->n);
	jit_free(p->jit, p->njit);
	free(p);
}

void usyms_free(struct usyms *u)
{
	if (!u)
		return;
	for (size_t b = 0; u->procs && b < u->pbuckets; b++)
		while (u->procs[b]) {
			struct uproc *p = u->procs[b];

			u->procs[b] = p->next;
			proc_free(u, p);
		}
	free(u->procs);
	/* every file was freed with its last image */
	free(u->files);
	if (u->hostfd >= 0)
		close(u->hostfd);
	free(u->scratch);
	free(u);
}

/* Doubles a hash table when it holds more entries than buckets. */
static void files_grow(struct usyms *u)
{
	size_t nb = u->fbuckets * 2, old = u->fbuckets;
	struct efile **nt = calloc(nb, sizeof(*nt)), **ot = u->files;

	if (!nt)
		return;		/* longer chains, still correct */
	u->files = nt;
	u->fbuckets = nb;
	for (size_t b = 0; b < old; b++)
		while (ot[b]) {
			struct efile *f = ot[b];
			size_t h = file_hash(u, f->dev, f->ino);

			ot[b] = f->next;
			f->next = nt[h];
			nt[h] = f;
		}
	free(ot);
}

static void procs_grow(struct usyms *u)
{
	size_t nb = u->pbuckets * 2, old = u->pbuckets;
	struct uproc **nt = calloc(nb, sizeof(*nt)), **ot = u->procs;

	if (!nt)
		return;
	u->procs = nt;
	u->pbuckets = nb;
	for (size_t b = 0; b < old; b++)
		while (ot[b]) {
			struct uproc *p = ot[b];
			size_t h = proc_hash(u, p->pid);

			ot[b] = p->next;
			p->next = nt[h];
			nt[h] = p;
		}
	free(ot);
}

/* ---- opening files others control ---- */

/* Reopens the O_PATH descriptor @pfd for reading (it is closed), only if it
 * is a regular file: a FIFO or a device is never opened for real (opening
 * one could block or act). With @want, its (dev, inode) must match too.
 * Returns a descriptor or -errno. */
static int reopen_regular(int pfd, const struct stat *want)
{
	char p[64];
	struct stat st, st2;
	int fd = -EINVAL;

	if (fstat(pfd, &st)) {
		fd = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode))
		goto out;
	if (want && (st.st_dev != want->st_dev || st.st_ino != want->st_ino)) {
		fd = -ESTALE;
		goto out;
	}
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pfd);
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		fd = -errno;
		goto out;
	}
	if (fstat(fd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		close(fd);
		fd = -ESTALE;
	}
out:
	close(pfd);
	return fd;
}

/* Opens @rel under the directory @dirfd as if @dirfd were "/", following no
 * symlink at all; then as reopen_regular(). Returns a descriptor or -errno. */
static int open_in_root(int dirfd, const char *rel, const struct stat *want)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int pfd;

	while (*rel == '/')
		rel++;
	if (dirfd < 0 || !*rel)
		return -ENOENT;
	pfd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (pfd < 0)
		return -errno;
	return reopen_regular(pfd, want);
}

struct snap {
	pid_t pid;
	int rootfd;			/* O_PATH of /proc/PID/root, -1: none, -2: not opened yet */
	int root_err;			/* -errno when /proc/PID/root would not open */
	bool root_is_host;		/* same directory as our "/" */
	bool map_files;			/* map_files worked or was not tried yet */
	int hostfd;			/* usyms.hostfd */
};

/* /proc/PID/root, opened on first need: most snapshots find every file
 * in the cache and need no root at all. */
static int snap_root(struct snap *s)
{
	char path[64];
	struct stat st1, st2;

	if (s->rootfd != -2)
		return s->rootfd;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)s->pid);
	s->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		s->root_err = -errno;
	s->root_is_host = s->rootfd >= 0 && !fstat(s->rootfd, &st1) && !fstat(s->hostfd, &st2) &&
			  st1.st_dev == st2.st_dev && st1.st_ino == st2.st_ino;
	return s->rootfd;
}

/* The file of the maps line @ml: /proc/PID/map_files names the very file
 * the kernel mapped; failing that (no CAP_SYS_ADMIN), the path under the
 * process's root. Either way it must be the file of the maps line (dev,
 * inode): the process may have mapped another file at the same range since
 * we read its maps, and what we parse is cached under the line's (dev,
 * inode) for every process. Never the bare path: it is resolved in our
 * mount namespace, by whoever controls its directories. */
static int efile_open(struct snap *s, const struct symmaps_line *ml)
{
	struct stat want = { .st_dev = makedev(ml->maj, ml->min), .st_ino = (ino_t)ml->ino };
	int fd = -ENOENT;

	if (s->map_files) {
		char p[96];
		int pfd;

		snprintf(p, sizeof(p), "/proc/%d/map_files/%llx-%llx", (int)s->pid,
			 (unsigned long long)ml->start, (unsigned long long)ml->end);
		/* O_PATH follows the magic link without opening the file */
		pfd = open(p, O_PATH | O_CLOEXEC);
		if (pfd >= 0)
			fd = reopen_regular(pfd, &want);
		else if (errno == EPERM || errno == EACCES)
			s->map_files = false;	/* not for this snapshot's other lines either */
	}
	if (fd < 0 && fd != -EINVAL && fd != -ESTALE && !ml->deleted) {
		int root = snap_root(s);

		fd = root < 0 ? s->root_err : open_in_root(root, ml->path, &want);
	}
	return fd;
}

/* CRC-32 (zlib's, as .gnu_debuglink uses) of the regular file @fd, bounded. */
static int file_crc(int fd, uint32_t *crc)
{
	static unsigned char buf[1 << 16];
	uLong c = crc32(0, Z_NULL, 0);
	uint64_t total = 0;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size > SYMELF_MAX_FILE)
		return -EFBIG;

	while ((n = pread(fd, buf, sizeof(buf), (off_t)total)) > 0) {
		c = crc32(c, buf, (uInt)n);
		total += (uint64_t)n;
		if (total > SYMELF_MAX_FILE)
			return -EFBIG;
	}
	if (n < 0)
		return -errno;
	*crc = (uint32_t)c;
	return 0;
}

/* Loads the debug file @rel under @dirfd into @dbg if it is the debug file of
 * @f: the same build-id (@by_id), or the CRC .gnu_debuglink names. */
static int try_debug(struct efile *f, int dirfd, const char *rel, bool by_id, struct symelf *dbg)
{
	uint32_t crc = 0;
	int fd, err;

	fd = open_in_root(dirfd, rel, NULL);
	if (fd < 0)
		return fd;
	if (!by_id && (file_crc(fd, &crc) || crc != f->elf.debuglink_crc)) {
		close(fd);
		return -ESTALE;
	}
	err = symelf_load_fd(dbg, fd);
	close(fd);
	if (!err && (!dbg->has_symtab ||
		     (by_id && (dbg->build_id_len != f->elf.build_id_len ||
				memcmp(dbg->build_id, f->elf.build_id, f->elf.build_id_len)))))
		err = -ESTALE;
	if (err)
		symelf_release(dbg);
	return err;
}

/* A file without .symtab: its separate debug file, found by build-id, then by
 * .gnu_debuglink, in the process's root first (its own debug packages), then
 * (build-id only: it proves the match) on the host. */
static void efile_find_debug(struct usyms *u, struct snap *s, struct efile *f, const char *path)
{
	struct symelf dbg = { 0 };
	char rel[PATH_MAX * 2];
	int root = snap_root(s);	/* before root_is_host is read */
	int dirs[2] = { root, s->root_is_host ? -1 : u->hostfd };

	if (f->elf.build_id_len) {
		int n = snprintf(rel, sizeof(rel), "usr/lib/debug/.build-id/%02x/", f->elf.build_id[0]);

		for (size_t i = 1; i < f->elf.build_id_len; i++)
			n += snprintf(rel + n, sizeof(rel) - (size_t)n, "%02x", f->elf.build_id[i]);
		snprintf(rel + n, sizeof(rel) - (size_t)n, ".debug");
		for (int d = 0; d < 2; d++)
			if (dirs[d] >= 0 && try_debug(f, dirs[d], rel, true, &dbg) == 0)
				goto found;
	}
	if (f->elf.debuglink && path[0] == '/') {
		const char *slash = strrchr(path, '/');
		int dlen = (int)(slash - path);
		static const char *const fmt[] = { "%.*s/%s", "%.*s/.debug/%s", "usr/lib/debug%.*s/%s" };

		for (int i = 0; i < 3; i++) {
			if (snprintf(rel, sizeof(rel), fmt[i], dlen, path, f->elf.debuglink) >= (int)sizeof(rel))
				continue;
			if (try_debug(f, snap_root(s), rel, false, &dbg) == 0)
				goto found;
		}
	}
	return;
found:
	symelf_take_syms(&f->elf, &dbg);
	symelf_release(&dbg);
}

/* Opens and parses @f's file as the maps line @ml of snapshot @s shows it. */
static bool is_refusal(int err)
{
	return err == -EINVAL || err == -ESTALE || err == -ELOOP || err == -EXDEV || err == -ENOTDIR;
}

/* Remembers why a file of @s could not be opened, for usyms_unopened_why(). */
static void note_unopened(struct usyms *u, const struct snap *s, const struct symmaps_line *ml, int err)
{
	if (is_refusal(err))
		return;
	if (u->unopened.pid != s->pid) {
		u->unopened.pid = s->pid;
		u->unopened.files = 0;
		u->unopened.pids++;
	}
	u->unopened.files++;
	u->unopened.err = err;
	if (s->rootfd == -1 && err == s->root_err)
		u->unopened.how = USYMS_UNOPENED_ROOT;
	else if (ml->deleted)
		u->unopened.how = USYMS_UNOPENED_DELETED;
	else
		u->unopened.how = USYMS_UNOPENED_FILE;
}

static void efile_load(struct usyms *u, struct snap *s, struct efile *f, const struct symmaps_line *ml)
{
	int fd = efile_open(s, ml);

	f->tries++;
	f->err = fd < 0 ? fd : 0;
	if (fd < 0) {
		note_unopened(u, s, ml, fd);
		return;
	}
	f->err = symelf_load_fd(&f->elf, fd);
	f->ok = f->err == 0;
	f->parse_err = !f->ok;
	close(fd);
	if (f->ok && !f->elf.has_symtab)
		efile_find_debug(u, s, f, ml->path);
}

static struct efile *efile_get(struct usyms *u, struct snap *s, const struct symmaps_line *ml)
{
	dev_t dev = makedev(ml->maj, ml->min);
	const char *slash = strrchr(ml->path, '/');
	size_t h = file_hash(u, dev, (ino_t)ml->ino);
	struct efile *f;

	for (f = u->files[h]; f; f = f->next)
		if (f->dev == dev && f->ino == (ino_t)ml->ino) {
			/* a file that could not be opened through the process that
			 * first mapped it (gone meanwhile, a deleted file, no
			 * map_files) may well open through this one */
			if (!f->ok && !f->parse_err && f->tries < EFILE_TRIES) {
				symelf_release(&f->elf);
				efile_load(u, s, f, ml);
			}
			f->refs++;
			return f;
		}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev = dev;
	f->ino = (ino_t)ml->ino;
	f->refs = 1;
	f->base = escape_dup(slash ? slash + 1 : ml->path);
	if (!f->base) {
		free(f);
		return NULL;
	}
	efile_load(u, s, f, ml);
	f->next = u->files[h];
	u->files[h] = f;
	if (++u->nfiles > u->fbuckets)
		files_grow(u);
	return f;
}

/* ---- JIT symbols: /tmp/perf-PID.map, written by the process itself ---- */

static int cmp_jsym(const void *a, const void *b)
{
	const struct jsym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The process's pid in its own namespace (perf-PID.map is named with it) and
 * its uids (the file must be the process's own, or root's). */
static int proc_ids(pid_t pid, pid_t *nspid, uid_t *ruid, uid_t *euid)
{
	char p[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int found = 0;
	FILE *fp;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	fp = fopen(p, "re");
	if (!fp)
		return -errno;
	*nspid = pid;
	while ((n = getline(&line, &cap, fp)) > 0) {
		unsigned int r, e;

		if (line[n - 1] != '\n')
			break;
		if (!strncmp(line, "NSpid:", 6)) {
			char *last = strrchr(line, '\t');

			if (last)
				*nspid = (pid_t)atoi(last + 1);
		} else if (sscanf(line, "Uid: %u %u", &r, &e) == 2) {
			*ruid = r;
			*euid = e;
			found = 1;
		}
	}
	free(line);
	fclose(fp);
	return found ? 0 : -ESRCH;
}

static int jit_load(struct snap *s, struct uproc *p)
{
	char rel[64], *buf = NULL;
	struct jsym *j = NULL;
	struct stat st;
	size_t len = 0, pos = 0, cap;
	uid_t ruid = 0, euid = 0;
	pid_t nspid = s->pid;
	int fd, n = 0, jcap = 0, err;
	ssize_t r;

	err = proc_ids(s->pid, &nspid, &ruid, &euid);
	if (err)
		return err;
	snprintf(rel, sizeof(rel), "tmp/perf-%d.map", (int)nspid);
	fd = open_in_root(snap_root(s), rel, NULL);
	if (fd < 0)
		return fd;
	/* anyone can create /tmp/perf-N.map before pid N exists */
	if (fstat(fd, &st) || (st.st_uid != 0 && st.st_uid != ruid && st.st_uid != euid)) {
		err = -EPERM;
		goto out;
	}
	/* what is there now, at most PERF_MAP_MAX: the writer may go on */
	cap = st.st_size < (off_t)PERF_MAP_MAX ? (size_t)st.st_size : PERF_MAP_MAX;
	buf = malloc(cap + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (len < cap && (r = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)r;
	/* lines that end in '\n' only: a line being written is skipped */
	while (pos < len && n < (int)PERF_MAP_SYMS) {
		char *nl = memchr(buf + pos, '\n', len - pos);
		uint64_t start, size;
		const char *name;
		size_t nlen, l;

		if (!nl)
			break;
		l = (size_t)(nl - (buf + pos)) + 1;
		if (symmaps_parse_perf(buf + pos, l, &start, &size, &name, &nlen) == 0) {
			if (n == jcap) {
				int c = jcap ? jcap * 2 : 64;
				struct jsym *nj = realloc(j, (size_t)c * sizeof(*nj));

				if (!nj) {
					err = -ENOMEM;
					goto out;
				}
				j = nj;
				jcap = c;
			}
			j[n].start = start;
			j[n].size = size;
			j[n].seq = (uint32_t)n;
			j[n].name = malloc(nlen * 4 + 1);
			if (!j[n].name) {
				err = -ENOMEM;
				goto out;
			}
			escape_name(j[n].name, nlen * 4 + 1, name, nlen);
			n++;
		}
		pos += l;
	}
	if (n)
		qsort(j, (size_t)n, sizeof(*j), cmp_jsym);
	jit_free(p->jit, p->njit);
	p->jit = j;
	p->njit = n;
	j = NULL;
	n = 0;
out:
	jit_free(j, n);
	free(buf);
	close(fd);
	return err;
}

static const struct jsym *jit_find(const struct uproc *p, uint64_t addr)
{
	const struct jsym *best = NULL;
	int lo = 0, hi = p->njit;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (p->jit[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the latest line covering @addr, among the few starting just below */
	for (int i = lo - 1; i >= 0 && i >= lo - 64; i--)
		if (addr - p->jit[i].start < p->jit[i].size && (!best || p->jit[i].seq > best->seq))
			best = &p->jit[i];
	return best;
}

/* ---- images ---- */

static struct uproc *proc_find(const struct usyms *u, pid_t pid, uint32_t tag)
{
	for (struct uproc *p = u->procs[proc_hash(u, pid)]; p; p = p->next)
		if (p->pid == pid && p->tag == tag)
			return p;
	return NULL;
}

bool usyms_has(const struct usyms *u, pid_t pid, uint32_t tag)
{
	return proc_find(u, pid, tag) != NULL;
}

int usyms_snapshot(struct usyms *u, pid_t pid, uint32_t tag)
{
	struct snap s = { .pid = pid, .rootfd = -2, .map_files = true, .hostfd = u->hostfd };
	char path[64], *line = NULL, *pbuf = NULL;
	struct umap *maps = NULL;
	struct uproc *p;
	size_t lcap = 0;
	ssize_t len;
	int n = 0, cap = 0, err = 0;
	bool anon_exec = false;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	pbuf = malloc(SYMMAPS_LINE_MAX + 1);
	if (!pbuf) {
		err = -ENOMEM;
		goto out;
	}
	/* getline: a line is never cut by a buffer into a second, forged line */
	while ((len = getline(&line, &lcap, fp)) > 0) {
		struct symmaps_line ml;
		struct umap m = { 0 };

		if (symmaps_parse_line(line, (size_t)len, pbuf, &ml) || !ml.exec)
			continue;
		m.start = ml.start;
		m.end = ml.end;
		m.off = ml.off;
		if (ml.path[0] != '/') {
			anon_exec |= !ml.path[0] || !strncmp(ml.path, "[anon", 5);
			m.name = escape_dup(ml.path[0] ? ml.path : "[anon]");
			if (!m.name) {
				err = -ENOMEM;
				break;
			}
		}
		if (n == cap) {
			int c = cap ? cap * 2 : 64;
			struct umap *nm = realloc(maps, (size_t)c * sizeof(*nm));

			if (!nm) {
				free(m.name);
				err = -ENOMEM;
				break;
			}
			maps = nm;
			cap = c;
		}
		if (ml.path[0] == '/') {
			m.f = efile_get(u, &s, &ml);
			if (!m.f) {
				err = -ENOMEM;
				break;
			}
		}
		maps[n++] = m;
	}
	if (!err && n == 0)
		err = -ESRCH;	/* a zombie or a kernel thread: keep what we had */
	if (err)
		goto out;
	p = proc_find(u, pid, tag);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		p->pid = pid;
		p->tag = tag;
		/* older images of this pid (before an exec, a reused pid) are done */
		for (struct uproc *o = u->procs[proc_hash(u, pid)]; o; o = o->next)
			if (o->pid == pid)
				o->superseded = true;
		p->next = u->procs[proc_hash(u, pid)];
		u->procs[proc_hash(u, pid)] = p;
		if (++u->nprocs > u->pbuckets)
			procs_grow(u);
	}
	maps_free(u, p->maps, p->n);
	p->maps = maps;
	p->n = n;
	p->used = true;
	maps = NULL;
	n = 0;
	if (anon_exec)
		jit_load(&s, p);	/* a failure only costs JIT names */
out:
	maps_free(u, maps, n);
	free(line);
	free(pbuf);
	fclose(fp);
	if (s.rootfd >= 0)
		close(s.rootfd);
	return err;
}

/* Formats into u->scratch, growing it: names are never cut short. */
static const char *scratch_fmt(struct usyms *u, const char *fmt, const char *s, unsigned long long x)
{
	int need = snprintf(u->scratch, u->scratch_cap, fmt, s, x);

	if (need < 0)
		return NULL;
	if ((size_t)need >= u->scratch_cap) {
		char *p = realloc(u->scratch, (size_t)need + 1);

		if (!p)
			return NULL;
		u->scratch = p;
		u->scratch_cap = (size_t)need + 1;
		snprintf(u->scratch, u->scratch_cap, fmt, s, x);
	}
	return u->scratch;
}

const char *usyms_lookup(struct usyms *u, pid_t pid, uint32_t tag, uint64_t addr,
			 enum usyms_result *res)
{
	struct uproc *p = proc_find(u, pid, tag);
	enum usyms_result r;
	const char *name;

	if (!res)
		res = &r;
	if (!p) {
		*res = USYMS_NO_SNAPSHOT;
		return "[unknown]";
	}
	p->used = true;
	for (int i = 0; i < p->n; i++) {
		const struct umap *m = &p->maps[i];
		const struct jsym *j;
		uint64_t foff, vaddr;

		if (addr < m->start || addr >= m->end)
			continue;
		if ((!m->f || !m->f->ok) && (j = jit_find(p, addr))) {
			*res = USYMS_FUNC;
			return j->name;
		}
		*res = USYMS_MODULE;
		if (!m->f)
			return m->name;
		foff = addr - m->start + m->off;
		if (m->f->ok && symelf_vaddr(&m->f->elf, foff, &vaddr) == 0) {
			struct symelf_sym *sym = symelf_find(&m->f->elf, vaddr);

			if (sym && (name = symelf_name(&m->f->elf, sym))) {
				*res = USYMS_FUNC;
				return name;
			}
		}
		name = scratch_fmt(u, "%s+0x%llx", m->f->base, (unsigned long long)foff);
		if (!name)
			errno = ENOMEM;
		return name;
	}
	if (p->njit && (name = jit_find(p, addr) ? jit_find(p, addr)->name : NULL)) {
		*res = USYMS_FUNC;
		return name;
	}
	*res = USYMS_NOT_MAPPED;
	return "[no-map]";
}

enum usyms_result usyms_resolve(struct usyms *u, pid_t pid, uint32_t tag, uint64_t addr,
				char *buf, size_t size)
{
	enum usyms_result r = USYMS_NOT_MAPPED;
	const char *name = usyms_lookup(u, pid, tag, addr, &r);

	snprintf(buf, size, "%s", name ? name : "[no-memory]");
	return r;
}

int usyms_sweep(struct usyms *u)
{
	int evicted = 0;

	for (size_t b = 0; b < u->pbuckets; b++) {
		struct uproc **pp = &u->procs[b];

		while (*pp) {
			struct uproc *p = *pp;

			if (!p->used && (p->superseded || (kill(p->pid, 0) && errno == ESRCH))) {
				*pp = p->next;
				proc_free(u, p);
				u->nprocs--;
				evicted++;
				continue;
			}
			p->used = false;
			pp = &p->next;
		}
	}
	return evicted;
}

void usyms_counts(const struct usyms *u, struct usyms_counts *c)
{
	memset(c, 0, sizeof(*c));
	c->images = (int)u->nprocs;
	c->files = (int)u->nfiles;
	for (size_t b = 0; b < u->fbuckets; b++)
		for (const struct efile *f = u->files[b]; f; f = f->next) {
			if (f->ok) {
				c->files_symbols += f->elf.nsyms > 0;
				continue;
			}
			if (f->parse_err)
				c->files_not_elf++;
			else if (is_refusal(f->err))
				c->files_refused++;
			else
				c->files_unreadable++;
		}
	c->unopened_pid = u->unopened.pid;
	c->unopened_files = u->unopened.files;
	c->unopened_pids = u->unopened.pids;
	c->unopened_err = u->unopened.err;
	c->unopened_how = u->unopened.how;
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	return syscall(SYS_capget, &h, d) == 0 && (d[cap / 32].effective & (1u << (cap % 32)));
}

int usyms_unopened_why(const struct usyms_counts *c, char *buf, size_t size)
{
	char others[64] = "";
	int pid = (int)c->unopened_pid;

	buf[0] = '\0';
	if (!c->unopened_pids)
		return 0;
	if (c->unopened_pids > 1)
		snprintf(others, sizeof(others), " (and files of %d other process%s)", c->unopened_pids - 1,
			 c->unopened_pids > 2 ? "es" : "");
	if (c->unopened_how == USYMS_UNOPENED_ROOT &&
	    (c->unopened_err == -EACCES || c->unopened_err == -EPERM) && !has_cap(CAP_SYS_PTRACE))
		snprintf(buf, size, "%d file%s of pid %d not opened%s: /proc/%d/root needs ptrace access "
			 "(this process lacks CAP_SYS_PTRACE)", c->unopened_files, c->unopened_files == 1 ? "" : "s",
			 pid, others, pid);
	else if (c->unopened_how == USYMS_UNOPENED_ROOT)
		snprintf(buf, size, "%d file%s of pid %d not opened%s: /proc/%d/root: %s", c->unopened_files,
			 c->unopened_files == 1 ? "" : "s", pid, others, pid, strerror(-c->unopened_err));
	else if (c->unopened_how == USYMS_UNOPENED_DELETED && !has_cap(CAP_SYS_ADMIN))
		snprintf(buf, size, "%d file%s of pid %d not opened%s: deleted files are read only through "
			 "/proc/%d/map_files (this process lacks CAP_SYS_ADMIN)", c->unopened_files,
			 c->unopened_files == 1 ? "" : "s", pid, others, pid);
	else
		snprintf(buf, size, "%d file%s of pid %d not opened%s: %s", c->unopened_files,
			 c->unopened_files == 1 ? "" : "s", pid, others, strerror(-c->unopened_err));
	return 1;
}

void usyms_stats(const struct usyms *u, int *procs, int *files)
{
	*procs = (int)u->nprocs;
	*files = (int)u->nfiles;
}
