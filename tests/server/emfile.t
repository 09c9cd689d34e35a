#!/usr/bin/env bash
# emfile.t - running out of descriptors (RLIMIT_NOFILE lowered with prlimit):
# no spin, no crash, counted, and every waiting client is served once
# descriptors free up. Also --max-conns: accepting pauses at the limit.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 9

command -v prlimit >/dev/null || skip_rest "prlimit missing"
PORT=$(free_port); SLOG=$TMPD/emfile.log
prlimit --nofile=40:40 "$QPS_SERVER" --listen "127.0.0.1:$PORT" --workers 1 2>"$SLOG" &
SPID=$!
wait_port "$PORT" 10 || { echo "Bail out! server did not start"; cat "$SLOG"; exit 1; }
export PORT

out=$(SPID=$SPID py <<'EOF'
import os, httpc, socket, select, time
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
N = 80
socks = [socket.create_connection(("127.0.0.1", p)) for _ in range(N)]
for s in socks:
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
def collect(ss, t, close=False):
    got = {}
    end = time.time() + t
    while time.time() < end and len(got) < len(ss):
        r, _, _ = select.select([s for s in ss if s not in got], [], [], 0.2)
        for s in r:
            d = s.recv(4096)
            if d.startswith(b"HTTP/1.1 200"):
                got[s] = True
                if close: s.close()
    return got
first = collect(socks, 2.0)
served_first = len(first)
def ticks():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
t0 = ticks(); time.sleep(2.0); spin = ticks() - t0
# scrape over a connection we already hold: a new one could not be accepted
s0 = next(iter(first)); rd = httpc.Reader(s0)
s0.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
m = rd.response().body.decode()
emfile = [l for l in m.splitlines() if l.startswith('qps_accept_errors_total{errno="EMFILE"}')][0].split()[1]
# free the served ones: the waiting clients must be served now
for s in first: s.close()
rest = [s for s in socks if s not in first]
second = collect(rest, 10.0, close=True)
r = httpc.get(p, "/plaintext")
print(served_first < N, served_first > 10, spin, int(emfile) > 0, len(second) == len(rest), r.status)
EOF
)
read -r partial some spin emf all st <<< "$out"
is "$partial $some" "True True" "with nofile 40, some of 80 clients served at first"
cmp_ok "${spin:-999}" -le 20 "no spin while out of descriptors (${spin} ticks of CPU in 2 s)"
is "$emf" True "EMFILE counted in qps_accept_errors_total"
is "$all" True "every waiting client served once descriptors were freed"
is "$st" 200 "a new client is served afterwards"
ok "server still running" kill -0 "$SPID"
stop_server

start_server --workers 1 --max-conns 5
out=$(py <<'EOF'
import os, httpc, socket, time
p = int(os.environ["PORT"])
held = []
for i in range(5):
    s = httpc.connect(p); rd = httpc.Reader(s)
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"); rd.response(); held.append((s, rd))
x = httpc.connect(p); x.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
x.settimeout(0.7)
try:
    d = x.recv(100); early = bool(d)
except socket.timeout:
    early = False
held[0][0].close()
x.settimeout(3)
r = httpc.Reader(x).response()
s, rd = held[1]
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
m = rd.response().body.decode()
paused = [l for l in m.splitlines() if l.startswith('qps_accept_paused_total{reason="max_conns"}')][0].split()[1]
print(early, r.status, int(paused) >= 1)
EOF
)
is "$out" "False 200 True" "--max-conns 5: the 6th waits until one closes, then is served; pause counted"
stop_server
is "$SRC" 0 "exit 0"
is "$(grep -c 'max-conns 5' "$SLOG")" 1 "start-up line shows max-conns"
done_testing
