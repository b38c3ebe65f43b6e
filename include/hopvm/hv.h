/* The interface every hardware backend implements (vmm/svm/, vmm/vmx/).
 * Nothing outside a backend touches a VMCB or VMCS; the core sees only
 * these operations, struct vm_exit and struct vcpu_state. */
#ifndef HOPVM_HV_H
#define HOPVM_HV_H
#include <hopvm/vm.h>
#include <stddef.h>

struct hv_backend {
    const char *name;
    /* Turns virtualization on for the boot CPU. 0, or -1 with a reason. */
    int (*cpu_enable)(char *err, size_t n);
    /* The guest's backend state; vm->npt (the nested tables) exists. */
    int (*vm_create)(struct vm *vm);
    void (*vm_destroy)(struct vm *vm);
    int (*vcpu_create)(struct vcpu *v);
    void (*vcpu_destroy)(struct vcpu *v);
    /* Enters the guest with v->gpr/rip/rflags and v->pending, returns at the
     * next exit with them updated and the exit decoded. Called with
     * interrupts enabled; host interrupts that ended the run have been
     * serviced when it returns. */
    void (*vcpu_run)(struct vcpu *v, struct vm_exit *e);
    void (*get_state)(struct vcpu *v, struct vcpu_state *s);
    /* True if the guest can take a maskable interrupt now: RFLAGS.IF set
     * and no STI or MOV SS shadow (SDM Vol.3A 6.8.1, 6.8.3; APM Vol.2
     * 15.21.5). While v->irq_window is set at an entry, the backend
     * arranges an exit (EXIT_IRQ_WINDOW) for when it can: VT-x's
     * interrupt-window exiting, AMD-V's virtual interrupt with the VINTR
     * intercept. The guest's TPR (CR8) is v->lapic.tpr[7:4] on both. */
    bool (*irq_allowed)(struct vcpu *v);
    /* True if an NMI may be injected now (VT-x: no blocking by NMI or MOV
     * SS, SDM Vol.3C 26.3.1.5). NULL: always (AMD-V without NMI
     * virtualization keeps no guest NMI mask to look at, APM 15.21.10). */
    bool (*nmi_allowed)(struct vcpu *v);
    /* The vCPU's TSC offset, without a whole get_state. NULL: get_state. */
    uint64_t (*tsc_offset)(struct vcpu *v);
    void (*set_state)(struct vcpu *v, const struct vcpu_state *s);
    /* The CR4 bits this backend can run a guest with, for checking a state
     * from elsewhere before set_state (vmm/vcpu_check.c). VT-x: those
     * IA32_VMX_CR4_FIXED1 allows (SDM Vol.3D A.8). NULL: every bit the
     * guest's CPUID offers (AMD-V: APM Vol.2 15.5.1). */
    uint64_t (*guest_cr4_bits)(void);
    /* False if a guest's RDTSCP would #UD on this backend (VT-x without
     * the "enable RDTSCP" control, SDM Vol.3C 25.6.2): CPUID then hides
     * it. NULL: RDTSCP runs (AMD-V does not intercept it). */
    bool (*guest_rdtscp)(void);
    /* The nested tables (vmm/nested_pt.c) are the core's; a backend adds
     * the extra bits of every leaf (EPT: the memory type) ... */
    uint64_t npt_leaf;
    /* ... and says where its CPU sets a leaf's dirty bit, 0 if it does not
     * (the dirty log then write-protects). */
    uint64_t (*npt_dirty_bit)(void);
    /* Drops every cached translation through vm->npt, for all of the
     * guest's vCPUs, before any of them runs again: owed after the core
     * removes a permission or a dirty bit or reshapes the tables
     * (docs/architecture.md, "Flushes"). SVM: TLB_CONTROL for the vCPU's
     * ASID; VMX: INVEPT single-context for the guest's EPTP. */
    void (*flush_nested)(struct vm *vm);
    /* A log of written pages the CPU keeps itself (VT-x page-modification
     * logging), so a harvest need not scan every leaf's dirty bit. on:
     * true if the CPU keeps one for this guest now; drain: moves what it
     * logged into vm->dirty (dirty_mark). NULL when the CPU has none. */
    bool (*hw_log)(struct vm *vm, bool on);
    void (*hw_log_drain)(struct vm *vm);
};

extern const struct hv_backend svm_backend;
extern const struct hv_backend vmx_backend;

/* vmm/hv.c: the backend in use, or NULL with hv_error() saying why. */
const struct hv_backend *hv(void);
const char *hv_error(void);
void hv_init(void);

#endif
