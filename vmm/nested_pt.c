/* Second-level page tables for guest RAM, shared by both backends:
 * guest-physical [0, ram_size) to the guest's contiguous host block, 2 MiB
 * pages where both sides are aligned and 4 KiB pages for the rest.
 * AMD NPT (APM Vol.2 15.25) uses the long-mode format with U set at every
 * level (the walk counts as a user access, 15.25.5); Intel EPT (SDM Vol.3C
 * 29.3.2) puts read/write/execute in the same three low bits and the
 * memory type in bits 5:3 of a leaf. So one builder serves both, with the
 * leaf's extra bits from the backend. Table pages come from the host page
 * allocator. */
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nested_pt.h>
#include <stdbool.h>

#define NPT_P   (1ull << 0)
#define NPT_PS  (1ull << 7)
#define NPT_TABLE 0x7ull /* NPT: P|RW|US; EPT: R|W|X */
#define NPT_ADDR_MASK 0x000ffffffffff000ull

static uint64_t *table_at(uint64_t e) { return (uint64_t *)(uintptr_t)(e & NPT_ADDR_MASK); }

/* Next-level table under entry *e, created if absent. NULL when out of memory. */
static uint64_t *next_level(uint64_t *e)
{
    if (!(*e & NPT_P)) {
        uint64_t *t = page_alloc(1, 0);
        if (!t)
            return NULL;
        *e = (uint64_t)(uintptr_t)t | NPT_TABLE;
    }
    return table_at(*e);
}

static int map(uint64_t *pml4, uint64_t gpa, uint64_t hpa, bool large, uint64_t leaf)
{
    uint64_t *pdpt = next_level(&pml4[(gpa >> 39) & 511]);
    uint64_t *pd = pdpt ? next_level(&pdpt[(gpa >> 30) & 511]) : NULL;
    if (!pd)
        return -1;
    uint64_t *pde = &pd[(gpa >> 21) & 511];
    if (large) {
        *pde = hpa | NPT_TABLE | NPT_PS | leaf;
        return 0;
    }
    uint64_t *pt = next_level(pde);
    if (!pt)
        return -1;
    pt[(gpa >> 12) & 511] = hpa | NPT_TABLE | leaf;
    return 0;
}

static void free_level(uint64_t *t, int level)
{
    for (int i = 0; i < 512 && level > 1; i++)
        if ((t[i] & NPT_P) && !(t[i] & NPT_PS))
            free_level(table_at(t[i]), level - 1);
    page_free(t, 1);
}

void nested_pt_destroy(uint64_t *pml4)
{
    if (pml4)
        free_level(pml4, 4);
}

uint64_t *nested_pt_build(uint64_t hpa, uint64_t size, uint64_t leaf, uint64_t *large_pages,
                          uint64_t *small_pages)
{
    uint64_t *pml4 = page_alloc(1, 0);
    if (!pml4)
        return NULL;
    *large_pages = *small_pages = 0;
    for (uint64_t gpa = 0; gpa < size;) {
        bool large = !(gpa & (MiB(2) - 1)) && !((hpa + gpa) & (MiB(2) - 1)) && size - gpa >= MiB(2);
        if (map(pml4, gpa, hpa + gpa, large, leaf) != 0) {
            nested_pt_destroy(pml4);
            return NULL;
        }
        gpa += large ? MiB(2) : PAGE_SIZE;
        if (large)
            (*large_pages)++;
        else
            (*small_pages)++;
    }
    return pml4;
}
