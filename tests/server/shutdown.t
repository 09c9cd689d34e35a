#!/usr/bin/env bash
# shutdown.t - SIGTERM/SIGINT drain: in-flight requests complete, idle
# connections close, exit 0; the drain timeout bounds a request that never ends.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 11

start_server --workers 2 --demo --drain-timeout 10s
out=$(SPID=$SPID py <<'EOF'
import os, httpc, threading, time, signal, socket
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
res = {}
def slow(name, ms):
    try:
        r = httpc.get(p, "/delay?ms=%d" % ms, timeout=10)
        res[name] = (r.status, r.body.decode().strip())
    except Exception as e:
        res[name] = ("error", type(e).__name__)
idle = httpc.connect(p); ird = httpc.Reader(idle)
idle.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"); ird.response()
ts = [threading.Thread(target=slow, args=("a%d" % i, 1000)) for i in range(3)]
for t in ts: t.start()
time.sleep(0.4)                      # the requests are in the workers now
t0 = time.time()
os.kill(pid, signal.SIGTERM)
# idle keep-alive: closed once its worker is free (a worker inside /delay
# is blocked by design, so this may take until its delays are over)
idle_closed = ird.closed(8.0)
for t in ts: t.join()
ok = sum(v == (200, "delayed") for v in res.values())
# after the drain nobody listens any more
time.sleep(0.3)
try:
    socket.create_connection(("127.0.0.1", p), timeout=1).close(); refused = False
except OSError:
    refused = True
print(ok, idle_closed, refused, time.time() - t0 < 6)
EOF
)
wait "$SPID"; rc=$?; SPID=""
read -r nok idle refused quick <<< "$out"
is "$nok" 3 "all 3 in-flight /delay requests completed during the drain"
is "$idle" True "idle keep-alive connection closed by the drain"
is "$refused" True "no longer listening after the drain"
is "$quick" True "drain finished well before the drain timeout"
is "$rc" 0 "exit status 0 after SIGTERM"
like "$(cat "$SLOG")" "SIGTERM: draining" "drain logged"

# SIGINT works the same; a request that never completes is cut at the drain timeout
start_server --workers 1 --drain-timeout 1s --header-timeout 30s
out=$(SPID=$SPID py <<'EOF'
import os, httpc, time, signal
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
s = httpc.connect(p); s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n")   # never finished
time.sleep(0.3)
t0 = time.time()
os.kill(pid, signal.SIGINT)
c = httpc.Reader(s).closed(5)
print(c, 0.8 <= time.time() - t0 <= 3.5)
EOF
)
wait "$SPID"; rc=$?; SPID=""
is "$out" "True True" "unfinished request cut at the 1s drain timeout"
is "$rc" 0 "exit status 0 after SIGINT"

# a second signal while draining exits at once, status 1 (the drain would take 10 s)
start_server --workers 1 --drain-timeout 10s --header-timeout 30s
out=$(SPID=$SPID py <<'EOF'
import os, httpc, time, signal
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
s = httpc.connect(p); s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n")   # keeps the drain busy
time.sleep(0.3)
os.kill(pid, signal.SIGTERM)
time.sleep(0.5)
def state():
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
alive_draining = state() not in ("Z", "gone")
t0 = time.time()
os.kill(pid, signal.SIGTERM)
while state() not in ("Z", "gone") and time.time() - t0 < 5:
    time.sleep(0.02)
print(alive_draining, time.time() - t0 < 1.5)
EOF
)
wait "$SPID"; rc=$?; SPID=""
is "$out $rc" "True True 1" "second SIGTERM while draining: exits within 1.5 s (not the 10 s drain), status 1"

start_server --workers 1
kill -HUP "$SPID"; sleep 0.3
ok "SIGHUP does not stop the server" kill -0 "$SPID"
like "$(cat "$SLOG")" "SIGHUP: [0-9]+ connections open" "SIGHUP logs a status line"
stop_server
done_testing
