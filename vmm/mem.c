/* Physical memory of the host, from the boot map (boot_info.mem). */
#include <hopvm/lib.h>
#include <hopvm/mem.h>

#define LOW_RESERVE MiB(1) /* real-mode area: kept for AP start-up trampolines */

static struct pmm pmm;
static const struct boot_info *boot;
static struct mem_stats base_stats;

static uint64_t range_end(const struct boot_mem_range *r) { return r->base + r->pages * PAGE_SIZE; }

int host_mem_init(const struct boot_info *bi, uint64_t mapped_top)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    struct mem_stats *s = &base_stats;
    boot = bi;
    memset(s, 0, sizeof(*s));
    s->mapped_top = mapped_top;
    for (uint32_t i = 0; i < bi->mem_count; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        uint64_t bytes = r->pages * PAGE_SIZE;
        switch (r->type) {
        case BOOT_MEM_MMIO:
            continue;
        case BOOT_MEM_USABLE:
            if (r->base < mapped_top) {
                lo = MIN(lo, r->base);
                hi = MAX(hi, MIN(range_end(r), mapped_top));
            }
            break;
        case BOOT_MEM_HOPVM:
            s->image += bytes;
            break;
        default:
            s->firmware += bytes;
            break;
        }
        s->ram += bytes;
    }
    if (hi <= lo)
        return -1;
    uint64_t npages = (hi - lo) / PAGE_SIZE;
    uint64_t bm_bytes = ALIGN_UP(pmm_bitmap_words(npages) * 8, PAGE_SIZE);
    /* The bitmap lives at the start of the first usable range that holds it. */
    uint64_t bm = 0;
    for (uint32_t i = 0; i < bi->mem_count && !bm; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        uint64_t start = MAX(r->base, LOW_RESERVE);
        if (r->type == BOOT_MEM_USABLE && range_end(r) <= mapped_top &&
            range_end(r) > start && range_end(r) - start >= bm_bytes)
            bm = start;
    }
    if (!bm)
        return -1;
    pmm_init(&pmm, (uint64_t *)(uintptr_t)bm, lo, npages);
    for (uint32_t i = 0; i < bi->mem_count; i++)
        if (bi->mem[i].type == BOOT_MEM_USABLE)
            pmm_add_free(&pmm, bi->mem[i].base, bi->mem[i].pages);
    pmm_reserve(&pmm, 0, LOW_RESERVE / PAGE_SIZE);
    pmm_reserve(&pmm, bm, bm_bytes / PAGE_SIZE);
    return 0;
}

void *page_alloc_unzeroed(uint64_t pages, uint64_t align)
{
    uint64_t pa = pmm_alloc(&pmm, pages, align / PAGE_SIZE);
    return pa == PMM_FAIL ? 0 : (void *)(uintptr_t)pa;
}

void *page_alloc(uint64_t pages, uint64_t align)
{
    void *p = page_alloc_unzeroed(pages, align);
    if (p)
        memset(p, 0, pages * PAGE_SIZE);
    return p;
}

void page_free(void *p, uint64_t pages)
{
    if (pmm_free(&pmm, (uint64_t)(uintptr_t)p, pages) != 0)
        kprintf("mem: bug: bad page_free(%p, %lu) ignored\n", p, pages);
}

void mem_get_stats(struct mem_stats *s)
{
    *s = base_stats;
    s->usable = pmm.total * PAGE_SIZE;
    s->free = pmm.free * PAGE_SIZE;
    s->largest = pmm_largest_free(&pmm, &s->largest_at) * PAGE_SIZE;
}

static const char *const type_names[] = {
    [BOOT_MEM_USABLE] = "usable", [BOOT_MEM_HOPVM] = "hopvm", [BOOT_MEM_RESERVED] = "reserved",
    [BOOT_MEM_ACPI_RECLAIM] = "ACPI", [BOOT_MEM_ACPI_NVS] = "ACPI NVS", [BOOT_MEM_MMIO] = "MMIO",
    [BOOT_MEM_PERSISTENT] = "persistent",
};

void mem_print_map(void)
{
    for (uint32_t i = 0; i < boot->mem_count; i++) {
        const struct boot_mem_range *r = &boot->mem[i];
        const char *t = r->type < ARRAY_SIZE(type_names) && type_names[r->type] ? type_names[r->type] : "?";
        kprintf("  %016lx-%016lx %10lu KiB  %-10s (UEFI type %u)\n", r->base,
                range_end(r) - 1, r->pages * 4, t, r->efi_type);
    }
}
