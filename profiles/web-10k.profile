# web-10k - the default: about 10k concurrent keep-alive connections,
# one listener per port, a single host.
inherit base
description "about 10k concurrent keep-alive connections, one listener per port (default)"
conns 10000

sysctl net.core.somaxconn >= 4096
# the SYN queue holds at least an accept queue (somaxconn as it is now, or as raised)
sysctl net.ipv4.tcp_max_syn_backlog >= max(4096, sysctl(net.core.somaxconn))
# 2 descriptors per connection plus 10% headroom
nofile >= max(1024, conns*2.2)
# spread receive processing when a NIC has fewer RX queues than CPUs
rps all
