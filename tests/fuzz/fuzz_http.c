/* fuzz_http.c - libFuzzer entry point for server/http.c.
 *
 * The input is treated as a client's byte stream, the way the server reads
 * it: heads, Content-Length or chunked bodies, pipelined requests, each
 * parse also tried on every prefix length class the server can see. The
 * checks: no crash or over-read (ASan), consumed counts within bounds,
 * returned pointers inside the input, only the documented statuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static int status_ok(int r)
{
	return r == -400 || r == -413 || r == -414 || r == -431 || r == -501 || r == -505;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf;
	size_t off = 0;
	char path[256];
	struct http_header hs[16];
	int rounds = 0;

	/* a private copy of exactly @size bytes: ASan catches any over-read */
	char *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	buf = copy;

	while (off < size && rounds++ < 64) {
		struct http_request req = { .headers = hs, .max_headers = 16 };
		int r = http_parse_request(buf + off, size - off, &req);

		if (r == HTTP_NEED_MORE)
			break;
		if (r < 0) {
			check(status_ok(r));
			break;
		}
		check((size_t)r <= size - off);
		check(req.method >= buf + off && req.method + req.method_len <= buf + off + r);
		check(req.target >= buf + off && req.target + req.target_len <= buf + off + r);
		for (unsigned i = 0; i < req.num_headers && i < 16; i++)
			check(hs[i].value >= buf + off && hs[i].value + hs[i].value_len <= buf + off + r);
		/* the same head cut one byte short is never complete */
		{
			struct http_request r2 = { 0 };
			int s = http_parse_request(buf + off, (size_t)r - 1, &r2);

			check(s == HTTP_NEED_MORE || s < 0);
		}
		{
			ssize_t n = http_path_decode(req.target, req.target_len, path, sizeof(path));

			check(n == -400 || n == -414 || (n >= 0 && (size_t)n < sizeof(path) &&
							 strlen(path) == (size_t)n));
		}
		off += (size_t)r;
		if (req.flags & HTTP_F_CHUNKED) {
			struct http_chunked ch;
			ssize_t n;

			check(!(req.flags & HTTP_F_LENGTH));
			http_chunked_init(&ch, 1 << 20);
			/* in two pieces, as two reads would deliver it */
			size_t half = (size - off) / 2;

			n = http_chunked_feed(&ch, buf + off, half);
			if (n < 0) {
				check(n == -400 || n == -413);
				break;
			}
			check((size_t)n <= half);
			off += (size_t)n;
			if (!http_chunked_is_done(&ch)) {
				check((size_t)n == half);
				n = http_chunked_feed(&ch, buf + off, size - off);
				if (n < 0) {
					check(n == -400 || n == -413);
					break;
				}
				check((size_t)n <= size - off);
				off += (size_t)n;
				if (!http_chunked_is_done(&ch))
					break;
			}
		} else if (req.flags & HTTP_F_LENGTH) {
			if (req.content_length > size - off)
				break;
			off += req.content_length;
		}
	}
	free(copy);
	return 0;
}
