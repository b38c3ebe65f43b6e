/* The freestanding C library of the host core: string functions and
 * formatted output. The same sources build for Linux unit tests. */
#ifndef HOPVM_LIB_H
#define HOPVM_LIB_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)
#define PAGE_SIZE 4096ull
#define PAGE_SHIFT 12

#ifndef HOPVM_HOSTED
/* vmm/lib/string.c: rep movs/stos based. The assembler names keep them
 * apart from gnu-efi's byte-loop memcpy and memset (libefi's init.o,
 * linked for InitializeLib); GCC's own calls in files that see these
 * declarations go to the same names. */
void *memset(void *d, int c, size_t n) __asm__("hop_memset");
void *memcpy(void *d, const void *s, size_t n) __asm__("hop_memcpy");
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
void *memchr(const void *s, int c, size_t n);
char *strrchr(const char *s, int c);
size_t strnlen(const char *s, size_t maxlen);
#else
#include <string.h>
#endif

/* Formats like C's vsnprintf for the subset the core uses:
 * %d %i %u %x %X %o %c %s %p %% with flags '-', '0', ' ', '+', width,
 * precision (for %s and integers) and length modifiers hh h l ll z.
 * Always NUL-terminates when size > 0; returns the length it wanted. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* a * b / d with a 128-bit product, rounded down (round_up: up), and
 * UINT64_MAX when the quotient does not fit; d must not be 0. One DIV:
 * the core links no compiler runtime (no __udivti3). */
static inline uint64_t mul_div64(uint64_t a, uint64_t b, uint64_t d, int round_up)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p, q, r;
    if (hi >= d)
        return UINT64_MAX;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
    return round_up && r && q != UINT64_MAX ? q + 1 : q;
}

/* Parses a decimal or 0x-prefixed unsigned number; the whole string must be
 * consumed. Returns 0 on success, -1 on bad syntax or overflow. */
int parse_u64(const char *s, uint64_t *out);

/* Console output (core only). */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints v / 100 with two decimals ("12.34"): the VMM has no floating point. */
void kprint_x100(uint64_t v_x100);
int kvprintf(const char *fmt, va_list ap);
void kputs(const char *s);

#endif
