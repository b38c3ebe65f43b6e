/* Physical page allocator: one bit per 4 KiB page over the span of RAM.
 * Pure (no hardware access): unit-tested on Linux. */
#ifndef HOPVM_PMM_H
#define HOPVM_PMM_H
#include <stddef.h>
#include <stdint.h>

#define PMM_FAIL UINT64_MAX

struct pmm {
    uint64_t *bits;      /* 1 = used or not RAM */
    uint64_t base;       /* physical address of bit 0 (page aligned) */
    uint64_t npages;     /* pages the bitmap spans */
    uint64_t total;      /* pages ever given to the allocator */
    uint64_t free;       /* pages free now */
};

/* Words of bitmap storage needed to span npages. */
size_t pmm_bitmap_words(uint64_t npages);
/* Starts with every page used; add RAM with pmm_add_free. */
void pmm_init(struct pmm *p, uint64_t *bits, uint64_t base, uint64_t npages);
/* Gives a RAM range to the allocator (clipped to the span). */
void pmm_add_free(struct pmm *p, uint64_t pa, uint64_t pages);
/* Takes pages out of the free pool for good (they stay counted in total).
 * Returns the number of pages that were free and are now used. */
uint64_t pmm_reserve(struct pmm *p, uint64_t pa, uint64_t pages);
/* Allocates pages contiguous pages whose address is a multiple of
 * align_pages * 4 KiB (align_pages 0 or 1: any). PMM_FAIL when none. */
uint64_t pmm_alloc(struct pmm *p, uint64_t pages, uint64_t align_pages);
/* Returns 0, or -1 (and changes nothing) if any page was not allocated. */
int pmm_free(struct pmm *p, uint64_t pa, uint64_t pages);
/* Largest run of free pages; its start in *base (if base != NULL). */
uint64_t pmm_largest_free(const struct pmm *p, uint64_t *base);

#endif
