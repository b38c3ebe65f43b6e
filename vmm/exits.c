/* Exit handlers, vendor-neutral, dispatched by a table indexed by the
 * named reason (the Jailhouse pattern: each handler returns false when the
 * guest cannot go on, and one fatal path records why). */
#include <hopvm/hv.h>
#include <hopvm/guest_mem.h>
#include <hopvm/insn.h>
#include <hopvm/lib.h>
#include <hopvm/mmio.h>
#include <hopvm/vcpu_check.h>
#include <hopvm/vm.h>

#define CPUID_LEAF_FEATURES 1
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define XCR_XCR0 0
#define HYPERCALL_ENOSYS ((uint64_t)-38) /* unknown call, as KVM answers */

const char *const exit_reason_names[EXIT_REASON_COUNT] = {
    [EXIT_NONE] = "none",           [EXIT_IO] = "io",
    [EXIT_MMIO] = "npf/mmio",       [EXIT_CPUID] = "cpuid",
    [EXIT_MSR_READ] = "rdmsr",      [EXIT_MSR_WRITE] = "wrmsr",
    [EXIT_HLT] = "hlt",             [EXIT_SHUTDOWN] = "shutdown",
    [EXIT_INTR] = "intr",           [EXIT_NMI] = "nmi",
    [EXIT_HYPERCALL] = "hypercall", [EXIT_VIRT_INSN] = "svm/vmx insn",
    [EXIT_ENTRY_FAILED] = "entry failed", [EXIT_UNHANDLED] = "unhandled",
    [EXIT_DIRTY] = "dirty-log write", [EXIT_CR_WRITE] = "cr write",
    [EXIT_XSETBV] = "xsetbv",       [EXIT_XCR0_UNTRAPPED] = "xcr0 untrapped",
    [EXIT_IRQ_WINDOW] = "irq window",
};

static void inject_exception(struct vcpu *v, uint8_t vector, bool has_error, uint32_t error)
{
    v->pending = (struct vcpu_event){.type = EVENT_EXCEPTION, .vector = vector,
                                     .has_error = has_error, .error = error};
}

static bool skip(struct vcpu *v, const struct vm_exit *e)
{
    if (!e->insn_len) {
        v->fail = "exit without an instruction length";
        return false;
    }
    v->rip += e->insn_len;
    return true;
}

/* Writes an IN result into AL/AX/EAX (SDM Vol.2A IN: a 32-bit result zero-
 * extends to RAX; 8- and 16-bit results leave the upper bits alone). */
static void set_acc(struct vcpu *v, unsigned size, uint32_t val)
{
    uint64_t *rax = &v->gpr[GPR_RAX];
    if (size == 4)
        *rax = val;
    else if (size == 2)
        *rax = (*rax & ~0xffffull) | (val & 0xffff);
    else
        *rax = (*rax & ~0xffull) | (val & 0xff);
}

#define STRING_IO_BATCH 4096 /* elements per exit; REP resumes where it stopped */
#define RFLAGS_DF (1ull << 10)

static const struct seg_state *seg_by_index(const struct vcpu_state *s, unsigned i)
{
    const struct seg_state *segs[6] = {&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs};
    return segs[i < 6 ? i : 3];
}

/* INS/OUTS, with or without REP (SDM Vol.2A INS, OUTS): each element goes
 * through the device; RSI/RDI move by the element size in the direction of
 * RFLAGS.DF; RCX counts down under REP. */
static bool handle_string_io(struct vcpu *v, struct vm_exit *e)
{
    struct vcpu_state s;
    hv()->get_state(v, &s);
    unsigned size = e->u.io.size;
    unsigned asz = e->u.io.addr_size;
    if (!asz) /* not reported: the mode's default (no 67h prefix assumed) */
        asz = ((s.efer & EFER_LMA) && (s.cs.attr & SEG_ATTR_L)) ? 8 : (s.cs.attr & SEG_ATTR_DB) ? 4 : 2;
    uint64_t amask = asz == 8 ? ~0ull : asz == 4 ? 0xffffffffull : 0xffffull;
    uint64_t *cnt = &v->gpr[GPR_RCX];
    uint64_t *ptr = &v->gpr[e->u.io.in ? GPR_RDI : GPR_RSI];
    /* INS always writes ES:RDI; OUTS reads DS:RSI or its override. */
    const struct seg_state *seg = e->u.io.in ? &s.es : seg_by_index(&s, e->u.io.seg);
    uint64_t base = (s.efer & EFER_LMA) && (s.cs.attr & SEG_ATTR_L) && seg != &s.fs && seg != &s.gs ? 0 : seg->base;
    int64_t step = (v->rflags & RFLAGS_DF) ? -(int64_t)size : (int64_t)size;
    uint64_t todo = e->u.io.rep ? (*cnt & amask) : 1;
    for (uint64_t k = 0; k < todo && k < STRING_IO_BATCH; k++) {
        uint32_t val = 0;
        uint64_t la = base + (*ptr & amask);
        if (e->u.io.in) {
            io_dispatch(v, e->u.io.port, size, false, &val);
            if (guest_write(v, &s, la, &val, size) != 0)
                return true; /* #PF injected; RIP stays on the instruction */
        } else {
            if (guest_read(v, &s, la, &val, size) != 0)
                return true;
            io_dispatch(v, e->u.io.port, size, true, &val);
        }
        *ptr = (*ptr & ~amask) | ((*ptr + (uint64_t)step) & amask);
        if (e->u.io.rep)
            *cnt = (*cnt & ~amask) | ((*cnt - 1) & amask);
    }
    if (e->u.io.rep && (*cnt & amask))
        return true; /* not done: re-execute the instruction for the rest */
    return skip(v, e);
}

static bool handle_io(struct vcpu *v, struct vm_exit *e)
{
    if (e->u.io.string)
        return handle_string_io(v, e);
    uint32_t mask = 0xffffffffu >> (32 - 8 * e->u.io.size);
    uint32_t val = e->u.io.in ? 0 : (uint32_t)v->gpr[GPR_RAX] & mask;
    io_dispatch(v, e->u.io.port, e->u.io.size, !e->u.io.in, &val);
    if (e->u.io.in)
        set_acc(v, e->u.io.size, val & mask);
    return skip(v, e);
}

static bool handle_cpuid(struct vcpu *v, struct vm_exit *e)
{
    uint32_t r[4];
    uint32_t leaf = (uint32_t)v->gpr[GPR_RAX];
    cpuid_policy(v, leaf, (uint32_t)v->gpr[GPR_RCX], r);
    /* CPUID.1:ECX.OSXSAVE mirrors CR4.OSXSAVE (SDM Vol.2A CPUID, table
     * 3-10): the guest's, not the host's. */
    if (leaf == CPUID_LEAF_FEATURES) {
        struct vcpu_state s;
        hv()->get_state(v, &s);
        if (s.cr4 & CR4_OSXSAVE)
            r[2] |= CPUID1_ECX_OSXSAVE;
    }
    v->gpr[GPR_RAX] = r[0];
    v->gpr[GPR_RBX] = r[1];
    v->gpr[GPR_RCX] = r[2];
    v->gpr[GPR_RDX] = r[3];
    return skip(v, e);
}

static bool handle_rdmsr(struct vcpu *v, struct vm_exit *e)
{
    uint64_t val;
    if (!msr_read(v, e->u.msr, &val)) {
        inject_exception(v, EXC_GP, true, 0);
        return true;
    }
    v->gpr[GPR_RAX] = (uint32_t)val;
    v->gpr[GPR_RDX] = val >> 32;
    return skip(v, e);
}

static bool handle_wrmsr(struct vcpu *v, struct vm_exit *e)
{
    uint64_t val = (v->gpr[GPR_RDX] << 32) | (uint32_t)v->gpr[GPR_RAX];
    if (!msr_write(v, e->u.msr, val)) {
        inject_exception(v, EXC_GP, true, 0);
        return true;
    }
    return skip(v, e);
}

static bool handle_hlt(struct vcpu *v, struct vm_exit *e)
{
    /* The vCPU sleeps until an event ends the HLT (vmm/irq.c, irq_wake;
     * the scheduler asks) or, for guests that poll with interrupts off,
     * its UART gets input (vmm/dev/uart.c wakes it). */
    v->halted = true;
    return skip(v, e);
}

static bool handle_shutdown(struct vcpu *v, struct vm_exit *e)
{
    (void)e;
    v->fail = "triple fault (shutdown)";
    return false;
}

static bool handle_mmio(struct vcpu *v, struct vm_exit *e)
{
    if (e->u.mmio.fetch || e->u.mmio.walk) {
        /* Code outside RAM, or page tables there: nothing to run or to
         * walk (an MMIO emulation of the access would be wrong). */
        static char why[96];
        ksnprintf(why, sizeof(why), "%s outside its memory at guest-physical 0x%lx",
                  e->u.mmio.walk ? "page tables" : "instruction fetch", e->u.mmio.gpa);
        v->fail = why;
        return false;
    }
    const char *err;
    if (mmio_handle(v, e->u.mmio.gpa, &err))
        return true;
    v->fail = err;
    return false;
}

/* A write to RAM the dirty log write-protected (vmm/dirty.c): the page is
 * marked and writable again, and the instruction is retried. */
static bool handle_dirty(struct vcpu *v, struct vm_exit *e)
{
    if (dirty_write_fault(v->vm, e->u.mmio.gpa))
        return true;
    static char why[96];
    ksnprintf(why, sizeof(why), "nested page fault on its own RAM at guest-physical 0x%lx (qualification 0x%lx)",
              e->u.mmio.gpa, e->info1);
    v->fail = why;
    return false;
}

static bool handle_nothing(struct vcpu *v, struct vm_exit *e)
{
    (void)v, (void)e; /* the host interrupt was serviced on the way out */
    return true;
}

static bool handle_hypercall(struct vcpu *v, struct vm_exit *e)
{
    v->gpr[GPR_RAX] = HYPERCALL_ENOSYS; /* no hypercalls are defined yet */
    return skip(v, e);
}

static bool handle_virt_insn(struct vcpu *v, struct vm_exit *e)
{
    (void)e;
    inject_exception(v, EXC_UD, false, 0); /* as on a CPU without SVM/VMX */
    return true;
}

static enum cpu_mode guest_mode(const struct vcpu_state *s)
{
    if ((s->efer & EFER_LMA) && (s->cs.attr & SEG_ATTR_L))
        return MODE_64;
    return (s->cs.attr & SEG_ATTR_DB) ? MODE_32 : MODE_16;
}

/* The instruction at CS:RIP, through the guest's paging: as many of its
 * at most 15 bytes as are mapped (it may end before an unmapped page). */
static size_t fetch_insn(struct vcpu *v, const struct vcpu_state *s, uint8_t b[INSN_MAX_LEN])
{
    uint64_t la = (guest_mode(s) == MODE_64 ? 0 : s->cs.base) + s->rip;
    size_t in_page = MIN((size_t)INSN_MAX_LEN, (size_t)(PAGE_SIZE - (la & (PAGE_SIZE - 1))));
    if (guest_peek(v, s, la, b, in_page) != 0)
        return 0;
    if (in_page < INSN_MAX_LEN && guest_peek(v, s, la + in_page, b + in_page, INSN_MAX_LEN - in_page) == 0)
        return INSN_MAX_LEN;
    return in_page;
}

static unsigned cpl_of(const struct vcpu_state *s)
{
    return (s->ss.attr >> 5) & 3; /* SS.DPL is the CPL (APM 15.5.1, SDM 26.3.1.2) */
}

/* Checks a MOV to CR4 as the CPU would if CR4 had only the bits the guest's
 * CPUID offers (SDM Vol.2B MOV—Move to/from Control Registers, Vol.3A 2.5;
 * APM Vol.2 3.1.3): #GP(0) outside ring 0, for a bit of a hidden feature or
 * a reserved one (vmm/cpuid.c decides which), and for clearing PAE in IA-32e
 * mode. Outside 64-bit mode the source is 32 bits wide. */
static bool cr4_write_ok(struct vcpu *v, const struct vcpu_state *s, uint64_t val)
{
    if (cpl_of(s) != 0 || (val & ~cpuid_cr4_allowed(v)))
        return false;
    if ((s->efer & EFER_LMA) && !(val & CR4_PAE))
        return false;
    return true;
}

/* An intercepted MOV to CR4 (AMD-V intercepts every CR4 write; VT-x exits
 * for the bits in the CR4 guest/host mask). The backend names the source
 * register when the CPU tells it (VT-x, AMD decode assists); otherwise the
 * instruction is fetched and decoded here, as for MMIO. A valid value is
 * loaded through set_state, which owes the guest a TLB flush for it (the
 * intercepted MOV did not flush, SDM Vol.3A 4.10.4.1). */
static bool handle_cr_write(struct vcpu *v, struct vm_exit *e)
{
    static char why[128];
    struct vcpu_state s;
    hv()->get_state(v, &s);
    uint8_t gpr = e->u.cr.gpr;
    if (gpr == CR_GPR_UNKNOWN || !e->insn_len) {
        uint8_t b[INSN_MAX_LEN];
        struct cr_insn in;
        const char *err;
        size_t got = fetch_insn(v, &s, b);
        if (insn_decode_mov_cr(b, got, guest_mode(&s), &in, &err) != 0 || in.cr != e->u.cr.cr) {
            ksnprintf(why, sizeof(why), "CR%u write exit, but the instruction at 0x%lx is not MOV to CR%u",
                      e->u.cr.cr, s.rip, e->u.cr.cr);
            v->fail = why;
            return false;
        }
        gpr = in.gpr;
        if (!e->insn_len)
            e->insn_len = in.len;
    }
    if (e->u.cr.cr != 4 || gpr >= GPR_COUNT) {
        ksnprintf(why, sizeof(why), "unexpected write to CR%u", e->u.cr.cr);
        v->fail = why;
        return false;
    }
    uint64_t val = v->gpr[gpr];
    if (guest_mode(&s) != MODE_64)
        val = (uint32_t)val;
    if (!cr4_write_ok(v, &s, val)) {
        inject_exception(v, EXC_GP, true, 0);
        return true;
    }
    s.cr4 = val;
    hv()->set_state(v, &s);
    return skip(v, e);
}

/* XSETBV (SDM Vol.2C XSETBV; AMD-V intercepts it, VT-x always exits),
 * with the checks the instruction makes: #UD while CR4.OSXSAVE is clear;
 * #GP(0) outside ring 0, for an XCR other than 0, or for a value XCR0 may
 * not hold or this host does not offer (the guest's CPUID leaf 0DH). The
 * value is the vCPU's from here on: vmm/fpu.c loads it before each entry. */
static bool handle_xsetbv(struct vcpu *v, struct vm_exit *e)
{
    struct vcpu_state s;
    hv()->get_state(v, &s);
    if (!(s.cr4 & CR4_OSXSAVE)) {
        inject_exception(v, EXC_UD, false, 0);
        return true;
    }
    uint64_t val = (uint32_t)v->gpr[GPR_RAX] | (uint64_t)(uint32_t)v->gpr[GPR_RDX] << 32;
    if (cpl_of(&s) != 0 || (uint32_t)v->gpr[GPR_RCX] != XCR_XCR0 ||
        vcpu_check_xcr0(val, fpu_xcr0_offered(), NULL, 0)) {
        inject_exception(v, EXC_GP, true, 0);
        return true;
    }
    v->xcr0 = val;
    return skip(v, e);
}

static bool handle_xcr0_untrapped(struct vcpu *v, struct vm_exit *e)
{
    v->fail = e->detail;
    return false;
}

static bool handle_entry_failed(struct vcpu *v, struct vm_exit *e)
{
    v->fail = e->detail ? e->detail : "the CPU refused the guest state (VM entry failed)";
    return false;
}

static bool (*const handlers[EXIT_REASON_COUNT])(struct vcpu *, struct vm_exit *) = {
    [EXIT_IO] = handle_io,
    [EXIT_MMIO] = handle_mmio,
    [EXIT_CPUID] = handle_cpuid,
    [EXIT_MSR_READ] = handle_rdmsr,
    [EXIT_MSR_WRITE] = handle_wrmsr,
    [EXIT_HLT] = handle_hlt,
    [EXIT_SHUTDOWN] = handle_shutdown,
    [EXIT_INTR] = handle_nothing,
    [EXIT_NMI] = handle_nothing,
    [EXIT_HYPERCALL] = handle_hypercall,
    [EXIT_VIRT_INSN] = handle_virt_insn,
    [EXIT_ENTRY_FAILED] = handle_entry_failed,
    [EXIT_DIRTY] = handle_dirty,
    [EXIT_CR_WRITE] = handle_cr_write,
    [EXIT_XSETBV] = handle_xsetbv,
    [EXIT_XCR0_UNTRAPPED] = handle_xcr0_untrapped,
    [EXIT_IRQ_WINDOW] = handle_nothing, /* vmm/irq.c injects at the next entry */
};

bool vcpu_handle_exit(struct vcpu *v, struct vm_exit *e)
{
    /* A nested fault inside RAM is never MMIO (devices live above RAM):
     * with dirty logging on it is the log's write protection. */
    if (e->reason == EXIT_MMIO && e->u.mmio.gpa < v->vm->ram_size)
        e->reason = EXIT_DIRTY;
    v->vm->exits[e->reason]++;
    v->fail = NULL;
    bool (*h)(struct vcpu *, struct vm_exit *) = handlers[e->reason];
    if (!h) {
        static char why[96];
        ksnprintf(why, sizeof(why), "unhandled exit (vendor code 0x%lx, info 0x%lx/0x%lx)",
                  e->vendor_code, e->info1, e->info2);
        v->fail = why;
        return false;
    }
    return h(v, e);
}
