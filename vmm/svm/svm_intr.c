/* An AMD-V guest's interrupt shadow and NMI mask in the vendor-neutral
 * form (struct vcpu_state: int_shadow, nmi_blocked), for svm_get_state and
 * svm_set_state. The VMCB says less than VT-x's interruptibility state:
 *  - INTERRUPT_SHADOW (offset 68h bit 0, APM Vol.2 15.21.5) is one bit for
 *    the shadows of STI and of MOV SS / POP SS alike. It comes out as MOV
 *    SS's: that kind holds off everything STI's does and is a valid state
 *    whatever RFLAGS.IF is, where STI's needs IF set (VT-x refuses an STI
 *    shadow with IF clear, SDM Vol.3C 26.3.1.5); KVM reads it the same way.
 *  - The guest's NMI mask (from an NMI's delivery to its IRET) is in the
 *    VMCB only with NMI virtualization on: V_NMI_MASK (offset 60h bit 12)
 *    under V_NMI_ENABLE (bit 26), APM 15.21.10. Without it the CPU keeps
 *    no guest-visible copy, and a hypervisor that injects NMIs tracks the
 *    mask itself by intercepting IRET (APM 15.9, vector 3 bit 20), as KVM
 *    and Xen do; hopvm does the latter (svm.c: nmi_masked, the IRET
 *    intercept), and that is the mask these functions carry; GIF, which also holds off NMIs (APM 15.17),
 *    is always 1 for a hopvm guest: CLGI and STGI are intercepted. */
#include <hopvm/vcpu_state.h>
#include "svm_internal.h"
#include "vmcb.h"

#define V_NMI_MASK   (1ull << 12)
#define V_NMI_ENABLE (1ull << 26)

void svm_intr_out(const struct vcpu *v, const struct vmcb *vmcb, struct vcpu_state *s)
{
    const struct vmcb_control *c = &vmcb->ctl;
    s->int_shadow = (c->int_state & INT_STATE_SHADOW) ? SHADOW_MOV_SS : SHADOW_NONE;
    s->nmi_blocked = svm_nmi_mask_get(v) || ((c->int_ctl & V_NMI_ENABLE) && (c->int_ctl & V_NMI_MASK));
}

void svm_intr_in(struct vcpu *v, struct vmcb *vmcb, const struct vcpu_state *s)
{
    struct vmcb_control *c = &vmcb->ctl;
    c->int_state = s->int_shadow != SHADOW_NONE ? INT_STATE_SHADOW : 0;
    if (c->int_ctl & V_NMI_ENABLE)
        c->int_ctl = s->nmi_blocked ? c->int_ctl | V_NMI_MASK : c->int_ctl & ~V_NMI_MASK;
    svm_nmi_mask_set(v, s->nmi_blocked);
}
