/* apply.h - the apply engine and the writes rollback shares. */
#ifndef QPS_APPLY_H
#define QPS_APPLY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "engine.h"
#include "journal.h"

struct apply_result {
	struct plan plan;
	int changed;		/* writes made (and kept) */
	char journal[4096];	/* journal path, "" if none */
	uint64_t netns;
	bool initial;
	char profile[64];
	char *err;		/* the final error (malloc'ed), NULL on success */
	char **warn;		/* lines reported before it */
	int nwarn;
};

/* Plans (and unless @o->dry_run, journals and makes) the changes of @o's
 * profile. Returns 0, or -errno with res->err set (nothing changed unless it
 * says so). Release @res either way. */
int apply_run(const struct tenv *env, const struct apply_opts *o, struct apply_result *res);
void apply_result_release(struct apply_result *res);

/* Writes one journalled value (@val NULL removes a file). For files @mode,
 * @uid, @gid apply to the new file and @st receives its identity. Returns 0
 * or -errno with a message naming the object in *@err (malloc'ed). */
int apply_write(const struct tenv *env, enum jkind kind, const char *key, const char *val, mode_t mode,
		uid_t uid, gid_t gid, struct stat *st, char **err);
/* Reads the live value of a journalled key into malloc'ed *@out (NULL:
 * absent file). Returns 0 or -errno. For files @st gets the identity. */
int apply_read(const struct tenv *env, enum jkind kind, const char *key, char **out, struct stat *st);
/* "N" -> "/etc/.../x" display of a file under root, into @buf. */
char *show_path(const struct tenv *env, const char *path, char *buf, size_t size);
#endif
