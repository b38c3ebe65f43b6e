/* Guest state in and out of the VMCS, in the vendor-neutral form. */
#include <hopvm/lib.h>
#include <hopvm/vcpu_check.h>
#include "vmcs.h"
#include "vmx_internal.h"

/* Guest interruptibility state (SDM Vol.3C 24.4.2, table 24-3). */
#define BLOCK_STI    (1u << 0)
#define BLOCK_MOV_SS (1u << 1)
#define BLOCK_NMI    (1u << 3)
/* Pending debug exceptions: BS, a single-step trap (table 24-4). */
#define PENDING_BS   (1ull << 14)
#define RFLAGS_TF    (1ull << 8)
#define DR7_FIXED1   0x400ull        /* DR7 bit 10 reads as 1 (SDM Vol.3A 17.2.4) */
#define AR_TYPE      0xfu            /* access rights (SDM Vol.3C 24.4.1, table 24-2) */
#define AR_ACCESSED  0x1u
#define AR_S         (1u << 4)
#define AR_DPL       (3u << 5)
#define AR_G         (1u << 15)
#define TSS_BUSY     0x2u            /* type 1/9 (available) -> 3/11 (busy) */
#define TSS16_AVAIL  1u
#define TSS_AVAIL    9u
#define LIMIT_LOW12  0xfffu          /* a limit in 4 KiB pages ends in 0xfff */
#define LIMIT_BYTES_MAX 0xfffffu     /* a limit in bytes fits 20 bits */
#define VA_BITS      48              /* the guest has no LA57 (vmm/cpuid.c) */
#define HIGH32       0xffffffff00000000ull

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

/* VMCS order: ES CS SS DS FS GS LDTR TR (SDM Vol.3C appendix B). */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR };

/* The neutral attr packs AVL/L/DB/G in bits 8-11; VMX access rights keep
 * them in bits 12-15 and mark a null segment unusable (SDM Vol.3C 24.4.1).
 * An unusable SS keeps its DPL, which is the CPL (27.3.2, 26.3.1.2). VM
 * entry also wants the bits a CPU that loaded the segment would hold and
 * an AMD VMCB may not (vmm/vcpu_check_seg.c): a code or data segment
 * accessed, TR busy, and G set exactly as the limit needs (26.3.1.2). */
static uint32_t to_ar(const struct seg_state *g, unsigned seg)
{
    uint32_t ar = (g->attr & 0xffu) | ((uint32_t)(g->attr & 0xf00u) << 4);
    if (!(g->attr & SEG_ATTR_P))
        return AR_UNUSABLE | (ar & AR_DPL);
    if (seg == S_TR && ((ar & AR_TYPE) == TSS16_AVAIL || (ar & AR_TYPE) == TSS_AVAIL))
        ar |= TSS_BUSY;
    if (ar & AR_S)
        ar |= AR_ACCESSED;
    if (g->limit > LIMIT_BYTES_MAX)
        ar |= AR_G;
    else if ((g->limit & LIMIT_LOW12) != LIMIT_LOW12)
        ar &= ~AR_G;
    return ar;
}
static uint16_t from_ar(uint32_t ar, unsigned seg)
{
    if (ar & AR_UNUSABLE)
        return seg == S_SS ? (uint16_t)(ar & AR_DPL) : 0;
    return (uint16_t)((ar & 0xffu) | ((ar >> 4) & 0xf00u));
}

static void seg_out(struct seg_state *d, unsigned i)
{
    d->sel = (uint16_t)vmx_read(VMCS_GUEST_ES_SEL + 2 * i);
    d->limit = (uint32_t)vmx_read(VMCS_GUEST_ES_LIMIT + 2 * i);
    d->attr = from_ar((uint32_t)vmx_read(VMCS_GUEST_ES_AR + 2 * i), i);
    d->base = vmx_read(VMCS_GUEST_ES_BASE + 2 * i);
}
static void seg_in(const struct seg_state *s, unsigned i)
{
    vmx_write(VMCS_GUEST_ES_SEL + 2 * i, s->sel);
    vmx_write(VMCS_GUEST_ES_LIMIT + 2 * i, s->limit);
    vmx_write(VMCS_GUEST_ES_AR + 2 * i, to_ar(s, i));
    vmx_write(VMCS_GUEST_ES_BASE + 2 * i, s->base);
}

/* The guest's own NMI mask (blocked from an NMI's delivery to the next
 * IRET) is the interruptibility state's NMI bit only with "virtual NMIs":
 * with NMI exiting alone, that bit blocks the host's NMIs and the guest's
 * IRET leaves it alone (SDM Vol.3C 24.4.2, 25.3 "IRET", 24.6.1). */
static bool virtual_nmis(void) { return vmx_caps()->pin & PIN_VIRTUAL_NMI; }

/* SDM Vol.3C 24.4.2, 26.3.1.5: blocking by STI and by MOV SS are distinct
 * states (MOV SS's also holds off debug traps). Without virtual NMIs the
 * NMI bit is the host's and stays as it is. */
static uint32_t interruptibility(const struct vcpu_state *s)
{
    uint32_t ib = s->int_shadow == SHADOW_MOV_SS ? BLOCK_MOV_SS : s->int_shadow == SHADOW_STI ? BLOCK_STI : 0;
    if (!virtual_nmis())
        return ib | ((uint32_t)vmx_read(VMCS_GUEST_INTERRUPTIBILITY) & BLOCK_NMI);
    return ib | (s->nmi_blocked ? BLOCK_NMI : 0);
}

/* The lazy MSR switch loads these with WRMSR, which faults on a
 * non-canonical KERNEL_GS_BASE, LSTAR or CSTAR and on SFMASK bits 63:32
 * (SDM Vol.2B WRMSR): a fault there would be in the host. vcpu_check()
 * refuses such a state from outside first; this keeps any other caller's
 * value from reaching the WRMSR too. */
static uint64_t lazy_safe(int i, uint64_t val)
{
    if (i == LAZY_SFMASK)
        return val & ~HIGH32;
    if (i != LAZY_STAR && !vcpu_canonical(val, VA_BITS))
        return 0;
    return val;
}

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
    s->dr6 = vmx_dr6_get(v);
    s->kernel_gs_base = vmx_lazy_msr(v, LAZY_KERNEL_GS_BASE);
    s->star = vmx_lazy_msr(v, LAZY_STAR), s->lstar = vmx_lazy_msr(v, LAZY_LSTAR);
    s->cstar = vmx_lazy_msr(v, LAZY_CSTAR), s->sfmask = vmx_lazy_msr(v, LAZY_SFMASK);
    s->sysenter_cs = vmx_read(VMCS_GUEST_SYSENTER_CS);
    s->sysenter_esp = vmx_read(VMCS_GUEST_SYSENTER_ESP);
    s->sysenter_eip = vmx_read(VMCS_GUEST_SYSENTER_EIP);
    s->tsc_offset = vmx_read(VMCS_TSC_OFFSET);
    uint32_t ib = (uint32_t)vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
    s->int_shadow = ib & BLOCK_MOV_SS ? SHADOW_MOV_SS : ib & BLOCK_STI ? SHADOW_STI : SHADOW_NONE;
    s->nmi_blocked = virtual_nmis() && (ib & BLOCK_NMI);
    s->event = v->pending;
}

void vmx_set_state(struct vcpu *v, const struct vcpu_state *s)
{
    const struct vmx_caps *c = vmx_caps();
    vmx_load(v);
    memcpy(v->gpr, s->gpr, sizeof(v->gpr));
    v->rip = s->rip;
    ((struct vmx_vcpu *)v->hw)->exit_rip = s->rip; /* the state's shadow is its own */
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
    vmx_write(VMCS_GUEST_DR7, s->dr7 | DR7_FIXED1);
    vmx_dr6_set(v, s->dr6);
    const uint64_t lazy[LAZY_MSRS] = {
        [LAZY_KERNEL_GS_BASE] = s->kernel_gs_base, [LAZY_STAR] = s->star, [LAZY_LSTAR] = s->lstar,
        [LAZY_CSTAR] = s->cstar, [LAZY_SFMASK] = s->sfmask,
    };
    for (int i = 0; i < LAZY_MSRS; i++)
        vmx_set_lazy_msr(v, i, lazy_safe(i, lazy[i]));
    vmx_write(VMCS_GUEST_SYSENTER_CS, s->sysenter_cs);
    vmx_write(VMCS_GUEST_SYSENTER_ESP, s->sysenter_esp);
    vmx_write(VMCS_GUEST_SYSENTER_EIP, s->sysenter_eip);
    vmx_write(VMCS_TSC_OFFSET, s->tsc_offset);
    uint32_t ib = interruptibility(s);
    vmx_write(VMCS_GUEST_INTERRUPTIBILITY, ib);
    vmx_write(VMCS_GUEST_ACTIVITY, 0);
    /* In an STI or MOV SS shadow, VM entry wants a pending single-step
     * trap exactly when RFLAGS.TF is set (26.3.1.5; the guest's
     * IA32_DEBUGCTL.BTF is 0: hopvm gives it no DEBUGCTL). */
    bool step = (ib & (BLOCK_STI | BLOCK_MOV_SS)) && (s->rflags & RFLAGS_TF);
    vmx_write(VMCS_GUEST_PENDING_DBG, step ? PENDING_BS : 0);
    v->pending = s->event;
}

/* IA32_VMX_CR4_FIXED1 says which CR4 bits may be 1 in VMX operation (SDM
 * Vol.3D A.8); CR4.VMXE is the host's, never the guest's. */
uint64_t vmx_guest_cr4_bits(void)
{
    return vmx_caps()->cr4_fixed1 & ~CR4_VMXE;
}
