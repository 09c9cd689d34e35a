# proxy - L7 proxy or gateway: a client and an upstream connection per
# request, so more descriptors, more ephemeral ports, faster TIME-WAIT reuse.
inherit web-10k
description "L7 proxy / gateway: client + upstream connections per request"
conns 10000

nofile >= max(1024, conns*3.3)
sysctl net.ipv4.ip_local_port_range[0] <= 10240
sysctl net.ipv4.ip_local_port_range[1] >= 65000
sysctl net.ipv4.tcp_tw_reuse = 1
sysctl net.ipv4.tcp_fin_timeout <= 30
sysctl net.ipv4.tcp_max_tw_buckets >= max(131072, conns*4)
sysctl net.ipv4.tcp_slow_start_after_idle <= 0
