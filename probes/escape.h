/* escape.h - names from other processes made safe to print.
 *
 * A comm, a symbol name or a path is chosen by whoever owns the process or
 * file: it may hold newlines, ';' (the --folded frame separator), terminal
 * escapes or bytes that are not UTF-8. escape_name() renders such a name so
 * that one name stays one token on one line:
 *   '\\' -> "\\\\"; ';', control characters (C0, DEL, and C1 U+0080..U+009F),
 *   and every byte of invalid UTF-8 -> "\\xNN"; valid UTF-8 is kept.
 * The mapping is injective: distinct names never print the same.
 */
#ifndef QPS_PROBE_ESCAPE_H
#define QPS_PROBE_ESCAPE_H
#include <stddef.h>

/* Escaped size of a 16-byte comm, NUL included (4 bytes out per byte in). */
#define ESCAPE_COMM_MAX (16 * 4 + 1)

/* Writes the escaped form of the first @len bytes of @src (stopping at a NUL)
 * into @dst (always NUL-terminated when @size > 0). Returns the length the
 * escaped form needs, NUL excluded, like snprintf: >= @size means cut short. */
size_t escape_name(char *dst, size_t size, const char *src, size_t len);
/* The escaped form of the string @src, on the heap (free() it); NULL and
 * errno on failure. */
char *escape_dup(const char *src);
/* A kernel comm (at most 16 bytes, maybe not NUL-terminated) escaped into
 * @dst; returns @dst. */
char *escape_comm(char dst[ESCAPE_COMM_MAX], const char *comm);

#endif
