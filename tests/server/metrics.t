#!/usr/bin/env bash
# metrics.t - /metrics counters move by exactly the requests made.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
plan 13

start_server --workers 2 --demo

out=$(py <<'EOF'
import os, httpc, random
p = int(os.environ["PORT"])
def key(route, code): return 'qps_requests_total{route="%s",code="%d"}' % (route, code)
a = httpc.metrics(p)
n_plain, n_json, n_404, n_head = random.randint(20, 60), random.randint(5, 30), random.randint(1, 9), 7
s = httpc.connect(p); rd = httpc.Reader(s)
for i in range(n_plain):
    s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"); rd.response()
for i in range(n_json):
    s.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n"); rd.response()
for i in range(n_head):
    s.sendall(b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n"); rd.response(head_only=True)
for i in range(n_404):
    s.sendall(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"); rd.response()
s.sendall(b"GET /delay?ms=30 HTTP/1.1\r\nHost: t\r\n\r\n"); rd.response()
s.close()
r, _ = httpc.request(p, b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")   # one 400 on its own connection
b = httpc.metrics(p)
d = lambda k: int(b.get(k, 0) - a.get(k, 0))
print(d(key("plaintext", 200)) == n_plain, d(key("json", 200)) == n_json + n_head,
      d(key("other", 404)) == n_404, d(key("other", 400)), d(key("metrics", 200)), d(key("delay", 200)))
total = n_plain + n_json + n_head + n_404 + 1 + 1 + 1   # + delay + 400 + the first scrape
print(int(b["qps_request_duration_seconds_count"] - a["qps_request_duration_seconds_count"]) == total)
# the 30 ms delay landed in a bucket above 25 ms
slow = b['qps_request_duration_seconds_bucket{le="+Inf"}'] - b['qps_request_duration_seconds_bucket{le="0.025"}']
print(int(slow - (a['qps_request_duration_seconds_bucket{le="+Inf"}'] - a['qps_request_duration_seconds_bucket{le="0.025"}'])))
print(d("qps_connections_accepted_total"), d("qps_connections_closed_total") >= 2, d("qps_bad_requests_total"))
# bytes: received grew by at least what we sent, sent by at least the bodies
print(d("qps_received_bytes_total") >= 35 * n_plain, d("qps_sent_bytes_total") >= 13 * n_plain + 27 * n_json)
EOF
)
l1=$(sed -n 1p <<< "$out"); l2=$(sed -n 2p <<< "$out"); l3=$(sed -n 3p <<< "$out"); l4=$(sed -n 4p <<< "$out"); l5=$(sed -n 5p <<< "$out")
read -r p j n4 n400 nm nd <<< "$l1"
is "$p" True "plaintext 200 moved by exactly the requests made"
is "$j" True "json 200 moved by GETs + HEADs"
is "$n4" True "404 counted by route other"
is "$n400" 1 "one 400 counted"
is "$nm" 1 "the first /metrics scrape counted once (a scrape excludes itself)"
is "$nd" 1 "one /delay"
is "$l2" True "latency histogram count = requests answered"
is "$l3" 1 "the 30 ms /delay falls above the 25 ms bucket"
read -r acc clo bad <<< "$l4"
is "$acc" 3 "connections accepted: exactly 3 (keep-alive, bad, 2nd scrape)"
is "$clo $bad" "True 1" "connections closed counted; one bad request stream"
is "$l5" "True True" "bytes received and sent counted"
like "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'qps_accept_errors_total\{errno="EMFILE"\} 0' "accept errors by errno exported"

out=$(SPID=$SPID py <<'EOF'
import os, httpc, time
p = int(os.environ["PORT"]); pid = int(os.environ["SPID"])
def ticks():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
c0 = ticks(); t0 = time.time()
r = httpc.get(p, "/cpu?us=300000")
wall = time.time() - t0; cpu = ticks() - c0
print(r.status, wall >= 0.29, cpu >= 0.28)
EOF
)
is "$out" "200 True True" "/cpu?us=300000 burns ~0.3 s of server CPU"
stop_server
done_testing
