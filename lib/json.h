/* json.h - a small streaming JSON writer (no allocation, no DOM).
 *
 *   struct json j; json_init(&j, stdout);
 *   json_obj_open(&j, NULL);
 *     json_str(&j, "schema", "qps-tune.audit/1");
 *     json_arr_open(&j, "checks");
 *       json_obj_open(&j, NULL); json_int(&j, "n", 3); json_obj_close(&j);
 *     json_arr_close(&j);
 *   json_obj_close(&j);          -- prints a newline after the outermost close
 *
 * Keys are used inside objects and must be NULL inside arrays. Strings are
 * escaped per RFC 8259 (control bytes as \u00XX; invalid UTF-8 bytes too).
 */
#ifndef QPS_JSON_H
#define QPS_JSON_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
	FILE *out;
	int depth;
	bool first[JSON_MAX_DEPTH];	/* no member written yet at this depth */
	bool pretty;			/* indent two spaces per level */
};

void json_init(struct json *j, FILE *out);
void json_obj_open(struct json *j, const char *key);
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str(struct json *j, const char *key, const char *val);	/* NULL -> null */
void json_int(struct json *j, const char *key, long long val);
void json_uint(struct json *j, const char *key, unsigned long long val);
void json_double(struct json *j, const char *key, double val);	/* NaN/inf -> null */
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* Writes @s to @out as a quoted, escaped JSON string. */
void json_write_string(FILE *out, const char *s);
#endif
