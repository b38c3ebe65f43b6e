/* The guest's 8254 timer (vmm/i8254.c) at ports 0x40-0x43, and port 0x61
 * (system control port B of the PC/AT: bit 0 channel 2's gate, bit 1 the
 * speaker's data enable, bit 4 the refresh toggle, bit 5 channel 2's OUT),
 * so a guest can calibrate its TSC against the PIT as Linux does: channel
 * 2 in mode 0, gated by port 0x61, polled through OUT or the count. The
 * input clock is 1.193182 MHz of host time (TSC-based, as the guest's TSC
 * is), the guest's device clock (vm_clock_ns), which a teleport carries
 * on. Channel 0's OUT is wired to IRQ 0: each rise of OUT since the last
 * look is one edge on the line (several missed periods become one, as a
 * late edge-triggered interrupt would). */
#include <hopvm/devstate.h>
#include <hopvm/i8254.h>
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>

#define PIT_PORT        0x40
#define PIT_PORTS       4
#define PORT_B          0x61
#define PORTB_GATE2     0x01
#define PORTB_SPEAKER   0x02
#define PORTB_REFRESH   0x10
#define PORTB_OUT2      0x20
#define PORTB_WRITABLE  (PORTB_GATE2 | PORTB_SPEAKER)
#define REFRESH_NS      15085 /* the refresh request toggles about every 15 us */
#define NS_PER_S        1000000000ull

/* The guest's clock in PIT input-clock ticks, without overflowing for centuries. */
static uint64_t pit_now(const struct vm *vm)
{
    uint64_t ns = vm_clock_ns(vm);
    return ns / NS_PER_S * I8254_HZ + ns % NS_PER_S * I8254_HZ / NS_PER_S;
}

static bool pit_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct vm *vm = v->vm;
    (void)ctx, (void)size; /* byte registers: a wider access takes its low byte */
    if (write)
        i8254_write(&vm->pit, port - PIT_PORT, (uint8_t)*val, pit_now(vm));
    else
        *val = i8254_read(&vm->pit, port - PIT_PORT, pit_now(vm));
    return true;
}

static bool portb_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct vm *vm = v->vm;
    (void)ctx, (void)port, (void)size;
    uint64_t now = pit_now(vm);
    if (write) {
        vm->port_b = (uint8_t)(*val & PORTB_WRITABLE);
        i8254_set_gate(&vm->pit, 2, vm->port_b & PORTB_GATE2, now);
        return true;
    }
    *val = vm->port_b | (i8254_out(&vm->pit, 2, now) ? PORTB_OUT2 : 0) |
           ((time_ns() / REFRESH_NS) & 1 ? PORTB_REFRESH : 0);
    return true;
}

void pit_dev_poll(struct vm *vm)
{
    const struct i8254_channel *c = &vm->pit.ch[0];
    if (c->start != vm->pit_seen_start) { /* a new count: its edges start from 0 */
        vm->pit_seen_start = c->start;
        vm->pit_periods = 0;
    }
    uint64_t edges = i8254_edges(&vm->pit, 0, pit_now(vm));
    if (edges > vm->pit_periods) {
        vm->pit_periods = edges;
        irq_pulse(vm, 0);
    }
}

void pit_dev_attach(struct vm *vm)
{
    vm->pit_seen_start = 0;
    vm->pit_periods = 0;
    i8254_reset(&vm->pit);
    vm->port_b = 0;
    i8254_set_gate(&vm->pit, 2, false, pit_now(vm)); /* port 0x61 bit 0 is 0 at reset */
    io_register(vm, PIT_PORT, PIT_PORTS, pit_io, NULL, "pit");
    io_register(vm, PORT_B, 1, portb_io, NULL, "port 0x61");
}

/* ---- teleport: DEVICE "i8254", fields prefixed ch0- .. ch2- ------------- */

#define PIT_MODE_MAX   5
#define PIT_ACCESS_MAX 3
#define PIT_RELOAD_MAX 65536
static const struct dev_field ch_fields[] = {
    DEV_INT(struct i8254_channel, mode, "mode", PIT_MODE_MAX),
    DEV_INT(struct i8254_channel, access, "access", PIT_ACCESS_MAX),
    DEV_BOOL(struct i8254_channel, bcd, "bcd"),
    DEV_INT(struct i8254_channel, reload, "reload", PIT_RELOAD_MAX),
    DEV_BOOL(struct i8254_channel, loaded, "loaded"),
    DEV_BOOL(struct i8254_channel, counting, "counting"),
    DEV_BOOL(struct i8254_channel, out_low, "out-low"),
    DEV_INT(struct i8254_channel, start, "start", UINT64_MAX),   /* PIT ticks of the device clock */
    DEV_INT(struct i8254_channel, frozen, "frozen", UINT64_MAX),
    DEV_BOOL(struct i8254_channel, gate, "gate"),
    DEV_INT(struct i8254_channel, write_lsb, "write-lsb", 0xff),
    DEV_BOOL(struct i8254_channel, write_msb_next, "write-msb-next"),
    DEV_BOOL(struct i8254_channel, read_msb_next, "read-msb-next"),
    DEV_BOOL(struct i8254_channel, latched, "latched"),
    DEV_INT(struct i8254_channel, latch, "latch", 0xffff),
    DEV_BOOL(struct i8254_channel, latch_msb_next, "latch-msb-next"),
    DEV_BOOL(struct i8254_channel, status_latched, "status-latched"),
    DEV_INT(struct i8254_channel, status, "status", 0xff),
};
static const char *const ch_prefix[I8254_CHANNELS] = {"ch0-", "ch1-", "ch2-"};

int pit_dev_save(struct vm *vm, unsigned i, struct mig_dev *d)
{
    mig_dev_init(d, "i8254", i);
    for (unsigned c = 0; c < I8254_CHANNELS; c++)
        if (devstate_save(d, ch_prefix[c], &vm->pit.ch[c], ch_fields, ARRAY_SIZE(ch_fields)))
            return -1;
    return mig_dev_put_u32(d, "port-b", vm->port_b);
}

int pit_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    struct i8254 p;
    uint32_t port_b;
    memset(&p, 0, sizeof(p));
    for (unsigned c = 0; c < I8254_CHANNELS; c++) {
        if (devstate_load(d, ch_prefix[c], &p.ch[c], ch_fields, ARRAY_SIZE(ch_fields), err, n))
            return -1;
        if (!p.ch[c].access)
            return ksnprintf(err, n, "i8254: %saccess is 0", ch_prefix[c]), -1;
    }
    if (mig_dev_get_u32(d, "port-b", &port_b, err, n))
        return -1;
    if (port_b & ~PORTB_WRITABLE)
        return ksnprintf(err, n, "i8254: port-b 0x%x sets bits that are not writable", port_b), -1;
    vm->pit = p;
    vm->port_b = (uint8_t)port_b;
    return 0;
}
