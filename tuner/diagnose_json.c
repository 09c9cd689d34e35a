/* diagnose_json.c - recursive-descent JSON reader (RFC 8259) for probe
 * reports. Bounded depth; every allocation checked. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagnose_json.h"

#define JV_MAX_DEPTH 64

struct jp {
	const char *s, *end;
	int err;		/* -EINVAL / -ENOMEM, 0 while fine */
};

static void ws(struct jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* The string at p->s (after the opening quote) into a malloc'ed buffer. */
static char *pstring(struct jp *p)
{
	const char *s = p->s;
	size_t cap = 16, n = 0;
	char *out = malloc(cap), *nb;

	if (!out) {
		p->err = -ENOMEM;
		return NULL;
	}
	for (;;) {
		unsigned cp;
		char tmp[4];
		size_t k = 0;

		if (s >= p->end)
			goto bad;
		if (*s == '"') {
			s++;
			break;
		}
		if ((unsigned char)*s < 0x20)
			goto bad;
		if (*s != '\\') {
			tmp[k++] = *s++;
		} else {
			if (s + 1 >= p->end)
				goto bad;
			s++;
			switch (*s) {
			case '"': case '\\': case '/':
				tmp[k++] = *s;
				break;
			case 'b': tmp[k++] = '\b'; break;
			case 'f': tmp[k++] = '\f'; break;
			case 'n': tmp[k++] = '\n'; break;
			case 'r': tmp[k++] = '\r'; break;
			case 't': tmp[k++] = '\t'; break;
			case 'u':
				if (p->end - s < 5 || hex4(s + 1, &cp))
					goto bad;
				s += 4;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = '?';	/* surrogates: not needed for our reports */
				if (cp == 0)
					cp = '?';
				if (cp < 0x80) {
					tmp[k++] = (char)cp;
				} else if (cp < 0x800) {
					tmp[k++] = (char)(0xc0 | (cp >> 6));
					tmp[k++] = (char)(0x80 | (cp & 0x3f));
				} else {
					tmp[k++] = (char)(0xe0 | (cp >> 12));
					tmp[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					tmp[k++] = (char)(0x80 | (cp & 0x3f));
				}
				break;
			default:
				goto bad;
			}
			s++;
		}
		if (n + k + 1 > cap) {
			cap *= 2;
			nb = realloc(out, cap);
			if (!nb) {
				free(out);
				p->err = -ENOMEM;
				return NULL;
			}
			out = nb;
		}
		memcpy(out + n, tmp, k);
		n += k;
	}
	out[n] = '\0';
	p->s = s;
	return out;
bad:
	free(out);
	p->err = -EINVAL;
	return NULL;
}

static void release(struct jv *v)
{
	int i;

	for (i = 0; i < v->n; i++)
		release(&v->kids[i]);
	free(v->kids);
	free(v->str);
	free(v->key);
	memset(v, 0, sizeof(*v));
}

static int value(struct jp *p, struct jv *v, int depth);

static struct jv *push(struct jp *p, struct jv *v, int *cap)
{
	struct jv *nk;

	if (v->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		nk = realloc(v->kids, (size_t)*cap * sizeof(*nk));
		if (!nk) {
			p->err = -ENOMEM;
			return NULL;
		}
		v->kids = nk;
	}
	memset(&v->kids[v->n], 0, sizeof(v->kids[0]));
	return &v->kids[v->n++];
}

static int container(struct jp *p, struct jv *v, int depth, char close)
{
	int cap = 0;

	v->t = close == '}' ? JV_OBJ : JV_ARR;
	p->s++;
	ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		return 0;
	}
	for (;;) {
		struct jv *k = push(p, v, &cap);
		char *key = NULL;

		if (!k)
			return p->err;
		if (close == '}') {
			ws(p);
			if (p->s >= p->end || *p->s != '"')
				return p->err = -EINVAL;
			p->s++;
			key = pstring(p);
			if (!key)
				return p->err;
			ws(p);
			if (p->s >= p->end || *p->s != ':') {
				free(key);
				return p->err = -EINVAL;
			}
			p->s++;
		}
		if (value(p, k, depth + 1)) {
			free(key);
			return p->err;
		}
		k->key = key;
		ws(p);
		if (p->s < p->end && *p->s == ',') {
			p->s++;
			continue;
		}
		if (p->s < p->end && *p->s == close) {
			p->s++;
			return 0;
		}
		return p->err = -EINVAL;
	}
}

static int value(struct jp *p, struct jv *v, int depth)
{
	char *e;

	if (depth > JV_MAX_DEPTH)
		return p->err = -EINVAL;
	ws(p);
	if (p->s >= p->end)
		return p->err = -EINVAL;
	switch (*p->s) {
	case '{':
		return container(p, v, depth, '}');
	case '[':
		return container(p, v, depth, ']');
	case '"':
		p->s++;
		v->t = JV_STR;
		v->str = pstring(p);
		return v->str ? 0 : p->err;
	case 't':
		if (p->end - p->s < 4 || memcmp(p->s, "true", 4))
			return p->err = -EINVAL;
		v->t = JV_BOOL;
		v->num = 1;
		p->s += 4;
		return 0;
	case 'f':
		if (p->end - p->s < 5 || memcmp(p->s, "false", 5))
			return p->err = -EINVAL;
		v->t = JV_BOOL;
		p->s += 5;
		return 0;
	case 'n':
		if (p->end - p->s < 4 || memcmp(p->s, "null", 4))
			return p->err = -EINVAL;
		v->t = JV_NULL;
		p->s += 4;
		return 0;
	default: {
		char buf[64];
		size_t k = 0;

		/* strtod needs a NUL: copy the number's characters */
		while (p->s + k < p->end && k < sizeof(buf) - 1 && strchr("+-0123456789.eE", p->s[k]))
			k++;
		if (!k || k == sizeof(buf) - 1)
			return p->err = -EINVAL;
		memcpy(buf, p->s, k);
		buf[k] = '\0';
		v->t = JV_NUM;
		v->num = strtod(buf, &e);
		if (e != buf + k)
			return p->err = -EINVAL;
		p->s += k;
		return 0;
	}
	}
}

struct jv *jv_parse(const char *s, size_t len)
{
	struct jp p = { .s = s, .end = s + len };
	struct jv *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (value(&p, v, 0)) {
		release(v);
		free(v);
		errno = p.err == -ENOMEM ? ENOMEM : EINVAL;
		return NULL;
	}
	return v;
}

void jv_free(struct jv *v)
{
	if (!v)
		return;
	release(v);
	free(v);
}

const struct jv *jv_get(const struct jv *o, const char *key)
{
	int i;

	if (!o || o->t != JV_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (o->kids[i].key && !strcmp(o->kids[i].key, key))
			return &o->kids[i];
	return NULL;
}

double jv_num(const struct jv *v, double def)
{
	return v && (v->t == JV_NUM || v->t == JV_BOOL) ? v->num : def;
}

const char *jv_str(const struct jv *v, const char *def)
{
	return v && v->t == JV_STR ? v->str : def;
}

const struct jv *jv_at(const struct jv *a, int i)
{
	return a && a->t == JV_ARR && i >= 0 && i < a->n ? &a->kids[i] : NULL;
}

int jv_len(const struct jv *a)
{
	return a && a->t == JV_ARR ? a->n : 0;
}
