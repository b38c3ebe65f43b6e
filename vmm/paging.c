/* Host page tables: identity map, so a physical address is a pointer.
 * SDM Vol.3A 4.5 (4-level paging). UEFI's tables sit in boot-services
 * memory which the page allocator reclaims, so they are replaced first,
 * from storage inside the image. */
#include <hopvm/lib.h>
#include <hopvm/paging.h>
#include <hopvm/x86.h>

#define PTE_P    (1ull << 0)
#define PTE_W    (1ull << 1)
#define PTE_PWT  (1ull << 3)
#define PTE_PCD  (1ull << 4)
#define PTE_PS   (1ull << 7)
#define LOW_GIB  4
#define MAX_GIB  512 /* one PDPT */

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[LOW_GIB][512] __attribute__((aligned(4096)));
#define HIGH_PDPTS 2 /* device windows above 512 GiB (64-bit BARs) */
static uint64_t high_pdpt[HIGH_PDPTS][512] __attribute__((aligned(4096)));
static unsigned high_used;

static int is_ram(uint32_t type)
{
    return type != BOOT_MEM_MMIO;
}

/* Whether any RAM-type range of the boot map overlaps [lo, hi). */
static int overlaps_ram(const struct boot_info *bi, uint64_t lo, uint64_t hi)
{
    for (uint32_t i = 0; i < bi->mem_count; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        uint64_t end = r->base + r->pages * PAGE_SIZE;
        if (is_ram(r->type) && r->base < hi && end > lo)
            return 1;
    }
    return 0;
}

static int has_1g_pages(void)
{
    uint32_t r[4];
    cpuid(0x80000000, 0, r);
    if (r[0] < 0x80000001)
        return 0;
    cpuid(0x80000001, 0, r);
    return (r[3] >> 26) & 1; /* CPUID.80000001H:EDX.Page1GB */
}

uint64_t paging_init(const struct boot_info *bi)
{
    uint64_t top = 0;
    for (uint32_t i = 0; i < bi->mem_count; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        if (is_ram(r->type))
            top = MAX(top, r->base + r->pages * PAGE_SIZE);
    }
    for (int g = 0; g < LOW_GIB; g++) {
        for (int i = 0; i < 512; i++) {
            uint64_t pa = GiB(g) + MiB(2) * (uint64_t)i;
            uint64_t attr = overlaps_ram(bi, pa, pa + MiB(2)) ? 0 : PTE_PCD | PTE_PWT;
            pd[g][i] = pa | PTE_P | PTE_W | PTE_PS | attr;
        }
        pdpt[g] = (uint64_t)(uintptr_t)pd[g] | PTE_P | PTE_W;
    }
    uint64_t mapped = GiB(LOW_GIB);
    if (top > mapped && has_1g_pages()) {
        uint64_t gibs = MIN((top + GiB(1) - 1) >> 30, (uint64_t)MAX_GIB);
        for (uint64_t g = LOW_GIB; g < gibs; g++)
            pdpt[g] = GiB(g) | PTE_P | PTE_W | PTE_PS;
        mapped = GiB(gibs);
    }
    pml4[0] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W;
    write_cr3((uint64_t)(uintptr_t)pml4);
    return mapped;
}

void paging_make_uncached(uint64_t phys, uint64_t len)
{
    for (uint64_t pa = ALIGN_DOWN(phys, MiB(2)); pa < phys + len && pa < GiB(LOW_GIB); pa += MiB(2)) {
        uint64_t *e = &pd[pa >> 30][(pa >> 21) & 511];
        *e |= PTE_PCD | PTE_PWT;
        __asm__ volatile("invlpg (%0)" ::"r"(pa) : "memory");
    }
}

int paging_map_mmio(uint64_t phys, uint64_t len)
{
    if (!len || phys + len < phys)
        return -1;
    if (phys + len <= GiB(LOW_GIB)) {
        paging_make_uncached(phys, len);
        return 0;
    }
    if (!has_1g_pages())
        return -1;
    /* Device windows above the RAM map get uncached 1 GiB pages, in PDPTs
     * from a small static pool. */
    for (uint64_t g = phys >> 30; g <= (phys + len - 1) >> 30; g++) {
        uint64_t *e = &pml4[(g >> 9) & 511];
        uint64_t *t;
        if (g < MAX_GIB) {
            t = pdpt;
        } else if (*e & PTE_P) {
            t = (uint64_t *)(uintptr_t)(*e & 0x000ffffffffff000ull);
        } else {
            if (high_used == HIGH_PDPTS)
                return -1;
            t = high_pdpt[high_used++];
            *e = (uint64_t)(uintptr_t)t | PTE_P | PTE_W;
        }
        uint64_t *pe = &t[g & 511];
        if (!(*pe & PTE_P) || g >= LOW_GIB) {
            *pe = (g << 30) | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
            __asm__ volatile("invlpg (%0)" ::"r"(g << 30) : "memory");
        }
    }
    return 0;
}
