# server/ - qps-server. SERVER_CORE_OBJS: everything but main, for unit tests.
SERVER_SRCS      := $(wildcard server/*.c)
SERVER_OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(SERVER_SRCS))
SERVER_CORE_OBJS := $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJS))
ALL              += $(BUILD)/qps-server

$(BUILD)/qps-server: $(SERVER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS) -lpthread

# make fuzz: libFuzzer run of the HTTP parser for FUZZ_SECONDS on the seed
# corpus in tests/fuzz/corpus (new inputs go to $(BUILD)/fuzz/corpus, the
# committed seeds are only read). Always clang; ASan+UBSan built in.
FUZZ_SECONDS ?= 60
FUZZ_BIN     := $(BUILD)/fuzz/fuzz_http

$(FUZZ_BIN): tests/fuzz/fuzz_http.c server/http.c server/http.h
	@mkdir -p $(@D)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -D_GNU_SOURCE -Iserver \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		tests/fuzz/fuzz_http.c server/http.c -o $@

fuzz: $(FUZZ_BIN)
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/artifacts
	$(Q)$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
		-dict=tests/fuzz/http.dict -artifact_prefix=$(BUILD)/fuzz/artifacts/ \
		-print_final_stats=1 $(BUILD)/fuzz/corpus tests/fuzz/corpus
