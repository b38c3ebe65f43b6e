/* VM exits: decoding into struct vm_exit, the few exits the backend
 * handles itself (CR0/CR3 accesses to VMX-owned bits, INVD), and the
 * diagnosis of a failed VM entry. */
#include <hopvm/lib.h>
#include "vmcs.h"
#include "vmx_internal.h"

#define CR8_TPR_MASK  0xfu /* CR8[3:0] is TPR[7:4] (SDM Vol.3A 11.8.6) */
#define CR8_TPR_SHIFT 4

/* Basic exit reason -> neutral reason (SDM Vol.3C appendix C). XSETBV
 * exits unconditionally (SDM Vol.3C 26.1.2) once CR4.OSXSAVE lets it past
 * its #UD: the core checks the value and keeps it as the vCPU's XCR0. */
static const uint8_t reason_map[64] = {
    [VMX_EXIT_EXT_INTR] = EXIT_INTR,       [VMX_EXIT_TRIPLE_FAULT] = EXIT_SHUTDOWN,
    [VMX_EXIT_INTR_WINDOW] = EXIT_IRQ_WINDOW,
    [VMX_EXIT_CPUID] = EXIT_CPUID,         [VMX_EXIT_HLT] = EXIT_HLT,
    [VMX_EXIT_VMCALL] = EXIT_HYPERCALL,    [VMX_EXIT_IO] = EXIT_IO,
    [VMX_EXIT_RDMSR] = EXIT_MSR_READ,      [VMX_EXIT_WRMSR] = EXIT_MSR_WRITE,
    [VMX_EXIT_EPT_VIOLATION] = EXIT_MMIO,  [VMX_EXIT_MWAIT] = EXIT_VIRT_INSN,
    [VMX_EXIT_MONITOR] = EXIT_VIRT_INSN,   [VMX_EXIT_INVEPT] = EXIT_VIRT_INSN,
    [VMX_EXIT_INVVPID] = EXIT_VIRT_INSN,  [VMX_EXIT_PREEMPT_TIMER] = EXIT_INTR,
    [VMX_EXIT_VMCLEAR] = EXIT_VIRT_INSN, [20] = EXIT_VIRT_INSN, [21] = EXIT_VIRT_INSN,
    [22] = EXIT_VIRT_INSN, [23] = EXIT_VIRT_INSN, [24] = EXIT_VIRT_INSN, [25] = EXIT_VIRT_INSN,
    [26] = EXIT_VIRT_INSN, [VMX_EXIT_VMXON] = EXIT_VIRT_INSN,
    [VMX_EXIT_CR_ACCESS] = EXIT_CR_WRITE,  [VMX_EXIT_XSETBV] = EXIT_XSETBV,
};

/* MOV to/from CR, CLTS, LMSW on bits VMX owns (SDM Vol.3C 27.1.3, table
 * 28-3 for the qualification). The guest sees its own values in the read
 * shadows; the real registers keep the fixed bits. A MOV to CR4 is not
 * handled here: it goes to the core (EXIT_CR_WRITE), which checks it
 * against the guest's CPUID. */
static bool cr_access(struct vcpu *v, uint64_t q, const struct vmx_caps *c)
{
    unsigned cr = q & CRQ_CR_MASK, type = (q >> CRQ_TYPE_SHIFT) & CRQ_TYPE_MASK;
    unsigned reg = (q >> CRQ_GPR_SHIFT) & CRQ_GPR_MASK;
    uint64_t shadow0 = vmx_read(VMCS_CR0_SHADOW);
    uint64_t val;
    if (cr == 8 && (type == CRQ_MOV_TO_CR || type == CRQ_MOV_FROM_CR)) {
        /* CR8 is the local APIC's TPR[7:4] (SDM Vol.3A 11.8.6); CR8-load
         * and -store exiting keep a guest's MOV off the host's own TPR. */
        if (type == CRQ_MOV_TO_CR)
            v->lapic.tpr = (uint32_t)(v->gpr[reg] & CR8_TPR_MASK) << CR8_TPR_SHIFT;
        else
            v->gpr[reg] = v->lapic.tpr >> CR8_TPR_SHIFT;
        v->rip += vmx_read(VMCS_EXIT_INSN_LEN);
        return true;
    }
    switch (type) {
    case CRQ_MOV_TO_CR:
        val = v->gpr[reg];
        if (cr == 0) {
            uint64_t efer = vmx_read(VMCS_GUEST_EFER);
            /* SDM Vol.3A 9.8.5: paging on with EFER.LME enters IA-32e mode. */
            bool lma = (val & CR0_PG) && (efer & EFER_LME);
            efer = lma ? efer | EFER_LMA : efer & ~EFER_LMA;
            vmx_write(VMCS_GUEST_EFER, efer);
            uint64_t entry = vmx_read(VMCS_ENTRY_CTLS);
            vmx_write(VMCS_ENTRY_CTLS, lma ? entry | ENTRY_IA32E : entry & ~(uint64_t)ENTRY_IA32E);
            vmx_write(VMCS_CR0_SHADOW, val);
            vmx_write(VMCS_GUEST_CR0, vmx_cr0_real(c, val));
        } else if (cr == 3) {
            vmx_write(VMCS_GUEST_CR3, val);
        } else {
            return false;
        }
        /* The guest's own MOV would have invalidated its TLB (PG, CR3: SDM
         * Vol.3A 4.10.4.1); emulated, it did not, and with VPIDs the
         * entries survive the exit. */
        ((struct vmx_vcpu *)v->hw)->flush_vpid = true;
        break;
    case CRQ_MOV_FROM_CR: /* only CR3 can exit (CR3-store exiting) */
        if (cr != 3)
            return false;
        v->gpr[reg] = vmx_read(VMCS_GUEST_CR3);
        break;
    case CRQ_CLTS:
        vmx_write(VMCS_CR0_SHADOW, shadow0 & ~8ull);
        vmx_write(VMCS_GUEST_CR0, vmx_read(VMCS_GUEST_CR0) & ~8ull);
        break;
    default: { /* LMSW: bits 3:0 of CR0; PE cannot be cleared */
        uint64_t src = (q >> CRQ_LMSW_SRC_SHIFT) & 0xf;
        val = (shadow0 & ~0xeull) | (src & 0xf) | (shadow0 & 1);
        vmx_write(VMCS_CR0_SHADOW, val);
        vmx_write(VMCS_GUEST_CR0, vmx_cr0_real(c, val));
        break;
    }
    }
    v->rip += vmx_read(VMCS_EXIT_INSN_LEN);
    return true;
}

bool vmx_decode(struct vcpu *v, struct vm_exit *e, const struct vmx_caps *c)
{
    uint32_t raw = (uint32_t)vmx_read(VMCS_EXIT_REASON);
    uint32_t basic = raw & VMX_EXIT_REASON_MASK;
    uint64_t q = vmx_read(VMCS_EXIT_QUAL);
    memset(e, 0, sizeof(*e));
    e->vendor_code = raw;
    e->info1 = q;
    if (raw & VMX_EXIT_ENTRY_FAIL) {
        vmx_entry_failure(v, e, 0);
        return true;
    }
    if (basic == VMX_EXIT_CR_ACCESS && cr_access(v, q, c))
        return false;
    if (basic == VMX_EXIT_PML_FULL) { /* SDM Vol.3C 29.3.6: the log is full, nothing else happened */
        vmx_pml_drain_vcpu(v);
        return false;
    }
    if (basic == VMX_EXIT_INVD) { /* would drop dirty host lines: do nothing */
        v->rip += vmx_read(VMCS_EXIT_INSN_LEN);
        return false;
    }
    e->reason = basic < ARRAY_SIZE(reason_map) && reason_map[basic] ? reason_map[basic] : EXIT_UNHANDLED;
    if (basic == VMX_EXIT_EXCEPTION &&
        (((uint32_t)vmx_read(VMCS_EXIT_INTR_INFO) >> INTR_TYPE_SHIFT) & 7) == INTR_TYPE_NMI)
        e->reason = EXIT_NMI;
    e->insn_len = (uint8_t)vmx_read(VMCS_EXIT_INSN_LEN);
    switch (e->reason) {
    case EXIT_IO: {
        uint32_t info = (uint32_t)vmx_read(VMCS_EXIT_INSN_INFO);
        e->u.io.port = (uint16_t)(q >> IOQ_PORT_SHIFT);
        e->u.io.size = (uint8_t)((q & IOQ_SIZE_MASK) + 1);
        e->u.io.in = q & IOQ_IN;
        e->u.io.string = q & IOQ_STRING;
        e->u.io.rep = q & IOQ_REP;
        /* SDM Vol.3C 28.2.5 table 28-8: address size 9:7, segment 17:15. */
        e->u.io.addr_size = (uint8_t)(2u << ((info >> 7) & 7));
        e->u.io.seg = (info >> 15) & 7;
        break;
    }
    case EXIT_MSR_READ:
    case EXIT_MSR_WRITE:
        e->u.msr = (uint32_t)v->gpr[GPR_RCX];
        break;
    case EXIT_CR_WRITE: {
        /* What cr_access left: a MOV to CR4 (the guest/host mask owns the
         * bits of features the guest's CPUID hides). Emulated, it did not
         * invalidate the guest's TLB as the CPU's own would (SDM Vol.3A
         * 4.10.4.1); with VPIDs its entries survive the exit: INVVPID. */
        if (((q >> CRQ_TYPE_SHIFT) & CRQ_TYPE_MASK) != CRQ_MOV_TO_CR) {
            e->reason = EXIT_UNHANDLED;
            break;
        }
        e->u.cr.cr = q & CRQ_CR_MASK;
        e->u.cr.gpr = (q >> CRQ_GPR_SHIFT) & CRQ_GPR_MASK;
        ((struct vmx_vcpu *)v->hw)->flush_vpid = true;
        break;
    }
    case EXIT_MMIO:
        e->u.mmio.gpa = vmx_read(VMCS_GUEST_PHYS_ADDR);
        e->info2 = e->u.mmio.gpa;
        e->u.mmio.write = q & EPTQ_WRITE;
        e->u.mmio.fetch = q & EPTQ_FETCH;
        e->u.mmio.walk = (q & EPTQ_LINEAR_VALID) && !(q & EPTQ_FINAL);
        break;
    default:
        break;
    }
    return true;
}

/* SDM Vol.3C 31.4: VM-instruction error numbers for a failed VM entry. */
static const char *insn_error(uint32_t n)
{
    switch (n) {
    case 4: return "VMLAUNCH with a non-clear VMCS";
    case 5: return "VMRESUME with a non-launched VMCS";
    case 7: return "invalid control field(s) (SDM 26.2.1)";
    case 8: return "invalid host-state field(s) (SDM 26.2.2-26.2.4)";
    case 26: return "events blocked by MOV SS";
    default: return "see SDM Vol.3C 31.4";
    }
}

/* Names the first guest-state check (SDM Vol.3C 26.3.1) that fails, so an
 * operator sees which field is wrong rather than "invalid guest state". */
static const char *guest_state_check(const struct vmx_caps *c)
{
    uint64_t cr0 = vmx_read(VMCS_GUEST_CR0), cr4 = vmx_read(VMCS_GUEST_CR4);
    uint64_t efer = vmx_read(VMCS_GUEST_EFER), entry = vmx_read(VMCS_ENTRY_CTLS);
    uint32_t cs_ar = (uint32_t)vmx_read(VMCS_GUEST_ES_AR + 2), tr_ar = (uint32_t)vmx_read(VMCS_GUEST_ES_AR + 14);
    uint32_t ldtr_ar = (uint32_t)vmx_read(VMCS_GUEST_ES_AR + 12);
    if ((cr0 & (c->cr0_fixed0 & ~(CR0_PE | CR0_PG))) != (c->cr0_fixed0 & ~(CR0_PE | CR0_PG)) ||
        (cr0 & ~c->cr0_fixed1 & 0xffffffffull))
        return "guest CR0 violates the VMX fixed bits (26.3.1.1)";
    if ((cr0 & CR0_PG) && !(cr0 & CR0_PE))
        return "guest CR0.PG set without CR0.PE (26.3.1.1)";
    if ((cr4 & c->cr4_fixed0) != c->cr4_fixed0 || (cr4 & ~c->cr4_fixed1 & 0xffffffffull))
        return "guest CR4 violates the VMX fixed bits (26.3.1.1)";
    if (!!(entry & ENTRY_IA32E) != !!(efer & EFER_LMA))
        return "IA-32e mode guest control differs from guest EFER.LMA (26.3.1.1)";
    if (!(vmx_read(VMCS_GUEST_RFLAGS) & RFLAGS_FIXED))
        return "guest RFLAGS bit 1 is clear (26.3.1.4)";
    if (cs_ar & AR_UNUSABLE || !(cs_ar & SEG_ATTR_P))
        return "guest CS is unusable or not present (26.3.1.2)";
    if ((entry & ENTRY_IA32E) && (cs_ar & (1u << 13)) && (cs_ar & (1u << 14)))
        return "guest CS has both L and D/B set in IA-32e mode (26.3.1.2)";
    if ((tr_ar & AR_UNUSABLE) || (tr_ar & SEG_ATTR_S) || ((tr_ar & 0xf) != 11 && (tr_ar & 0xf) != 3))
        return "guest TR must be a present busy TSS (26.3.1.2)";
    if (!(ldtr_ar & AR_UNUSABLE) && (ldtr_ar & 0xf) != 2)
        return "guest LDTR must be unusable or an LDT (26.3.1.2)";
    if (vmx_read(VMCS_LINK_POINTER) != ~0ull)
        return "VMCS link pointer is not all ones (26.3.1.5)";
    if (vmx_read(VMCS_GUEST_ACTIVITY) != 0)
        return "guest activity state is not active (26.3.1.5)";
    return "a guest-state check not decoded by hopvm (26.3.1)";
}

void vmx_entry_failure(struct vcpu *v, struct vm_exit *e, uint32_t insn_err)
{
    static char why[160];
    (void)v;
    memset(e, 0, sizeof(*e));
    e->reason = EXIT_ENTRY_FAILED;
    if (insn_err) {
        e->vendor_code = insn_err;
        ksnprintf(why, sizeof(why), "VM entry failed: VM-instruction error %u, %s", insn_err, insn_error(insn_err));
    } else {
        uint32_t raw = (uint32_t)vmx_read(VMCS_EXIT_REASON);
        e->vendor_code = raw;
        if ((raw & VMX_EXIT_REASON_MASK) == VMX_EXIT_BAD_MSR_LOAD)
            ksnprintf(why, sizeof(why), "VM entry failed loading MSRs (entry %lu)", vmx_read(VMCS_EXIT_QUAL));
        else
            ksnprintf(why, sizeof(why), "VM entry failed: invalid guest state: %s", guest_state_check(vmx_caps()));
    }
    e->detail = why;
}
