/* VM lifecycle: defined by the configuration, started from the console
 * (or autostart), stopped by the operator, by the guest (debug-exit) or by
 * a fault that only that guest pays for. */
#include <hopvm/acpi_guest.h>
#include <hopvm/console.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/loader.h>
#include <hopvm/mem.h>
#include <hopvm/nested_pt.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

_Static_assert(sizeof(struct vcpu) <= PAGE_SIZE, "a vcpu fits one page");

static struct vm vms[CFG_MAX_VMS];
static unsigned nvms;

static const char *const state_names[] = {
    [VM_STOPPED] = "stopped", [VM_RUNNING] = "running", [VM_PAUSED] = "paused",
    [VM_EXITED] = "exited", [VM_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s) { return state_names[s]; }

void vm_init_all(const struct config *cfg)
{
    nvms = 0;
    for (unsigned i = 0; i < cfg->nvms && i < CFG_MAX_VMS; i++) {
        struct vm *vm = &vms[nvms++];
        memset(vm, 0, sizeof(*vm));
        memcpy(vm->name, cfg->vms[i].name, sizeof(vm->name));
        vm->def = &cfg->vms[i];
        vm->exit_code = -1;
    }
}

struct vm *vm_find(const char *name)
{
    for (unsigned i = 0; i < nvms; i++)
        if (!strcmp(vms[i].name, name))
            return &vms[i];
    return NULL;
}

struct vm *vm_at(unsigned i) { return i < nvms ? &vms[i] : NULL; }

uint64_t vm_exits_total(const struct vm *vm)
{
    uint64_t t = 0;
    for (int r = 0; r < EXIT_REASON_COUNT; r++)
        t += vm->exits[r];
    return t;
}

/* Releases everything a run holds; the log and the counters stay (and
 * an attached console, for a guest that resets itself). */
static void release(struct vm *vm, bool keep_console)
{
    const struct hv_backend *b = hv();
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        if (!vm->vcpus[i])
            continue;
        b->vcpu_destroy(vm->vcpus[i]);
        page_free(vm->vcpus[i], 1);
        vm->vcpus[i] = NULL;
    }
    vm->nvcpus = 0;
    if (vm->hw)
        b->vm_destroy(vm);
    dirty_stop(vm);
    nested_pt_destroy(vm->npt);
    vm->npt = NULL;
    vm->throttle_pct = 0;
    if (vm->mig.migrating)
        vm->mig.lost = true; /* the teleport that owns it must not touch it again */
    if (vm->ram)
        page_free(vm->ram, vm->ram_size / PAGE_SIZE);
    vm->ram = NULL;
    vm->nio = 0;
    vm->nmmio = 0;
    if (!keep_console)
        console_guest_stopped(vm);
}

static void teardown(struct vm *vm) { release(vm, false); }

/* The architectural state a kernel is entered with (README, "Guest kernels"). */
static void boot_state(struct vcpu_state *s, const struct load_result *lr)
{
    memset(s, 0, sizeof(*s));
    const uint16_t code = SEG_ATTR_TYPE(0xb) | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_G;
    const uint16_t data = SEG_ATTR_TYPE(0x3) | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G;
    struct seg_state ds = {GUEST_SEL_DATA, data, 0xffffffffu, 0};
    s->ds = s->es = s->fs = s->gs = s->ss = ds;
    s->tr = (struct seg_state){0, SEG_ATTR_TYPE(0xb) | SEG_ATTR_P, 0xffff, 0}; /* busy TSS */
    s->gdtr = (struct dt_state){GUEST_GDT, 4 * 8 - 1};
    s->rflags = RFLAGS_FIXED;
    s->pat = PAT_DEFAULT;
    s->rip = lr->entry;
    s->tsc_offset = -rdtsc(); /* the guest's TSC starts near zero */
    if (lr->mode == BOOT_MULTIBOOT32) {
        /* Multiboot 0.6.96 3.2: protected mode, paging off, flat segments. */
        s->cs = (struct seg_state){GUEST_SEL_CODE32, code | SEG_ATTR_DB, 0xffffffffu, 0};
        s->cr0 = CR0_PE | CR0_ET;
        s->gpr[GPR_RAX] = MULTIBOOT_BOOT_MAGIC;
        s->gpr[GPR_RBX] = lr->info;
    } else {
        /* Long mode with the loader's identity map (ELF64 and Linux). */
        s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
        s->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
        s->cr3 = GUEST_PML4;
        s->efer = EFER_LME | EFER_LMA;
        s->gpr[GPR_RSP] = GUEST_STACK_TOP;
        if (lr->mode == BOOT_LINUX64) {
            /* Linux boot protocol, 64-bit entry (boot.rst): CS __BOOT_CS,
             * DS/ES/SS __BOOT_DS, interrupts off, RSI the zero page. */
            struct seg_state lds = {GUEST_SEL_LINUX_DS, data, 0xffffffffu, 0};
            s->ds = s->es = s->fs = s->gs = s->ss = lds;
            s->cs = (struct seg_state){GUEST_SEL_LINUX_CS, code | SEG_ATTR_L, 0xffffffffu, 0};
            s->gpr[GPR_RSI] = lr->info;
        } else {
            s->cs = (struct seg_state){GUEST_SEL_CODE64, code | SEG_ATTR_L, 0xffffffffu, 0};
            s->gpr[GPR_RDI] = lr->info;
            s->gpr[GPR_RSI] = MULTIBOOT_BOOT_MAGIC;
        }
    }
}

static int fail(struct vm *vm, char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(struct vm *vm, char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(err, n, fmt, ap);
    va_end(ap);
    teardown(vm);
    vm->state = VM_STOPPED;
    return -1;
}

/* The guest's ACPI tables (vmm/acpi_guest.c) in its BIOS area, where a
 * Linux guest is told to look (boot_params.acpi_rsdp_addr) and any OS
 * scanning 0xe0000-0xfffff finds the RSDP. */
static int build_acpi(struct vm *vm, char *err, size_t n)
{
    _Static_assert(CFG_MAX_VCPUS <= ACPI_GUEST_MAX_CPUS, "the MADT lists every vCPU");
    struct acpi_guest g = {.ncpus = vm->nvcpus, .lapic_base = LAPIC_DEFAULT_BASE,
                           .ioapic_base = IOAPIC_DEFAULT_BASE, .ioapic_id = vm->ioapic.id};
    for (unsigned i = 0; i < vm->nvcpus; i++)
        g.apic_id[i] = vm->vcpus[i]->lapic.id;
    memcpy(g.oem_id, "HOPVM ", 7);
    uint64_t rsdp;
    if (acpi_guest_build(vm->ram + GUEST_ACPI, GUEST_ACPI_MAX, GUEST_ACPI, &g, &rsdp) == 0)
        return ksnprintf(err, n, "cannot build the guest's ACPI tables"), -1;
    return 0;
}

static int load_kernel(struct vm *vm, struct load_result *lr, char *err, size_t n)
{
    const struct cfg_vm *d = vm->def;
    struct load_req req = {.cmdline = d->cmdline, .nmods = d->nmodules};
    const struct boot_file *k = boot_file(d->kernel);
    if (!k)
        return ksnprintf(err, n, "kernel file '%s' is not in \\guests on the boot volume", d->kernel), -1;
    req.kernel = (struct load_file){k->name, k->data, k->size, ""};
    if (d->initrd[0]) {
        const struct boot_file *r = boot_file(d->initrd);
        if (!r)
            return ksnprintf(err, n, "initrd file '%s' is not in \\guests on the boot volume", d->initrd), -1;
        req.initrd = (struct load_file){r->name, r->data, r->size, ""};
    }
    for (unsigned i = 0; i < d->nmodules; i++) {
        const struct boot_file *m = boot_file(d->modules[i].file);
        if (!m)
            return ksnprintf(err, n, "module file '%s' is not in \\guests on the boot volume",
                             d->modules[i].file), -1;
        req.mods[i] = (struct load_file){m->name, m->data, m->size, d->modules[i].args};
    }
    struct guest_ram ram = {vm->ram, vm->ram_size};
    char why[128];
    if (loader_load(&ram, &req, lr, why, sizeof(why)) != 0)
        return ksnprintf(err, n, "kernel '%s' refused: %s", d->kernel, why), -1;
    return 0;
}

/* Everything a run holds except the kernel: RAM, nested tables, vCPUs,
 * the log and the devices. Used by vm_start and by an incoming teleport,
 * whose round 0 writes every page before the guest may run (the target
 * refuses to commit otherwise), so its RAM need not be zeroed first:
 * zeroing 32 MiB took 174 ms of each teleport's set-up under QEMU TCG. */
int vm_prepare(struct vm *vm, bool zero_ram, char *err, size_t n)
{
    const struct hv_backend *b = hv();
    if (!b)
        return ksnprintf(err, n, "no hardware virtualization: %s", hv_error()), -1;
    const struct cfg_vm *d = vm->def;
    vm->ram_size = d->memory;
    vm->ram = zero_ram ? page_alloc(d->memory / PAGE_SIZE, MiB(2)) : page_alloc_unzeroed(d->memory / PAGE_SIZE, MiB(2));
    if (!vm->ram) {
        struct mem_stats ms;
        mem_get_stats(&ms);
        return fail(vm, err, n, "not enough free memory for %lu MiB (largest free range %lu MiB)",
                    d->memory >> 20, ms.largest >> 20);
    }
    uint64_t large, small;
    vm->npt = nested_pt_build((uint64_t)(uintptr_t)vm->ram, vm->ram_size, b->npt_leaf, &large, &small);
    if (!vm->npt)
        return fail(vm, err, n, "out of memory for nested page tables");
    if (b->vm_create(vm) != 0)
        return fail(vm, err, n, "no backend slot for another guest");
    memset(vm->exits, 0, sizeof(vm->exits));
    vm->io_unhandled = 0;
    vm->mmio_unassigned = 0;
    vm->nvcpus = d->vcpus;
    for (unsigned i = 0; i < d->vcpus; i++) {
        struct vcpu *v = page_alloc(1, 0);
        if (!v)
            return fail(vm, err, n, "out of memory for vCPU %u", i);
        v->vm = vm;
        v->id = i;
        v->mtrr_def_type = VCPU_MTRR_DEF_TYPE;
        vm->vcpus[i] = v;
        if (b->vcpu_create(v) != 0)
            return fail(vm, err, n, "cannot create vCPU %u", i);
    }
    if (cpuid_fix(vm, err, n) != 0) /* an incoming guest's replaces it (vm_incoming) */
        return fail(vm, err, n, "%s", err);
    /* The log outlives the run (`vm log` after a crash); a refused start
     * allocates none. */
    if (!vm->log && !(vm->log = page_alloc(VM_LOG_SIZE / PAGE_SIZE, 0)))
        return fail(vm, err, n, "out of memory for the guest's log");
    /* The devices' clock starts at zero with the guest, like its TSC. */
    vm->clock_offset = -(int64_t)time_ns();
    devices_attach(vm);
    vm->log_len = 0;
    vm->exit_code = -1;
    vm->reason[0] = 0;
    vm->have_regs = false;
    vm->run_ns = 0;
    return 0;
}

int vm_start(struct vm *vm, char *err, size_t n)
{
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->mig.migrating)
        return ksnprintf(err, n, "'%s' is already %s", vm->name,
                         vm->mig.migrating ? "being teleported" : vm_state_name(vm->state)), -1;
    bool had_log = vm->log != NULL;
    if (vm_prepare(vm, true, err, n) != 0)
        return -1;
    struct load_result lr;
    if (load_kernel(vm, &lr, err, n) != 0) {
        if (!had_log) { /* a refused start keeps nothing */
            page_free(vm->log, VM_LOG_SIZE / PAGE_SIZE);
            vm->log = NULL;
        }
        return fail(vm, err, n, "%s", err);
    }
    if (build_acpi(vm, err, n) != 0)
        return fail(vm, err, n, "%s", err);
    /* One TSC offset for every vCPU: their TSCs agree, as on one board. */
    struct vcpu_state st;
    boot_state(&st, &lr);
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        hv()->set_state(vm->vcpus[i], &st);
        /* Application processors wait for INIT and a start-up IPI from
         * the boot processor (SDM Vol.3A 9.4.4, MP spec 1.4 B.4). */
        vm->vcpus[i]->halted = i != 0;
        vm->vcpus[i]->wait_sipi = i != 0;
    }
    vm->state = VM_RUNNING;
    return 0;
}

void vm_reboot(struct vm *vm)
{
    uint64_t log_len = vm->log_len;
    char why[sizeof(vm->reason)], err[160];
    memcpy(why, vm->reason, sizeof(why));
    release(vm, true);
    /* A teleport that owned it now finds it lost and fails (vm_mig_lost);
     * the guest is this host's again and starts over here. */
    vm->mig.migrating = false;
    vm->state = VM_STOPPED;
    if (vm_start(vm, err, sizeof(err)) != 0) {
        vm->state = VM_CRASHED;
        ksnprintf(vm->reason, sizeof(vm->reason), "%s; starting again failed: %s", why, err);
        console_guest_stopped(vm);
        console_notify("vm %s: %s", vm->name, vm->reason);
        return;
    }
    vm->log_len = log_len; /* the log goes on across the reset */
    console_notify("vm %s: %s; started again", vm->name, why);
}

/* An application processor's state at a start-up IPI (SDM Vol.3A 9.1.1
 * table 9-1, the INIT state, with CS from the vector, 9.4.4.1): real mode,
 * CS base vector * 4 KiB, IP 0, the rest as after RESET but the TSC. */
void vcpu_sipi_state(struct vcpu *v, uint8_t vector, struct vcpu_state *s)
{
    struct vcpu_state old;
    hv()->get_state(v, &old);
    memset(s, 0, sizeof(*s));
    const uint16_t code = SEG_ATTR_TYPE(0xb) | SEG_ATTR_S | SEG_ATTR_P;
    const uint16_t data = SEG_ATTR_TYPE(0x3) | SEG_ATTR_S | SEG_ATTR_P;
    struct seg_state ds = {0, data, 0xffff, 0};
    s->ds = s->es = s->fs = s->gs = s->ss = ds;
    s->cs = (struct seg_state){(uint16_t)(vector << 8), code, 0xffff, (uint64_t)vector << 12};
    s->tr = (struct seg_state){0, SEG_ATTR_TYPE(0xb) | SEG_ATTR_P, 0xffff, 0};
    s->ldtr = (struct seg_state){0, SEG_ATTR_TYPE(0x2) | SEG_ATTR_P, 0xffff, 0};
    s->gdtr.limit = s->idtr.limit = 0xffff;
    s->rflags = RFLAGS_FIXED;
    s->cr0 = CR0_ET; /* INIT keeps CD and NW, which hopvm's guests start with clear */
    s->dr6 = DR6_INIT;
    s->dr7 = DR7_INIT;
    s->pat = PAT_DEFAULT;
    s->tsc_offset = old.tsc_offset; /* INIT leaves the TSC alone */
}

/* A slot for a guest that arrives by teleport and is not in hopvm.cfg. */
struct vm *vm_new_slot(const char *name)
{
    if (nvms == CFG_MAX_VMS)
        return NULL;
    struct vm *vm = &vms[nvms++];
    memset(vm, 0, sizeof(*vm));
    ksnprintf(vm->name, sizeof(vm->name), "%s", name);
    vm->def = &vm->own_def;
    vm->exit_code = -1;
    return vm;
}

/* Undoes vm_new_slot when the teleport that wanted it failed. */
void vm_drop_slot(struct vm *vm)
{
    if (vm == &vms[nvms - 1] && vm->state == VM_STOPPED) {
        if (vm->log)
            page_free(vm->log, VM_LOG_SIZE / PAGE_SIZE);
        nvms--;
    }
}

void vm_stop(struct vm *vm)
{
    if (vm->state == VM_RUNNING || vm->state == VM_PAUSED) {
        teardown(vm);
        vm->state = VM_STOPPED;
        ksnprintf(vm->reason, sizeof(vm->reason), "stopped from the console");
    }
}

/* The guest ended itself (debug-exit port): tell the operator, free it. */
void vm_exited(struct vm *vm)
{
    teardown(vm);
    console_notify("vm %s: %s", vm->name, vm->reason);
}

void vm_crash(struct vm *vm, struct vcpu *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(vm->reason, sizeof(vm->reason), fmt, ap);
    va_end(ap);
    if (v) {
        hv()->get_state(v, &vm->regs);
        vm->have_regs = true;
    }
    vm->state = VM_CRASHED;
    teardown(vm);
    console_notify("vm %s: stopped: %s (RIP 0x%lx); 'vm info %s' shows the registers", vm->name,
                   vm->reason, vm->have_regs ? vm->regs.rip : 0, vm->name);
}
