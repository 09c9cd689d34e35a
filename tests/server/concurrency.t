#!/usr/bin/env bash
# concurrency.t - 5,000 concurrent connections all served; then, while they
# sit idle in keep-alive, the server's resident memory per idle connection
# (buffers go back to the pool: an idle connection keeps only its slot).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 5

N=5000
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((N + 200)) ]; then
	skip_rest "hard RLIMIT_NOFILE $hard < $((N + 200)); cannot hold $N connections"
fi
ulimit -n "$hard" 2>/dev/null || ulimit -n $((N + 200))
start_server --workers 2
export N SPID

out=$(py <<'EOF'
import os, socket, selectors, time, httpc
p = int(os.environ["PORT"]); N = int(os.environ["N"]); pid = int(os.environ["SPID"])
def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"): return int(l.split()[1]) * 1024
for i in range(20): httpc.get(p, "/plaintext")          # warm: pool, Date, pages
time.sleep(0.2)
base = rss()
REQ = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
WANT = 13
sel = selectors.DefaultSelector()
socks = []
for i in range(N):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", p))
    except BlockingIOError: pass
    socks.append(s); sel.register(s, selectors.EVENT_WRITE)
buf = {}; done = set(); errors = 0
end = time.time() + 60
while len(done) + errors < N and time.time() < end:
    for key, ev in sel.select(1.0):
        s = key.fileobj
        if ev & selectors.EVENT_WRITE:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                errors += 1; sel.unregister(s); continue
            s.send(REQ); buf[s] = b""
            sel.modify(s, selectors.EVENT_READ)
            continue
        try:
            d = s.recv(4096)
        except OSError:
            d = b""
        if not d:
            errors += 1; sel.unregister(s); continue
        buf[s] += d
        b = buf[s]
        if b"\r\n\r\n" in b and b.endswith(b"Hello, World!") and b.startswith(b"HTTP/1.1 200"):
            done.add(s); sel.unregister(s)
time.sleep(0.5)
held = rss()
open_now = httpc.metrics(p)["qps_connections_open"]
print(len(done), errors, int(open_now) >= N, (held - base) // N)
for s in socks: s.close()
EOF
)
read -r served errs open_ok per_conn <<< "$out"
is "$served" "$N" "$N concurrent connections all answered 200"
is "$errs" 0 "no connection errors"
is "$open_ok" True "all $N open at once (qps_connections_open)"
cmp_ok "${per_conn:-99999}" -le 1024 "resident memory per idle keep-alive connection: ${per_conn} bytes (<= 1024)"
stop_server
is "$SRC" 0 "clean exit with $N connections open (drain closes idle ones)"
done_testing
