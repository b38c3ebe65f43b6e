# The teleport session (migrate/session.c, source.c, target.c) with
# everything it uses: the stream codec, the FDT state, HMAC (BearSSL).
MIG_PURE := migrate/session.c migrate/source.c migrate/target.c migrate/auth.c migrate/stream.c \
	migrate/state_fdt.c
UNIT_DEPS_test_session   := $(MIG_PURE) $(LIBFDT_SRC) $(HOST_BEARSSL)
UNIT_CFLAGS_test_session := $(BEARSSL_INC) $(LIBFDT_CFLAGS)
FUZZ_DEPS_fuzz_session   := $(MIG_PURE) $(LIBFDT_SRC) $(FUZZ_BEARSSL)
FUZZ_CFLAGS_fuzz_session := $(BEARSSL_INC) $(LIBFDT_CFLAGS)
UNIT_DEPS_test_compat    := migrate/compat.c
UNIT_CFLAGS_test_compat  := $(BEARSSL_INC)
