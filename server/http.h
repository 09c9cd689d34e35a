/* http.h - HTTP/1.x request parser (RFC 9112). Never allocates, never copies:
 * every pointer it returns points into the caller's buffer.
 *
 * Errors already are HTTP statuses: a negative return is -STATUS
 * (-400, -413, -431, -501, -505), so the caller answers with that status and,
 * because the framing of the stream can no longer be trusted, closes the
 * connection.
 */
#ifndef QPS_HTTP_H
#define QPS_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_NEED_MORE	(-2)	/* incomplete input: call again with more */
#define HTTP_MAX_HEADERS 100	/* more header fields than this: -431 */

/* Request flags, derived from the header fields while parsing. */
#define HTTP_F_CLOSE	  0x01	/* Connection: close */
#define HTTP_F_KEEPALIVE  0x02	/* Connection: keep-alive */
#define HTTP_F_CHUNKED	  0x04	/* Transfer-Encoding: ...chunked */
#define HTTP_F_LENGTH	  0x08	/* Content-Length present */
#define HTTP_F_HOST	  0x10	/* Host present */
#define HTTP_F_EXPECT	  0x20	/* Expect present (we never send 100) */

struct http_header {
	const char *name;
	const char *value;
	uint16_t name_len;
	uint16_t value_len;	/* trailing whitespace already trimmed */
};

struct http_request {
	const char *method;
	const char *target;	/* request-target as sent (origin form) */
	uint16_t method_len;
	uint16_t target_len;
	uint8_t minor;		/* HTTP/1.<minor>: 0 or 1 (1.x with x>1 -> 1) */
	uint8_t flags;		/* HTTP_F_* */
	uint16_t num_headers;	/* fields seen (also those not stored) */
	uint64_t content_length;	/* bytes; valid with HTTP_F_LENGTH */
	/* Optional: the caller points @headers at @max_headers slots to get
	 * the fields; NULL keeps nothing (the server does not need them). */
	struct http_header *headers;
	unsigned max_headers;
};

/* Parses one request head (request-line + fields + empty line) at @buf.
 * Returns >0: bytes the head takes (the body, if any, follows);
 * HTTP_NEED_MORE (-2): a valid prefix, call again with more input;
 * -STATUS: malformed (see the top of this file). Reads no byte past
 * @buf[@len - 1]. @req is only meaningful after a >0 return. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Streaming decoder of a chunked body, for discarding it.
 *   SIZE --hex digits, [;ext], CRLF--> DATA --size bytes--> DATA_CR --CRLF--> SIZE
 *   SIZE with size 0 ----------------> TRAILER --(fields, empty line)--> DONE
 */
struct http_chunked {
	uint64_t left;		/* DATA: bytes left in this chunk */
	uint64_t total;		/* data bytes so far */
	uint64_t max;		/* total above this: -413 (0: no limit) */
	uint32_t line;		/* bytes in the current size/trailer line */
	uint8_t state;
	uint8_t digits;		/* hex digits seen in the size */
	uint8_t in_ext;		/* inside a chunk extension */
	uint8_t trailer_empty;	/* current trailer line is empty so far */
};

/* Starts a body of at most @max data bytes (0: unlimited). */
void http_chunked_init(struct http_chunked *c, uint64_t max);
/* Consumes chunked framing and data from @buf. Returns the bytes consumed
 * (all of @len unless the body ended inside @buf; the rest is the next
 * request) or -400 (bad framing) / -413 (body over the limit). */
ssize_t http_chunked_feed(struct http_chunked *c, const char *buf, size_t len);
/* true once the terminating chunk and trailer section were consumed */
int http_chunked_is_done(const struct http_chunked *c);

/* Decodes %XX escapes of the path part (up to '?') of @target into @out
 * (@cap bytes incl. the NUL). Returns the decoded length, -414 if it does
 * not fit, -400 for a bad escape or a decoded NUL. */
ssize_t http_path_decode(const char *target, size_t len, char *out, size_t cap);

#endif
