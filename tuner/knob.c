/* knob.c - the sysctl knowledge table (see knob.h). Scope values were measured
 * on 6.18 by listing and writing /proc/sys/net in a fresh `unshare -n`. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "knob.h"

#define I32 2147483647LL

static const struct knob_info knobs[] = {
	/* accept path */
	{ "net.core.somaxconn", "LQ-001", "high", KNOB_NETNS, 1, 0, I32,
	  "listen() silently caps every backlog at somaxconn" },
	{ "net.ipv4.tcp_max_syn_backlog", "LQ-004", "med", KNOB_NETNS, 1, 0, I32,
	  "the SYN queue should hold at least an accept queue's worth of handshakes" },
	{ "net.ipv4.tcp_syncookies", "LQ-005", "high", KNOB_NETNS, 1, 0, 2,
	  "without SYN cookies a full SYN queue drops new connections; 2 (always) is a test mode" },
	{ "net.ipv4.tcp_abort_on_overflow", "LQ-006", "low", KNOB_NETNS, 1, 0, 1,
	  "with 1 an accept-queue overflow sends RST instead of letting the client retry" },
	{ "net.ipv4.tcp_migrate_req", "LQ-008", "low", KNOB_NETNS, 1, 0, 1,
	  "keeps queued handshakes when one SO_REUSEPORT listener closes" },
	{ "net.ipv4.tcp_synack_retries", "LQ-009", "low", KNOB_NETNS, 1, 0, 255,
	  "fewer SYN-ACK retries shorten half-open lifetime under floods" },
	{ "net.ipv4.tcp_fastopen", "LQ-010", "info", KNOB_NETNS, 1, 0, 0x7ff,
	  "TCP Fast Open saves a round trip when clients and the app use it" },
	/* descriptors and process limits */
	{ "fs.file-max", "FD-003", "high", KNOB_GLOBAL, 1, 0, LLONG_MAX,
	  "system-wide file table: at the limit every accept() fails with ENFILE" },
	{ "fs.nr_open", "FD-002", "high", KNOB_GLOBAL, 1, 1024, 1073741816LL,
	  "ceiling of RLIMIT_NOFILE: a nofile target above it fails with EPERM" },
	{ "kernel.pid_max", "MEM-003", "med", KNOB_GLOBAL, 1, 301, 4194304,
	  "thread-per-connection servers need pids for every thread" },
	{ "kernel.threads-max", "MEM-003", "med", KNOB_GLOBAL, 1, 20, 1073741823LL,
	  "thread-per-connection servers need a thread per connection" },
	/* ports and TIME-WAIT */
	{ "net.ipv4.ip_local_port_range", "PORT-001", "high", KNOB_NETNS, 2, 1, 65535,
	  "outbound connections to one upstream are limited by the ephemeral range" },
	{ "net.ipv4.tcp_tw_reuse", "PORT-003", "med", KNOB_NETNS, 1, 0, 2,
	  "reusing TIME-WAIT sockets for outbound connects avoids port exhaustion" },
	{ "net.ipv4.tcp_timestamps", "PORT-004", "low", KNOB_NETNS, 1, 0, 2,
	  "timestamps are needed by tw_reuse and PAWS" },
	{ "net.ipv4.tcp_fin_timeout", "PORT-006", "low", KNOB_NETNS, 1, 0, I32,
	  "FIN-WAIT-2 sockets hold memory and ports this long" },
	{ "net.ipv4.tcp_max_tw_buckets", "PORT-007", "med", KNOB_NETNS, 1, 0, I32,
	  "past this many TIME-WAIT sockets the kernel kills them early" },
	/* buffers */
	{ "net.ipv4.tcp_rmem", "BUF-001", "med", KNOB_NETNS, 3, 1, I32,
	  "a receive-buffer ceiling below the kernel default caps throughput" },
	{ "net.ipv4.tcp_wmem", "BUF-001", "med", KNOB_NETNS, 3, 1, I32,
	  "a send-buffer ceiling below the kernel default caps throughput" },
	{ "net.core.rmem_max", "BUF-005", "low", KNOB_HOST_RO, 1, 0, I32,
	  "caps SO_RCVBUF set explicitly by the app" },
	{ "net.core.wmem_max", "BUF-005", "low", KNOB_HOST_RO, 1, 0, I32,
	  "caps SO_SNDBUF set explicitly by the app" },
	{ "net.core.rmem_default", "BUF-005", "low", KNOB_HOST_RO, 1, 0, I32,
	  "default receive buffer of non-TCP sockets" },
	{ "net.core.wmem_default", "BUF-005", "low", KNOB_HOST_RO, 1, 0, I32,
	  "default send buffer of non-TCP sockets" },
	{ "net.ipv4.tcp_slow_start_after_idle", "BUF-004", "low", KNOB_NETNS, 1, 0, 1,
	  "idle keep-alive connections restart from a small congestion window" },
	{ "net.ipv4.tcp_notsent_lowat", "BUF-006", "low", KNOB_NETNS, 1, 0, 4294967295LL,
	  "less unsent data queued in the kernel for prioritised protocols" },
	{ "net.ipv4.tcp_mem", "BUF-002", "med", KNOB_HOST_ABSENT, 3, 0, LLONG_MAX,
	  "global TCP memory pressure shrinks windows and prunes queues" },
	{ "net.ipv4.tcp_max_orphans", "BUF-003", "med", KNOB_HOST_ABSENT, 1, 0, I32,
	  "past the limit orphaned sockets are reset" },
	/* packet path */
	{ "net.core.netdev_max_backlog", "PKT-001", "high", KNOB_HOST_ABSENT, 1, 1, I32,
	  "per-CPU input queue: when full, softnet drops packets" },
	{ "net.core.netdev_budget", "PKT-002", "med", KNOB_HOST_ABSENT, 1, 1, I32,
	  "NAPI budget per softirq run: too small shows as time_squeeze" },
	{ "net.core.netdev_budget_usecs", "PKT-002", "med", KNOB_HOST_ABSENT, 1, 1, I32,
	  "NAPI time budget per softirq run" },
	{ "net.core.rps_sock_flow_entries", "PKT-006", "low", KNOB_HOST_ABSENT, 1, 0, I32,
	  "RFS steers packets to the CPU where the consuming thread runs" },
	{ "net.core.busy_read", "PKT-007", "info", KNOB_HOST_ABSENT, 1, 0, I32,
	  "busy polling trades CPU for latency" },
	{ "net.core.busy_poll", "PKT-007", "info", KNOB_HOST_ABSENT, 1, 0, I32,
	  "busy polling trades CPU for latency" },
	/* CPU and memory */
	{ "kernel.numa_balancing", "CPU-004", "med", KNOB_GLOBAL, 1, 0, 3,
	  "NUMA page migration stalls latency-sensitive threads" },
	{ "vm.swappiness", "MEM-002", "low", KNOB_GLOBAL, 1, 0, 200,
	  "paging the working set out adds latency" },
	{ "net.netfilter.nf_conntrack_max", "CT-001", "high", KNOB_HOST_RO, 1, 0, I32,
	  "a full conntrack table drops new connections silently" },
};

const struct knob_info *knob_all(size_t *n)
{
	*n = sizeof(knobs) / sizeof(knobs[0]);
	return knobs;
}

const struct knob_info *knob_lookup(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (!strcmp(knobs[i].key, key))
			return &knobs[i];
	return NULL;
}

enum knob_scope knob_scope(const char *key)
{
	const struct knob_info *k = knob_lookup(key);

	if (k)
		return k->scope;
	if (!strncmp(key, "net.", 4))
		return KNOB_NETNS;
	return KNOB_GLOBAL;
}

bool knob_is_host(const char *key)
{
	return knob_scope(key) != KNOB_NETNS;
}

/* 6.16 raised the tcp_rmem ceiling default from 6 MiB to 32 MiB. */
static bool kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return false;
	return a > maj || (a == maj && b >= min);
}

int knob_default(const char *key, int field, long long *val)
{
	static const struct { const char *key; long long v[3]; int n; } d[] = {
		{ "net.core.somaxconn", { 4096 }, 1 },
		{ "net.ipv4.tcp_syncookies", { 1 }, 1 },
		{ "net.ipv4.tcp_abort_on_overflow", { 0 }, 1 },
		{ "net.ipv4.tcp_wmem", { 4096, 16384, 4194304 }, 3 },
		{ "net.ipv4.ip_local_port_range", { 32768, 60999 }, 2 },
		{ "net.ipv4.tcp_tw_reuse", { 2 }, 1 },
		{ "net.ipv4.tcp_timestamps", { 1 }, 1 },
		{ "net.ipv4.tcp_fin_timeout", { 60 }, 1 },
		{ "net.ipv4.tcp_slow_start_after_idle", { 1 }, 1 },
		{ "net.ipv4.tcp_migrate_req", { 0 }, 1 },
		{ "net.ipv4.tcp_synack_retries", { 5 }, 1 },
		{ "net.core.netdev_max_backlog", { 1000 }, 1 },
		{ "net.core.netdev_budget", { 300 }, 1 },
		{ "net.core.rps_sock_flow_entries", { 0 }, 1 },
		{ "net.core.busy_read", { 0 }, 1 },
		{ "net.core.busy_poll", { 0 }, 1 },
		{ "fs.nr_open", { 1048576 }, 1 },
		{ "vm.swappiness", { 60 }, 1 },
	};
	size_t i;
	int f = field < 0 ? 0 : field;

	if (!strcmp(key, "net.ipv4.tcp_rmem")) {
		long long v[3] = { 4096, 131072, kernel_at_least(6, 16) ? 33554432 : 6291456 };

		if (f > 2)
			return -ENOENT;
		*val = v[f];
		return 0;
	}
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		if (strcmp(d[i].key, key))
			continue;
		if (f >= d[i].n)
			return -ENOENT;
		*val = d[i].v[f];
		return 0;
	}
	return -ENOENT;
}

int knob_fields(const char *val, long long *f, int max)
{
	const char *p = val;
	int n = 0;

	while (*p) {
		char *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == max)
			return -EINVAL;
		errno = 0;
		f[n] = strtoll(p, &end, 10);
		if (end == p || errno || (*end && *end != ' ' && *end != '\t'))
			return -EINVAL;
		n++;
		p = end;
	}
	return n ? n : -EINVAL;
}

bool knob_key_valid(const char *key)
{
	const char *p;
	int dots = 0;
	bool part_empty = true;

	if (strlen(key) >= 96)
		return false;
	for (p = key; *p; p++) {
		if (*p == '.') {
			if (part_empty)
				return false;
			dots++;
			part_empty = true;
		} else if (islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
			   *p == '_' || *p == '-' || isupper((unsigned char)*p)) {
			part_empty = false;
		} else {
			return false;
		}
	}
	return dots >= 1 && !part_empty;
}
