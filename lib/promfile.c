/* promfile.c - atomic node_exporter textfile writer (see promfile.h). */
#include "promfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROM_MAX_LABELS 16	/* pairs per sample, le included */

struct promfile {
	FILE *f;
	char *path, *tmp;
	int err;		/* first error, sticky */
	bool committed;
};

static bool valid_name(const char *s, bool label)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || (!label && *s == ':')))
			return false;
	return true;
}

struct promfile *promfile_new(const char *path)
{
	struct promfile *p = calloc(1, sizeof(*p));
	int fd = -1, err;

	if (!p)
		return NULL;
	p->path = strdup(path);
	if (!p->path || asprintf(&p->tmp, "%s.tmp.XXXXXX", path) < 0) {
		p->tmp = NULL;
		err = ENOMEM;
		goto fail;
	}
	fd = mkstemp(p->tmp);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	/* node_exporter runs as another user: readable by all, like any .prom */
	if (fchmod(fd, 0644)) {
		err = errno;
		goto fail;
	}
	p->f = fdopen(fd, "w");
	if (!p->f) {
		err = errno;
		goto fail;
	}
	return p;
fail:
	if (fd >= 0) {
		close(fd);
		unlink(p->tmp);
	}
	free(p->tmp);
	free(p->path);
	free(p);
	errno = err;
	return NULL;
}

void promfile_free(struct promfile *p)
{
	if (!p)
		return;
	if (p->f)
		fclose(p->f);
	if (!p->committed)
		unlink(p->tmp);
	free(p->tmp);
	free(p->path);
	free(p);
}

/* HELP text: backslash and newline escaped */
static void write_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void promfile_help(struct promfile *p, const char *name, const char *type, const char *help)
{
	if (p->err)
		return;
	if (!valid_name(name, false)) {
		p->err = -EINVAL;
		return;
	}
	fprintf(p->f, "# HELP %s ", name);
	write_help(p->f, help ? help : "");
	fprintf(p->f, "\n# TYPE %s %s\n", name, type);
}

static void write_value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (v == (double)(long long)v && fabs(v) < 9e15)
		fprintf(f, "%lld", (long long)v);
	else
		fprintf(f, "%.10g", v);
}

/* Length of the well-formed UTF-8 sequence at @s, 0 if there is none. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (n == 2 && s[0] < 0xc2)
		return 0;		/* overlong */
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A label value: \\, \" and \n escaped; other control bytes and invalid
 * UTF-8 (a process name can hold anything) become '?', as the format wants
 * UTF-8 text. */
static void write_label_value(FILE *f, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;

	while (*s) {
		int n = utf8_len(s);

		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (n == 0 || *s < 0x20 || *s == 0x7f)
			fputc('?', f);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
}

static void write_labels(struct promfile *p, const char *const *labels, const char *le)
{
	int n = 0;

	if ((!labels || !labels[0]) && !le)
		return;
	fputc('{', p->f);
	for (int i = 0; labels && labels[i] && i < 2 * PROM_MAX_LABELS; i += 2, n++) {
		const char *v = labels[i + 1] ? labels[i + 1] : "";

		if (!valid_name(labels[i], true) || !strncmp(labels[i], "__", 2)) {
			p->err = -EINVAL;
			return;
		}
		fprintf(p->f, "%s%s=\"", n ? "," : "", labels[i]);
		write_label_value(p->f, v);
		fputc('"', p->f);
	}
	if (le)
		fprintf(p->f, "%sle=\"%s\"", n ? "," : "", le);
	fputc('}', p->f);
}

void promfile_counters(struct promfile *p, const char *name, const char *help, const char *label,
		       const char *const *values, const uint64_t *counts, int n)
{
	promfile_help(p, name, "counter", help);
	for (int i = 0; i < n; i++)
		promfile_sample(p, name, (const char *[]){ label, values[i], NULL }, (double)counts[i]);
}

void promfile_sample(struct promfile *p, const char *name, const char *const *labels, double value)
{
	if (p->err)
		return;
	if (!valid_name(name, false)) {
		p->err = -EINVAL;
		return;
	}
	fputs(name, p->f);
	write_labels(p, labels, NULL);
	fputc(' ', p->f);
	write_value(p->f, value);
	fputc('\n', p->f);
}

void promfile_log2_hist(struct promfile *p, const char *name, const char *const *labels,
			const unsigned long long *slots, int nslots, double scale, double sum)
{
	char metric[256], le[64];
	unsigned long long cum = 0;

	if (p->err)
		return;
	if (strlen(name) > 200 || !valid_name(name, false) || nslots > 63) {
		p->err = -EINVAL;
		return;
	}
	snprintf(metric, sizeof(metric), "%s_bucket", name);
	/* every bound, empty or not: the same set of series at every write */
	for (int i = 0; i < nslots; i++) {
		cum += slots[i];
		/* slot i holds integers up to 2^(i+1) - 1 */
		snprintf(le, sizeof(le), "%.9g", (double)((1ull << (i + 1)) - 1) * scale);
		fputs(metric, p->f);
		write_labels(p, labels, le);
		fprintf(p->f, " %llu\n", cum);
	}
	fputs(metric, p->f);
	write_labels(p, labels, "+Inf");
	fprintf(p->f, " %llu\n", cum);
	snprintf(metric, sizeof(metric), "%s_sum", name);
	promfile_sample(p, metric, labels, sum);
	snprintf(metric, sizeof(metric), "%s_count", name);
	promfile_sample(p, metric, labels, (double)cum);
}

int promfile_commit(struct promfile *p)
{
	int err = p->err;

	if (fflush(p->f) || ferror(p->f))
		err = err ? err : -EIO;
	if (!err && fsync(fileno(p->f)))
		err = -errno;
	if (fclose(p->f) && !err)
		err = -errno;
	p->f = NULL;
	if (!err && rename(p->tmp, p->path))
		err = -errno;
	if (!err)
		p->committed = true;
	return err;
}
