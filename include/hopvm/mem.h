/* The host's physical memory: the allocator built from the boot map. */
#ifndef HOPVM_MEM_H
#define HOPVM_MEM_H
#include <hopvm/boot_info.h>
#include <hopvm/pmm.h>

struct mem_stats {
    uint64_t ram;        /* every RAM byte in the firmware map */
    uint64_t usable;     /* given to the allocator */
    uint64_t free;       /* free in the allocator now */
    uint64_t firmware;   /* reserved, runtime services, ACPI, NVS */
    uint64_t image;      /* hopvm.efi, boot_info and the loaded files */
    uint64_t largest;    /* largest free run, bytes */
    uint64_t largest_at;
    uint64_t mapped_top; /* end of the identity map */
};

/* Builds the allocator; mapped_top bounds what it may hand out.
 * Returns 0, or -1 if no range can hold the bitmap. */
int host_mem_init(const struct boot_info *bi, uint64_t mapped_top);
/* Zero-filled, contiguous, aligned to align bytes (a power of two >= 4 KiB
 * or 0). Returns the physical (= virtual) address, or 0 when out of memory. */
void *page_alloc(uint64_t pages, uint64_t align);
/* The same, left as it was: only for memory every byte of which is
 * written before anything reads it (an incoming guest's RAM). */
void *page_alloc_unzeroed(uint64_t pages, uint64_t align);
void page_free(void *p, uint64_t pages);
void mem_get_stats(struct mem_stats *s);
/* Prints the firmware memory map as hopvm classified it. */
void mem_print_map(void);

#endif
