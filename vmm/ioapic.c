/* The I/O APIC as a pure model (include/hopvm/ioapic.h), after the Intel
 * 82093AA datasheet (order no. 290566), section 3 "Register Description":
 * IOREGSEL/IOWIN indirection, the ID, version and arbitration registers and
 * the 64-bit redirection table entries (IOREDTBL). Delivery is the
 * callback's business; the model decides when a message goes out:
 *
 *  - Edge-triggered entries send on a rising edge of the input while
 *    unmasked. An edge that arrives while the entry is masked is lost, as on
 *    the 82093AA (the mask bit gates the edge detector; there is no latch
 *    to replay when it is cleared).
 *  - Level-triggered entries send while the input is asserted, the entry is
 *    unmasked and remote IRR is clear, and set remote IRR; the local APIC's
 *    EOI clears it (82093AA "Remote IRR", bit 14), and a pin still asserted
 *    then sends again. Whatever makes that condition true — the input
 *    rising, an unmask, an EOI, a switch from edge to level — sends.
 *
 * Polarity (bit 13) is stored and read back but not applied: the caller
 * gives each input's logical state (asserted or not), and the entry's
 * polarity only says how the board wires the pin. The interrupts this
 * platform routes are ISA interrupts, active-high as its MADT describes
 * them (no interrupt source override changes polarity), so the guest
 * programs active-high and applying the bit would change nothing; where a
 * guest programs active-low anyway, inverting the caller's logical level
 * would make an idle line look asserted and storm. KVM's in-kernel I/O APIC
 * makes the same choice (arch/x86/kvm/ioapic.c: ioapic_set_irq never looks
 * at the polarity).
 *
 * Delivery status (bit 12) always reads 0 (idle): the callback takes each
 * message at once, so none is ever pending on the APIC bus. */
#include <hopvm/ioapic.h>
#include <hopvm/lib.h>

#define REGSEL_MASK       0xffu         /* IOREGSEL bits 7:0 select the register */
#define ID_SHIFT          24            /* IOAPICID bits 27:24 */
#define ID_MASK           0xfu
#define VER_MAX_REDIR_SHIFT 16          /* IOAPICVER bits 23:16: the highest entry's index */
#define REDIR_LAST        (IOAPIC_REG_REDIR + 2 * IOAPIC_PINS - 1)
#define RTE_VECTOR(e)     ((uint8_t)(e))
#define RTE_DELIVERY(e)   ((uint8_t)(((e) >> 8) & 7))
#define RTE_DEST(e)       ((uint8_t)((e) >> 56))
#define RTE_READ_ONLY     (IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE_IRR)
#define EOI_VECTOR_MASK   0xffu
/* Delivery modes (bits 10:8), the same encoding as APIC_DM_* of
 * <hopvm/lapic.h>: only these two can be level-triggered. */
#define DM_FIXED          0
#define DM_LOWEST         1

void ioapic_reset(struct ioapic *io, uint8_t id)
{
    memset(io, 0, sizeof(*io));
    io->id = id & ID_MASK;
    for (unsigned i = 0; i < IOAPIC_PINS; i++)
        io->rte[i] = IOAPIC_RTE_MASKED;
}

/* The 82093AA datasheet (IOREDTBL, "Delivery Mode") treats NMI and INIT as
 * edge-triggered even when programmed level, and SMI and ExtINT require
 * edge; only Fixed and Lowest Priority messages are ever EOIed by a local
 * APIC, so an entry of another mode programmed level would otherwise keep
 * remote IRR set for good and its pin dead. */
static bool is_level(uint64_t e)
{
    return (e & IOAPIC_RTE_LEVEL) && (RTE_DELIVERY(e) == DM_FIXED || RTE_DELIVERY(e) == DM_LOWEST);
}

static bool asserted(const struct ioapic *io, unsigned pin)
{
    return io->pin_level & (1u << pin);
}

static void send_entry(struct ioapic *io, unsigned pin, ioapic_send_fn send, void *ctx)
{
    uint64_t e = io->rte[pin];
    struct ioapic_msg m = {
        .vector = RTE_VECTOR(e),
        .delivery = RTE_DELIVERY(e),
        .logical = e & IOAPIC_RTE_LOGICAL,
        .level_trig = is_level(e),
        .dest = RTE_DEST(e),
        .pin = (uint8_t)pin,
    };
    send(ctx, &m);
}

/* A level entry sends when its pin is asserted, it is unmasked and no
 * earlier message awaits its EOI; remote IRR is set before the callback
 * runs, so an EOI the callback causes finds it set. */
static void service_level(struct ioapic *io, unsigned pin, ioapic_send_fn send, void *ctx)
{
    uint64_t e = io->rte[pin];
    if (!is_level(e) || (e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR)) || !asserted(io, pin))
        return;
    io->rte[pin] = e | IOAPIC_RTE_REMOTE_IRR;
    send_entry(io, pin, send, ctx);
}

static uint32_t read_reg(const struct ioapic *io, uint32_t reg)
{
    switch (reg) {
    case IOAPIC_REG_ID:
    case IOAPIC_REG_ARB: /* the arbitration ID is loaded from the APIC ID (82093AA, IOAPICARB) */
        return (io->id & ID_MASK) << ID_SHIFT;
    case IOAPIC_REG_VER:
        return IOAPIC_VERSION | (uint32_t)(IOAPIC_PINS - 1) << VER_MAX_REDIR_SHIFT;
    }
    if (reg >= IOAPIC_REG_REDIR && reg <= REDIR_LAST) {
        uint64_t e = io->rte[(reg - IOAPIC_REG_REDIR) / 2];
        return (reg - IOAPIC_REG_REDIR) & 1 ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0; /* no register there */
}

uint32_t ioapic_read(struct ioapic *io, unsigned off)
{
    switch (off) {
    case IOAPIC_REGSEL: return io->regsel;
    case IOAPIC_WINDOW: return read_reg(io, io->regsel);
    default: return 0; /* EOI is write-only; the rest of the page is unused */
    }
}

static void write_rte(struct ioapic *io, unsigned pin, bool high, uint32_t val, ioapic_send_fn send, void *ctx)
{
    uint64_t old = io->rte[pin], e;
    if (high) /* the destination, bits 63:56; the reserved rest kept as written */
        e = (old & 0xffffffffull) | (uint64_t)val << 32;
    else
        e = (old & ~0xffffffffull) | (old & RTE_READ_ONLY) | (val & ~(uint64_t)RTE_READ_ONLY);
    /* Remote IRR means nothing for an edge entry (82093AA, bit 14: defined
     * for level-triggered interrupts only): clear it so that switching
     * back to level does not find a stale one blocking the pin. */
    if (!is_level(e))
        e &= ~IOAPIC_RTE_REMOTE_IRR;
    io->rte[pin] = e;
    /* An unmask, or a switch to level, of an asserted pin sends now: the
     * level input is sampled, not an edge to be waited for. Edge entries
     * wait for the next rising edge. */
    service_level(io, pin, send, ctx);
}

void ioapic_write(struct ioapic *io, unsigned off, uint32_t val, ioapic_send_fn send, void *ctx)
{
    switch (off) {
    case IOAPIC_REGSEL:
        io->regsel = val & REGSEL_MASK;
        return;
    case IOAPIC_EOI:
        ioapic_eoi(io, (uint8_t)(val & EOI_VECTOR_MASK), send, ctx);
        return;
    case IOAPIC_WINDOW:
        break;
    default:
        return;
    }
    uint32_t reg = io->regsel;
    if (reg == IOAPIC_REG_ID)
        io->id = (val >> ID_SHIFT) & ID_MASK;
    else if (reg >= IOAPIC_REG_REDIR && reg <= REDIR_LAST)
        write_rte(io, (reg - IOAPIC_REG_REDIR) / 2, (reg - IOAPIC_REG_REDIR) & 1, val, send, ctx);
    /* version, arbitration and the unused registers are read-only */
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level, ioapic_send_fn send, void *ctx)
{
    if (pin >= IOAPIC_PINS)
        return; /* no such input */
    bool was = asserted(io, pin);
    if (level)
        io->pin_level |= 1u << pin;
    else
        io->pin_level &= ~(1u << pin);
    uint64_t e = io->rte[pin];
    if (is_level(e))
        service_level(io, pin, send, ctx);
    else if (level && !was && !(e & IOAPIC_RTE_MASKED))
        send_entry(io, pin, send, ctx);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector, ioapic_send_fn send, void *ctx)
{
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if (!is_level(e) || RTE_VECTOR(e) != vector || !(e & IOAPIC_RTE_REMOTE_IRR))
            continue;
        io->rte[pin] = e & ~IOAPIC_RTE_REMOTE_IRR;
        service_level(io, pin, send, ctx);
    }
}
