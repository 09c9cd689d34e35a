# tuner/ - qps-tune. TUNER_CORE_OBJS: the engine (everything but the CLI
# layer: main.c, cli_*.c, profilecmd.c, probe.c), for unit tests.
TUNER_SRCS      := $(wildcard tuner/*.c)
TUNER_OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(TUNER_SRCS))
TUNER_CLI_OBJS  := $(patsubst %.c,$(BUILD)/%.o,tuner/main.c $(wildcard tuner/cli_*.c) tuner/profilecmd.c tuner/probe.c)
TUNER_CORE_OBJS := $(filter-out $(TUNER_CLI_OBJS),$(TUNER_OBJS))
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

# docs/checks.md is generated from the registry (tuner/checks.c); tests/tuner/checks.t
# fails when the committed file differs
docs/checks.md: $(BUILD)/qps-tune
	$(call msg,GEN,$@)
	$(Q)$(BUILD)/qps-tune checks --markdown > $@
.PHONY: docs-checks
docs-checks: docs/checks.md
