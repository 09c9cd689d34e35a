#!/usr/bin/env bash
# qps-load, black box: against a tiny Python HTTP server inside a fresh network
# namespace (loopback only): counts, each error kind, the burst, bounds, usage.
source "$(dirname "$0")/../lib.sh"
LOAD=${QPS_LOAD:-$BUILD/qps-load}

plan 22
[ -x "$LOAD" ] || skip_rest "no $LOAD (run make)"
is_root || skip_rest "needs root for a network namespace"
command -v python3 >/dev/null && command -v jq >/dev/null || skip_rest "needs python3 and jq"

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/srv.py" <<'PY'
import socket, sys, time, http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536            # head and body in one write
    def do_GET(self):
        if self.path.startswith("/hang"):
            time.sleep(5); return
        code = 404 if self.path.startswith("/missing") else 200
        body = b"Hello, World!"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
srv = S(("127.0.0.1", 8080), H)
# a listener that never accepts, backlog 0: once its queue holds one
# connection, further SYNs are dropped and connects time out
deaf = socket.socket(); deaf.bind(("127.0.0.1", 8082)); deaf.listen(0)
srv.serve_forever()
PY

# Everything below runs inside one namespace; each case prints one line: TAG JSON.
cat >"$T/run.sh" <<SH
ip link set lo up
python3 "$T/srv.py" & SRV=\$!
for i in \$(seq 50); do ss -Htln 'sport = :8080' | grep -q . && break; sleep 0.1; done
L=$LOAD
echo "ka \$(\$L -j -c 4 -n 200 127.0.0.1:8080)"
echo "nc \$(\$L -j -c 4 -n 100 --new-conn 127.0.0.1:8080)"
echo "x4 \$(\$L -j -c 2 -n 10 -p /missing 127.0.0.1:8080)"
echo "rf \$(\$L -j -c 2 -d 0.5 127.0.0.1:8081)"
echo "rt \$(\$L -j -c 1 -d 1.2 -t 300 -p /hang 127.0.0.1:8080)"
echo "ct \$(\$L -j -c 4 -d 1.2 --connect-timeout 300 127.0.0.1:8082)"
echo "bu \$(\$L -j -c 0 -b 200 --burst-interval 0 -d 1.5 127.0.0.1:8080)"
s=\$(date +%s%N); \$L -c 2 -d 1 127.0.0.1:8080 >"$T/text.out"; e=\$(date +%s%N)
echo "tm \$(( (e - s) / 1000000 ))"
kill \$SRV
SH
out=$(timeout 60 unshare -n bash "$T/run.sh" 2>"$T/err")
get() { printf '%s\n' "$out" | sed -n "s/^$1 //p" | jq -r "$2" 2>/dev/null; }

is "$(get ka .schema)" "qps-load/1" "JSON document with its schema"
is "$(get ka .requests)" 200 "keep-alive: -n 200 gives 200 responses"
is "$(get ka .errors.total)" 0 "keep-alive: no errors"
is "$(get ka .connections.opened)" 4 "keep-alive: one connection per client"
is "$(get nc .requests)" 100 "new-conn: 100 responses"
cmp_ok "$(get nc .connections.opened)" -ge 100 "new-conn: a connection per request"
is "$(get nc .errors.total)" 0 "new-conn: no errors"
is "$(get x4 .errors.non_2xx)" 10 "404s are counted as non_2xx"
is "$(get x4 .requests)" 0 "404s are not successes"
cmp_ok "$(get rf .errors.connect_refused)" -gt 0 "closed port: connect_refused"
is "$(get rf .requests)" 0 "closed port: no successes"
cmp_ok "$(get rt .errors.read_timeout)" -ge 2 "silent server: read_timeout after -t 300"
cmp_ok "$(get ct .errors.connect_timeout)" -gt 0 "full accept queue: connect_timeout"
is "$(get bu .connections.peak_open)" 200 "burst: 200 connections open at once"
is "$(get bu .requests)" 200 "burst: one request each with --burst-interval 0"
cmp_ok "$(get ka '.latency_ms.p99 * 1000 | floor')" -gt 0 "latency p99 reported"
cmp_ok "$(get ka 'if .latency_ms.p50 <= .latency_ms.p99 and .latency_ms.p99 <= .latency_ms.max then 1 else 0 end')" -eq 1 "p50 <= p99 <= max"
t=$(printf '%s\n' "$out" | sed -n 's/^tm //p')
cmp_ok "${t:-99999}" -lt 2500 "-d 1 ends within 2.5 s (took ${t:-?} ms)"
like "$(cat "$T/text.out" 2>/dev/null)" "req/s" "text report has req/s"
like "$(cat "$T/text.out" 2>/dev/null)" "p99 [0-9.]+ ms" "text report has p99"
"$LOAD" >/dev/null 2>&1
is "$?" 2 "no target: exit 2"
"$LOAD" --conns x 127.0.0.1:1 >/dev/null 2>&1
is "$?" 2 "bad number: exit 2"
if [ "$_tap_failed" != 0 ]; then
	diag "output:"
	printf '%s\n' "$out" | sed 's/^/#   /'
	head -20 "$T/err" | sed 's/^/#   /'
fi
done_testing
