# probes/ - user-space side of the BPF programs; linked into qps-tune.
PROBE_SRCS := $(wildcard probes/*.c)
PROBE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(PROBE_SRCS))

# every probe object may include any skeleton
$(PROBE_OBJS): $(BPF_SKELS)
