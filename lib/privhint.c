/* privhint.c - see privhint.h. The two reporters (qps-tune's cli_err and
 * the probes' probe_err) append it, so a permission error says what to do
 * even when it comes from a place that did not add a hint itself. */
#include "privhint.h"

#include <errno.h>
#include <string.h>

const char *priv_hint(const char *msg)
{
	static const struct {
		const char *word;	/* the message mentions it */
		const char *hint;
	} by_topic[] = {
		{ "BPF", " (needs root, or CAP_BPF and CAP_PERFMON)" },
		{ "bpf", " (needs root, or CAP_BPF and CAP_PERFMON)" },
		{ "perf_event", " (needs root, or CAP_BPF and CAP_PERFMON)" },
		{ "namespace", " (needs root: CAP_SYS_ADMIN to enter another namespace)" },
		{ "nofile", " (needs root: CAP_SYS_RESOURCE)" },
		{ "limit", " (needs root: CAP_SYS_RESOURCE)" },
		{ "/proc/sys/net/", " (needs root: CAP_NET_ADMIN)" },
		{ "net.", " (needs root: CAP_NET_ADMIN)" },
		{ "/proc/sys/", " (needs root: CAP_SYS_ADMIN)" },
	};
	size_t i;

	if (!strstr(msg, strerror(EACCES)) && !strstr(msg, strerror(EPERM)))
		return "";
	if (strstr(msg, "root") || strstr(msg, "CAP_"))
		return "";
	for (i = 0; i < sizeof(by_topic) / sizeof(by_topic[0]); i++)
		if (strstr(msg, by_topic[i].word))
			return by_topic[i].hint;
	return " (run as root)";
}

void priv_annotate(char *buf, size_t size)
{
	const char *hint = priv_hint(buf);
	size_t len = strlen(buf), hl = strlen(hint);
	char *at;

	if (!hl || len + hl >= size)
		return;
	at = strstr(buf, strerror(EACCES));
	if (at)
		at += strlen(strerror(EACCES));
	else if ((at = strstr(buf, strerror(EPERM))))
		at += strlen(strerror(EPERM));
	else
		return;
	memmove(at + hl, at, len - (size_t)(at - buf) + 1);
	memcpy(at, hint, hl);
}
