/* The 8259A pair model (vmm/i8259.c) against the 8259A datasheet: Linux's
 * initialization sequence and probe, the ICW sequence's variants, the EOI
 * forms of OCW2, fully nested priorities with rotation, special mask mode,
 * the poll command, automatic EOI, the cascade (vectors, special fully
 * nested mode), the spurious IR7, edge and level inputs, and the ELCR. */
#include "check.h"
#include <hopvm/i8259.h>

static struct i8259_pair pic;

#define M_CMD  I8259_MASTER_CMD
#define M_DATA I8259_MASTER_DATA
#define S_CMD  I8259_SLAVE_CMD
#define S_DATA I8259_SLAVE_DATA
#define ELCR_M I8259_ELCR
#define ELCR_S (I8259_ELCR + 1)
#define OCW3_READ_IRR 0x0a
#define OCW3_READ_ISR 0x0b
#define OCW3_POLL     0x0c
#define OCW3_SMM_ON   0x68
#define OCW3_SMM_OFF  0x48
#define NS_EOI        0x20
#define S_EOI(l)      (0x60 | (l))
#define R_NS_EOI      0xa0
#define R_S_EOI(l)    (0xe0 | (l))
#define SET_PRIO(l)   (0xc0 | (l))
#define R_AEOI_SET    0x80
#define R_AEOI_CLEAR  0x00

static void out(uint16_t port, uint8_t v) { i8259_write(&pic, port, v); }
static uint8_t in(uint16_t port) { return i8259_read(&pic, port); }
static void irq(unsigned n, bool level) { i8259_set_irq(&pic, n, level); }
static void pulse(unsigned n) { irq(n, true); irq(n, false); }

static uint8_t isr(uint16_t cmd)
{
    out(cmd, OCW3_READ_ISR);
    uint8_t v = in(cmd);
    out(cmd, OCW3_READ_IRR);
    return v;
}

/* arch/x86/kernel/i8259.c: init_8259A (vectors 0x30 and 0x38, not AEOI). */
static void linux_init(uint8_t icw4)
{
    out(M_DATA, 0xff);
    out(S_DATA, 0xff);
    out(M_CMD, 0x11);
    out(M_DATA, 0x30);
    out(M_DATA, 1u << I8259_CASCADE_IRQ);
    out(M_DATA, icw4);
    out(S_CMD, 0x11);
    out(S_DATA, 0x38);
    out(S_DATA, I8259_CASCADE_IRQ);
    out(S_DATA, 0x01);
}

static void linux_pair(void)
{
    i8259_reset(&pic);
    linux_init(0x01);
    /* Unmask all; everything else as after init. */
    out(M_DATA, 0);
    out(S_DATA, 0);
}

static void reset_state(void)
{
    i8259_reset(&pic);
    CHECK_U64(in(M_DATA), 0);
    CHECK_U64(in(S_DATA), 0);
    CHECK_U64(in(ELCR_M), 0);
    CHECK_U64(in(ELCR_S), 0);
    CHECK(!i8259_int(&pic));
    /* BIOS hand-off: bases 0x08 and 0x70, cascade on IR2, edge. */
    pulse(0);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x08);
    out(M_CMD, NS_EOI);
    pulse(8);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x70);
    CHECK_U64(isr(S_CMD), 0x01);
    CHECK_U64(isr(M_CMD), 0x04);
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    CHECK_U64(isr(S_CMD) | isr(M_CMD), 0);
    /* Nothing pending: the master's IR7, no ISR bit. */
    CHECK_U64(i8259_ack(&pic), 0x0f);
    CHECK_U64(isr(M_CMD), 0);
}

static void init_sequence(void)
{
    i8259_reset(&pic);
    /* Between ICW1 and the last ICW, data-port writes are ICWs, not IMR;
     * ICW1 cleared IMR. */
    out(M_DATA, 0xff);
    out(M_CMD, 0x11);
    CHECK_U64(in(M_DATA), 0);
    out(M_DATA, 0x30);
    CHECK_U64(in(M_DATA), 0);
    out(M_DATA, 0x04);
    CHECK_U64(in(M_DATA), 0);
    out(M_DATA, 0x01);
    CHECK_U64(in(M_DATA), 0);
    out(M_DATA, 0xfe); /* now OCW1 */
    CHECK_U64(in(M_DATA), 0xfe);
    /* Linux's probe: the slave masked, the master's mask written and read back. */
    out(S_DATA, 0xff);
    out(M_DATA, 0xfb);
    CHECK_U64(in(M_DATA), 0xfb);
    out(M_DATA, 0xff);
    CHECK_U64(in(M_DATA), 0xff);

    /* The full Linux sequence leaves both masked until drivers unmask. */
    i8259_reset(&pic);
    linux_init(0x01);
    out(M_DATA, 0xff);
    out(S_DATA, 0xff);
    CHECK_U64(in(M_DATA), 0xff);
    CHECK_U64(in(S_DATA), 0xff);
    pulse(1);
    CHECK(!i8259_int(&pic));
    out(M_DATA, 0xfd); /* the request waited in IRR */
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x31);
    out(M_CMD, S_EOI(1));
    /* A slave line needs the slave's bit and the cascade's. */
    pulse(12);
    CHECK(!i8259_int(&pic));
    out(S_DATA, 0xef);
    CHECK(!i8259_int(&pic));
    out(M_DATA, 0xf9);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x3c);
    out(S_CMD, S_EOI(4)); /* Linux's mask_and_ack_8259A: specific EOIs, slave then cascade */
    out(M_CMD, S_EOI(I8259_CASCADE_IRQ));
    CHECK_U64(isr(S_CMD) | isr(M_CMD), 0);
    /* Nothing pending: the master's IR7 at its new base. */
    CHECK_U64(i8259_ack(&pic), 0x37);

    /* Single mode without ICW4: ICW1, ICW2, then OCW1; ICW4 functions off. */
    i8259_reset(&pic);
    out(M_CMD, 0x12);
    out(M_DATA, 0x48);
    out(M_DATA, 0x55);
    CHECK_U64(in(M_DATA), 0x55);
    out(M_DATA, 0);
    pulse(3);
    CHECK_U64(i8259_ack(&pic), 0x4b);
    CHECK_U64(isr(M_CMD), 0x08); /* no AEOI */
    /* Cascade without ICW4: ICW1, ICW2, ICW3, then OCW1. */
    out(M_CMD, 0x10);
    out(M_DATA, 0x20);
    out(M_DATA, 0x04);
    out(M_DATA, 0x77);
    CHECK_U64(in(M_DATA), 0x77);
    CHECK_U64(isr(M_CMD), 0); /* ICW1 forgot what was in service */
    /* ICW2's low three bits are the level's, not the base's. */
    out(M_CMD, 0x13);
    out(M_DATA, 0x57);
    out(M_DATA, 0x01);
    out(M_DATA, 0);
    pulse(1);
    CHECK_U64(i8259_ack(&pic), 0x51);
}

static void eoi_forms(void)
{
    linux_pair();
    /* Nested: IR3 in service, IR1 (higher) interrupts it. */
    pulse(3);
    CHECK_U64(i8259_ack(&pic), 0x33);
    pulse(1);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x31);
    CHECK_U64(isr(M_CMD), 0x0a);
    /* Non-specific EOI: the highest-priority level in service (IR1). */
    out(M_CMD, NS_EOI);
    CHECK_U64(isr(M_CMD), 0x08);
    out(M_CMD, NS_EOI);
    CHECK_U64(isr(M_CMD), 0);
    out(M_CMD, NS_EOI); /* nothing in service: harmless */
    CHECK_U64(isr(M_CMD), 0);
    /* Specific EOI clears the level named, even if not the highest. */
    pulse(6);
    i8259_ack(&pic);
    pulse(4);
    i8259_ack(&pic);
    CHECK_U64(isr(M_CMD), 0x50);
    out(M_CMD, S_EOI(6));
    CHECK_U64(isr(M_CMD), 0x10);
    out(M_CMD, 0x40); /* OCW2 no-op */
    CHECK_U64(isr(M_CMD), 0x10);
    out(M_CMD, S_EOI(4));
    CHECK_U64(isr(M_CMD), 0);
    /* Non-specific EOI after set-priority: IR4 lowest makes IR5 highest,
     * then 6, 7, 0, ...: with IR1 and IR6 in service, IR6 is retired. */
    out(M_CMD, SET_PRIO(4));
    pulse(1);
    CHECK_U64(i8259_ack(&pic), 0x31);
    pulse(6);
    CHECK(i8259_int(&pic)); /* IR6 is above IR1 now */
    CHECK_U64(i8259_ack(&pic), 0x36);
    out(M_CMD, NS_EOI);
    CHECK_U64(isr(M_CMD), 0x02);
    out(M_CMD, NS_EOI);
    CHECK_U64(isr(M_CMD), 0);
}

/* Acks every pending request, EOIing each, and returns them in order. */
static unsigned drain(uint8_t *order, unsigned max)
{
    unsigned n = 0;
    while (i8259_int(&pic) && n < max) {
        order[n++] = (uint8_t)(i8259_ack(&pic) & 7);
        out(M_CMD, NS_EOI);
    }
    return n;
}

static void priorities(void)
{
    uint8_t order[8];
    linux_pair();
    /* Fully nested: IR0 highest. */
    pulse(7);
    pulse(4);
    pulse(3);
    CHECK_U64(drain(order, 8), 3);
    CHECK(order[0] == 3 && order[1] == 4 && order[2] == 7);
    /* A lower request waits for the EOI of a higher one in service. */
    pulse(5);
    CHECK_U64(i8259_ack(&pic), 0x35);
    pulse(6);
    CHECK(!i8259_int(&pic));
    pulse(5); /* the same level again: also blocked by itself */
    CHECK(!i8259_int(&pic));
    pulse(4);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x34);
    out(M_CMD, NS_EOI);
    CHECK(!i8259_int(&pic)); /* IR5 still in service */
    out(M_CMD, NS_EOI);
    CHECK_U64(drain(order, 8), 2);
    CHECK(order[0] == 5 && order[1] == 6);
    /* Rotate on non-specific EOI: the level retired becomes the lowest. */
    pulse(3);
    CHECK_U64(i8259_ack(&pic), 0x33);
    out(M_CMD, R_NS_EOI);
    pulse(3);
    pulse(1);
    pulse(4);
    CHECK_U64(drain(order, 8), 3);
    CHECK(order[0] == 4 && order[1] == 1 && order[2] == 3);
    /* Rotate on specific EOI: L becomes the lowest. */
    pulse(6);
    i8259_ack(&pic);
    out(M_CMD, R_S_EOI(6));
    CHECK_U64(isr(M_CMD), 0);
    pulse(6);
    pulse(0);
    pulse(7);
    CHECK_U64(drain(order, 8), 3);
    CHECK(order[0] == 7 && order[1] == 0 && order[2] == 6);
    /* Set priority: IR7 lowest is the reset order again. */
    out(M_CMD, SET_PRIO(7));
    pulse(7);
    pulse(0);
    CHECK_U64(drain(order, 8), 2);
    CHECK(order[0] == 0 && order[1] == 7);
    /* A masked request waits in IRR; unmasked, it interrupts. */
    out(M_DATA, 0x08);
    pulse(3);
    CHECK(!i8259_int(&pic));
    CHECK_U64(in(M_CMD), 0x08); /* IRR */
    out(M_DATA, 0);
    CHECK(i8259_int(&pic));
}

static void special_mask(void)
{
    linux_pair();
    pulse(3);
    CHECK_U64(i8259_ack(&pic), 0x33);
    pulse(5);
    CHECK(!i8259_int(&pic));
    /* Masking IR3 alone does not let IR5 through in the normal mode... */
    out(M_DATA, 0x08);
    CHECK(!i8259_int(&pic));
    /* ...but in special mask mode a masked in-service level stops nothing. */
    out(M_CMD, OCW3_SMM_ON);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x35);
    CHECK_U64(isr(M_CMD), 0x28);
    /* IR5 (unmasked) in service still blocks lower IR6 in special mask mode. */
    pulse(6);
    CHECK(!i8259_int(&pic));
    out(M_CMD, S_EOI(5));
    CHECK(i8259_int(&pic));
    /* Back to the normal mask mode: IR3 in service blocks IR6 again. */
    out(M_CMD, OCW3_SMM_OFF);
    CHECK(!i8259_int(&pic));
    /* OCW3 without ESMM leaves the special mask as it is. */
    out(M_CMD, 0x28 | 0x08);
    CHECK(!i8259_int(&pic));
    out(M_CMD, OCW3_SMM_ON);
    CHECK(i8259_int(&pic));
    /* ICW1 cancels special mask mode. */
    linux_init(0x01);
    out(M_DATA, 0x08);
    pulse(3);
    CHECK(!i8259_int(&pic));
    out(M_DATA, 0);
    CHECK_U64(i8259_ack(&pic), 0x33);
    out(M_DATA, 0x08);
    pulse(6);
    CHECK(!i8259_int(&pic));
}

static void poll(void)
{
    linux_pair();
    /* Nothing pending: bit 7 clear. */
    out(M_CMD, OCW3_POLL);
    CHECK_U64(in(M_CMD), 0);
    /* The poll read acknowledges: IRR -> ISR, the level in bits 2:0. */
    pulse(5);
    pulse(6);
    out(M_CMD, OCW3_POLL);
    CHECK_U64(in(M_DATA), 0); /* the data port still reads IMR; the poll waits */
    CHECK_U64(in(M_CMD), 0x85);
    CHECK_U64(in(M_CMD), 0x40); /* one read only: back to IRR, IR5 gone from it */
    CHECK_U64(isr(M_CMD), 0x20);
    /* Poll takes precedence over a register read in the same OCW3. */
    out(M_CMD, OCW3_POLL | OCW3_READ_ISR);
    CHECK_U64(in(M_CMD), 0); /* IR6 is below IR5 in service */
    CHECK_U64(in(M_CMD), 0x20); /* and the read register is now ISR */
    out(M_CMD, NS_EOI);
    out(M_CMD, OCW3_POLL);
    CHECK_U64(in(M_CMD), 0x86);
    out(M_CMD, NS_EOI);
    /* Polling a cascaded system: the master says IR2, the slave its level. */
    pulse(11);
    CHECK(i8259_int(&pic));
    out(M_CMD, OCW3_POLL);
    CHECK_U64(in(M_CMD), 0x82);
    out(S_CMD, OCW3_POLL);
    CHECK_U64(in(S_CMD), 0x83);
    CHECK(!i8259_int(&pic));
    CHECK_U64(isr(S_CMD), 0x08);
    CHECK_U64(isr(M_CMD), 0x04);
    /* Polling the slave alone takes its request away from the master too. */
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    pulse(12);
    CHECK(i8259_int(&pic));
    out(S_CMD, OCW3_POLL);
    CHECK_U64(in(S_CMD), 0x84);
    CHECK(!i8259_int(&pic));
}

static void auto_eoi(void)
{
    uint8_t order[8];
    i8259_reset(&pic);
    linux_init(0x03); /* 8086 mode, AEOI */
    out(M_DATA, 0);
    out(S_DATA, 0);
    pulse(4);
    CHECK_U64(i8259_ack(&pic), 0x34);
    CHECK_U64(isr(M_CMD), 0);
    /* Nothing in service, so a lower level interrupts at once. */
    pulse(6);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x36);
    /* Without rotation IR1 stays above IR2. */
    pulse(1);
    CHECK_U64(i8259_ack(&pic), 0x31);
    pulse(3);
    pulse(1);
    CHECK_U64(drain(order, 8), 2);
    CHECK(order[0] == 1 && order[1] == 3);
    /* Rotate in AEOI mode: each level acknowledged becomes the lowest. */
    out(M_CMD, R_AEOI_SET);
    pulse(1);
    CHECK_U64(i8259_ack(&pic), 0x31);
    pulse(1);
    pulse(3);
    CHECK_U64(i8259_ack(&pic), 0x33);
    CHECK_U64(i8259_ack(&pic), 0x31); /* IR3 is now lowest, IR1 comes after */
    out(M_CMD, R_AEOI_CLEAR);
    out(M_CMD, SET_PRIO(7));
    pulse(5);
    CHECK_U64(i8259_ack(&pic), 0x35);
    pulse(5);
    pulse(6);
    CHECK_U64(i8259_ack(&pic), 0x35); /* no rotation: IR5 still above IR6 */
    CHECK_U64(i8259_ack(&pic), 0x36);
    /* Linux's slave is never AEOI: it keeps its ISR bit for the EOI while
     * the master retired IR2 at INTA. */
    pulse(9);
    CHECK_U64(i8259_ack(&pic), 0x39);
    CHECK_U64(isr(S_CMD), 0x02);
    CHECK_U64(isr(M_CMD), 0);
}

static void cascade(void)
{
    linux_pair();
    for (unsigned n = 8; n < 16; n++) {
        pulse(n);
        CHECK(i8259_int(&pic));
        CHECK_U64(i8259_ack(&pic), 0x38 + (n - 8));
        CHECK_U64(isr(S_CMD), 1u << (n - 8));
        CHECK_U64(isr(M_CMD), 0x04);
        out(S_CMD, NS_EOI);
        out(M_CMD, NS_EOI);
    }
    /* IRQ 2 is the cascade itself: no device drives it. */
    irq(2, true);
    CHECK(!i8259_int(&pic));
    irq(2, false);
    irq(16, true);
    CHECK(!i8259_int(&pic));
    /* Master priorities: IR1 above the whole slave, the slave above IR3. */
    pulse(3);
    pulse(13);
    pulse(1);
    CHECK_U64(i8259_ack(&pic), 0x31);
    out(M_CMD, NS_EOI);
    CHECK_U64(i8259_ack(&pic), 0x3d);
    /* Normal nested mode: with the slave's IR5 in service, the master's
     * IS2 blocks even the slave's higher IR1. */
    pulse(9);
    CHECK(!i8259_int(&pic));
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    CHECK_U64(i8259_ack(&pic), 0x39);
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    CHECK_U64(i8259_ack(&pic), 0x33);
    out(M_CMD, NS_EOI);
    CHECK(!i8259_int(&pic));

    /* Special fully nested mode (master ICW4 bit 4): a higher request of
     * the slave whose request is in service gets through; lower master
     * levels are still blocked by IS2, and so are lower slave levels. */
    i8259_reset(&pic);
    out(M_CMD, 0x11);
    out(M_DATA, 0x30);
    out(M_DATA, 0x04);
    out(M_DATA, 0x11);
    out(S_CMD, 0x11);
    out(S_DATA, 0x38);
    out(S_DATA, 0x02);
    out(S_DATA, 0x01);
    pulse(13);
    CHECK_U64(i8259_ack(&pic), 0x3d);
    pulse(14);
    pulse(3);
    CHECK(!i8259_int(&pic));
    pulse(9);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x39);
    CHECK_U64(isr(S_CMD), 0x22);
    /* Software checks the slave's ISR before the master's EOI. */
    out(S_CMD, NS_EOI);
    CHECK_U64(isr(S_CMD), 0x20);
    out(S_CMD, NS_EOI);
    CHECK_U64(isr(S_CMD), 0);
    /* The slave's IR6, below its IR5 until now, gets through IS2 as well. */
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x3e);
    CHECK_U64(isr(M_CMD), 0x04);
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    CHECK_U64(isr(M_CMD), 0);
    CHECK_U64(i8259_ack(&pic), 0x33);
    out(M_CMD, NS_EOI);
    /* It opens IR2 to the cascade only: IR1 in service still blocks the slave. */
    pulse(1);
    CHECK_U64(i8259_ack(&pic), 0x31);
    pulse(10);
    CHECK(!i8259_int(&pic));
    out(M_CMD, NS_EOI);
    CHECK_U64(i8259_ack(&pic), 0x3a);
}

static void edge_and_level(void)
{
    linux_pair();
    /* Edge: latched on the rising edge, kept after the line falls. */
    irq(4, true);
    irq(4, false);
    CHECK_U64(in(M_CMD), 0x10);
    CHECK_U64(i8259_ack(&pic), 0x34);
    CHECK_U64(in(M_CMD), 0);
    out(M_CMD, NS_EOI);
    /* A line held high requests once. */
    irq(4, true);
    CHECK_U64(i8259_ack(&pic), 0x34);
    out(M_CMD, NS_EOI);
    irq(4, true);
    CHECK(!i8259_int(&pic));
    irq(4, false);
    irq(4, true);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x34);
    out(M_CMD, NS_EOI);
    /* ICW1 resets the edge sense: a line high through init must fall and rise. */
    linux_init(0x01);
    out(M_DATA, 0);
    out(S_DATA, 0);
    irq(4, true);
    CHECK(!i8259_int(&pic));
    irq(4, false);
    irq(4, true);
    CHECK_U64(i8259_ack(&pic), 0x34);
    out(M_CMD, NS_EOI);
    irq(4, false);

    /* Level (ELCR): IRR is the line. */
    out(ELCR_S, 0x0e); /* IRQ 9, 10, 11 */
    CHECK_U64(in(ELCR_S), 0x0e);
    irq(10, true);
    CHECK(i8259_int(&pic));
    irq(10, false);
    CHECK(!i8259_int(&pic)); /* withdrawn before INTA: gone, master IR2 too */
    CHECK_U64(in(S_CMD), 0);
    CHECK_U64(in(M_CMD), 0);
    irq(10, true);
    CHECK_U64(i8259_ack(&pic), 0x3a);
    CHECK_U64(in(S_CMD), 0x04); /* still requesting after INTA */
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    CHECK(i8259_int(&pic)); /* still high after the EOI: again */
    CHECK_U64(i8259_ack(&pic), 0x3a);
    irq(10, false); /* the handler quietened the device */
    out(S_CMD, NS_EOI);
    out(M_CMD, NS_EOI);
    CHECK(!i8259_int(&pic));
    /* A line that turns level while high requests; back to edge, the
     * request it had stays until acknowledged. */
    irq(5, true);
    CHECK_U64(i8259_ack(&pic), 0x35);
    out(M_CMD, NS_EOI);
    CHECK(!i8259_int(&pic));
    out(ELCR_M, 0x20);
    CHECK(i8259_int(&pic));
    out(ELCR_M, 0);
    CHECK(i8259_int(&pic));
    CHECK_U64(i8259_ack(&pic), 0x35);
    out(M_CMD, NS_EOI);
    CHECK(!i8259_int(&pic));
    irq(5, false);

    /* LTIM (ICW1 bit 3): every input of that chip level-triggered. */
    i8259_reset(&pic);
    out(M_CMD, 0x19);
    out(M_DATA, 0x30);
    out(M_DATA, 0x04);
    out(M_DATA, 0x01);
    irq(1, true);
    CHECK(i8259_int(&pic));
    irq(1, false);
    CHECK(!i8259_int(&pic));
    irq(1, true);
    CHECK_U64(i8259_ack(&pic), 0x31);
    out(M_CMD, NS_EOI);
    CHECK(i8259_int(&pic));
    /* ...and the slave, not in LTIM, stays edge. */
    irq(9, true);
    irq(9, false);
    CHECK_U64(in(S_CMD), 0x02);

    /* The ELCR's reserved bits: IRQ 0, 1, 2, 8, 13 are always edge. */
    i8259_reset(&pic);
    out(ELCR_M, 0xff);
    out(ELCR_S, 0xff);
    CHECK_U64(in(ELCR_M), 0xf8);
    CHECK_U64(in(ELCR_S), 0xde);
    irq(0, true);
    irq(0, false);
    CHECK(i8259_int(&pic)); /* still latched: IRQ 0 is edge */
    CHECK_U64(i8259_ack(&pic), 0x08);
    out(M_CMD, NS_EOI);
    irq(3, true);
    irq(3, false);
    CHECK(!i8259_int(&pic)); /* IRQ 3 is level now */
    out(ELCR_M, 0);
    out(ELCR_S, 0);
    CHECK_U64(in(ELCR_M) | in(ELCR_S), 0);
    /* Unknown ports read as open bus and ignore writes. */
    CHECK_U64(in(0x22), 0xff);
    out(0x23, 0x5a);
    out(0xa2, 0x5a);
    CHECK_U64(in(M_DATA) | in(S_DATA), 0);
}

int main(void)
{
    reset_state();
    init_sequence();
    eoi_forms();
    priorities();
    special_mask();
    poll();
    auto_eoi();
    cascade();
    edge_and_level();
    return check_report("test_i8259");
}
