#!/usr/bin/env bash
# prefork.t - a prefork server (a parent that listens, children that inherit
# the listener and accept, like nginx's master and workers): the owner scan
# finds the parent, which serves nothing, so --port watches the busiest child
# (CPU so far: the one that burned 0.4 s, /proc/PID/stat says so too) and
# says the parent owns the listener (server.listener_owner) and that the
# other child is not watched (server.shared_with: exactly it, as pgrep -P
# sees the children) - in the JSON and in the table. A process named with
# --pid is watched as named: the parent gets the note about both children,
# a child none.
. "$(dirname "$0")/../lib.sh"
plan 8
is_root || skip_rest "needs root for unshare -n"
unshare -n true 2>/dev/null || skip_rest "unshare -n not permitted (needs privilege)"
command -v python3 >/dev/null || skip_rest "python3 not installed"

T=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
cat > "$T/prefork.py" <<'PY'
import os, signal, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18309))
s.listen(128)
kids = []
for n in range(2):
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)  # bounded, whatever happens to the parent
        if n == 1:  # the busy worker: 0.4 s of CPU before it serves
            t = time.process_time()
            while time.process_time() - t < 0.4:
                pass
            open(sys.argv[1], "w").write(str(os.getpid()))
        while True:
            c, _ = s.accept()
            c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
            c.close()
    kids.append(pid)
signal.signal(signal.SIGTERM, lambda *a: [os.kill(k, signal.SIGKILL) for k in kids] and sys.exit(0))
time.sleep(30)
for k in kids:
    os.kill(k, signal.SIGKILL)
PY
cat > "$T/inner.sh" <<'INNER'
set -u
B=$1 T=$2 Q=$1/qps-tune
ip link set lo up
python3 "$T/prefork.py" "$T/busy" &
P=$!
for _ in $(seq 100); do ss -Htln 'sport = :18309' | grep -q . && [ -s "$T/busy" ] && break; sleep 0.05; done
sleep 0.2
echo $P > "$T/parent"
pgrep -P $P | sort -n | tr '\n' ' ' > "$T/kids"
"$Q" diagnose --port 18309 --duration 1 --json > "$T/out.json" 2>"$T/err"
"$Q" diagnose --port 18309 --duration 1 > "$T/out.txt" 2>&1
"$Q" diagnose --pid "$(pgrep -P $P | head -1)" --duration 1 > "$T/kid.txt" 2>&1
"$Q" diagnose --pid $P --duration 1 --json > "$T/parent.json" 2>&1
kill $P; wait $P 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/out.json
busy=$(cat "$T/busy") parent=$(cat "$T/parent")
other=$(for k in $(cat "$T/kids"); do [ "$k" = "$busy" ] || echo "$k"; done)
diag "parent $parent, children $(cat "$T/kids"), busy $busy (utime+stime ticks: $(awk '{print $14+$15}' "/proc/$busy/stat" 2>/dev/null))"
is "$(jq -r .server.pid "$J")" "$busy" "--port watches the busiest child ($busy), not the parent the owner scan finds"
is "$(jq -r .server.listener_owner "$J")" "$parent" "server.listener_owner: the parent ($parent)"
is "$(jq -r '.server.shared_with | map(tostring) | join(" ")' "$J")" "$other" "server.shared_with: the other child ($other)"
is "$(jq -r .server.shared_with_count "$J")" 1 "  counted"
like "$(cat "$T/out.txt")" "a prefork server: pid $parent owns the listener and its children accept on it; watching the busiest of them \\(CPU so far\\), pid $busy" "the table says whom it watches and why"
like "$(cat "$T/out.txt")" "not watched: 1 other child process of pid $parent holds its listener.*name one with --pid" "the table says the other is not watched"
is "$(jq -r '[.server.pid, .server.listener_owner, .server.shared_with_count] | map(tostring) | join(" ")' "$T/parent.json")" "$parent null 2" "--pid PARENT watches the parent, both children listed"
is "$(grep -c 'not watched' "$T/kid.txt")" 0 "a child named with --pid is watched, no such note"
done_testing
