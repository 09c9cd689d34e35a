# latency - p99-sensitive RPC servers (modelled on tuned network-latency).
inherit web-10k
description "p99-sensitive RPC: no NUMA balancing, low swappiness, short SYN-ACK retries"
conns 10000

sysctl kernel.numa_balancing <= 0
sysctl vm.swappiness <= 10
sysctl net.ipv4.tcp_slow_start_after_idle <= 0
sysctl net.ipv4.tcp_synack_retries <= 3
# TFO for a server needs bit 0x2 (ip-sysctl.rst: 0x1 client, 0x2 server);
# "has" adds the bit and keeps the others (the default 1 becomes 3)
sysctl net.ipv4.tcp_fastopen has 2
