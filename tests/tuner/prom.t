#!/usr/bin/env bash
# prom.t - `audit --prom` for node_exporter's textfile collector: promtool
# (Prometheus's own checker) accepts it, series are stable (no pid label, no
# pid inside a label, no 'instance' label, which Prometheus renames), a comm
# with odd bytes is escaped to valid text, two workers of one server are one
# series, and counters and info checks are exported with the values the
# kernel reports. In a scratch netns with two python listeners named oddly.
. "$(dirname "$0")/../lib.sh"
plan 9
command -v promtool >/dev/null || skip_rest "promtool not installed (Debian: prometheus)"
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"

T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'rm -rf "$T"' EXIT
cat > "$T/inner.sh" <<'INNER'
set -u
Q=$1 T=$2
ip link set lo up
for port in 18101 18102; do
	python3 -c '
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"w\xff\n\"rk\\", 0, 0, 0)   # PR_SET_NAME: bytes a user may choose
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
open(sys.argv[2], "w").close(); time.sleep(20)' $port "$T/ready$port" &
done
for _ in $(seq 200); do [ -e "$T/ready18101" ] && [ -e "$T/ready18102" ] && break; sleep 0.05; done
"$Q" audit --prom > "$T/a.prom"; echo $? > "$T/rc"
awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (n[i] == "ListenOverflows") print $i }' /proc/net/netstat > "$T/ov"
kill %1 %2
INNER
unshare -n bash "$T/inner.sh" "$QPS_TUNE" "$T"

ok "promtool check metrics accepts it" promtool check metrics < "$T/a.prom"
ok "no pid or instance label" bash -c "! grep -qE '[{,](pid|instance)=' '$T/a.prom'"
pids=$(grep -v '^#' "$T/a.prom" | grep -oE 'object="[^"]*"' | grep -cE '(^|[^0-9])pid [0-9]+' )
is "$pids" 0 "no pid inside an object label"
is "$(grep -cF 'qps_tune_check_failed{id="FD-001",severity="crit",object="w\\xff\n\"rk\\ nofile"}' "$T/a.prom")" 1 \
	"the comm's odd bytes are escaped, and its two processes are one FD-001 series"
ok "every byte is printable ASCII" bash -c "! LC_ALL=C grep -q '[^[:print:]]' '$T/a.prom'"
like "$(cat "$T/a.prom")" $'# TYPE qps_tune_listen_overflows_total counter\nqps_tune_listen_overflows_total [0-9]+' \
	"counters are exported as counters"
is "$(sed -n 's/^qps_tune_listen_overflows_total //p' "$T/a.prom")" "$(cat "$T/ov")" \
	"with the value of the kernel's TcpExtListenOverflows"
like "$(cat "$T/a.prom")" 'qps_tune_check_info\{id="ENV-001",object="environment",status="info"\} 1' \
	"info checks are exported"
is "$(grep -v '^#' "$T/a.prom" | sed -E 's/ [^ ]+$//' | sort | uniq -d)" "" "no two samples with the same labels"
done_testing
