/* Exit handlers, vendor-neutral, dispatched by a table indexed by the
 * named reason (the Jailhouse pattern: each handler returns false when the
 * guest cannot go on, and one fatal path records why). */
#include <hopvm/hv.h>
#include <hopvm/guest_mem.h>
#include <hopvm/lib.h>
#include <hopvm/mmio.h>
#include <hopvm/vm.h>

#define HYPERCALL_ENOSYS ((uint64_t)-38) /* unknown call, as KVM answers */

const char *const exit_reason_names[EXIT_REASON_COUNT] = {
    [EXIT_NONE] = "none",           [EXIT_IO] = "io",
    [EXIT_MMIO] = "npf/mmio",       [EXIT_CPUID] = "cpuid",
    [EXIT_MSR_READ] = "rdmsr",      [EXIT_MSR_WRITE] = "wrmsr",
    [EXIT_HLT] = "hlt",             [EXIT_SHUTDOWN] = "shutdown",
    [EXIT_INTR] = "intr",           [EXIT_NMI] = "nmi",
    [EXIT_HYPERCALL] = "hypercall", [EXIT_VIRT_INSN] = "svm/vmx insn",
    [EXIT_ENTRY_FAILED] = "entry failed", [EXIT_UNHANDLED] = "unhandled",
    [EXIT_DIRTY] = "dirty-log write",
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
            io_dispatch(v->vm, e->u.io.port, size, false, &val);
            if (guest_write(v, &s, la, &val, size) != 0)
                return true; /* #PF injected; RIP stays on the instruction */
        } else {
            if (guest_read(v, &s, la, &val, size) != 0)
                return true;
            io_dispatch(v->vm, e->u.io.port, size, true, &val);
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
    io_dispatch(v->vm, e->u.io.port, e->u.io.size, !e->u.io.in, &val);
    if (e->u.io.in)
        set_acc(v, e->u.io.size, val & mask);
    return skip(v, e);
}

static bool handle_cpuid(struct vcpu *v, struct vm_exit *e)
{
    uint32_t r[4];
    cpuid_policy(v, (uint32_t)v->gpr[GPR_RAX], (uint32_t)v->gpr[GPR_RCX], r);
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
    /* No guest interrupt controller yet: the vCPU sleeps until its UART
     * gets input (dev_uart.c wakes it). */
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
    const char *err;
    if (mmio_handle(v, e->u.mmio.gpa, &err))
        return true;
    if (err) {
        v->fail = err;
        return false;
    }
    /* No device there: a stray access outside guest RAM. The guest stops
     * rather than read garbage. */
    static char why[96];
    ksnprintf(why, sizeof(why), "access outside its memory: %s at guest-physical 0x%lx",
              e->u.mmio.fetch ? "fetch" : e->u.mmio.write ? "write" : "read", e->u.mmio.gpa);
    v->fail = why;
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
