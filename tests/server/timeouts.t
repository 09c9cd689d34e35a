#!/usr/bin/env bash
# timeouts.t - header-read (slowloris), idle keep-alive and write timeouts with
# short values, each seen by the client and counted in /metrics.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 11

start_server --workers 1 --header-timeout 1s --idle-timeout 1.5s --write-timeout 1s --root "$TMPD"
head -c 67108864 /dev/zero > "$TMPD/big.bin"

out=$(py <<'EOF'
import os, httpc, time, socket
p = int(os.environ["PORT"])
# slowloris: keeps dribbling a head that never ends; the deadline runs from
# the first byte, so dribbling must not extend it
s = httpc.connect(p); s.settimeout(0.2)
t0 = time.time(); got = b""; closed_at = None
s.sendall(b"GET /plaintext HTTP/1.1\r\n")
while time.time() - t0 < 5:
    try:
        s.send(b"X-A: b\r\n")
    except OSError:
        closed_at = time.time() - t0; break
    try:
        d = s.recv(4096)
        if not d:
            closed_at = time.time() - t0; break
        got += d
    except socket.timeout:
        pass
    except OSError:
        closed_at = time.time() - t0; break
print(got.split(b"\r\n")[0].decode(), closed_at is not None and 0.9 <= closed_at <= 2.5)
EOF
)
is "$out" "HTTP/1.1 408 Request Timeout True" "header timeout: dribbling slowloris gets 408 and is closed after ~1s"

out=$(py <<'EOF'
import os, httpc, time, socket
p = int(os.environ["PORT"])
# the same on a keep-alive connection after a first request: the second head
# gets the header deadline from its first byte (not the idle one, re-armed by
# every byte it dribbles)
s = httpc.connect(p); rd = httpc.Reader(s)
s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
st = rd.response().status
s.settimeout(0.2); got = b""; closed_at = None
t0 = time.time()
s.sendall(b"GET /plaintext HTTP/1.1\r\n")
while time.time() - t0 < 5:
    try:
        s.send(b"X-A: b\r\n")
    except OSError:
        closed_at = time.time() - t0; break
    try:
        d = s.recv(4096)
        if not d:
            closed_at = time.time() - t0; break
        got += d
    except socket.timeout:
        pass
    except OSError:
        closed_at = time.time() - t0; break
print(st, got.split(b"\r\n")[0].decode(), closed_at is not None and 0.9 <= closed_at <= 2.5)
EOF
)
is "$out" "200 HTTP/1.1 408 Request Timeout True" "header timeout on a kept-alive connection: a dribbled second request gets 408 after ~1s"

out=$(py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"])
# a connection that never sends anything is closed at the header timeout too
s = httpc.connect(p); t0 = time.time()
rd = httpc.Reader(s)
c = rd.closed(4)
print(c, 0.9 <= time.time() - t0 <= 2.5)
EOF
)
is "$out" "True True" "silent new connection closed at the header timeout"

out=$(py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"])
s = httpc.connect(p); rd = httpc.Reader(s)
s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
r = rd.response(); t0 = time.time()
alive_at_1 = not rd.closed(1.0)          # before the 1.5 s idle timeout
c = rd.closed(3)
print(r.status, alive_at_1, c, 1.2 <= time.time() - t0 <= 3.0)
EOF
)
is "$out" "200 True True True" "idle keep-alive connection closed after ~1.5s, not before"

out=$(py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"])
# activity resets the idle timer: requests every 0.8 s keep one connection for 3 s
s = httpc.connect(p); rd = httpc.Reader(s); n = 0
for i in range(4):
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
    n += rd.response().status == 200
    time.sleep(0.8)
print(n)
EOF
)
is "$out" "4" "each request restarts the idle timeout"

out=$(py <<'EOF'
import os, httpc, time, socket
p = int(os.environ["PORT"])
# a client that asks for 64 MiB and never reads: no write progress -> closed
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", p))
s.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
time.sleep(3.5)
data = b""; end = "timeout"
s.settimeout(3)
try:
    while True:
        d = s.recv(1 << 20)
        if not d:
            end = "closed"; break
        data += d
except ConnectionResetError:
    end = "closed"
except socket.timeout:
    pass
head, _, body = data.partition(b"\r\n\r\n")
# the file was being sent (200, its length), part of it arrived, and the
# server - not our patience - ended the connection
print(head.split(b"\r\n")[0].decode(), b"Content-Length: 67108864" in head,
      0 < len(body) < 64 * 1024 * 1024, end)
EOF
)
is "$out" "HTTP/1.1 200 OK True True closed" "write timeout: a reader that stalls gets part of the file, then the server closes"

m=$(curl -s "http://127.0.0.1:$PORT/metrics")
for k in header idle write; do
	v=$(printf '%s\n' "$m" | awk -v k="qps_timeouts_total{kind=\"$k\"}" '$1 == k { print $2 }')
	cmp_ok "${v:-0}" -ge 1 "metrics count $k timeouts ($v)"
done
v=$(printf '%s\n' "$m" | awk '$1 == "qps_requests_total{route=\"other\",code=\"408\"}" { print $2 }')
is "${v:-0}" "2" "metrics count exactly two 408s"
stop_server
is "$SRC" "0" "server exits 0 on SIGTERM"
done_testing
