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

# make fuzz also runs the probes' parsers of what other processes control:
# fuzz_maps (maps and perf-map lines, name escaping) and fuzz_elf (the ELF
# symbolizer), FUZZ_SECONDS each, seeds from tests/fuzz/corpus-{maps,elf}
# (new inputs go to $(BUILD)/fuzz/, the committed seeds are only read).
# Always clang, ASan+UBSan built in; libelf itself is not instrumented.
FUZZ_SECONDS    ?= 60
FUZZ_PROBE_BINS := $(BUILD)/fuzz/fuzz_maps $(BUILD)/fuzz/fuzz_elf
FUZZ_PROBE_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iprobes \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(BUILD)/fuzz/fuzz_maps: tests/fuzz/fuzz_maps.c probes/symmaps.c probes/symmaps.h probes/escape.c probes/escape.h
	@mkdir -p $(@D)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_PROBE_CFLAGS) tests/fuzz/fuzz_maps.c probes/symmaps.c probes/escape.c -o $@

$(BUILD)/fuzz/fuzz_elf: tests/fuzz/fuzz_elf.c probes/symelf.c probes/symelf.h probes/escape.c probes/escape.h
	@mkdir -p $(@D)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_PROBE_CFLAGS) tests/fuzz/fuzz_elf.c probes/symelf.c probes/escape.c -o $@ -lelf -lz -lpthread

.PHONY: fuzz-probes
fuzz: fuzz-probes
fuzz-probes: $(FUZZ_PROBE_BINS)
	@mkdir -p $(BUILD)/fuzz/corpus-maps $(BUILD)/fuzz/corpus-elf $(BUILD)/fuzz/artifacts
	$(Q)$(BUILD)/fuzz/fuzz_maps -max_total_time=$(FUZZ_SECONDS) -max_len=20000 -timeout=10 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/maps- -print_final_stats=1 \
		$(BUILD)/fuzz/corpus-maps tests/fuzz/corpus-maps
	$(Q)$(BUILD)/fuzz/fuzz_elf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/elf- -print_final_stats=1 \
		$(BUILD)/fuzz/corpus-elf tests/fuzz/corpus-elf
