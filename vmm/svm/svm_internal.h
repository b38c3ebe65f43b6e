/* Shared inside vmm/svm/ only. */
#ifndef HOPVM_SVM_INTERNAL_H
#define HOPVM_SVM_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>

struct vcpu;

void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa);

/* svm_intr.c: the interrupt shadow and NMI mask between a VMCB and the
 * neutral state (for svm_get_state / svm_set_state). */
struct vmcb;
struct vcpu_state;
void svm_intr_out(const struct vcpu *v, const struct vmcb *vmcb, struct vcpu_state *s);
void svm_intr_in(struct vcpu *v, struct vmcb *vmcb, const struct vcpu_state *s);
/* The guest's NMI mask as svm.c tracks it (the IRET intercept). */
void svm_nmi_mask_set(struct vcpu *v, bool masked);
bool svm_nmi_mask_get(const struct vcpu *v);

#endif
