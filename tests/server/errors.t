#!/usr/bin/env bash
# errors.t - every error status, and the connection closed wherever the stream
# can no longer be trusted; chunked bodies parsed and discarded correctly.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 27

start_server --workers 1 --max-body-bytes 1000 --max-header-bytes 1024

# check NAME WANT_STATUS WANT_CLOSED RAW (a one-line python bytes expression);
# all cases then run in one python process (run_checks), each on its own connection
NAMES=(); WANTS=(); RAWS=$TMPD/raws; : > "$RAWS"
check() { NAMES+=("$1"); WANTS+=("$2 $3"); printf '%s\n' "$4" >> "$RAWS"; }
run_checks() {
	local got i
	mapfile -t got < <(RAWS=$RAWS py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
for line in open(os.environ["RAWS"]):
    try:
        r, closed = httpc.request(p, eval(line))
        print(r.status if r else "none", closed)
    except Exception as e:
        print("error", type(e).__name__, e)
EOF
)
	for i in "${!NAMES[@]}"; do is "${got[i]:-missing}" "${WANTS[i]}" "${NAMES[i]}"; done
}

check "space before colon -> 400, closed"  400 True  'b"GET / HTTP/1.1\r\nHost : t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"'
check "obs-fold -> 400, closed"            400 True  'b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n"'
check "NUL in a header -> 400, closed"     400 True  'b"GET / HTTP/1.1\r\nHost: t\x00\r\n\r\n"'
check "NUL in the target -> 400, closed"   400 True  'b"GET /pla\x00intext HTTP/1.1\r\nHost: t\r\n\r\n"'
check "HTTP/1.1 without Host -> 400"       400 True  'b"GET /plaintext HTTP/1.1\r\n\r\n"'
check "two Host fields -> 400"             400 True  'b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"'
check "CL + TE -> 400, closed (no smuggling)" 400 True 'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n"'
check "differing Content-Length -> 400"    400 True  'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"'
check "bad chunk size -> 400, closed"      400 True  'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"'
check "chunk data overrun -> 400, closed"  400 True  'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n"'
check "bare CR -> 400"                     400 True  'b"GET /plaintext HTTP/1.1\rHost: t\r\n\r\n"'
check "TE in HTTP/1.0 -> 400"              400 True  'b"POST /plaintext HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"'
check "relative target -> 400"             400 True  'b"GET plaintext HTTP/1.1\r\nHost: t\r\n\r\n"'
check "Content-Length over --max-body-bytes -> 413, closed" 413 True 'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n" + b"x" * 1001'
check "chunked body over --max-body-bytes -> 413, closed"   413 True 'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + b"200\r\n" + b"x" * 512 + b"\r\n" + b"300\r\n" + b"y" * 768 + b"\r\n0\r\n\r\n"'
check "request line over --max-header-bytes -> 414"  414 True 'b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"'
check "header fields over --max-header-bytes -> 431" 431 True 'b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-Big: " + b"b" * 2000 + b"\r\n\r\n"'
check "more than 100 fields -> 431"        431 True  'b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X%d: v\r\n" % i for i in range(101)) + b"\r\n"'
check "Transfer-Encoding gzip -> 501"      501 True  'b"POST /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"'
check "HTTP/2.0 -> 505"                    505 True  'b"GET /plaintext HTTP/2.0\r\nHost: t\r\n\r\n"'
check "HTTP/3.1 -> 505"                    505 True  'b"GET /plaintext HTTP/3.1\r\nHost: t\r\n\r\n"'
run_checks

# chunked bodies are parsed and discarded: the next pipelined request is intact
out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
body = b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
s = httpc.connect(p); rd = httpc.Reader(s)
s.sendall(b"POST /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
          b"GET /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
          b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
a, b, c = rd.response(), rd.response(), rd.response()
print(a.status, b.status, b.body.decode(), c.status, c.body.decode())
EOF
)
is "$out" '405 200 Hello, World! 200 {"message":"Hello, World!"}' "chunked bodies discarded, pipelined request after them answered"

out=$(py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"])
# the same, with the chunked body dribbled in small pieces
data = (b"GET /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n")
s = httpc.connect(p); rd = httpc.Reader(s)
for i in range(0, len(data), 3):
    s.sendall(data[i:i+3]); time.sleep(0.002)
a, b = rd.response(), rd.response()
print(a.status, b.status, b.headers["content-type"])
EOF
)
is "$out" "200 200 application/json" "chunked body dribbled in 3-byte pieces"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
s = httpc.connect(p); rd = httpc.Reader(s)
s.sendall(b"POST /json HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
a, b = rd.response(), rd.response()
print(a.status, b.status)
EOF
)
is "$out" "405 200" "Content-Length body discarded before the next request"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
# a smuggling probe must not produce a second response
s = httpc.connect(p); rd = httpc.Reader(s)
s.sendall(b"POST /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
          b"0\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n")
a = rd.response()
print(a.status, rd.closed(2))
EOF
)
is "$out" "400 True" "TE+CL smuggling probe: one 400, then close, nothing else"

out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
r, closed = httpc.request(p, b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
print(r.status, closed)
EOF
)
is "$out" "405 True" "Expect: 100-continue without the body: answered and closed, no hang"

# the server survived all of it
is "$(curl -s "http://127.0.0.1:$PORT/plaintext")" "Hello, World!" "still serving after every bad request"
stop_server
done_testing
