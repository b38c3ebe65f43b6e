# mk/state.mk: migrate/state_fdt.c, the VM_DEF / VCPU / DEVICE record bodies
# as flattened device trees. It and its tests need libfdt (mk/deps.mk).
UNIT_DEPS_test_state   := migrate/state_fdt.c $(LIBFDT_SRC)
UNIT_CFLAGS_test_state := $(LIBFDT_CFLAGS)
FUZZ_DEPS_fuzz_state   := migrate/state_fdt.c $(LIBFDT_SRC)
FUZZ_CFLAGS_fuzz_state := $(LIBFDT_CFLAGS)
