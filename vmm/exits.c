/* Exit handlers, vendor-neutral, dispatched by a table indexed by the
 * named reason (the Jailhouse pattern: each handler returns false when the
 * guest cannot go on, and one fatal path records why). */
#include <hopvm/hv.h>
#include <hopvm/lib.h>
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

static bool handle_io(struct vcpu *v, struct vm_exit *e)
{
    if (e->u.io.string) {
        v->fail = "string I/O (INS/OUTS) is not emulated";
        return false;
    }
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
    /* No MMIO devices are emulated: anything outside guest RAM is a stray
     * access, and the guest stops rather than read garbage. */
    static char why[96];
    ksnprintf(why, sizeof(why), "access outside its memory: %s at guest-physical 0x%lx",
              e->u.mmio.fetch ? "fetch" : e->u.mmio.write ? "write" : "read", e->u.mmio.gpa);
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
    (void)e;
    v->fail = "the CPU refused the guest state (VM entry failed)";
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
};

bool vcpu_handle_exit(struct vcpu *v, struct vm_exit *e)
{
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
