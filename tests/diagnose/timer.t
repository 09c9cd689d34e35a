#!/usr/bin/env bash
# timer.t - a server with a housekeeping thread (sleep(1) in a loop, as many
# servers have) is not "blocked on its request path": the thread is parked
# in clock_nanosleep for a second at a time without running, which the
# samples see (the same call in 5 samples in a row, schedstat pcount
# unchanged). Its main thread serves a light load. diagnose attaches no
# syslat or offcpu for it (their JSON status and trigger, and from outside:
# no such child, no such BPF program), names the parked thread under
# checked, and finds nothing - with probes and with --no-probes. The test
# sees the thread in clock_nanosleep itself (/proc/PID/task/TID/syscall).
. "$(dirname "$0")/../lib.sh"
plan 8
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v python3 >/dev/null || skip_rest "python3 not installed"
command -v bpftool >/dev/null || skip_rest "bpftool not installed"
case $(uname -m) in x86_64) NR=230 ;; aarch64) NR=115 ;; *) skip_rest "clock_nanosleep's number unknown on $(uname -m)" ;; esac

T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/server.py" <<'PY'
import signal, socket, sys, threading, time
signal.alarm(30)  # bounded, whatever happens to the test
def housekeeping():
    with open(sys.argv[1], "w") as f:
        f.write(str(threading.get_native_id()))
    while True:
        time.sleep(1)
threading.Thread(target=housekeeping, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18310))
s.listen(128)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    c.close()
PY
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune NR=$4
. "$3/probe-watch.sh"
ip link set lo up
python3 "$T/server.py" "$T/tid" &
P=$!
for _ in $(seq 100); do ss -Htln 'sport = :18310' | grep -q . && [ -s "$T/tid" ] && break; sleep 0.05; done
for mode in probes noprobes; do
	extra=; [ $mode = noprobes ] && extra=--no-probes
	"$Q" diagnose --duration 3 --json $extra > "$T/$mode.json" 2>"$T/$mode.err" &
	D=$!
	watch_probes $D "$T/$mode.watch" &
	W=$!
	n=0; seen=0
	while kill -0 $D 2>/dev/null; do
		curl -s --max-time 1 http://127.0.0.1:18310/ >/dev/null
		[ "$(cut -d' ' -f1 /proc/$P/task/$(cat "$T/tid")/syscall 2>/dev/null)" = "$NR" ] && seen=$((seen + 1))
		n=$((n + 1)); sleep 0.1
	done
	wait $D; echo $? > "$T/$mode.rc"
	wait $W
	echo "$seen $n" > "$T/$mode.seen"
done
kill $P; wait $P 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T" "$(cd "$(dirname "$0")" && pwd)" "$NR"

J=$T/probes.json
read -r seen n < "$T/probes.seen"
ok "the housekeeping thread sat in clock_nanosleep in $seen of $n looks (/proc/PID/task/TID/syscall)" test "$seen" -ge $((n / 2))
is "$(cat "$T/probes.rc") $(jq -r '.findings | map(.name) | join(",")' "$J")" "0 " "no finding: a parked timer thread is not blocking on the request path"
is "$(jq -r '[.probes[] | select(.name=="syslat" or .name=="offcpu") | .status] | join(" ")' "$J")" "not-needed not-needed" "syslat and offcpu not needed"
like "$(jq -r '.probes[] | select(.name=="offcpu") | .trigger' "$J")" 'a thread parked 0.5 s or more a call, a timer or background loop: clock_nanosleep$' "  why: the thread is parked, a timer"
is "$(grep -c -E '^child: .* probe (syslat|offcpu) |^prog: .* (sl|oc)_' "$T/probes.watch")" 0 "  no syslat or offcpu child or BPF program (seen from /proc, bpftool)"
like "$(jq -r '.checked[] | select(.what=="off-CPU blocking") | .status + " " + .figures' "$J")" '^ok .*a thread parked in clock_nanosleep 0.5 s or more a call \([0-9]+ such calls seen\)' "checked: off-CPU blocking ok, the parked thread named"
is "$(cat "$T/noprobes.rc") $(jq -r '.findings | map(.name) | join(",")' "$T/noprobes.json")" "0 " "--no-probes: no finding either (from the /proc samples alone)"
is "$(grep -c '^child:' "$T/noprobes.watch")" 0 "  and no probe child"
done_testing
