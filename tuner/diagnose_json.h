/* diagnose_json.h - a small JSON reader for the documents the probes print
 * (`qps-tune probe NAME --json`), which diagnose runs as children. A tree of
 * values; input is never trusted: depth and size are bounded. */
#ifndef QPS_DIAGNOSE_JSON_H
#define QPS_DIAGNOSE_JSON_H
#include <stdbool.h>
#include <stddef.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type t;
	double num;		/* JV_NUM; JV_BOOL: 0 or 1 */
	char *str;		/* JV_STR, NUL-terminated (a NUL inside is cut there) */
	char *key;		/* member name when inside an object */
	struct jv *kids;	/* JV_ARR elements / JV_OBJ members */
	int n;
};

/* Parses the first JSON value of @s (@len bytes; trailing bytes ignored).
 * Returns a tree the caller frees with jv_free, or NULL with errno EINVAL
 * (malformed, deeper than 64) or ENOMEM. */
struct jv *jv_parse(const char *s, size_t len);
void jv_free(struct jv *v);	/* NULL is a no-op */
/* Member @key of object @o; NULL if @o is NULL, not an object, or lacks it. */
const struct jv *jv_get(const struct jv *o, const char *key);
/* The number of @v, or @def when @v is NULL or not a number. */
double jv_num(const struct jv *v, double def);
/* The string of @v, or @def when @v is NULL or not a string. */
const char *jv_str(const struct jv *v, const char *def);
/* Element @i of array @a, NULL if out of range or not an array. */
const struct jv *jv_at(const struct jv *a, int i);
/* Elements of an array (0 if not an array). */
int jv_len(const struct jv *a);
#endif
