/* The host's identity-mapped page tables. */
#ifndef HOPVM_PAGING_H
#define HOPVM_PAGING_H
#include <hopvm/boot_info.h>
#include <stdint.h>

/* Builds and loads identity page tables for all RAM the boot map lists:
 * 2 MiB pages below 4 GiB (uncached where no RAM is), 1 GiB pages above.
 * Returns the first address that is NOT mapped. */
uint64_t paging_init(const struct boot_info *bi);
/* Makes [phys, phys+len) below 4 GiB uncached (device registers). */
void paging_make_uncached(uint64_t phys, uint64_t len);

/* Maps a device window uncached wherever it is (above the RAM map too).
 * 0, or -1 when it cannot be mapped. */
int paging_map_mmio(uint64_t phys, uint64_t len);

#endif
