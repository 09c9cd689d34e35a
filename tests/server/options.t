#!/usr/bin/env bash
# options.t - the socket options, each checked where the kernel shows it:
#   --listen [::1]:PORT  ss shows the IPv6 listener; IPv4 is not answered
#   --defer-accept 0     a silent client is ESTAB on the server side at once
#                        (with the default it stays SYN-RECV: ss)
#   --no-nodelay         TCP_NODELAY read back with getsockopt() on the
#                        server's own accepted socket (pidfd_getfd)
#   --batch N            the idle worker sits in epoll_wait(..., N, ...)
#                        (/proc/PID/task/TID/syscall)
#   a second SIGTERM during the drain exits at once with status 1
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 21

# -- IPv6 ------------------------------------------------------------------
PORT=$(free_port)
SLOG=$TMPD/v6.log
"$QPS_SERVER" --listen "[::1]:$PORT" --workers 2 2>"$SLOG" &
SPID=$!
wait_port "$PORT" 10 || { echo "Bail out! no IPv6 listener"; sed 's/^/# /' "$SLOG"; exit 1; }
is "$(curl -sg "http://[::1]:$PORT/plaintext")" "Hello, World!" "IPv6: [::1] answers"
is "$(ss -H6tln "sport = :$PORT" | awk '{ print $4 }' | sort -u)" "[::1]:$PORT" "IPv6: ss shows the listener on [::1]:$PORT"
is "$(ss -H4tln "sport = :$PORT" | wc -l)" 0 "IPv6: no IPv4 listener (IPV6_V6ONLY)"
is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/plaintext")" "000" "IPv6: 127.0.0.1 is refused"
like "$(head -1 "$SLOG")" "listening on \[::1\]:$PORT, 2 workers" "IPv6: start-up line names [::1]:$PORT"
stop_server
"$QPS_SERVER" --listen "[::1:$PORT" 2>/dev/null
is "$?" 2 "IPv6: '[::1:PORT' (no ']') is a usage error"

# -- TCP_DEFER_ACCEPT ----------------------------------------------------------
# a client that connects and says nothing: with TCP_DEFER_ACCEPT the server's
# side stays SYN-RECV (not accepted, no wake-up); without, it is established
silent_state() {
	py <<'EOF'
import os, socket, subprocess, time
p = os.environ["PORT"]
s = socket.create_connection(("127.0.0.1", int(p)))
time.sleep(0.4)
def n(state):
    o = subprocess.run(["ss", "-Htn", "state", state, "( sport = :%s )" % p],
                       capture_output=True, text=True).stdout
    return len(o.splitlines())
print(n("syn-recv"), n("established"))
EOF
}
start_server --workers 1
is "$(silent_state)" "1 0" "default --defer-accept 1s: a silent client stays SYN-RECV on the server side"
stop_server
start_server --workers 1 --defer-accept 0 --header-timeout 1s
is "$(silent_state)" "0 1" "--defer-accept 0: a silent client is established (accepted) at once"
out=$(py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"])
s = httpc.connect(p); rd = httpc.Reader(s)
codes = []
for path in ("/plaintext", "/json", "/healthz"):
    s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
    codes.append(rd.response().status)
# accepted before any data: the header timeout runs from accept
q = httpc.connect(p); t0 = time.time()
print(" ".join(map(str, codes)), httpc.Reader(q).closed(4), 0.8 <= time.time() - t0 <= 3)
EOF
)
is "$out" "200 200 200 True True" "--defer-accept 0: keep-alive requests served; a silent connection closed at the 1s header timeout"
stop_server

# -- TCP_NODELAY ---------------------------------------------------------------
# getsockopt on the server's own socket for our connection: pidfd_getfd()
# copies it out of the server (we are its parent), getpeername() finds it
nodelay() {	# extra qps-server args -> "NODELAY-value 200"
	start_server --workers 1 "$@"
	SPID=$SPID py <<'EOF'
import ctypes, os, socket, time, httpc
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438
c = httpc.connect(p); rd = httpc.Reader(c)
c.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
st = rd.response().status          # a keep-alive connection that outlived its first request
time.sleep(0.3)                     # the answer may go out before the option is set
me = c.getsockname()
pfd = os.pidfd_open(pid)
val = "none"
for name in os.listdir("/proc/%d/fd" % pid):
    try:
        if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
            continue
    except OSError:
        continue
    fd = libc.syscall(SYS_pidfd_getfd, pfd, int(name), 0)
    if fd < 0:
        val = "pidfd_getfd: " + os.strerror(ctypes.get_errno()); continue
    s = socket.socket(fileno=fd)
    try:
        if s.type == socket.SOCK_STREAM and s.getpeername() == me:
            val = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    except OSError:
        pass
    s.close()
print(val, st)
EOF
	stop_server
}
is "$(nodelay)" "1 200" "default: TCP_NODELAY set on a keep-alive connection (getsockopt on the server's socket)"
is "$(nodelay --no-nodelay)" "0 200" "--no-nodelay: TCP_NODELAY left off"
is "$(nodelay --defer-accept 0)" "1 200" "--defer-accept 0: TCP_NODELAY set too"

# -- --batch -------------------------------------------------------------------
# an idle worker blocks in epoll_wait(epfd, events, maxevents = --batch, ...);
# the kernel shows the blocked syscall and its arguments in /proc
epoll_maxevents() {	# -> the maxevents argument of each thread blocked in epoll_wait
	local t f
	sleep 0.3
	for t in /proc/"$SPID"/task/*; do
		read -r -a f < "$t/syscall" || continue
		# x86_64: 232 epoll_wait, 281 epoll_pwait; aarch64: 22 epoll_pwait
		case "$(uname -m):${f[0]}" in
		x86_64:232|x86_64:281|aarch64:22) echo $((f[3])) ;;
		esac
	done | sort -u | tr '\n' ' '
}
start_server --workers 2
is "$(epoll_maxevents)" "512 " "default: workers wait with maxevents 512"
stop_server
start_server --workers 2 --batch 1
is "$(epoll_maxevents)" "1 " "--batch 1: workers wait with maxevents 1"
out=$(py <<'EOF'
import os, httpc, threading
p = int(os.environ["PORT"]); good = []
def client():
    s = httpc.connect(p); rd = httpc.Reader(s); n = 0
    for _ in range(20):
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n")
        a, b = rd.response(), rd.response()
        n += a.body == b"Hello, World!" and b.body == b'{"message":"Hello, World!"}'
    good.append(n)
ts = [threading.Thread(target=client) for _ in range(30)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(good))
EOF
)
is "$out" 600 "--batch 1: 30 concurrent connections x 20 pipelined pairs all answered right"
stop_server
start_server --workers 1 --batch 7
is "$(epoll_maxevents)" "7 " "--batch 7: maxevents 7"
stop_server
"$QPS_SERVER" --batch 0 2>/dev/null
is "$?" 2 "--batch 0 is a usage error"

# -- a second signal during the drain -------------------------------------------
start_server --workers 1 --demo --drain-timeout 10s
out=$(SPID=$SPID py <<'EOF'
import os, httpc, signal, threading, time
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
res = []
def slow():
    try:
        res.append(httpc.get(p, "/delay?ms=5000", timeout=10).status)
    except Exception as e:
        res.append(type(e).__name__)
def running():      # not gone, not a zombie (the shell reaps it later)
    try:
        st = open("/proc/%d/stat" % pid).read()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"
t = threading.Thread(target=slow); t.start()
time.sleep(0.4)
os.kill(pid, signal.SIGTERM)        # drain: waits for the 5 s request
time.sleep(0.4)
alive = running()
t0 = time.time()
os.kill(pid, signal.SIGTERM)        # second: exit now
while running() and time.time() - t0 < 4:
    time.sleep(0.02)
print(alive, "%.1f" % (time.time() - t0))
t.join()
EOF
)
wait "$SPID"; rc=$?; SPID=""
read -r alive took <<< "$out"
is "$alive" True "first SIGTERM: still draining the 5 s request"
cmp_ok "$(awk -v t="$took" 'BEGIN { print (t < 1.5) ? 1 : 0 }')" -eq 1 "second SIGTERM: exited ${took}s later, not after the request"
is "$rc" 1 "second signal: exit status 1"
like "$(cat "$SLOG")" "second signal: exiting now" "second signal logged"
done_testing
