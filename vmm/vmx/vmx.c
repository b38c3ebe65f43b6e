/* Intel VT-x backend (SDM Vol.3C chapters 24-29): VMXON, one VMCS per vCPU
 * with controls derived from the capability MSRs, EPT, VPID, the entry/exit
 * path and exit decoding into struct vm_exit. This directory is the only
 * code that knows a VMCS. */
#include <hopvm/cpu.h>
#include <hopvm/cpuinfo.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nested_pt.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>
#include "vmcs.h"
#include "vmx_internal.h"

#define MSR_PAT 0x277
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define FC_LOCK (1ull << 0)
#define FC_VMXON_OUTSIDE_SMX (1ull << 2)
#define INT_N_LEN 2 /* CD ib: a software interrupt with no length kept */

/* MSRs the guest uses directly and that no VMCS field switches: loaded
 * lazily when another vCPU runs (the host itself never uses them). */
static const uint32_t lazy_msrs[LAZY_MSRS] = {0xc0000102, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084};

static struct vmx_vcpu vcpus_hw[CFG_MAX_VMS * CFG_MAX_VCPUS];
static struct vmx_vm vms_hw[CFG_MAX_VMS];
static uint32_t revision;
static uint8_t *msr_bitmap;
static struct vmx_caps caps;
static const struct vcpu *current_vmcs, *msr_owner;
static uint16_t next_vpid = 1;

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
const struct vmx_caps *vmx_caps(void) { return &caps; }

/* A control value from what we want and the capability MSR (SDM Vol.3C
 * A.3-A.5: bits 31:0 must be 1 if set, bits 63:32 may be 1 if set).
 * -1 if something we cannot do without is not allowed. */
static int adjust(uint32_t want, uint32_t optional, uint32_t msr, uint32_t *out)
{
    uint64_t cap = rdmsr(msr);
    uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);
    if (want & ~may1)
        return -1;
    *out = (want | (optional & may1) | must1) & may1;
    return 0;
}

static int vmx_cpu_enable(char *err, size_t n)
{
    const struct cpu_info *c = cpuinfo();
    if (!c->vmx)
        return ksnprintf(err, n, "the CPU has no VT-x"), -1;
    /* SDM Vol.3C 24.7: VMXON needs IA32_FEATURE_CONTROL locked with
     * VMXON-outside-SMX; firmware that left it open lets us set it. */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FC_LOCK))
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FC_LOCK | FC_VMXON_OUTSIDE_SMX);
    else if (!(fc & FC_VMXON_OUTSIDE_SMX))
        return ksnprintf(err, n, "VT-x is disabled and locked by the firmware (IA32_FEATURE_CONTROL)"), -1;
    uint64_t basic = rdmsr(MSR_VMX_BASIC);
    revision = (uint32_t)basic & 0x7fffffff;
    bool true_ctls = basic & VMX_BASIC_TRUE_CTLS;
    uint32_t pin_msr = true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED;
    uint32_t proc_msr = true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED;
    uint32_t exit_msr = true_ctls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT;
    uint32_t entry_msr = true_ctls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY;
    /* TSC offsetting (SDM Vol.3C 25.6.2, 26.3): RDTSC and RDTSCP in the
     * guest return the TSC plus the vCPU's TSC_OFFSET field, so its TSC
     * starts near zero, follows its WRMSRs to IA32_TSC (vmm/msr.c) and
     * continues across a teleport. Every VT-x CPU offers it; one that did
     * not could not give a guest a TSC of its own, so it is required. */
    if (adjust(PIN_EXT_INTR | PIN_NMI, PIN_PREEMPT_TIMER | PIN_VIRTUAL_NMI, pin_msr, &caps.pin) ||
        adjust(PROC_HLT | PROC_UNCOND_IO | PROC_MSR_BITMAPS | PROC_SECONDARY | PROC_MWAIT | PROC_MONITOR |
                   PROC_TSC_OFFSET | PROC_CR8_LOAD | PROC_CR8_STORE, 0, proc_msr, &caps.proc) ||
        adjust(PROC2_EPT | PROC2_UNRESTRICTED, PROC2_VPID | PROC2_RDTSCP, MSR_VMX_PROCBASED2, &caps.proc2) ||
        adjust(EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_PAT | EXIT_LOAD_PAT, 0, exit_msr,
               &caps.exit) ||
        adjust(ENTRY_LOAD_EFER | ENTRY_LOAD_PAT, 0, entry_msr, &caps.entry))
        return ksnprintf(err, n, "the CPU lacks a VT-x control hopvm needs (EPT, unrestricted guest, "
                                 "EFER/PAT switching, MSR bitmaps or TSC offsetting)"), -1;
    caps.entry_ia32e_ok = (rdmsr(entry_msr) >> 32) & ENTRY_IA32E;
    /* The preemption timer (SDM Vol.3C 25.5.1) bounds every guest run to
     * about a host tick even if an external interrupt fails to exit (seen
     * under Bochs 2.7 with a guest spinning with RFLAGS.IF = 0). It counts
     * TSC >> IA32_VMX_MISC[4:0]. */
    if (caps.pin & PIN_PREEMPT_TIMER) {
        uint64_t t = (tsc_hz() / 1000) >> (rdmsr(MSR_VMX_MISC) & 0x1f);
        caps.preempt_ticks = (uint32_t)MIN(MAX(t, 1ull), 0xffffffffull);
    }
    uint64_t ept = rdmsr(MSR_VMX_EPT_VPID_CAP);
    if (!(ept & EPT_CAP_WB) || !(ept & EPT_CAP_2M))
        return ksnprintf(err, n, "EPT lacks write-back memory or 2 MiB pages"), -1;
    caps.ept_ad = ept & EPT_CAP_AD;
    /* PML logs only where the CPU sets EPT dirty bits (SDM Vol.3C 29.3.6);
     * it is turned on per vCPU while the dirty log runs, not here. */
    caps.pml = caps.ept_ad && ((rdmsr(MSR_VMX_PROCBASED2) >> 32) & PROC2_PML);
    caps.cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    caps.cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    caps.cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    caps.cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);

    /* SDM Vol.3C 24.8: CR0/CR4 must satisfy the fixed bits in VMX operation. */
    uint64_t cr4 = (read_cr4() | CR4_VMXE | caps.cr4_fixed0) & caps.cr4_fixed1;
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
    uint64_t cr0 = (read_cr0() | caps.cr0_fixed0) & caps.cr0_fixed1;
    __asm__ volatile("mov %0, %%cr0" ::"r"(cr0));
    uint32_t *vmxon_region = page_alloc(1, 0);
    msr_bitmap = page_alloc(1, 0);
    if (!vmxon_region || !msr_bitmap)
        return ksnprintf(err, n, "out of memory for VMX areas"), -1;
    vmxon_region[0] = revision;
    if (vmx_on(pa(vmxon_region)) != 0)
        return ksnprintf(err, n, "VMXON failed"), -1;
    /* SDM Vol.3C 25.6.9: read bitmaps at 0 and 1024, write bitmaps at 2048
     * and 3072; a set bit exits. Everything exits but the MSRs the VMCS or
     * the lazy switch handles. */
    memset(msr_bitmap, 0xff, PAGE_SIZE);
    static const uint32_t passthrough[] = {0xc0000100, 0xc0000101, 0xc0000102, 0xc0000081, 0xc0000082,
                                           0xc0000083, 0xc0000084, MSR_SYSENTER_CS, MSR_SYSENTER_ESP,
                                           MSR_SYSENTER_EIP};
    for (size_t i = 0; i < ARRAY_SIZE(passthrough); i++) {
        uint32_t m = passthrough[i], off = m >= 0xc0000000 ? 1024 : 0, bit = m & 0x1fff;
        msr_bitmap[off + bit / 8] &= (uint8_t)~(1u << (bit % 8));
        msr_bitmap[off + 2048 + bit / 8] &= (uint8_t)~(1u << (bit % 8));
    }
    return 0;
}

static int vmx_vm_create(struct vm *vm)
{
    struct vmx_vm *x = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(vms_hw) && !x; i++)
        if (!vms_hw[i].used)
            x = &vms_hw[i];
    if (!x)
        return -1;
    /* With A/D on, the CPU sets a leaf's dirty bit on every write (SDM
     * Vol.3C 29.3.5): the dirty log reads those instead of faulting. */
    x->eptp = pa(vm->npt) | EPTP_WB | EPTP_WALK_4 | (caps.ept_ad ? EPTP_AD : 0);
    /* Translations are tagged by EPTP; a reused table address may still
     * have some cached from a previous guest (SDM Vol.3C 29.4.3.1). */
    vmx_invept_single(x->eptp);
    x->used = true;
    vm->hw = x;
    return 0;
}

static void vmx_vm_destroy(struct vm *vm)
{
    struct vmx_vm *x = vm->hw;
    if (!x)
        return;
    x->used = false;
    vm->hw = NULL;
}

/* Makes v's VMCS the current one (SDM Vol.3C 24.1). */
void vmx_load(const struct vcpu *v)
{
    if (current_vmcs != v) {
        vmx_ptrld(pa(((struct vmx_vcpu *)v->hw)->vmcs));
        current_vmcs = v;
    }
}

static uint16_t vpid_alloc(void)
{
    uint16_t id = next_vpid;
    next_vpid = next_vpid == 0xffff ? 1 : next_vpid + 1;
    return id;
}

static void host_state(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    const uint8_t *d = (const uint8_t *)(uintptr_t)(gdtr.base + SEL_TSS);
    uint64_t tr_base = d[2] | (uint64_t)d[3] << 8 | (uint64_t)d[4] << 16 | (uint64_t)d[7] << 24 |
                       (uint64_t)*(const uint32_t *)(d + 8) << 32;
    vmx_write(VMCS_HOST_CR0, read_cr0());
    vmx_write(VMCS_HOST_CR3, read_cr3());
    vmx_write(VMCS_HOST_CR4, read_cr4());
    vmx_write(VMCS_HOST_CS_SEL, SEL_CODE64);
    vmx_write(VMCS_HOST_SS_SEL, SEL_DATA);
    vmx_write(VMCS_HOST_DS_SEL, SEL_DATA);
    vmx_write(VMCS_HOST_ES_SEL, SEL_DATA);
    vmx_write(VMCS_HOST_FS_SEL, 0);
    vmx_write(VMCS_HOST_GS_SEL, 0);
    vmx_write(VMCS_HOST_TR_SEL, SEL_TSS);
    vmx_write(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    vmx_write(VMCS_HOST_GS_BASE, rdmsr(MSR_FS_BASE + 1));
    vmx_write(VMCS_HOST_TR_BASE, tr_base);
    vmx_write(VMCS_HOST_GDTR_BASE, gdtr.base);
    vmx_write(VMCS_HOST_IDTR_BASE, idtr.base);
    vmx_write(VMCS_HOST_SYSENTER_CS, rdmsr(MSR_SYSENTER_CS));
    vmx_write(VMCS_HOST_SYSENTER_ESP, rdmsr(MSR_SYSENTER_ESP));
    vmx_write(VMCS_HOST_SYSENTER_EIP, rdmsr(MSR_SYSENTER_EIP));
    vmx_write(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    vmx_write(VMCS_HOST_PAT, rdmsr(MSR_PAT));
    vmx_write(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
}

static int vmx_vcpu_create(struct vcpu *v)
{
    struct vmx_vcpu *x = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(vcpus_hw) && !x; i++)
        if (!vcpus_hw[i].used)
            x = &vcpus_hw[i];
    struct vmx_vm *xv = v->vm->hw;
    if (!x || !xv)
        return -1;
    memset(x, 0, sizeof(*x));
    x->vmcs = page_alloc(1, 0);
    if (!x->vmcs)
        return -1;
    *(uint32_t *)x->vmcs = revision;
    x->used = true;
    v->hw = x;
    vmx_clear(pa(x->vmcs)); /* SDM Vol.3C 24.11.3: launch state "clear" */
    current_vmcs = NULL;
    vmx_load(v);
    vmx_write(VMCS_PIN_CTLS, caps.pin);
    vmx_write(VMCS_PROC_CTLS, caps.proc);
    x->proc = caps.proc;
    vmx_write(VMCS_PROC_CTLS2, caps.proc2);
    vmx_write(VMCS_EXIT_CTLS, caps.exit);
    vmx_write(VMCS_ENTRY_CTLS, caps.entry);
    vmx_write(VMCS_EXCEPTION_BITMAP, 0);
    vmx_write(VMCS_MSR_BITMAP, pa(msr_bitmap));
    vmx_write(VMCS_EPT_POINTER, xv->eptp);
    if (caps.proc2 & PROC2_VPID) {
        x->vpid = vpid_alloc();
        vmx_write(VMCS_VPID, x->vpid);
        vmx_invvpid_single(x->vpid); /* a previous holder's translations */
    }
    vmx_write(VMCS_LINK_POINTER, ~0ull);
    /* Guest-owned CR bits are all but the ones VMX fixes and, in CR4, the
     * bits of features the guest's CPUID does not offer: a guest write that
     * would change one of those exits and the core checks it (SDM Vol.3C
     * 25.6.6). The guest reads its own values from the shadows. */
    vmx_write(VMCS_CR0_MASK, vmx_cr0_mask(&caps));
    vmx_write(VMCS_CR4_MASK, vmx_cr4_mask(&caps) | ~cpuid_cr4_allowed(v));
    host_state();
    fpu_init(v);
    return 0;
}

static void vmx_vcpu_destroy(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (!x)
        return;
    vmx_clear(pa(x->vmcs));
    if (current_vmcs == v)
        current_vmcs = NULL;
    if (msr_owner == v)
        msr_owner = NULL;
    vmx_pml_free(v);
    fpu_forget(v);
    page_free(x->vmcs, 1);
    x->vmcs = NULL;
    x->used = false;
    v->hw = NULL;
}

static void lazy_msr_switch(struct vcpu *v)
{
    if (msr_owner == v)
        return;
    if (msr_owner)
        for (int i = 0; i < LAZY_MSRS; i++)
            ((struct vmx_vcpu *)msr_owner->hw)->msrs[i] = rdmsr(lazy_msrs[i]);
    for (int i = 0; i < LAZY_MSRS; i++)
        wrmsr(lazy_msrs[i], ((struct vmx_vcpu *)v->hw)->msrs[i]);
    msr_owner = v;
}

uint64_t vmx_lazy_msr(const struct vcpu *v, int i)
{
    return msr_owner == v ? rdmsr(lazy_msrs[i]) : ((struct vmx_vcpu *)v->hw)->msrs[i];
}

void vmx_set_lazy_msr(struct vcpu *v, int i, uint64_t val)
{
    ((struct vmx_vcpu *)v->hw)->msrs[i] = val;
    if (msr_owner == v)
        wrmsr(lazy_msrs[i], val);
}

static void inject(struct vcpu *v)
{
    static const uint8_t type[] = {
        [EVENT_EXCEPTION] = INTR_TYPE_HW_EXC, [EVENT_EXTINT] = INTR_TYPE_EXT,
        [EVENT_NMI] = INTR_TYPE_NMI, [EVENT_SOFTINT] = INTR_TYPE_SOFT_INT,
    };
    if (v->pending.type == EVENT_NONE)
        return;
    uint32_t info = v->pending.vector | (uint32_t)type[v->pending.type] << INTR_TYPE_SHIFT | INTR_INFO_VALID;
    if (v->pending.has_error) {
        info |= INTR_INFO_ERR_VALID;
        vmx_write(VMCS_ENTRY_EXC_ERROR, v->pending.error);
    }
    /* SDM Vol.3C 26.2.1.3: a software interrupt needs the length of its INT
     * instruction (kept when its delivery was cut short, requeue). */
    if (v->pending.type == EVENT_SOFTINT)
        vmx_write(VMCS_ENTRY_INSN_LEN, v->pending.insn_len ? v->pending.insn_len : INT_N_LEN);
    vmx_write(VMCS_ENTRY_INTR_INFO, info);
    v->pending.type = EVENT_NONE;
}

/* SDM Vol.3C 28.2.4: an event whose delivery the exit interrupted is in
 * the IDT-vectoring information and must be injected again. */
static void requeue(struct vcpu *v)
{
    uint32_t info = (uint32_t)vmx_read(VMCS_IDT_VECT_INFO);
    if (!(info & INTR_INFO_VALID) || v->pending.type != EVENT_NONE)
        return;
    static const uint8_t type[8] = {
        [INTR_TYPE_EXT] = EVENT_EXTINT, [INTR_TYPE_NMI] = EVENT_NMI,
        [INTR_TYPE_HW_EXC] = EVENT_EXCEPTION, [INTR_TYPE_SOFT_INT] = EVENT_SOFTINT,
    };
    v->pending.type = type[(info >> INTR_TYPE_SHIFT) & 7];
    v->pending.vector = (uint8_t)info;
    v->pending.has_error = (info & INTR_INFO_ERR_VALID) != 0;
    v->pending.error = (uint32_t)vmx_read(VMCS_IDT_VECT_ERROR);
    if (v->pending.type == EVENT_SOFTINT) /* SDM Vol.3C 27.2.4: the exit gives INT n's length */
        v->pending.insn_len = (uint8_t)vmx_read(VMCS_EXIT_INSN_LEN);
    /* An NMI whose delivery faulted left blocking by NMI set (SDM Vol.3C
     * 27.2.3); injecting it again needs it clear (26.3.1.5), as KVM does. */
    if (v->pending.type == EVENT_NMI)
        vmx_write(VMCS_GUEST_INTERRUPTIBILITY,
                  vmx_read(VMCS_GUEST_INTERRUPTIBILITY) & ~(uint64_t)INTERRUPTIBILITY_NMI);
}

/* SDM Vol.3C 25.6.2, 26.7.5: with interrupt-window exiting the entry is
 * followed by an exit as soon as RFLAGS.IF is set and no STI or MOV SS
 * shadow blocks (at once if that is so already). */
static void irq_window(struct vcpu *v)
{
    uint64_t want = v->irq_window ? caps.proc | PROC_INTR_WINDOW : caps.proc;
    if (((struct vmx_vcpu *)v->hw)->proc != want) {
        vmx_write(VMCS_PROC_CTLS, want);
        ((struct vmx_vcpu *)v->hw)->proc = want;
    }
}

/* An emulated instruction (RIP moved on since the exit) ends the STI /
 * MOV SS shadow it sat in, as executing it would have (SDM Vol.3A 6.8.3;
 * KVM does the same): without this a guest's "sti; hlt" would wake still
 * in STI's shadow. */
static void end_shadow(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (x->exit_rip == v->rip)
        return;
    uint64_t st = vmx_read(VMCS_GUEST_INTERRUPTIBILITY);
    if (st & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))
        vmx_write(VMCS_GUEST_INTERRUPTIBILITY, st & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
    x->exit_rip = v->rip;
}

static bool vmx_irq_allowed(struct vcpu *v)
{
    vmx_load(v);
    end_shadow(v);
    uint64_t block = vmx_read(VMCS_GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS);
    return (v->rflags & RFLAGS_IF) && !block;
}

/* SDM Vol.3C 26.3.1.5: VM entry refuses an NMI injected while blocking
 * by NMI (the guest is in its handler, until IRET) or by MOV SS is in
 * effect; some CPUs also refuse it in an STI shadow (KVM and FreeBSD
 * avoid that too). The NMI waits for an entry where none holds. */
static bool vmx_nmi_allowed(struct vcpu *v)
{
    vmx_load(v);
    end_shadow(v);
    return !(vmx_read(VMCS_GUEST_INTERRUPTIBILITY) &
             (INTERRUPTIBILITY_NMI | INTERRUPTIBILITY_MOV_SS | INTERRUPTIBILITY_STI));
}

static uint64_t vmx_tsc_offset(struct vcpu *v)
{
    vmx_load(v);
    return vmx_read(VMCS_TSC_OFFSET);
}

static void vmx_vcpu_run(struct vcpu *v, struct vm_exit *e)
{
    struct vmx_vcpu *x = v->hw;
    for (;;) {
        vmx_load(v);
        end_shadow(v);
        irq_window(v);
        vmx_write(VMCS_GUEST_RSP, v->gpr[GPR_RSP]);
        vmx_write(VMCS_GUEST_RIP, v->rip);
        vmx_write(VMCS_GUEST_RFLAGS, v->rflags);
        if (caps.preempt_ticks)
            vmx_write(VMCS_PREEMPT_TIMER, caps.preempt_ticks);
        inject(v);
        if (x->flush_ept) {
            vmx_invept_single(((struct vmx_vm *)v->vm->hw)->eptp);
            x->flush_ept = false;
        }
        /* Without VPIDs every entry and exit flushes the guest's linear
         * translations anyway (SDM Vol.3C 29.4.3.1). */
        if (x->flush_vpid) {
            if (caps.proc2 & PROC2_VPID)
                vmx_invvpid_single(x->vpid);
            x->flush_vpid = false;
        }
        fpu_switch(v);
        msr_load_guest(v);
        lazy_msr_switch(v);
        vmx_dr6_switch(v); /* DR6 is in no VMCS field (SDM Vol.3C 27.3.1) */
        cli();
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        if (cr2 != x->cr2)
            __asm__ volatile("mov %0, %%cr2" ::"r"(x->cr2));
        int failed = vmx_enter(v->gpr, x->launched);
        __asm__ volatile("mov %%cr2, %0" : "=r"(x->cr2));
        /* VM exit left RFLAGS.IF clear (SDM Vol.3C 28.5.3): a host interrupt
         * that caused the exit is still pending and arrives at sti(). */
        if (failed) {
            sti();
            vmx_entry_failure(v, e, (uint32_t)vmx_read(VMCS_INSN_ERROR));
            return;
        }
        x->launched = true;
        v->gpr[GPR_RSP] = vmx_read(VMCS_GUEST_RSP);
        v->rip = vmx_read(VMCS_GUEST_RIP);
        x->exit_rip = v->rip;
        v->rflags = vmx_read(VMCS_GUEST_RFLAGS);
        requeue(v);
        sti();
        if (vmx_decode(v, e, &caps))
            return;
        /* handled inside the backend (CR access, INVD): go straight back */
    }
}

/* SDM Vol.3C 29.4.3.1: translations derived from the EPT are tagged by
 * the EPTP and survive until INVEPT. INVEPT acts on the CPU that executes
 * it, so it is owed per vCPU and done before its next entry, on whatever
 * host CPU that is (one running elsewhere right now would also need an
 * IPI once hopvm runs guests on several host CPUs). */
static void vmx_flush_nested(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i] && vm->vcpus[i]->hw)
            ((struct vmx_vcpu *)vm->vcpus[i]->hw)->flush_ept = true;
}

#define EPT_DIRTY (1ull << 9) /* SDM Vol.3C 29.3.5, table 29-6: bit 9 of a leaf */
static uint64_t vmx_npt_dirty_bit(void) { return caps.ept_ad ? EPT_DIRTY : 0; }

static bool vmx_guest_rdtscp(void) { return caps.proc2 & PROC2_RDTSCP; }

const struct hv_backend vmx_backend = {
    .name = "VT-x (VMX + EPT)",
    .cpu_enable = vmx_cpu_enable,
    .vm_create = vmx_vm_create,
    .vm_destroy = vmx_vm_destroy,
    .vcpu_create = vmx_vcpu_create,
    .vcpu_destroy = vmx_vcpu_destroy,
    .vcpu_run = vmx_vcpu_run,
    .get_state = vmx_get_state,
    .set_state = vmx_set_state,
    .irq_allowed = vmx_irq_allowed,
    .nmi_allowed = vmx_nmi_allowed,
    .tsc_offset = vmx_tsc_offset,
    .guest_cr4_bits = vmx_guest_cr4_bits,
    .guest_rdtscp = vmx_guest_rdtscp,
    .npt_leaf = EPT_MEMTYPE_WB,
    .npt_dirty_bit = vmx_npt_dirty_bit,
    .flush_nested = vmx_flush_nested,
    .hw_log = vmx_pml,
    .hw_log_drain = vmx_pml_drain,
};
