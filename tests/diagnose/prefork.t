#!/usr/bin/env bash
# prefork.t - a prefork server (a parent that listens, children that inherit
# the listener and accept, like nginx's master and workers): diagnose
# watches the owner sock_diag's scan finds, the parent, and says that the
# children holding its listener are not watched - in the JSON
# (server.shared_with: exactly the children, as pgrep -P sees them) and in
# the table, which tells to name one with --pid. A child named with --pid is
# watched and has no such note.
. "$(dirname "$0")/../lib.sh"
plan 5
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
for _ in range(2):
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)  # bounded, whatever happens to the parent
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
python3 "$T/prefork.py" &
P=$!
for _ in $(seq 100); do ss -Htln 'sport = :18309' | grep -q . && break; sleep 0.05; done
sleep 0.2
echo $P > "$T/parent"
pgrep -P $P | sort -n | tr '\n' ' ' > "$T/kids"
"$Q" diagnose --port 18309 --duration 1 --json > "$T/out.json" 2>"$T/err"
"$Q" diagnose --port 18309 --duration 1 > "$T/out.txt" 2>&1
"$Q" diagnose --pid "$(pgrep -P $P | head -1)" --duration 1 > "$T/kid.txt" 2>&1
kill $P; wait $P 2>/dev/null
INNER
unshare -n bash "$T/inner.sh" "$BUILD" "$T"

J=$T/out.json
is "$(jq -r .server.pid "$J")" "$(cat "$T/parent")" "--port picks the parent, the owner sock_diag's scan finds"
is "$(jq -r '.server.shared_with | sort | map(tostring) | join(" ")' "$J") " "$(cat "$T/kids")" "server.shared_with: the 2 children holding its listener (pgrep -P: $(cat "$T/kids"))"
is "$(jq -r .server.shared_with_count "$J")" 2 "  counted"
like "$(cat "$T/out.txt")" 'not watched: 2 child processes of pid [0-9]+ hold its listener.*name one with --pid' "the table says they are not watched"
is "$(grep -c 'not watched' "$T/kid.txt")" 0 "a child named with --pid is watched, no such note"
done_testing
