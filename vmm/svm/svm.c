/* AMD-V backend (AMD APM Vol.2 chapter 15): enabling SVM, one VMCB per
 * vCPU, ASIDs, the run loop and #VMEXIT decoding into struct vm_exit.
 * This file and its neighbours are the only code that knows a VMCB. */
#include <hopvm/cpu.h>
#include <hopvm/cpuinfo.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nested_pt.h>
#include <hopvm/x86.h>
#include "svm_internal.h"
#include "vmcb.h"

#define MAX_ASIDS 256

struct svm_vcpu {
    struct vmcb *vmcb;
    uint32_t asid;
    bool used;
    /* The guest's NMI mask, which AMD-V without NMI virtualization does
     * not keep (APM 15.21.10): set when an NMI is injected, cleared once
     * the handler's IRET has run. IRET is intercepted meanwhile (APM 15.9);
     * the intercept comes before the IRET executes, so the mask clears at
     * the exit after it (KVM and Xen do likewise). */
    bool nmi_masked, iret_seen;
};

struct svm_vm {
    bool used;
};

static struct svm_vcpu vcpus_hw[CFG_MAX_VMS * CFG_MAX_VCPUS];
static struct svm_vm vms_hw[CFG_MAX_VMS];
static void *host_save;                /* VMSAVE area for the host's hidden state */
static uint8_t *iopm, *msrpm;          /* shared by all guests: one policy */
static const struct vcpu *asid_owner[MAX_ASIDS]; /* who last ran with each ASID */
static uint32_t asid_limit, asid_next = 1;
static bool nrips, flush_by_asid, decode_assists;

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static inline void clgi(void) { __asm__ volatile("clgi" ::: "memory"); }
static inline void stgi(void) { __asm__ volatile("stgi" ::: "memory"); }

/* APM 15.11: two bits per MSR (read, write) in three 2 KiB regions. */
static void msr_passthrough(uint32_t msr)
{
    uint32_t base;
    if (msr <= 0x1fff)
        base = 0;
    else if (msr >= 0xc0000000 && msr <= 0xc0001fff)
        base = 0x800, msr -= 0xc0000000;
    else
        base = 0x1000, msr -= 0xc0010000;
    uint32_t bit = msr * 2;
    msrpm[base + bit / 8] &= (uint8_t)~(3u << (bit % 8));
}

static int svm_cpu_enable(char *err, size_t n)
{
    const struct cpu_info *c = cpuinfo();
    if (!c->svm)
        return ksnprintf(err, n, "the CPU has no AMD-V"), -1;
    if (!c->svm_enabled)
        return ksnprintf(err, n, "AMD-V is disabled by the firmware (VM_CR.SVMDIS)"), -1;
    if (!c->npt)
        return ksnprintf(err, n, "the CPU has AMD-V but no nested paging"), -1;
    nrips = c->nrips;
    flush_by_asid = c->flush_by_asid;
    decode_assists = c->decode_assists;
    asid_limit = MIN(c->asid_count, (unsigned)MAX_ASIDS);
    if (asid_limit < 2)
        return ksnprintf(err, n, "the CPU offers no guest ASIDs"), -1;
    void *hsave = page_alloc(1, 0);
    host_save = page_alloc(1, 0);
    iopm = page_alloc(IOPM_SIZE / PAGE_SIZE, 0);
    msrpm = page_alloc(MSRPM_SIZE / PAGE_SIZE, 0);
    if (!hsave || !host_save || !iopm || !msrpm)
        return ksnprintf(err, n, "out of memory for SVM host areas"), -1;
    /* APM 15.4: EFER.SVME on, then the host save area for VMRUN. */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, pa(hsave));
    __asm__ volatile("vmsave %0" ::"a"(pa(host_save)) : "memory");
    /* Every port and every MSR is intercepted, except the MSRs whose guest
     * values VMRUN/VMLOAD/VMSAVE switch anyway (APM 15.5.2). */
    memset(iopm, 0xff, IOPM_SIZE);
    memset(msrpm, 0xff, MSRPM_SIZE);
    static const uint32_t passthrough[] = {
        0xc0000100, 0xc0000101, 0xc0000102,             /* FS/GS base, KernelGSBase */
        0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR, LSTAR, CSTAR, SFMASK */
        0x174, 0x175, 0x176,                            /* SYSENTER_CS/ESP/EIP */
    };
    for (size_t i = 0; i < ARRAY_SIZE(passthrough); i++)
        msr_passthrough(passthrough[i]);
    return 0;
}

static int svm_vm_create(struct vm *vm)
{
    struct svm_vm *s = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(vms_hw) && !s; i++)
        if (!vms_hw[i].used)
            s = &vms_hw[i];
    if (!s)
        return -1;
    s->used = true;
    vm->hw = s;
    return 0;
}

static void svm_vm_destroy(struct vm *vm)
{
    struct svm_vm *s = vm->hw;
    if (!s)
        return;
    s->used = false;
    vm->hw = NULL;
}

/* ASIDs are handed out round-robin; when two vCPUs share one, the
 * owner check in svm_vcpu_run flushes the TLB on every switch. */
static uint32_t asid_alloc(void)
{
    uint32_t a = asid_next;
    asid_next = asid_next + 1 >= asid_limit ? 1 : asid_next + 1;
    return a;
}

static int svm_vcpu_create(struct vcpu *v)
{
    struct svm_vcpu *s = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(vcpus_hw) && !s; i++)
        if (!vcpus_hw[i].used)
            s = &vcpus_hw[i];
    if (!s || !v->vm->hw)
        return -1;
    s->vmcb = page_alloc(1, 0);
    if (!s->vmcb)
        return -1;
    s->used = true;
    s->asid = asid_alloc();
    struct vmcb_control *c = &s->vmcb->ctl;
    c->intercept_misc1 = INTERCEPT_INTR | INTERCEPT_NMI | INTERCEPT_CPUID | INTERCEPT_INVD |
                         INTERCEPT_HLT | INTERCEPT_INVLPGA | INTERCEPT_IOIO_PROT |
                         INTERCEPT_MSR_PROT | INTERCEPT_SHUTDOWN;
    /* APM 15.5.1: VMRUN must be intercepted; the other SVM instructions
     * are too, so a guest that tries them gets #UD, as on a CPU without SVM. */
    c->intercept_misc2 = INTERCEPT_VMRUN | INTERCEPT_VMMCALL | INTERCEPT_VMLOAD | INTERCEPT_VMSAVE |
                         INTERCEPT_STGI | INTERCEPT_CLGI | INTERCEPT_SKINIT | INTERCEPT_MONITOR |
                         INTERCEPT_MWAIT | INTERCEPT_MWAIT_CND | INTERCEPT_XSETBV;
    /* Every CR4 write exits (APM 15.9, CR intercepts), so the core checks
     * it against the guest's CPUID: a guest must not turn on a feature
     * hopvm hides. XSETBV is intercepted (APM table B-1, vector 4 bit 13):
     * VMRUN does not switch XCR0, so the core checks the value and keeps
     * it as the vCPU's (vmm/fpu.c loads it before each VMRUN). */
    c->intercept_cr = INTERCEPT_CR4_WRITE;
    c->iopm_base_pa = pa(iopm);
    c->msrpm_base_pa = pa(msrpm);
    c->asid = s->asid;
    c->tlb_control = TLB_CONTROL_ALL;
    /* Host interrupts stay host interrupts: with V_INTR_MASKING the guest's
     * RFLAGS.IF masks only virtual interrupts (APM 15.21.1). */
    c->int_ctl = V_INTR_MASKING;
    c->np_control = NP_ENABLE;
    c->n_cr3 = pa(v->vm->npt);
    s->vmcb->save.g_pat = PAT_DEFAULT;
    v->hw = s;
    fpu_init(v);
    return 0;
}

static void svm_vcpu_destroy(struct vcpu *v)
{
    struct svm_vcpu *s = v->hw;
    if (!s)
        return;
    if (asid_owner[s->asid] == v)
        asid_owner[s->asid] = NULL;
    fpu_forget(v);
    page_free(s->vmcb, 1);
    s->vmcb = NULL;
    s->used = false;
    v->hw = NULL;
}

static void seg_out(struct seg_state *d, const struct vmcb_seg *s)
{
    d->sel = s->sel, d->attr = s->attr, d->limit = s->limit, d->base = s->base;
}

static void seg_in(struct vmcb_seg *d, const struct seg_state *s)
{
    d->sel = s->sel, d->attr = s->attr, d->limit = s->limit, d->base = s->base;
}

static void svm_get_state(struct vcpu *v, struct vcpu_state *st)
{
    const struct vmcb *vm = ((struct svm_vcpu *)v->hw)->vmcb;
    const struct vmcb_save *s = &vm->save;
    memcpy(st->gpr, v->gpr, sizeof(st->gpr));
    st->rip = v->rip;
    st->rflags = v->rflags;
    seg_out(&st->es, &s->es), seg_out(&st->cs, &s->cs), seg_out(&st->ss, &s->ss);
    seg_out(&st->ds, &s->ds), seg_out(&st->fs, &s->fs), seg_out(&st->gs, &s->gs);
    seg_out(&st->ldtr, &s->ldtr), seg_out(&st->tr, &s->tr);
    st->gdtr.base = s->gdtr.base, st->gdtr.limit = s->gdtr.limit;
    st->idtr.base = s->idtr.base, st->idtr.limit = s->idtr.limit;
    st->cr0 = s->cr0, st->cr2 = s->cr2, st->cr3 = s->cr3, st->cr4 = s->cr4;
    st->efer = s->efer & ~EFER_SVME; /* SVME is the host's business */
    st->dr6 = s->dr6, st->dr7 = s->dr7, st->pat = s->g_pat;
    st->star = s->star, st->lstar = s->lstar, st->cstar = s->cstar, st->sfmask = s->sfmask;
    st->kernel_gs_base = s->kernel_gs_base;
    st->sysenter_cs = s->sysenter_cs, st->sysenter_esp = s->sysenter_esp, st->sysenter_eip = s->sysenter_eip;
    st->tsc_offset = vm->ctl.tsc_offset;
    /* APM 15.5.1: the CPL is the VMCB's; SS.DPL may be stale after SYSRET. */
    st->ss.attr = (uint16_t)((st->ss.attr & ~(3u << 5)) | (uint16_t)((s->cpl & 3) << 5));
    svm_intr_out(v, vm, st); /* the interrupt shadow and NMI blocking */
    st->event = v->pending;
}

static void svm_set_state(struct vcpu *v, const struct vcpu_state *st)
{
    struct vmcb *vm = ((struct svm_vcpu *)v->hw)->vmcb;
    struct vmcb_save *s = &vm->save;
    /* New paging controls (an emulated MOV to CR4, a WRMSR to EFER, a
     * restored state) owe the guest's ASID a flush: the hardware flushed
     * nothing, as the guest's own MOV would have (SDM Vol.3A 4.10.4.1). */
    if (s->cr0 != st->cr0 || s->cr3 != st->cr3 || s->cr4 != st->cr4 ||
        (s->efer & ~EFER_SVME) != (st->efer & ~EFER_SVME))
        vm->ctl.tlb_control = flush_by_asid ? TLB_CONTROL_ASID : TLB_CONTROL_ALL;
    memcpy(v->gpr, st->gpr, sizeof(v->gpr));
    v->rip = st->rip;
    s->rip = st->rip; /* with the shadow below: the state's own, not one to clear (svm_vcpu_run) */
    v->rflags = st->rflags | RFLAGS_FIXED;
    seg_in(&s->es, &st->es), seg_in(&s->cs, &st->cs), seg_in(&s->ss, &st->ss);
    seg_in(&s->ds, &st->ds), seg_in(&s->fs, &st->fs), seg_in(&s->gs, &st->gs);
    seg_in(&s->ldtr, &st->ldtr), seg_in(&s->tr, &st->tr);
    s->gdtr.base = st->gdtr.base, s->gdtr.limit = st->gdtr.limit;
    s->idtr.base = st->idtr.base, s->idtr.limit = st->idtr.limit;
    s->cpl = (st->ss.attr >> 5) & 3; /* APM 15.5.1: CPL is SS.DPL */
    s->cr0 = st->cr0, s->cr2 = st->cr2, s->cr3 = st->cr3, s->cr4 = st->cr4;
    s->efer = st->efer | EFER_SVME; /* APM 15.5.1: VMRUN requires it */
    s->dr6 = st->dr6, s->dr7 = st->dr7, s->g_pat = st->pat;
    s->star = st->star, s->lstar = st->lstar, s->cstar = st->cstar, s->sfmask = st->sfmask;
    s->kernel_gs_base = st->kernel_gs_base;
    s->sysenter_cs = st->sysenter_cs, s->sysenter_esp = st->sysenter_esp, s->sysenter_eip = st->sysenter_eip;
    vm->ctl.tsc_offset = st->tsc_offset;
    svm_intr_in(v, vm, st);
    v->pending = st->event;
}

/* How each intercepted exit code maps to the neutral reason, and the
 * instruction's length for CPUs without NRIP save (APM 15.7.1), where
 * the VMCB has no next RIP: these instructions have fixed encodings. */
struct exit_map {
    uint8_t reason;
    uint8_t len;
};
static const struct exit_map exit_map[0x100] = {
    [SVM_EXIT_INTR] = {EXIT_INTR, 0},       [SVM_EXIT_NMI] = {EXIT_NMI, 0},
    [SVM_EXIT_VINTR] = {EXIT_IRQ_WINDOW, 0},
    [SVM_EXIT_SMI] = {EXIT_INTR, 0},        [SVM_EXIT_CPUID] = {EXIT_CPUID, 2},
    [SVM_EXIT_HLT] = {EXIT_HLT, 1},         [SVM_EXIT_IOIO] = {EXIT_IO, 0},
    [SVM_EXIT_MSR] = {EXIT_MSR_READ, 2},    [SVM_EXIT_SHUTDOWN] = {EXIT_SHUTDOWN, 0},
    [SVM_EXIT_VMMCALL] = {EXIT_HYPERCALL, 3},
    [SVM_EXIT_VMRUN] = {EXIT_VIRT_INSN, 3}, [SVM_EXIT_VMLOAD] = {EXIT_VIRT_INSN, 3},
    [SVM_EXIT_VMSAVE] = {EXIT_VIRT_INSN, 3}, [SVM_EXIT_STGI] = {EXIT_VIRT_INSN, 3},
    [SVM_EXIT_CLGI] = {EXIT_VIRT_INSN, 3},  [SVM_EXIT_SKINIT] = {EXIT_VIRT_INSN, 3},
    [SVM_EXIT_INVLPGA] = {EXIT_VIRT_INSN, 3}, [SVM_EXIT_MONITOR] = {EXIT_VIRT_INSN, 3},
    [SVM_EXIT_MWAIT] = {EXIT_VIRT_INSN, 3}, [SVM_EXIT_MWAIT_CND] = {EXIT_VIRT_INSN, 3},
    [SVM_EXIT_XSETBV] = {EXIT_XSETBV, 3},
    /* MOV to CR4 takes a ModRM and optional prefixes: the core decodes it. */
    [SVM_EXIT_CR4_WRITE] = {EXIT_CR_WRITE, 0},
};

/* APM Vol.2 15.5.1: the VMRUN consistency checks, to name the one that
 * failed instead of a bare VMEXIT_INVALID. */
static const char *svm_invalid_state(const struct vmcb_save *s)
{
    bool long_mode = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
    if (!(s->efer & EFER_SVME))
        return "VMRUN failed: guest EFER.SVME is clear (APM 15.5.1)";
    if ((s->cr0 & (1ull << 30)) == 0 && (s->cr0 & (1ull << 29)))
        return "VMRUN failed: guest CR0.NW set with CR0.CD clear (APM 15.5.1)";
    if (s->cr0 >> 32)
        return "VMRUN failed: guest CR0[63:32] not zero (APM 15.5.1)";
    if (long_mode && !(s->cr4 & CR4_PAE))
        return "VMRUN failed: EFER.LME and CR0.PG without CR4.PAE (APM 15.5.1)";
    if (long_mode && (s->cs.attr & SEG_ATTR_L) && (s->cs.attr & SEG_ATTR_DB))
        return "VMRUN failed: EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set (APM 15.5.1)";
    if (long_mode && !(s->cr0 & CR0_PE))
        return "VMRUN failed: EFER.LME and CR0.PG without CR0.PE (APM 15.5.1)";
    return "VMRUN failed: invalid guest state (a check of APM 15.5.1 hopvm does not decode)";
}

static void decode(struct vcpu *v, const struct vmcb *vm, struct vm_exit *e)
{
    const struct vmcb_control *c = &vm->ctl;
    memset(e, 0, sizeof(*e));
    e->vendor_code = c->exitcode;
    e->info1 = c->exitinfo1;
    e->info2 = c->exitinfo2;
    if (c->exitcode == SVM_EXIT_NPF) {
        e->reason = EXIT_MMIO;
        e->u.mmio.gpa = c->exitinfo2;
        e->u.mmio.write = c->exitinfo1 & NPF_WRITE;
        e->u.mmio.fetch = c->exitinfo1 & NPF_FETCH;
        e->u.mmio.walk = c->exitinfo1 & NPF_GUEST_WALK;
        return;
    }
    /* VMEXIT_INVALID is -1; QEMU stores it as a 32-bit value. */
    if ((uint32_t)c->exitcode == (uint32_t)SVM_EXIT_INVALID) {
        e->reason = EXIT_ENTRY_FAILED;
        e->detail = svm_invalid_state(&vm->save);
        return;
    }
    const struct exit_map *m = c->exitcode < ARRAY_SIZE(exit_map) ? &exit_map[c->exitcode] : NULL;
    e->reason = m && m->reason ? m->reason : EXIT_UNHANDLED;
    e->insn_len = m ? m->len : 0;
    if (nrips && c->next_rip > vm->save.rip && c->next_rip - vm->save.rip <= 15)
        e->insn_len = (uint8_t)(c->next_rip - vm->save.rip);
    switch (c->exitcode) {
    case SVM_EXIT_IOIO: {
        uint32_t i = (uint32_t)c->exitinfo1;
        e->u.io.port = (uint16_t)(i >> IOIO_PORT_SHIFT);
        e->u.io.size = (i & IOIO_SZ32) ? 4 : (i & IOIO_SZ16) ? 2 : 1;
        e->u.io.in = i & IOIO_IN;
        e->u.io.string = i & IOIO_STR;
        e->u.io.rep = i & IOIO_REP;
        /* APM 15.10.2: address size in bits 7-9, segment in bits 10-12.
         * QEMU's TCG leaves the size bits clear: 0 tells the core to
         * derive it from the guest's mode. */
        e->u.io.addr_size = (i & IOIO_A64) ? 8 : (i & IOIO_A32) ? 4 : (i & IOIO_A16) ? 2 : 0;
        e->u.io.seg = (i >> IOIO_SEG_SHIFT) & 7;
        /* APM 15.10.2: EXITINFO2 holds the next RIP, with or without NRIPS. */
        e->insn_len = (uint8_t)(c->exitinfo2 - vm->save.rip);
        break;
    }
    case SVM_EXIT_MSR:
        e->reason = c->exitinfo1 ? EXIT_MSR_WRITE : EXIT_MSR_READ;
        e->u.msr = (uint32_t)v->gpr[GPR_RCX];
        break;
    case SVM_EXIT_CR4_WRITE:
        /* Without decode assists (QEMU, Bochs) only the CR is known. */
        e->u.cr.cr = 4;
        e->u.cr.gpr = decode_assists && (c->exitinfo1 & CR_INFO_MOV) ? (uint8_t)(c->exitinfo1 & CR_INFO_GPR_MASK)
                                                                      : CR_GPR_UNKNOWN;
        break;
    default:
        break;
    }
}

static uint64_t event_bits(const struct vcpu_event *ev)
{
    static const uint8_t type[] = {
        [EVENT_EXCEPTION] = EVTINJ_TYPE_EXC, [EVENT_EXTINT] = EVTINJ_TYPE_INTR,
        [EVENT_NMI] = EVTINJ_TYPE_NMI, [EVENT_SOFTINT] = EVTINJ_TYPE_SOFT,
    };
    uint64_t b = ev->vector | ((uint64_t)type[ev->type] << EVTINJ_TYPE_SHIFT) | EVTINJ_VALID;
    if (ev->has_error)
        b |= EVTINJ_ERR_VALID | ((uint64_t)ev->error << 32);
    return b;
}

/* APM 15.7.2: an event that was being delivered when the exit happened
 * is in EXITINTINFO and must be injected again. */
static void requeue_event(struct vcpu *v, uint64_t info)
{
    static const uint8_t type[8] = {
        [EVTINJ_TYPE_INTR] = EVENT_EXTINT, [EVTINJ_TYPE_NMI] = EVENT_NMI,
        [EVTINJ_TYPE_EXC] = EVENT_EXCEPTION, [EVTINJ_TYPE_SOFT] = EVENT_SOFTINT,
    };
    if (!(info & EVTINJ_VALID) || v->pending.type != EVENT_NONE)
        return;
    v->pending.type = type[(info >> EVTINJ_TYPE_SHIFT) & 7];
    v->pending.vector = (uint8_t)info;
    v->pending.has_error = (info & EVTINJ_ERR_VALID) != 0;
    v->pending.error = (uint32_t)(info >> 32);
    if (v->pending.type == EVENT_NMI)
        svm_nmi_mask_set(v, false); /* not delivered: the mask comes with its delivery */
}

/* The guest's TPR and the interrupt window (APM 15.21.1, 15.21.4). With
 * V_INTR_MASKING the guest's MOV to/from CR8 uses V_TPR, which is kept as
 * the local APIC's TPR[7:4]. For the window hopvm sets a virtual interrupt
 * of the highest priority that ignores the TPR and intercepts its
 * delivery (VINTR): the exit comes exactly when the guest could take an
 * interrupt; the real vector is then injected through EVENTINJ. */
static void intr_in(struct vcpu *v, struct vmcb_control *c)
{
    c->int_ctl &= ~(V_TPR_MASK | V_IRQ | V_INTR_PRIO_MASK | V_IGN_TPR);
    c->int_ctl |= (v->lapic.tpr >> V_TPR_SHIFT) & V_TPR_MASK;
    if (v->irq_window) {
        c->int_ctl |= V_IRQ | V_IGN_TPR | V_INTR_PRIO_MASK;
        c->intercept_misc1 |= INTERCEPT_VINTR;
    } else {
        c->intercept_misc1 &= ~INTERCEPT_VINTR;
    }
}

static void intr_out(struct vcpu *v, struct vmcb_control *c)
{
    uint32_t tpr = (uint32_t)(c->int_ctl & V_TPR_MASK) << V_TPR_SHIFT;
    if ((v->lapic.tpr & (V_TPR_MASK << V_TPR_SHIFT)) != tpr)
        v->lapic.tpr = tpr; /* the guest wrote CR8 */
    c->int_ctl &= ~V_IRQ;
}

static uint64_t svm_tsc_offset(struct vcpu *v) { return ((struct svm_vcpu *)v->hw)->vmcb->ctl.tsc_offset; }

static bool svm_irq_allowed(struct vcpu *v)
{
    const struct vmcb *vm = ((struct svm_vcpu *)v->hw)->vmcb;
    bool shadow = (vm->ctl.int_state & INT_STATE_SHADOW) && vm->save.rip == v->rip; /* see svm_vcpu_run */
    return (v->rflags & RFLAGS_IF) && !shadow;
}

static bool svm_nmi_allowed(struct vcpu *v)
{
    const struct svm_vcpu *s = v->hw;
    bool shadow = (s->vmcb->ctl.int_state & INT_STATE_SHADOW) && s->vmcb->save.rip == v->rip;
    return !s->nmi_masked && !shadow;
}

void svm_nmi_mask_set(struct vcpu *v, bool masked)
{
    struct svm_vcpu *s = v->hw;
    s->nmi_masked = masked;
    s->iret_seen = false;
}

bool svm_nmi_mask_get(const struct vcpu *v) { return ((const struct svm_vcpu *)v->hw)->nmi_masked; }

static void svm_vcpu_run(struct vcpu *v, struct vm_exit *e)
{
    struct svm_vcpu *s = v->hw;
    struct vmcb *vm = s->vmcb;
    for (;;) {
        /* An emulated instruction (RIP moved on since the exit) ends the
         * STI / MOV SS shadow it sat in, as executing it would have (SDM
         * Vol.3A 6.8.3; KVM does the same). */
        if (vm->save.rip != v->rip)
            vm->ctl.int_state &= ~INT_STATE_SHADOW;
        intr_in(v, &vm->ctl);
        vm->save.rax = v->gpr[GPR_RAX];
        vm->save.rsp = v->gpr[GPR_RSP];
        vm->save.rip = v->rip;
        vm->save.rflags = v->rflags;
        vm->ctl.eventinj = 0;
        if (v->pending.type != EVENT_NONE) {
            vm->ctl.eventinj = event_bits(&v->pending);
            if (v->pending.type == EVENT_NMI)
                svm_nmi_mask_set(v, true);
            v->pending.type = EVENT_NONE;
        }
        if (s->nmi_masked)
            vm->ctl.intercept_misc1 |= INTERCEPT_IRET;
        else
            vm->ctl.intercept_misc1 &= ~INTERCEPT_IRET;
        /* A TLB entry tagged with this ASID may belong to another vCPU
         * that used it last: flush it (APM 15.16). */
        if (asid_owner[s->asid] != v) {
            vm->ctl.tlb_control = flush_by_asid ? TLB_CONTROL_ASID : TLB_CONTROL_ALL;
            asid_owner[s->asid] = v;
        }
        fpu_switch(v);
        msr_load_guest(v);
        cli();
        clgi();
        sti(); /* GIF=0 holds interrupts until VMRUN; in the guest they exit */
        svm_vmrun(pa(vm), v->gpr, pa(host_save));
        cli();
        stgi();
        vm->ctl.tlb_control = TLB_CONTROL_NONE;
        v->gpr[GPR_RAX] = vm->save.rax;
        v->gpr[GPR_RSP] = vm->save.rsp;
        v->rip = vm->save.rip;
        v->rflags = vm->save.rflags;
        requeue_event(v, vm->ctl.exitintinfo);
        intr_out(v, &vm->ctl);
        if (s->iret_seen) /* the handler's IRET has run since its intercept */
            svm_nmi_mask_set(v, false);
        /* Without CR4.OSXSAVE the guest cannot have run XSETBV: no read-back. */
        const char *xcr0_bad = (vm->save.cr4 & CR4_OSXSAVE) ? fpu_xcr0_after_exit(v) : NULL;
        sti(); /* a host interrupt that ended the run is taken here */
        if (xcr0_bad) {
            memset(e, 0, sizeof(*e));
            e->reason = EXIT_XCR0_UNTRAPPED;
            e->detail = xcr0_bad;
            return;
        }
        if (vm->ctl.exitcode == SVM_EXIT_IRET) {
            s->iret_seen = true; /* it runs when we go back in */
            continue;
        }
        if (vm->ctl.exitcode == SVM_EXIT_INVD) {
            /* INVD would drop dirty host cache lines; doing nothing is the
             * safe equivalent for a guest (APM 15.10). */
            v->rip += 2;
            continue;
        }
        decode(v, vm, e);
        return;
    }
}

/* APM 15.16.1: TLB_CONTROL flushes the ASID's entries, nested ones
 * included, at the next VMRUN of that vCPU; a vCPU sharing its ASID with
 * another guest's is flushed on every switch anyway (svm_vcpu_run). Kept
 * per vCPU, so a vCPU on another host CPU would take it at its next entry;
 * one running there right now would also need an IPI (host SMP). */
static void svm_flush_nested(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        struct svm_vcpu *s = vm->vcpus[i] ? vm->vcpus[i]->hw : NULL;
        if (s && s->vmcb)
            s->vmcb->ctl.tlb_control = flush_by_asid ? TLB_CONTROL_ASID : TLB_CONTROL_ALL;
    }
}

const struct hv_backend svm_backend = {
    .name = "AMD-V (SVM + NPT)",
    .cpu_enable = svm_cpu_enable,
    .vm_create = svm_vm_create,
    .vm_destroy = svm_vm_destroy,
    .vcpu_create = svm_vcpu_create,
    .vcpu_destroy = svm_vcpu_destroy,
    .vcpu_run = svm_vcpu_run,
    .get_state = svm_get_state,
    .set_state = svm_set_state,
    .irq_allowed = svm_irq_allowed,
    .nmi_allowed = svm_nmi_allowed,
    .tsc_offset = svm_tsc_offset,
    .npt_leaf = 0,
    /* AMD CPUs set D in nested leaves too (QEMU does, see the emulation
     * notes), but the dirty log write-protects on AMD-V: one way for every
     * AMD CPU, and no scan of every leaf per round. */
    .npt_dirty_bit = NULL,
    .flush_nested = svm_flush_nested,
};
