/* Page bitmaps (vmm/bitmap.c), against a plain bool array as the model:
 * every operation, at sizes around word boundaries, with random contents. */
#include "check.h"
#include <hopvm/bitmap.h>
#include <stdlib.h>

#define MAXBITS 300

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

int main(void)
{
    static const uint64_t sizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 191, 256, MAXBITS};
    for (unsigned si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint64_t n = sizes[si];
        for (int trial = 0; trial < 200; trial++) {
            uint64_t bm[BITMAP_WORDS(MAXBITS)] = {0}, dst[BITMAP_WORDS(MAXBITS)] = {0};
            bool model[MAXBITS] = {false}, dmodel[MAXBITS] = {false};
            /* Random bits, then a random range. */
            for (uint64_t k = next_rand() % (n + 1); k; k--) {
                uint64_t i = next_rand() % n;
                bitmap_set(bm, i);
                model[i] = true;
            }
            uint64_t first = next_rand() % n, count = next_rand() % (n - first + 1);
            bitmap_set_range(bm, first, count);
            for (uint64_t i = first; i < first + count; i++)
                model[i] = true;
            /* Bits past n are never touched by set_range. */
            if (n % 64)
                CHECK_U64(bm[BITMAP_WORDS(n) - 1] >> (n % 64), 0);
            uint64_t want = 0;
            int bad = 0;
            for (uint64_t i = 0; i < n; i++) {
                want += model[i];
                bad += bitmap_test(bm, i) != model[i];
            }
            CHECK(bad == 0);
            CHECK_U64(bitmap_count(bm, n), want);
            /* next visits exactly the set bits, in order. */
            uint64_t seen = 0, prev = 0;
            bool order = true, exact = true;
            for (uint64_t i = bitmap_next(bm, n, 0); i != BITMAP_NONE; i = bitmap_next(bm, n, i + 1)) {
                order &= seen == 0 || i > prev;
                exact &= i < n && model[i];
                prev = i, seen++;
            }
            CHECK(order && exact);
            CHECK_U64(seen, want);
            uint64_t from = next_rand() % (n + 1), expect = BITMAP_NONE;
            for (uint64_t i = from; i < n && expect == BITMAP_NONE; i++)
                if (model[i])
                    expect = i;
            CHECK_U64(bitmap_next(bm, n, from), expect);
            /* fetch_clear ORs into dst and empties src. */
            for (uint64_t k = next_rand() % 8; k; k--) {
                uint64_t i = next_rand() % n;
                bitmap_set(dst, i);
                dmodel[i] = true;
            }
            uint64_t moved = bitmap_fetch_clear(dst, bm, n);
            CHECK_U64(moved, want);
            CHECK_U64(bitmap_count(bm, n), 0);
            bad = 0;
            for (uint64_t i = 0; i < n; i++)
                bad += bitmap_test(dst, i) != (model[i] || dmodel[i]);
            CHECK(bad == 0);
            CHECK_U64(bitmap_fetch_clear(dst, bm, n), 0); /* nothing twice */
        }
    }
    /* A bit beyond nbits in the last word is not reported. */
    uint64_t src[2] = {0, 1ull << 10}, dst[2] = {0};
    CHECK_U64(bitmap_fetch_clear(dst, src, 70), 0);
    CHECK_U64(dst[1], 0);
    CHECK_U64(bitmap_next(src, 70, 0), BITMAP_NONE);
    CHECK_U64(bitmap_next(src, 0, 0), BITMAP_NONE);
    return check_report("test_bitmap");
}
