# lib/ - code shared by qps-tune's commands and probes (no main, no printing).
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
