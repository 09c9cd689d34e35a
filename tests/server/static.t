#!/usr/bin/env bash
# static.t - /static/ from --root with sendfile: content equals the file (small
# and large), HEAD, 404s, and no path - plain, encoded or via a symlink -
# ever leaves the root.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 22

ROOT=$TMPD/www
mkdir -p "$ROOT/sub" "$TMPD/outside"
printf 'index\n' > "$ROOT/index.html"
printf 'secret\n' > "$TMPD/outside/secret.txt"
printf 'secret\n' > "$TMPD/secret.txt"
head -c 100000 /dev/urandom > "$ROOT/sub/small.bin"
head -c 33554432 /dev/urandom > "$ROOT/large.bin"	# 32 MiB: many sendfile rounds
: > "$ROOT/empty.txt"
ln -s "$TMPD/outside/secret.txt" "$ROOT/escape.txt"	# absolute symlink out
ln -s ../outside "$ROOT/outdir"				# relative directory symlink out
ln -s sub/small.bin "$ROOT/inside.bin"			# symlink that stays inside

start_server --workers 2 --root "$ROOT"
export ROOT
U=http://127.0.0.1:$PORT

curl -s -o "$TMPD/got.small" "$U/static/sub/small.bin"
ok "small file: content equals the file" cmp -s "$TMPD/got.small" "$ROOT/sub/small.bin"
curl -s -o "$TMPD/got.large" "$U/static/large.bin"
ok "32 MiB file: content equals the file" cmp -s "$TMPD/got.large" "$ROOT/large.bin"
is "$(curl -s "$U/static/index.html")" "index" "html file"
is "$(curl -s -o /dev/null -w '%{content_type}' "$U/static/index.html")" "text/html; charset=utf-8" "content type from the extension"
is "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$U/static/empty.txt")" "200 0" "empty file"
is "$(curl -s -o /dev/null -w '%{http_code}' "$U/static/inside.bin")" "200" "symlink that stays inside the root is served"
like "$(curl -sI "$U/static/large.bin")" "Content-Length: 33554432" "HEAD: file length, no body"

# traversal: none of these may return the secret; each is an escape the
# kernel refuses (EXDEV), which the README promises as 403
for t in '/static/../secret.txt' '/static/../../etc/passwd' '/static/%2e%2e/secret.txt' \
	'/static/%2E%2E%2Fsecret.txt' '/static/..%2fsecret.txt' '/static/sub/..%2f..%2fsecret.txt' \
	'/static/%2fetc%2fpasswd' '/static//etc/passwd' '/static/escape.txt' '/static/outdir/secret.txt'; do
	res=$(curl -s --path-as-is -o "$TMPD/trav" -w '%{http_code}' "$U$t")
	if [ "$res" = 403 ] && ! grep -q -e secret -e root: "$TMPD/trav"; then
		pass "traversal refused with 403: $t"
	else
		fail "traversal refused with 403: $t" "got $res: $(head -c 100 "$TMPD/trav")"
	fi
done

is "$(curl -s -o /dev/null -w '%{http_code}' "$U/static/nope.txt")" "404" "missing file: 404"
is "$(curl -s -o /dev/null -w '%{http_code}' "$U/static/sub")" "404" "directory: 404"
mkfifo "$ROOT/fifo"
is "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$U/static/fifo")" "404" "FIFO: 404 at once (opening it must not block the worker)"
is "$(curl -s -o /dev/null -w '%{http_code}' "$U/static/a%00b")" "400" "encoded NUL: 400"

# pipelined: a file between two small responses keeps the order
out=$(py <<'EOF'
import os, httpc
p = int(os.environ["PORT"])
s = httpc.connect(p); rd = httpc.Reader(s)
s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /static/sub/small.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n")
a, b, c = rd.response(), rd.response(), rd.response()
print(a.body.decode(), len(b.body), b.body == open(os.environ["ROOT"] + "/sub/small.bin", "rb").read(), c.status)
EOF
)
is "$out" "Hello, World! 100000 True 200" "pipelined file between small responses"
stop_server
done_testing
