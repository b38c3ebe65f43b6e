/* Guest state in and out of the VMCS, in the vendor-neutral form. */
#include <hopvm/lib.h>
#include "vmcs.h"
#include "vmx_internal.h"

/* With unrestricted guest, PE and PG may be 0 whatever CR0_FIXED0 says
 * (SDM Vol.3C 26.3.1.1). */
#define CR0_FREE (CR0_PE | CR0_PG)

uint64_t vmx_cr0_mask(const struct vmx_caps *c)
{
    return (c->cr0_fixed0 & ~CR0_FREE) | (~c->cr0_fixed1 & 0xffffffffull);
}
uint64_t vmx_cr4_mask(const struct vmx_caps *c)
{
    return c->cr4_fixed0 | (~c->cr4_fixed1 & 0xffffffffull);
}
uint64_t vmx_cr0_real(const struct vmx_caps *c, uint64_t g)
{
    return (g | (c->cr0_fixed0 & ~CR0_FREE)) & (c->cr0_fixed1 | CR0_FREE);
}
uint64_t vmx_cr4_real(const struct vmx_caps *c, uint64_t g)
{
    return (g | c->cr4_fixed0) & c->cr4_fixed1;
}

/* The neutral attr packs AVL/L/DB/G in bits 8-11; VMX access rights keep
 * them in bits 12-15 and mark a null segment unusable (SDM Vol.3C 24.4.1). */
static uint32_t to_ar(uint16_t attr)
{
    if (!(attr & SEG_ATTR_P))
        return AR_UNUSABLE;
    return (attr & 0xffu) | ((uint32_t)(attr & 0xf00u) << 4);
}
static uint16_t from_ar(uint32_t ar)
{
    if (ar & AR_UNUSABLE)
        return 0;
    return (uint16_t)((ar & 0xffu) | ((ar >> 4) & 0xf00u));
}

static void seg_out(struct seg_state *d, unsigned i)
{
    d->sel = (uint16_t)vmx_read(VMCS_GUEST_ES_SEL + 2 * i);
    d->limit = (uint32_t)vmx_read(VMCS_GUEST_ES_LIMIT + 2 * i);
    d->attr = from_ar((uint32_t)vmx_read(VMCS_GUEST_ES_AR + 2 * i));
    d->base = vmx_read(VMCS_GUEST_ES_BASE + 2 * i);
}
static void seg_in(const struct seg_state *s, unsigned i)
{
    vmx_write(VMCS_GUEST_ES_SEL + 2 * i, s->sel);
    vmx_write(VMCS_GUEST_ES_LIMIT + 2 * i, s->limit);
    vmx_write(VMCS_GUEST_ES_AR + 2 * i, to_ar(s->attr));
    vmx_write(VMCS_GUEST_ES_BASE + 2 * i, s->base);
}

/* VMCS order: ES CS SS DS FS GS LDTR TR (SDM Vol.3C appendix B). */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR };

void vmx_get_state(struct vcpu *v, struct vcpu_state *s)
{
    vmx_load(v);
    memcpy(s->gpr, v->gpr, sizeof(s->gpr));
    s->rip = v->rip;
    s->rflags = v->rflags;
    seg_out(&s->es, S_ES), seg_out(&s->cs, S_CS), seg_out(&s->ss, S_SS), seg_out(&s->ds, S_DS);
    seg_out(&s->fs, S_FS), seg_out(&s->gs, S_GS), seg_out(&s->ldtr, S_LDTR), seg_out(&s->tr, S_TR);
    s->gdtr.base = vmx_read(VMCS_GUEST_GDTR_BASE), s->gdtr.limit = (uint32_t)vmx_read(VMCS_GUEST_GDTR_LIMIT);
    s->idtr.base = vmx_read(VMCS_GUEST_IDTR_BASE), s->idtr.limit = (uint32_t)vmx_read(VMCS_GUEST_IDTR_LIMIT);
    uint64_t m0 = vmx_read(VMCS_CR0_MASK), m4 = vmx_read(VMCS_CR4_MASK);
    s->cr0 = (vmx_read(VMCS_GUEST_CR0) & ~m0) | (vmx_read(VMCS_CR0_SHADOW) & m0);
    s->cr4 = (vmx_read(VMCS_GUEST_CR4) & ~m4) | (vmx_read(VMCS_CR4_SHADOW) & m4);
    s->cr3 = vmx_read(VMCS_GUEST_CR3);
    s->cr2 = ((struct vmx_vcpu *)v->hw)->cr2; /* no VMCS field: saved at each exit */
    s->efer = vmx_read(VMCS_GUEST_EFER);
    s->pat = vmx_read(VMCS_GUEST_PAT);
    s->dr7 = vmx_read(VMCS_GUEST_DR7);
    s->dr6 = 0;
    s->kernel_gs_base = vmx_lazy_msr(v, 0);
    s->star = vmx_lazy_msr(v, 1), s->lstar = vmx_lazy_msr(v, 2);
    s->cstar = vmx_lazy_msr(v, 3), s->sfmask = vmx_lazy_msr(v, 4);
    s->sysenter_cs = vmx_read(VMCS_GUEST_SYSENTER_CS);
    s->sysenter_esp = vmx_read(VMCS_GUEST_SYSENTER_ESP);
    s->sysenter_eip = vmx_read(VMCS_GUEST_SYSENTER_EIP);
    s->tsc_offset = vmx_read(VMCS_TSC_OFFSET);
    s->int_shadow = vmx_read(VMCS_GUEST_INTERRUPTIBILITY) & 3 ? 1 : 0;
    s->event = v->pending;
}

void vmx_set_state(struct vcpu *v, const struct vcpu_state *s)
{
    const struct vmx_caps *c = vmx_caps();
    vmx_load(v);
    memcpy(v->gpr, s->gpr, sizeof(v->gpr));
    v->rip = s->rip;
    v->rflags = s->rflags | RFLAGS_FIXED;
    seg_in(&s->es, S_ES), seg_in(&s->cs, S_CS), seg_in(&s->ss, S_SS), seg_in(&s->ds, S_DS);
    seg_in(&s->fs, S_FS), seg_in(&s->gs, S_GS), seg_in(&s->ldtr, S_LDTR), seg_in(&s->tr, S_TR);
    vmx_write(VMCS_GUEST_GDTR_BASE, s->gdtr.base), vmx_write(VMCS_GUEST_GDTR_LIMIT, s->gdtr.limit);
    vmx_write(VMCS_GUEST_IDTR_BASE, s->idtr.base), vmx_write(VMCS_GUEST_IDTR_LIMIT, s->idtr.limit);
    vmx_write(VMCS_CR0_SHADOW, s->cr0);
    vmx_write(VMCS_CR4_SHADOW, s->cr4);
    vmx_write(VMCS_GUEST_CR0, vmx_cr0_real(c, s->cr0));
    vmx_write(VMCS_GUEST_CR4, vmx_cr4_real(c, s->cr4));
    vmx_write(VMCS_GUEST_CR3, s->cr3);
    ((struct vmx_vcpu *)v->hw)->cr2 = s->cr2;
    vmx_write(VMCS_GUEST_EFER, s->efer);
    /* SDM Vol.3C 26.2.1.3/26.3.1.1: the IA-32e mode guest control must
     * match EFER.LMA. */
    uint64_t entry = vmx_read(VMCS_ENTRY_CTLS);
    vmx_write(VMCS_ENTRY_CTLS, (s->efer & EFER_LMA) ? entry | ENTRY_IA32E : entry & ~(uint64_t)ENTRY_IA32E);
    vmx_write(VMCS_GUEST_PAT, s->pat);
    vmx_write(VMCS_GUEST_DR7, s->dr7 | 0x400); /* bit 10 reads as 1 */
    vmx_set_lazy_msr(v, 0, s->kernel_gs_base);
    vmx_set_lazy_msr(v, 1, s->star), vmx_set_lazy_msr(v, 2, s->lstar);
    vmx_set_lazy_msr(v, 3, s->cstar), vmx_set_lazy_msr(v, 4, s->sfmask);
    vmx_write(VMCS_GUEST_SYSENTER_CS, s->sysenter_cs);
    vmx_write(VMCS_GUEST_SYSENTER_ESP, s->sysenter_esp);
    vmx_write(VMCS_GUEST_SYSENTER_EIP, s->sysenter_eip);
    vmx_write(VMCS_TSC_OFFSET, s->tsc_offset);
    vmx_write(VMCS_GUEST_INTERRUPTIBILITY, s->int_shadow ? 1 : 0);
    vmx_write(VMCS_GUEST_ACTIVITY, 0);
    vmx_write(VMCS_GUEST_PENDING_DBG, 0);
    v->pending = s->event;
}
