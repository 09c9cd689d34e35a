/* journal.h - the record of what `apply` changed, so `rollback` can restore
 * exactly the old values (multi-value sysctls byte-identical, whole files).
 *
 * Text format, one change per line, fields separated by tabs, values escaped
 * (\t \n \\) and prefixed with '=' (a value) or '!' (absent: a file that did
 * not exist):
 *   qps-tune-journal 1
 *   created 2026-11-28T12:00:00Z
 *   netns 4026531833
 *   pid 0
 *   profile web-10k
 *   sysctl	net.core.somaxconn	=128	=4096
 *   file	/etc/sysctl.d/90-qps-tune.conf	!	=# qps-tune...\n
 * Written atomically: temp file, fsync, rename, fsync of the directory.
 */
#ifndef QPS_JOURNAL_H
#define QPS_JOURNAL_H
#include <stdint.h>
#include <sys/types.h>

enum jkind { J_SYSCTL, J_SYSFS, J_RLIMIT, J_AFFINITY, J_FILE };

struct jentry {
	enum jkind kind;
	char key[512];		/* sysctl key, sysfs path, pid, or file path (with --root) */
	char *old;		/* NULL: did not exist (files) */
	char *new_;
};

struct journal {
	char created[32];
	uint64_t netns;
	pid_t pid;
	char profile[64];
	struct jentry *v;
	int n, cap;
};

/* Returns 0, -ENOENT when there is no journal, -EINVAL if it is malformed, or -errno. */
int journal_load(const char *path, struct journal *j);
int journal_save(const char *path, const struct journal *j);
/* Copies a journal (deep). Returns 0 or -ENOMEM. */
int journal_copy(struct journal *dst, const struct journal *src);
void journal_release(struct journal *j);
struct jentry *journal_find(struct journal *j, enum jkind kind, const char *key);
/* Records a change; if (kind, key) is already there, keeps its old value and
 * updates the new one. @old NULL = absent. Returns 0 or -ENOMEM. */
int journal_record(struct journal *j, enum jkind kind, const char *key, const char *old,
		   const char *new_);
const char *jkind_str(enum jkind k);
/* Writes @data to @path atomically (temp + fsync + rename + dir fsync), mode @mode. */
int write_atomic(const char *path, const char *data, mode_t mode);
#endif
