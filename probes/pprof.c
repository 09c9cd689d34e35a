/* pprof.c - profile.proto encoder (see pprof.h).
 *
 * The message, from github.com/google/pprof/proto/profile.proto (field
 * numbers are the wire contract):
 *   Profile  1 sample_type: ValueType*   2 sample: Sample*   4 location: Location*
 *            5 function: Function*   6 string_table: string* ([0] is "")
 *            9 time_nanos  10 duration_nanos  11 period_type: ValueType  12 period
 *   ValueType 1 type, 2 unit (string table indices)
 *   Sample   1 location_id (packed uint64, leaf first)  2 value (packed int64)
 *   Location 1 id  4 line: Line*        Line 1 function_id
 *   Function 1 id  2 name  3 system_name (string indices)
 * Samples are kept in memory as (location ids, count) and encoded at write.
 */
#include "pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
	int err;		/* -ENOMEM once an append failed */
};

struct psample {
	uint64_t *loc;		/* location ids, leaf first */
	int n;
	uint64_t count;
};

struct pprof {
	char **strs;		/* string table; [0] = "" */
	size_t nstr, capstr;
	size_t *hash;		/* open addressing: string index + 1, 0 = empty */
	size_t hcap;
	uint64_t *fn_of_str;	/* string index -> function id (0: none yet) */
	uint64_t nfn;
	uint64_t *fn_name;	/* function id - 1 -> string index */
	struct psample *s;
	size_t ns, caps;
	int64_t type, unit, period;
};

static void buf_grow(struct buf *b, size_t more)
{
	if (b->err || b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;

	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);

	if (!p) {
		b->err = -ENOMEM;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void put_bytes(struct buf *b, const void *d, size_t n)
{
	if (!n)
		return;		/* an empty message may have no buffer at all */
	buf_grow(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	int n = 0;

	do {
		t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	put_bytes(b, t, n);
}

static void put_key(struct buf *b, int field, int wire)
{
	put_varint(b, (uint64_t)field << 3 | wire);
}

static void put_uint(struct buf *b, int field, uint64_t v)	/* wire type 0 */
{
	if (!v)
		return;		/* proto3: zero is the default, omitted */
	put_key(b, field, 0);
	put_varint(b, v);
}

static void put_len(struct buf *b, int field, const void *d, size_t n)	/* wire type 2 */
{
	put_key(b, field, 2);
	put_varint(b, n);
	put_bytes(b, d, n);
}

static void put_msg(struct buf *b, int field, struct buf *m)
{
	if (m->err)
		b->err = m->err;
	else
		put_len(b, field, m->p, m->len);
	m->len = 0;
}

static size_t str_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* index of @s in the string table, added if new; -1 on ENOMEM */
static long str_index(struct pprof *p, const char *s)
{
	size_t h, i;

	if (!*s)
		return 0;
	if (2 * (p->nstr + 1) > p->hcap) {
		size_t cap = p->hcap ? p->hcap * 2 : 1024;
		size_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return -1;
		for (size_t k = 1; k < p->nstr; k++) {
			for (i = str_hash(p->strs[k]) & (cap - 1); t[i]; i = (i + 1) & (cap - 1))
				;
			t[i] = k + 1;
		}
		free(p->hash);
		p->hash = t;
		p->hcap = cap;
	}
	h = str_hash(s);
	for (i = h & (p->hcap - 1); p->hash[i]; i = (i + 1) & (p->hcap - 1))
		if (!strcmp(p->strs[p->hash[i] - 1], s))
			return (long)(p->hash[i] - 1);
	if (p->nstr == p->capstr) {
		size_t cap = p->capstr * 2;
		char **v = realloc(p->strs, cap * sizeof(*v));
		uint64_t *f = realloc(p->fn_of_str, cap * sizeof(*f));

		if (v)
			p->strs = v;
		if (f)
			p->fn_of_str = f;
		if (!v || !f)
			return -1;
		p->capstr = cap;
	}
	p->strs[p->nstr] = strdup(s);
	if (!p->strs[p->nstr])
		return -1;
	p->fn_of_str[p->nstr] = 0;
	p->hash[i] = p->nstr + 1;
	return (long)p->nstr++;
}

struct pprof *pprof_new(const char *type, const char *unit, int64_t period)
{
	struct pprof *p = calloc(1, sizeof(*p));
	long t, u;

	if (!p)
		return NULL;
	p->capstr = 64;
	p->strs = calloc(p->capstr, sizeof(*p->strs));
	p->fn_of_str = calloc(p->capstr, sizeof(*p->fn_of_str));
	if (!p->strs || !p->fn_of_str)
		goto fail;
	p->strs[0] = strdup("");
	if (!p->strs[0])
		goto fail;
	p->nstr = 1;
	t = str_index(p, type);
	u = str_index(p, unit);
	if (t < 0 || u < 0 || str_index(p, "samples") < 0 || str_index(p, "count") < 0)
		goto fail;
	p->type = t;
	p->unit = u;
	p->period = period;
	return p;
fail:
	pprof_free(p);
	errno = ENOMEM;
	return NULL;
}

void pprof_free(struct pprof *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstr; i++)
		free(p->strs[i]);
	for (size_t i = 0; i < p->ns; i++)
		free(p->s[i].loc);
	free(p->strs);
	free(p->hash);
	free(p->fn_of_str);
	free(p->fn_name);
	free(p->s);
	free(p);
}

int pprof_add(struct pprof *p, const char *const *frames, int n, uint64_t count)
{
	struct psample *s;

	if (p->ns == p->caps) {
		size_t cap = p->caps ? p->caps * 2 : 256;
		struct psample *v = realloc(p->s, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->s = v;
		p->caps = cap;
	}
	s = &p->s[p->ns];
	s->loc = malloc((n ? n : 1) * sizeof(*s->loc));
	if (!s->loc)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		long k = str_index(p, frames[i][0] ? frames[i] : "[empty]");

		if (k < 0) {
			free(s->loc);
			return -ENOMEM;
		}
		if (!p->fn_of_str[k]) {
			uint64_t *v = realloc(p->fn_name, (p->nfn + 1) * sizeof(*v));

			if (!v) {
				free(s->loc);
				return -ENOMEM;
			}
			p->fn_name = v;
			p->fn_name[p->nfn] = (uint64_t)k;
			p->fn_of_str[k] = ++p->nfn;
		}
		s->loc[i] = p->fn_of_str[k];	/* location id == function id */
	}
	s->n = n;
	s->count = count;
	p->ns++;
	return 0;
}

static void encode(struct pprof *p, struct buf *b, int64_t time_ns, int64_t duration_ns)
{
	struct buf m = { 0 }, sub = { 0 };
	long samples = str_index(p, "samples"), count = str_index(p, "count");

	/* sample_type: [samples/count, type/unit] */
	put_uint(&m, 1, samples);
	put_uint(&m, 2, count);
	put_msg(b, 1, &m);
	put_uint(&m, 1, p->type);
	put_uint(&m, 2, p->unit);
	put_msg(b, 1, &m);
	for (size_t i = 0; i < p->ns; i++) {
		const struct psample *s = &p->s[i];

		for (int k = 0; k < s->n; k++)
			put_varint(&sub, s->loc[k]);
		put_msg(&m, 1, &sub);
		put_varint(&sub, s->count);
		put_varint(&sub, (uint64_t)((int64_t)s->count * p->period));
		put_msg(&m, 2, &sub);
		put_msg(b, 2, &m);
	}
	for (uint64_t id = 1; id <= p->nfn; id++) {
		put_uint(&m, 1, id);		/* Location */
		put_uint(&sub, 1, id);		/* Line.function_id */
		put_msg(&m, 4, &sub);
		put_msg(b, 4, &m);
	}
	for (uint64_t id = 1; id <= p->nfn; id++) {
		put_uint(&m, 1, id);		/* Function */
		put_uint(&m, 2, p->fn_name[id - 1]);
		put_uint(&m, 3, p->fn_name[id - 1]);
		put_msg(b, 5, &m);
	}
	for (size_t i = 0; i < p->nstr; i++)
		put_len(b, 6, p->strs[i], strlen(p->strs[i]));
	put_uint(b, 9, (uint64_t)time_ns);
	put_uint(b, 10, (uint64_t)duration_ns);
	put_uint(&m, 1, p->type);
	put_uint(&m, 2, p->unit);
	put_msg(b, 11, &m);
	put_uint(b, 12, (uint64_t)p->period);
	if (m.err || sub.err)
		b->err = -ENOMEM;
	free(m.p);
	free(sub.p);
}

int pprof_write_file(struct pprof *p, const char *path, int64_t time_ns, int64_t duration_ns)
{
	struct buf b = { 0 };
	char tmp[4096];
	gzFile gz = NULL;
	int fd = -1, err = 0;

	encode(p, &b, time_ns, duration_ns);
	if (b.err) {
		err = b.err;
		goto out;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		err = -ENAMETOOLONG;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	fchmod(fd, 0644);
	gz = gzdopen(fd, "wb");
	if (!gz) {
		err = -ENOMEM;
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (b.len && gzwrite(gz, b.p, (unsigned int)b.len) != (int)b.len)
		err = -EIO;
	if (gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	free(b.p);
	return err;
}
