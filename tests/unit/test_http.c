/* test_http.c - table-driven tests of server/http.c (RFC 9112).
 *
 * Every input is copied so that it ends right before a PROT_NONE page: a
 * read past the end crashes the test. Every request is also fed at every
 * split point: a prefix of a valid head must give HTTP_NEED_MORE; a prefix
 * of an invalid one HTTP_NEED_MORE or the same error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http.h"
#include "tap.h"

#define DATA_PAGES 8

static char *guard_end;	/* first byte of the PROT_NONE page */

static void guard_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *base = mmap(NULL, (size_t)pg * (DATA_PAGES + 1), PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED || mprotect(base + pg * DATA_PAGES, (size_t)pg, PROT_NONE)) {
		printf("Bail out! cannot map the guard page\n");
		exit(1);
	}
	guard_end = base + pg * DATA_PAGES;
}

/* @s (@n bytes) placed so that its last byte is the last readable one */
static const char *at_guard(const char *s, size_t n)
{
	char *p = guard_end - n;

	memmove(p, s, n);
	return p;
}

#define FULL 0		/* want: the whole input is the head */

static const struct hcase {
	const char *name;
	const char *req;
	size_t len;	/* 0: strlen(req) */
	int want;	/* FULL, or -STATUS */
} hcases[] = {
	/* valid */
	{ "minimal 1.1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, FULL },
	{ "typical", "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n", 0, FULL },
	{ "1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, FULL },
	{ "HEAD", "HEAD /json HTTP/1.1\r\nHost: a\r\n\r\n", 0, FULL },
	{ "leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, FULL },
	{ "bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 0, FULL },
	{ "Content-Length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", 0, FULL },
	{ "chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 0, FULL },
	{ "chunked mixed case", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", 0, FULL },
	{ "Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, FULL },
	{ "1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, FULL },
	{ "empty value, no OWS", "GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\n\r\n", 0, FULL },
	{ "trailing OWS", "GET / HTTP/1.1\r\nHost: a \t \r\n\r\n", 0, FULL },
	{ "HTTP/1.2 as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, FULL },
	{ "obs-text value", "GET / HTTP/1.1\r\nHost: a\r\nX: \xe9t\xe9\r\n\r\n", 0, FULL },
	{ "query", "GET /a?b=c&d=%20 HTTP/1.1\r\nHost: a\r\n\r\n", 0, FULL },
	{ "same Content-Length twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, FULL },
	{ "absolute-form", "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, FULL },
	{ "tchar method", "M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n", 0, FULL },
	/* invalid: 400 */
	{ "space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, -400 },
	{ "tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, -400 },
	{ "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 0, -400 },
	{ "obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 0, -400 },
	{ "NUL in value", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 27, -400 },
	{ "NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 29, -400 },
	{ "NUL in method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 26, -400 },
	{ "NUL in name", "GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n", 27, -400 },
	{ "CTL in value", "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 0, -400 },
	{ "DEL in target", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "bare CR in request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, -400 },
	{ "bare CR in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 0, -400 },
	{ "bare CR as empty line", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 0, -400 },
	{ "CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400 },
	{ "TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, -400 },
	{ "differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, -400 },
	{ "CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 0, -400 },
	{ "CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 0, -400 },
	{ "CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 0, -400 },
	{ "CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 0, -400 },
	{ "CL plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 0, -400 },
	{ "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400 },
	{ "chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, -400 },
	{ "chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400 },
	{ "TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 0, -400 },
	{ "1.1 without Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 0, -400 },
	{ "two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, -400 },
	{ "lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "bad version", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "version junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 0, -400 },
	{ "version letters", "GET / HTTP/a.b\r\nHost: a\r\n\r\n", 0, -400 },
	{ "double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "no target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "bad method char", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400 },
	{ "empty name", "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 0, -400 },
	{ "no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 0, -400 },
	{ "HTTP/0.9 style", "GET /\r\n\r\n", 0, -400 },
	/* other statuses */
	{ "gzip coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 0, -501 },
	{ "gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, -501 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, -505 },
	{ "HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 0, -505 },
	{ "huge CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 0, -413 },
};

static int run_head_case(const struct hcase *c)
{
	size_t len = c->len ? c->len : strlen(c->req), k;
	int want = c->want == FULL ? (int)len : c->want, r, bad_split = -1, bad_r = 0;
	struct http_request req;
	const char *p;

	p = at_guard(c->req, len);
	req.headers = NULL;
	r = http_parse_request(p, len, &req);
	for (k = 0; k < len; k++) {
		int rk;

		p = at_guard(c->req, k);
		req.headers = NULL;
		rk = http_parse_request(p, k, &req);
		if (rk != HTTP_NEED_MORE && !(c->want != FULL && rk == c->want)) {
			bad_split = (int)k;
			bad_r = rk;
			break;
		}
	}
	if (!tap_ok(r == want && bad_split < 0, "head: %s -> %d", c->name, want)) {
		tap_diag("got %d for the whole input", r);
		if (bad_split >= 0)
			tap_diag("prefix of %d bytes gave %d", bad_split, bad_r);
		return 0;
	}
	return 1;
}

/* field extraction on a few heads */
static void test_fields(void)
{
	struct http_header hs[8];
	struct http_request r = { .headers = hs, .max_headers = 8 };
	const char *s = "POST /up?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n"
			"Connection: keep-alive, close\r\nX-A:  v v \r\n\r\n";
	const char *p = at_guard(s, strlen(s));
	int n = http_parse_request(p, strlen(s), &r);

	tap_ok(n == (int)strlen(s), "fields: length");
	tap_ok(r.method_len == 4 && memcmp(r.method, "POST", 4) == 0, "fields: method");
	tap_ok(r.target_len == 7 && memcmp(r.target, "/up?x=1", 7) == 0, "fields: target");
	tap_ok(r.minor == 1, "fields: minor version");
	tap_ok((r.flags & HTTP_F_LENGTH) && r.content_length == 42, "fields: Content-Length 42");
	tap_ok((r.flags & HTTP_F_CLOSE) && (r.flags & HTTP_F_KEEPALIVE) && (r.flags & HTTP_F_HOST),
	       "fields: Connection tokens, Host");
	tap_ok(r.num_headers == 4 && hs[3].name_len == 3 && hs[3].value_len == 3 &&
	       memcmp(hs[3].value, "v v", 3) == 0, "fields: value trimmed of OWS");

	s = "GET / HTTP/1.0\r\n\r\n";
	p = at_guard(s, strlen(s));
	r.headers = NULL;
	n = http_parse_request(p, strlen(s), &r);
	tap_ok(n == (int)strlen(s) && r.minor == 0 && r.flags == 0, "fields: HTTP/1.0, no flags");

	s = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
	p = at_guard(s, strlen(s));
	n = http_parse_request(p, strlen(s), &r);
	tap_ok(n > 0 && (r.flags & HTTP_F_CHUNKED) && !(r.flags & HTTP_F_LENGTH), "fields: chunked flag");

	/* pipelined: only the first head is consumed */
	s = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	p = at_guard(s, strlen(s));
	n = http_parse_request(p, strlen(s), &r);
	tap_ok(n == (int)strlen(s) / 2 && r.target_len == 2 && r.target[1] == 'a',
	       "fields: pipelined heads parse one at a time");
}

static void test_too_many_headers(void)
{
	char buf[8192];
	size_t o = 0;
	int i, r;
	struct http_request req = { 0 };

	o += (size_t)sprintf(buf + o, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		o += (size_t)sprintf(buf + o, "X-%d: v\r\n", i);
	o += (size_t)sprintf(buf + o, "\r\n");
	r = http_parse_request(at_guard(buf, o), o, &req);
	tap_ok(r == -431, "head: %d fields -> 431 (got %d)", HTTP_MAX_HEADERS + 1, r);
	/* exactly the maximum is fine */
	o = 0;
	o += (size_t)sprintf(buf + o, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < HTTP_MAX_HEADERS - 1; i++)
		o += (size_t)sprintf(buf + o, "X-%d: v\r\n", i);
	o += (size_t)sprintf(buf + o, "\r\n");
	r = http_parse_request(at_guard(buf, o), o, &req);
	tap_ok(r == (int)o, "head: %d fields accepted", HTTP_MAX_HEADERS);
}

static const struct ccase {
	const char *name;
	const char *body;
	uint64_t max;
	int want;	/* 0: valid, whole body consumed; -STATUS */
	size_t rest;	/* valid: bytes after the body that must stay unconsumed */
} ccases[] = {
	{ "one chunk", "5\r\nhello\r\n0\r\n\r\n", 0, 0, 0 },
	{ "two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, 0, 0 },
	{ "hex upper/lower", "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", 0, 0, 0 },
	{ "extension", "5;name=val;x\r\nhello\r\n0;last\r\n\r\n", 0, 0, 0 },
	{ "BWS before ext", "5 ;x=1\r\nhello\r\n0\r\n\r\n", 0, 0, 0 },
	{ "trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", 0, 0, 0 },
	{ "leading zeros", "0005\r\nhello\r\n000\r\n\r\n", 0, 0, 0 },
	{ "next request follows", "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 0, 0, 16 },
	{ "at the limit", "a\r\n0123456789\r\n0\r\n\r\n", 10, 0, 0 },
	{ "over the limit", "b\r\n0123456789a\r\n0\r\n\r\n", 10, -413, 0 },
	{ "over the limit in sum", "6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n", 10, -413, 0 },
	{ "not hex", "z\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "empty size", "\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "negative", "-5\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "size overflow", "10000000000000000\r\nx\r\n", 0, -400, 0 },
	{ "LF only after size", "5\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", 0, -400, 0 },
	{ "LF only after data", "5\r\nhello\n0\r\n\r\n", 0, -400, 0 },
	{ "junk after size", "5 x\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "space inside size", "1 0\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "CTL in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", 0, -400, 0 },
	{ "obs-fold in trailer", "0\r\nX: a\r\n b\r\n\r\n", 0, -400, 0 },
	{ "bare CR in trailer", "0\r\nX: a\rb\r\n\r\n", 0, -400, 0 },
};

/* Feeds @len bytes at @p in pieces of @step (0: split once at @split).
 * Returns consumed bytes, or the error. */
static ssize_t feed(const struct ccase *c, const char *p, size_t len, size_t step, size_t split)
{
	struct http_chunked ch;
	size_t off = 0;

	http_chunked_init(&ch, c->max);
	while (off < len && !http_chunked_is_done(&ch)) {
		size_t n = step ? step : (off < split ? split - off : len - off);
		ssize_t r;

		if (n > len - off)
			n = len - off;
		/* each piece sits at the guard page too */
		r = http_chunked_feed(&ch, at_guard(p + off, n), n);
		if (r < 0)
			return r;
		if ((size_t)r < n && !http_chunked_is_done(&ch))
			return -9999;	/* left bytes without being done */
		off += (size_t)r;
		if ((size_t)r < n)
			break;
	}
	return http_chunked_is_done(&ch) ? (ssize_t)off : -1;
}

static void run_chunk_case(const struct ccase *c)
{
	size_t len = strlen(c->body), k, want_len = len - c->rest;
	ssize_t r, rk;
	int ok = 1;
	char src[256];

	memcpy(src, c->body, len);
	r = feed(c, src, len, 0, len);
	if (c->want == 0)
		ok = r == (ssize_t)want_len;
	else
		ok = r == c->want;
	rk = feed(c, src, len, 1, 0);
	if (rk != r)
		ok = 0;
	for (k = 1; k < len && ok; k++)
		if (feed(c, src, len, 0, k) != r)
			ok = 0;
	if (!tap_ok(ok, "chunked: %s -> %d", c->name, c->want ? c->want : (int)want_len))
		tap_diag("whole: %zd, byte by byte: %zd", r, rk);
}

static void test_path_decode(void)
{
	char out[32];
	ssize_t n;

	n = http_path_decode("a%2Fb%2e%2E/c?x=%00", 19, out, sizeof(out));
	tap_ok(n == 7 && strcmp(out, "a/b../c") == 0,
	       "path: %%XX decoded, query cut (got '%s')", n >= 0 ? out : "");
	tap_ok(http_path_decode("a%00b", 5, out, sizeof(out)) == -400, "path: %%00 -> 400");
	tap_ok(http_path_decode("a%zzb", 5, out, sizeof(out)) == -400, "path: bad escape -> 400");
	tap_ok(http_path_decode(at_guard("ab%2", 4), 4, out, sizeof(out)) == -400,
	       "path: truncated escape at the guard page -> 400");
	tap_ok(http_path_decode(at_guard("ab%", 3), 3, out, sizeof(out)) == -400,
	       "path: lone %% at the guard page -> 400");
	tap_ok(http_path_decode("0123456789", 10, out, 8) == -414, "path: too long -> 414");
}

int main(void)
{
	size_t i;

	guard_init();
	for (i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++)
		run_head_case(&hcases[i]);
	test_fields();
	test_too_many_headers();
	for (i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++)
		run_chunk_case(&ccases[i]);
	test_path_decode();
	return tap_done(0);
}
