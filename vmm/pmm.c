/* Bitmap page allocator. First fit with alignment, which is what guest RAM
 * needs (2 MiB-aligned runs let nested paging use large pages). Scans skip
 * whole 64-page words that are fully used. */
#include <hopvm/lib.h>
#include <hopvm/pmm.h>
#include <stdbool.h>

static bool used(const struct pmm *p, uint64_t i) { return (p->bits[i / 64] >> (i % 64)) & 1; }
static void set(struct pmm *p, uint64_t i) { p->bits[i / 64] |= 1ull << (i % 64); }
static void clr(struct pmm *p, uint64_t i) { p->bits[i / 64] &= ~(1ull << (i % 64)); }

size_t pmm_bitmap_words(uint64_t npages) { return (size_t)((npages + 63) / 64); }

void pmm_init(struct pmm *p, uint64_t *bits, uint64_t base, uint64_t npages)
{
    p->bits = bits;
    p->base = base & ~(PAGE_SIZE - 1);
    p->npages = npages;
    p->total = p->free = 0;
    memset(bits, 0xff, pmm_bitmap_words(npages) * sizeof(uint64_t));
}

/* Clips [pa, pa + pages) to the span; returns false if nothing is left. */
static bool clip(const struct pmm *p, uint64_t pa, uint64_t pages, uint64_t *first, uint64_t *end)
{
    if (pa < p->base) {
        uint64_t skip = (p->base - pa + PAGE_SIZE - 1) / PAGE_SIZE;
        if (skip >= pages)
            return false;
        pages -= skip;
        pa += skip * PAGE_SIZE;
    }
    uint64_t f = (pa - p->base) / PAGE_SIZE;
    if (f >= p->npages)
        return false;
    *first = f;
    *end = f + MIN(pages, p->npages - f);
    return *end > f;
}

void pmm_add_free(struct pmm *p, uint64_t pa, uint64_t pages)
{
    uint64_t f, e;
    if (!clip(p, pa, pages, &f, &e))
        return;
    for (uint64_t i = f; i < e; i++) {
        if (used(p, i)) {
            clr(p, i);
            p->total++;
            p->free++;
        }
    }
}

uint64_t pmm_reserve(struct pmm *p, uint64_t pa, uint64_t pages)
{
    uint64_t f, e, n = 0;
    if (!clip(p, pa, pages, &f, &e))
        return 0;
    for (uint64_t i = f; i < e; i++) {
        if (!used(p, i)) {
            set(p, i);
            p->free--;
            n++;
        }
    }
    return n;
}

/* First free page at or after i, or npages. */
static uint64_t next_free(const struct pmm *p, uint64_t i)
{
    while (i < p->npages) {
        if (i % 64 == 0 && p->bits[i / 64] == ~0ull) {
            i += 64;
            continue;
        }
        if (!used(p, i))
            return i;
        i++;
    }
    return p->npages;
}

uint64_t pmm_alloc(struct pmm *p, uint64_t pages, uint64_t align_pages)
{
    if (pages == 0 || pages > p->free)
        return PMM_FAIL;
    if (align_pages == 0)
        align_pages = 1;
    /* Alignment is of the physical address, not of the bitmap index. */
    uint64_t base_pfn = p->base / PAGE_SIZE;
    uint64_t i = 0;
    for (;;) {
        i = next_free(p, i);
        uint64_t pfn = base_pfn + i;
        uint64_t rem = pfn % align_pages;
        if (rem)
            i += align_pages - rem;
        if (i >= p->npages || p->npages - i < pages)
            return PMM_FAIL;
        uint64_t j = 0;
        while (j < pages && !used(p, i + j))
            j++;
        if (j == pages)
            break;
        i += j + 1; /* the run broke at i + j */
    }
    for (uint64_t k = 0; k < pages; k++)
        set(p, i + k);
    p->free -= pages;
    return p->base + i * PAGE_SIZE;
}

int pmm_free(struct pmm *p, uint64_t pa, uint64_t pages)
{
    if (pa < p->base || (pa & (PAGE_SIZE - 1)))
        return -1;
    uint64_t f = (pa - p->base) / PAGE_SIZE;
    if (f >= p->npages || pages > p->npages - f)
        return -1;
    for (uint64_t i = f; i < f + pages; i++)
        if (!used(p, i))
            return -1; /* double free: refuse rather than corrupt the counts */
    for (uint64_t i = f; i < f + pages; i++)
        clr(p, i);
    p->free += pages;
    return 0;
}

uint64_t pmm_largest_free(const struct pmm *p, uint64_t *base)
{
    uint64_t best = 0, best_at = 0;
    uint64_t i = next_free(p, 0);
    while (i < p->npages) {
        uint64_t j = i;
        while (j < p->npages && !used(p, j))
            j++;
        if (j - i > best) {
            best = j - i;
            best_at = i;
        }
        i = next_free(p, j);
    }
    if (base)
        *base = p->base + best_at * PAGE_SIZE;
    return best;
}
