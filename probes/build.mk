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
