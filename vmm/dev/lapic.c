/* Each vCPU's local APIC (vmm/lapic.c) where the guest reaches it: the
 * xAPIC page at 0xfee00000 (one MMIO range for every vCPU; the access goes
 * to the APIC of the vCPU that made it, as on hardware, SDM Vol.3A 11.4.1)
 * and, in vmm/msr.c, IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC
 * MSRs. Messages a register write sends (IPIs, EOIs of level-triggered
 * vectors) go to vmm/irq.c. The page stays at the default address: a
 * WRMSR that would move IA32_APIC_BASE is refused with #GP (vmm/msr.c; no
 * OS in use moves it). */
#include <hopvm/devstate.h>
#include <hopvm/lib.h>
#include <hopvm/mmio.h>
#include <hopvm/vm.h>

#define LAPIC_PAGE 0x1000
#define REG_ALIGN  0x10 /* registers sit on 16-byte boundaries, accessed as dwords (SDM 11.4.1) */

static void lapic_mmio(struct vcpu *v, void *ctx, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    (void)ctx;
    struct lapic *l = &v->lapic;
    /* SDM 11.4.1: the page exists while the APIC is globally enabled in
     * xAPIC mode; in x2APIC mode or disabled it is ordinary (absent)
     * memory space. */
    if (!lapic_hw_enabled(l) || lapic_x2apic(l)) {
        v->vm->mmio_unassigned++;
        if (!write)
            *val = ~0ull;
        return;
    }
    unsigned reg = (unsigned)off & ~(REG_ALIGN - 1u), shift = ((unsigned)off & 3) * 8;
    uint64_t now = vm_clock_ns(v->vm);
    if (!write) {
        /* Narrower or unaligned reads see the dword's bytes (what a CPU
         * does; the SDM leaves them undefined). */
        *val = (off & (REG_ALIGN - 1)) >= 4 ? 0 : (uint64_t)lapic_read(l, reg, now) >> shift;
        return;
    }
    if ((off & (REG_ALIGN - 1)) || size != 4)
        return; /* SDM 11.4.1: only aligned 32-bit writes are defined */
    struct lapic_out out;
    memset(&out, 0, sizeof(out));
    lapic_write(l, reg, (uint32_t)*val, now, &out);
    irq_lapic_out(v, &out);
}

void lapic_dev_attach(struct vm *vm)
{
    mmio_register(vm, LAPIC_DEFAULT_BASE, LAPIC_PAGE, lapic_mmio, NULL, "lapic");
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i])
            irq_vcpu_reset(vm->vcpus[i]);
}

/* ---- teleport: DEVICE "lapic", one per vCPU ----------------------------- */

/* The local APIC's registers, and what else the platform keeps per vCPU:
 * waiting for a SIPI, an NMI not yet taken, the KVM clock's address and
 * the MTRR default type. Times are the device clock's (timer-start,
 * timer-next) or the guest's TSC (tsc-deadline), which both continue on
 * the target. Register arrays are little-endian u32s, as in memory. */

#define APIC_BASE_ADDR_MASK 0xfffffffffffff000ull
#define SVR_WRITABLE        0x3ffu  /* vector, software enable, focus check (vmm/lapic.c) */
#define TDCR_VALID          0xbu    /* bits 0, 1, 3 (SDM 11.5.4) */
#define DFR_LOW_ONES        0x0fffffffu
#define MTRR_DEF_VALID      0xcffull /* E, FE, type (checked again below) */
#define RESERVED_VECTORS    0xffffu  /* vectors 0-15 of irr[0] etc.: never accepted (SDM 11.8.3) */
static const struct dev_field lapic_fields[] = {
    DEV_INT(struct lapic, apic_base, "apic-base", UINT64_MAX),
    DEV_INT(struct lapic, id, "id", UINT32_MAX),
    DEV_INT(struct lapic, tpr, "tpr", 0xff),
    DEV_INT(struct lapic, ldr, "ldr", UINT32_MAX),
    DEV_INT(struct lapic, dfr, "dfr", UINT32_MAX),
    DEV_INT(struct lapic, svr, "svr", SVR_WRITABLE),
    DEV_INT(struct lapic, esr, "esr", 0xff),
    DEV_INT(struct lapic, esr_pending, "esr-pending", 0xff),
    DEV_INT(struct lapic, icr_lo, "icr-lo", UINT32_MAX),
    DEV_INT(struct lapic, icr_hi, "icr-hi", UINT32_MAX),
    DEV_BYTES(struct lapic, lvt, "lvt"),
    DEV_INT(struct lapic, timer_initial, "timer-initial", UINT32_MAX),
    DEV_INT(struct lapic, timer_divide, "timer-divide", TDCR_VALID),
    DEV_INT(struct lapic, timer_start, "timer-start", UINT64_MAX),
    DEV_INT(struct lapic, timer_next, "timer-next", UINT64_MAX),
    DEV_INT(struct lapic, tsc_deadline, "tsc-deadline", UINT64_MAX),
    DEV_BYTES(struct lapic, irr, "irr"),
    DEV_BYTES(struct lapic, isr, "isr"),
    DEV_BYTES(struct lapic, tmr, "tmr"),
};
struct vcpu_local {
    bool wait_sipi, nmi_pending;
    uint64_t kvmclock, mtrr_def_type;
};
static const struct dev_field local_fields[] = {
    DEV_BOOL(struct vcpu_local, wait_sipi, "wait-sipi"),
    DEV_BOOL(struct vcpu_local, nmi_pending, "nmi-pending"),
    DEV_INT(struct vcpu_local, kvmclock, "kvmclock", UINT64_MAX),
    DEV_INT(struct vcpu_local, mtrr_def_type, "mtrr-def-type", MTRR_DEF_VALID),
};

unsigned lapic_dev_instances(const struct vm *vm) { return vm->nvcpus; }

int lapic_dev_save(struct vm *vm, unsigned i, struct mig_dev *d)
{
    const struct vcpu *v = vm->vcpus[i];
    struct vcpu_local loc = {v->wait_sipi, v->nmi_pending, v->kvmclock, v->mtrr_def_type};
    mig_dev_init(d, "lapic", i);
    if (devstate_save(d, NULL, &v->lapic, lapic_fields, ARRAY_SIZE(lapic_fields)))
        return -1;
    return devstate_save(d, NULL, &loc, local_fields, ARRAY_SIZE(local_fields));
}

/* What the model may hold: its own checks (vmm/lapic.c) made every value a
 * guest can write; a record from elsewhere gets the same limits here. */
static const char *lapic_bad(const struct lapic *l, unsigned i)
{
    uint64_t b = l->apic_base;
    if ((b & APIC_BASE_ADDR_MASK) != LAPIC_DEFAULT_BASE || (b & ~(APIC_BASE_ADDR_MASK | APIC_BASE_BSP |
                                                                  APIC_BASE_EXTD | APIC_BASE_EN)))
        return "apic-base is not the default address with valid flags";
    if ((b & APIC_BASE_EXTD) && !(b & APIC_BASE_EN))
        return "apic-base has x2APIC mode without the enable (SDM 11.12.5)";
    if (!(b & APIC_BASE_BSP) != (i != 0))
        return "apic-base's BSP flag is not the boot vCPU's";
    if (l->id != i)
        return "id is not the vCPU's (the MADT's)";
    if ((l->dfr & DFR_LOW_ONES) != DFR_LOW_ONES)
        return "dfr bits 27:0 are not all ones";
    if ((l->irr[0] | l->isr[0] | l->tmr[0]) & RESERVED_VECTORS)
        return "a vector below 16 is pending or in service";
    return NULL;
}

int lapic_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    struct lapic l;
    struct vcpu_local loc;
    if (d->instance >= vm->nvcpus)
        return ksnprintf(err, n, "lapic: instance %u of a guest with %u vCPUs", d->instance, vm->nvcpus), -1;
    memset(&l, 0, sizeof(l));
    memset(&loc, 0, sizeof(loc));
    if (devstate_load(d, NULL, &l, lapic_fields, ARRAY_SIZE(lapic_fields), err, n) ||
        devstate_load(d, NULL, &loc, local_fields, ARRAY_SIZE(local_fields), err, n))
        return -1;
    const char *bad = lapic_bad(&l, d->instance);
    if (!bad && !mtrr_type_valid(loc.mtrr_def_type & MTRR_TYPE_MASK))
        bad = "mtrr-def-type is not a memory type (SDM 12.11.2.1)";
    if (bad)
        return ksnprintf(err, n, "lapic %u: %s", d->instance, bad), -1;
    struct vcpu *v = vm->vcpus[d->instance];
    v->lapic = l;
    v->wait_sipi = loc.wait_sipi;
    v->nmi_pending = loc.nmi_pending;
    v->kvmclock = loc.kvmclock;
    v->mtrr_def_type = loc.mtrr_def_type;
    return 0;
}
