/* http.c - HTTP/1.x request head parser and chunked-body decoder (RFC 9112).
 *
 * The head parser is stateless: it parses from the start of the buffer each
 * time and returns HTTP_NEED_MORE while the head is incomplete (the caller
 * bounds the head by its buffer size, so re-parsing costs at most
 * max-header-bytes per read). Every check reads only bytes below the end
 * pointer; the unit tests put the input right before a PROT_NONE page.
 *
 * Strictness, all per RFC 9112 / 9110, close the connection afterwards:
 *   whitespace between field name and colon, obs-fold, bare CR, NUL or other
 *   CTL in a field value, a CTL or non-ASCII byte in the request-target,
 *   Content-Length together with Transfer-Encoding, differing or malformed
 *   Content-Length, Transfer-Encoding in HTTP/1.0, chunked not last or twice,
 *   HTTP/1.1 without exactly one Host           -> 400
 *   a transfer coding other than chunked         -> 501
 *   HTTP major version other than 1              -> 505
 *   more than HTTP_MAX_HEADERS fields            -> 431
 *   Content-Length of more than 18 digits        -> 413
 * A bare LF is accepted as a line end in the head (RFC 9112 2.2 allows it);
 * chunked framing requires CRLF.
 */
#include "http.h"

#include <string.h>

/* tchar (RFC 9110 5.6.2): token characters */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* field-value octets: HTAB, SP, VCHAR, obs-text */
static inline int is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* request-target octets: VCHAR only (no obs-text, no space) */
static inline int is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* case-insensitive compare of @n bytes at @s with the lower-case @lit */
static inline int lit_eq(const char *s, const char *lit, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
			return 0;
	return 1;
}

#define NAME_IS(p, n, lit) ((n) == sizeof(lit) - 1 && lit_eq(p, lit, n))

/* Splits a comma list; calls back with each trimmed, non-empty element.
 * Returns the first non-zero callback result. */
typedef int (*elem_fn)(const char *e, size_t n, void *arg);
static int list_each(const char *v, size_t len, elem_fn fn, void *arg)
{
	size_t i = 0, s, t;
	int r;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		t = i;
		while (t > s && (v[t - 1] == ' ' || v[t - 1] == '\t'))
			t--;
		if (t > s && (r = fn(v + s, t - s, arg)))
			return r;
	}
	return 0;
}

static int conn_elem(const char *e, size_t n, void *arg)
{
	uint8_t *flags = arg;

	if (NAME_IS(e, n, "close"))
		*flags |= HTTP_F_CLOSE;
	else if (NAME_IS(e, n, "keep-alive"))
		*flags |= HTTP_F_KEEPALIVE;
	return 0;
}

static int te_elem(const char *e, size_t n, void *arg)
{
	uint8_t *flags = arg;
	size_t i;

	if (*flags & HTTP_F_CHUNKED)
		return -400;	/* anything after chunked, or chunked twice */
	if (NAME_IS(e, n, "chunked")) {
		*flags |= HTTP_F_CHUNKED;
		return 0;
	}
	for (i = 0; i < n && e[i] != ';'; i++)
		if (!tchar[(unsigned char)e[i]] && e[i] != ' ' && e[i] != '\t')
			return -400;
	return -501;	/* a coding we do not implement */
}

/* Interprets the fields the server acts on. Returns 0 or -STATUS. */
static int on_field(struct http_request *r, const char *n, size_t nl,
		    const char *v, size_t vl, int *te_seen)
{
	switch (nl) {
	case 4:
		if (lit_eq(n, "host", 4)) {
			if (r->flags & HTTP_F_HOST)
				return -400;
			r->flags |= HTTP_F_HOST;
		}
		break;
	case 6:
		if (lit_eq(n, "expect", 6))
			r->flags |= HTTP_F_EXPECT;
		break;
	case 10:
		if (lit_eq(n, "connection", 10))
			list_each(v, vl, conn_elem, &r->flags);
		break;
	case 14:
		if (lit_eq(n, "content-length", 14)) {
			uint64_t x = 0;
			size_t i;

			if (vl == 0)
				return -400;
			for (i = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -400;
				if (i >= 18)
					return -413;
				x = x * 10 + (uint64_t)(v[i] - '0');
			}
			if ((r->flags & HTTP_F_LENGTH) && x != r->content_length)
				return -400;
			r->flags |= HTTP_F_LENGTH;
			r->content_length = x;
		}
		break;
	case 17:
		if (lit_eq(n, "transfer-encoding", 17)) {
			int err;

			*te_seen = 1;
			err = list_each(v, vl, te_elem, &r->flags);
			if (err)
				return err;
		}
		break;
	}
	return 0;
}

/* Line end at @p: returns its length (1 for LF, 2 for CRLF), 0 if more
 * input is needed, -1 if it is not a valid line end. */
static inline int eol(const char *p, const char *e)
{
	if (*p == '\n')
		return 1;
	if (*p != '\r')
		return -1;
	if (p + 1 >= e)
		return 0;
	return p[1] == '\n' ? 2 : -1;
}

int http_parse_request(const char *buf, size_t len, struct http_request *r)
{
	const char *p = buf, *e = buf + len, *s;
	int te_seen = 0, n, err;
	size_t i;

	r->flags = 0;
	r->num_headers = 0;
	r->content_length = 0;

	/* RFC 9112 2.2: ignore empty lines before the request-line */
	while (p < e && (*p == '\r' || *p == '\n')) {
		n = eol(p, e);
		if (n == 0)
			return HTTP_NEED_MORE;
		if (n < 0)
			return -400;
		p += n;
	}

	/* method SP */
	s = p;
	while (p < e && tchar[(unsigned char)*p])
		p++;
	if (p == e)
		return HTTP_NEED_MORE;
	if (*p != ' ' || p == s || p - s > 64)
		return -400;
	r->method = s;
	r->method_len = (uint16_t)(p - s);
	p++;

	/* request-target SP */
	s = p;
	while (p < e && is_target_char((unsigned char)*p))
		p++;
	if (p == e)
		return p - s > 65535 ? -414 : HTTP_NEED_MORE;
	if (*p != ' ' || p == s)
		return -400;
	if (p - s > 65535)
		return -414;
	r->target = s;
	r->target_len = (uint16_t)(p - s);
	p++;

	/* HTTP-version: "HTTP/" DIGIT "." DIGIT, case-sensitive */
	for (i = 0; i < 8; i++) {
		static const char v[] = "HTTP/x.x";
		unsigned char c;

		if (p + i >= e)
			return HTTP_NEED_MORE;
		c = (unsigned char)p[i];
		if (v[i] == 'x' ? (c < '0' || c > '9') : c != (unsigned char)v[i])
			return -400;
	}
	if (p[5] != '1')
		return -505;
	r->minor = p[7] == '0' ? 0 : 1;
	p += 8;
	if (p == e)
		return HTTP_NEED_MORE;
	n = eol(p, e);
	if (n == 0)
		return HTTP_NEED_MORE;
	if (n < 0)
		return -400;
	p += n;

	/* field lines, then the empty line */
	for (;;) {
		const char *name, *val, *vend;
		size_t nl;

		if (p == e)
			return HTTP_NEED_MORE;
		if (*p == '\r' || *p == '\n') {
			n = eol(p, e);
			if (n == 0)
				return HTTP_NEED_MORE;
			if (n < 0)
				return -400;
			p += n;
			break;
		}
		/* field-name ":" - no whitespace before the colon, no obs-fold */
		name = p;
		while (p < e && tchar[(unsigned char)*p])
			p++;
		if (p == e)
			return HTTP_NEED_MORE;
		if (*p != ':' || p == name)
			return -400;
		nl = (size_t)(p - name);
		p++;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		val = p;
		while (p < e && is_value_char((unsigned char)*p))
			p++;
		if (p == e)
			return HTTP_NEED_MORE;
		vend = p;
		n = eol(p, e);
		if (n == 0)
			return HTTP_NEED_MORE;
		if (n < 0)
			return -400;	/* NUL, CTL or bare CR in a value */
		p += n;
		while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		if (nl > 65535 || vend - val > 65535)
			return -431;
		if (++r->num_headers > HTTP_MAX_HEADERS)
			return -431;
		if (r->headers && r->num_headers <= r->max_headers) {
			struct http_header *h = &r->headers[r->num_headers - 1];

			h->name = name;
			h->name_len = (uint16_t)nl;
			h->value = val;
			h->value_len = (uint16_t)(vend - val);
		}
		err = on_field(r, name, nl, val, (size_t)(vend - val), &te_seen);
		if (err)
			return err;
	}

	if (te_seen) {
		if (r->minor == 0 || (r->flags & HTTP_F_LENGTH))
			return -400;	/* RFC 9112 6.1 / 6.3: smuggling vectors */
		if (!(r->flags & HTTP_F_CHUNKED))
			return -400;	/* chunked not final: length unknown */
	}
	if (r->minor == 1 && !(r->flags & HTTP_F_HOST))
		return -400;
	return (int)(p - buf);
}

enum {
	CS_SIZE, CS_SIZE_LF, CS_DATA, CS_DATA_CR, CS_DATA_LF,
	CS_TRAILER, CS_TRAILER_LF, CS_DONE,
};

#define CHUNK_LINE_MAX 4096	/* bytes of a size line or trailer field */

void http_chunked_init(struct http_chunked *c, uint64_t max)
{
	memset(c, 0, sizeof(*c));
	c->max = max;
	c->state = CS_SIZE;
}

int http_chunked_is_done(const struct http_chunked *c)
{
	return c->state == CS_DONE;
}

ssize_t http_chunked_feed(struct http_chunked *c, const char *buf, size_t len)
{
	const char *p = buf, *e = buf + len;
	int v;

	while (p < e) {
		unsigned char ch = (unsigned char)*p;

		switch (c->state) {
		case CS_SIZE:
			if (++c->line > CHUNK_LINE_MAX)
				return -400;
			if (ch == '\r') {
				if (!c->digits)
					return -400;
				c->state = CS_SIZE_LF;
			} else if (c->in_ext == 2) {
				/* chunk-ext: ignored, but no CTLs */
				if (!is_value_char(ch))
					return -400;
			} else if (ch == ';') {
				if (!c->digits)
					return -400;
				c->in_ext = 2;
			} else if (ch == ' ' || ch == '\t') {
				if (!c->digits)
					return -400;
				c->in_ext = 1;	/* BWS: only ';' or CR may follow */
			} else if (c->in_ext == 0 && (v = hexval(ch)) >= 0) {
				if (c->digits >= 15)
					return -400;	/* > 2^60: nonsense */
				c->left = c->left * 16 + (uint64_t)v;
				c->digits++;
			} else {
				return -400;
			}
			p++;
			break;
		case CS_SIZE_LF:
			if (ch != '\n')
				return -400;
			p++;
			c->line = 0;
			if (c->left == 0) {
				c->state = CS_TRAILER;
				c->trailer_empty = 1;
				break;
			}
			c->total += c->left;
			if (c->max && c->total > c->max)
				return -413;
			c->state = CS_DATA;
			break;
		case CS_DATA: {
			size_t n = (size_t)(e - p);

			if (n > c->left)
				n = (size_t)c->left;
			p += n;
			c->left -= n;
			if (c->left == 0)
				c->state = CS_DATA_CR;
			break;
		}
		case CS_DATA_CR:
			if (ch != '\r')
				return -400;
			c->state = CS_DATA_LF;
			p++;
			break;
		case CS_DATA_LF:
			if (ch != '\n')
				return -400;
			c->state = CS_SIZE;
			c->digits = 0;
			c->in_ext = 0;
			c->line = 0;
			p++;
			break;
		case CS_TRAILER:
			if (ch == '\r') {
				c->state = CS_TRAILER_LF;
			} else if (c->trailer_empty) {
				if (!tchar[ch])
					return -400;	/* obs-fold or junk */
				c->trailer_empty = 0;
			} else if (!is_value_char(ch) || ++c->line > CHUNK_LINE_MAX) {
				return -400;
			}
			p++;
			break;
		case CS_TRAILER_LF:
			if (ch != '\n')
				return -400;
			p++;
			if (c->trailer_empty) {
				c->state = CS_DONE;
				return p - buf;
			}
			c->state = CS_TRAILER;
			c->trailer_empty = 1;
			c->line = 0;
			break;
		default:
			return p - buf;
		}
	}
	return p - buf;
}

ssize_t http_path_decode(const char *t, size_t len, char *out, size_t cap)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len && t[i] != '?' && t[i] != '#'; i++) {
		char ch = t[i];

		if (ch == '%') {
			if (i + 2 >= len)
				return -400;
			hi = hexval((unsigned char)t[i + 1]);
			lo = hexval((unsigned char)t[i + 2]);
			if (hi < 0 || lo < 0)
				return -400;
			ch = (char)(hi * 16 + lo);
			if (ch == 0)
				return -400;
			i += 2;
		}
		if (o + 1 >= cap)
			return -414;
		out[o++] = ch;
	}
	if (cap == 0)
		return -414;
	out[o] = 0;
	return (ssize_t)o;
}
