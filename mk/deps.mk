# mk/deps.mk: the third-party C sources hopvm builds, as make variables only
# (no rules). tools/fetch-deps unpacks them into deps/ (never committed).
# Paths are relative to the top of the tree, where make runs.
# BEARSSL_ENV and LIBFDT_ENV name hopvm's own headers (drivers/bearssl/,
# drivers/libfdt/): compiling with the CFLAGS below fails with "No such file"
# until they exist.
#
# BEARSSL_DIR     BearSSL 0.6 (Debian source package `bearssl` 0.6+dfsg.1, MIT).
# BEARSSL_SRC     The BearSSL .c files hopvm builds: SHA-256 (br_sha256_*),
#                 HMAC (br_hmac_*), HKDF (br_hkdf_*), ChaCha20-Poly1305
#                 (br_poly1305_ctmul_run with br_chacha20_ct_run) and AES-GCM
#                 (br_gcm_* over br_aes_ct64_ctr_vtable and br_ghash_ctmul64),
#                 P-256 (br_ec_p256_m31: SPAKE2, migrate/spake2.c).
#                 All constant-time, integer-only; no TLS, RNG or certificates.
#                 Calls only memcpy and memset outside itself.
# BEARSSL_INC     For hopvm files that #include <bearssl.h>.
# BEARSSL_CFLAGS  For compiling BEARSSL_SRC, after KCFLAGS or HOSTCFLAGS: its
#                 include dirs (src/ has inner.h) and defines that turn off
#                 BearSSL's compile-time detection of the build machine.
#                 BR_AES_X86NI=0 BR_SSE2=0 are essential: with them on, the
#                 aes_x86ni*, chacha20_sse2 and ghash_pclmul files use
#                 __attribute__((target("sse2,aes,..."))), which overrides
#                 -mgeneral-regs-only without a warning and emits SSE/AES-NI
#                 code. RDRAND/URANDOM/UNIX_TIME=0 keep OS and RNG code out;
#                 *_UNALIGNED=0 makes byte loads portable (the unaligned
#                 casts are undefined behaviour that UBSan reports).
#                 No -Wno-... is needed: it builds with -Wall -Wextra -Werror.
# BEARSSL_ENV     A header force-included before BearSSL's files: in the core
#                 its <string.h> resolves to drivers/lwip/string.h, i.e.
#                 hopvm/lib.h, whose MIN/MAX macros clash with inner.h's
#                 functions MIN() and MAX(); this header includes hopvm/lib.h
#                 first and #undefs the two.
# LIBFDT_DIR      libfdt from Debian's `u-boot` 2023.01 source package
#                 (scripts/dtc/libfdt, a copy of dtc's libfdt as of about
#                 dtc 1.5.0; GPL-2.0-or-later OR BSD-2-Clause).
# LIBFDT_SRC      The libfdt .c files hopvm builds: read (fdt_ro), sequential
#                 write (fdt_sw), read-write edits (fdt_rw, which needs
#                 fdt_wip) and fdt_strerror. Calls memchr memcmp memcpy
#                 memmove memset strlen strnlen strrchr outside itself.
# LIBFDT_ENV      hopvm's replacement for libfdt's libfdt_env.h (types, byte
#                 order, string functions from hopvm/lib.h, no host C library
#                 header); same include guard, so force-including it makes
#                 upstream's a no-op. Upstream's own one would not build in
#                 the core: under -Idrivers/lwip its <string.h> lacks memchr,
#                 strnlen and strrchr.
# LIBFDT_CFLAGS   For compiling LIBFDT_SRC and for hopvm files that #include
#                 <libfdt.h>, after KCFLAGS or HOSTCFLAGS (with -DHOPVM_HOSTED).
#                 No -Wno-... is needed.

BEARSSL_DIR    := deps/bearssl
BEARSSL_SRC    := $(addprefix $(BEARSSL_DIR)/src/, \
	hash/sha2small.c mac/hmac.c kdf/hkdf.c \
	symcipher/chacha20_ct.c symcipher/poly1305_ctmul.c \
	aead/gcm.c symcipher/aes_ct64.c symcipher/aes_ct64_enc.c symcipher/aes_ct64_ctr.c \
	hash/ghash_ctmul64.c ec/ec_p256_m31.c codec/ccopy.c \
	codec/dec32be.c codec/dec32le.c codec/enc32be.c codec/enc32le.c)
BEARSSL_INC    := -I$(BEARSSL_DIR)/inc
BEARSSL_ENV    ?= drivers/bearssl/bearssl_env.h
BEARSSL_CFLAGS := $(BEARSSL_INC) -I$(BEARSSL_DIR)/src -include $(BEARSSL_ENV) \
	-DBR_AES_X86NI=0 -DBR_SSE2=0 -DBR_POWER8=0 -DBR_RDRAND=0 \
	-DBR_USE_URANDOM=0 -DBR_USE_WIN32_RAND=0 -DBR_USE_UNIX_TIME=0 -DBR_USE_WIN32_TIME=0 \
	-DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0

LIBFDT_DIR     := deps/libfdt
LIBFDT_SRC     := $(addprefix $(LIBFDT_DIR)/, \
	fdt.c fdt_ro.c fdt_wip.c fdt_sw.c fdt_rw.c fdt_strerror.c)
LIBFDT_ENV     ?= drivers/libfdt/libfdt_env.h
LIBFDT_CFLAGS  := -I$(LIBFDT_DIR) -include $(LIBFDT_ENV)
