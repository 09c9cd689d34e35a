/* report.c - audit results: storage and output formats (see report.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "report.h"

const char *chk_status_str(enum chk_status st)
{
	static const char *const s[] = { "pass", "fail", "skip", "info" };

	return s[st];
}

struct check *report_add(struct report *r, const char *id, const char *sev,
			 enum chk_status st, const char *key)
{
	struct check *c;

	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 64;
		struct check *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		r->v = v;
		r->cap = cap;
	}
	c = &r->v[r->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->severity = sev;
	c->status = st;
	c->scope = "system";
	snprintf(c->key, sizeof(c->key), "%s", key ? key : "");
	return c;
}

void report_release(struct report *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

void report_drop_id(struct report *r, const char *id)
{
	int i, o = 0;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].id, id))
			r->v[o++] = r->v[i];
	r->n = o;
}

int report_count(const struct report *r, enum chk_status st)
{
	int i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->v[i].status == st;
	return n;
}

/* ---- table */

static const char *status_colour(enum chk_status st)
{
	switch (st) {
	case CHK_PASS: return "\033[32m";
	case CHK_FAIL: return "\033[1;31m";
	case CHK_SKIP: return "\033[2m";
	case CHK_INFO: return "\033[36m";
	}
	return "";
}

static void cell(FILE *out, const char *s, int width)
{
	int n = (int)strlen(s);

	if (n > width) {
		fprintf(out, "%.*s~ ", width - 1, s);
		return;
	}
	fprintf(out, "%-*s ", width, s);
}

void report_table(const struct report *r, FILE *out, bool colour, int verbose)
{
	int i;

	fprintf(out, "qps-tune audit: profile %s, conns %ld, kernel %s, netns net:[%llu]%s%s%s\n",
		r->profile, r->conns, r->kernel, r->netns,
		r->initial_netns ? " (initial)" : " (not the initial netns: host-wide keys marked 'host')",
		r->target[0] ? ", " : "", r->target);
	fprintf(out, "%-6s %-9s %-5s %-38s %-22s %s\n", "STATUS", "ID", "SEV", "KEY / OBJECT",
		"CURRENT", "TARGET");
	for (i = 0; i < r->n; i++) {
		const struct check *c = &r->v[i];
		bool detail = c->status == CHK_FAIL || verbose > 0 ||
			      (c->status != CHK_PASS && verbose >= 0);
		char st[8];

		snprintf(st, sizeof(st), "%s", chk_status_str(c->status));
		for (char *p = st; *p; p++)
			*p = (char)(*p - 'a' + 'A');
		if (colour)
			fprintf(out, "%s%-6s\033[0m ", status_colour(c->status), st);
		else
			fprintf(out, "%-6s ", st);
		cell(out, c->id, 9);
		cell(out, c->severity, 5);
		cell(out, c->key, 38);
		cell(out, c->current[0] ? c->current : "-", 22);
		fprintf(out, "%s\n", c->target[0] ? c->target : "-");
		if (!detail)
			continue;
		if (c->reason[0] && (c->status == CHK_FAIL || verbose > 0))
			fprintf(out, "       why: %s\n", c->reason);
		if (c->evidence[0])
			fprintf(out, "       evidence: %s\n", c->evidence);
		if (c->fix[0] && c->status == CHK_FAIL)
			fprintf(out, "       fix: %s\n", c->fix);
	}
	fprintf(out, "\n%d pass, %d fail, %d skip, %d info",
		report_count(r, CHK_PASS), report_count(r, CHK_FAIL),
		report_count(r, CHK_SKIP), report_count(r, CHK_INFO));
	if (r->ndisabled)
		fprintf(out, ", %d disabled by the profile (not run)", r->ndisabled);
	if (report_count(r, CHK_FAIL))
		fprintf(out, " - drift found (exit 3); 'qps-tune apply --profile %s%s' fixes the sysctl and limit rules\n",
			r->profile, r->conns ? "" : "");
	else
		fprintf(out, " - clean\n");
}

/* ---- JSON */

void report_json(const struct report *r, FILE *out)
{
	struct json j;
	int i;

	json_init(&j, out);
	json_obj_open(&j, NULL);
	json_str(&j, "schema", "qps-tune.audit/1");
	json_str(&j, "profile", r->profile);
	json_int(&j, "conns", r->conns);
	json_obj_open(&j, "host");
	json_str(&j, "kernel", r->kernel);
	json_uint(&j, "netns", r->netns);
	json_bool(&j, "initial_netns", r->initial_netns);
	if (r->target[0])
		json_str(&j, "target", r->target);
	json_obj_close(&j);
	json_int(&j, "sample_seconds", r->sample);
	json_double(&j, "duration_seconds", r->duration);
	json_arr_open(&j, "checks");
	for (i = 0; i < r->n; i++) {
		const struct check *c = &r->v[i];

		json_obj_open(&j, NULL);
		json_str(&j, "id", c->id);
		json_str(&j, "severity", c->severity);
		json_str(&j, "status", chk_status_str(c->status));
		json_str(&j, "key", c->key);
		json_str(&j, "current", c->current);
		json_str(&j, "target", c->target);
		json_str(&j, "scope", c->scope);
		json_str(&j, "reason", c->reason);
		json_str(&j, "evidence", c->evidence);
		json_str(&j, "fix", c->fix);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_arr_open(&j, "disabled");
	for (i = 0; i < r->ndisabled; i++)
		json_str(&j, NULL, r->disabled[i]);
	json_arr_close(&j);
	json_obj_open(&j, "summary");
	json_int(&j, "pass", report_count(r, CHK_PASS));
	json_int(&j, "fail", report_count(r, CHK_FAIL));
	json_int(&j, "skip", report_count(r, CHK_SKIP));
	json_int(&j, "info", report_count(r, CHK_INFO));
	json_obj_close(&j);
	json_obj_close(&j);
}

/* ---- node_exporter textfile collector */

void report_counter(struct report *r, const char *name, const char *help, unsigned long long v)
{
	if (r->ncounters == REPORT_MAX_COUNTERS)
		return;
	r->counters[r->ncounters].name = name;
	r->counters[r->ncounters].help = help;
	r->counters[r->ncounters].v = v;
	r->ncounters++;
}

/* Label values must be UTF-8 with \\ " \n escaped: anything but printable
 * ASCII (a comm can hold any byte) is written as the text \xNN. */
static void prom_label(FILE *out, const char *name, const char *val, bool comma)
{
	const unsigned char *p;

	fprintf(out, "%s%s=\"", comma ? "," : "", name);
	for (p = (const unsigned char *)val; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* The object of a check without the pid: "pid 12 nginx nofile" -> "nginx nofile". */
static void prom_object(const struct check *c, char *buf, size_t size)
{
	const char *k = c->key;

	if (!strncmp(k, "pid ", 4)) {
		const char *p = k + 4;

		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == ' ')
			k = p + 1;
	}
	snprintf(buf, size, "%s", k);
}

static bool pf(const struct check *c)
{
	return c->status == CHK_PASS || c->status == CHK_FAIL;
}

void report_prom(const struct report *r, FILE *out)
{
	static const enum chk_status all[] = { CHK_PASS, CHK_FAIL, CHK_SKIP, CHK_INFO };
	char obj[256], obj2[256];
	size_t s;
	int i, j;

	fprintf(out, "# HELP qps_tune_audit_info The audit that wrote this file.\n"
		     "# TYPE qps_tune_audit_info gauge\nqps_tune_audit_info{");
	prom_label(out, "profile", r->profile, false);
	prom_label(out, "kernel", r->kernel, true);
	fprintf(out, "} 1\n");
	fprintf(out, "# HELP qps_tune_check_failed 1 when the audit check failed, 0 when it passed (any "
		     "process or listener of the object).\n# TYPE qps_tune_check_failed gauge\n");
	for (i = 0; i < r->n; i++) {
		const struct check *c = &r->v[i];
		bool seen = false, failed = c->status == CHK_FAIL;

		if (!pf(c))
			continue;
		prom_object(c, obj, sizeof(obj));
		/* one series per (id, object): several workers or reuseport listeners merge */
		for (j = 0; j < r->n && !seen; j++) {
			if (j == i || !pf(&r->v[j]) || strcmp(r->v[j].id, c->id))
				continue;
			prom_object(&r->v[j], obj2, sizeof(obj2));
			if (strcmp(obj, obj2))
				continue;
			if (j < i)
				seen = true;
			failed |= r->v[j].status == CHK_FAIL;
		}
		if (seen)
			continue;
		fprintf(out, "qps_tune_check_failed{");
		prom_label(out, "id", c->id, false);
		prom_label(out, "severity", c->severity, true);
		prom_label(out, "object", obj, true);
		fprintf(out, "} %d\n", failed);
	}
	fprintf(out, "# HELP qps_tune_check_info Checks that report rather than judge (status info or skip).\n"
		     "# TYPE qps_tune_check_info gauge\n");
	for (i = 0; i < r->n; i++) {
		const struct check *c = &r->v[i];
		bool seen = false;

		if (pf(c))
			continue;
		prom_object(c, obj, sizeof(obj));
		for (j = 0; j < i && !seen; j++) {
			prom_object(&r->v[j], obj2, sizeof(obj2));
			seen = !pf(&r->v[j]) && !strcmp(r->v[j].id, c->id) && !strcmp(obj, obj2) &&
			       r->v[j].status == c->status;
		}
		if (seen)
			continue;
		fprintf(out, "qps_tune_check_info{");
		prom_label(out, "id", c->id, false);
		prom_label(out, "object", obj, true);
		prom_label(out, "status", chk_status_str(c->status), true);
		fprintf(out, "} 1\n");
	}
	for (i = 0; i < r->ncounters; i++)
		fprintf(out, "# HELP qps_tune_%s_total %s\n# TYPE qps_tune_%s_total counter\nqps_tune_%s_total %llu\n",
			r->counters[i].name, r->counters[i].help, r->counters[i].name, r->counters[i].name,
			r->counters[i].v);
	fprintf(out, "# HELP qps_tune_audit_checks Audit checks by status.\n"
		     "# TYPE qps_tune_audit_checks gauge\n");
	for (s = 0; s < sizeof(all) / sizeof(all[0]); s++)
		fprintf(out, "qps_tune_audit_checks{status=\"%s\"} %d\n", chk_status_str(all[s]),
			report_count(r, all[s]));
	fprintf(out, "# HELP qps_tune_audit_drift 1 when any check failed (audit exit code 3).\n"
		     "# TYPE qps_tune_audit_drift gauge\n"
		     "qps_tune_audit_drift %d\n", report_count(r, CHK_FAIL) > 0);
	fprintf(out, "# HELP qps_tune_audit_duration_seconds Wall time of the audit.\n"
		     "# TYPE qps_tune_audit_duration_seconds gauge\n"
		     "qps_tune_audit_duration_seconds %.6f\n", r->duration);
	fprintf(out, "# HELP qps_tune_audit_timestamp_seconds When the audit ran.\n"
		     "# TYPE qps_tune_audit_timestamp_seconds gauge\n"
		     "qps_tune_audit_timestamp_seconds %lld\n", (long long)time(NULL));
}
