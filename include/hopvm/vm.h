/* Virtual machines and vCPUs: the vendor-neutral core. */
#ifndef HOPVM_VM_H
#define HOPVM_VM_H
#include <hopvm/config.h>
#include <hopvm/i8254.h>
#include <hopvm/i8259.h>
#include <hopvm/ioapic.h>
#include <hopvm/lapic.h>
#include <hopvm/mc146818.h>
#include <hopvm/vcpu_state.h>
#include <hopvm/xstate.h>
#include <stdbool.h>
#include <stdint.h>

/* Why the guest left: one record both backends fill (vmm/svm, vmm/vmx). */
enum exit_reason {
    EXIT_NONE,
    EXIT_IO,            /* IN/OUT (and INS/OUTS) */
    EXIT_MMIO,          /* nested/EPT page fault outside guest RAM */
    EXIT_CPUID,
    EXIT_MSR_READ,
    EXIT_MSR_WRITE,
    EXIT_HLT,
    EXIT_SHUTDOWN,      /* triple fault */
    EXIT_INTR,          /* a host interrupt arrived */
    EXIT_NMI,
    EXIT_HYPERCALL,     /* VMMCALL / VMCALL */
    EXIT_VIRT_INSN,     /* the guest tried a virtualization instruction */
    EXIT_ENTRY_FAILED,  /* VMRUN / VM entry refused the guest state */
    EXIT_DIRTY,         /* a write to write-protected guest RAM while dirty logging (the core
                           reclassifies such an EXIT_MMIO; never an MMIO access) */
    EXIT_CR_WRITE,      /* MOV to CR4 (u.cr), checked against the guest's CPUID */
    EXIT_XSETBV,        /* XSETBV: the guest sets its XCR0 */
    EXIT_XCR0_UNTRAPPED,/* XCR0 changed without an XSETBV exit (detail: why it cannot stand) */
    EXIT_IRQ_WINDOW,    /* the guest can take an interrupt now (v->irq_window asked for this exit) */
    EXIT_UNHANDLED,     /* anything else the backend saw */
    EXIT_REASON_COUNT
};

/* A MOV-to-CR exit whose source register the CPU did not report (AMD-V
 * without decode assists): the core decodes the instruction itself. */
#define CR_GPR_UNKNOWN 0xff

struct vm_exit {
    enum exit_reason reason;
    uint64_t vendor_code;  /* raw exit code, for messages */
    uint64_t info1, info2; /* raw qualification, for messages */
    uint8_t insn_len;      /* length of the exiting instruction; 0 if unknown */
    const char *detail;    /* backend's explanation of a failed entry, or NULL */
    union {
        struct {
            uint16_t port;
            uint8_t size;  /* 1, 2 or 4 */
            uint8_t addr_size; /* string I/O: 2, 4 or 8 */
            uint8_t seg;   /* string I/O source segment (OUTS): 0 ES .. 5 GS */
            bool in, string, rep;
        } io;
        struct {
            uint64_t gpa;
            bool write, fetch;
            bool walk;     /* on the guest's own page-table walk, not its access */
        } mmio;
        uint32_t msr;
        struct {
            uint8_t cr;    /* control register written */
            uint8_t gpr;   /* source register (enum gpr), or CR_GPR_UNKNOWN */
        } cr;
    } u;
};

enum vm_state { VM_STOPPED, VM_RUNNING, VM_PAUSED, VM_EXITED, VM_CRASHED };

#define VM_CPUID_MAX 128 /* = MIG_CPUID_TABLE_MAX */
#define VM_LOG_SIZE (64 * 1024) /* a Linux boot with loglevel=7 prints about 30 KiB */
#define VCPU_MTRR_DEF_TYPE 0x806 /* MTRRs on, default type write-back (SDM Vol.3A 12.11.2.1) */
#define MTRR_TYPE_MASK 0xffull
#define MTRR_UC 0
#define MTRR_WC 1
#define MTRR_WT 4
#define MTRR_WB 6
#define VM_MAX_IO 24
#define VM_MAX_DEVICES 16 /* entries of the device table (vmm/dev/devices.c) */

struct vm;
struct vcpu;

typedef bool (*io_fn)(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val);
typedef void (*mmio_fn)(struct vcpu *v, void *ctx, uint64_t offset, unsigned size, bool write, uint64_t *val);

struct mmio_range {
    uint64_t base, len;
    mmio_fn fn;
    void *ctx;
    const char *name;
};
#define VM_MAX_MMIO 8

struct io_range {
    uint16_t base, len;
    io_fn fn;
    void *ctx;
    const char *name;
};

/* The guest's 16550 (vmm/dev/uart.c). */
struct uart_dev {
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t rx[64];
    unsigned rx_head, rx_tail;
    bool thre_pending;        /* the THR-empty interrupt is raised */
};

struct vcpu {
    struct vm *vm;
    unsigned id;
    uint64_t gpr[GPR_COUNT];  /* live across exits; the backend syncs RAX/RSP */
    uint64_t rip, rflags;
    struct vcpu_event pending;
    bool halted;
    uint64_t throttled_until; /* time_ns() before which the scheduler skips it */
    const char *fail;         /* why a handler refused the exit */
    void *hw;                 /* backend private */
    uint64_t xcr0;            /* the guest's XCR0 (vmm/fpu.c loads it before each entry) */
    uint32_t tsc_aux;         /* IA32_TSC_AUX, RDTSCP's ECX (vmm/msr.c loads it before each entry) */
    struct lapic lapic;       /* its local APIC (vmm/lapic.c, vmm/dev/lapic.c) */
    bool wait_sipi;           /* after INIT: only a start-up IPI runs it (SDM Vol.3A 9.4.4) */
    bool nmi_pending;
    bool irq_window;          /* an interrupt waits for the guest to be interruptible: the
                                 backend asks for an exit when it is (EXIT_IRQ_WINDOW) */
    uint64_t kvmclock;        /* MSR_KVM_SYSTEM_TIME_NEW: the guest's pvclock page | enable */
    uint64_t mtrr_def_type;   /* IA32_MTRR_DEF_TYPE (vmm/msr.c) */
    /* XSAVE area, standard format (or an FXSAVE image on a CPU without
     * XSAVE): the guest's vector state while another vCPU has the CPU. */
    uint8_t fpu[XSAVE_AREA_SIZE] __attribute__((aligned(64)));
};

/* The dirty-page log (vmm/dirty.c): which pages of guest RAM were
 * written since the last harvest, by the guest or by hopvm for it. */
enum dirty_mode {
    DIRTY_WRITE_PROTECT, /* leaves lose W; the write fault marks the page and gives W back */
    DIRTY_D_BITS,        /* the CPU sets the leaf's dirty bit; a harvest scans and clears them */
    DIRTY_HW_LOG,        /* as D_BITS, but the CPU also logs each page it sets D for (VT-x PML) */
};
struct dirty_log {
    bool on;
    enum dirty_mode mode;
    uint64_t *bitmap;         /* one bit per page, set since the last harvest */
    uint64_t npages;
    uint64_t faults;          /* write-protect faults taken (write-protect mode) */
    uint64_t harvests;
};

/* What a teleport keeps in a guest (vmm/vm_migrate.c is its only user). */
struct vm_mig {
    bool migrating;           /* a teleport owns it: the console may not run or stop it */
    bool lost;                /* it ended (exited, crashed, stopped) while a teleport owned it */
    bool was_running;         /* source: running when the teleport began */
    bool incoming_new;        /* its slot was created for an incoming teleport */
    const struct cfg_vm *prev_def; /* the config's definition, back if the teleport fails */
    uint64_t incoming_tsc[CFG_MAX_VCPUS]; /* guest TSC at the source's pause */
    uint64_t incoming_clock;  /* the device clock (vm_clock_ns) at the source's pause */
    uint32_t dev_loaded[VM_MAX_DEVICES]; /* per device table entry, the instances loaded */
};

/* One CPUID answer (same layout as struct mig_cpuid_leaf). */
struct cpuid_entry {
    uint32_t leaf, subleaf, eax, ebx, ecx, edx;
};

struct vm {
    char name[CFG_NAME_MAX];
    const struct cfg_vm *def;
    struct cfg_vm own_def;    /* the definition of a guest that came by teleport */
    struct vm_mig mig;
    enum vm_state state;
    /* Its CPUID, fixed when it started (vmm/cpuid.c) or as it arrived. */
    struct cpuid_entry cpuid[VM_CPUID_MAX];
    unsigned ncpuid;
    uint8_t *ram;             /* host address (= host physical) of guest-physical 0 */
    uint64_t ram_size;
    uint64_t *npt;            /* nested page tables (NPT or EPT) for ram (vmm/nested_pt.c) */
    struct dirty_log dirty;
    unsigned throttle_pct;    /* 0..99: the share of CPU time withheld (live migration) */
    unsigned nvcpus;
    struct vcpu *vcpus[CFG_MAX_VCPUS];
    void *hw;                 /* backend private */
    struct io_range io[VM_MAX_IO];
    unsigned nio;
    uint64_t io_unhandled;
    uint16_t io_unhandled_last; /* the port of the latest, for `vm info` */
    uint64_t mmio_unassigned; /* accesses to guest-physical addresses with nothing there */
    struct mmio_range mmio[VM_MAX_MMIO];
    unsigned nmmio;
    struct uart_dev uart;
    struct i8259_pair pic;    /* vmm/dev/pic.c */
    struct ioapic ioapic;     /* vmm/dev/ioapic.c */
    uint32_t isa_irq_level;   /* ISA lines 0-15 as the devices drive them (vmm/irq.c) */
    uint64_t pit_periods;     /* channel 0's OUT rises already sent as IRQ 0 edges */
    uint64_t pit_seen_start;  /* ... for the count that began at this tick */
    struct { uint16_t sts, en, cnt; } pm; /* ACPI PM1a event and control (vmm/dev/pm.c) */
    bool reset_pending;       /* the guest asked for a reset (port 0xcf9, the i8042) */
    int64_t clock_offset;     /* vm_clock_ns() - time_ns(): the guest's device clock */
    struct i8254 pit;         /* vmm/dev/pit.c */
    struct mc146818 rtc;      /* vmm/dev/rtc.c */
    uint8_t port_b;           /* port 0x61's writable bits */
    char *log;                /* VM_LOG_SIZE ring of guest serial output */
    uint64_t log_len;         /* bytes ever written */
    int exit_code;            /* from the debug-exit port */
    char reason[160];         /* why it stopped */
    bool have_regs;
    struct vcpu_state regs;   /* state when it stopped abnormally */
    uint64_t exits[EXIT_REASON_COUNT]; /* since the last start */
    uint64_t run_ns;          /* accumulated */
};

/* vmm/vm.c */
void vm_init_all(const struct config *cfg);
struct vm *vm_find(const char *name);
struct vm *vm_at(unsigned i);   /* NULL past the end */
int vm_start(struct vm *vm, char *err, size_t n);
int vm_prepare(struct vm *vm, bool zero_ram, char *err, size_t n);
struct vm *vm_new_slot(const char *name);
void vm_drop_slot(struct vm *vm);
void vm_stop(struct vm *vm);
/* Stops the guest abnormally: records registers and a one-line reason. */
void vm_crash(struct vm *vm, struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vm_exited(struct vm *vm);
const char *vm_state_name(enum vm_state s);
uint64_t vm_exits_total(const struct vm *vm);
extern const char *const exit_reason_names[EXIT_REASON_COUNT];

/* vmm/io.c: port I/O dispatch by range. */
int io_register(struct vm *vm, uint16_t base, uint16_t len, io_fn fn, void *ctx, const char *name);
/* Runs the handler; an unclaimed read returns all-ones, a write is dropped;
 * both are counted. */
void io_dispatch(struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val);

/* vmm/dev/: the emulated platform, one table of devices (vmm/dev/devices.c). */
struct mig_dev;
struct vdev {
    const char *name;
    int irq;                          /* its ISA interrupt line, -1 if none */
    void (*attach)(struct vm *vm);    /* reset state, register ports and MMIO */
    /* Its state in a teleport: one DEVICE record of this type per
     * instance (a local APIC per vCPU). NULL save: nothing to carry (or
     * carried elsewhere: the UART has a record of its own). */
    const char *type;
    unsigned (*instances)(const struct vm *vm); /* NULL: one */
    int (*save)(struct vm *vm, unsigned instance, struct mig_dev *d);
    /* Checks every value before taking any: 0, or -1 with why. */
    int (*load)(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
};
extern const struct vdev vdevs[];
extern const unsigned vdev_count;
void devices_attach(struct vm *vm);
void pit_dev_attach(struct vm *vm);
void pit_dev_poll(struct vm *vm);     /* channel 0's periods into IRQ 0 edges */
void rtc_dev_attach(struct vm *vm);
void uart_dev_attach(struct vm *vm);
void uart_dev_input(struct vm *vm, uint8_t c);
bool uart_dev_room(const struct vm *vm); /* its receive FIFO can take a byte */
void debugexit_attach(struct vm *vm);
void lapic_dev_attach(struct vm *vm);
void ioapic_dev_attach(struct vm *vm);
void pic_dev_attach(struct vm *vm);
void pm_dev_attach(struct vm *vm);
void vm_log_putc(struct vm *vm, char c);
int pic_dev_save(struct vm *vm, unsigned i, struct mig_dev *d);
int pic_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
int ioapic_dev_save(struct vm *vm, unsigned i, struct mig_dev *d);
int ioapic_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
unsigned lapic_dev_instances(const struct vm *vm);
int lapic_dev_save(struct vm *vm, unsigned i, struct mig_dev *d);
int lapic_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
int pit_dev_save(struct vm *vm, unsigned i, struct mig_dev *d);
int pit_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
int rtc_dev_save(struct vm *vm, unsigned i, struct mig_dev *d);
int rtc_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
int pm_dev_save(struct vm *vm, unsigned i, struct mig_dev *d);
int pm_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
/* vmm/vm_migrate.c: the table's devices in a teleport. */
int vm_save_device(struct vm *vm, unsigned i, struct mig_dev *d); /* 0, or 1 past the last */
int vm_load_device(struct vm *vm, const struct mig_dev *d, char *err, size_t n);
int vm_incoming_check(struct vm *vm, char *err, size_t n); /* at END: every device or none */

/* vmm/irq.c: interrupt routing and delivery. */
uint64_t vm_clock_ns(const struct vm *vm);     /* the guest's device clock, continuous across teleports */
uint64_t vcpu_tsc(struct vcpu *v);             /* the guest's TSC on v now */
uint64_t vcpu_tsc_offset(struct vcpu *v);      /* guest TSC - host TSC */
void irq_attach(struct vm *vm);
void irq_vcpu_reset(struct vcpu *v);
void irq_line(struct vm *vm, unsigned isa_irq, bool level);
void irq_pulse(struct vm *vm, unsigned isa_irq);
void irq_ioapic_write(struct vm *vm, unsigned off, uint32_t val);
void irq_message(struct vm *vm, struct vcpu *src, const struct lapic_ipi *m);
void irq_lapic_out(struct vcpu *v, const struct lapic_out *out);
/* Before each entry: the event v takes next goes into v->pending, or
 * v->irq_window asks the backend for an exit once the guest can take it. */
void irq_before_entry(struct vcpu *v);
/* A halted vCPU: true if an event ends its HLT now. */
bool irq_wake(struct vcpu *v);
/* Set when an interrupt went to a halted vCPU: the running slice ends. */
extern bool sched_kick;

/* vmm/vm.c */
void vcpu_sipi_state(struct vcpu *v, uint8_t vector, struct vcpu_state *s);
/* The guest asked for a reset: it starts again from its kernel, its log
 * and console kept. */
void vm_reboot(struct vm *vm);

/* vmm/kvmclock.c: the KVM paravirtual clock (Documentation/virt/kvm/x86/msr.rst). */
bool kvmclock_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool kvmclock_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
/* The guest's TSC rate or its clock changed under it (a teleport): every
 * enabled pvclock area is written again. */
void kvmclock_update(struct vm *vm);
bool kvmclock_available(void);

/* vmm/exits.c: one exit; false means the guest must stop (v->fail says why). */
bool vcpu_handle_exit(struct vcpu *v, struct vm_exit *e);
/* vmm/vm_migrate.c: the VM side of a teleport (migrate/ sees only these
 * and the mig_* structures). */
struct mig_vmdef;
struct mig_vcpu;
struct mig_uart;
struct mig_cpuid_leaf;
void vm_describe(struct vm *vm, struct mig_vmdef *d);
void vm_save_vcpu(struct vm *vm, unsigned i, struct mig_vcpu *m);
void vm_save_uart(struct vm *vm, struct mig_uart *u);
/* The source's guest while a teleport owns it: the console may not start
 * or stop it; if it ends by itself it is "lost" to the teleport, which
 * must then fail without touching it. */
void vm_mig_begin(struct vm *vm);
const char *vm_mig_lost(const struct vm *vm);          /* NULL, or why it ended */
const uint8_t *vm_mig_page(struct vm *vm, uint64_t gfn); /* NULL once lost */
void vm_mig_pause(struct vm *vm);              /* the final round: it stops running */
int vm_mig_log_start(struct vm *vm, char *err, size_t n);
const char *vm_mig_dirty_mode(const struct vm *vm); /* "PML", "D bits", "write protection" */
uint64_t vm_mig_harvest(struct vm *vm, uint64_t *bitmap);
void vm_mig_throttle(struct vm *vm, unsigned pct);
/* The teleport failed or was cancelled: logging off, full speed, running
 * again if it was. */
void vm_mig_end(struct vm *vm);
/* The source handed the guest over: free it; it never runs here again. */
void vm_retire(struct vm *vm, const char *why);
/* A paused shell for an incoming guest: RAM, vCPUs, devices; NULL with a
 * one-line reason if this host cannot take it. */
struct vm *vm_incoming(const struct mig_vmdef *d, char *err, size_t n);
int vm_load_vcpu(struct vm *vm, const struct mig_vcpu *m, char *err, size_t n);
void vm_load_uart(struct vm *vm, const struct mig_uart *u);
/* The source has retired its copy: run this one, its TSC continuing. */
void vm_incoming_commit(struct vm *vm);
/* The teleport failed: free the shell. in_doubt keeps it paused instead. */
void vm_incoming_abort(struct vm *vm, bool in_doubt);
/* This host's CPUID feature leaves as a guest here would see them. */
unsigned vm_cpuid_features(struct mig_cpuid_leaf *out, unsigned max);

/* vmm/dirty.c: the dirty-page log. */
extern enum dirty_mode dirty_best;
const char *dirty_mode_name(enum dirty_mode m);
int dirty_start(struct vm *vm, char *err, size_t n);
/* Moves the pages dirtied since the last harvest into out (out |= log,
 * log = 0) and arms the log again; returns how many. */
uint64_t dirty_harvest(struct vm *vm, uint64_t *out);
/* Logging off; the nested tables are as vm_prepare built them. */
void dirty_stop(struct vm *vm);
/* hopvm wrote [gpa, gpa + len) of guest RAM on the guest's behalf. */
void dirty_mark(struct vm *vm, uint64_t gpa, uint64_t len);
/* A write fault at gpa inside RAM: true if it was the log's (the page is
 * marked and writable again). */
bool dirty_write_fault(struct vm *vm, uint64_t gpa);

/* vmm/cpuid.c, vmm/msr.c: the policies. cpuid_fix fixes a starting
 * guest's CPUID (vm->cpuid); cpuid_policy answers from it with the
 * per-vCPU parts (for a vCPU of no guest: what this host would offer). */
int cpuid_fix(struct vm *vm, char *err, size_t n); /* -1: the host lacks the guest's `cpu =` level */
void cpuid_policy(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t out[4]);
/* The CR4 bits the guest may set: those whose feature cpuid_policy offers
 * it (a bit for a hidden feature, or a reserved one, is #GP on a write). */
uint64_t cpuid_cr4_allowed(struct vcpu *v);
bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
/* Before each entry: the guest's MSRs that the CPU does not switch (TSC_AUX). */
void msr_load_guest(struct vcpu *v);
bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
bool mtrr_type_valid(uint64_t type); /* a memory type an MTRR may hold */

/* vmm/fpu.c: guest x87/SSE/AVX state and XCR0, swapped lazily between
 * vCPUs. fpu_cpu_init runs once per host CPU before guests do. */
void fpu_cpu_init(void);
bool fpu_has_xsave(void);
/* The XCR0 components a guest here may enable (x87 only without XSAVE). */
uint64_t fpu_xcr0_offered(void);
void fpu_init(struct vcpu *v);
void fpu_switch(struct vcpu *v);
/* After an exit on a CPU that may have let the guest run XSETBV without
 * the intercept (QEMU 7.2's AMD-V emulation): NULL, having taken an XCR0
 * the guest may hold as its own, else why the guest must stop. */
const char *fpu_xcr0_after_exit(struct vcpu *v);
void fpu_forget(struct vcpu *v);
void fpu_sync(struct vcpu *v);
/* The state in the stream's terms: the FXSAVE-shaped legacy region and
 * the upper halves of YMM0-15 (zero without AVX). fpu_set takes values
 * already checked (fpu_image_ok, vcpu_check_xcr0). */
void fpu_get(struct vcpu *v, uint8_t legacy[XSAVE_LEGACY_SIZE], uint8_t ymmh[XSAVE_AVX_SIZE]);
void fpu_set(struct vcpu *v, const uint8_t legacy[XSAVE_LEGACY_SIZE], const uint8_t ymmh[XSAVE_AVX_SIZE],
             uint64_t xcr0);
bool fpu_image_ok(const uint8_t img[XSAVE_LEGACY_SIZE]);

/* vmm/sched.c */
void vcpu_run_slice(struct vcpu *v);
struct vcpu *sched_pick(void);
__attribute__((noreturn)) void host_loop(void);

#endif
