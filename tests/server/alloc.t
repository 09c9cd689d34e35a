#!/usr/bin/env bash
# alloc.t - no malloc/free per request: the same server run with 1,000 and with
# 20,000 requests (keep-alive, pipelined, errors, new connections) must make
# (nearly) the same number of allocator calls. Counted by an LD_PRELOAD shim.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 4

case $QPS_SERVER in */san/*) skip_rest "sanitizer build: ASan owns malloc" ;; esac
CC=${CC:-cc}
if ! $CC -shared -fPIC -O2 -o "$TMPD/alloc_count.so" "$SERVER_DIR/alloc_count.c" 2>"$TMPD/cc.log"; then
	echo "Bail out! cannot build the allocation counter: $(head -3 "$TMPD/cc.log")"; exit 1
fi

run() {	# N requests of each kind; echoes the allocator calls of the whole run
	local n=$1 port pid
	port=$(free_port)
	QPS_ALLOC_OUT=$TMPD/alloc.$n LD_PRELOAD=$TMPD/alloc_count.so \
		"$QPS_SERVER" --listen "127.0.0.1:$port" --workers 1 2>"$TMPD/alloc.$n.log" &
	pid=$!
	wait_port "$port" 10 || return 1
	PORT=$port N=$n py <<'EOF' > "$TMPD/alloc.$n.client"
import os, httpc, socket
p = int(os.environ["PORT"]); n = int(os.environ["N"])
s = httpc.connect(p); rd = httpc.Reader(s); ok = 0
for i in range(n):                                   # keep-alive, one at a time
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"); ok += rd.response().status == 200
batch = b"GET /json HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n" * 50
for i in range(n // 100):                            # pipelined, with 404s
    s.sendall(batch)
    for k in range(100): ok += rd.response().status in (200, 404)
for i in range(n // 20):                             # a new connection per request
    r, _ = httpc.request(p, b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    ok += r.status == 200
print(ok)
EOF
	kill -TERM $pid; wait $pid
	cat "$TMPD/alloc.$n"
}

small=$(run 1000); big=$(run 20000)
is "$(cat "$TMPD/alloc.1000.client")" "2050" "1,000-request run answered (2,050 responses)"
is "$(cat "$TMPD/alloc.20000.client")" "41000" "20,000-request run answered (41,000 responses)"
cmp_ok "${small:-0}" -gt 0 "allocation counter works ($small calls)"
diff=$(( ${big:-999999} - ${small:-0} ))
cmp_ok "$diff" -le 50 "38,950 more responses cost $diff more allocator calls (<= 50)"
done_testing
