# probes/ - user-space side of the BPF programs; linked into qps-tune.
PROBE_SRCS := $(wildcard probes/*.c)
PROBE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(PROBE_SRCS))

# every probe object may include any skeleton
$(PROBE_OBJS): $(BPF_SKELS)

# A probe-only driver (no tuner/main.c) and the programs the tests/bpf suites
# provoke the kernel with. Built with `make test`/`make test-bpf`.
PROBE_TEST_BINS := $(BUILD)/tests/bpf/qps-probe $(BUILD)/tests/bpf/probe-helper
TEST_BINS += $(PROBE_TEST_BINS)

$(BUILD)/tests/bpf/qps-probe: $(BUILD)/tests/bpf/qps-probe.o $(BUILD)/tuner/probe.o $(PROBE_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS) -lbpf -lelf -lz -lmnl -lpthread

# the helper keeps frame pointers so offcpu can walk its user stacks
$(BUILD)/tests/bpf/probe-helper: tests/bpf/probe-helper.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(QPS_CFLAGS) -O1 -fno-omit-frame-pointer -fno-inline $< -o $@ $(QPS_LDFLAGS) -lpthread

# syscall number -> name table for syslat, generated from the kernel UAPI
# header of this architecture (an empty table elsewhere: numbers are printed).
SYSCALL_HDR := $(firstword $(wildcard /usr/include/$(shell uname -m)-linux-gnu/asm/unistd_64.h /usr/include/asm/unistd_64.h))
$(BUILD)/syscall_names.h: $(SYSCALL_HDR) probes/build.mk
	@mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)echo "/* generated from '$(SYSCALL_HDR)' by probes/build.mk */" > $@
	$(Q)[ -z "$(SYSCALL_HDR)" ] || awk '$$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ { printf "\t[%s] = \"%s\",\n", $$3, substr($$2, 6) }' $(SYSCALL_HDR) >> $@
$(BUILD)/probes/syscalls.o: $(BUILD)/syscall_names.h

# the newer probes' provoker (oncpu, tcpdrop, runqlat, leaks); frame pointers
# so that oncpu can walk its user stacks
PROBE_TEST_BINS += $(BUILD)/tests/bpf/incident-helper
TEST_BINS += $(BUILD)/tests/bpf/incident-helper
$(BUILD)/tests/bpf/incident-helper: tests/bpf/incident-helper.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(QPS_CFLAGS) -O1 -fno-omit-frame-pointer -fno-inline $< -o $@ $(QPS_LDFLAGS)

# folded stacks -> SVG through probes/flamegraph.c alone (tests/bpf/flamegraph.t)
PROBE_TEST_BINS += $(BUILD)/tests/bpf/fg-folded
TEST_BINS += $(BUILD)/tests/bpf/fg-folded
$(BUILD)/tests/bpf/fg-folded: $(BUILD)/tests/bpf/fg-folded.o $(BUILD)/probes/flamegraph.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS)
