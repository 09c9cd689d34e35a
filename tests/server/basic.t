#!/usr/bin/env bash
# basic.t - routes, HEAD, HTTP/1.0, keep-alive, pipelining, byte-by-byte dribble,
# --help and the start-up line, against the real binary on 127.0.0.1.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 29

start_server --workers 2

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r = httpc.get(p, "/plaintext")
print(r.status, r.headers.get("content-type"), r.headers.get("content-length"), repr(r.body.decode()))
EOF
)
is "$out" "200 text/plain 13 'Hello, World!'" "GET /plaintext: exactly Hello, World! as text/plain"

out=$(py <<'EOF'
import os, httpc, json
p = int(os.environ["PORT"])
r = httpc.get(p, "/json")
print(r.status, r.headers.get("content-type"), json.loads(r.body)["message"], len(r.body) == int(r.headers["content-length"]))
EOF
)
is "$out" "200 application/json Hello, World! True" "GET /json"

is "$(curl -s "http://127.0.0.1:$PORT/healthz")" "ok" "GET /healthz"
like "$(curl -si "http://127.0.0.1:$PORT/plaintext")" "Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT" "Date header in IMF-fixdate form"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", head_only=True)
# nothing may follow the head: another request on the same connection must be next
s = httpc.connect(p); s.sendall(b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
rd = httpc.Reader(s); a = rd.response(head_only=True); b = rd.response()
print(r.status, r.headers["content-length"], a.headers["content-length"], b.body.decode())
EOF
)
is "$out" "200 13 27 Hello, World!" "HEAD: headers with the GET length, no body"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
print(r.status, closed)
EOF
)
is "$out" "404 False" "404 for an unknown path, connection kept"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
print(r.status, r.headers.get("allow"), closed)
EOF
)
is "$out" "405 GET, HEAD False" "405 with Allow for POST (body read, connection kept)"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"BREW /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
print(r.status)
EOF
)
is "$out" "501" "501 for an unknown method"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"GET /plaintext HTTP/1.0\r\n\r\n")
r2, closed2 = httpc.request(p, b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
print(r.status, r.body.decode(), closed, r2.headers.get("connection"), closed2)
EOF
)
is "$out" "200 Hello, World! True keep-alive False" "HTTP/1.0 closes unless keep-alive was asked for"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
print(r.headers.get("connection"), closed)
EOF
)
is "$out" "close True" "Connection: close is honoured"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
s = httpc.connect(p); rd = httpc.Reader(s)
n = 0
for i in range(50):
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
    r = rd.response()
    n += r.status == 200 and r.body == b"Hello, World!"
print(n)
EOF
)
is "$out" "50" "keep-alive: 50 sequential requests on one connection"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
paths = ["/plaintext", "/json", "/healthz", "/nope"] * 50
s = httpc.connect(p)
s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % x.encode() for x in paths))
rd = httpc.Reader(s)
got = [rd.response() for _ in paths]
want = {"/plaintext": (200, b"Hello, World!"), "/json": (200, b'{"message":"Hello, World!"}'),
        "/healthz": (200, b"ok\n"), "/nope": (404, None)}
bad = [i for i, (x, r) in enumerate(zip(paths, got))
       if r.status != want[x][0] or (want[x][1] is not None and r.body != want[x][1])]
print(len(got), bad[:5])
EOF
)
is "$out" "200 []" "pipelining: 200 requests in one send, answered in order"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
# a pipeline split at awkward places across several sends
data = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n" * 20
s = httpc.connect(p); rd = httpc.Reader(s)
import socket, time
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(0, len(data), 7):
    s.sendall(data[i:i+7]); time.sleep(0.001)
got = [rd.response() for _ in range(20)]
print(sum(r.status == 200 for r in got))
EOF
)
is "$out" "20" "pipelining: requests split across 7-byte sends"

out=$(py <<'EOF'
import os, httpc, time, socket, threading
p = int(os.environ["PORT"])
# 20,000 pipelined requests while the client does not read: the server's
# output backs up (partial writes, pending output), then drains in order
N = 20000
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
s.connect(("127.0.0.1", p))
data = b"".join(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % (b"plaintext" if i % 2 == 0 else b"json") for i in range(N))
t = threading.Thread(target=s.sendall, args=(data,)); t.start()
time.sleep(1.0)
rd = httpc.Reader(s); bad = 0
for i in range(N):
    r = rd.response()
    bad += r.body != (b"Hello, World!" if i % 2 == 0 else b'{"message":"Hello, World!"}')
t.join()
print(bad)
EOF
)
is "$out" "0" "backpressure: 20000 pipelined requests to a slow reader, all in order"

out=$(py <<'EOF'
import os, httpc, socket, time
p = int(os.environ["PORT"])
s = httpc.connect(p)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
req = b"GET /json HTTP/1.1\r\nHost: t\r\nUser-Agent: dribble\r\n\r\n"
for b in req:
    s.send(bytes([b])); time.sleep(0.002)
r = httpc.Reader(s).response()
print(r.status, r.body.decode())
EOF
)
is "$out" '200 {"message":"Hello, World!"}' "a request dribbled byte by byte"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
s = httpc.connect(p)
# a pipeline ending with a half-close: every complete request is still answered
s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n" * 3)
s.shutdown(1)
rd = httpc.Reader(s)
got = [rd.response() for _ in range(3)]
print(sum(r.status == 200 for r in got), rd.closed())
EOF
)
is "$out" "3 True" "half-close after a pipeline: all answered, then closed"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, c = httpc.request(p, b"GET http://example.com/plaintext HTTP/1.1\r\nHost: example.com\r\n\r\n")
r2, c2 = httpc.request(p, b"GET /plaintext?x=1&y=2 HTTP/1.1\r\nHost: t\r\n\r\n")
print(r.status, r.body.decode(), r2.status)
EOF
)
is "$out" "200 Hello, World! 200" "absolute-form target and query strings"

is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/delay?ms=1")" "404" "/delay is off without --demo"

# every long option in the source is documented in --help
help=$("$QPS_SERVER" --help); hrc=$?
is "$hrc" "0" "--help exits 0"
missing=""
for f in $(grep -oE '^\s*\{ "[a-z-]+", (no|required)_argument' "$QPS_ROOT/server/main.c" | grep -oE '"[a-z-]+"' | tr -d '"'); do
	printf '%s' "$help" | grep -q -- "--$f\b" || missing="$missing --$f"
done
is "$missing" "" "--help documents every flag"

line=$(head -1 "$SLOG")
like "$line" "listening on 127.0.0.1:$PORT, 2 workers \(usable CPUs [0-9]+: allowed [0-9,-]+, cgroup quota [^)]+\), backlog [0-9]+ \(requested 4096, somaxconn [0-9]+\), nofile [0-9]+ \(hard [0-9]+\)" "start-up line: workers, CPUs, effective backlog, nofile"
like "$line" "timeouts header 10s idle 60s write 30s drain 10s" "start-up line: timeouts"
smc=$(cat /proc/sys/net/core/somaxconn)
want=$(( smc < 4096 ? smc : 4096 ))
like "$line" "backlog $want \(" "effective backlog = min(requested, somaxconn)"
granted=$(ss -Hltn "sport = :$PORT" | awk 'NR == 1 { print $3 }')
is "$granted" "$want" "logged backlog = the kernel's granted backlog (ss Send-Q)"

# somaxconn clamps silently: in a scratch network namespace with somaxconn 128
# the start-up line must say 128, warn, and agree with the kernel
if is_root && command -v unshare >/dev/null; then
	out=$(timeout 20 unshare -n bash -c '
		ip link set lo up && echo 128 > /proc/sys/net/core/somaxconn || exit 1
		"$1" --listen 127.0.0.1:18080 --backlog 4096 2>"$2" & p=$!
		for i in $(seq 100); do ss -Hltn "sport = :18080" | grep -q . && break; sleep 0.05; done
		ss -Hltn "sport = :18080" | awk "NR == 1 { print \$3 }"
		kill -TERM $p; wait $p' _ "$QPS_SERVER" "$TMPD/ns.log")
	is "$out $(grep -c 'backlog 128 (requested 4096, somaxconn 128)' "$TMPD/ns.log") $(grep -c 'warning: backlog 4096 clamped to 128' "$TMPD/ns.log")" \
		"128 1 1" "somaxconn 128 in a netns: logged 128 with a warning, kernel granted 128"
else
	skip "needs root for a network namespace" "somaxconn clamp logged"
fi

"$QPS_SERVER" --listen 127.0.0.1:bad 2>/dev/null; is "$?" "2" "bad --listen is a usage error (exit 2)"
"$QPS_SERVER" --idle-timeout soon 2>/dev/null; is "$?" "2" "bad time is a usage error (exit 2)"

# auto worker count = CPUs we may use: pin the server to one CPU
stop_server
PORT2=$(free_port)
taskset -c 0 "$QPS_SERVER" --listen "127.0.0.1:$PORT2" 2>"$TMPD/one.log" &
p2=$!; wait_port "$PORT2" 10
kill -TERM $p2; wait $p2
like "$(head -1 "$TMPD/one.log")" " 1 workers \(usable CPUs 1: allowed 0," "affinity mask limits the default worker count"

# --pin: each worker thread bound to one allowed CPU (the main thread is not)
ncpu=$(nproc)
PORT3=$(free_port)
"$QPS_SERVER" --listen "127.0.0.1:$PORT3" --pin --workers "$ncpu" 2>"$TMPD/pin.log" &
p3=$!; wait_port "$PORT3" 10
pinned=$(for t in /proc/$p3/task/*; do awk '/^Cpus_allowed_list/ { print $2 }' "$t/status"; done | sort | uniq -c | awk '$2 ~ /^[0-9]+$/ { n++ } END { print n + 0 }')
kill -TERM $p3; wait $p3
is "$pinned" "$ncpu" "--pin: $ncpu worker threads each on its own single CPU"
done_testing
