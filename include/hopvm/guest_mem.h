/* Reading and writing guest memory the way the guest's CPU would: from a
 * linear address, through the guest's own page tables. */
#ifndef HOPVM_GUEST_MEM_H
#define HOPVM_GUEST_MEM_H
#include <hopvm/vm.h>
#include <stddef.h>

/* Host pointer for [gpa, gpa+len) if it lies in guest RAM, else NULL. */
void *gpa_to_host(const struct vm *vm, uint64_t gpa, uint64_t len);

/* Walks the guest's paging structures (SDM Vol.3A 4.3-4.5: none, 32-bit,
 * PAE, 4-level). 0, or -1 if not present / outside RAM, with *fault set
 * to the page-fault error code the CPU would report. */
int gva_to_gpa(const struct vm *vm, const struct vcpu_state *s, uint64_t la, bool write,
               uint64_t *gpa, uint32_t *fault);

/* Copies between guest linear memory and buf, page by page. On a fault
 * the vCPU gets the #PF it would have taken and -1 is returned. */
int guest_read(struct vcpu *v, const struct vcpu_state *s, uint64_t la, void *buf, size_t n);
int guest_write(struct vcpu *v, const struct vcpu_state *s, uint64_t la, const void *buf, size_t n);

/* Like guest_read, but a fault only returns -1: nothing is injected. */
int guest_peek(struct vcpu *v, const struct vcpu_state *s, uint64_t la, void *buf, size_t n);

#endif
