/* privhint.h - the privilege to name in a "Permission denied" message. */
#ifndef QPS_PRIVHINT_H
#define QPS_PRIVHINT_H
#include <stddef.h>
#include <linux/capability.h>

/* Capabilities newer than some build hosts' headers (Linux 5.8) */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

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
