# tuner/ - the qps-tune CLI. TUNER_CORE_OBJS: everything but main, for unit tests.
TUNER_SRCS      := $(wildcard tuner/*.c)
TUNER_OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(TUNER_SRCS))
TUNER_CORE_OBJS := $(filter-out $(BUILD)/tuner/main.o,$(TUNER_OBJS))
QPS_TUNE_LIBS   := -lbpf -lelf -lz -lmnl -lpthread
ALL             += $(BUILD)/qps-tune

$(TUNER_OBJS): $(BPF_SKELS)

$(BUILD)/qps-tune: $(TUNER_OBJS) $(PROBE_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS) $(QPS_TUNE_LIBS)
