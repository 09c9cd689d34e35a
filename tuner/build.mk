# tuner/ - the qps-tune CLI. TUNER_CORE_OBJS: everything but main, for unit tests.
TUNER_SRCS      := $(wildcard tuner/*.c)
TUNER_OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(TUNER_SRCS))
TUNER_CORE_OBJS := $(filter-out $(BUILD)/tuner/main.o,$(TUNER_OBJS))
QPS_TUNE_LIBS   := -lbpf -lelf -lz -lmnl -lpthread
ALL             += $(BUILD)/qps-tune
PROFILES        := $(sort $(wildcard profiles/*.profile))

$(TUNER_OBJS): $(BPF_SKELS)

# built-in profiles: the files in profiles/, compiled in
$(BUILD)/tuner/builtin_profiles.h: $(PROFILES) tuner/gen-profiles.sh
	@mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)sh tuner/gen-profiles.sh $(PROFILES) > $@
$(BUILD)/tuner/profile.o: $(BUILD)/tuner/builtin_profiles.h

# gcc's -Wformat-truncation flags every bounded snprintf of a path; we truncate on purpose
TUNER_NOWARN := $(if $(findstring clang,$(CC)),,-Wno-format-truncation)
$(TUNER_OBJS): CFLAGS += $(TUNER_NOWARN)

$(BUILD)/qps-tune: $(TUNER_OBJS) $(PROBE_OBJS) $(LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS) $(QPS_TUNE_LIBS)
