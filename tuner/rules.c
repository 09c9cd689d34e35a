/* rules.c - the one decision per sysctl rule of a profile: rule_decide() is
 * what `audit` reports, what `apply --dry-run` shows and what `apply` writes;
 * none of them re-derives it. Also the environment checks (ENV-*) and rules
 * on keys qps-tune has no knowledge of (PROF-001). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>

#include "cpuset.h"
#include "engine.h"
#include "knob.h"
#include "procfs.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

const char *scope_of(const struct run *r, const char *key)
{
	if (knob_scope(key) == KNOB_NETNS)
		return "netns";
	return r->cx.initial ? "global" : "host";
}

static void fold_ws(char *s)
{
	char *o = s, *p = s;
	bool sp = false;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	for (; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n') {
			sp = true;
			continue;
		}
		if (sp)
			*o++ = ' ';
		sp = false;
		*o++ = *p;
	}
	*o = '\0';
}

void rule_decide(const struct run *r, const struct rule *ru, const char *pending, bool host,
		 struct rule_state *st)
{
	bool host_key = knob_is_host(ru->key);
	ssize_t n;
	int ok;

	memset(st, 0, sizeof(*st));
	if (sysctl_path(ru->key, st->path, sizeof(st->path))) {
		st->dec = DEC_ERROR;
		snprintf(st->why, sizeof(st->why), "%s: invalid sysctl key '%s'", ru->origin, ru->key);
		return;
	}
	n = procfs_read(st->path, st->cur, sizeof(st->cur));
	if (n == -ENOENT) {
		if (!r->cx.initial && !strncmp(ru->key, "net.", 4) &&
		    (!knob_lookup(ru->key) || knob_scope(ru->key) == KNOB_HOST_ABSENT)) {
			st->dec = knob_lookup(ru->key) ? DEC_SKIP : DEC_ERROR;
			snprintf(st->why, sizeof(st->why), knob_lookup(ru->key) ?
				 "%s: not present in this network namespace (host-owned); apply it on the host" :
				 "%s: unknown sysctl key '%s' (no %s in this network namespace; if it is "
				 "host-only, apply it on the host)", knob_lookup(ru->key) ? st->path : ru->origin,
				 ru->key, st->path);
		} else if (knob_lookup(ru->key)) {
			st->dec = DEC_SKIP;
			snprintf(st->why, sizeof(st->why), "%s: absent on this kernel - skipped", st->path);
		} else {
			st->dec = DEC_ERROR;
			snprintf(st->why, sizeof(st->why), "%s: unknown sysctl key '%s' (no %s on this kernel)",
				 ru->origin, ru->key, st->path);
		}
		return;
	}
	if (n < 0) {
		st->dec = DEC_ERROR;
		snprintf(st->why, sizeof(st->why), "%s: cannot read '%s': %s", ru->origin, st->path,
			 strerror((int)-n));
		return;
	}
	memcpy(st->raw, st->cur, sizeof(st->raw));
	if (pending)
		snprintf(st->cur, sizeof(st->cur), "%s", pending);
	fold_ws(st->cur);
	if (ru->skip) {
		st->dec = DEC_SKIP;
		snprintf(st->why, sizeof(st->why), "%s", ru->resolved);
		return;
	}
	ok = rule_eval(ru, st->cur, st->want, sizeof(st->want));
	if (ok < 0) {
		st->dec = DEC_ERROR;
		snprintf(st->why, sizeof(st->why), "%s: %s: current value '%s' cannot be compared with '%s'",
			 ru->origin, ru->key, st->cur, ru->resolved);
		return;
	}
	if (ok == 1) {
		st->dec = DEC_PASS;
		return;
	}
	if (!r->cx.initial && host_key && !host) {
		st->dec = DEC_HOST;
		if (knob_scope(ru->key) == KNOB_GLOBAL)
			snprintf(st->why, sizeof(st->why), "host-wide key (wants %s %s, is %s); run with --host "
				 "to set it", rule_op_str(ru->op), ru->resolved, st->cur);
		else
			snprintf(st->why, sizeof(st->why), "host-wide key, read-only in this network namespace "
				 "(wants %s %s, is %s); set it on the host", rule_op_str(ru->op), ru->resolved,
				 st->cur);
		return;
	}
	if (access(st->path, W_OK) != 0) {
		int e = errno;

		st->dec = DEC_BLOCKED;
		snprintf(st->why, sizeof(st->why), "%s: cannot write '%s': %s%s", ru->origin, st->path,
			 strerror(e), !r->cx.initial && host_key ?
			 " (read-only in this network namespace: host-owned key)" :
			 e == EACCES || e == EPERM ? " (needs root / CAP_NET_ADMIN, CAP_SYS_ADMIN for global keys)" : "");
		return;
	}
	st->dec = DEC_FAIL;
}

int rule_holds(const struct rule *ru, const char *kept)
{
	char v[4096];

	snprintf(v, sizeof(v), "%s", kept);
	fold_ws(v);
	return rule_eval(ru, v, NULL, 0) == 1;
}

static const char *rule_id(const struct rule *ru)
{
	const struct knob_info *k = knob_lookup(ru->key);

	return k ? k->id : "PROF-001";
}

void rules_audit(struct run *r)
{
	char blocked[1024] = "";
	size_t bo = 0;
	int i, nblocked = 0;

	for (i = 0; i < r->prof->n; i++) {
		const struct rule *ru = &r->prof->rules[i];
		const struct knob_info *k;
		struct rule_state st;
		char name[128], tgt[256];
		long long f[16];
		struct check *c;

		if (ru->kind != RULE_SYSCTL || !run_on(r, rule_id(ru)))
			continue;
		k = knob_lookup(ru->key);
		if (ru->field >= 0)
			snprintf(name, sizeof(name), "%s[%d]", ru->key, ru->field);
		else
			snprintf(name, sizeof(name), "%s", ru->key);
		c = report_add(r->rep, rule_id(ru), k ? k->severity : "med", CHK_PASS, name);
		if (!c)
			return;
		c->scope = scope_of(r, ru->key);
		CSET(c->target, "%s", rule_target_str(ru, tgt, sizeof(tgt)));
		CSET(c->reason, "%s", k ? k->reason : "rule from the profile");
		rule_decide(r, ru, NULL, false, &st);
		if (st.cur[0]) {
			if (ru->field >= 0 && knob_fields(st.cur, f, 16) > ru->field)
				CSET(c->current, "%lld", f[ru->field]);
			else
				CSET(c->current, "%s", st.cur);
		}
		switch (st.dec) {
		case DEC_SKIP:
		case DEC_ERROR:
			c->status = CHK_SKIP;
			CSET(c->evidence, "%s", st.why);
			continue;
		case DEC_PASS:
			CSET(c->evidence, "%s = %s (netns net:[%llu]); rule %s", st.path, st.cur,
			     (unsigned long long)r->cx.netns, ru->origin);
			continue;
		default:
			break;
		}
		c->status = CHK_FAIL;
		CSET(c->evidence, "%s = %s (netns net:[%llu]); rule %s", st.path, st.cur,
		     (unsigned long long)r->cx.netns, ru->origin);
		if (st.dec == DEC_HOST)
			CSET(c->fix, "host-wide key: on the host run sysctl -w %s='%s' "
			     "(or qps-tune apply --host from here)", ru->key, st.want);
		else
			CSET(c->fix, "qps-tune apply --profile %s  (sets %s='%s')", r->cli_profile, ru->key,
			     st.want);
		if (st.dec == DEC_BLOCKED || (st.dec == DEC_HOST && knob_scope(ru->key) != KNOB_GLOBAL)) {
			nblocked++;
			if (bo < sizeof(blocked))
				bo += (size_t)snprintf(blocked + bo, sizeof(blocked) - bo, "%s%s (%s)",
						       bo ? "; " : "", ru->key,
						       st.dec == DEC_BLOCKED ? "not writable" : "host-owned");
		}
	}
	if (nblocked && run_on(r, "ENV-002")) {
		struct check *c = report_add(r->rep, "ENV-002", "med", CHK_INFO, "apply possible here");

		if (c) {
			CSET(c->current, "%d key%s blocked", nblocked, nblocked > 1 ? "s" : "");
			CSET(c->reason, "these failing keys cannot be written from this namespace or user");
			CSET(c->evidence, "%s", blocked);
			c->scope = r->cx.initial ? "global" : "host";
		}
	}
}

void rules_plan(struct run *r)
{
	struct plan *p = r->plan;
	int i;

	for (i = 0; i < r->prof->n; i++) {
		const struct rule *ru = &r->prof->rules[i];
		struct rule_state st;
		struct item *pending, *same;
		char label[160];

		if (ru->kind != RULE_SYSCTL || !run_on(r, rule_id(ru)))
			continue;
		if (ru->field >= 0)
			snprintf(label, sizeof(label), "%s[%d]", ru->key, ru->field);
		else
			snprintf(label, sizeof(label), "%s", ru->key);
		/* a multi-field key can have several rules: build on the pending value */
		pending = plan_find(p, J_SYSCTL, ru->key);
		rule_decide(r, ru, pending ? pending->new_ : NULL, r->o.host, &st);
		switch (st.dec) {
		case DEC_ERROR:
			plan_err(r, "%s", st.why);
			continue;
		case DEC_BLOCKED:
			/* a dry run still shows the change a privileged apply makes */
			plan_denied(r, label, "%s", st.why);
			if (!r->o.dry_run)
				continue;
			break;
		case DEC_SKIP:
		case DEC_HOST:
			plan_na(r, label, "%s", st.why);
			continue;
		case DEC_PASS:
			if (!pending) {
				int j;
				bool listed = false;

				for (j = 0; j < p->nsame && !listed; j++)
					listed = p->same[j].kind == J_SYSCTL && !strcmp(p->same[j].key, ru->key);
				if (!listed)
					plan_same(r, J_SYSCTL, ru->key, st.raw, ru->key, ru->origin);
			}
			continue;
		case DEC_FAIL:
			break;
		}
		if (pending) {
			char *w = strdup(st.want);

			if (!w) {
				p->oom = true;
				continue;
			}
			free(pending->new_);
			pending->new_ = w;
			continue;
		}
		/* an earlier rule on another field of this key held: now it changes */
		for (same = NULL, pending = p->same; pending && pending < p->same + p->nsame; pending++)
			if (pending->kind == J_SYSCTL && !strcmp(pending->key, ru->key))
				same = pending;
		if (same) {
			free(same->key);
			free(same->old);
			free(same->new_);
			free(same->label);
			free(same->origin);
			memmove(same, same + 1, (size_t)(p->same + p->nsame - same - 1) * sizeof(*same));
			p->nsame--;
		}
		pending = plan_change(r, J_SYSCTL, ru->key, st.raw, st.want, ru->key, ru->origin);
		if (pending)
			pending->rule = ru;
	}
}

/* ---- ENV */

static const char *cgroup_mode(void)
{
	struct statfs st;

	if (statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return "v2";
	if (statfs("/sys/fs/cgroup/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return "hybrid";
	return "v1";
}

int numa_nodes(void)
{
	char buf[256];
	struct cpuset cs;

	if (procfs_read("/sys/devices/system/node/online", buf, sizeof(buf)) < 0 ||
	    cpuset_parse_list(buf, &cs))
		return 1;
	return cpuset_count(&cs);
}

void env_audit(struct run *r)
{
	struct check *c;
	char virt[64] = "none", buf[256];

	if (!run_on(r, "ENV-001"))
		return;
	c = report_add(r->rep, "ENV-001", "info", CHK_INFO, "environment");
	if (!c)
		return;
	if (access("/.dockerenv", F_OK) == 0)
		snprintf(virt, sizeof(virt), "docker");
	else if (procfs_read("/sys/class/dmi/id/sys_vendor", buf, sizeof(buf)) > 0)
		snprintf(virt, sizeof(virt), "%s", buf);
	else if (procfs_read("/proc/cpuinfo", buf, sizeof(buf)) > 0 && strstr(buf, "hypervisor"))
		snprintf(virt, sizeof(virt), "vm");
	c->scope = "system";
	CSET(c->current, "%s", r->rep->kernel);
	CSET(c->evidence, "kernel=%s virt=%s netns=net:[%llu] init_netns=%s cgroup=%s "
	     "caps:%cSYS_RESOURCE %cNET_ADMIN %cSYS_ADMIN nproc=%d numa_nodes=%d",
	     r->rep->kernel, virt, (unsigned long long)r->cx.netns, r->cx.initial ? "yes" : "no",
	     cgroup_mode(), has_cap(24) ? '+' : '-', has_cap(12) ? '+' : '-',
	     has_cap(21) ? '+' : '-', r->cx.ncpus, numa_nodes());
	CSET(c->reason, "what the audit ran on");
}
