#!/usr/bin/env bash
# demo.t - the --demo routes (/cpu, /delay) are bounded per connection: one
# costly request at a time (the other clients of the worker are served
# between two of them), and a budget of worker time per connection beyond
# which the answer is 429 with Retry-After. Checked from outside: the order
# in which two clients get their answers, the server's CPU time from
# /proc/PID/stat, and the clock.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 9

start_server --workers 1 --demo
HZ=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$SPID/stat"; }

# 1. eight pipelined /cpu?us=1000000 in one packet (8 s of CPU before the
# budget existed) while a second client asks for /plaintext
t0=$(ticks)
out=$(SPID=$SPID py <<'EOF'
import os, httpc, time, threading
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
hz = os.sysconf("SC_CLK_TCK")
def cpu_ms():       # the server's CPU time: not slowed down by a busy machine
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 // hz
a = httpc.connect(p, timeout=60); ra = httpc.Reader(a)
a.sendall(b"GET /cpu?us=1000000 HTTP/1.1\r\nHost: t\r\n\r\n" * 8)
time.sleep(0.05)
t = time.time()
b = httpc.connect(p, timeout=60); rb = httpc.Reader(b)
c0 = cpu_ms()
b.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
got = {}
def read_a():
    got["a"] = []
    for _ in range(8):
        got["a"].append((ra.response(), time.time()))
def read_b():
    got["b"] = (rb.response(), time.time())
    got["cpu"] = cpu_ms() - c0
ts = [threading.Thread(target=read_a), threading.Thread(target=read_b)]
for x in ts: x.start()
for x in ts: x.join()
r, tb = got["b"]
codes = [x.status for x, _ in got["a"]]
# how long b waited in the server's CPU time, not in wall time (the machine
# may be busy): at most the one costly request in progress, not all eight
print(r.status, "%.2f" % (tb - t), " ".join(map(str, codes)), got["cpu"])
r429 = got["a"][-1][0]
print(r429.headers.get("retry-after", "none"))
print(r429.body.decode().strip())
EOF
)
t1=$(ticks)
read -r bstat blat c1 c2 c3 c4 c5 c6 c7 c8 bcpu <<< "$(sed -n 1p <<< "$out")"
codes="$c1 $c2 $c3 $c4 $c5 $c6 $c7 $c8"
is "$bstat" 200 "other client answered"
# one /cpu?us=1000000 takes 1 s of the worker: the other client waits for
# that one, not for all eight (before: ~8 s, after all of them)
cmp_ok "${bcpu:-99999}" -lt 1500 "other client answered after ${bcpu} ms of server CPU (${blat}s wall): one costly request, not eight"
is "$codes" "200 429 429 429 429 429 429 429" "first costly request runs, the 7 beyond the budget get 429"
like "$(sed -n 2p <<< "$out")" '^[1-9][0-9]*$' "429 carries Retry-After in seconds ($(sed -n 2p <<< "$out"))"
like "$(sed -n 3p <<< "$out")" "budget" "429 body says why: $(sed -n 3p <<< "$out")"
cpu=$(( (t1 - t0) * 1000 / HZ ))
cmp_ok "$cpu" -lt 2500 "server burnt ${cpu} ms of CPU for the pipeline (one request: ~1000; unbounded: ~8000)"

# 2. within the budget, pipelined costly requests still take turns: a client
# that sends after them is answered before the last of them
out=$(py <<'EOF'
import os, httpc, time, threading
p = int(os.environ["PORT"])
a = httpc.connect(p); ra = httpc.Reader(a)
b = httpc.connect(p); rb = httpc.Reader(b)
done = {}
a.sendall(b"GET /cpu?us=100000 HTTP/1.1\r\nHost: t\r\n\r\n" * 3)
time.sleep(0.02)
b.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
def rd(name, r, n):
    for _ in range(n): s = r.response().status
    done[name] = (time.time(), s)
ta = threading.Thread(target=rd, args=("a", ra, 3)); tb = threading.Thread(target=rd, args=("b", rb, 1))
ta.start(); tb.start(); ta.join(); tb.join()
print(done["a"][1], done["b"][1], done["b"][0] < done["a"][0])
EOF
)
is "$out" "200 200 True" "a client sending after 3 pipelined /cpu is answered before the third"

# 3. the budget refills: after Retry-After the same connection runs again
out=$(py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"])
a = httpc.connect(p, timeout=15); ra = httpc.Reader(a)
a.sendall(b"GET /delay?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n" * 5)
codes = [ra.response().status for _ in range(5)]
print(" ".join(map(str, codes)))
EOF
)
# 1 s budget: 300+300+300+300 ms run (100 ms are still left before the
# fourth), the fifth is refused
is "$out" "200 200 200 200 429" "/delay counts against the same budget"
stop_server
is "$SRC" 0 "server exits 0"
done_testing
