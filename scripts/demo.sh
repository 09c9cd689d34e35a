#!/usr/bin/env bash
# demo.sh - `make demo`: the 1k -> 10k requests/s story, end to end, in a
# throwaway network namespace (the host's own settings are never touched).
#
#   scripts/demo.sh [--quick] [--duration S] [--json FILE|-] [--keep]
#
#   --quick        the same steps with short load runs (~25 s in all; the test uses it)
#   --duration S   seconds per load run (default 30; --quick: 6)
#   --json FILE    write the before/after figures as one JSON document
#                  (schema qps-tune.demo/1); "-" writes it to stdout and the story to stderr
#   --keep         keep the scratch directory (logs, journal, JSON of every step)
#
# Steps: 1 a poor host  2 load it, qps-tune diagnose watching  3 its findings
# (and qps-tune audit)  4 the same load under qps-tune probe acceptq (and
# syslat)  5 qps-tune apply --plan (diagnose's), restart, load again:
# before/after  6 qps-tune rollback: every namespace value back, byte for byte.
# Needs root (network namespaces, sysctls, BPF). Exit: 0 the story ran (its
# figures are reported as measured), 1 a step failed, 2 usage.
set -u

BUILD=${BUILD:-build}
QPS_SERVER=${QPS_SERVER:-$BUILD/qps-server}
QPS_TUNE=${QPS_TUNE:-$BUILD/qps-tune}
QPS_LOAD=${QPS_LOAD:-$BUILD/qps-load}

LOAD_S=30
QUICK=0
JSON_OUT=
KEEP=0
PORT=8080
ADDR=127.0.0.1
BACKLOG_ASK=4096	# what the server asks listen() for, both times
POOR_SOMAXCONN=128	# an old kernel's default
POOR_NOFILE=1024	# the classic `ulimit -n`
LOAD_CONNS=32		# closed-loop clients, a new connection per request
LOAD_BURST=2000		# clients that connect at once, then 1 request/s each
TIMEOUT_MS=3000		# connect and response deadlines (a SYN retransmit comes at 1 s)
WORKERS=${DEMO_WORKERS:-2}	# server worker threads (DEMO_WORKERS=N)

usage() { sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--duration) [ $# -ge 2 ] || { usage >&2; exit 2; }; LOAD_S=$2; shift ;;
	--json) [ $# -ge 2 ] || { usage >&2; exit 2; }; JSON_OUT=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "demo: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ "$QUICK" = 1 ] && [ "$LOAD_S" = 30 ] && LOAD_S=6
case $LOAD_S in ''|*[!0-9]*) echo "demo: --duration wants whole seconds" >&2; exit 2 ;; esac
[ "$LOAD_S" -ge 2 ] && [ "$LOAD_S" -le 600 ] || { echo "demo: --duration must be 2..600" >&2; exit 2; }

# The story goes to stdout, or to stderr when the JSON goes to stdout.
if [ "$JSON_OUT" = - ]; then exec 3>&1 1>&2; else exec 3>&1; fi

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, sysctls, BPF): run 'sudo make demo'"
for b in "$QPS_SERVER" "$QPS_TUNE" "$QPS_LOAD"; do
	[ -x "$b" ] || die "missing '$b': run 'make' first"
done
for t in ip prlimit jq awk ss sysctl timeout; do
	command -v "$t" >/dev/null || die "missing tool '$t': run 'make deps'"
done

HARD=$(ulimit -Hn)
case $HARD in unlimited) HARD=1048576 ;; esac
# the tuned server and qps-load (each its own process) hold every client's connection
[ "$HARD" -ge $((LOAD_BURST + LOAD_CONNS + 200)) ] ||
	die "needs a hard nofile limit of at least $((LOAD_BURST + LOAD_CONNS + 200)) ('ulimit -Hn' is $HARD)"

NS=qps-demo-$$
TMP=$(mktemp -d /tmp/qps-demo.XXXXXX) || die "cannot create a scratch directory"
STATE=$TMP/state
SPID=
BGPIDS=()
NS_MADE=0

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${BGPIDS[@]}" $SPID; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${BGPIDS[@]}" $SPID; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ "$NS_MADE" = 1 ] && ip netns del "$NS" 2>/dev/null
	if [ "$KEEP" = 1 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; }; then
		echo "demo: logs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up" >&2; exit 130' INT
trap 'echo "demo: terminated, cleaning up" >&2; exit 143' TERM

nsx() { ip netns exec "$NS" "$@"; }
say() { printf '%s\n' "$@"; }
step() { printf '\n\033[1m[%s/6] %s\033[0m\n' "$1" "$2" | { [ -t 1 ] && cat || sed 's/\x1b\[[0-9;]*m//g'; }; }
cmdline() { printf '  $ %s\n' "$*"; }
indent() { sed 's/^/    /'; }
# 12345 -> 12,345 (integers only; others unchanged)
num() { printf '%s' "$1" | sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta'; }

# TcpExt counter NAME from the namespace's /proc/net/netstat
netstat_get() {
	nsx awk -v want="$1" '/^TcpExt:/ { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 }
		else for (i = 2; i <= NF; i++) if (k[i] == want) print $i }' /proc/net/netstat
}
counters() {	# -> "overflows drops synretrans"
	printf '%s %s %s\n' "$(netstat_get ListenOverflows)" "$(netstat_get ListenDrops)" \
		"$(netstat_get TCPSynRetrans)"
}
# every readable net.* sysctl of the namespace, one "path:value" line each
sysctl_snapshot() { nsx grep -r . /proc/sys/net 2>/dev/null | LC_ALL=C sort; }

# The server's accept errors for EMFILE/ENFILE, from its /metrics (sum of the
# samples whose line names them); "?" when the page cannot be read.
server_emfile() {
	nsx timeout 5 bash -c "exec 5<>/dev/tcp/$ADDR/$PORT && printf 'GET /metrics HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n' >&5 && timeout 3 cat <&5" \
		2>/dev/null | tr -d '\r' | awk '
		/^#/ { next }
		toupper($0) ~ /EMFILE|ENFILE/ { s += $NF; n++ }
		END { if (n) printf "%d\n", s; else print "?" }'
}

start_server() {	# $1 = nofile soft:hard; sets SPID
	local log=$TMP/server.$2.log i
	SERVER_LOG=$log
	cmdline "prlimit --nofile=$1 qps-server --listen $ADDR:$PORT --backlog $BACKLOG_ASK --workers $WORKERS"
	# not through nsx (a function would run in a subshell): $! must be the server itself
	ip netns exec "$NS" prlimit --nofile="$1" "$QPS_SERVER" --listen "$ADDR:$PORT" --backlog "$BACKLOG_ASK" \
		--workers "$WORKERS" >"$log" 2>&1 &
	SPID=$!
	for ((i = 0; i < 100; i++)); do
		nsx ss -Htln "sport = :$PORT" 2>/dev/null | grep -q . && break
		kill -0 "$SPID" 2>/dev/null || { cat "$log" >&2; die "qps-server exited at start-up"; }
		sleep 0.05
	done
	[ "$i" -lt 100 ] || { cat "$log" >&2; die "qps-server is not listening on $ADDR:$PORT after 5 s"; }
	[ "$(readlink "/proc/$SPID/exe")" = "$(readlink -f "$QPS_SERVER")" ] ||
		die "pid $SPID is not qps-server ($(readlink "/proc/$SPID/exe"))"
	sleep 0.2
	say "  qps-server's start-up line (what the process really got):"
	head -5 "$log" | indent
	say "  the kernel's view of the listener (Send-Q = the backlog it granted):"
	nsx ss -Htln "sport = :$PORT" | awk '{ printf "    %s  Send-Q %s  Recv-Q %s\n", $4, $3, $2 }'
}

stop_server() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
}

# run_load NAME: the same load every time; JSON in $TMP/NAME.json, counters
# deltas in $TMP/NAME.kernel
run_load() {
	local name=$1 c0 c1 e0 e1 e alive
	c0=$(counters)
	e0=$(server_emfile)
	cmdline "qps-load --new-conn -c $LOAD_CONNS --burst $LOAD_BURST --connect-timeout $TIMEOUT_MS --timeout $TIMEOUT_MS -d $LOAD_S $ADDR:$PORT"
	nsx "$QPS_LOAD" --new-conn -c "$LOAD_CONNS" --burst "$LOAD_BURST" \
		--connect-timeout "$TIMEOUT_MS" --timeout "$TIMEOUT_MS" -d "$LOAD_S" \
		--progress "$((LOAD_S >= 20 ? LOAD_S / 10 : 1))" --json "$ADDR:$PORT" >"$TMP/$name.json" ||
		die "qps-load failed"
	c1=$(counters)
	alive=true
	if ! kill -0 "$SPID" 2>/dev/null; then
		wait "$SPID"
		say "  qps-server DIED during this run (wait status $?); its log:"
		tail -5 "$SERVER_LOG" 2>/dev/null | indent
		alive=false
	fi
	e1=$(server_emfile)
	e=null
	[ "$e0" != '?' ] && [ "$e1" != '?' ] && e=$((e1 - e0))
	set -- $c0 $c1
	printf '{"listen_overflows":%d,"listen_drops":%d,"syn_retrans":%d,"server_emfile":%s,"server_alive":%s}\n' \
		$(($4 - $1)) $(($5 - $2)) $(($6 - $3)) "$e" "$alive" \
		>"$TMP/$name.kernel"
	jq -r --slurpfile k "$TMP/$name.kernel" '
		def n: tostring | until(test("^[0-9]{4}") | not; sub("^(?<a>[0-9]+)(?<b>[0-9]{3})"; "\(.a),\(.b)"));
		def ms: (. * 100 | round / 100 | tostring) + " ms";
		"  result: \(.rps | floor | n) requests/s, p50 \(.latency_ms.p50 | ms), p99 \(.latency_ms.p99 | ms), \(.errors.total | n) errors"
		+ (if .errors.total > 0 then " (" + ([.errors | to_entries[] | select(.key != "total" and .value > 0) | "\(.key) \(.value | n)"] | join(", ")) + ")" else "" end),
		"  kernel: accept-queue overflows +\($k[0].listen_overflows | n), SYN retransmits +\($k[0].syn_retrans | n); server: EMFILE/ENFILE accept errors +\($k[0].server_emfile // "?")"' \
		"$TMP/$name.json"
}

LOAD_DESC="$LOAD_CONNS clients opening a new connection per request, plus a burst of $(num $LOAD_BURST) clients that connect at the same instant and then send one request per second each over keep-alive"

say "qps-tune demo: the 1k -> 10k requests/s story, measured"
say "  Everything runs in the throwaway network namespace '$NS' (loopback only):"
say "  its net.* sysctls are its own, so the host's settings are never touched."
say "  Load, the same in every run ($LOAD_S s): $LOAD_DESC."
say "  qps-server runs $WORKERS worker thread(s), qps-load one thread, on this machine's $(nproc) CPU(s)."

ip netns add "$NS" || die "cannot create network namespace '$NS'"
NS_MADE=1
nsx ip link set lo up || die "cannot bring up lo in '$NS'"

# ---- 1 ----------------------------------------------------------------------
step 1 "A poorly tuned host"
say "  net.core.somaxconn = $POOR_SOMAXCONN (an old kernel's default). It silently caps every"
say "  listen() backlog: the server asks for $BACKLOG_ASK and gets $POOR_SOMAXCONN per listener, so a burst of"
say "  connections overflows the accept queue and the kernel drops SYNs (clients retry after 1 s, 3 s ...)."
say "  nofile = $POOR_NOFILE (soft and hard) for the server: it can hold about 1,000 connections;"
say "  past that accept() fails with EMFILE and everyone else waits."
cmdline "sysctl -w net.core.somaxconn=$POOR_SOMAXCONN   # inside the namespace"
nsx sysctl -qw net.core.somaxconn="$POOR_SOMAXCONN" || die "cannot set net.core.somaxconn in '$NS'"
start_server "$POOR_NOFILE:$POOR_NOFILE" before
OLD_SPID=$SPID

# ---- 2 ----------------------------------------------------------------------
step 2 "Load it, with qps-tune diagnose watching"
say "  ${LOAD_S} s of load; progress every few seconds (requests/s in that interval)."
DIAG_S=$((LOAD_S - 1))
cmdline "qps-tune diagnose --pid $SPID --duration $DIAG_S --plan-out $TMP/plan   # in the background"
ip netns exec "$NS" "$QPS_TUNE" diagnose --pid "$SPID" --duration "$DIAG_S" --plan-out "$TMP/plan" --json \
	>"$TMP/diagnose.json" 2>"$TMP/diagnose.err" &
DIAG_PID=$!
BGPIDS+=("$DIAG_PID")
run_load before
wait "$DIAG_PID"
DIAG_RC=$?

# ---- 3 ----------------------------------------------------------------------
step 3 "Ask qps-tune why: diagnose (it watched that load), and audit"
say "  diagnose sampled the kernel's counters, the listener (sock_diag), the server's"
say "  descriptors, threads and cgroup over the run, with the probes attached, and ranks"
say "  what limited the server - each finding with its evidence, audit check ids and fix:"
[ "$DIAG_RC" = 0 ] || [ "$DIAG_RC" = 3 ] || { cat "$TMP/diagnose.err" >&2; die "qps-tune diagnose failed (exit $DIAG_RC)"; }
jq -r '(.findings[] | "  \(.rank). \(.name): \(.title)", "       evidence: \(.evidence)",
		"       checks: \(.checks)", "       fix: \(.fix)"),
	"  probes: " + ([.probes[] | .name + " " + .status] | join(", ")),
	"  plan (\(.plan.settings) setting(s), for step 5): " + ([.findings[].settings[] | "\(.key) \(.old) -> \(.new)"] | unique | join(", "))' \
	"$TMP/diagnose.json" | fold -s -w 110 | sed 's/^\([^ ]\)/         \1/'
say "  ($(jq -r '.findings | length' "$TMP/diagnose.json") finding(s); exit code $DIAG_RC)"
say "  audit compares the settings with the web-10k profile. The failing checks:"
cmdline "qps-tune audit --profile web-10k --pid $SPID"
nsx "$QPS_TUNE" audit --profile web-10k --pid "$SPID" --json >"$TMP/audit.json" 2>"$TMP/audit.err"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || { cat "$TMP/audit.err" >&2; die "qps-tune audit failed (exit $rc)"; }
jq -e '.checks' "$TMP/audit.json" >/dev/null 2>&1 || die "qps-tune audit --json: no 'checks' array"
nsx "$QPS_TUNE" audit --profile web-10k --pid "$SPID" >"$TMP/audit.txt" 2>&1
# The table, cut to the failing checks plus the serious counters that moved
# (the accept-queue overflows the load just caused), each with its why/evidence.
SHOW_IDS=$(jq -r '[.checks[] | select(.status == "fail" or (.status == "info"
	and (.severity == "crit" or .severity == "high") and ((.current // "0") | tostring) != "0")) | .id]
	| unique | join(" ")' "$TMP/audit.json")
awk -v ids=" $SHOW_IDS " '
	/^STATUS / { print; next }
	/^[A-Z]+ +[A-Z]+-[0-9]+ / { show = ($1 == "FAIL" || ($1 == "INFO" && index(ids, " " $2 " "))); if (show) print; next }
	/^ +(why|evidence):/ { if (show) print; next }
	/^ / { next }
	{ show = 0 }' "$TMP/audit.txt" | indent
say "  $(jq -r '"(\(.summary.fail // ([.checks[] | select(.status == "fail")] | length)) failing of \(.checks | length) checks; exit code '"$rc"' = drift found)"' "$TMP/audit.json")"

# ---- 4 ----------------------------------------------------------------------
step 4 "Watch it happen: the same load with the acceptq probe attached"
say "  The probe counts, per listener, how full the accept queue ran and how many"
say "  connections the kernel dropped, as the kernel saw them (eBPF + sock_diag)."
PROBE_S=$((LOAD_S + 3))
cmdline "qps-tune probe acceptq --duration $PROBE_S"
ip netns exec "$NS" "$QPS_TUNE" probe acceptq --duration "$PROBE_S" >"$TMP/acceptq.txt" 2>"$TMP/acceptq.err" &
PROBE_PID=$!
BGPIDS+=("$PROBE_PID")
SYSLAT_PID=
if nsx "$QPS_TUNE" probe syslat --help >/dev/null 2>&1; then
	cmdline "qps-tune probe syslat --duration $PROBE_S --pid $SPID --top 5"
	ip netns exec "$NS" "$QPS_TUNE" probe syslat --duration "$PROBE_S" --pid "$SPID" --top 5 \
		>"$TMP/syslat.txt" 2>"$TMP/syslat.err" &
	SYSLAT_PID=$!
	BGPIDS+=("$SYSLAT_PID")
fi
sleep 1.5	# let the probes attach
run_load probe
say "  waiting for the probe's report ..."
wait "$PROBE_PID"
prc=$?
if [ "$prc" = 0 ]; then
	say "  acceptq:"
	indent <"$TMP/acceptq.txt"
else
	say "  acceptq did not run (exit $prc): $(head -3 "$TMP/acceptq.err")"
fi
if [ -n "$SYSLAT_PID" ]; then
	wait "$SYSLAT_PID" && { say "  syslat (the server's slowest syscalls):"; indent <"$TMP/syslat.txt"; } ||
		say "  syslat did not run: $(head -3 "$TMP/syslat.err")"
fi

# ---- 5 ----------------------------------------------------------------------
step 5 "Fix it: apply diagnose's plan, restart the server, same load again"
sysctl_snapshot >"$TMP/sysctl.orig"
nsx cat /sys/class/net/lo/queues/rx-0/rps_cpus /sys/class/net/lo/queues/tx-0/xps_cpus \
	>"$TMP/lo-queues.orig" 2>/dev/null
# the plan diagnose wrote, checked still current; the whole profile if it has no settings
if [ "$(jq -r '.plan.settings' "$TMP/diagnose.json")" -gt 0 ] 2>/dev/null; then
	APPLY_ARGS=(--plan "$TMP/plan")
else
	say "  (diagnose planned no setting: applying the whole web-10k profile instead)"
	APPLY_ARGS=(--profile web-10k)
fi
cmdline "qps-tune apply ${APPLY_ARGS[*]} --state-dir $STATE"
nsx "$QPS_TUNE" apply "${APPLY_ARGS[@]}" --state-dir "$STATE" --json >"$TMP/apply.json" 2>"$TMP/apply.err"
rc=$?
[ "$rc" = 0 ] || { cat "$TMP/apply.json" "$TMP/apply.err" >&2; die "qps-tune apply failed (exit $rc)"; }
jq -r '"  changed \(.changed):", (.changes[]? | "    \(.key): \(.old) -> \(.new)"),
	(if (.not_applied // []) | length > 0 then "  not applied here (host-wide, outside this namespace):", (.not_applied[] | "    \(.key): \(.reason)") else empty end),
	(if (.restart_needed // []) | length > 0 then "  restart needed:", (.restart_needed[] | "    \(.what): \(.why)") else empty end)' \
	"$TMP/apply.json" | sed 's/\t/ /g'
sysctl_snapshot >"$TMP/sysctl.applied"

WANT_NOFILE=$(jq -r '[.checks[] | select((.key // "" | test("nofile|NOFILE"))) | .target // "" | tostring
	| scan("[0-9]+") | tonumber] | max // empty' "$TMP/audit.json" 2>/dev/null)
[ -n "$WANT_NOFILE" ] || WANT_NOFILE=16384
NEW_NOFILE=$WANT_NOFILE
[ "$NEW_NOFILE" -gt "$HARD" ] && NEW_NOFILE=$HARD
say "  Why restart: a listener's backlog is fixed when it calls listen(); raising somaxconn"
say "  now does not grow the queue of the socket that already exists. And nofile: a process"
say "  may raise its soft limit only up to its hard limit; raising the hard limit needs"
say "  CAP_SYS_RESOURCE, which root lacks here. The old server's hard limit is $POOR_NOFILE, so it"
say "  is restarted with soft $NEW_NOFILE, hard $HARD (this shell's hard limit; the profile wants"
say "  >= $WANT_NOFILE) - what LimitNOFILE= does for a service (apply --persist writes that drop-in)."
stop_server
start_server "$NEW_NOFILE:$HARD" after
run_load after

# ---- before/after -----------------------------------------------------------
jq -n --slurpfile b "$TMP/before.json" --slurpfile a "$TMP/after.json" \
	--slurpfile kb "$TMP/before.kernel" --slurpfile ka "$TMP/after.kernel" -r '
	def n: if type == "number" then (floor | tostring | until(test("^[0-9]{4}") | not; sub("^(?<a>[0-9]+)(?<b>[0-9]{3})"; "\(.a),\(.b)"))) else "?" end;
	def ms: (. * 100 | round / 100 | tostring) + " ms";
	def sp($w): if $w > 0 then " " * $w else "" end;
	def row(l; x; y): "    " + l + sp(30 - (l | length)) + sp(12 - (x | length)) + x + sp(14 - (y | length)) + y;
	"  Before and after (the same load, the same 2 CPUs):",
	row(""; "before"; "after"),
	row("requests/s"; ($b[0].rps | n); ($a[0].rps | n)),
	row("p50 latency"; ($b[0].latency_ms.p50 | ms); ($a[0].latency_ms.p50 | ms)),
	row("p99 latency"; ($b[0].latency_ms.p99 | ms); ($a[0].latency_ms.p99 | ms)),
	row("errors"; ($b[0].errors.total | n); ($a[0].errors.total | n)),
	(["connect_timeout", "read_timeout", "connect_refused", "reset", "closed", "non_2xx", "connect_other", "bad_response", "local"][] as $k
	 | select($b[0].errors[$k] > 0 or $a[0].errors[$k] > 0)
	 | row("  " + $k; ($b[0].errors[$k] | n); ($a[0].errors[$k] | n))),
	row("accept-queue drops"; ($kb[0].listen_overflows | n); ($ka[0].listen_overflows | n)),
	row("SYN retransmits"; ($kb[0].syn_retrans | n); ($ka[0].syn_retrans | n)),
	row("server EMFILE/ENFILE"; ($kb[0].server_emfile | n); ($ka[0].server_emfile | n))'
say "  (latency counts the requests that succeeded; accept-queue drops are the namespace's"
say "  TcpExtListenOverflows delta over the run)"
if [ "$(jq '.errors.total' "$TMP/after.json")" != 0 ] || [ "$(jq '.listen_overflows' "$TMP/after.kernel")" != 0 ]; then
	say "  NOTE: the tuned run still had errors or drops (see above) - reported as measured."
fi

# ---- 6 ----------------------------------------------------------------------
step 6 "Undo it: rollback"
stop_server
cmdline "qps-tune rollback --state-dir $STATE"
nsx "$QPS_TUNE" rollback --state-dir "$STATE" --json >"$TMP/rollback.json" 2>"$TMP/rollback.err"
rc=$?
[ "$rc" = 0 ] || { cat "$TMP/rollback.json" "$TMP/rollback.err" >&2; die "qps-tune rollback failed (exit $rc)"; }
jq -r '"  restored \(.restored | length) value(s)"' "$TMP/rollback.json"
sysctl_snapshot >"$TMP/sysctl.rolledback"
nsx cat /sys/class/net/lo/queues/rx-0/rps_cpus /sys/class/net/lo/queues/tx-0/xps_cpus \
	>"$TMP/lo-queues.rolledback" 2>/dev/null
# every sysctl apply changed (from its report, and from the snapshots themselves)
{
	jq -r '.changes[]? | select((.kind // "sysctl") == "sysctl") | .key' "$TMP/apply.json"
	diff "$TMP/sysctl.orig" "$TMP/sysctl.applied" | sed -n 's/^[<>] \/proc\/sys\/\([^:]*\):.*/\1/p' | tr / .
} | sort -u >"$TMP/changed.keys"
val() { grep -F "/proc/sys/$(printf '%s' "$2" | tr . /):" "$1" | cut -d: -f2- | paste -sd'|'; }
say "  every key apply changed, in the namespace:"
printf '    %-36s %-16s %-16s %-16s %s\n' KEY ORIGINAL APPLIED "AFTER ROLLBACK" SAME
mismatch=0 nkeys=0
while read -r k; do
	[ -n "$k" ] || continue
	nkeys=$((nkeys + 1))
	o=$(val "$TMP/sysctl.orig" "$k") a=$(val "$TMP/sysctl.applied" "$k") r=$(val "$TMP/sysctl.rolledback" "$k")
	same=yes
	[ "$o" = "$r" ] || { same=NO; mismatch=$((mismatch + 1)); }
	printf '    %-36s %-16s %-16s %-16s %s\n' "$k" "$(printf '%s' "$o" | tr '\t' ' ')" \
		"$(printf '%s' "$a" | tr '\t' ' ')" "$(printf '%s' "$r" | tr '\t' ' ')" "$same"
done <"$TMP/changed.keys"
# changes that are not sysctls (RPS/XPS masks and other files): compare the file
# now with the old value apply reported (rlimit changes died with the old server)
while IFS=$'\t' read -r kind k o a; do
	[ -n "$k" ] || continue
	nkeys=$((nkeys + 1))
	r=$(nsx cat "$k" 2>/dev/null | paste -sd'|')
	same=yes
	[ "$o" = "$r" ] || { same=NO; mismatch=$((mismatch + 1)); }
	printf '    %-36s %-16s %-16s %-16s %s\n' "$k" "$o" "$a" "$r" "$same"
done < <(jq -r '.changes[]? | select((.kind // "sysctl") != "sysctl" and (.key | startswith("/")))
	| [.kind, .key, (.old | tostring), (.new | tostring)] | @tsv' "$TMP/apply.json")
ALLDIFF=$(diff "$TMP/sysctl.orig" "$TMP/sysctl.rolledback" | grep -c '^[<>]')
cmp -s "$TMP/lo-queues.orig" "$TMP/lo-queues.rolledback" || ALLDIFF=$((ALLDIFF + 1))
NALL=$(wc -l <"$TMP/sysctl.orig")
if [ "$ALLDIFF" = 0 ]; then
	say "  all $NALL net.* values of the namespace are byte-for-byte what they were before apply."
else
	say "  MISMATCH: $ALLDIFF line(s) of the namespace's net.* values differ from before apply:"
	diff "$TMP/sysctl.orig" "$TMP/sysctl.rolledback" | grep '^[<>]' | head -10 | indent
fi

# ---- JSON ---------------------------------------------------------------------
if [ -n "$JSON_OUT" ]; then
	jq -n --slurpfile b "$TMP/before.json" --slurpfile a "$TMP/after.json" \
		--slurpfile p "$TMP/probe.json" --slurpfile kb "$TMP/before.kernel" \
		--slurpfile ka "$TMP/after.kernel" --slurpfile kp "$TMP/probe.kernel" \
		--slurpfile ap "$TMP/apply.json" --slurpfile au "$TMP/audit.json" \
		--slurpfile dg "$TMP/diagnose.json" \
		--argjson nkeys "$nkeys" --argjson mismatch "$mismatch" --argjson alldiff "$ALLDIFF" \
		--argjson nall "$NALL" --argjson dur "$LOAD_S" --argjson quick "$QUICK" \
		--argjson nofile_before "$POOR_NOFILE" --argjson nofile_after "$NEW_NOFILE" '
		def run($l; $k): {rps: $l.rps, requests: $l.requests, p50_ms: $l.latency_ms.p50,
			p99_ms: $l.latency_ms.p99, max_ms: $l.latency_ms.max, errors: $l.errors,
			listen_overflows: $k.listen_overflows, listen_drops: $k.listen_drops,
			syn_retrans: $k.syn_retrans, server_emfile: $k.server_emfile,
			server_alive: $k.server_alive};
		{schema: "qps-tune.demo/1", quick: ($quick == 1), duration_s: $dur,
		 load: {mode: $b[0].mode, conns: $b[0].conns, burst: $b[0].burst,
			burst_interval_ms: $b[0].burst_interval_ms},
		 before: (run($b[0]; $kb[0]) + {somaxconn: '"$POOR_SOMAXCONN"', nofile: $nofile_before}),
		 probe_run: run($p[0]; $kp[0]),
		 after: (run($a[0]; $ka[0]) + {nofile: $nofile_after}),
		 audit: {failed: [$au[0].checks[] | select(.status == "fail") | .id]},
		 diagnose: {findings: [$dg[0].findings[].name], plan_settings: $dg[0].plan.settings},
		 apply: {changed: $ap[0].changed, changes: $ap[0].changes},
		 rollback: {keys_compared: $nkeys, mismatches: $mismatch,
			namespace_values: $nall, namespace_diffs: $alldiff}}' >"$TMP/demo.json" ||
		die "cannot assemble the JSON summary"
	if [ "$JSON_OUT" = - ]; then cat "$TMP/demo.json" >&3; else cp "$TMP/demo.json" "$JSON_OUT"; fi
fi
say ""
say "done in ${SECONDS} s: namespace '$NS' is deleted on exit; the host was not touched."
exit 0
