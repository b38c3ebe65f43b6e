/* The guest's ACPI fixed hardware (ACPI 6.5 4.8, the FADT of
 * vmm/acpi_guest.c) and the PC's two reset lines:
 *  - PM1a event block: PM1_STS (write 1 to clear) and PM1_EN (ACPI 6.5
 *    4.8.3.1); no event ever fires (no power button, no timer overflow
 *    SCI), so the status stays clear;
 *  - PM1a control: SCI_EN always reads 1 (the FADT has no SMI_CMD: the
 *    platform is in ACPI mode from the start, 4.8.3.2.1); SLP_EN with the
 *    \_S5 value in SLP_TYP powers the guest off (7.4.2, 16.1.7);
 *  - the PM timer: 24 bits at 3.579545 MHz of the guest's device clock
 *    (4.8.3.3), so a guest calibrates its TSC against it;
 *  - port 0xcf9, the reset control register of the PIIX/ICH chipsets (the
 *    FADT's RESET_REG): RST_CPU set resets the guest;
 *  - the i8042's output port: command 0xfe on port 0x64 pulses the reset
 *    line (what Linux's reboot=kbd and many boot loaders do). Its status
 *    register reads "no data, system flag set"; there is no keyboard.
 * Resets and power-off end or restart this guest only. */
#include <hopvm/acpi.h>
#include <hopvm/acpi_guest.h>
#include <hopvm/devstate.h>
#include <hopvm/lib.h>
#include <hopvm/vm.h>

#define PM1_STS        (GUEST_PM1A_EVT - GUEST_PM_BASE)
#define PM1_EN         (PM1_STS + 2)
#define PM1_CNT        (GUEST_PM1A_CNT - GUEST_PM_BASE)
#define PM_TMR         (GUEST_PM_TMR - GUEST_PM_BASE)
#define PM1_CNT_SCI_EN 0x0001
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP_MASK  7u
#define PM1_CNT_SLP_EN 0x2000
#define PM1_CNT_WRITABLE 0x1c06 /* BM_RLD, GBL_RLS, SLP_TYP; SLP_EN is write-only */
#define PM_TMR_MASK    0xffffffu
#define NS_PER_S       1000000000ull
#define RST_CPU        0x04     /* 0xcf9 bit 2: the reset itself (bit 1 picks hard or soft) */
#define I8042_DATA     0x60
#define I8042_CMD      0x64
#define I8042_RESET    0xfe     /* pulse output port bit 0, the CPU's reset line */
#define I8042_STS_SYS  0x04

static uint32_t pm_timer(struct vm *vm)
{
    uint64_t ns = vm_clock_ns(vm);
    return (uint32_t)((ns / NS_PER_S * ACPI_PM_TIMER_HZ + ns % NS_PER_S * ACPI_PM_TIMER_HZ / NS_PER_S) & PM_TMR_MASK);
}

static void power_off(struct vm *vm)
{
    vm->exit_code = 0;
    vm->state = VM_EXITED;
    ksnprintf(vm->reason, sizeof(vm->reason), "powered off (ACPI S5)");
}

static void reset(struct vm *vm, const char *how)
{
    vm->reset_pending = true;
    ksnprintf(vm->reason, sizeof(vm->reason), "reset by the guest (%s)", how);
}

/* One byte of PM1_STS, PM1_EN or PM1_CNT (the block may be accessed by
 * byte, word or dword: ACPI 6.5 4.8.3 only fixes the registers' widths). */
static uint8_t pm_read_byte(struct vm *vm, unsigned off)
{
    uint16_t r = off < PM1_EN ? vm->pm.sts : off < PM1_CNT ? vm->pm.en : (uint16_t)(vm->pm.cnt | PM1_CNT_SCI_EN);
    return (uint8_t)(r >> (8 * (off & 1)));
}

static void pm_write_byte(struct vm *vm, unsigned off, uint8_t b)
{
    unsigned shift = 8 * (off & 1);
    if (off < PM1_EN)
        vm->pm.sts &= (uint16_t)~(b << shift); /* status bits: write 1 to clear */
    else if (off < PM1_CNT)
        vm->pm.en = (uint16_t)((vm->pm.en & ~(0xff << shift)) | b << shift);
    else {
        uint16_t cnt = (uint16_t)((vm->pm.cnt & ~(0xff << shift)) | b << shift);
        vm->pm.cnt = cnt & PM1_CNT_WRITABLE;
        if ((cnt & PM1_CNT_SLP_EN) && ((cnt >> PM1_CNT_SLP_TYP_SHIFT) & PM1_CNT_SLP_TYP_MASK) == GUEST_SLP_TYP_S5)
            power_off(vm);
    }
}

static bool pm_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    (void)ctx;
    struct vm *vm = v->vm;
    unsigned off = port - GUEST_PM_BASE;
    if (off >= PM_TMR) {
        if (!write)
            *val = pm_timer(vm) >> (8 * (off - PM_TMR));
        return true; /* read-only */
    }
    uint32_t r = 0;
    for (unsigned i = 0; i < size && off + i < PM_TMR; i++) {
        if (off + i >= PM1_CNT + 2)
            continue; /* the gap before the timer: nothing there */
        if (write)
            pm_write_byte(vm, off + i, (uint8_t)(*val >> (8 * i)));
        else
            r |= (uint32_t)pm_read_byte(vm, off + i) << (8 * i);
    }
    if (!write)
        *val = r;
    return true;
}

static bool cf9_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    (void)ctx, (void)port, (void)size;
    if (!write)
        *val = 0;
    else if (*val & RST_CPU)
        reset(v->vm, "port 0xcf9");
    return true;
}

static bool i8042_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    (void)ctx, (void)size;
    if (!write)
        *val = port == I8042_CMD ? I8042_STS_SYS : 0;
    else if (port == I8042_CMD && (uint8_t)*val == I8042_RESET)
        reset(v->vm, "i8042");
    return true;
}

void pm_dev_attach(struct vm *vm)
{
    memset(&vm->pm, 0, sizeof(vm->pm));
    vm->reset_pending = false;
    io_register(vm, GUEST_PM_BASE, GUEST_PM_LEN, pm_io, NULL, "acpi pm");
    io_register(vm, GUEST_RESET_PORT, 1, cf9_io, NULL, "reset 0xcf9");
    io_register(vm, I8042_DATA, 1, i8042_io, NULL, "i8042 data");
    io_register(vm, I8042_CMD, 1, i8042_io, NULL, "i8042");
}

/* ---- teleport: DEVICE "pc-platform" ------------------------------------- */

/* The PM block, the ISA lines' levels, what the PIT's IRQ 0 has seen, and
 * the device clock itself: every device's time (APIC timers, PIT, PM
 * timer) is this clock's, so the target continues it from the value at
 * the source's pause (vm_incoming_commit). */

#define ISA_LINES_MAX 0xffffu
struct platform {
    uint16_t sts, en, cnt;
    uint32_t isa;
    uint64_t edges, count_start;
};
static const struct dev_field platform_fields[] = {
    DEV_INT(struct platform, sts, "pm1-sts", 0xffff),
    DEV_INT(struct platform, en, "pm1-en", 0xffff),
    DEV_INT(struct platform, cnt, "pm1-cnt", PM1_CNT_WRITABLE),
    DEV_INT(struct platform, isa, "isa-levels", ISA_LINES_MAX),
    DEV_INT(struct platform, edges, "pit-edges", UINT64_MAX),
    DEV_INT(struct platform, count_start, "pit-count-start", UINT64_MAX),
};

int pm_dev_save(struct vm *vm, unsigned i, struct mig_dev *d)
{
    struct platform p = {vm->pm.sts, vm->pm.en, vm->pm.cnt, vm->isa_irq_level, vm->pit_periods, vm->pit_seen_start};
    mig_dev_init(d, "pc-platform", i);
    if (devstate_save(d, NULL, &p, platform_fields, ARRAY_SIZE(platform_fields)))
        return -1;
    return mig_dev_put_u64(d, "clock-ns", vm_clock_ns(vm));
}

int pm_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    struct platform p;
    uint64_t clock;
    memset(&p, 0, sizeof(p));
    if (devstate_load(d, NULL, &p, platform_fields, ARRAY_SIZE(platform_fields), err, n) ||
        mig_dev_get_u64(d, "clock-ns", &clock, err, n))
        return -1;
    if (p.cnt & ~PM1_CNT_WRITABLE)
        return ksnprintf(err, n, "pc-platform: pm1-cnt 0x%x sets bits that are not kept", p.cnt), -1;
    vm->pm.sts = p.sts, vm->pm.en = p.en, vm->pm.cnt = p.cnt;
    vm->isa_irq_level = p.isa;
    vm->pit_periods = p.edges;
    vm->pit_seen_start = p.count_start;
    vm->mig.incoming_clock = clock;
    return 0;
}
