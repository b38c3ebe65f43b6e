# hopvm — top-level build. `make` builds build/hopvm.efi, `make image` the
# bootable disk image, `make run` boots it in QEMU, `make test` runs every test.

BUILD    ?= build
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
DEBUG    ?= 1
CC       ?= gcc
HOSTCC   ?= gcc
FUZZCC   ?= clang
PYTHON   ?= /usr/bin/python3
QEMU     ?= qemu-system-x86_64
OVMF     ?= /usr/share/ovmf/OVMF.fd
QEMU_MEM ?= 256
EFI_INC  := /usr/include/efi
EFI_LIB  := /usr/lib

GIT_REV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE     := $(shell date -u +%Y-%m-%d)

# The VMM: freestanding, no red zone (interrupts arrive on the same stack),
# no SSE (handlers do not save vector state), PIC because gnu-efi links a
# relocatable shared object, frame pointers for crash backtraces.
KCFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-stack-protector \
	-fno-stack-check -fshort-wchar -mno-red-zone -mgeneral-regs-only \
	-maccumulate-outgoing-args -fpic -fvisibility=hidden -fno-omit-frame-pointer \
	-fno-strict-aliasing -Iinclude -DHOPVM_GIT='"$(GIT_REV)"' -DHOPVM_BUILD_DATE='"$(DATE)"'
ifeq ($(DEBUG),1)
KCFLAGS  += -DHOPVM_DEBUG
endif
BOOTCFLAGS := $(KCFLAGS) -I$(EFI_INC) -I$(EFI_INC)/x86_64 -Wno-unused-parameter

# lwIP 2.1.3 from Debian's source package, fetched into deps/ by
# tools/fetch-deps (never committed); port files in drivers/lwip.
LWIP_DIR := deps/lwip/src
LWIP_SRC := $(addprefix $(LWIP_DIR)/core/,def.c inet_chksum.c init.c ip.c mem.c memp.c netif.c pbuf.c \
	raw.c stats.c sys.c tcp.c tcp_in.c tcp_out.c timeouts.c udp.c) \
	$(addprefix $(LWIP_DIR)/core/ipv4/,dhcp.c etharp.c icmp.c ip4.c ip4_addr.c ip4_frag.c) \
	$(LWIP_DIR)/netif/ethernet.c
KCFLAGS += -Idrivers/lwip -I$(LWIP_DIR)/include
# BearSSL (HMAC-SHA256, SHA-256 for the migration stream) and libfdt (state
# as flattened device trees), also fetched into deps/: mk/deps.mk says which
# files and why each flag.
include mk/deps.mk
DEP_SRC := $(LWIP_SRC) $(BEARSSL_SRC) $(LIBFDT_SRC)
KCFLAGS += $(BEARSSL_INC)

BOOT_SRC := $(wildcard boot/*.c)
CORE_SRC := $(wildcard vmm/*.c vmm/lib/*.c vmm/svm/*.c vmm/vmx/*.c drivers/*.c drivers/lwip/*.c migrate/*.c) $(DEP_SRC)
CORE_ASM := $(wildcard vmm/*.S vmm/svm/*.S vmm/vmx/*.S)
OBJS := $(BOOT_SRC:%.c=$(BUILD)/obj/%.o) $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(CORE_ASM:%.S=$(BUILD)/obj/%.o)

EFI_SECTIONS := -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	-j '.rel.*' -j '.rela.*' -j .reloc

.PHONY: all guests image run test unit fuzz fuzz-smoke systest setup clean host-tools demo
all: $(BUILD)/hopvm.efi guests

$(DEP_SRC) &:
	tools/fetch-deps

# Third-party and migration objects get their libraries' flags.
$(BEARSSL_SRC:%.c=$(BUILD)/obj/%.o): KCFLAGS += $(BEARSSL_CFLAGS)
$(LIBFDT_SRC:%.c=$(BUILD)/obj/%.o): KCFLAGS += $(LIBFDT_CFLAGS)
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard migrate/*.c) vmm/random.c vmm/vm_migrate.c): KCFLAGS += $(LIBFDT_CFLAGS)

$(BUILD)/obj/boot/%.o: boot/%.c $(wildcard boot/*.h include/hopvm/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(BOOTCFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(wildcard include/hopvm/*.h vmm/*.h vmm/svm/*.h vmm/vmx/*.h drivers/lwip/*.h drivers/lwip/arch/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.S Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

# hopvm.so keeps the symbols: `addr2line -e build/hopvm.so OFFSET` reads
# the offsets a crash dump prints.
$(BUILD)/hopvm.so: $(OBJS)
	@echo "  LD      $@"
	$(Q)ld -shared -Bsymbolic -nostdlib -znocombreloc -T$(EFI_LIB)/elf_x86_64_efi.lds \
		$(EFI_LIB)/crt0-efi-x86_64.o $(OBJS) -o $@ -L$(EFI_LIB) -lefi -lgnuefi
	@if nm -u $@ | grep -q .; then echo "undefined symbols in $@:"; nm -u $@; rm -f $@; exit 1; fi

$(BUILD)/hopvm.efi: $(BUILD)/hopvm.so
	@echo "  EFI     $@"
	$(Q)objcopy $(EFI_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

# --- test guests (tests/guests): multiboot v1 (32-bit) and ELF64 ------------
GUEST32 := hello counter memtouch exitstorm crash
GUEST64 := compute
GUEST_FILES := $(GUEST32:%=$(BUILD)/guests/%.elf) $(GUEST64:%=$(BUILD)/guests/%.elf)
GUEST_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -no-pie -static \
	-nostdlib -fno-stack-protector -fno-asynchronous-unwind-tables -T tests/guests/guest.ld \
	-Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -Wl,--no-warn-rwx-segments
GUEST_DEPS := tests/guests/rt.c tests/guests/rt.h tests/guests/guest.ld include/hopvm/bench_loop.h

$(GUEST32:%=$(BUILD)/guests/%.elf): $(BUILD)/guests/%.elf: tests/guests/%.c tests/guests/start32.S $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  GUEST32 $@"
	$(Q)$(CC) -m32 $(GUEST_CFLAGS) tests/guests/start32.S tests/guests/rt.c $< -o $@

$(GUEST64:%=$(BUILD)/guests/%.elf): $(BUILD)/guests/%.elf: tests/guests/%.c tests/guests/start64.S $(GUEST_DEPS)
	@mkdir -p $(dir $@)
	@echo "  GUEST64 $@"
	$(Q)$(CC) -m64 -mno-red-zone $(GUEST_CFLAGS) tests/guests/start64.S tests/guests/rt.c $< -o $@

guests: $(GUEST_FILES)

# --- the boot image ---------------------------------------------------------
$(BUILD)/hopvm.img: $(BUILD)/hopvm.efi config/hopvm.cfg tools/mkimage $(GUEST_FILES)
	tools/mkimage $@ $(BUILD)/hopvm.efi config/hopvm.cfg $(GUEST_FILES)

image: $(BUILD)/hopvm.img

# The system tests' image: the test guests with test-sized arguments, plus
# broken kernels (tools/make-bad-guests) that must be refused cleanly.
BAD_GUESTS := $(addprefix $(BUILD)/bad-guests/,truncated.elf badmagic.elf outside.elf toobig.elf)
$(BAD_GUESTS) &: tools/make-bad-guests $(BUILD)/guests/hello.elf $(BUILD)/guests/compute.elf
	$(Q)tools/make-bad-guests $(BUILD)/guests/hello.elf $(BUILD)/guests/compute.elf $(BUILD)/bad-guests
$(BUILD)/test.img: $(BUILD)/hopvm.efi tests/system/hopvm-test.cfg tools/mkimage $(GUEST_FILES) $(BAD_GUESTS) \
		tests/system/secrets/teleport.pw
	tools/mkimage $@ $(BUILD)/hopvm.efi tests/system/hopvm-test.cfg $(GUEST_FILES) $(BAD_GUESTS) \
		tests/system/secrets/teleport.pw

# Boots the image in QEMU (TCG, AMD SVM + NPT) with the console on this
# terminal. Ctrl-A X quits QEMU; `poweroff` at the prompt does too; Ctrl-C
# goes to hopvm (signal=off), where it cancels a running nettest.
run: $(BUILD)/hopvm.img
	$(QEMU) -nodefaults -machine q35 -accel tcg -cpu max -m $(QEMU_MEM) -bios $(OVMF) \
		-drive format=raw,file=$(BUILD)/hopvm.img,snapshot=on -display none \
		-chardev stdio,id=con,mux=on,signal=off -serial chardev:con -mon chardev=con \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04

# --- host unit tests (pure modules, ASan + UBSan) ---------------------------
HOSTCFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -DHOPVM_HOSTED -Iinclude \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_COMMON := vmm/lib/format.c
UNIT_DEPS_test_pmm      := vmm/pmm.c
UNIT_DEPS_test_format   :=
UNIT_DEPS_test_lineedit := vmm/lineedit.c
UNIT_DEPS_test_cmd      := vmm/args.c vmm/cmd.c
UNIT_DEPS_test_config   := vmm/config.c vmm/inet.c
UNIT_DEPS_test_aml      := drivers/acpi_aml.c
UNIT_DEPS_test_loader   := vmm/loader.c vmm/multiboot.c
UNIT_DEPS_test_insn     := vmm/insn.c
UNIT_DEPS_test_pci      := drivers/pci_bar.c
UNIT_DEPS_test_inet     := vmm/inet.c
UNIT_DEPS_test_nettest  := vmm/nettest_pattern.c
UNIT_TESTS := $(notdir $(basename $(wildcard tests/unit/test_*.c)))
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/unit/%)

# BearSSL for host builds, as archives compiled with its own flags (its
# inner.h defines functions MIN/MAX, which hopvm/lib.h has as macros: the
# two must not share a compile).
HOST_BEARSSL := $(BUILD)/host/libbearssl.a
FUZZ_BEARSSL := $(BUILD)/host/libbearssl-fuzz.a
$(HOST_BEARSSL): $(BEARSSL_SRC) $(BEARSSL_ENV)
	@mkdir -p $(BUILD)/host/bearssl
	$(Q)for f in $(BEARSSL_SRC); do $(HOSTCC) $(HOSTCFLAGS) $(BEARSSL_CFLAGS) -c $$f \
		-o $(BUILD)/host/bearssl/$$(basename $$f .c).o || exit 1; done
	$(Q)ar rcs $@ $(BUILD)/host/bearssl/*.o
$(FUZZ_BEARSSL): $(BEARSSL_SRC) $(BEARSSL_ENV)
	@mkdir -p $(BUILD)/host/bearssl-fuzz
	$(Q)for f in $(BEARSSL_SRC); do $(FUZZCC) -std=c11 -g -O1 -DHOPVM_HOSTED -Iinclude \
		-fsanitize=fuzzer-no-link,address,undefined $(BEARSSL_CFLAGS) -c $$f \
		-o $(BUILD)/host/bearssl-fuzz/$$(basename $$f .c).o || exit 1; done
	$(Q)ar rcs $@ $(BUILD)/host/bearssl-fuzz/*.o

# Per-module make fragments (mk/*.mk besides deps.mk) add UNIT_DEPS_x,
# FUZZ_DEPS_x and, for code using libfdt or BearSSL, UNIT_CFLAGS_x /
# FUZZ_CFLAGS_x.
include $(filter-out mk/deps.mk,$(wildcard mk/*.mk))

.SECONDEXPANSION:
$(BUILD)/unit/%: tests/unit/%.c $$(UNIT_DEPS_$$*) $(UNIT_COMMON) tests/unit/check.h $(wildcard include/hopvm/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOSTCFLAGS) $(UNIT_CFLAGS_$*) $< $(UNIT_DEPS_$*) $(UNIT_COMMON) -o $@

unit: $(UNIT_BINS)

# --- libFuzzer targets for every parser of untrusted input ------------------
FUZZCFLAGS := -std=c11 -g -O1 -DHOPVM_HOSTED -Iinclude -fsanitize=fuzzer,address,undefined
FUZZ_DEPS_fuzz_config   := vmm/config.c vmm/inet.c
FUZZ_DEPS_fuzz_args     := vmm/args.c
FUZZ_DEPS_fuzz_lineedit := vmm/lineedit.c
FUZZ_DEPS_fuzz_aml      := drivers/acpi_aml.c
FUZZ_DEPS_fuzz_loader   := vmm/loader.c vmm/multiboot.c
FUZZ_DEPS_fuzz_insn     := vmm/insn.c
FUZZ_TARGETS := $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_RUNS    ?= 20000
FUZZ_SECONDS ?= 60

$(BUILD)/fuzz/%: tests/fuzz/%.c $$(FUZZ_DEPS_$$*) $(UNIT_COMMON) $(wildcard include/hopvm/*.h)
	@mkdir -p $(dir $@)
	$(FUZZCC) $(FUZZCFLAGS) $(FUZZ_CFLAGS_$*) $< $(FUZZ_DEPS_$*) $(UNIT_COMMON) -o $@

fuzz-build: $(FUZZ_BINS)
# Long runs for developers: FUZZ_SECONDS per target.
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_TARGETS); do mkdir -p $(BUILD)/fuzz/corpus-$$f; \
		$(BUILD)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus-$$f tests/fuzz/corpus/$$f || exit 1; done

# --- host tools (tools/src): Linux programs sharing hopvm's pure C files ----
TOOLCFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -DHOPVM_HOSTED -Iinclude
$(BUILD)/tools/nettest-host: tools/src/nettest-host.c vmm/nettest_pattern.c vmm/lib/format.c include/hopvm/nettest.h
	@mkdir -p $(dir $@)
	$(HOSTCC) $(TOOLCFLAGS) tools/src/nettest-host.c vmm/nettest_pattern.c vmm/lib/format.c -o $@
host-tools: $(BUILD)/tools/nettest-host

# --- everything -------------------------------------------------------------
# One command, one summary line: pytest runs the unit binaries, a bounded
# fuzz pass of each target, and the system tests that boot hopvm in QEMU.
test: $(BUILD)/hopvm.img $(BUILD)/test.img $(UNIT_BINS) $(FUZZ_BINS) $(GUEST_FILES) host-tools
	HOPVM_BUILD=$(abspath $(BUILD)) FUZZ_RUNS=$(FUZZ_RUNS) $(PYTHON) -m pytest -v tests

# The showcase: two hopvm instances on one virtual wire; `counter` is
# teleported from the first to the second, both consoles shown labelled.
demo: $(BUILD)/hopvm.img
	$(PYTHON) tools/demo

setup:
	tools/setup

clean:
	rm -rf $(BUILD)
