# migrate/stream.c: teleport stream framing and fixed record bodies (pure),
# its unit test, its fuzz target, and `hopvm-stream dump` for saved files.
UNIT_DEPS_test_stream := migrate/stream.c
FUZZ_DEPS_fuzz_stream := migrate/stream.c

$(BUILD)/tools/hopvm-stream: tools/src/hopvm-stream.c migrate/stream.c vmm/lib/format.c include/hopvm/stream.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(TOOLCFLAGS) tools/src/hopvm-stream.c migrate/stream.c vmm/lib/format.c -o $@
host-tools: $(BUILD)/tools/hopvm-stream
