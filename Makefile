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

# Set-up on demand: every goal but these needs packages from Debian and the
# sources tools/fetch-deps unpacks into deps/. `tools/setup --if-needed`
# checks both (one dpkg-query, a few stat calls: milliseconds) and installs
# or fetches only what is missing, its progress on stderr; when it cannot
# (not root, no sudo) it prints on stdout the one line naming the command to
# run, which make stops with. Checked once per make, before any rule runs,
# so -j builds never race it; HOPVM_SETUP_CHECKED spares nested makes.
SETUP_FREE_GOALS := setup clean help
ifneq ($(filter-out $(SETUP_FREE_GOALS),$(or $(MAKECMDGOALS),all)),)
ifneq ($(HOPVM_SETUP_CHECKED),1)
SETUP_ERROR := $(shell o=$$(tools/setup --if-needed) || echo "$${o:-tools/setup failed: its output is above}")
ifneq ($(strip $(SETUP_ERROR)),)
$(error $(SETUP_ERROR))
endif
export HOPVM_SETUP_CHECKED := 1
endif
endif

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
CORE_SRC := $(wildcard vmm/*.c vmm/dev/*.c vmm/lib/*.c vmm/svm/*.c vmm/vmx/*.c drivers/*.c drivers/lwip/*.c migrate/*.c) $(DEP_SRC)
CORE_ASM := $(wildcard vmm/*.S vmm/svm/*.S vmm/vmx/*.S)
OBJS := $(BOOT_SRC:%.c=$(BUILD)/obj/%.o) $(CORE_SRC:%.c=$(BUILD)/obj/%.o) $(CORE_ASM:%.S=$(BUILD)/obj/%.o)

EFI_SECTIONS := -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela \
	-j '.rel.*' -j '.rela.*' -j .reloc

.PHONY: all guests image run test unit fuzz fuzz-build setup clean host-tools demo help
all: $(BUILD)/hopvm.efi guests

# Third-party and migration objects get their libraries' flags.
$(BEARSSL_SRC:%.c=$(BUILD)/obj/%.o): KCFLAGS += $(BEARSSL_CFLAGS)
$(LIBFDT_SRC:%.c=$(BUILD)/obj/%.o): KCFLAGS += $(LIBFDT_CFLAGS)
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard migrate/*.c) vmm/random.c vmm/vm_migrate.c): KCFLAGS += $(LIBFDT_CFLAGS)

# Every object depends on exactly the headers it includes: the compiler
# writes them into a .d file beside the object (-MMD), with an empty rule
# for each header (-MP) so a deleted header does not stop the build.
DEPFLAGS := -MMD -MP

$(BUILD)/obj/boot/%.o: boot/%.c Makefile mk/deps.mk
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(BOOTCFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c Makefile mk/deps.mk
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.S Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) $(DEPFLAGS) -c $< -o $@

-include $(OBJS:.o=.d)

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
GUEST32 := hello counter memtouch exitstorm crash tsc xstate
GUEST64 := compute xstate64 avx
GUEST_FILES := $(GUEST32:%=$(BUILD)/guests/%.elf) $(GUEST64:%=$(BUILD)/guests/%.elf)
# -mgeneral-regs-only: the compiler never uses a vector register, so a
# guest's vector state is only what its own asm puts there (avx.c).
GUEST_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -no-pie -static \
	-nostdlib -fno-stack-protector -fno-asynchronous-unwind-tables -mgeneral-regs-only
GUEST_LDFLAGS := -T tests/guests/guest.ld -Wl,-z,max-page-size=0x1000 -Wl,--build-id=none \
	-Wl,--no-warn-rwx-segments

# Each guest is its start file, rt.c and its own .c, compiled separately
# (one .d per object) and linked with tests/guests/guest.ld.
GUEST_OBJ := $(BUILD)/guests/obj
$(GUEST_OBJ)/32/%.o: tests/guests/%.c Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m32 $(GUEST_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(GUEST_OBJ)/32/%.o: tests/guests/%.S Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m32 $(GUEST_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(GUEST_OBJ)/64/%.o: tests/guests/%.c Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m64 -mno-red-zone $(GUEST_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(GUEST_OBJ)/64/%.o: tests/guests/%.S Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m64 -mno-red-zone $(GUEST_CFLAGS) $(DEPFLAGS) -c $< -o $@
-include $(wildcard $(GUEST_OBJ)/*/*.d)

$(GUEST32:%=$(BUILD)/guests/%.elf): $(BUILD)/guests/%.elf: $(GUEST_OBJ)/32/start32.o $(GUEST_OBJ)/32/rt.o \
		$(GUEST_OBJ)/32/%.o tests/guests/guest.ld
	@echo "  GUEST32 $@"
	$(Q)$(CC) -m32 $(GUEST_CFLAGS) $(GUEST_LDFLAGS) $(filter %.o,$^) -o $@

$(GUEST64:%=$(BUILD)/guests/%.elf): $(BUILD)/guests/%.elf: $(GUEST_OBJ)/64/start64.o $(GUEST_OBJ)/64/rt.o \
		$(GUEST_OBJ)/64/%.o tests/guests/guest.ld
	@echo "  GUEST64 $@"
	$(Q)$(CC) -m64 $(GUEST_CFLAGS) $(GUEST_LDFLAGS) $(filter %.o,$^) -o $@

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

# --- host builds of the pure modules: unit tests, fuzz targets, tools -------
# mk/host.mk lists the pure modules once and builds them three ways (ASan +
# UBSan for unit tests, libFuzzer for fuzz targets, -O2 for host tools), each
# into an archive with libfdt and BearSSL; tests and tools link against it.
HOSTCFLAGS := -std=c11 -g -O1 -Wall -Wextra -Werror -DHOPVM_HOSTED -Iinclude \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZCFLAGS := -std=c11 -g -O1 -DHOPVM_HOSTED -Iinclude -fsanitize=fuzzer,address,undefined
TOOLCFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -DHOPVM_HOSTED -Iinclude
# Tests may include <libfdt.h> and <bearssl.h> like the modules they test.
HOST_TEST_FLAGS = $(BEARSSL_INC) $(LIBFDT_CFLAGS)
include mk/host.mk
include mk/hosttools.mk
include mk/linux.mk

UNIT_TESTS := $(notdir $(basename $(wildcard tests/unit/test_*.c)))
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/unit/%)
$(BUILD)/unit/%: tests/unit/%.c $(HOST_LIB_unit) Makefile
	@mkdir -p $(dir $@)
	@echo "  UNIT    $@"
	$(Q)$(HOSTCC) $(HOSTCFLAGS) $(HOST_TEST_FLAGS) $(DEPFLAGS) $< $(HOST_LIB_unit) -o $@
-include $(UNIT_BINS:=.d)
unit: $(UNIT_BINS)

# --- libFuzzer targets for every parser of untrusted input ------------------
FUZZ_TARGETS := $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
FUZZ_RUNS    ?= 20000
FUZZ_SECONDS ?= 60

$(BUILD)/fuzz/%: tests/fuzz/%.c $(HOST_LIB_fuzz) Makefile
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZCC) $(FUZZCFLAGS) $(HOST_TEST_FLAGS) $(DEPFLAGS) $< $(HOST_LIB_fuzz) -o $@
-include $(FUZZ_BINS:=.d)

fuzz-build: $(FUZZ_BINS)
# Long runs for developers: FUZZ_SECONDS per target.
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_TARGETS); do mkdir -p $(BUILD)/fuzz/corpus-$$f; \
		$(BUILD)/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus-$$f tests/fuzz/corpus/$$f || exit 1; done

# --- everything -------------------------------------------------------------
# One command, one summary line: pytest runs the unit binaries, a bounded
# fuzz pass of each target, and the system tests that boot hopvm in QEMU.
test: $(BUILD)/hopvm.img $(BUILD)/test.img $(BUILD)/linux.img $(UNIT_BINS) $(FUZZ_BINS) $(GUEST_FILES) $(HOST_TOOL_BINS) $(NODELAY_SO)
	HOPVM_BUILD=$(abspath $(BUILD)) FUZZ_RUNS=$(FUZZ_RUNS) $(PYTHON) -m pytest -v tests

# The showcase: two hopvm instances on one virtual wire; `counter` is
# teleported from the first to the second, both consoles shown labelled.
demo: $(BUILD)/hopvm.img
	$(PYTHON) tools/demo

setup:
	tools/setup

clean:
	rm -rf $(BUILD)

help:
	@echo "make run         build hopvm and boot it in QEMU, console on this terminal"
	@echo "make test        every test: unit, fuzz smoke, system tests in QEMU and Bochs"
	@echo "make demo        two hopvm on one virtual wire; a guest teleported from A to B"
	@echo "make image       build/hopvm.img, the bootable USB image"
	@echo "make host-tools  build/tools: hopvm-save, hopvm-restore, hopvm-stream, nettest-host, libnodelay.so"
	@echo "make setup       install/fetch what the build needs (the others do it when missing)"
	@echo "make fuzz        run each fuzz target FUZZ_SECONDS (default 60)"
	@echo "make clean       remove build/"
