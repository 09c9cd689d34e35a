/* checks.c - the registry: every check id audit can emit, with the area file
 * that emits it and the planner that fixes it. `qps-tune checks` prints it,
 * docs/checks.md is generated from it, `disable ID` must name a row of it,
 * and audit/apply run only the area functions of enabled rows. */
#include <string.h>

#include "engine.h"

#define ROW(id, sev, area, title, audit, plan) { id, sev, area, title, audit, plan }

static const struct check_def table[] = {
	/* environment and profile */
	ROW("ENV-001", "info", "environment", "kernel, virtualisation, namespace and capabilities the audit ran with", env_audit, NULL),
	ROW("ENV-002", "med", "environment", "failing keys that cannot be written from this namespace or user", rules_audit, NULL),
	ROW("PROF-001", "med", "environment", "profile rule on a sysctl qps-tune has no knowledge of", rules_audit, rules_plan),
	/* accept queue */
	ROW("LQ-001", "high", "accept queue", "net.core.somaxconn caps every listen backlog", rules_audit, rules_plan),
	ROW("LQ-002", "high", "accept queue", "listener backlog not truncated by somaxconn", accept_audit, accept_plan),
	ROW("LQ-003", "crit", "accept queue", "accept queue full or overflowing (listeners, TcpExt:ListenOverflows)", accept_audit, NULL),
	ROW("LQ-004", "med", "accept queue", "net.ipv4.tcp_max_syn_backlog holds an accept queue of handshakes", rules_audit, rules_plan),
	ROW("LQ-005", "high", "accept queue", "net.ipv4.tcp_syncookies on", rules_audit, rules_plan),
	ROW("LQ-006", "low", "accept queue", "net.ipv4.tcp_abort_on_overflow off", rules_audit, rules_plan),
	ROW("LQ-007", "med", "accept queue", "SYN-queue pressure: SYN cookies sent, request-queue drops", accept_audit, NULL),
	ROW("LQ-008", "low", "accept queue", "net.ipv4.tcp_migrate_req with SO_REUSEPORT groups", accept_audit, rules_plan),
	ROW("LQ-009", "low", "accept queue", "net.ipv4.tcp_synack_retries bounds half-open lifetime", rules_audit, rules_plan),
	ROW("LQ-010", "info", "accept queue", "net.ipv4.tcp_fastopen has the server bit (2)", rules_audit, rules_plan),
	/* descriptors */
	ROW("FD-001", "crit", "descriptors", "soft RLIMIT_NOFILE of each server process", fd_audit, fd_plan),
	ROW("FD-002", "high", "descriptors", "hard RLIMIT_NOFILE and fs.nr_open above the nofile target", fd_audit, fd_plan),
	ROW("FD-003", "high", "descriptors", "system-wide file table (fs.file-max, fs.file-nr)", fd_audit, rules_plan),
	ROW("FD-004", "med", "descriptors", "descriptor use below 80% of the soft limit", fd_audit, NULL),
	ROW("FD-005", "med", "descriptors", "LimitNOFILE= of the server's systemd unit", fd_audit, fd_plan),
	ROW("FD-006", "info", "descriptors", "limits.conf nofile lines that do not reach systemd services", fd_audit, NULL),
	ROW("FD-007", "med", "descriptors", "unit LimitNOFILE= differs from the running process (restart pending)", fd_audit, NULL),
	/* ports */
	ROW("PORT-001", "high", "ports", "net.ipv4.ip_local_port_range width", rules_audit, rules_plan),
	ROW("PORT-002", "med", "ports", "listen ports outside the ephemeral range or reserved", ports_audit, NULL),
	ROW("PORT-003", "med", "ports", "TIME-WAIT sockets below tcp_max_tw_buckets; tcp_tw_reuse", ports_audit, rules_plan),
	ROW("PORT-004", "low", "ports", "net.ipv4.tcp_timestamps on", rules_audit, rules_plan),
	ROW("PORT-005", "med", "persistence", "sysctl.d keys that do not exist on this kernel (tcp_tw_recycle)", persist_audit, NULL),
	ROW("PORT-006", "low", "ports", "net.ipv4.tcp_fin_timeout", rules_audit, rules_plan),
	ROW("PORT-007", "med", "ports", "net.ipv4.tcp_max_tw_buckets", rules_audit, rules_plan),
	/* buffers */
	ROW("BUF-001", "med", "buffers", "tcp_rmem / tcp_wmem ceilings not below the kernel default", rules_audit, rules_plan),
	ROW("BUF-002", "med", "buffers", "TCP memory below 75% of tcp_mem[1]", buf_audit, rules_plan),
	ROW("BUF-003", "med", "buffers", "orphaned sockets below 50% of tcp_max_orphans", buf_audit, rules_plan),
	ROW("BUF-004", "low", "buffers", "net.ipv4.tcp_slow_start_after_idle off", rules_audit, rules_plan),
	ROW("BUF-005", "low", "buffers", "net.core.[rw]mem_max / [rw]mem_default", rules_audit, rules_plan),
	ROW("BUF-006", "low", "buffers", "net.ipv4.tcp_notsent_lowat", rules_audit, rules_plan),
	/* CPU, IRQ, NIC */
	ROW("CPU-001", "med", "cpu/irq/nic", "cpufreq governor", cpu_audit, NULL),
	ROW("CPU-002", "med", "cpu/irq/nic", "CFS quota throttling of the server's cgroup", cpu_audit, NULL),
	ROW("CPU-003", "med", "cpu/irq/nic", "CPU pressure and steal", cpu_audit, NULL),
	ROW("CPU-004", "med", "cpu/irq/nic", "kernel.numa_balancing", rules_audit, rules_plan),
	ROW("CPU-005", "low", "cpu/irq/nic", "deep C-states enabled", cpu_audit, NULL),
	ROW("CPU-006", "med", "cpu/irq/nic", "CPU affinity of the server", cpu_audit, nic_plan),
	ROW("IRQ-001", "high", "cpu/irq/nic", "NIC queue IRQs spread over CPUs", nic_audit, nic_plan),
	ROW("IRQ-002", "med", "cpu/irq/nic", "NIC queue IRQs on the NIC's NUMA node", nic_audit, NULL),
	ROW("IRQ-003", "med", "cpu/irq/nic", "irqbalance and banned CPUs", nic_audit, NULL),
	ROW("PKT-001", "high", "cpu/irq/nic", "softnet drops; net.core.netdev_max_backlog", nic_audit, rules_plan),
	ROW("PKT-002", "med", "cpu/irq/nic", "softnet time_squeeze; netdev_budget", nic_audit, rules_plan),
	ROW("PKT-003", "high", "cpu/irq/nic", "NIC ring drops and ring sizes", nic_audit, NULL),
	ROW("PKT-004", "med", "cpu/irq/nic", "NIC channels (receive-side scaling)", nic_audit, NULL),
	ROW("PKT-005", "med", "cpu/irq/nic", "RPS on devices with fewer RX queues than CPUs", nic_audit, nic_plan),
	ROW("PKT-006", "low", "cpu/irq/nic", "RFS: net.core.rps_sock_flow_entries", nic_audit, rules_plan),
	ROW("PKT-007", "info", "cpu/irq/nic", "busy polling (net.core.busy_read / busy_poll)", rules_audit, rules_plan),
	ROW("PKT-008", "low", "cpu/irq/nic", "XPS: one CPU set per TX queue", nic_audit, nic_plan),
	/* memory */
	ROW("MEM-001", "med", "memory", "transparent hugepages not 'always'", mem_audit, NULL),
	ROW("MEM-002", "low", "memory", "vm.swappiness", rules_audit, rules_plan),
	ROW("MEM-003", "med", "memory", "threads below 80% of kernel.pid_max; threads-max", mem_audit, rules_plan),
	ROW("CT-001", "high", "memory", "conntrack table below 80% full", mem_audit, rules_plan),
	/* persistence */
	ROW("PERS-001", "high", "persistence", "runtime values that revert at boot (sysctl.d)", persist_audit, persist_plan),
	ROW("PERS-002", "med", "persistence", "a sysctl.d value shadowed by a later file", persist_audit, NULL),
	ROW("PERS-003", "med", "persistence", "/etc/sysctl.conf not read at boot (no 99-sysctl.conf link)", persist_audit, NULL),
	ROW("PERS-004", "med", "persistence", "another tuner running (tuned, bpftune)", persist_audit, NULL),
	ROW("PERS-005", "info", "persistence", "a qps-tune journal that rollback would restore", persist_audit, NULL),
	/* probe readiness */
	ROW("PROBE-001", "low", "probe readiness", "kernel BTF for CO-RE probes", probe_audit, NULL),
	ROW("PROBE-002", "low", "probe readiness", "bpf() syscall usable", probe_audit, NULL),
	ROW("PROBE-003", "low", "probe readiness", "kprobes configured", probe_audit, NULL),
	ROW("PROBE-004", "low", "probe readiness", "fentry programs load", probe_audit, NULL),
	ROW("PROBE-005", "low", "probe readiness", "tracefs mounted", probe_audit, NULL),
};

const struct check_def *checks_table(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

const struct check_def *check_find(const char *id)
{
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].id, id))
			return &table[i];
	return NULL;
}

bool run_on(const struct run *r, const char *id)
{
	int i;

	for (i = 0; r->prof && i < r->prof->n; i++)
		if (r->prof->rules[i].kind == RULE_DISABLE && !strcmp(r->prof->rules[i].key, id))
			return false;
	return true;
}
