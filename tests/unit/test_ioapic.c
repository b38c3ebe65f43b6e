/* The I/O APIC model (vmm/ioapic.c) against the 82093AA datasheet: the
 * indirect register access, the ID/version/arbitration registers, the
 * redirection table's read-only bits, edge delivery on rising edges only
 * (and lost while masked), level delivery gated by remote IRR and re-sent
 * on EOI, unmasking an asserted level pin, the EOI register, and the
 * fields each message carries. */
#include "check.h"
#include <hopvm/ioapic.h>
#include <hopvm/lapic.h>

static struct ioapic io;
static struct ioapic_msg sent[16];
static unsigned nsent;

static void capture(void *ctx, const struct ioapic_msg *m)
{
    CHECK(ctx == &io);
    if (nsent < sizeof(sent) / sizeof(sent[0]))
        sent[nsent] = *m;
    nsent++;
}

static uint32_t reg_read(uint32_t reg)
{
    ioapic_write(&io, IOAPIC_REGSEL, reg, capture, &io);
    return ioapic_read(&io, IOAPIC_WINDOW);
}

static void reg_write(uint32_t reg, uint32_t val)
{
    ioapic_write(&io, IOAPIC_REGSEL, reg, capture, &io);
    ioapic_write(&io, IOAPIC_WINDOW, val, capture, &io);
}

static uint64_t rte(unsigned pin)
{
    return reg_read(IOAPIC_REG_REDIR + 2 * pin) | (uint64_t)reg_read(IOAPIC_REG_REDIR + 2 * pin + 1) << 32;
}

static void set_rte(unsigned pin, uint64_t e)
{
    reg_write(IOAPIC_REG_REDIR + 2 * pin + 1, (uint32_t)(e >> 32));
    reg_write(IOAPIC_REG_REDIR + 2 * pin, (uint32_t)e);
}

static void pin(unsigned p, bool level) { ioapic_set_irq(&io, p, level, capture, &io); }
static void eoi(uint8_t v) { ioapic_eoi(&io, v, capture, &io); }

static void fresh(void)
{
    ioapic_reset(&io, 0);
    nsent = 0;
}

static void registers(void)
{
    ioapic_reset(&io, 2);
    nsent = 0;
    CHECK_U64(reg_read(IOAPIC_REG_ID), 2u << 24);
    CHECK_U64(reg_read(IOAPIC_REG_VER), 0x00170011); /* 24 entries: max index 23 in bits 23:16 */
    CHECK_U64(reg_read(IOAPIC_REG_ARB), 2u << 24);
    /* Only ID bits 27:24 are writable; the arbitration ID follows it. */
    reg_write(IOAPIC_REG_ID, 0xffffffff);
    CHECK_U64(reg_read(IOAPIC_REG_ID), 0x0f000000);
    CHECK_U64(reg_read(IOAPIC_REG_ARB), 0x0f000000);
    reg_write(IOAPIC_REG_ID, 0x05000000);
    CHECK_U64(reg_read(IOAPIC_REG_ID), 0x05000000);
    /* Version and arbitration are read-only. */
    reg_write(IOAPIC_REG_VER, 0);
    reg_write(IOAPIC_REG_ARB, 0x0a000000);
    CHECK_U64(reg_read(IOAPIC_REG_VER), 0x00170011);
    CHECK_U64(reg_read(IOAPIC_REG_ARB), 0x05000000);
    /* IOREGSEL holds bits 7:0 and reads back. */
    ioapic_write(&io, IOAPIC_REGSEL, 0x1234, capture, &io);
    CHECK_U64(ioapic_read(&io, IOAPIC_REGSEL), 0x34);
    /* Every entry starts masked, edge, vector 0. */
    for (unsigned p = 0; p < IOAPIC_PINS; p++)
        CHECK_U64(rte(p), IOAPIC_RTE_MASKED);
    /* The two halves are separate registers: 0x10 + 2 * pin and + 1. */
    set_rte(5, 0xa5000000000080b1ull);
    CHECK_U64(reg_read(0x1a), 0x80b1);
    CHECK_U64(reg_read(0x1b), 0xa5000000);
    CHECK_U64(rte(4), IOAPIC_RTE_MASKED);
    CHECK_U64(rte(6), IOAPIC_RTE_MASKED);
    /* The last pin's entry is at 0x3e/0x3f; beyond it there is nothing. */
    set_rte(23, 0x0100000000010077ull);
    CHECK_U64(rte(23), 0x0100000000010077ull);
    reg_write(0x40, 0xffffffff);
    CHECK_U64(reg_read(0x40), 0);
    CHECK_U64(reg_read(0x03), 0);
    CHECK_U64(reg_read(0xff), 0);
    /* Delivery status (12) and remote IRR (14) are read-only: written 1, read 0. */
    set_rte(3, IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_MASKED | 0x33);
    CHECK_U64(rte(3), IOAPIC_RTE_MASKED | 0x33);
    /* Other offsets of the page read 0 and ignore writes. */
    ioapic_write(&io, IOAPIC_REGSEL, IOAPIC_REG_ID, capture, &io);
    ioapic_write(&io, 0x20, 0x0e000000, capture, &io);
    ioapic_write(&io, 0x04, 0x0e000000, capture, &io);
    CHECK_U64(ioapic_read(&io, 0x20), 0);
    CHECK_U64(ioapic_read(&io, IOAPIC_EOI), 0);
    CHECK_U64(ioapic_read(&io, IOAPIC_WINDOW), 0x05000000);
    CHECK_U64(nsent, 0);
}

static void edge(void)
{
    fresh();
    set_rte(4, 0x41); /* unmasked, edge, fixed, physical, vector 0x41 */
    pin(4, true);
    CHECK_U64(nsent, 1);
    CHECK_U64(sent[0].vector, 0x41);
    CHECK_U64(sent[0].pin, 4);
    CHECK(!sent[0].level_trig);
    pin(4, true); /* still high: no edge */
    CHECK_U64(nsent, 1);
    pin(4, false);
    CHECK_U64(nsent, 1);
    pin(4, true);
    CHECK_U64(nsent, 2);
    /* Edge entries have no remote IRR: an EOI of the vector does nothing. */
    eoi(0x41);
    CHECK_U64(nsent, 2);
    CHECK_U64(rte(4), 0x41);
    /* An edge while masked is lost: unmasking with the line high sends nothing. */
    pin(4, false);
    set_rte(4, IOAPIC_RTE_MASKED | 0x41);
    pin(4, true);
    CHECK_U64(nsent, 2);
    set_rte(4, 0x41);
    CHECK_U64(nsent, 2);
    pin(4, false);
    pin(4, true);
    CHECK_U64(nsent, 3);
    /* Unprogrammed (masked) pins and pins beyond 23 send nothing. */
    pin(7, true);
    pin(24, true);
    pin(200, true);
    CHECK_U64(nsent, 3);
    CHECK_U64(io.pin_level, (1u << 4) | (1u << 7));
}

static void level(void)
{
    fresh();
    set_rte(10, IOAPIC_RTE_LEVEL | 0x51);
    pin(10, true);
    CHECK_U64(nsent, 1);
    CHECK(sent[0].level_trig);
    CHECK_U64(rte(10), IOAPIC_RTE_LEVEL | IOAPIC_RTE_REMOTE_IRR | 0x51);
    /* Remote IRR set: nothing more until the EOI, whatever the line does. */
    pin(10, false);
    pin(10, true);
    CHECK_U64(nsent, 1);
    /* An EOI of another vector leaves it. */
    eoi(0x52);
    CHECK_U64(nsent, 1);
    CHECK(rte(10) & IOAPIC_RTE_REMOTE_IRR);
    /* The EOI with the line still asserted sends again, remote IRR set again. */
    eoi(0x51);
    CHECK_U64(nsent, 2);
    CHECK_U64(sent[1].vector, 0x51);
    CHECK(rte(10) & IOAPIC_RTE_REMOTE_IRR);
    /* Deasserted before the EOI: the EOI clears remote IRR and sends nothing. */
    pin(10, false);
    eoi(0x51);
    CHECK_U64(nsent, 2);
    CHECK(!(rte(10) & IOAPIC_RTE_REMOTE_IRR));
    pin(10, true);
    CHECK_U64(nsent, 3);
    /* The EOI register (offset 0x40) takes the vector from bits 7:0. */
    pin(10, false);
    ioapic_write(&io, IOAPIC_EOI, 0x151, capture, &io);
    CHECK(!(rte(10) & IOAPIC_RTE_REMOTE_IRR));
    CHECK_U64(nsent, 3);

    /* One EOI clears remote IRR on every level entry with that vector,
     * and each pin still asserted sends again. */
    fresh();
    set_rte(16, IOAPIC_RTE_LEVEL | 0x60);
    set_rte(17, IOAPIC_RTE_LEVEL | 0x60);
    set_rte(18, IOAPIC_RTE_LEVEL | 0x61);
    pin(16, true);
    pin(17, true);
    pin(18, true);
    CHECK_U64(nsent, 3);
    pin(17, false);
    eoi(0x60);
    CHECK_U64(nsent, 4);
    CHECK_U64(sent[3].pin, 16);
    CHECK(rte(16) & IOAPIC_RTE_REMOTE_IRR);
    CHECK(!(rte(17) & IOAPIC_RTE_REMOTE_IRR));
    CHECK(rte(18) & IOAPIC_RTE_REMOTE_IRR);

    /* A masked level entry sends nothing; unmasking it with the pin
     * asserted sends at once; masking it again keeps remote IRR. */
    fresh();
    set_rte(9, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x70);
    pin(9, true);
    CHECK_U64(nsent, 0);
    set_rte(9, IOAPIC_RTE_LEVEL | 0x70);
    CHECK_U64(nsent, 1);
    CHECK_U64(sent[0].pin, 9);
    set_rte(9, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x70);
    CHECK(rte(9) & IOAPIC_RTE_REMOTE_IRR);
    /* Masked: the EOI clears remote IRR but does not send. */
    eoi(0x70);
    CHECK_U64(nsent, 1);
    CHECK(!(rte(9) & IOAPIC_RTE_REMOTE_IRR));
    /* Rewriting an unmasked entry whose remote IRR is set does not send. */
    set_rte(9, IOAPIC_RTE_LEVEL | 0x70);
    CHECK_U64(nsent, 2);
    set_rte(9, IOAPIC_RTE_LEVEL | 0x70);
    CHECK_U64(nsent, 2);

    /* Level to edge clears remote IRR; back to level with the pin still
     * asserted sends, since nothing awaits an EOI any more. */
    set_rte(9, 0x70);
    CHECK_U64(rte(9), 0x70);
    CHECK_U64(nsent, 2);
    set_rte(9, IOAPIC_RTE_LEVEL | 0x70);
    CHECK_U64(nsent, 3);
    CHECK(rte(9) & IOAPIC_RTE_REMOTE_IRR);
}

static void message(void)
{
    fresh();
    /* Logical destination 0xa5, lowest priority, level, active-low. */
    set_rte(12, 0xa500000000000000ull | IOAPIC_RTE_LEVEL | IOAPIC_RTE_LOGICAL | IOAPIC_RTE_LOW_ACTIVE |
                    (uint64_t)APIC_DM_LOWEST << 8 | 0x99);
    /* Polarity is stored, not applied: the caller's "asserted" is asserted. */
    CHECK(rte(12) & IOAPIC_RTE_LOW_ACTIVE);
    CHECK_U64(nsent, 0);
    pin(12, true);
    CHECK_U64(nsent, 1);
    CHECK_U64(sent[0].vector, 0x99);
    CHECK_U64(sent[0].delivery, APIC_DM_LOWEST);
    CHECK(sent[0].logical);
    CHECK(sent[0].level_trig);
    CHECK_U64(sent[0].dest, 0xa5);
    CHECK_U64(sent[0].pin, 12);
    /* Physical, fixed, edge, destination 3. */
    set_rte(1, 0x0300000000000000ull | 0x31);
    pin(1, true);
    CHECK_U64(nsent, 2);
    CHECK_U64(sent[1].vector, 0x31);
    CHECK_U64(sent[1].delivery, APIC_DM_FIXED);
    CHECK(!sent[1].logical);
    CHECK(!sent[1].level_trig);
    CHECK_U64(sent[1].dest, 3);
    CHECK_U64(sent[1].pin, 1);
    /* ExtINT (the 8259's INTR through pin 0, Linux's "through 8259A" mode). */
    set_rte(0, (uint64_t)APIC_DM_EXTINT << 8);
    pin(0, true);
    CHECK_U64(nsent, 3);
    CHECK_U64(sent[2].delivery, APIC_DM_EXTINT);
    /* NMI programmed level is treated as edge (82093AA, delivery mode
     * NMI): no remote IRR, which no EOI would ever clear. */
    set_rte(2, IOAPIC_RTE_LEVEL | (uint64_t)APIC_DM_NMI << 8);
    pin(2, true);
    CHECK_U64(nsent, 4);
    CHECK_U64(sent[3].delivery, APIC_DM_NMI);
    CHECK(!sent[3].level_trig);
    CHECK(!(rte(2) & IOAPIC_RTE_REMOTE_IRR));
    pin(2, true);
    CHECK_U64(nsent, 4);
    pin(2, false);
    pin(2, true);
    CHECK_U64(nsent, 5);
}

/* An EOI the callback causes (a LAPIC that retires at once) finds remote
 * IRR already set and clears it; nothing recurses without end. */
static unsigned reentered;
static void eoi_at_once(void *ctx, const struct ioapic_msg *m)
{
    (void)ctx;
    if (reentered++ < 3)
        ioapic_eoi(&io, m->vector, eoi_at_once, NULL);
}

static void reentry(void)
{
    fresh();
    set_rte(8, IOAPIC_RTE_LEVEL | 0x88);
    reentered = 0;
    ioapic_set_irq(&io, 8, true, eoi_at_once, NULL);
    CHECK_U64(reentered, 4); /* the first send and three re-sends, each after its EOI */
    CHECK(rte(8) & IOAPIC_RTE_REMOTE_IRR);
}

int main(void)
{
    registers();
    edge();
    level();
    message();
    reentry();
    return check_report("test_ioapic");
}
