/* Second-level (nested / extended) page tables for guest RAM, in the core
 * (vmm/nested_pt.c): the backends differ only in a leaf's extra bits
 * (EPT memory type) and where their CPU puts the dirty bit. */
#ifndef HOPVM_NESTED_PT_H
#define HOPVM_NESTED_PT_H
#include <stdint.h>

/* Maps guest-physical [0, size) to host [hpa, hpa + size). leaf: extra
 * bits of every leaf entry (EPT memory type; 0 for NPT). Returns the
 * top-level table, or NULL when out of memory. */
uint64_t *nested_pt_build(uint64_t hpa, uint64_t size, uint64_t leaf, uint64_t *large_pages,
                          uint64_t *small_pages);
void nested_pt_destroy(uint64_t *top);

/* Dirty logging. None of these flushes translations: the caller does. */
/* Splits every 2 MiB leaf into 512 writable 4 KiB leaves; -1 when out of
 * memory (what was split stays split: nested_pt_merge undoes it). */
int nested_pt_split(uint64_t *top, uint64_t size, uint64_t leaf);
/* The 4 KiB leaf entry mapping gpa, or NULL (unmapped or a 2 MiB page). */
uint64_t *nested_pt_leaf(uint64_t *top, uint64_t gpa);
/* Clears bits (the write bit, or the dirty bit) in every 4 KiB leaf. */
void nested_pt_clear_bits(uint64_t *top, uint64_t size, uint64_t bits);
/* For every 4 KiB leaf with dirty_bit set: clears it and sets the page's
 * bit in bitmap. Returns how many. */
uint64_t nested_pt_collect_dirty(uint64_t *top, uint64_t size, uint64_t dirty_bit, uint64_t *bitmap);
/* Back to the shape nested_pt_build made, every leaf writable. */
void nested_pt_merge(uint64_t *top, uint64_t hpa, uint64_t size, uint64_t leaf);

struct nested_pt_shape {
    uint64_t large, small; /* 2 MiB and 4 KiB leaves */
    uint64_t readonly;     /* 4 KiB pages without write permission */
};
void nested_pt_shape(uint64_t *top, uint64_t size, struct nested_pt_shape *s);

#endif
