/* area_persist.c - persistence: boot values (PERS-001), shadowed and
 * removed sysctl.d keys (PERS-002, PORT-005), sysctl.conf (PERS-003), other
 * tuners (PERS-004), the journal (PERS-005); the planner writes sysctl.d. */
#include <ctype.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuset.h"
#include "engine.h"
#include "knob.h"
#include "procfs.h"
#include "rootfs.h"
#include "sysctld.h"
#include "journal.h"

/* ---- persistence and drift */

static void chk_persist(struct run *a)
{
	struct sysctld sd;
	struct check *c;
	char path[PATH_MAX];
	int i, j, e;

	e = sysctld_load(a->env, &sd);
	if (e) {
		c = report_add(a->rep, "PERS-001", "high", CHK_SKIP, "sysctl.d");
		if (c)
			CSET(c->evidence, "cannot read sysctl.d: %s", strerror(-e));
		return;
	}
	if (!a->cx.initial) {
		c = report_add(a->rep, "PERS-001", "high", CHK_SKIP, "boot values");
		if (c)
			CSET(c->evidence, "systemd-sysctl applies sysctl.d to the initial network namespace "
			     "only; this is net:[%llu]", (unsigned long long)a->cx.netns);
	} else {
		for (i = 0; i < a->prof->n; i++) {
			const struct rule *r = &a->prof->rules[i];
			const struct sysctld_entry *en;
			char cur[256], boot[256], src[400], name[128];
			long long dflt;
			int now, atboot;

			if (r->kind != RULE_SYSCTL || r->skip || sysctl_read(r->key, cur, sizeof(cur)) < 0)
				continue;
			now = rule_eval(r, cur, NULL, 0);
			if (now != 1)
				continue;	/* the runtime check already fails */
			en = sysctld_final(&sd, r->key);
			if (en) {
				snprintf(boot, sizeof(boot), "%s", en->value);
				snprintf(src, sizeof(src), "%s%s:%d", a->env->root, en->file, en->line);
			} else if (knob_default(r->key, -1, &dflt) == 0 || knob_lookup(r->key)) {
				long long f[3];
				int k, nf = knob_lookup(r->key) ? knob_lookup(r->key)->nfields : 1;
				size_t o = 0;
				bool known = true;

				for (k = 0; k < nf; k++)
					if (knob_default(r->key, nf > 1 ? k : -1, &f[k]))
						known = false;
				if (!known)
					continue;	/* RAM-scaled default: cannot tell */
				boot[0] = '\0';
				for (k = 0; k < nf; k++)
					o += snprintf(boot + o, sizeof(boot) - o, "%s%lld", k ? " " : "", f[k]);
				snprintf(src, sizeof(src), "no sysctl.d entry: kernel default");
			} else {
				continue;
			}
			atboot = rule_eval(r, boot, NULL, 0);
			if (r->field >= 0)
				snprintf(name, sizeof(name), "%s[%d]", r->key, r->field);
			else
				snprintf(name, sizeof(name), "%s", r->key);
			c = report_add(a->rep, "PERS-001", "high", atboot == 1 ? CHK_PASS : CHK_FAIL, name);
			if (!c)
				break;
			c->scope = "global";
			CSET(c->current, "%s", cur);
			CSET(c->target, "boot value %s %s", rule_op_str(r->op), r->resolved);
			CSET(c->reason, "a runtime-only fix reverts at the next boot");
			CSET(c->evidence, "runtime %s; at boot %s (%s)", cur, boot, src);
			CSET(c->fix, "qps-tune apply --profile %s --persist (writes %s)", a->cli_profile,
			     SYSCTLD_OURS);
		}
	}
	/* shadowing: the same key in several files with different values, once
	 * per key; our own file's value overridden is a failure (apply's fix
	 * does not hold at boot), anyone else's is worth knowing */
	for (i = 0; i < sd.n; i++) {
		const struct sysctld_entry *fin = sysctld_final(&sd, sd.v[i].key), *shown = NULL;
		bool ours = false;

		for (j = 0; j < i; j++)
			if (!strcmp(sd.v[j].key, sd.v[i].key))
				break;
		if (j < i)
			continue;	/* not the key's first entry: done with it already */
		for (j = i; j < sd.n; j++) {
			if (strcmp(sd.v[j].key, sd.v[i].key) || &sd.v[j] == fin || !strcmp(sd.v[j].value, fin->value))
				continue;
			if (!shown || (!ours && strstr(sd.v[j].file, "qps-tune"))) {
				shown = &sd.v[j];
				ours = strstr(sd.v[j].file, "qps-tune") != NULL;
			}
		}
		if (!shown)
			continue;
		c = report_add(a->rep, "PERS-002", "med", ours ? CHK_FAIL : CHK_INFO, sd.v[i].key);
		if (!c)
			break;
		c->scope = "file";
		CSET(c->current, "%s", fin->value);
		CSET(c->reason, "a later sysctl.d file overrides an earlier one: the last value wins at boot");
		CSET(c->evidence, "%s:%d sets %s, overridden by %s:%d = %s", shown->file, shown->line,
		     shown->value, fin->file, fin->line, fin->value);
		if (ours)
			CSET(c->fix, "remove %s from %s", sd.v[i].key, fin->file);
	}
	/* removed or unknown keys in persisted config (initial netns: every key exists there) */
	for (i = 0; i < sd.n && a->cx.initial; i++) {
		char v[64];
		bool removed = !strcmp(sd.v[i].key, "net.ipv4.tcp_tw_recycle");

		if (!removed && (sysctl_read(sd.v[i].key, v, sizeof(v)) != -ENOENT))
			continue;
		c = report_add(a->rep, "PORT-005", "med", CHK_FAIL, sd.v[i].key);
		if (!c)
			break;
		c->scope = "file";
		CSET(c->current, "%s", sd.v[i].value);
		CSET(c->target, "key exists");
		CSET(c->reason, "systemd-sysctl logs an error for it at boot; the setting does nothing");
		CSET(c->evidence, "%s%s:%d %s%s", a->env->root, sd.v[i].file, sd.v[i].line, sd.v[i].key,
		     removed ? " (removed in 4.12)" : " does not exist on this kernel");
		CSET(c->fix, "delete line %d of %s", sd.v[i].line, sd.v[i].file);
	}
	/* /etc/sysctl.conf is read only through the 99-sysctl.conf link (gone in Debian 13) */
	{
		char conf[PATH_MAX], link[PATH_MAX], line[512];
		FILE *f = root_fopen(a->env, "/etc/sysctl.conf");
		struct stat lst;
		int keys = 0, first = 0, ln = 0;

		while (f && fgets(line, sizeof(line), f)) {
			char *l = line;

			ln++;
			while (*l == ' ' || *l == '\t')
				l++;
			if (*l && *l != '#' && *l != ';' && *l != '\n' && strchr(l, '=')) {
				keys++;
				if (!first)
					first = ln;
			}
		}
		if (f)
			fclose(f);
		snprintf(conf, sizeof(conf), "%s/etc/sysctl.conf", a->env->root);
		snprintf(link, sizeof(link), "%s/etc/sysctl.d/99-sysctl.conf", a->env->root);
		if (keys && a->cx.initial && root_stat(a->env, "/etc/sysctl.d/99-sysctl.conf", &lst)) {
			c = report_add(a->rep, "PERS-003", "med", CHK_FAIL, "/etc/sysctl.conf");
			if (c) {
				c->scope = "file";
				CSET(c->current, "%d key%s", keys, keys > 1 ? "s" : "");
				CSET(c->target, "in /etc/sysctl.d");
				CSET(c->reason, "systemd-sysctl reads /etc/sysctl.conf only through "
				     "/etc/sysctl.d/99-sysctl.conf; without the link these keys are not set at boot");
				CSET(c->evidence, "%s has %d key%s (first at line %d); no %s", conf, keys,
				     keys > 1 ? "s" : "", first, link);
				CSET(c->fix, "move them to /etc/sysctl.d/ (qps-tune apply --persist writes %s)",
				     SYSCTLD_OURS);
			}
		}
	}
	if (a->tuner[0]) {
		c = report_add(a->rep, "PERS-004", "med", CHK_INFO, "other tuners");
		if (c) {
			CSET(c->current, "%s", a->tuner);
			CSET(c->reason, "another tuner can overwrite the values qps-tune sets");
			CSET(c->evidence, "%s is running", a->tuner);
		}
	}
	snprintf(path, sizeof(path), "%s/journal", a->env->state_dir);
	if (access(path, F_OK) == 0) {
		c = report_add(a->rep, "PERS-005", "info", CHK_INFO, "qps-tune journal");
		if (c) {
			c->scope = "file";
			char err[512];
			struct journal jr;
			pid_t holder;
			int where = -1, dfd = state_dir_open(a->env->state_dir, false, err, sizeof(err));

			if (dfd >= 0 && journal_load(dfd, &jr, err, sizeof(err)) == 0) {
				where = journal_where(&jr, &holder);
				journal_release(&jr);
			}
			if (dfd >= 0)
				close(dfd);
			c->scope = "file";
			CSET(c->current, where == 0 ? "stale" : where == 2 ? "other netns" : "present");
			CSET(c->reason, "qps-tune apply recorded old values: 'qps-tune rollback' restores them");
			if (where == 0)
				CSET(c->evidence, "%s: stale, its network namespace is gone; discard it with 'qps-tune "
				     "rollback --discard-stale --state-dir %s'", path, a->env->state_dir);
			else if (where == 2)
				CSET(c->evidence, "%s: written in another network namespace (still alive); roll it back "
				     "there", path);
			else
				CSET(c->evidence, "%s", path);
		}
	}
	sysctld_release(&sd);
}

void persist_audit(struct run *a)
{
	chk_persist(a);
}

/* Our own sysctl.d file as it is now: its "key = value" lines, in order. */
static int read_ours(const struct tenv *env, char *keys[], char *vals[], int max)
{
	char *text = NULL, *line, *save = NULL;
	int n = 0;

	if (root_read(env, SYSCTLD_OURS, &text, 65536, NULL) < 0)
		return 0;
	for (line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(line, " = ");

		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		keys[n] = strdup(line);
		vals[n] = strdup(eq + 3);
		if (!keys[n] || !vals[n]) {
			free(keys[n]);
			free(vals[n]);
			break;
		}
		n++;
	}
	free(text);
	return n;
}

/* sysctl.d: only the keys this apply changes (and those an earlier apply
 * persisted there), so a key that already satisfied the profile stays free to
 * follow future kernel defaults. */
void persist_plan(struct run *R)
{
	struct plan *p = R->plan;
	char *keys[256], *vals[256];
	char *buf = NULL;
	size_t size = 0;
	int n, i, j, changed = 0;
	FILE *m;

	if (!R->o.persist)
		return;
	n = read_ours(R->env, keys, vals, 256);
	m = open_memstream(&buf, &size);
	if (!m) {
		p->oom = true;
		goto out;
	}
	fprintf(m, "# written by qps-tune apply (profile %s); 'qps-tune rollback' removes it\n", R->o.profile);
	for (i = 0; i < n; i++) {
		const struct item *it = plan_find(p, J_SYSCTL, keys[i]);

		fprintf(m, "%s = %s\n", keys[i], it ? it->new_ : vals[i]);
	}
	for (i = 0; i < p->nch; i++) {
		const struct item *it = &p->ch[i];

		if (it->kind != J_SYSCTL || (!R->cx.initial && knob_is_host(it->key) && !R->o.host))
			continue;
		changed++;
		for (j = 0; j < n && strcmp(keys[j], it->key); j++)
			;
		if (j < n)
			continue;
		fprintf(m, "%s = ", it->key);
		for (const char *c = it->new_; *c; c++)
			fputc(*c == '\t' ? ' ' : *c, m);
		fputc('\n', m);
	}
	if (fclose(m)) {
		p->oom = true;
		goto out;
	}
	if (changed)
		plan_file(R, SYSCTLD_OURS, buf, "");
out:
	free(buf);
	for (i = 0; i < n; i++) {
		free(keys[i]);
		free(vals[i]);
	}
}
