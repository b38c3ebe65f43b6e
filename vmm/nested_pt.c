/* Second-level page tables for guest RAM, shared by both backends:
 * guest-physical [0, ram_size) to the guest's contiguous host block, 2 MiB
 * pages where both sides are aligned and 4 KiB pages for the rest.
 * AMD NPT (APM Vol.2 15.25) uses the long-mode format with U set at every
 * level (the walk counts as a user access, 15.25.5); Intel EPT (SDM Vol.3C
 * 29.3.2) puts read/write/execute in the same three low bits and the
 * memory type in bits 5:3 of a leaf. So one builder serves both, with the
 * leaf's extra bits from the backend. Table pages come from the host page
 * allocator.
 *
 * Dirty logging (vmm/dirty.c) reshapes the tables: every 2 MiB leaf is
 * split into 4 KiB leaves so that pages are tracked one by one, leaves
 * lose their write bit (write-protect mode) or their dirty bit (D-bit
 * mode), and when logging stops the tables are merged back into exactly
 * the shape nested_pt_build made. None of these functions flushes: the
 * caller owes the guest a flush of its nested translations after every
 * change that removes a permission or a D bit, or that changes the shape
 * (docs/architecture.md lists them). */
#include <hopvm/bitmap.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nested_pt.h>
#include <stdbool.h>

#define NPT_P   (1ull << 0)
#define NPT_W   (1ull << 1) /* NPT R/W, EPT write: bit 1 in both formats */
#define NPT_PS  (1ull << 7)
#define NPT_TABLE 0x7ull /* NPT: P|RW|US; EPT: R|W|X */
#define NPT_ADDR_MASK 0x000ffffffffff000ull
#define PT_ENTRIES 512

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

/* The page-directory entry that maps gpa (a 2 MiB leaf or a table). */
static uint64_t *pde_of(uint64_t *pml4, uint64_t gpa)
{
    uint64_t e = pml4[(gpa >> 39) & 511];
    if (!(e & NPT_P))
        return NULL;
    e = table_at(e)[(gpa >> 30) & 511];
    if (!(e & NPT_P))
        return NULL;
    return &table_at(e)[(gpa >> 21) & 511];
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
    for (int i = 0; i < PT_ENTRIES && level > 1; i++)
        if ((t[i] & NPT_P) && !(t[i] & NPT_PS))
            free_level(table_at(t[i]), level - 1);
    page_free(t, 1);
}

void nested_pt_destroy(uint64_t *pml4)
{
    if (pml4)
        free_level(pml4, 4);
}

/* Where the builder puts a 2 MiB page: both addresses aligned, room left. */
static bool large_here(uint64_t hpa, uint64_t size, uint64_t gpa)
{
    return !(gpa & (MiB(2) - 1)) && !((hpa + gpa) & (MiB(2) - 1)) && size - gpa >= MiB(2);
}

uint64_t *nested_pt_build(uint64_t hpa, uint64_t size, uint64_t leaf, uint64_t *large_pages,
                          uint64_t *small_pages)
{
    uint64_t *pml4 = page_alloc(1, 0);
    if (!pml4)
        return NULL;
    *large_pages = *small_pages = 0;
    for (uint64_t gpa = 0; gpa < size;) {
        bool large = large_here(hpa, size, gpa);
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

int nested_pt_split(uint64_t *pml4, uint64_t size, uint64_t leaf)
{
    for (uint64_t gpa = 0; gpa < size; gpa += MiB(2)) {
        uint64_t *pde = pde_of(pml4, gpa);
        if (!pde || !(*pde & NPT_PS))
            continue;
        uint64_t *pt = page_alloc(1, 0);
        if (!pt)
            return -1; /* the caller merges back what was split */
        uint64_t base = *pde & NPT_ADDR_MASK;
        for (unsigned i = 0; i < PT_ENTRIES; i++)
            pt[i] = (base + i * PAGE_SIZE) | NPT_TABLE | leaf;
        *pde = (uint64_t)(uintptr_t)pt | NPT_TABLE;
    }
    return 0;
}

uint64_t *nested_pt_leaf(uint64_t *pml4, uint64_t gpa)
{
    uint64_t *pde = pde_of(pml4, gpa);
    if (!pde || !(*pde & NPT_P) || (*pde & NPT_PS))
        return NULL;
    uint64_t *e = &table_at(*pde)[(gpa >> 12) & 511];
    return (*e & NPT_P) ? e : NULL;
}

void nested_pt_clear_bits(uint64_t *pml4, uint64_t size, uint64_t bits)
{
    for (uint64_t gpa = 0; gpa < size; gpa += MiB(2)) {
        uint64_t *pde = pde_of(pml4, gpa);
        if (!pde || !(*pde & NPT_P) || (*pde & NPT_PS))
            continue;
        uint64_t *pt = table_at(*pde);
        for (unsigned i = 0; i < PT_ENTRIES; i++)
            if (pt[i] & NPT_P)
                pt[i] &= ~bits;
    }
}

uint64_t nested_pt_collect_dirty(uint64_t *pml4, uint64_t size, uint64_t dirty_bit, uint64_t *bitmap)
{
    uint64_t n = 0;
    for (uint64_t gpa = 0; gpa < size; gpa += MiB(2)) {
        uint64_t *pde = pde_of(pml4, gpa);
        if (!pde || !(*pde & NPT_P) || (*pde & NPT_PS))
            continue;
        uint64_t *pt = table_at(*pde);
        for (unsigned i = 0; i < PT_ENTRIES; i++) {
            if (!(pt[i] & dirty_bit))
                continue;
            /* The CPU sets D with a locked update (SDM 29.3.5): clear it
             * the same way so a concurrent walk's A update is kept. */
            __atomic_fetch_and(&pt[i], ~dirty_bit, __ATOMIC_ACQ_REL);
            bitmap_set(bitmap, (gpa >> PAGE_SHIFT) + i);
            n++;
        }
    }
    return n;
}

void nested_pt_merge(uint64_t *pml4, uint64_t hpa, uint64_t size, uint64_t leaf)
{
    for (uint64_t gpa = 0; gpa < size; gpa += MiB(2)) {
        uint64_t *pde = pde_of(pml4, gpa);
        if (!pde || !(*pde & NPT_P))
            continue;
        if (*pde & NPT_PS)
            continue;
        uint64_t *pt = table_at(*pde);
        if (large_here(hpa, size, gpa)) {
            *pde = (hpa + gpa) | NPT_TABLE | NPT_PS | leaf;
            page_free(pt, 1);
            continue;
        }
        /* A table the builder made itself (the unaligned tail): its
         * leaves get their permissions back and lose A/D. */
        for (unsigned i = 0; i < PT_ENTRIES; i++)
            if (pt[i] & NPT_P)
                pt[i] = (pt[i] & NPT_ADDR_MASK) | NPT_TABLE | leaf;
    }
}

void nested_pt_shape(uint64_t *pml4, uint64_t size, struct nested_pt_shape *s)
{
    memset(s, 0, sizeof(*s));
    for (uint64_t gpa = 0; gpa < size; gpa += MiB(2)) {
        uint64_t *pde = pde_of(pml4, gpa);
        if (!pde || !(*pde & NPT_P))
            continue;
        if (*pde & NPT_PS) {
            s->large++;
            s->readonly += !(*pde & NPT_W) ? PT_ENTRIES : 0;
            continue;
        }
        uint64_t *pt = table_at(*pde);
        for (unsigned i = 0; i < PT_ENTRIES; i++) {
            if (!(pt[i] & NPT_P))
                continue;
            s->small++;
            s->readonly += !(pt[i] & NPT_W);
        }
    }
}
