/* rollback.c - `qps-tune rollback`: restore every value the journal recorded
 * (in reverse order of application), remove the files apply created, then
 * delete the journal. Runs in the netns the journal was written in: the
 * current one, or the one of the journal's --pid if that process still lives.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "ctx.h"
#include "journal.h"
#include "json.h"
#include "procfs.h"
#include "tuner.h"

int do_rollback(int argc, char **argv)
{
	static const struct option longopts[] = { TUNER_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	char jpath[PATH_MAX], err[512];
	struct journal j;
	struct json js;
	int opt, lock, e, i, bad = 0, nrest = 0, nrem = 0;
	int rc = EXIT_FAIL;
	bool *ok = NULL;

	memset(&j, 0, sizeof(j));
	while ((opt = getopt_long(argc, argv, "jv", longopts, NULL)) != -1)
		if (!tuner_common_opt(opt, optarg)) {
			fprintf(stderr, "usage: qps-tune rollback [--state-dir DIR] [--root DIR] [--json]\n");
			return EXIT_USAGE;
		}
	if (optind < argc) {
		tuner_err("rollback: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	snprintf(jpath, sizeof(jpath), "%s/journal", g_opt.state_dir);
	if (access(g_opt.state_dir, F_OK) && errno == ENOENT)
		goto nothing;
	lock = state_lock(g_opt.state_dir, false, err, sizeof(err));
	if (lock < 0) {
		tuner_err("%s", err);
		return EXIT_FAIL;
	}
	e = journal_load(jpath, &j);
	if (e == -ENOENT) {
		close(lock);
		goto nothing;
	}
	if (e) {
		tuner_err("cannot read journal '%s': %s", jpath, e == -EINVAL ? "malformed" : strerror(-e));
		close(lock);
		return EXIT_FAIL;
	}
	if (j.netns != netns_inode(0)) {
		if (j.pid && netns_inode(j.pid) == j.netns) {
			e = netns_enter_pid(j.pid);
			if (e) {
				tuner_err("cannot enter the network namespace of pid %d: %s", (int)j.pid, strerror(-e));
				goto out;
			}
		} else {
			tuner_err("journal '%s' was written in netns net:[%llu], this is net:[%llu]; run rollback "
				  "there (nsenter / ip netns exec)", jpath, (unsigned long long)j.netns,
				  (unsigned long long)netns_inode(0));
			goto out;
		}
	}
	/* RPS/XPS paths in the journal name this netns's devices: see them, not
	 * whatever another namespace's sysfs mounted on /sys shows */
	if (!ctx_in_init_net() && !ctx_private_sysfs()) {
		for (i = 0; i < j.n; i++)
			if (j.v[i].kind == J_SYSFS && !strncmp(j.v[i].key, "/sys/", 5)) {
				tuner_err("cannot mount a sysfs for this network namespace (needs CAP_SYS_ADMIN): "
					  "'%s' may name another namespace's device; nothing restored", j.v[i].key);
				goto out;
			}
	}
	ok = calloc(j.n ? j.n : 1, sizeof(*ok));
	if (!ok) {
		tuner_err("out of memory");
		goto out;
	}
	if (!g_opt.json)
		printf("qps-tune rollback: journal %s (profile %s, %s)\n", jpath, j.profile, j.created);
	for (i = j.n - 1; i >= 0; i--) {
		const struct jentry *en = &j.v[i];
		char label[600];

		if (en->kind == J_RLIMIT || en->kind == J_AFFINITY) {
			const char *at = strchr(en->key, '@');
			pid_t pid = (pid_t)atoi(en->key);

			snprintf(label, sizeof(label), "pid %d %s", (int)pid,
				 en->kind == J_RLIMIT ? "nofile" : "affinity");
			if (!at || proc_starttime(pid) != strtoull(at + 1, NULL, 10)) {
				ok[i] = true;	/* exited (or the pid was reused): nothing to restore */
				if (!g_opt.json)
					printf("gone       %s: the process exited, not restored\n", label);
				continue;
			}
		} else {
			snprintf(label, sizeof(label), "%s", en->key);
		}
		if ((en->kind == J_SYSCTL || en->kind == J_SYSFS) && en->new_ && !g_opt.json) {
			char path[PATH_MAX], cur[4096];

			if (en->kind == J_SYSCTL)
				sysctl_path(en->key, path, sizeof(path));
			else
				snprintf(path, sizeof(path), "%s", en->key);
			/* someone changed it after apply: say so, restore anyway */
			if (procfs_read(path, cur, sizeof(cur)) >= 0 && !value_equal(cur, en->new_))
				printf("note       %s was changed after apply (now '%s', apply set '%s')\n", label,
				       cur, en->new_);
		}
		e = apply_write(en->kind, en->key, en->old, err, sizeof(err));
		if (e) {
			tuner_warn("%s", err);
			bad++;
			continue;
		}
		ok[i] = true;
		if (en->kind == J_FILE && !en->old) {
			nrem++;
			if (!g_opt.json)
				printf("removed    %s\n", en->key);
		} else {
			nrest++;
			if (!g_opt.json) {
				printf("restored   %s = ", label);
				for (const char *c = en->old; en->kind != J_FILE && *c; c++)
					putchar(*c == '\t' ? ' ' : *c);
				if (en->kind == J_FILE)
					printf("(previous content)");
				putchar('\n');
			}
		}
	}
	if (bad) {
		/* keep only what could not be restored, so a second rollback retries it */
		struct journal left;

		memset(&left, 0, sizeof(left));
		left.netns = j.netns;
		left.pid = j.pid;
		memcpy(left.created, j.created, sizeof(left.created));
		memcpy(left.profile, j.profile, sizeof(left.profile));
		for (i = 0; i < j.n; i++)
			if (!ok[i])
				journal_record(&left, j.v[i].kind, j.v[i].key, j.v[i].old, j.v[i].new_);
		journal_save(jpath, &left);
		journal_release(&left);
		tuner_err("%d of %d values could not be restored; the journal keeps them", bad, j.n);
		goto out;
	}
	if (unlink(jpath) < 0) {
		tuner_err("cannot remove '%s': %s", jpath, strerror(errno));
		goto out;
	}
	if (g_opt.json) {
		json_init(&js, stdout);
		json_obj_open(&js, NULL);
		json_str(&js, "schema", "qps-tune.rollback/1");
		json_str(&js, "journal", jpath);
		json_arr_open(&js, "restored");
		for (i = j.n - 1; i >= 0; i--) {
			if (j.v[i].kind == J_FILE && !j.v[i].old)
				continue;
			json_obj_open(&js, NULL);
			json_str(&js, "kind", jkind_str(j.v[i].kind));
			if (j.v[i].kind == J_RLIMIT || j.v[i].kind == J_AFFINITY) {
				char label[64];

				snprintf(label, sizeof(label), "pid %d %s", atoi(j.v[i].key),
					 j.v[i].kind == J_RLIMIT ? "nofile" : "affinity");
				json_str(&js, "key", label);
			} else {
				json_str(&js, "key", j.v[i].key);
			}
			json_str(&js, "value", j.v[i].old);
			json_obj_close(&js);
		}
		json_arr_close(&js);
		json_arr_open(&js, "removed");
		for (i = j.n - 1; i >= 0; i--)
			if (j.v[i].kind == J_FILE && !j.v[i].old)
				json_str(&js, NULL, j.v[i].key);
		json_arr_close(&js);
		json_obj_close(&js);
	} else {
		printf("%d restored, %d removed; journal removed\n", nrest, nrem);
	}
	rc = tuner_finish(EXIT_OK);
out:
	free(ok);
	journal_release(&j);
	close(lock);
	return rc;
nothing:
	if (g_opt.json) {
		json_init(&js, stdout);
		json_obj_open(&js, NULL);
		json_str(&js, "schema", "qps-tune.rollback/1");
		json_null(&js, "journal");
		json_arr_open(&js, "restored");
		json_arr_close(&js);
		json_arr_open(&js, "removed");
		json_arr_close(&js);
		json_obj_close(&js);
	} else {
		printf("nothing to roll back (no journal in %s)\n", g_opt.state_dir);
	}
	return tuner_finish(EXIT_OK);
}
