/* The page allocator against a shadow model. */
#include "check.h"
#include <hopvm/pmm.h>
#include <stdlib.h>

#define PG 4096ull

static void basic(void)
{
    static uint64_t bits[64];
    struct pmm p;
    /* 4096 pages from 1 MiB; RAM at [1M, 3M) and [4M, 17M). */
    pmm_init(&p, bits, 0x100000, 4096);
    CHECK_U64(p.free, 0);
    CHECK_U64(pmm_alloc(&p, 1, 1), PMM_FAIL);
    pmm_add_free(&p, 0x100000, 512);
    pmm_add_free(&p, 0x400000, 13 * 256);
    pmm_add_free(&p, 0x400000, 10); /* adding twice counts once */
    CHECK_U64(p.total, 512 + 13 * 256);
    CHECK_U64(p.free, p.total);
    /* Outside the span: clipped away. */
    pmm_add_free(&p, 0, 100);
    pmm_add_free(&p, 0x100000 + 4096 * PG, 100);
    CHECK_U64(p.total, 512 + 13 * 256);

    uint64_t base;
    CHECK_U64(pmm_largest_free(&p, &base), 13 * 256);
    CHECK_U64(base, 0x400000);

    uint64_t a = pmm_alloc(&p, 1, 0);
    CHECK_U64(a, 0x100000);
    /* 2 MiB aligned, 2 MiB long: the first range cannot hold it aligned. */
    uint64_t b = pmm_alloc(&p, 512, 512);
    CHECK_U64(b, 0x400000);
    CHECK_U64(b % (2ull << 20), 0);
    uint64_t c = pmm_alloc(&p, 512, 512);
    CHECK_U64(c, 0x600000);
    /* Too big for anything. */
    CHECK_U64(pmm_alloc(&p, 13 * 256, 1), PMM_FAIL);
    CHECK_U64(pmm_alloc(&p, 0, 1), PMM_FAIL);
    /* Freeing bad ranges changes nothing. */
    uint64_t before = p.free;
    CHECK(pmm_free(&p, a + PG, 1) == -1);
    CHECK(pmm_free(&p, a + 1, 1) == -1);
    CHECK(pmm_free(&p, 0x1000, 1) == -1);
    CHECK(pmm_free(&p, c, 513) == -1); /* the page after c is free */
    CHECK_U64(p.free, before);
    CHECK(pmm_free(&p, a, 1) == 0);
    CHECK(pmm_free(&p, a, 1) == -1); /* double free refused */
    CHECK(pmm_free(&p, b, 512) == 0);
    CHECK(pmm_free(&p, c, 512) == 0);
    CHECK_U64(p.free, p.total);

    /* Reserve removes from the pool but keeps the total. */
    CHECK_U64(pmm_reserve(&p, 0x100000, 16), 16);
    CHECK_U64(pmm_reserve(&p, 0x100000, 16), 0);
    CHECK_U64(p.free, p.total - 16);
    CHECK_U64(pmm_alloc(&p, 1, 1), 0x110000);
}

/* A base that is not aligned to the requested alignment. */
static void unaligned_base(void)
{
    static uint64_t bits[16];
    struct pmm p;
    pmm_init(&p, bits, 0x1000, 1000);
    pmm_add_free(&p, 0x1000, 1000);
    uint64_t a = pmm_alloc(&p, 4, 16);
    CHECK_U64(a, 0x10000);
    CHECK_U64(pmm_alloc(&p, 1, 1), 0x1000);
}

/* Random alloc/free against a byte-per-page model. */
static void random_model(void)
{
    enum { N = 2000 };
    static uint64_t bits[(N + 63) / 64];
    static unsigned char model[N];
    struct { uint64_t pa, n; } live[256];
    int nlive = 0;
    struct pmm p;
    pmm_init(&p, bits, 0, N);
    pmm_add_free(&p, 0, N);
    srand(1234);
    int bad = 0;
    for (int step = 0; step < 20000; step++) {
        if (nlive < 256 && (rand() % 3 || nlive == 0)) {
            uint64_t n = 1 + rand() % 40, al = 1u << (rand() % 5);
            uint64_t pa = pmm_alloc(&p, n, al);
            if (pa == PMM_FAIL)
                continue;
            uint64_t first = pa / PG;
            if (first % al)
                bad++;
            for (uint64_t i = first; i < first + n; i++) {
                if (i >= N || model[i])
                    bad++;
                else
                    model[i] = 1;
            }
            live[nlive].pa = pa;
            live[nlive].n = n;
            nlive++;
        } else {
            int k = rand() % nlive;
            if (pmm_free(&p, live[k].pa, live[k].n) != 0)
                bad++;
            for (uint64_t i = live[k].pa / PG; i < live[k].pa / PG + live[k].n; i++)
                model[i] = 0;
            live[k] = live[--nlive];
        }
        uint64_t used = 0;
        for (int i = 0; i < N; i++)
            used += model[i];
        if (p.free != N - used)
            bad++;
    }
    CHECK_U64(bad, 0);
}

int main(void)
{
    basic();
    unaligned_base();
    random_model();
    CHECK_U64(pmm_bitmap_words(64), 1);
    CHECK_U64(pmm_bitmap_words(65), 2);
    return check_report("test_pmm");
}
