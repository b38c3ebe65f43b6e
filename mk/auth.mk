# migrate/auth.c: HMAC-SHA256 proofs and the END digest, over BearSSL.
UNIT_DEPS_test_auth   := migrate/auth.c $(HOST_BEARSSL)
UNIT_CFLAGS_test_auth := $(BEARSSL_INC)
