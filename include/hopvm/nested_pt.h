/* Second-level (nested / extended) page tables for guest RAM. */
#ifndef HOPVM_NESTED_PT_H
#define HOPVM_NESTED_PT_H
#include <stdint.h>

/* Maps guest-physical [0, size) to host [hpa, hpa + size). leaf: extra
 * bits of every leaf entry (EPT memory type; 0 for NPT). Returns the
 * top-level table, or NULL when out of memory. */
uint64_t *nested_pt_build(uint64_t hpa, uint64_t size, uint64_t leaf, uint64_t *large_pages,
                          uint64_t *small_pages);
void nested_pt_destroy(uint64_t *top);

#endif
