/* The PC/AT 8259A pair as a pure model (include/hopvm/i8259.h), after the
 * Intel 8259A datasheet (order no. 231468): "Initialization Command Words"
 * (ICW1-ICW4), "Operation Command Words" (OCW1-OCW3), "Fully Nested Mode",
 * "End of Interrupt", "Automatic Rotation", "Specific Rotation", "Special
 * Mask Mode", "Poll Command", "Cascade Mode", "Special Fully Nested Mode",
 * "Edge and Level Triggered Modes", plus the ELCR of the PIIX/EISA bridges.
 *
 * Choices where the datasheet leaves room or describes analog timing:
 *  - An edge-triggered request latches in IRR on the input's low-to-high
 *    transition and stays until acknowledged, even if the line falls first.
 *    The datasheet wants the input held high until the first INTA (else
 *    the chip answers IR7); QEMU keeps the latch, and so do we: our devices
 *    pulse their lines in zero time, so dropping the request would lose
 *    every pulse.
 *  - A level-triggered input (ELCR bit, or LTIM for the whole chip) is not
 *    latched: its IRR bit is the line, before and after INTA.
 *  - LTIM (ICW1 bit 3) and the ELCR combine: an input is level-triggered
 *    if either says so. A discrete 8259A has only LTIM; the PIIX disables LTIM in
 *    favour of the ELCR, but nothing a PC guest does sets LTIM (Linux,
 *    SeaBIOS and Windows write ICW1 = 0x11), so honouring both serves
 *    8259A-era software without changing what PC software sees.
 *  - ICW1 clears ISR as well as IMR (the datasheet lists IMR, the edge
 *    sense, priorities, special mask and the read register; QEMU and bhyve
 *    also forget what was in service): a chip being reinitialized has no
 *    interrupt in service that anything will EOI.
 *  - The slave's INT output drives master IR2 as a level: master IRR bit 2
 *    is whether the slave requests, recomputed after every change. So a
 *    slave request that goes away before INTA takes master IR2 with it, and
 *    ELCR bit 2 (reserved edge) and master LTIM do not apply to it.
 *  - ICW3 is accepted and ignored: the PC/AT wires the slave to master
 *    IR2 and nothing else can be expressed here. ICW4's uPM bit is kept
 *    but vectors are always formed the 8086 way (ICW2 T7-T3 | level): an
 *    x86 never runs the MCS-80/85 CALL sequence.
 *  - The poll word is read from the command port only (the datasheet's
 *    table of read operations: A0 = 0 gives IRR, ISR or the polled level;
 *    A0 = 1 gives IMR); with nothing requesting it reads 0 (bit 7 clear).
 *  - ISA IRQ 2 (the cascade input) has no device: i8259_set_irq ignores it. */
#include <hopvm/i8259.h>
#include <hopvm/lib.h>

#define MASTER 0
#define SLAVE  1
#define IRQS_PER_CHIP 8
#define IR_MASK       7
#define NO_IRQ        (-1)
#define PRIO_NONE     IRQS_PER_CHIP  /* priority() of an empty set */
#define SPURIOUS_IR   7              /* the level a chip answers INTA with when nothing requests */
#define CASCADE_BIT   (1u << I8259_CASCADE_IRQ)
#define PORT_DATA_BIT 1u             /* A0: 0 command, 1 data */

#define ICW1_IC4      0x01 /* ICW4 follows */
#define ICW1_SNGL     0x02 /* single: no ICW3 */
#define ICW1_LTIM     0x08 /* level-triggered inputs */
#define ICW1_SELECT   0x10 /* on the command port: this is ICW1 */
#define ICW4_8086     0x01 /* uPM: 8086 mode, the vector is base | level */
#define ICW4_AEOI     0x02
#define ICW4_SFNM     0x10
#define VECTOR_BASE_MASK 0xf8 /* ICW2 T7-T3 */
#define INIT_ICW2     2
#define INIT_ICW3     3
#define INIT_ICW4     4

#define OCW3_SELECT   0x08 /* bits 4:3 = 01 on the command port: OCW3 (00: OCW2) */
#define OCW3_RIS      0x01
#define OCW3_RR       0x02
#define OCW3_POLL     0x04
#define OCW3_SMM      0x20
#define OCW3_ESMM     0x40
#define OCW2_CMD(v)   ((v) & 0xe0) /* R, SL, EOI */
#define OCW2_LEVEL(v) ((v) & IR_MASK)
#define OCW2_ROTATE_AEOI_CLEAR 0x00
#define OCW2_NS_EOI            0x20
#define OCW2_NOP               0x40
#define OCW2_S_EOI             0x60
#define OCW2_ROTATE_AEOI_SET   0x80
#define OCW2_ROTATE_NS_EOI     0xa0
#define OCW2_SET_PRIORITY      0xc0
#define OCW2_ROTATE_S_EOI      0xe0
#define POLL_INT      0x80 /* poll word bit 7: an interrupt was pending */

/* ELCR bits that may be set: the PIIX keeps IRQ 0, 1, 2 (timer, keyboard,
 * cascade) and 8, 13 (RTC, FPU error) edge-triggered. */
#define ELCR_PORT_SLAVE   (I8259_ELCR + 1)
#define ELCR_MASTER_WRITABLE 0xf8
#define ELCR_SLAVE_WRITABLE  0xde
#define DEFAULT_BASE_MASTER  0x08
#define DEFAULT_BASE_SLAVE   0x70
#define OPEN_BUS             0xff

static uint8_t bit(unsigned ir) { return (uint8_t)(1u << (ir & IR_MASK)); }

static uint8_t level_inputs(const struct i8259 *c)
{
    return (uint8_t)(c->elcr | (c->icw1 & ICW1_LTIM ? 0xff : 0));
}

/* Level-triggered inputs are not latched: their IRR bits are the lines. */
static void follow_lines(struct i8259 *c)
{
    uint8_t lvl = level_inputs(c);
    c->irr = (uint8_t)((c->irr & ~lvl) | (c->last_level & lvl));
}

/* The priority (0 highest) of the highest-priority IR in `set`; IR
 * priority_add has priority 0 (after a rotation the IR just served is
 * lowest, the one after it highest). */
static unsigned priority(const struct i8259 *c, uint8_t set)
{
    for (unsigned pr = 0; pr < IRQS_PER_CHIP; pr++)
        if (set & bit(pr + c->priority_add))
            return pr;
    return PRIO_NONE;
}

/* The IR this chip would raise INT for, or NO_IRQ: the highest unmasked
 * request, if above everything in service ("Fully Nested Mode"). Special
 * mask mode takes in-service levels that are masked out of the comparison;
 * special fully nested mode lets the master take another request on the
 * cascade input while one from the slave is in service. */
static int pending(const struct i8259 *c, bool master)
{
    unsigned req = priority(c, (uint8_t)(c->irr & ~c->imr));
    if (req == PRIO_NONE)
        return NO_IRQ;
    uint8_t in = c->isr;
    if (c->special_mask)
        in &= (uint8_t)~c->imr;
    unsigned cur = priority(c, in);
    int ir = (int)((req + c->priority_add) & IR_MASK);
    if (req < cur || (master && c->special_fully_nested && req == cur && ir == I8259_CASCADE_IRQ))
        return ir;
    return NO_IRQ;
}

/* The slave's INT is master IR2's input (as a level). */
static void cascade(struct i8259_pair *p)
{
    struct i8259 *m = &p->chip[MASTER];
    if (pending(&p->chip[SLAVE], false) != NO_IRQ) {
        m->irr |= CASCADE_BIT;
        m->last_level |= CASCADE_BIT;
    } else {
        m->irr &= (uint8_t)~CASCADE_BIT;
        m->last_level &= (uint8_t)~CASCADE_BIT;
    }
}

/* The INTA (or poll) of `ir`: IRR -> ISR; edge requests are consumed,
 * level ones stay with their line. AEOI ends the interrupt at once. */
static void intack(struct i8259 *c, int ir)
{
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi)
            c->priority_add = (uint8_t)((ir + 1) & IR_MASK);
    } else {
        c->isr |= bit((unsigned)ir);
    }
    if (!(level_inputs(c) & bit((unsigned)ir)))
        c->irr &= (uint8_t)~bit((unsigned)ir);
}

static void reset_chip(struct i8259 *c, uint8_t base)
{
    memset(c, 0, sizeof(*c));
    c->icw1 = ICW1_SELECT | ICW1_IC4;
    c->icw4 = ICW4_8086;
    c->vector_base = base;
}

void i8259_reset(struct i8259_pair *p)
{
    reset_chip(&p->chip[MASTER], DEFAULT_BASE_MASTER);
    reset_chip(&p->chip[SLAVE], DEFAULT_BASE_SLAVE);
}

/* ICW1 (datasheet, "Initialization Command Words"): the edge sense circuit
 * is reset (a line already high must fall and rise again: last_level keeps
 * the lines, so only a new rising edge latches), IMR cleared, IR7 lowest,
 * special mask off, reads give IRR; ICW4's functions are zero unless an
 * ICW4 follows. */
static void icw1(struct i8259 *c, uint8_t val)
{
    c->icw1 = val;
    c->icw4 = 0;
    c->init_step = INIT_ICW2;
    c->imr = 0;
    c->isr = 0;
    c->irr &= level_inputs(c);
    follow_lines(c);
    c->priority_add = 0;
    c->read_isr = false;
    c->poll = false;
    c->special_mask = false;
    c->auto_eoi = false;
    c->rotate_on_aeoi = false;
    c->special_fully_nested = false;
}

static void data_write(struct i8259 *c, uint8_t val)
{
    switch (c->init_step) {
    case INIT_ICW2:
        c->vector_base = val & VECTOR_BASE_MASK;
        if (!(c->icw1 & ICW1_SNGL))
            c->init_step = INIT_ICW3;
        else
            c->init_step = c->icw1 & ICW1_IC4 ? INIT_ICW4 : 0;
        break;
    case INIT_ICW3: /* the PC/AT's wiring is fixed: slave on master IR2 */
        c->init_step = c->icw1 & ICW1_IC4 ? INIT_ICW4 : 0;
        break;
    case INIT_ICW4:
        c->icw4 = val;
        c->auto_eoi = val & ICW4_AEOI;
        c->special_fully_nested = val & ICW4_SFNM;
        c->init_step = 0;
        break;
    default: /* OCW1 */
        c->imr = val;
        break;
    }
}

static void eoi(struct i8259 *c, unsigned ir, bool rotate)
{
    c->isr &= (uint8_t)~bit(ir);
    if (rotate)
        c->priority_add = (uint8_t)((ir + 1) & IR_MASK);
}

static void ocw2(struct i8259 *c, uint8_t val)
{
    unsigned pr;
    switch (OCW2_CMD(val)) {
    case OCW2_ROTATE_AEOI_CLEAR:
    case OCW2_ROTATE_AEOI_SET:
        c->rotate_on_aeoi = OCW2_CMD(val) == OCW2_ROTATE_AEOI_SET;
        break;
    case OCW2_NS_EOI:
    case OCW2_ROTATE_NS_EOI: /* the highest-priority level in service */
        pr = priority(c, c->isr);
        if (pr != PRIO_NONE)
            eoi(c, pr + c->priority_add, OCW2_CMD(val) == OCW2_ROTATE_NS_EOI);
        break;
    case OCW2_S_EOI:
    case OCW2_ROTATE_S_EOI:
        eoi(c, OCW2_LEVEL(val), OCW2_CMD(val) == OCW2_ROTATE_S_EOI);
        break;
    case OCW2_SET_PRIORITY: /* L becomes the lowest priority */
        c->priority_add = (uint8_t)((OCW2_LEVEL(val) + 1) & IR_MASK);
        break;
    default: /* OCW2_NOP */
        break;
    }
}

static void ocw3(struct i8259 *c, uint8_t val)
{
    if (val & OCW3_POLL)
        c->poll = true;
    if (val & OCW3_RR)
        c->read_isr = val & OCW3_RIS;
    if (val & OCW3_ESMM)
        c->special_mask = val & OCW3_SMM;
}

void i8259_write(struct i8259_pair *p, uint16_t port, uint8_t val)
{
    if (port == I8259_ELCR || port == ELCR_PORT_SLAVE) {
        struct i8259 *c = &p->chip[port == I8259_ELCR ? MASTER : SLAVE];
        /* A line turning level-triggered now requests while high; one
         * turning edge keeps whatever request it had. */
        c->elcr = val & (port == I8259_ELCR ? ELCR_MASTER_WRITABLE : ELCR_SLAVE_WRITABLE);
        follow_lines(c);
    } else if ((port & ~PORT_DATA_BIT) == I8259_MASTER_CMD || (port & ~PORT_DATA_BIT) == I8259_SLAVE_CMD) {
        struct i8259 *c = &p->chip[(port & ~PORT_DATA_BIT) == I8259_MASTER_CMD ? MASTER : SLAVE];
        if (port & PORT_DATA_BIT)
            data_write(c, val);
        else if (val & ICW1_SELECT)
            icw1(c, val);
        else if (val & OCW3_SELECT)
            ocw3(c, val);
        else
            ocw2(c, val);
    } else {
        return;
    }
    cascade(p);
}

/* The poll command (datasheet, "The Poll Command"): the read is an INTA,
 * answered with the level instead of a vector. */
static uint8_t poll_read(struct i8259_pair *p, struct i8259 *c)
{
    int ir = pending(c, c == &p->chip[MASTER]);
    if (ir == NO_IRQ)
        return 0;
    intack(c, ir);
    cascade(p);
    return (uint8_t)(POLL_INT | ir);
}

uint8_t i8259_read(struct i8259_pair *p, uint16_t port)
{
    if (port == I8259_ELCR)
        return p->chip[MASTER].elcr;
    if (port == ELCR_PORT_SLAVE)
        return p->chip[SLAVE].elcr;
    uint16_t cmd = port & ~PORT_DATA_BIT;
    if (cmd != I8259_MASTER_CMD && cmd != I8259_SLAVE_CMD)
        return OPEN_BUS;
    struct i8259 *c = &p->chip[cmd == I8259_MASTER_CMD ? MASTER : SLAVE];
    if (port & PORT_DATA_BIT)
        return c->imr;
    if (c->poll) { /* a poll takes precedence over the register read */
        c->poll = false;
        return poll_read(p, c);
    }
    return c->read_isr ? c->isr : c->irr;
}

void i8259_set_irq(struct i8259_pair *p, unsigned irq, bool level)
{
    if (irq >= 2 * IRQS_PER_CHIP || irq == I8259_CASCADE_IRQ)
        return;
    struct i8259 *c = &p->chip[irq / IRQS_PER_CHIP];
    uint8_t b = bit(irq);
    if (level && !(c->last_level & b))
        c->irr |= b; /* a rising edge; level inputs follow the line below */
    if (level)
        c->last_level |= b;
    else
        c->last_level &= (uint8_t)~b;
    follow_lines(c);
    cascade(p);
}

bool i8259_int(const struct i8259_pair *p)
{
    return pending(&p->chip[MASTER], true) != NO_IRQ;
}

uint8_t i8259_ack(struct i8259_pair *p)
{
    struct i8259 *m = &p->chip[MASTER], *s = &p->chip[SLAVE];
    int ir = pending(m, true);
    uint8_t vector;
    if (ir == NO_IRQ)
        return (uint8_t)(m->vector_base | SPURIOUS_IR); /* no ISR bit for a spurious IR7 */
    if (ir == I8259_CASCADE_IRQ) {
        int sir = pending(s, false);
        if (sir == NO_IRQ) {
            vector = (uint8_t)(s->vector_base | SPURIOUS_IR);
        } else {
            intack(s, sir);
            vector = (uint8_t)(s->vector_base | (unsigned)sir);
        }
    } else {
        vector = (uint8_t)(m->vector_base | (unsigned)ir);
    }
    intack(m, ir);
    cascade(p);
    return vector;
}
