/* escape.c - printable, unforgeable names (see escape.h). */
#include "escape.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if none.
 * Overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	/* C1 controls (U+0080..U+009F): 0x9b is a CSI on some terminals */
	if (len == 2 && cp < 0xa0)
		return 0;
	return len;
}

size_t escape_name(char *dst, size_t size, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strnlen(src, len), i = 0, out = 0;

	while (i < n) {
		char tmp[4];
		size_t k = 0, ul = 0, j;

		if (s[i] == '\\') {
			tmp[k++] = '\\';
			tmp[k++] = '\\';
		} else if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != ';') {
			tmp[k++] = (char)s[i];
		} else if (s[i] >= 0x80 && (ul = utf8_len(s + i, n - i))) {
			for (j = 0; j < ul; j++, out++)
				if (out + 1 < size)
					dst[out] = (char)s[i + j];
			i += ul;
			continue;
		} else {
			tmp[k++] = '\\';
			tmp[k++] = 'x';
			tmp[k++] = hex[s[i] >> 4];
			tmp[k++] = hex[s[i] & 15];
		}
		for (j = 0; j < k; j++, out++)
			if (out + 1 < size)
				dst[out] = tmp[j];
		i++;
	}
	if (size)
		dst[out < size ? out : size - 1] = 0;
	return out;
}

char *escape_dup(const char *src)
{
	size_t need = escape_name(NULL, 0, src, SIZE_MAX);
	char *p = malloc(need + 1);

	if (p)
		escape_name(p, need + 1, src, SIZE_MAX);
	return p;
}

char *escape_comm(char dst[ESCAPE_COMM_MAX], const char *comm)
{
	escape_name(dst, ESCAPE_COMM_MAX, comm, 16);
	return dst;
}
