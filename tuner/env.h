/* env.h - where the engine runs: filled in by the CLI (main.c) from its
 * options and passed down; nothing below the CLI reads options or globals. */
#ifndef QPS_ENV_H
#define QPS_ENV_H
#include <stdbool.h>
#include <sys/types.h>

#define DEFAULT_STATE_DIR "/var/lib/qps-tune"
#define DEFAULT_RUN_DIR "/run/qps-tune"

struct tenv {
	const char *root;	/* "" = the real /; else a tree others may control */
	int rootfd;		/* O_PATH directory fd of root; every /etc access goes through it */
	const char *state_dir;	/* journal of this apply (one per state dir) */
	const char *run_dir;	/* host-wide lock and registry of journals (tmpfs: one boot) */
	bool force;		/* rollback: restore keys changed since apply too */
	int kill_after;		/* test hook: SIGKILL after this many apply writes (0: off) */
};

/* Opens @root (NULL or "" = /) into @e. Returns 0 or -errno. */
int tenv_init(struct tenv *e, const char *root, const char *state_dir, const char *run_dir);
void tenv_release(struct tenv *e);
/* True when files are re-rooted under a --root tree (not the real /). */
static inline bool tenv_rooted(const struct tenv *e)
{
	return e->root && e->root[0];
}
#endif
