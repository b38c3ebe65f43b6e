/* The guest's DR6 on VT-x. The VMCS has a DR7 field but none for DR6
 * (SDM Vol.3C 24.4.1): VM entry loads DR7 and VM exit sets it to 400H
 * (26.3.2.1, 27.5.1), but neither touches DR0-DR3 or DR6, and hopvm leaves
 * MOV DR unintercepted, so a guest reads and writes the register itself and
 * a #DB it takes updates it there. hopvm's host never uses the debug
 * registers, so a guest's DR6 stays in the register from its entry until
 * another vCPU enters: it is switched lazily then, like the SYSCALL MSRs
 * (KVM reads it back the same way, with MOV from DR6, after an exit).
 * AMD-V needs none of this: the VMCB holds DR6 (APM Vol.2 15.5.1). */
#include "vmx_internal.h"

/* DR6 at power-up and reset (SDM Vol.3A 9.1.1, table 9-1); the register
 * never reads 0 (bits 4-10 and 17-31 read as 1, 17.2.3), so a 0 in a vCPU
 * that was never given one means "not set yet". */
#define DR6_INIT 0xffff0ff0ull

/* Whose DR6 the register holds; a freed vCPU's slot may stay here until the
 * next switch, which only stores into it (vmx_vcpu_create clears the slot,
 * dr6_live with it, before it is used again). */
static struct vmx_vcpu *owner;

static uint64_t read_dr6(void)
{
    uint64_t v;
    __asm__ volatile("mov %%dr6, %0" : "=r"(v));
    return v;
}

static void write_dr6(uint64_t v) { __asm__ volatile("mov %0, %%dr6" ::"r"(v)); }

static uint64_t saved(const struct vmx_vcpu *x) { return x->dr6 ? x->dr6 : DR6_INIT; }

void vmx_dr6_switch(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (x->dr6_live)
        return;
    if (owner && owner->dr6_live) {
        owner->dr6 = read_dr6();
        owner->dr6_live = false;
    }
    write_dr6(saved(x));
    x->dr6_live = true;
    owner = x;
}

uint64_t vmx_dr6_get(const struct vcpu *v)
{
    const struct vmx_vcpu *x = v->hw;
    return x->dr6_live ? read_dr6() : saved(x);
}

void vmx_dr6_set(struct vcpu *v, uint64_t dr6)
{
    struct vmx_vcpu *x = v->hw;
    x->dr6 = dr6;
    if (x->dr6_live)
        write_dr6(dr6);
}
