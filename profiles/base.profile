# base - hygiene every qps-tune profile inherits.
# Rules are "at least" (>=), "at most" (<=), "=" or "in" (one of): a value
# better than the target passes and apply never lowers it.
description "hygiene every profile inherits: SYN cookies, no RST on overflow, buffers not below the kernel default"
conns 1000

# 1: cookies when the SYN queue overflows; 2 sends them for every connection,
# a test mode that drops TCP options (ip-sysctl.rst), so it does not pass
sysctl net.ipv4.tcp_syncookies = 1
sysctl net.ipv4.tcp_abort_on_overflow <= 0
sysctl net.ipv4.tcp_timestamps in 1,2
# never below the kernel's own default ceiling (the throughput trap)
sysctl net.ipv4.tcp_rmem[2] >= default
sysctl net.ipv4.tcp_wmem[2] >= default
# the system-wide file table must hold every service's descriptors
sysctl fs.file-max >= conns*2.2*1.2
sysctl fs.nr_open >= conns*2.2
