/* profile.c - parse, merge (single inheritance) and resolve qps-tune profiles.
 * Built-in profiles are the files in profiles/, compiled in by tuner/build.mk
 * as build/tuner/builtin_profiles.h so an uninstalled binary works. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>	/* isfinite (a macro) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knob.h"
#include "procfs.h"
#include "profile.h"
#include "engine.h"
#include "tuner.h"
#include <sys/stat.h>

struct builtin_profile {
	const char *name;
	const char *text;
};
#include "tuner/builtin_profiles.h"	/* static const struct builtin_profile builtin_profiles[] */

#define MAX_DEPTH 8
#define MAX_TEXT (64 * 1024)

const char *const *profile_builtin_names(void)
{
	static const char *names[sizeof(builtin_profiles) / sizeof(builtin_profiles[0]) + 1];
	size_t i;

	for (i = 0; i < sizeof(builtin_profiles) / sizeof(builtin_profiles[0]); i++)
		names[i] = builtin_profiles[i].name;
	names[i] = NULL;
	return names;
}

const char *profile_builtin_text(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(builtin_profiles) / sizeof(builtin_profiles[0]); i++)
		if (!strcmp(builtin_profiles[i].name, name))
			return builtin_profiles[i].text;
	return NULL;
}

const char *rule_op_str(enum rule_op op)
{
	switch (op) {
	case OP_GE: return ">=";
	case OP_LE: return "<=";
	case OP_EQ: return "=";
	case OP_IN: return "in";
	case OP_SET: return "";
	case OP_HAS: return "has";
	}
	return "?";
}

/* ---- expressions: sum := prod (('+'|'-') prod)*, prod := atom (('*'|'/') atom)* */

struct ex {
	const char *p;
	double conns, dflt;	/* dflt < 0: unknown */
	int err;
	const struct profile *prof;	/* for sysctl(KEY): the profile's own floor of KEY */
};

static double ex_sum(struct ex *e);

static void ex_ws(struct ex *e)
{
	while (*e->p == ' ' || *e->p == '\t')
		e->p++;
}

static bool ex_word(struct ex *e, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(e->p, w, n) || isalnum((unsigned char)e->p[n]) || e->p[n] == '_')
		return false;
	e->p += n;
	return true;
}

static double ex_atom(struct ex *e)
{
	double v = 0;

	ex_ws(e);
	if (*e->p == '(') {
		e->p++;
		v = ex_sum(e);
		ex_ws(e);
		if (*e->p != ')')
			e->err = -EINVAL;
		else
			e->p++;
		return v;
	}
	if (ex_word(e, "conns"))
		return e->conns;
	if (ex_word(e, "default")) {
		if (e->dflt < 0)
			e->err = e->err ? e->err : -ENOENT;
		return e->dflt;
	}
	if (!strncmp(e->p, "sysctl(", 7)) {
		/* the live value (first field) of another key in this netns */
		char key[96], val[256];
		size_t n = strspn(e->p + 7, "abcdefghijklmnopqrstuvwxyz0123456789_.-");
		long long f[16];

		if (!n || n >= sizeof(key) || e->p[7 + n] != ')') {
			e->err = -EINVAL;
			return 0;
		}
		memcpy(key, e->p + 7, n);
		key[n] = '\0';
		e->p += 8 + n;
		if (sysctl_read(key, val, sizeof(val)) < 0 || knob_fields(val, f, 16) < 1) {
			e->err = e->err ? e->err : -ENOENT;
			return 0;
		}
		/* apply raises KEY to the profile's own ">=" target and never lowers it:
		 * count with that value, so a second apply finds nothing to change */
		if (e->prof) {
			int i;

			for (i = 0; i < e->prof->n; i++) {
				const struct rule *r = &e->prof->rules[i];

				if (r->kind == RULE_SYSCTL && r->op == OP_GE && r->numeric && r->field < 0 &&
				    !strcmp(r->key, key) && r->num > f[0])
					f[0] = r->num;
			}
		}
		return (double)f[0];
	}
	if (!strncmp(e->p, "max(", 4) || !strncmp(e->p, "min(", 4)) {
		bool is_max = e->p[1] == 'a';
		double a, b;

		e->p += 4;
		a = ex_sum(e);
		ex_ws(e);
		if (*e->p != ',') {
			e->err = -EINVAL;
			return 0;
		}
		e->p++;
		b = ex_sum(e);
		ex_ws(e);
		if (*e->p != ')') {
			e->err = -EINVAL;
			return 0;
		}
		e->p++;
		return is_max ? (a > b ? a : b) : (a < b ? a : b);
	}
	if (isdigit((unsigned char)*e->p) || *e->p == '.') {
		char *end;

		v = strtod(e->p, &end);
		if (end == e->p)
			e->err = -EINVAL;
		e->p = end;
		return v;
	}
	e->err = -EINVAL;
	return 0;
}

static double ex_prod(struct ex *e)
{
	double v = ex_atom(e);

	for (;;) {
		ex_ws(e);
		if (*e->p == '*') {
			e->p++;
			v *= ex_atom(e);
		} else if (*e->p == '/') {
			double d;

			e->p++;
			d = ex_atom(e);
			if (d == 0)
				e->err = -EINVAL;
			else
				v /= d;
		} else {
			return v;
		}
	}
}

static double ex_sum(struct ex *e)
{
	double v = ex_prod(e);

	for (;;) {
		ex_ws(e);
		if (*e->p == '+') {
			e->p++;
			v += ex_prod(e);
		} else if (*e->p == '-') {
			e->p++;
			v -= ex_prod(e);
		} else {
			return v;
		}
	}
}

static int eval_in(const char *expr, long conns, long long dflt, const struct profile *prof,
		   long long *out)
{
	struct ex e = { .p = expr, .conns = (double)conns, .dflt = (double)dflt, .prof = prof };
	double v;

	v = ex_sum(&e);
	ex_ws(&e);
	if (!e.err && *e.p)
		e.err = -EINVAL;
	if (e.err)
		return e.err;
	if (!isfinite(v) || v > 9.2e18 || v < -9.2e18)
		return -ERANGE;
	/* 10000*2.2 is 22000.000000000004 in binary: do not round that up */
	v -= 1e-6;
	*out = (long long)v;
	if ((double)*out < v)
		(*out)++;	/* ceil() without libm: unit tests do not link -lm */
	return 0;
}

int profile_eval(const char *expr, long conns, long long dflt, long long *out)
{
	return eval_in(expr, conns, dflt, NULL, out);
}

/* ---- parsing */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool cpulist_valid(const char *s)
{
	/* "0-3,5" */
	const char *p = s;

	if (!*p)
		return false;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		}
		if (*p == ',') {
			p++;
			if (!*p)
				return false;
		} else if (*p) {
			return false;
		}
	}
	return true;
}

static bool check_id_valid(const char *s)
{
	const char *p = s;

	if (!isupper((unsigned char)*p))
		return false;
	while (isupper((unsigned char)*p))
		p++;
	if (*p++ != '-' || !isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return !*p && strlen(s) < 16;
}

static struct rule *rule_add(struct profile *p)
{
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 16;
		struct rule *r = realloc(p->rules, cap * sizeof(*r));

		if (!r)
			return NULL;
		p->rules = r;
		p->cap = cap;
	}
	memset(&p->rules[p->n], 0, sizeof(p->rules[0]));
	return &p->rules[p->n++];
}

static bool same_target(const struct rule *a, const struct rule *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == RULE_SYSCTL)
		return !strcmp(a->key, b->key) && a->field == b->field;
	if (a->kind == RULE_DISABLE)
		return !strcmp(a->key, b->key);
	return true;	/* one nofile, rps, xps, affinity rule per profile */
}

static const char *kind_name(enum rule_kind k)
{
	static const char *const n[] = { "sysctl", "nofile", "rps", "xps", "affinity", "disable", "irq" };

	return n[k];
}

/* "key[2]" -> key, field 2. Returns 0 or -EINVAL. */
static int split_key(const char *tok, char *key, size_t size, int *field)
{
	const char *br = strchr(tok, '[');
	size_t n = br ? (size_t)(br - tok) : strlen(tok);

	*field = -1;
	if (n >= size)
		return -EINVAL;
	memcpy(key, tok, n);
	key[n] = '\0';
	if (br) {
		char *end;
		long f = strtol(br + 1, &end, 10);

		if (end == br + 1 || *end != ']' || end[1] || f < 0 || f > 15)
			return -EINVAL;
		*field = (int)f;
	}
	return knob_key_valid(key) ? 0 : -EINVAL;
}

#define PERR(...) do { snprintf(err, err_size, __VA_ARGS__); return -EINVAL; } while (0)

static int parse_sysctl(struct rule *r, char *rest, const char *where, char *err, size_t err_size)
{
	char *ktok, *optok, *val;
	const struct knob_info *k;
	long long dummy, f[16];

	ktok = strtok_r(rest, " \t", &val);
	optok = ktok ? strtok_r(NULL, " \t", &val) : NULL;
	val = val ? trim(val) : NULL;
	if (!ktok || !optok || !val || !*val)
		PERR("%s: expected 'sysctl KEY OP VALUE'", where);
	if (split_key(ktok, r->key, sizeof(r->key), &r->field))
		PERR("%s: invalid sysctl key '%s'", where, ktok);
	if (!strcmp(optok, ">="))
		r->op = OP_GE;
	else if (!strcmp(optok, "<="))
		r->op = OP_LE;
	else if (!strcmp(optok, "="))
		r->op = OP_EQ;
	else if (!strcmp(optok, "in"))
		r->op = OP_IN;
	else if (!strcmp(optok, "has"))
		r->op = OP_HAS;
	else
		PERR("%s: %s: unknown operator '%s' (want >=, <=, =, in or has)", where, r->key, optok);
	if (strlen(val) >= sizeof(r->value))
		PERR("%s: %s: value too long", where, r->key);
	snprintf(r->value, sizeof(r->value), "%s", val);
	k = knob_lookup(r->key);
	if (r->field >= 0 && k && r->field >= k->nfields)
		PERR("%s: %s has %d field%s, no field %d", where, r->key, k->nfields,
		     k->nfields > 1 ? "s" : "", r->field);
	if (r->field >= 0 && (r->op == OP_EQ || r->op == OP_IN || r->op == OP_HAS))
		PERR("%s: %s[%d]: a field takes '>=' or '<='", where, r->key, r->field);
	if (r->op == OP_HAS) {
		char *end;
		long long m = strtoll(val, &end, 0);

		if (end == val || *end || m <= 0)
			PERR("%s: %s: malformed bit mask '%s' (want a positive number, e.g. 2 or 0x2)", where,
			     r->key, val);
		if (k && k->nfields > 1)
			PERR("%s: %s has %d fields: 'has' takes a single-value key", where, r->key, k->nfields);
		return 0;
	}
	if (r->op == OP_GE || r->op == OP_LE) {
		int e, n;

		/* several plain numbers: one target per field */
		n = knob_fields(val, f, 16);
		if (n > 1) {
			if (r->field >= 0)
				PERR("%s: %s[%d]: one value expected, got %d", where, r->key, r->field, n);
			if (k && n != k->nfields)
				PERR("%s: %s takes %d values, got %d", where, r->key, k->nfields, n);
			return 0;
		}
		if (k && k->nfields > 1 && r->field < 0)
			PERR("%s: %s has %d fields: name one (%s[N]) or give %d values",
			     where, r->key, k->nfields, r->key, k->nfields);
		e = profile_eval(val, 1, 1, &dummy);
		if (e == -ERANGE)
			PERR("%s: %s: value '%s' out of range", where, r->key, val);
		if (e && e != -ENOENT)	/* -ENOENT: a sysctl() this kernel/netns lacks: skipped later */
			PERR("%s: %s: malformed value '%s' (want a number or an expression of conns)",
			     where, r->key, val);
	} else if (r->op == OP_EQ && k) {
		int n = knob_fields(val, f, 16);

		if (n != k->nfields)
			PERR("%s: %s: malformed value '%s' (want %d integer%s)", where, r->key, val,
			     k->nfields, k->nfields > 1 ? "s" : "");
	} else if (r->op == OP_IN) {
		const char *p;

		for (p = val; *p; p++)
			if (*p == ',' && (p[1] == ',' || !p[1]))
				PERR("%s: %s: empty item in list '%s'", where, r->key, val);
		if (*val == ',')
			PERR("%s: %s: empty item in list '%s'", where, r->key, val);
	}
	return 0;
}

int profile_parse(struct profile *p, const char *text, const char *origin,
		  char *parent, size_t parent_size, char *err, size_t err_size)
{
	const char *line = text;
	int lineno = 0, ndirectives = 0;

	if (parent_size)
		parent[0] = '\0';
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[512], where[PATH_MAX + 32], *s, *dir, *rest, *hash;
		struct rule *r;
		int i;

		const char *start = line;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d", origin, lineno);
		line = nl ? nl + 1 : NULL;
		if (len >= sizeof(buf))
			PERR("%s: line too long", where);
		memcpy(buf, start, len);
		buf[len] = '\0';
		/* '#' starts a comment unless inside the description's quotes */
		hash = strchr(buf, '#');
		if (hash && !(strstr(buf, "description") && strchr(buf, '"') && strchr(buf, '"') < hash))
			*hash = '\0';
		s = trim(buf);
		if (!*s)
			continue;
		dir = strtok_r(s, " \t", &rest);
		rest = rest ? trim(rest) : (char *)"";
		ndirectives++;

		if (!strcmp(dir, "inherit")) {
			if (ndirectives != 1)
				PERR("%s: 'inherit' must be the first directive", where);
			if (!*rest || strchr(rest, ' '))
				PERR("%s: expected 'inherit NAME|PATH'", where);
			snprintf(parent, parent_size, "%s", rest);
			p->inherit_line = lineno;
			continue;
		}
		if (!strcmp(dir, "description")) {
			size_t n = strlen(rest);

			if (n >= 2 && rest[0] == '"' && rest[n - 1] == '"') {
				rest[n - 1] = '\0';
				rest++;
			}
			snprintf(p->description, sizeof(p->description), "%s", rest);
			continue;
		}
		if (!strcmp(dir, "conns")) {
			unsigned long v;

			if (parse_ulong(rest, 100000000, &v) || v == 0)
				PERR("%s: conns: malformed value '%s' (want 1..100000000)", where, rest);
			p->conns = (long)v;
			continue;
		}
		r = rule_add(p);
		if (!r)
			PERR("%s: out of memory", where);
		snprintf(r->origin, sizeof(r->origin), "%s", where);
		r->field = -1;
		if (!strcmp(dir, "sysctl")) {
			r->kind = RULE_SYSCTL;
			if (parse_sysctl(r, rest, where, err, err_size))
				return -EINVAL;
		} else if (!strcmp(dir, "nofile")) {
			char *op, *val;
			long long dummy;

			r->kind = RULE_NOFILE;
			r->op = OP_GE;
			op = strtok_r(rest, " \t", &val);
			val = val ? trim(val) : NULL;
			if (!op || strcmp(op, ">=") || !val || !*val)
				PERR("%s: expected 'nofile >= EXPR'", where);
			if (profile_eval(val, 1, -1, &dummy))
				PERR("%s: nofile: malformed value '%s'", where, val);
			snprintf(r->value, sizeof(r->value), "%s", val);
		} else if (!strcmp(dir, "rps") || !strcmp(dir, "affinity")) {
			r->kind = dir[0] == 'r' ? RULE_RPS : RULE_AFFINITY;
			r->op = OP_SET;
			if (strcmp(rest, "all") && !(r->kind == RULE_RPS && !strcmp(rest, "off")) &&
			    !cpulist_valid(rest))
				PERR("%s: %s: malformed value '%s' (want all%s or a CPU list like 0-3,6)",
				     where, dir, rest, r->kind == RULE_RPS ? ", off" : "");
			snprintf(r->value, sizeof(r->value), "%s", rest);
		} else if (!strcmp(dir, "xps")) {
			r->kind = RULE_XPS;
			r->op = OP_SET;
			if (strcmp(rest, "spread") && strcmp(rest, "off"))
				PERR("%s: xps: malformed value '%s' (want spread or off)", where, rest);
			snprintf(r->value, sizeof(r->value), "%s", rest);
		} else if (!strcmp(dir, "irq")) {
			r->kind = RULE_IRQ;
			r->op = OP_SET;
			if (strcmp(rest, "spread"))
				PERR("%s: irq: malformed value '%s' (want spread)", where, rest);
			snprintf(r->value, sizeof(r->value), "%s", rest);
		} else if (!strcmp(dir, "disable")) {
			r->kind = RULE_DISABLE;
			if (!check_id_valid(rest))
				PERR("%s: disable: malformed check id '%s' (want e.g. LQ-008)", where, rest);
			if (!check_find(rest))
				PERR("%s: disable: unknown check id '%s' (see 'qps-tune checks')", where, rest);
			snprintf(r->key, sizeof(r->key), "%s", rest);
		} else {
			PERR("%s: unknown directive '%s'", where, dir);
		}
		for (i = 0; i < p->n - 1; i++) {
			if (same_target(&p->rules[i], r)) {
				if (r->kind == RULE_SYSCTL)
					PERR("%s: duplicate rule for %s (first at %s)", where, r->key,
					     p->rules[i].origin);
				PERR("%s: duplicate '%s' directive (first at %s)", where, kind_name(r->kind),
				     p->rules[i].origin);
			}
		}
	}
	return 0;
}

/* ---- loading with inheritance */

static char *read_text(const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n;

	if (!f) {
		snprintf(err, err_size, "cannot open profile '%s': %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(MAX_TEXT + 1);
	if (!buf) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	n = fread(buf, 1, MAX_TEXT + 1, f);
	if (ferror(f)) {
		snprintf(err, err_size, "cannot read profile '%s': %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else if (n > MAX_TEXT) {
		snprintf(err, err_size, "profile '%s' is larger than %d bytes", path, MAX_TEXT);
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		if (memchr(buf, '\0', n)) {
			snprintf(err, err_size, "profile '%s' is not a text file", path);
			free(buf);
			buf = NULL;
		}
	}
out:
	fclose(f);
	return buf;
}

static bool is_path(const char *spec)
{
	size_t n = strlen(spec);

	return strchr(spec, '/') || (n > 8 && !strcmp(spec + n - 8, ".profile"));
}

/* Finds @spec's text. @base_dir: directory of the inheriting file, for
 * relative paths. Fills @name and @source. Returns malloc'ed text or NULL. */
static char *find_text(const char *spec, const char *base_dir, char *name, size_t name_size,
		       char *source, size_t source_size, char *err, size_t err_size)
{
	const char *t, *slash;
	char path[PATH_MAX], etc[PATH_MAX];
	struct stat st;

	if (is_path(spec)) {
		if (spec[0] != '/' && base_dir && *base_dir)
			snprintf(path, sizeof(path), "%s/%s", base_dir, spec);
		else
			snprintf(path, sizeof(path), "%s", spec);
		slash = strrchr(spec, '/');
		snprintf(name, name_size, "%s", slash ? slash + 1 : spec);
		if (strlen(name) > 8 && !strcmp(name + strlen(name) - 8, ".profile"))
			name[strlen(name) - 8] = '\0';
		snprintf(source, source_size, "%s", path);
		return read_text(path, err, err_size);
	}
	if (!*spec || strlen(spec) > 48) {
		snprintf(err, err_size, "invalid profile name '%s'", spec);
		return NULL;
	}
	snprintf(name, name_size, "%s", spec);
	/* the host's own /etc, never --root: a profile sets host sysctls, so only
	 * root may write it (a tree's profile could set kernel.core_pattern) */
	snprintf(etc, sizeof(etc), "/etc/qps-tune/profiles/%s.profile", spec);
	if (lstat(etc, &st) == 0) {
		if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
			snprintf(err, err_size, "refusing profile '%s': not a regular file owned by root and "
				 "writable only by it", etc);
			return NULL;
		}
		snprintf(source, source_size, "%s", etc);
		return read_text(etc, err, err_size);
	}
	t = profile_builtin_text(spec);
	if (t) {
		char *dup = strdup(t);

		snprintf(source, source_size, "built-in");
		if (!dup)
			snprintf(err, err_size, "out of memory");
		return dup;
	}
	snprintf(err, err_size, "unknown profile '%s' (built-in: base, web-10k, web-100k, proxy, latency; "
		 "or give a path)", spec);
	return NULL;
}

static struct profile *load_rec(const char *spec, const char *base_dir, int depth,
				char chain[][PATH_MAX], char *err, size_t err_size)
{
	struct profile *p = NULL, *parent = NULL;
	char parent_spec[PATH_MAX], origin[PATH_MAX + 16], dir[PATH_MAX];
	char *text = NULL;
	int i, j;

	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	text = find_text(spec, base_dir, p->name, sizeof(p->name), p->source, sizeof(p->source),
			 err, err_size);
	if (!text)
		goto fail;
	for (i = 0; i < depth; i++) {
		if (!strcmp(chain[i], p->source[0] == 'b' ? p->name : p->source)) {
			snprintf(err, err_size, "profile '%s': inheritance loop", spec);
			goto fail;
		}
	}
	snprintf(chain[depth], PATH_MAX, "%s", p->source[0] == 'b' ? p->name : p->source);
	if (!strcmp(p->source, "built-in"))
		snprintf(origin, sizeof(origin), "%s.profile", p->name);
	else
		snprintf(origin, sizeof(origin), "%s", p->source);
	if (profile_parse(p, text, origin, parent_spec, sizeof(parent_spec), err, err_size))
		goto fail;
	if (!parent_spec[0])
		goto done;
	if (depth + 1 >= MAX_DEPTH) {
		snprintf(err, err_size, "%s: inheritance deeper than %d levels", origin, MAX_DEPTH);
		goto fail;
	}
	dir[0] = '\0';
	if (strcmp(p->source, "built-in")) {
		const char *slash = strrchr(p->source, '/');

		if (slash)
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p->source), p->source);
	}
	parent = load_rec(parent_spec, dir, depth + 1, chain, err, err_size);
	if (!parent) {
		char inner[3 * PATH_MAX];

		snprintf(inner, sizeof(inner), "%s", err);
		snprintf(err, err_size, "%s:%d: inherit %s: %s", origin, p->inherit_line, parent_spec, inner);
		goto fail;
	}
	/* merge: the child's rules replace the parent's for the same target */
	for (i = 0; i < p->n; i++) {
		struct rule *r = NULL;

		for (j = 0; j < parent->n; j++) {
			if (same_target(&parent->rules[j], &p->rules[i])) {
				r = &parent->rules[j];
				break;
			}
		}
		if (!r) {
			r = rule_add(parent);
			if (!r) {
				snprintf(err, err_size, "out of memory");
				goto fail;
			}
		}
		*r = p->rules[i];
	}
	free(p->rules);
	p->rules = parent->rules;
	p->n = parent->n;
	p->cap = parent->cap;
	if (!p->conns)
		p->conns = parent->conns;
	if (!p->description[0])
		snprintf(p->description, sizeof(p->description), "%s", parent->description);
	parent->rules = NULL;
	profile_free(parent);
done:
	free(text);
	return p;
fail:
	free(text);
	profile_free(p);
	return NULL;
}

struct profile *profile_load(const char *spec, char *err, size_t err_size)
{
	char chain[MAX_DEPTH][PATH_MAX];
	struct profile *p = load_rec(spec, NULL, 0, chain, err, err_size);

	if (p && p->conns <= 0)
		p->conns = 10000;
	return p;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	free(p->rules);
	free(p);
}

/* Resolves one rule's target. Returns 0 or -EINVAL with the message in @err. */
static int resolve_one(struct profile *p, struct rule *r, long conns, char *err, size_t err_size)
{
	const struct knob_info *k = r->kind == RULE_SYSCTL ? knob_lookup(r->key) : NULL;
	long long f[16], dflt = -1;
	int e, n, j;

	r->skip = false;
	r->numeric = false;
	switch (r->kind) {
	case RULE_SYSCTL:
		if (r->op == OP_HAS) {
			r->num = strtoll(r->value, NULL, 0);
			if (k && (r->num < k->min || r->num > k->max))
				PERR("%s: %s: mask %lld out of range [%lld, %lld]", r->origin, r->key, r->num, k->min,
				     k->max);
			r->numeric = true;
			snprintf(r->resolved, sizeof(r->resolved), "%lld", r->num);
			break;
		}
		if (r->op == OP_EQ || r->op == OP_IN) {
			snprintf(r->resolved, sizeof(r->resolved), "%s", r->value);
			n = knob_fields(r->value, f, 16);
			if (k && n > 0) {
				for (j = 0; j < n; j++)
					if (f[j] < k->min || f[j] > k->max)
						PERR("%s: %s: value %lld out of range [%lld, %lld]",
						     r->origin, r->key, f[j], k->min, k->max);
			}
			break;
		}
		n = knob_fields(r->value, f, 16);
		if (n > 1) {
			for (j = 0; j < n; j++)
				if (k && (f[j] < k->min || f[j] > k->max))
					PERR("%s: %s: value %lld out of range [%lld, %lld]", r->origin,
					     r->key, f[j], k->min, k->max);
			snprintf(r->resolved, sizeof(r->resolved), "%s", r->value);
			break;
		}
		if (knob_default(r->key, r->field, &dflt))
			dflt = -1;
		e = eval_in(r->value, conns, dflt, p, &r->num);
		if (e == -ENOENT) {
			r->skip = true;
			snprintf(r->resolved, sizeof(r->resolved), strstr(r->value, "sysctl(") ?
				 "a sysctl() in '%s' is absent here" : "kernel default of %s not known to qps-tune",
				 strstr(r->value, "sysctl(") ? r->value : r->key);
			break;
		}
		if (e)
			PERR("%s: %s: value '%s' out of range", r->origin, r->key, r->value);
		/* ">= 220" on a key whose minimum is 1024 holds for every value the
		 * kernel accepts: clamp. Only an unreachable target is an error. */
		if (k && r->op == OP_GE && r->num < k->min)
			r->num = k->min;
		if (k && r->op == OP_LE && r->num > k->max)
			r->num = k->max;
		if (k && (r->num < k->min || r->num > k->max))
			PERR("%s: %s: value %lld out of range [%lld, %lld]", r->origin, r->key,
			     r->num, k->min, k->max);
		r->numeric = true;
		snprintf(r->resolved, sizeof(r->resolved), "%lld", r->num);
		break;
	case RULE_NOFILE:
		e = profile_eval(r->value, conns, -1, &r->num);
		if (e || r->num < 1 || r->num > 1073741816LL)
			PERR("%s: nofile: value '%s' out of range [1, 1073741816] for conns %ld",
			     r->origin, r->value, conns);
		r->numeric = true;
		snprintf(r->resolved, sizeof(r->resolved), "%lld", r->num);
		break;
	default:
		snprintf(r->resolved, sizeof(r->resolved), "%s", r->kind == RULE_DISABLE ? r->key : r->value);
		break;
	}
	return 0;
}

int profile_resolve(struct profile *p, long conns, char *err, size_t err_size)
{
	int i, pass;

	if (conns <= 0)
		conns = p->conns;
	/* pass 0: plain targets; pass 1: targets that read sysctl(KEY), which
	 * count with KEY's own target from pass 0 */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->n; i++) {
			struct rule *r = &p->rules[i];

			if ((strstr(r->value, "sysctl(") != NULL) != (pass == 1))
				continue;
			if (resolve_one(p, r, conns, err, err_size))
				return -EINVAL;
		}
	}
	return 0;
}

/* ---- evaluation against a current value */

static void fold(const char *in, char *out, size_t size)
{
	size_t o = 0;
	bool sp = false;

	while (*in == ' ' || *in == '\t' || *in == '\n')
		in++;
	for (; *in && o + 1 < size; in++) {
		if (*in == ' ' || *in == '\t' || *in == '\n') {
			sp = true;
			continue;
		}
		if (sp && o + 2 < size)
			out[o++] = ' ';
		sp = false;
		out[o++] = *in;
	}
	out[o] = '\0';
}

static bool item_matches(const char *cur, const char *item)
{
	long long a[16], b[16];
	int na = knob_fields(cur, a, 16), nb = knob_fields(item, b, 16), i;
	char fc[RULE_VAL_MAX], fi[RULE_VAL_MAX];

	if (na > 0 && na == nb) {
		for (i = 0; i < na; i++)
			if (a[i] != b[i])
				return false;
		return true;
	}
	fold(cur, fc, sizeof(fc));
	fold(item, fi, sizeof(fi));
	return !strcmp(fc, fi);
}

static void join(const long long *f, int n, char *buf, size_t size)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n && o < size; i++)
		o += snprintf(buf + o, size - o, "%s%lld", i ? "\t" : "", f[i]);
}

int rule_eval(const struct rule *r, const char *cur, char *want, size_t want_size)
{
	long long f[16], t[16];
	int n, nt, i;
	bool ok = true;

	if (r->op == OP_EQ || r->op == OP_IN) {
		char items[RULE_VAL_MAX], *save, *it, first[RULE_VAL_MAX] = "";

		if (r->op == OP_EQ) {
			if (item_matches(cur, r->resolved))
				return 1;
			if (want)
				snprintf(want, want_size, "%s", r->resolved);
			return 0;
		}
		snprintf(items, sizeof(items), "%s", r->resolved);
		for (it = strtok_r(items, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
			char *tr = trim(it);

			if (!first[0])
				snprintf(first, sizeof(first), "%s", tr);
			if (item_matches(cur, tr))
				return 1;
		}
		if (want)
			snprintf(want, want_size, "%s", first);
		return 0;
	}
	n = knob_fields(cur, f, 16);
	if (n < 0)
		return -EINVAL;
	if (r->numeric && r->op == OP_HAS) {
		if (n != 1)
			return -EINVAL;
		if ((f[0] & r->num) != r->num) {
			ok = false;
			f[0] |= r->num;	/* add the missing bits, keep the others */
		}
	} else if (r->numeric) {
		int idx = r->field < 0 ? 0 : r->field;

		if (idx >= n || (r->field < 0 && n != 1))
			return -EINVAL;
		if (r->op == OP_GE ? f[idx] < r->num : f[idx] > r->num) {
			ok = false;
			f[idx] = r->num;
		}
	} else {
		nt = knob_fields(r->resolved, t, 16);
		if (nt != n)
			return -EINVAL;
		for (i = 0; i < n; i++) {
			if (r->op == OP_GE ? f[i] < t[i] : f[i] > t[i]) {
				ok = false;
				f[i] = t[i];
			}
		}
	}
	if (!ok && want)
		join(f, n, want, want_size);
	return ok;
}

char *rule_target_str(const struct rule *r, char *buf, size_t size)
{
	if (r->skip)
		snprintf(buf, size, "%s %s", rule_op_str(r->op), r->value);
	else if (r->op == OP_SET)
		snprintf(buf, size, "%s", r->resolved);
	else
		snprintf(buf, size, "%s %s", rule_op_str(r->op), r->resolved);
	return buf;
}
