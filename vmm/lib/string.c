/* Freestanding string functions. GCC may emit calls to memset/memcpy/
 * memmove/memcmp itself (GCC manual 2.1 "Standards"), so these must exist.
 * gnu-efi's libefi (linked into the same image for InitializeLib) defines
 * memcpy and memset as byte loops; hopvm/lib.h gives ours the assembler
 * names hop_memcpy and hop_memset, so every file that includes it (the
 * core, lwIP, BearSSL, libfdt) and GCC's own calls there use these.
 *
 * Copies and fills are rep movsq/stosq for the 8-byte words and rep
 * movsb/stosb for the rest: on hardware with ERMSB the microcode moves
 * whole lines; under QEMU TCG each iteration costs about the same whatever
 * its width, so words move 8 bytes per step where a byte loop moves one
 * (`bench mig` measures them). No C loop here may be one that GCC turns
 * into a call to these very functions. */
#include <hopvm/lib.h>

void *memcpy(void *d, const void *s, size_t n)
{
    void *ret = d;
    size_t words = n >> 3, bytes = n & 7;
    __asm__ volatile("rep movsq\n\t"
                     "mov %3, %%rcx\n\t"
                     "rep movsb"
                     : "+D"(d), "+S"(s), "+c"(words)
                     : "r"(bytes)
                     : "memory");
    return ret;
}

void *memset(void *d, int c, size_t n)
{
    void *ret = d;
    uint64_t v = 0x0101010101010101ull * (uint8_t)c;
    size_t words = n >> 3, bytes = n & 7;
    __asm__ volatile("rep stosq\n\t"
                     "mov %3, %%rcx\n\t"
                     "rep stosb"
                     : "+D"(d), "+c"(words)
                     : "a"(v), "r"(bytes)
                     : "memory");
    return ret;
}

void *memmove(void *d, const void *s, size_t n)
{
    uintptr_t dp = (uintptr_t)d, sp = (uintptr_t)s;
    if (dp - sp >= n) /* d below s, or no overlap: a forward copy is safe */
        return memcpy(d, s, n);
    /* d inside [s, s + n): copy backwards, the top bytes first, then the
     * words below them. Interrupt entry (vmm/entry.S) clears DF, and iret
     * restores it for the rest of this copy. */
    size_t words = n >> 3, bytes = n & 7;
    const uint8_t *st = (const uint8_t *)s + n - 1;
    uint8_t *dt = (uint8_t *)d + n - 1;
    __asm__ volatile("std\n\t"
                     "rep movsb\n\t"
                     "sub $7, %%rsi\n\t"
                     "sub $7, %%rdi\n\t"
                     "mov %3, %%rcx\n\t"
                     "rep movsq\n\t"
                     "cld"
                     : "+D"(dt), "+S"(st), "+c"(bytes)
                     : "r"(words)
                     : "memory", "cc");
    return d;
}

/* Eight bytes at a time; the first differing byte decides, as in C. */
int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n >= 8; n -= 8, x += 8, y += 8) {
        uint64_t u, v;
        __builtin_memcpy(&u, x, 8); /* unaligned loads */
        __builtin_memcpy(&v, y, 8);
        if (u != v) {
            unsigned i = (unsigned)__builtin_ctzll(u ^ v) / 8; /* little-endian */
            return x[i] - y[i];
        }
    }
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

/* memchr, strrchr, strnlen: what libfdt (fdt_ro.c) needs beyond the above. */
void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (; n; n--, p++)
        if (*p == (unsigned char)c)
            return (void *)p;
    return NULL;
}

char *strrchr(const char *s, int c)
{
    const char *last = NULL;
    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (!*s)
            return (char *)last;
    }
}

size_t strnlen(const char *s, size_t maxlen)
{
    size_t n = 0;
    while (n < maxlen && s[n])
        n++;
    return n;
}
