#!/usr/bin/env bash
# cli.t - the command line contract (docs/cli-contract.md): help and exit
# codes, audit output formats on this host (read-only), profiles, --conns
# scaling, errors as JSON. Nothing here writes a sysctl.
. "$(dirname "$0")/../lib.sh"
plan 38
T=$(mktemp -d)
export QPS_TUNE_RUN_DIR=$T/run	# host-wide lock and journal registry of this test only
trap 'rm -rf "$T"' EXIT

out=$("$QPS_TUNE" help); rc=$?
is "$rc" 0 "help exits 0"
like "$out" 'qps-tune audit' "help lists audit"
like "$out" 'qps-tune rollback' "help lists rollback"
like "$out" '3  audit found drift' "help lists the exit codes"
like "$("$QPS_TUNE" --version)" '^qps-tune [0-9]+\.[0-9]+' "--version"
"$QPS_TUNE" a >/dev/null 2>&1
is "$?" 2 "a command prefix is not a command (exit 2)"
"$QPS_TUNE" audit --bogus >/dev/null 2>&1
is "$?" 2 "unknown option: exit 2"
"$QPS_TUNE" audit --conns 0 >/dev/null 2>&1
is "$?" 2 "--conns 0: exit 2"
"$QPS_TUNE" audit --pid 1 --port 80 >/dev/null 2>&1
is "$?" 2 "--pid with --port: exit 2"

# audit of this host: read-only, fast, 0 or 3
t0=$(date +%s%N)
"$QPS_TUNE" audit --json > "$T/a.json"; rc=$?
t1=$(date +%s%N)
ok "audit exits 0 or 3" test "$rc" = 0 -o "$rc" = 3
cmp_ok $(( (t1 - t0) / 1000000 )) -lt 1000 "audit returns within a second"
ok "audit --json is valid JSON" python3 -m json.tool "$T/a.json" /dev/null
is "$(jq -r '.schema + " " + .profile + " " + (.conns|tostring)' "$T/a.json")" \
	"qps-tune.audit/1 web-10k 10000" "schema, default profile web-10k, conns"
is "$(jq -r '[.checks[] | select(.status|test("^(pass|fail|skip|info)$")|not)] | length' "$T/a.json")" 0 \
	"every status is pass|fail|skip|info"
is "$(jq -r '[.checks[] | select((.id|test("^[A-Z]+-[0-9]{3}$")|not) or .reason=="" and .status=="fail")] | length' "$T/a.json")" 0 \
	"every check has an id; failing ones a reason"
fails=$(jq -r .summary.fail "$T/a.json")
if [ "$fails" -gt 0 ]; then is "$rc" 3 "exit 3 when checks fail"; else is "$rc" 0 "exit 0 when clean"; fi
is "$(jq -r '.summary.pass+.summary.fail+.summary.skip+.summary.info' "$T/a.json")" \
	"$(jq -r '.checks|length' "$T/a.json")" "summary adds up"
is "$(jq -r '[.checks[].id] | map(select(.=="ENV-001" or .=="LQ-001" or .=="LQ-003" or .=="PROBE-001")) | unique | join(" ")' "$T/a.json")" \
	"ENV-001 LQ-001 LQ-003 PROBE-001" "environment, accept path and probe readiness are checked"

cp "$T/a.json" "$T/host.json"
# table and prom agree with JSON: taken in a scratch netns where nothing
# (other users' listeners) comes and goes between the three runs
if is_root && unshare -n true 2>/dev/null; then
	unshare -n sh -c '"$1" audit --json > "$2/a.json"; "$1" audit > "$2/a.txt"; "$1" audit --prom > "$2/a.prom"' \
		_ "$QPS_TUNE" "$T"
else
	"$QPS_TUNE" audit --json > "$T/a.json"
	"$QPS_TUNE" audit > "$T/a.txt"
	"$QPS_TUNE" audit --prom > "$T/a.prom"
fi
is "$(grep -cE '^(PASS|FAIL|SKIP|INFO) ' "$T/a.txt")" "$(jq -r '.checks|length' "$T/a.json")" \
	"the table has one row per JSON check"
ok "no colour codes when stdout is not a tty" bash -c "! grep -q $'\e' '$T/a.txt'"
like "$(cat "$T/a.prom")" '# TYPE qps_tune_check_failed gauge' "prom: TYPE lines"
ok "prom: every sample line is well formed" bash -c \
	"grep -v '^#' '$T/a.prom' | grep -vE '^[a-z_]+(\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\\})? -?[0-9.e+-]+$' | (! grep -q .)"
is "$(grep -c '^qps_tune_check_failed{' "$T/a.prom")" \
	"$(jq -r '[.checks[] | select(.status=="pass" or .status=="fail") | .id+" "+(.key|sub("^pid [0-9]+ ";""))] | unique | length' "$T/a.json")" \
	"prom has a sample per pass/fail check and object"

"$QPS_TUNE" audit --prom > "$T/host.prom"
is "$(grep -v '^#' "$T/host.prom" | sed -E 's/ [^ ]+$//' | sort | uniq -d)" "" \
	"prom on this host: no two samples with the same labels (textfile collector rejects them)"

# profiles
like "$("$QPS_TUNE" profiles)" 'web-10k +\(default\)' "profiles lists web-10k as default"
is "$("$QPS_TUNE" profiles --json | jq -r '[.profiles[].name] | join(" ")')" \
	"base latency proxy web-100k web-10k" "the five built-in profiles"
like "$("$QPS_TUNE" profile show web-100k)" '^# web-100k' "profile show prints the file as written"
like "$("$QPS_TUNE" profile show web-100k --resolved)" 'net.core.somaxconn +>= 16384' \
	"--resolved: the child's rule replaces the parent's"
is "$("$QPS_TUNE" profile show web-10k --resolved --conns 100000 --json | jq -r '.rules[] | select(.kind=="nofile") | .resolved')" \
	220000 "nofile scales with --conns (2 x conns + 10%)"

# irq spread is host-wide: a dry run on the host only plans it (read-only)
printf 'inherit web-10k\nirq spread\n' > "$T/irq.profile"
out=$("$QPS_TUNE" apply --dry-run --profile "$T/irq.profile" --state-dir "$T/st-irq" 2>&1)
if printf '%s' "$out" | grep -qE '^[-+][a-z0-9]+ irq [0-9]+ = '; then
	like "$out" $'\n\\+[a-z0-9]+ irq [0-9]+ = [0-9]+\n' "dry run plans one CPU per NIC queue IRQ"
elif [ "$(jq -r '[.checks[] | select(.id=="IRQ-001")] | length' "$T/host.json")" = 0 ]; then
	skip "no NIC with queue IRQs in this namespace" "dry run plans one CPU per NIC queue IRQ"
else
	like "$out" '[0-9]+ would change' "NIC IRQs already spread: nothing planned for them"
fi
ok "dry run wrote no state" test ! -e "$T/st-irq"

# errors: usage errors too go through the one reporter ({"error"} under --json)
for args in "--json audit --bogus" "--json nosuchcmd" "audit --json --conns 0" "--json probe nosuchprobe" \
	"--json rollback extra"; do
	out=$("$QPS_TUNE" $args 2>/dev/null); rc=$?
	is "$rc $(printf '%s' "$out" | jq -r .error 2>/dev/null | grep -c .)" "2 1" "usage error as JSON: qps-tune $args"
done
out=$("$QPS_TUNE" audit --json --profile no-such 2>/dev/null); rc=$?
is "$rc" 1 "unknown profile: exit 1"
is "$(printf '%s' "$out" | jq -r .error)" "unknown profile 'no-such' (built-in: base, web-10k, web-100k, proxy, latency; or give a path)" \
	"--json error document names the profile"
done_testing
