# mk/host.mk: the pure modules, built for Linux. One list (HOST_SRC), three
# builds of it, each an archive that also holds libfdt and BearSSL compiled
# the same way:
#   unit  AddressSanitizer + UBSan, for tests/unit/test_*.c
#   fuzz  libFuzzer coverage + ASan + UBSan, for tests/fuzz/fuzz_*.c
#   tool  -O2, for the Linux programs in tools/src (make host-tools)
# A test or tool links its own .c file against the archive, and the linker
# takes exactly the modules it calls: there is no per-test list of sources.
# Adding a pure module means adding it here; a test of it needs nothing else.
#
# Recipes only use HOSTCFLAGS, FUZZCFLAGS and TOOLCFLAGS (defined in the
# Makefile), so this file may be included before or after them.

HOST_SRC := vmm/lib/format.c vmm/bitmap.c vmm/pmm.c vmm/lineedit.c vmm/args.c vmm/cmd.c vmm/config.c \
	vmm/inet.c vmm/loader.c vmm/multiboot.c vmm/bzimage.c vmm/i8254.c vmm/mc146818.c vmm/lapic.c vmm/ioapic.c vmm/i8259.c vmm/acpi_guest.c vmm/insn.c vmm/nettest_pattern.c \
	vmm/vcpu_check.c vmm/vcpu_check_seg.c \
	drivers/acpi_aml.c drivers/pci_bar.c \
	migrate/session.c migrate/source.c migrate/target.c migrate/auth.c migrate/stream.c \
	migrate/state_fdt.c migrate/dev_state.c migrate/fdt_io.c migrate/compat.c migrate/converge.c migrate/spake2.c migrate/seal.c
HOST_LIB_SRC := $(HOST_SRC) $(LIBFDT_SRC) $(BEARSSL_SRC)

# Per-file flags, the same in every build: BearSSL with its own (see
# mk/deps.mk: its MIN/MAX must not meet hopvm/lib.h's), libfdt with its
# environment header, and migrate/ (which includes <libfdt.h> and
# <bearssl.h>) with both include paths.
host_flags = $(if $(filter $(BEARSSL_SRC),$1),$(BEARSSL_CFLAGS),$(if \
	$(filter $(LIBFDT_SRC) migrate/%,$1),$(LIBFDT_CFLAGS) $(BEARSSL_INC)))
# BearSSL's P-256 under ASan and UBSan made the in-memory session tests
# 5-8x slower (every session does ten scalar multiplications); it is not
# hopvm's code to sanitize, so the unit build compiles it optimized and
# plain. (The fuzz build keeps the sanitizers: there it is called with
# fuzzed shares.)
host_extra_unit = $(if $(filter $(BEARSSL_SRC),$1),-O2 -fno-sanitize=all)

HOST_CC_unit     = $(HOSTCC) $(HOSTCFLAGS)
HOST_CC_fuzz     = $(FUZZCC) $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZCFLAGS))
HOST_CC_tool     = $(HOSTCC) $(TOOLCFLAGS)
HOST_FLAVORS    := unit fuzz tool

# host_build FLAVOR: the object rule and archive for one build.
define host_build
HOST_LIB_$(1) := $(BUILD)/host/$(1)/libhopvm.a
HOST_OBJ_$(1) := $(patsubst %.c,$(BUILD)/host/$(1)/%.o,$(HOST_LIB_SRC))
$(BUILD)/host/$(1)/%.o: %.c mk/host.mk mk/deps.mk
	@mkdir -p $$(dir $$@)
	@echo "  HOSTCC  $$@"
	$$(Q)$$(HOST_CC_$(1)) $$(call host_flags,$$<) $$(call host_extra_$(1),$$<) -MMD -MP -c $$< -o $$@
$$(HOST_LIB_$(1)): $$(HOST_OBJ_$(1))
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
-include $$(HOST_OBJ_$(1):.o=.d)
endef
$(foreach f,$(HOST_FLAVORS),$(eval $(call host_build,$(f))))
