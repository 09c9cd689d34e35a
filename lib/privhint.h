/* privhint.h - the privilege to name in a "Permission denied" message. */
#ifndef QPS_PRIVHINT_H
#define QPS_PRIVHINT_H
#include <stddef.h>

/* For an error message that reports EACCES or EPERM but names no privilege
 * (no "root", no "CAP_"), a hint naming the one it needs, chosen by what the
 * message is about: " (needs root: CAP_SYS_ADMIN to enter another
 * namespace)", " (needs root, or CAP_BPF and CAP_PERFMON)", ... ; "" for any
 * other message. Static storage. */
const char *priv_hint(const char *msg);
/* Inserts priv_hint(@buf) into @buf (NUL-terminated, @size bytes) right
 * after the strerror text, when it fits: "cannot open 'x': Permission denied
 * (run as root); nothing changed". */
void priv_annotate(char *buf, size_t size);
#endif
