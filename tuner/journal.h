/* journal.h - the record of what `apply` changed, so `rollback` can restore
 * exactly the old values (multi-value sysctls byte-identical, whole files
 * with their mode and owner) - and only where, and only what, apply left.
 *
 * Text format 2, one change per line, fields separated by tabs; keys and
 * values escaped (\t \n \\) and prefixed with '=' (a value) or '!' (absent:
 * a file that did not exist):
 *   qps-tune-journal 2
 *   created 2026-11-28T12:00:00Z
 *   netns 4026531833                  inode of the netns (reused by the kernel)
 *   netns_cookie 4097                 SO_NETNS_COOKIE: never reused within a boot
 *   boot_id 672ca6b0-...              /proc/sys/kernel/random/boot_id
 *   pid 0
 *   root =/srv/ct1                    --root of the files ("=" alone: /)
 *   profile web-10k
 *   sysctl	=net.core.somaxconn	=128	=4096	done	-
 *   file	=/etc/sysctl.d/90-qps-tune.conf	!	=...	done	m=0644,u=0,g=0,d=2049,i=1234,h=9f...
 * The fifth field is the progress marker: "planned" until the write is made,
 * then "done" (the journal is rewritten after every write). For files the
 * last field keeps the old file's mode and owner and the identity (device,
 * inode, content hash) of the file apply wrote. Entries are validated on load
 * against what apply can produce.
 *
 *   (none) --journal, all planned--> PLANNED --each write, then "done"--> APPLIED
 *   rollback: each done entry still as apply left it -> restored; changed since
 *   -> kept, named (or handed to the later apply that changed it); the journal
 *   keeps what was not restored, so a second rollback finishes.
 */
#ifndef QPS_JOURNAL_H
#define QPS_JOURNAL_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "env.h"

enum jkind { J_SYSCTL, J_SYSFS, J_RLIMIT, J_AFFINITY, J_FILE };

struct jentry {
	enum jkind kind;
	char *key;		/* sysctl key, sysfs path, pid@start, or host path of a file */
	char *old;		/* NULL: did not exist (files) */
	char *new_;
	bool done;		/* written (progress marker) */
	/* files only */
	bool have_meta;
	mode_t old_mode;	/* of the file before apply (when old != NULL) */
	uid_t old_uid;
	gid_t old_gid;
	uint64_t dev, ino, hash;	/* the file apply wrote */
};

struct journal {
	char created[32];
	uint64_t netns;		/* inode */
	uint64_t cookie;	/* SO_NETNS_COOKIE */
	char boot_id[40];
	pid_t pid;
	char *root;		/* "" = / */
	char profile[64];
	struct jentry *v;
	int n, cap;
};

/* Loads and validates the journal in directory @dfd. Returns 0, -ENOENT when
 * there is none, -EINVAL if malformed or naming anything apply cannot
 * produce (the line is in @err), or -errno. */
int journal_load(int dfd, struct journal *j, char *err, size_t err_size);
/* Writes it atomically into @dfd (mode 0600). Returns 0 or -errno. */
int journal_save(int dfd, const struct journal *j);
void journal_release(struct journal *j);
struct jentry *journal_find(struct journal *j, enum jkind kind, const char *key);
/* Records a change; if (kind, key) is already there, keeps its old value and
 * updates the new one. @old NULL = absent. Returns the entry or NULL (ENOMEM). */
struct jentry *journal_record(struct journal *j, enum jkind kind, const char *key, const char *old,
			      const char *new_);
const char *jkind_str(enum jkind k);
/* True if @key is something apply may write for @kind (see journal.c). */
bool journal_key_valid(enum jkind kind, const char *key);
/* True for a systemd unit name apply may write a drop-in for. */
bool unit_name_valid(const char *unit);

/* Identity of the current network namespace and boot. Returns 0 or -errno. */
int netns_identity(uint64_t *inode, uint64_t *cookie, char *boot_id, size_t size);
/* Where a journal's namespace is now: 1 this one, 0 gone (stale), 2 alive
 * elsewhere (@holder: a pid in it, 0 if only a bind mount holds it). */
int journal_where(const struct journal *j, pid_t *holder);

/* Opens the state directory: created 0700 if @create, refused unless owned
 * by us and not writable by group or others, never through a symlink.
 * Returns the directory fd or -errno with @err set. */
int state_dir_open(const char *dir, bool create, char *err, size_t err_size);
/* Host-wide lock (one per host, not per state dir) in @run_dir; waits up to
 * 2 s. Returns the fd to close to unlock, or -errno (-EBUSY) with @err set. */
int host_lock(const char *run_dir, char *err, size_t err_size);
/* Adds/removes @state_dir in the registry of journals in @run_dir. */
int registry_add(const char *run_dir, const char *state_dir);
int registry_remove(const char *run_dir, const char *state_dir);
/* The state dirs in the registry (NULL-terminated, caller frees each and the array). */
char **registry_list(const char *run_dir);
/* net.core.somaxconn before an apply raised it in netns @netns (from the journal), 0 if none. */
long long journal_somaxconn_before(const struct tenv *env, uint64_t netns);
#endif
