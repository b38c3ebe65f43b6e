/* Bitmaps of 64-bit words, one bit per guest page: the dirty log and the
 * pages a migration round still has to send. Pure (vmm/bitmap.c), unit-
 * tested on Linux. Setting a bit and fetching a word are atomic, so a
 * vCPU on another host CPU may mark pages while the migration harvests
 * (host SMP is coming; today the boot CPU does both). */
#ifndef HOPVM_BITMAP_H
#define HOPVM_BITMAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BITMAP_WORDS(bits) (((bits) + 63) / 64)
#define BITMAP_NONE UINT64_MAX /* bitmap_next: no set bit at or after from */

static inline void bitmap_set(uint64_t *bm, uint64_t i)
{
    __atomic_fetch_or(&bm[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
}

static inline bool bitmap_test(const uint64_t *bm, uint64_t i)
{
    return (__atomic_load_n(&bm[i / 64], __ATOMIC_RELAXED) >> (i % 64)) & 1;
}

/* Sets bits [first, first + count). */
void bitmap_set_range(uint64_t *bm, uint64_t first, uint64_t count);
/* Number of set bits among the first nbits. */
uint64_t bitmap_count(const uint64_t *bm, uint64_t nbits);
/* The first set bit at or after from and below nbits, or BITMAP_NONE. */
uint64_t bitmap_next(const uint64_t *bm, uint64_t nbits, uint64_t from);
/* Moves every set bit of src into dst (dst |= src, src = 0), word by word
 * with an atomic exchange, so a bit set concurrently is either moved now or
 * stays for the next call, never lost. Returns the number of bits moved. */
uint64_t bitmap_fetch_clear(uint64_t *dst, uint64_t *src, uint64_t nbits);

#endif
