/* Page bitmaps (include/hopvm/bitmap.h). Pure. */
#include <hopvm/bitmap.h>

/* Bits set in w. The core is built for any x86-64 (no POPCNT) and links
 * no compiler runtime, so not __builtin_popcountll (Hacker's Delight 5-1). */
static uint64_t popcount(uint64_t w)
{
    w -= (w >> 1) & 0x5555555555555555ull;
    w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
    w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (w * 0x0101010101010101ull) >> 56;
}

void bitmap_set_range(uint64_t *bm, uint64_t first, uint64_t count)
{
    for (uint64_t i = first; i < first + count;) {
        if (i % 64 == 0 && first + count - i >= 64) {
            __atomic_store_n(&bm[i / 64], UINT64_MAX, __ATOMIC_RELAXED);
            i += 64;
        } else {
            bitmap_set(bm, i++);
        }
    }
}

uint64_t bitmap_count(const uint64_t *bm, uint64_t nbits)
{
    uint64_t n = 0, words = nbits / 64;
    for (uint64_t w = 0; w < words; w++)
        n += popcount(__atomic_load_n(&bm[w], __ATOMIC_RELAXED));
    if (nbits % 64)
        n += popcount(__atomic_load_n(&bm[words], __ATOMIC_RELAXED) &
                                            ((1ull << (nbits % 64)) - 1));
    return n;
}

uint64_t bitmap_next(const uint64_t *bm, uint64_t nbits, uint64_t from)
{
    while (from < nbits) {
        uint64_t w = __atomic_load_n(&bm[from / 64], __ATOMIC_RELAXED) >> (from % 64);
        if (w) {
            uint64_t i = from + (uint64_t)__builtin_ctzll(w);
            return i < nbits ? i : BITMAP_NONE;
        }
        from = (from | 63) + 1;
    }
    return BITMAP_NONE;
}

uint64_t bitmap_fetch_clear(uint64_t *dst, uint64_t *src, uint64_t nbits)
{
    uint64_t n = 0, words = BITMAP_WORDS(nbits);
    uint64_t tail = nbits % 64 ? (1ull << (nbits % 64)) - 1 : UINT64_MAX;
    for (uint64_t w = 0; w < words; w++) {
        if (!__atomic_load_n(&src[w], __ATOMIC_RELAXED))
            continue;
        uint64_t bits = __atomic_exchange_n(&src[w], 0, __ATOMIC_ACQ_REL);
        if (w == words - 1)
            bits &= tail; /* bits past the end are never reported */
        dst[w] |= bits;
        n += popcount(bits);
    }
    return n;
}
