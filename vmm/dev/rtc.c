/* The guest's MC146818A RTC and CMOS RAM (vmm/mc146818.c) at ports 0x70
 * (index, bit 7 the NMI mask) and 0x71 (data). Its clock starts at the
 * host's wall time (drivers/rtc.c) and the guest may set its own without
 * touching the host's. No interrupts yet (no guest interrupt controller). */
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
