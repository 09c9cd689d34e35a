# web-100k - 100k+ connections, many workers, multi-queue NIC.
inherit web-10k
description "100k+ concurrent connections, many workers, multi-queue NIC"
conns 100000

sysctl net.core.somaxconn >= 16384
sysctl net.ipv4.tcp_max_syn_backlog >= max(16384, sysctl(net.core.somaxconn))
sysctl net.core.netdev_max_backlog >= 5000
sysctl net.ipv4.tcp_slow_start_after_idle <= 0
sysctl net.ipv4.tcp_max_tw_buckets >= max(131072, conns*2)
xps spread
# one NIC queue IRQ per CPU (host-wide; stop irqbalance or ban these IRQs)
irq spread
