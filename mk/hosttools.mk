# hopvm-save and hopvm-restore: Linux host tools that run a teleport
# session with hopvm's own code (the migrate/ files below, libfdt, BearSSL),
# so a saved guest is exactly what a teleport carries. TOOLCFLAGS is the
# Makefile's (used in recipes only, so it may be defined after this file).
#
# The session files are listed here rather than taken from mk/session.mk's
# MIG_PURE: fragments are included in name order, and this one comes first.
HT_OBJ        := $(BUILD)/tools/obj
HT_SHARED_SRC := migrate/session.c migrate/source.c migrate/target.c migrate/auth.c migrate/stream.c \
	migrate/state_fdt.c vmm/lib/format.c $(LIBFDT_SRC)
HT_SHARED_OBJ := $(HT_SHARED_SRC:%.c=$(HT_OBJ)/%.o)
HT_COMMON_OBJ := $(HT_OBJ)/tools/src/guest_image.o $(HT_OBJ)/tools/src/mig_sock.o
HT_HEADERS    := $(wildcard include/hopvm/*.h) tools/src/guest_image.h tools/src/mig_sock.h

# BearSSL without sanitizers: $(HOST_BEARSSL) is built for the ASan unit
# tests and would not link into these -O2 programs. Its own flags only
# (BEARSSL_CFLAGS force-includes bearssl_env.h, whose MIN/MAX handling must
# not reach hopvm's files).
TOOLS_BEARSSL := $(BUILD)/host/libbearssl-tools.a
$(TOOLS_BEARSSL): $(BEARSSL_SRC) $(BEARSSL_ENV) mk/hosttools.mk
	@mkdir -p $(BUILD)/host/bearssl-tools
	$(Q)for f in $(BEARSSL_SRC); do $(HOSTCC) $(TOOLCFLAGS) $(BEARSSL_CFLAGS) -c $$f \
		-o $(BUILD)/host/bearssl-tools/$$(basename $$f .c).o || exit 1; done
	$(Q)rm -f $@ && ar rcs $@ $(BUILD)/host/bearssl-tools/*.o

# hopvm's files as the unit tests build them (libfdt's env header forced in).
$(HT_SHARED_OBJ): $(HT_OBJ)/%.o: %.c $(HT_HEADERS) mk/hosttools.mk
	@mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(TOOLCFLAGS) $(BEARSSL_INC) $(LIBFDT_CFLAGS) -c $< -o $@

# The tools' own files: no forced header, so their _DEFAULT_SOURCE works.
$(HT_OBJ)/tools/src/%.o: tools/src/%.c $(HT_HEADERS) mk/hosttools.mk
	@mkdir -p $(dir $@)
	$(Q)$(HOSTCC) $(TOOLCFLAGS) $(BEARSSL_INC) -c $< -o $@

$(BUILD)/tools/hopvm-save $(BUILD)/tools/hopvm-restore: $(BUILD)/tools/%: $(HT_OBJ)/tools/src/%.o \
		$(HT_COMMON_OBJ) $(HT_SHARED_OBJ) $(TOOLS_BEARSSL)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(TOOLCFLAGS) $^ -o $@

host-tools: $(BUILD)/tools/hopvm-save $(BUILD)/tools/hopvm-restore
