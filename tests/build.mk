# tests/unit/NAME.c -> $(BUILD)/tests/unit/NAME, a TAP program linked with the
# core objects of every component (all but each binary's main).
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
UNIT_LINK := $(LIB_OBJS) $(SERVER_CORE_OBJS) $(TUNER_CORE_OBJS) $(PROBE_OBJS)
TEST_BINS += $(UNIT_BINS)

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(BPF_SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(QPS_CFLAGS) -Itests/unit -Iserver -Ituner -Iprobes -c $< -o $@

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(UNIT_LINK)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS) -lbpf -lelf -lz -lmnl -lpthread
