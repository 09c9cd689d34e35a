# server/ - qps-server. SERVER_CORE_OBJS: everything but main, for unit tests.
SERVER_SRCS      := $(wildcard server/*.c)
SERVER_OBJS      := $(patsubst %.c,$(BUILD)/%.o,$(SERVER_SRCS))
SERVER_CORE_OBJS := $(filter-out $(BUILD)/server/main.o,$(SERVER_OBJS))
ALL              += $(BUILD)/qps-server

$(BUILD)/qps-server: $(SERVER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS) -lpthread
