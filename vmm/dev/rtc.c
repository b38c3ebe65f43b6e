/* The guest's MC146818A RTC and CMOS RAM (vmm/mc146818.c) at ports 0x70
 * (index, bit 7 the NMI mask) and 0x71 (data). Its clock starts at the
 * host's wall time (drivers/rtc.c) and the guest may set its own without
 * touching the host's. Its interrupts (alarm, periodic, update-ended on
 * IRQ 8) are not emulated: the flags in register C never set. */
#include <hopvm/devstate.h>
#include <hopvm/lib.h>
#include <hopvm/mc146818.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>

#define RTC_PORT  0x70
#define RTC_PORTS 2

static bool rtc_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct vm *vm = v->vm;
    (void)ctx, (void)size; /* byte registers: a wider access takes its low byte */
    if (write)
        mc146818_write(&vm->rtc, port - RTC_PORT, (uint8_t)*val, wall_ns());
    else
        *val = mc146818_read(&vm->rtc, port - RTC_PORT, wall_ns());
    return true;
}

/* Port 0x80, the POST-code port: Linux writes it for a short I/O delay. */
static bool post_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    (void)v, (void)ctx, (void)port;
    if (!write)
        *val = 0xffffffffu >> (32 - 8 * size);
    return true;
}

void rtc_dev_attach(struct vm *vm)
{
    mc146818_reset(&vm->rtc, wall_ns());
    io_register(vm, RTC_PORT, RTC_PORTS, rtc_io, NULL, "rtc");
    io_register(vm, 0x80, 1, post_io, NULL, "post");
}

/* ---- teleport: DEVICE "mc146818" ---------------------------------------- */

/* offset-s and frozen-s are two's complement in a u64 (seconds from the
 * wall clock, which each host reads from its own RTC). */
static const struct dev_field rtc_fields[] = {
    DEV_INT(struct mc146818, index, "index", RTC_REGS - 1),
    DEV_BOOL(struct mc146818, nmi_masked, "nmi-masked"),
    DEV_BYTES(struct mc146818, regs, "regs"),
    DEV_INT(struct mc146818, offset_s, "offset-s", UINT64_MAX),
    DEV_INT(struct mc146818, frozen_s, "frozen-s", UINT64_MAX),
};

int rtc_dev_save(struct vm *vm, unsigned i, struct mig_dev *d)
{
    mig_dev_init(d, "mc146818", i);
    return devstate_save(d, NULL, &vm->rtc, rtc_fields, ARRAY_SIZE(rtc_fields));
}

int rtc_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    struct mc146818 r;
    memset(&r, 0, sizeof(r));
    if (devstate_load(d, NULL, &r, rtc_fields, ARRAY_SIZE(rtc_fields), err, n))
        return -1;
    vm->rtc = r;
    return 0;
}
