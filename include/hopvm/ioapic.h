/* The I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt
 * Controller datasheet, order no. 290566: "Register Description", the
 * redirection table, remote IRR for level-triggered pins), 24 pins, as a
 * pure model. The platform puts it at 0xfec00000 (vmm/dev/ioapic.c); the
 * model gets pin levels and EOIs and hands each interrupt message to a
 * callback, which routes it to the local APICs. Unit-tested on Linux
 * (tests/unit/test_ioapic.c); the struct is all a teleport carries. */
#ifndef HOPVM_IOAPIC_H
#define HOPVM_IOAPIC_H
#include <stdbool.h>
#include <stdint.h>

#define IOAPIC_DEFAULT_BASE 0xfec00000ull
#define IOAPIC_PINS         24
#define IOAPIC_VERSION      0x11 /* 82093AA */
#define IOAPIC_REGSEL       0x00 /* offsets in its page */
#define IOAPIC_WINDOW       0x10
#define IOAPIC_EOI          0x40 /* the directed-EOI register of later versions; accepted, as KVM does */
#define IOAPIC_REG_ID       0x00
#define IOAPIC_REG_VER      0x01
#define IOAPIC_REG_ARB      0x02
#define IOAPIC_REG_REDIR    0x10 /* 0x10 + 2 * pin: low dword, +1 high dword */

#define IOAPIC_RTE_MASKED     (1ull << 16)
#define IOAPIC_RTE_LEVEL      (1ull << 15)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LOW_ACTIVE (1ull << 13)
#define IOAPIC_RTE_PENDING    (1ull << 12) /* delivery status: read-only */
#define IOAPIC_RTE_LOGICAL    (1ull << 11)

/* One interrupt message for the local APICs. */
struct ioapic_msg {
    uint8_t vector;
    uint8_t delivery;   /* APIC_DM_* of <hopvm/lapic.h> */
    bool logical;
    bool level_trig;
    uint8_t dest;       /* bits 63:56 of the entry */
    uint8_t pin;
};
typedef void (*ioapic_send_fn)(void *ctx, const struct ioapic_msg *m);

struct ioapic {
    uint32_t id;
    uint32_t regsel;
    uint64_t rte[IOAPIC_PINS];
    uint32_t pin_level;  /* bit per pin: the input's current (electrical) level, 1 = asserted */
};

/* Reset: every entry masked, edge, vector 0; id as given. */
void ioapic_reset(struct ioapic *io, uint8_t id);
/* 32-bit accesses to its page (IOREGSEL, IOWIN, EOI). A write that unmasks
 * an asserted level pin, or an EOI, may send through `send`. */
uint32_t ioapic_read(struct ioapic *io, unsigned off);
void ioapic_write(struct ioapic *io, unsigned off, uint32_t val, ioapic_send_fn send, void *ctx);
/* The input at `pin` goes to `level` (true = asserted, before polarity:
 * the caller gives the device's logical state, the entry's polarity bit
 * says nothing to it — ISA devices are active-high, as the MADT says).
 * Edge entries send on a rising edge; level entries send while asserted
 * and remote IRR is clear. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level, ioapic_send_fn send, void *ctx);
/* A local APIC retired level-triggered `vector`: remote IRR cleared on
 * every entry with that vector; a pin still asserted sends again. */
void ioapic_eoi(struct ioapic *io, uint8_t vector, ioapic_send_fn send, void *ctx);

#endif
