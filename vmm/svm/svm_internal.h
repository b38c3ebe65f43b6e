/* Shared inside vmm/svm/ only. */
#ifndef HOPVM_SVM_INTERNAL_H
#define HOPVM_SVM_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa);

/* svm_intr.c: the interrupt shadow and NMI mask between a VMCB and the
 * neutral state (for svm_get_state / svm_set_state). */
struct vmcb;
struct vcpu_state;
void svm_intr_out(const struct vmcb *vmcb, struct vcpu_state *s);
void svm_intr_in(struct vmcb *vmcb, const struct vcpu_state *s);

#endif
