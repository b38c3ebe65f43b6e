# Host tools (make host-tools): Linux programs built on hopvm's own pure
# modules (mk/host.mk's tool archive), so a saved guest is exactly what a
# teleport carries and nettest-host speaks exactly nettest's format.
#   hopvm-save, hopvm-restore  a teleport target into a file / a source from one
#   hopvm-stream               dumps a saved file's records
#   nettest-host               nettest for Linux
#   fault-campaign             the teleport hand-over under every fault (tools/fault-campaign)
#   libnodelay.so              Nagle off in the QEMUs tests and benchmarks
#                              join with a socket netdev (tools/src/nodelay.c)
# The tools' own files get no forced header, so their _DEFAULT_SOURCE works.
HOST_TOOLS     := hopvm-save hopvm-restore hopvm-stream nettest-host fault-campaign
HOST_TOOL_BINS := $(HOST_TOOLS:%=$(BUILD)/tools/%)
HT_OBJ         := $(BUILD)/tools/obj
HT_COMMON_OBJ  := $(HT_OBJ)/guest_image.o $(HT_OBJ)/mig_sock.o

$(HT_OBJ)/%.o: tools/src/%.c mk/hosttools.mk
	@mkdir -p $(dir $@)
	@echo "  HOSTCC  $@"
	$(Q)$(HOSTCC) $(TOOLCFLAGS) $(BEARSSL_INC) -MMD -MP -c $< -o $@
-include $(wildcard $(HT_OBJ)/*.d)

$(BUILD)/tools/hopvm-save $(BUILD)/tools/hopvm-restore: $(HT_COMMON_OBJ)
$(HOST_TOOL_BINS): $(BUILD)/tools/%: $(HT_OBJ)/%.o $(HOST_LIB_tool)
	@mkdir -p $(dir $@)
	@echo "  HOSTLD  $@"
	$(Q)$(HOSTCC) $(TOOLCFLAGS) $(filter %.o,$^) $(HOST_LIB_tool) -o $@

NODELAY_SO := $(BUILD)/tools/libnodelay.so
$(NODELAY_SO): tools/src/nodelay.c mk/hosttools.mk
	@mkdir -p $(dir $@)
	@echo "  HOSTLD  $@"
	$(Q)$(HOSTCC) -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC $< -o $@ -ldl

host-tools: $(HOST_TOOL_BINS) $(NODELAY_SO)
