/* test_knob.c - the sysctl knowledge table, value splitting, and the CPU
 * list / mask helpers RPS, XPS and affinity use. */
#include <errno.h>
#include <string.h>

#include "cpuset.h"
#include "engine.h"
#include "knob.h"
#include "tap.h"
#include "tuner.h"

int main(void)
{
	static const struct { const char *v; int n; long long f2; } fields[] = {
		{ "4096 131072 6291456", 3, 6291456 },
		{ "4096\t131072\t33554432", 3, 33554432 },
		{ "  128 ", 1, 0 },
		{ "32768\t60999", 2, 0 },
		{ "", -EINVAL, 0 },
		{ "12a", -EINVAL, 0 },
		{ "bbr", -EINVAL, 0 },
	};
	static const struct { const char *key; int valid; } keys[] = {
		{ "net.core.somaxconn", 1 }, { "fs.file-max", 1 }, { "net.ipv4.conf.eth0.rp_filter", 1 },
		{ "somaxconn", 0 }, { "net..core", 0 }, { ".net.core", 0 }, { "net.core.", 0 },
		{ "net/core/somaxconn", 0 }, { "net.core.some key", 0 }, { "", 0 },
	};
	static const struct { const char *list; const char *mask; int count; } sets[] = {
		{ "0", "1", 1 }, { "0-1", "3", 2 }, { "0,2-3", "d", 3 }, { "32", "1,00000000", 1 },
		{ "0-63", "ffffffff,ffffffff", 64 }, { "", "0", 0 },
	};
	struct cpuset a, b;
	long long f[16], v;
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		int n = knob_fields(fields[i].v, f, 16);

		tap_ok(n == fields[i].n && (n < 3 || f[2] == fields[i].f2), "knob_fields('%s') = %d", fields[i].v,
		       fields[i].n);
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		tap_ok(knob_key_valid(keys[i].key) == keys[i].valid, "key '%s' %s", keys[i].key,
		       keys[i].valid ? "valid" : "rejected");
	tap_ok(knob_lookup("net.core.somaxconn") && !strcmp(knob_lookup("net.core.somaxconn")->id, "LQ-001"),
	       "somaxconn is check LQ-001");
	tap_ok(knob_scope("net.core.rmem_max") == KNOB_HOST_RO, "rmem_max is read-only in a child netns");
	tap_ok(knob_scope("net.core.netdev_max_backlog") == KNOB_HOST_ABSENT, "netdev_max_backlog is host-only");
	tap_ok(knob_scope("net.ipv4.tcp_fin_timeout") == KNOB_NETNS, "tcp_fin_timeout is per netns");
	tap_ok(knob_scope("vm.swappiness") == KNOB_GLOBAL && knob_is_host("fs.nr_open"), "vm/fs keys are global");
	tap_ok(knob_scope("net.ipv4.some_new_key") == KNOB_NETNS, "unknown net.* keys default to per netns");
	tap_ok(knob_default("net.ipv4.tcp_wmem", 2, &v) == 0 && v == 4194304, "tcp_wmem[2] default 4 MiB");
	tap_ok(knob_default("net.ipv4.tcp_rmem", 2, &v) == 0 && (v == 33554432 || v == 6291456),
	       "tcp_rmem[2] default depends on the kernel version");
	tap_ok(knob_default("fs.file-max", -1, &v) == -ENOENT, "RAM-scaled defaults are unknown");

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		int rl = cpuset_parse_list(sets[i].list, &a), rm = cpuset_parse_mask(sets[i].mask, &b);

		tap_ok(rl == 0 && rm == 0 && cpuset_equal(&a, &b) && cpuset_count(&a) == sets[i].count,
		       "list '%s' == mask '%s' (%d CPUs)", sets[i].list, sets[i].mask, sets[i].count);
		if (!tap_ok(!strcmp(cpuset_mask_str(&a, buf, sizeof(buf)), sets[i].mask), "mask of '%s' prints '%s'",
			    sets[i].list, sets[i].mask))
			tap_diag("got '%s'", buf);
		if (!tap_ok(!strcmp(cpuset_list_str(&b, buf, sizeof(buf)), sets[i].list), "list of '%s' prints '%s'",
		       sets[i].mask, sets[i].list))
			tap_diag("got '%s'", buf);
	}
	tap_ok(cpuset_parse_list("3-1", &a) == -EINVAL, "reversed range rejected");
	tap_ok(cpuset_parse_list("0-", &a) == -EINVAL, "open range rejected");
	tap_ok(cpuset_parse_mask("xyz", &a) == -EINVAL, "non-hex mask rejected");
	tap_ok(cpuset_parse_mask("00000003\n", &a) == 0 && cpuset_count(&a) == 2, "sysfs mask with newline");
	tap_ok(value_equal("4096\t131072\t6291456", "4096 131072  6291456"), "values equal across tabs/spaces");
	tap_ok(value_equal("01", "1") && !value_equal("1 2", "1"), "integer lists compare by value");
	tap_ok(value_equal("bbr", "bbr") && !value_equal("bbr", "cubic") && !value_equal("a b", "ab"),
	       "strings compare up to blank runs");
	{
		/* the knowledge table and the check registry agree: every knob's check
		 * is registered, with the same severity */
		const struct knob_info *k = knob_all(&i);
		size_t j, bad = 0;

		for (j = 0; j < i; j++) {
			const struct check_def *d = check_find(k[j].id);

			if (!d || strcmp(d->severity, k[j].severity)) {
				bad++;
				tap_diag("%s: %s %s, registry %s", k[j].key, k[j].id, k[j].severity, d ? d->severity : "none");
			}
		}
		tap_ok(i > 30 && bad == 0, "all %zu knobs name a registered check of the same severity", i);
	}
	return tap_done(0);
}
