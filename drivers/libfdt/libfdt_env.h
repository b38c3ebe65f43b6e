/* libfdt's environment header for hopvm, replacing deps/libfdt/libfdt_env.h
 * (which includes the host's <string.h> and <stdlib.h>). It keeps upstream's
 * include guard, so force-including this file first (-include, see
 * LIBFDT_CFLAGS in mk/deps.mk) turns upstream's into a no-op, the way
 * U-Boot's include/linux/libfdt_env.h does. Serves the freestanding core and,
 * with HOPVM_HOSTED, the host tools and unit tests alike. */
#ifndef LIBFDT_ENV_H
#define LIBFDT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hopvm/lib.h>

/* libfdt uses only INT_MAX from <limits.h>, whose GCC copy pulls in the
 * host C library's. */
#ifndef INT_MAX
#define INT_MAX __INT_MAX__
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hopvm's libfdt_env.h assumes a little-endian CPU"
#endif

/* Upstream's sparse annotations; unused here. */
#define FDT_FORCE
#define FDT_BITWISE

/* Big-endian on the wire. */
typedef uint16_t fdt16_t;
typedef uint32_t fdt32_t;
typedef uint64_t fdt64_t;

static inline uint16_t fdt16_to_cpu(fdt16_t x) { return __builtin_bswap16(x); }
static inline fdt16_t cpu_to_fdt16(uint16_t x) { return __builtin_bswap16(x); }
static inline uint32_t fdt32_to_cpu(fdt32_t x) { return __builtin_bswap32(x); }
static inline fdt32_t cpu_to_fdt32(uint32_t x) { return __builtin_bswap32(x); }
static inline uint64_t fdt64_to_cpu(fdt64_t x) { return __builtin_bswap64(x); }
static inline fdt64_t cpu_to_fdt64(uint64_t x) { return __builtin_bswap64(x); }

/* memchr, strrchr and strnlen (fdt_ro.c) are in hopvm/lib.h: vmm/lib/string.c.
 * On Linux glibc hides POSIX strnlen under -std=c11. */
#ifdef HOPVM_HOSTED
size_t strnlen(const char *s, size_t maxlen);
#endif

#endif
