#!/usr/bin/env bash
# dashboard.t - every query of the Grafana dashboard (dashboards/*.json) returns
# data from a real Prometheus. Debian's prometheus scrapes, every second, a
# qps-server under load and prometheus-node-exporter (textfile collector over a
# directory that packaging/qps-tune-textfile fills with `qps-tune audit --prom`,
# plus the netstat collector for the listen drops); then each panel query and
# each template-variable query goes through /api/v1/query. `promtool check
# metrics` checks qps-server's /metrics and the textfile.
#
# Everything runs in a scratch network namespace (the test re-executes itself
# under `unshare -n`): private ports, private TcpExt counters, and a somaxconn
# of 128 there so the audit has a failing check to show.
source "$(dirname "$0")/../lib.sh"

if ! is_root; then
	plan 1
	skip "needs root (a scratch network namespace)" "dashboard queries"
	done_testing
fi
if [ -z "${QPS_DASH_NETNS:-}" ]; then
	QPS_DASH_NETNS=1 exec unshare -n "$0" "$@"
fi

DASHES=("$QPS_ROOT"/dashboards/*.json)
plan 12
for t in prometheus prometheus-node-exporter promtool curl jq; do
	command -v "$t" >/dev/null || { fail "tools" "'$t' is missing (make deps)"; skip_rest "no $t"; }
done
T=$(mktemp -d /tmp/qps-dash.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
ip link set lo up
sysctl -qw net.core.somaxconn=128

# ---- the dashboard itself
bad=""
for d in "${DASHES[@]}"; do
	jq -e '.title and .uid and (.panels | length > 0)' "$d" >/dev/null 2>&1 || bad="$bad $(basename "$d"):not-a-dashboard"
	# unique panel ids; every panel on the 24-column grid; every query on the datasource variable
	jq -e '[.panels[].id] | length == (unique | length)' "$d" >/dev/null || bad="$bad $(basename "$d"):duplicate-ids"
	jq -e 'all(.panels[]; .gridPos.x + .gridPos.w <= 24)' "$d" >/dev/null || bad="$bad $(basename "$d"):off-grid"
	jq -e 'all(.panels[] | select(.type != "row"); .datasource.uid == "${datasource}" and (.targets | length > 0))' "$d" >/dev/null ||
		bad="$bad $(basename "$d"):datasource"
done
is "$bad" "" "dashboards parse; unique panel ids, on the grid, every panel queries \${datasource}"
titles=$(jq -r '[.panels[].title] | join("|")' "${DASHES[@]}")
miss=""
for w in "Requests/s" "Latency" "Errors/s" "Accept queue depth" "Accept queue drops/s" "Failing checks per host"; do
	printf '%s' "|$titles|" | grep -qF "|$w|" || miss="$miss '$w'"
done
is "$miss" "" "panels: requests/s, latency, errors, accept-queue depth and drops, failing checks per host"

# ---- qps-server under load, node_exporter over the textfile
P_SRV=$(free_port) P_NODE=$(free_port) P_PROM=$(free_port)
"$QPS_SERVER" -l "127.0.0.1:$P_SRV" -w 1 2>"$T/server.err" &
PIDS+=($!)
mkdir -p "$T/textfile"
wait_port "$P_SRV" 5 || { fail "qps-server starts" "$(cat "$T/server.err")"; skip_rest "no server"; }
QPS_TUNE=$QPS_TUNE "$QPS_ROOT/packaging/qps-tune-textfile" "$T/textfile" 2>"$T/textfile.err"
ok "qps-tune-textfile writes the audit textfile" test -s "$T/textfile/qps-tune.prom"
curl -s "http://127.0.0.1:$P_SRV/metrics" >"$T/server.prom"
out=$(promtool check metrics <"$T/server.prom" 2>&1)
if [ -s "$T/server.prom" ] && [ -z "$out" ]; then pass "promtool check metrics: qps-server /metrics"; else fail "promtool check metrics: qps-server /metrics" "$out"; fi
out=$(promtool check metrics <"$T/textfile/qps-tune.prom" 2>&1)
if [ -s "$T/textfile/qps-tune.prom" ] && [ -z "$out" ]; then pass "promtool check metrics: the audit textfile"; else fail "promtool check metrics: the audit textfile" "$out"; fi

prometheus-node-exporter --web.listen-address="127.0.0.1:$P_NODE" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$T/textfile" --collector.netstat >"$T/node.log" 2>&1 &
PIDS+=($!)
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: qps-server
    static_configs: [{targets: ["127.0.0.1:$P_SRV"]}]
  - job_name: node
    static_configs: [{targets: ["127.0.0.1:$P_NODE"]}]
EOF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/data" \
	--web.listen-address="127.0.0.1:$P_PROM" --log.level=warn >"$T/prom.log" 2>&1 &
PIDS+=($!)
API=http://127.0.0.1:$P_PROM/api/v1
# q EXPR: the query's JSON result
q() { curl -s --max-time 5 --data-urlencode "query=$1" "$API/query"; }

# traffic for the rates: 200s and 404s, while prometheus scrapes
(
	end=$((SECONDS + 8))
	while [ $SECONDS -lt $end ]; do
		curl -s "http://127.0.0.1:$P_SRV/plaintext" "http://127.0.0.1:$P_SRV/json" "http://127.0.0.1:$P_SRV/nope" >/dev/null
		sleep 0.05
	done
) &
PIDS+=($!)
up=""
for ((i = 0; i < 150; i++)); do
	up=$(q 'count(up == 1) and count(count_over_time(qps_requests_total[30s]) >= 3) and count(count_over_time(qps_tune_audit_drift[30s]) >= 3)' |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
	[ "$up" = 2 ] && break
	sleep 0.1
done
is "$up" 2 "prometheus scrapes qps-server and node_exporter (up == 1, 3 samples each)"
diag "prometheus ready after $((i / 10)).$((i % 10)) s"
sleep 2  # the traffic loop runs on: two more scrapes with rising counters

# ---- every panel query returns data
# Grafana's variables: every instance, a rate window of 30 s (30 samples at 1 s)
exprs=$(jq -r '.panels[] | select(.type != "row") | .title as $t | .targets[] | "\($t)\t\(.expr)"' "${DASHES[@]}")
n=0 bad="" nan=""
while IFS=$'\t' read -r title expr; do
	[ -n "$expr" ] || continue
	n=$((n + 1))
	e=${expr//\$__rate_interval/30s}
	e=${e//\$server/.*}
	e=${e//\$node/.*}
	r=$(q "$e")
	cnt=$(printf '%s' "$r" | jq -r 'if .status == "success" then (.data.result | length) else "error: \(.error)" end' 2>&1)
	if ! [ "$cnt" -gt 0 ] 2>/dev/null; then bad="$bad [$title: $expr -> $cnt]"; continue; fi
	# at least one number, not only NaN (a quantile over no traffic)
	printf '%s' "$r" | jq -e '[.data.result[].value[1] | select(. != "NaN")] | length > 0' >/dev/null || nan="$nan [$title: $expr]"
done <<<"$exprs"
cmp_ok "$n" -ge 15 "the dashboard has at least 15 queries ($n)"
is "$bad" "" "every dashboard query returns data from prometheus"
is "$nan" "" "every dashboard query returns a number, not only NaN"
# the template variables' label_values(METRIC, LABEL) return values too
bad=""
while IFS= read -r v; do
	m=$(printf '%s' "$v" | sed -nE 's/^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*), *([a-zA-Z_]+)\)$/\1 \2/p')
	[ -n "$m" ] || { bad="$bad [$v: not label_values(METRIC, LABEL)]"; continue; }
	set -- $m
	c=$(curl -s -G --data-urlencode "match[]=$1" "$API/label/$2/values" | jq -r '.data | length' 2>&1)
	[ "$c" -gt 0 ] 2>/dev/null || bad="$bad [$v -> $c]"
done < <(jq -r '.templating.list[] | select(.type == "query") | .definition' "${DASHES[@]}")
is "$bad" "" "every template variable query returns values"

# ---- what the panels show agrees with the sources
srv=$(curl -s "http://127.0.0.1:$P_SRV/metrics" | awk '$1 ~ /^qps_requests_total\{route="other",code="404"\}/ { print $2 }')
got=$(q 'sum(qps_requests_total{code="404"})' | jq -r '.data.result[0].value[1]')
cmp_ok "${got:-0}" -ge 3 "prometheus counted the 404s the traffic loop made (got $got, qps-server says $srv now)"
want=$(grep -c '^qps_tune_check_failed{.*} 1$' "$T/textfile/qps-tune.prom")
got=$(q 'sum(qps_tune_check_failed)' | jq -r '.data.result[0].value[1]')
is "$got" "$want" "failing checks per host: prometheus sums the textfile's failing checks ($want)"
done_testing
