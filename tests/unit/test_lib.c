/* test_lib.c - lib/: JSON escaping, sysctl helpers, SNMP counters, sock_diag. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"
#include "procfs.h"
#include "sockdiag.h"
#include "tap.h"

static void json_escape_cases(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "plain", "\"plain\"" },
		{ "q\"b\\", "\"q\\\"b\\\\\"" },
		{ "nl\ntab\t", "\"nl\\ntab\\t\"" },
		{ "\x01", "\"\\u0001\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },		/* valid UTF-8 kept */
		{ "bad\xff", "\"bad\\u00ff\"" },		/* invalid byte escaped */
		{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },/* surrogate rejected */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		json_write_string(f, cases[i].in);
		fclose(f);
		if (!tap_ok(!strcmp(buf, cases[i].want), "json string case %zu", i))
			tap_diag("got %s want %s", buf, cases[i].want);
		free(buf);
	}
}

/* RFC 8259 section 7: every control character U+0000..U+001F must be escaped,
 * as \uXXXX or one of the two-character forms; a raw one makes the document
 * invalid. Each of the 31 that can be in a C string, alone in a string. */
static void json_escape_controls(void)
{
	int bad = 0;

	for (int c = 1; c < 0x20; c++) {
		char in[2] = { (char)c, 0 }, want[16], *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		const char *two = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" :
				  c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;

		json_write_string(f, in);
		fclose(f);
		snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		if (strcmp(buf, want) && !(two && len == 4 && !strncmp(buf + 1, two, 2))) {
			if (!bad++)
				tap_diag("control 0x%02x written as %s", c, buf);
		}
		free(buf);
	}
	tap_ok(!bad, "json: all 31 control characters escaped (%d written otherwise)", bad);
}

static void json_document(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f);
	json_obj_open(&j, NULL);
	json_str(&j, "s", "x");
	json_arr_open(&j, "a");
	json_int(&j, NULL, -1);
	json_uint(&j, NULL, 2);
	json_obj_open(&j, NULL);
	json_obj_close(&j);
	json_arr_close(&j);
	json_double(&j, "nan", 0.0 / 0.0);
	json_bool(&j, "t", true);
	json_null(&j, "n");
	json_obj_close(&j);
	fclose(f);
	tap_ok(!strcmp(buf, "{\"s\":\"x\",\"a\":[-1,2,{}],\"nan\":null,\"t\":true,\"n\":null}\n"),
	       "json document nesting and separators");
	free(buf);
}

static void sysctl_cases(void)
{
	char path[64], buf[256];
	long long v;
	int err;

	tap_ok(sysctl_path("net.core.somaxconn", path, sizeof(path)) == 0 &&
	       !strcmp(path, "/proc/sys/net/core/somaxconn"), "sysctl_path maps dots to slashes");
	tap_ok(sysctl_path("net/../x", path, sizeof(path)) == -EINVAL, "sysctl_path rejects '/'");
	tap_ok(sysctl_path("net...x", path, sizeof(path)) == -EINVAL, "sysctl_path rejects '..'");
	tap_ok(sysctl_path("net.core.somaxconn", path, 12) == -ENAMETOOLONG, "sysctl_path bounds");
	tap_ok(sysctl_read("net.ipv4.tcp_rmem", buf, sizeof(buf)) > 0 && !strchr(buf, '\t') &&
	       strchr(buf, ' ') && !strstr(buf, "  "), "sysctl_read folds tabs: '%s'", buf);
	tap_ok(sysctl_read("net.core.no_such_key", buf, sizeof(buf)) == -ENOENT,
	       "missing key is -ENOENT");
	v = -1;
	err = procfs_read_ll("/proc/sys/net/core/somaxconn", &v);
	tap_ok(err == 0 && v > 0, "procfs_read_ll somaxconn=%lld", v);
	tap_ok(netns_inode(0) != 0, "netns inode of self");
	/* the test suites run in the initial netns unless run under unshare -n */
	tap_ok(netns_is_initial() == (access("/proc/sys/net/core/netdev_max_backlog", F_OK) == 0),
	       "netns_is_initial agrees with the host-only key");
}

static void snmp_cases(void)
{
	uint64_t a = 0, b = 0;

	tap_ok(snmp_counter("TcpExt:ListenOverflows", &a) == 0, "TcpExt:ListenOverflows found");
	tap_ok(snmp_counter("Tcp:ActiveOpens", &b) == 0, "Tcp:ActiveOpens found in /proc/net/snmp");
	tap_ok(snmp_counter("TcpExt:NoSuchCounter", &a) == -ENOENT, "unknown counter -ENOENT");
	tap_ok(snmp_counter("nocolon", &a) == -EINVAL, "malformed name -EINVAL");
}

static struct sd_listener *find_port(struct sd_listener *v, int n, uint16_t port)
{
	for (int i = 0; i < n; i++)
		if (v[i].port == port && v[i].family == AF_INET)
			return &v[i];
	return NULL;
}

/* A listener with backlog 2 that never accepts: sock_diag must report the
 * granted limit, a queue of backlog+1 and drops once more clients arrive. */
static void sockdiag_cases(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct sd_listener *v = NULL, *l;
	int ls, cs[8], n, nc = 0;
	char addr[64];

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 2) ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl)) {
		tap_ok(0, "listener set up: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < 8; i++) {
		cs[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(cs[i], (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS)
			nc++;
	}
	usleep(300 * 1000);
	n = sockdiag_listeners(&v);
	tap_ok(n > 0, "sockdiag_listeners found %d listeners", n);
	l = n > 0 ? find_port(v, n, ntohs(sa.sin_port)) : NULL;
	tap_ok(l != NULL, "our listener on port %u is listed", ntohs(sa.sin_port));
	if (l) {
		tap_ok(l->backlog == 2, "granted backlog 2 (got %u)", l->backlog);
		tap_ok(l->queue == 3, "accept queue full at backlog+1 (got %u)", l->queue);
		tap_ok(l->drops != UINT32_MAX && l->drops > 0, "sk_drops reported and > 0 (got %u)", l->drops);
		sockdiag_owners(l, 1);
		tap_ok(l->pid == getpid(), "owner is this process (got %d %s)", l->pid, l->comm);
		char want[64];

		snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(sa.sin_port));
		sockdiag_addr_str(l, addr, sizeof(addr));
		tap_ok(!strcmp(addr, want), "address string %s", addr);
	} else {
		for (int i = 0; i < 5; i++)
			tap_ok(0, "listener details");
	}
	free(v);
	for (int i = 0; i < 8; i++)
		close(cs[i]);
	close(ls);
	(void)nc;
}

int main(void)
{
	json_escape_cases();
	json_escape_controls();
	json_document();
	sysctl_cases();
	snmp_cases();
	sockdiag_cases();
	return tap_done(0);
}
