# demo/ - qps-load, the demo's load generator (scripts/demo.sh drives it).
ALL += $(BUILD)/qps-load

$(BUILD)/qps-load: $(BUILD)/demo/qps-load.o $(BUILD)/lib/json.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(QPS_CFLAGS) $^ -o $@ $(QPS_LDFLAGS)
