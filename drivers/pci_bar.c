/* BAR decoding (PCI Local Bus 3.0 6.2.5.1). Pure; unit-tested. */
#include <hopvm/pci.h>

#define BAR_IO_SPACE  0x1u
#define BAR_TYPE_MASK 0x6u
#define BAR_TYPE_64   0x4u
#define BAR_PREFETCH  0x8u

void pci_bar_decode(uint32_t val, uint32_t mask, uint32_t hi, uint32_t hi_mask, struct pci_bar *b)
{
    *b = (struct pci_bar){0};
    if (mask == 0)
        return; /* not implemented: reads back zero */
    if (val & BAR_IO_SPACE) {
        uint32_t m = mask & ~0x3u;
        if (!(m & 0xffff))
            return;
        b->kind = BAR_IO;
        b->base = val & ~0x3u;
        b->size = (uint64_t)(~(m | 0xffff0000u)) + 1; /* I/O space is 64 KiB */
        return;
    }
    b->prefetch = val & BAR_PREFETCH;
    if ((val & BAR_TYPE_MASK) == BAR_TYPE_64) {
        uint64_t m = ((uint64_t)hi_mask << 32) | (mask & ~0xfu);
        if (!m)
            return;
        b->kind = BAR_MEM64;
        b->base = ((uint64_t)hi << 32) | (val & ~0xfu);
        b->size = ~m + 1;
        return;
    }
    uint32_t m = mask & ~0xfu;
    if (!m)
        return;
    b->kind = BAR_MEM32;
    b->base = val & ~0xfu;
    b->size = (uint64_t)(uint32_t)(~m + 1);
}
