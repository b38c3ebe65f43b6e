/* The local APIC as a pure model (include/hopvm/lapic.h), after Intel SDM
 * Vol.3A chapter 11. One register file serves both interfaces: an x2APIC
 * MSR is the xAPIC offset / 16 (11.12.1.2), so both decode to an offset
 * and share reg_read/reg_write; what differs is which registers exist, how
 * wide the ID and the ICR's destination are, and that the MSRs fault on
 * reserved bits where the page ignores them (11.12.1.3).
 *
 * The timer is kept as the time of its next expiry (timer_next) rather
 * than as a running count: the current count is worked out from it when
 * read, so a timer nobody polls (masked, or a caller that only polls when
 * asked to) still reads right, and lapic_timer_poll or any write that
 * changes the timer first brings it up to `now` (timer_catch_up).
 *
 * Not modelled: the arbitration priority (APR reads 0: no bus arbitration
 * here, and lowest-priority choice is the caller's), remote read, the
 * illegal-register-address error, directed EOI (LVR bit 24 clear, so SVR
 * bit 12 is reserved), and the remote IRR / delivery status bits (read 0:
 * delivery is instantaneous). */
#include <hopvm/lapic.h>
#include <hopvm/lib.h>

#define NS_PER_S          1000000000ull
#define NS_PER_TICK       (NS_PER_S / LAPIC_BUS_HZ)
_Static_assert(NS_PER_S % LAPIC_BUS_HZ == 0, "a bus tick must be a whole number of ns");

#define APIC_REG_STRIDE   0x10  /* SDM 11.4.1: registers are 16-byte aligned */
#define APIC_REGS_END     0x400 /* table 11-1: nothing above the SELF IPI */
#define VEC_PER_WORD      32
#define VEC_WORDS         (256 / VEC_PER_WORD) /* ISR, TMR, IRR: 8 registers each */
#define VEC_FIRST_LEGAL   16    /* 11.5.3: vectors 0-15 are illegal */
#define PRIO_CLASS(v)     ((uint32_t)(v) >> 4)
#define PRIO_CLASS_MASK   0xf0u

#define XAPIC_ID_SHIFT    24
#define LVR_MAX_LVT_SHIFT 16
#define LVR_VALUE         (LAPIC_VERSION | (LAPIC_MAX_LVT << LVR_MAX_LVT_SHIFT)) /* bit 24, directed EOI: no */
#define TPR_WRITABLE      0xffu
#define LDR_XAPIC_WRITABLE 0xff000000u /* 11.6.2.2: the logical ID in bits 31:24 */
#define LDR_XAPIC_SHIFT   24
#define DFR_MODEL_SHIFT   28
#define DFR_MODEL_MASK    0xf0000000u
#define DFR_ONES          0x0fffffffu /* 11.6.2.2: bits 27:0 read as ones */
#define DFR_FLAT          0xf
#define DFR_CLUSTER       0x0
#define SVR_RESET         0xffu
#define SVR_ENABLE        0x100u
#define SVR_WRITABLE      0x3ffu /* vector, enable, focus checking; bit 12 needs LVR bit 24 */
#define ESR_SEND_ILLEGAL  (1u << 5)
#define ESR_RECV_ILLEGAL  (1u << 6)

/* ICR (SDM 11.6.1, figures 11-12 and 11-28) */
#define ICR_VECTOR        0xffu
#define ICR_DM_SHIFT      8
#define ICR_DM_MASK       7u
#define ICR_LOGICAL       (1u << 11)
#define ICR_ASSERT        (1u << 14)
#define ICR_LEVEL         (1u << 15)
#define ICR_SH_SHIFT      18
#define ICR_SH_MASK       3u
#define ICR_LO_WRITABLE   (ICR_VECTOR | ICR_DM_MASK << ICR_DM_SHIFT | ICR_LOGICAL | ICR_ASSERT | ICR_LEVEL | \
                           ICR_SH_MASK << ICR_SH_SHIFT) /* bit 12, delivery status, reads 0 */
#define ICR2_XAPIC_WRITABLE 0xff000000u
#define ICR2_XAPIC_SHIFT  24
#define ICR_DM_RESERVED1  3 /* delivery modes 011 and 111 are reserved in the ICR */
#define ICR_DM_RESERVED2  7

/* LVT entries (SDM 11.5.1, figure 11-8) */
#define LVT_VECTOR        0xffu
#define LVT_DM_SHIFT      8
#define LVT_DM            (7u << LVT_DM_SHIFT)
#define LVT_STATUS        (1u << 12)
#define LVT_POLARITY      (1u << 13)
#define LVT_REMOTE_IRR    (1u << 14)
#define LVT_LEVEL         (1u << 15)
#define LVT_TIMER_SHIFT   17
#define LVT_TIMER_MODE    (3u << LVT_TIMER_SHIFT)

/* Timer divide configuration (SDM 11.5.4, figure 11-10): bits 0, 1, 3. */
#define TDCR_WRITABLE     0xbu
#define TDCR_LOW_BITS     0x3u /* bits 1:0 are the code's 1:0 ... */
#define TDCR_HIGH_BIT     0x8u /* ... and bit 3 its bit 2 */
#define TDCR_HIGH_SHIFT   1
#define TDCR_CODE_DIV1    7    /* 1011: divide by 1; the others by 2 << code */

/* Destinations (SDM 11.6.2, 11.12.9, 11.12.10) */
#define XAPIC_DEST_MASK   0xffu
#define XAPIC_BROADCAST   0xffu
#define XAPIC_CLUSTER_SHIFT 4       /* cluster model: cluster in 7:4, members in 3:0 */
#define XAPIC_MEMBERS     0xfu
#define X2APIC_BROADCAST  0xffffffffu
#define X2APIC_CLUSTER_SHIFT 4      /* x2APIC ID: cluster in bits 31:4, position in 3:0 */
#define X2APIC_POS_MASK   0xfu
#define X2APIC_LDR_SHIFT  16        /* LDR: cluster in 31:16, one bit per member in 15:0 */
#define X2APIC_LDR_MEMBERS 0xffffu

#define APIC_BASE_ADDR    (~0xfffull)
#define APIC_BASE_RSVD_LOW 0x2ffull /* bits 7:0 and 9 */

/* The order of struct lapic's lvt[]. */
enum { LVT_CMCI, LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };
_Static_assert(LVT_COUNT == LAPIC_MAX_LVT + 1, "lvt[] has one entry per LVT");

/* Figure 11-8: what software may set in each LVT. Only the LINT pins have
 * a polarity and a trigger; the timer and error are always fixed
 * delivery; the timer has its mode. */
static const uint32_t lvt_writable[LVT_COUNT] = {
    [LVT_CMCI] = LVT_VECTOR | LVT_DM | APIC_LVT_MASKED,
    [LVT_TIMER] = LVT_VECTOR | APIC_LVT_MASKED | LVT_TIMER_MODE,
    [LVT_THERMAL] = LVT_VECTOR | LVT_DM | APIC_LVT_MASKED,
    [LVT_PERF] = LVT_VECTOR | LVT_DM | APIC_LVT_MASKED,
    [LVT_LINT0] = LVT_VECTOR | LVT_DM | LVT_POLARITY | LVT_LEVEL | APIC_LVT_MASKED,
    [LVT_LINT1] = LVT_VECTOR | LVT_DM | LVT_POLARITY | LVT_LEVEL | APIC_LVT_MASKED,
    [LVT_ERROR] = LVT_VECTOR | APIC_LVT_MASKED,
};
/* Read-only bits, not reserved ones: a read-modify-write through the MSR
 * may carry them without a #GP (they read 0 here anyway). */
static const uint32_t lvt_readonly[LVT_COUNT] = {
    [LVT_CMCI] = LVT_STATUS, [LVT_TIMER] = LVT_STATUS, [LVT_THERMAL] = LVT_STATUS, [LVT_PERF] = LVT_STATUS,
    [LVT_LINT0] = LVT_STATUS | LVT_REMOTE_IRR, [LVT_LINT1] = LVT_STATUS | LVT_REMOTE_IRR, [LVT_ERROR] = LVT_STATUS,
};

static bool vec_test(const uint32_t *r, unsigned v) { return r[v / VEC_PER_WORD] >> (v % VEC_PER_WORD) & 1; }
static void vec_set(uint32_t *r, unsigned v) { r[v / VEC_PER_WORD] |= 1u << (v % VEC_PER_WORD); }
static void vec_clear(uint32_t *r, unsigned v) { r[v / VEC_PER_WORD] &= ~(1u << (v % VEC_PER_WORD)); }

static int vec_highest(const uint32_t *r)
{
    for (int i = VEC_WORDS - 1; i >= 0; i--)
        if (r[i])
            return i * VEC_PER_WORD + (VEC_PER_WORD - 1) - __builtin_clz(r[i]);
    return -1;
}

bool lapic_hw_enabled(const struct lapic *l) { return l->apic_base & APIC_BASE_EN; }
bool lapic_sw_enabled(const struct lapic *l) { return l->svr & SVR_ENABLE; }
bool lapic_x2apic(const struct lapic *l)
{
    return (l->apic_base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}
static bool xapic_mode(const struct lapic *l) { return lapic_hw_enabled(l) && !(l->apic_base & APIC_BASE_EXTD); }

/* SDM 11.12.10.2: in x2APIC mode the LDR is derived from the x2APIC ID. */
static uint32_t x2apic_ldr(uint32_t id)
{
    return (id >> X2APIC_CLUSTER_SHIFT) << X2APIC_LDR_SHIFT | 1u << (id & X2APIC_POS_MASK);
}

/* 11.4.7.3: INIT keeps the ID and IA32_APIC_BASE; the rest is as at power-up. */
void lapic_init(struct lapic *l)
{
    uint32_t id = l->id;
    uint64_t base = l->apic_base;
    memset(l, 0, sizeof(*l));
    l->id = id;
    l->apic_base = base;
    l->dfr = DFR_MODEL_MASK | DFR_ONES;
    l->svr = SVR_RESET;
    for (unsigned i = 0; i < LVT_COUNT; i++)
        l->lvt[i] = APIC_LVT_MASKED;
    if (lapic_x2apic(l)) /* 11.12.5.1: INIT leaves an x2APIC in x2APIC mode */
        l->ldr = x2apic_ldr(id);
}

/* 11.4.7.1 */
void lapic_reset(struct lapic *l, uint32_t id, bool bsp)
{
    l->id = id;
    l->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_EN | (bsp ? APIC_BASE_BSP : 0);
    lapic_init(l);
}

/* 11.8.3.1: PPR is the TPR, or the class of the highest in-service vector
 * if that is higher. */
uint32_t lapic_ppr(const struct lapic *l)
{
    int isrv = vec_highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & PRIO_CLASS_MASK;
    return (l->tpr & PRIO_CLASS_MASK) >= isr_class ? l->tpr : isr_class;
}

int lapic_pending(const struct lapic *l)
{
    if (!lapic_hw_enabled(l))
        return -1;
    /* A software-disabled APIC still delivers what its IRR holds (11.4.7.2:
     * pending interrupts "are held and require masking or handling by the
     * CPU"); only new fixed interrupts are refused (lapic_accept). */
    int v = vec_highest(l->irr);
    if (v < 0 || PRIO_CLASS(v) <= PRIO_CLASS(lapic_ppr(l)))
        return -1;
    return v;
}

void lapic_ack(struct lapic *l, uint8_t vector)
{
    if (!vec_test(l->irr, vector))
        return;
    vec_clear(l->irr, vector);
    vec_set(l->isr, vector);
}

static void set_irr(struct lapic *l, uint8_t vector, bool level_trig)
{
    vec_set(l->irr, vector);
    if (level_trig) /* 11.8.4: TMR set for level, cleared for edge, on acceptance */
        vec_set(l->tmr, vector);
    else
        vec_clear(l->tmr, vector);
}

/* 11.5.3: errors collect in esr_pending whatever the LVT error mask; the
 * error interrupt is sent only if that LVT is unmasked. An illegal error
 * vector is not delivered (rather than reporting an error about the
 * error, without end). */
static void raise_error(struct lapic *l, uint32_t bits)
{
    l->esr_pending |= bits;
    uint32_t lvt = l->lvt[LVT_ERROR];
    if (!(lvt & APIC_LVT_MASKED) && (lvt & LVT_VECTOR) >= VEC_FIRST_LEGAL)
        set_irr(l, (uint8_t)(lvt & LVT_VECTOR), false);
}

/* A software-disabled APIC refuses fixed and lowest-priority interrupts:
 * 11.4.7.2 lists only INIT, NMI, SMI and SIPI as answered normally (the
 * acceptance flow charts of 11.8 discard the rest), and KVM drops them
 * too. NMI/SMI/INIT/SIPI are the caller's, never passed here. */
void lapic_accept(struct lapic *l, uint8_t vector, bool level_trig)
{
    if (!lapic_hw_enabled(l) || !lapic_sw_enabled(l))
        return;
    if (vector < VEC_FIRST_LEGAL) { /* 11.5.3, bit 6: not accepted, never in IRR */
        raise_error(l, ESR_RECV_ILLEGAL);
        return;
    }
    set_irr(l, vector, level_trig);
}

/* 11.8.5: EOI retires the highest in-service vector; if it was accepted
 * level-triggered (TMR), the IOAPICs hear of it. The TMR bit is left as
 * the SDM has it: only the next acceptance of the vector changes it. */
static void eoi(struct lapic *l, struct lapic_out *out)
{
    int v = vec_highest(l->isr);
    if (v < 0)
        return;
    vec_clear(l->isr, (unsigned)v);
    if (vec_test(l->tmr, (unsigned)v)) {
        out->eoi_level = true;
        out->eoi_vector = (uint8_t)v;
    }
}

/* --- destinations (SDM 11.6.2) ------------------------------------------ */

/* The caller gives dest in this APIC's own format: an 8-bit xAPIC
 * destination is widened to 0xffffffff by the caller for an x2APIC target
 * if it meant broadcast (as the IOAPIC's 0xff does in x2APIC systems). */
bool lapic_match(const struct lapic *l, uint32_t dest, bool logical)
{
    if (!lapic_hw_enabled(l)) /* 11.4.3: as if there were no APIC */
        return false;
    if (lapic_x2apic(l)) {
        if (dest == X2APIC_BROADCAST)
            return true;
        if (!logical)
            return dest == l->id;
        /* 11.12.9: cluster ID equal and a member bit in common */
        return dest >> X2APIC_LDR_SHIFT == l->ldr >> X2APIC_LDR_SHIFT && (dest & l->ldr & X2APIC_LDR_MEMBERS);
    }
    dest &= XAPIC_DEST_MASK;
    if (dest == XAPIC_BROADCAST)
        return true;
    if (!logical)
        return dest == (l->id & XAPIC_DEST_MASK);
    uint32_t lid = l->ldr >> LDR_XAPIC_SHIFT;
    switch (l->dfr >> DFR_MODEL_SHIFT) {
    case DFR_FLAT: /* 11.6.2.2: one bit per APIC */
        return (lid & dest) != 0;
    case DFR_CLUSTER: /* 11.6.2.2: cluster in 7:4, members in 3:0 */
        return lid >> XAPIC_CLUSTER_SHIFT == dest >> XAPIC_CLUSTER_SHIFT && (lid & dest & XAPIC_MEMBERS);
    default: /* no other model is defined */
        return false;
    }
}

/* --- the timer (SDM 11.5.4) ---------------------------------------------- */

static unsigned timer_mode(const struct lapic *l) { return (l->lvt[LVT_TIMER] & LVT_TIMER_MODE) >> LVT_TIMER_SHIFT; }

/* ns per count: the divided bus clock (figure 11-10). */
static uint64_t tick_ns(const struct lapic *l)
{
    uint32_t code = (l->timer_divide & TDCR_LOW_BITS) | (l->timer_divide & TDCR_HIGH_BIT) >> TDCR_HIGH_SHIFT;
    return (code == TDCR_CODE_DIV1 ? 1u : 2u << code) * NS_PER_TICK;
}

/* Mode 3 is reserved (table 11-2); stored as written, it counts like a
 * one-shot (as KVM, where only modes 1 and 2 are special). */
static bool periodic(const struct lapic *l) { return timer_mode(l) == APIC_TIMER_PERIODIC; }
static bool deadline_mode(const struct lapic *l) { return timer_mode(l) == APIC_TIMER_TSC_DEADLINE; }

/* 11.5.4: the timer interrupt is a fixed, edge-triggered local interrupt;
 * the mask only stops the interrupt, not the count. */
static void timer_fire(struct lapic *l)
{
    uint32_t lvt = l->lvt[LVT_TIMER];
    if (!(lvt & APIC_LVT_MASKED))
        lapic_accept(l, (uint8_t)(lvt & LVT_VECTOR), false);
}

/* The count reaching 0 at or before `now`: a one-shot stops; a periodic
 * timer reloads at each period's end counted from its first expiry (so it
 * does not drift with the caller's lateness), periods missed in between
 * collapsing into the one interrupt. */
static void timer_catch_up(struct lapic *l, uint64_t now)
{
    if (deadline_mode(l) || !l->timer_next || now < l->timer_next)
        return;
    uint64_t period = (uint64_t)l->timer_initial * tick_ns(l);
    if (periodic(l) && period) {
        l->timer_next += ((now - l->timer_next) / period + 1) * period;
        l->timer_start = l->timer_next - period;
    } else {
        l->timer_next = 0;
    }
    timer_fire(l);
}

/* The current count (figure 11-11): whole ticks left to timer_next, or, for
 * a periodic timer past it but not yet caught up, into the period since. */
static uint32_t current_count(const struct lapic *l, uint64_t now)
{
    if (deadline_mode(l) || !l->timer_next || !l->timer_initial)
        return 0; /* 11.5.4.1: in TSC-deadline mode the count reads 0 */
    uint64_t tick = tick_ns(l);
    if (now < l->timer_next)
        return (uint32_t)MIN((l->timer_next - now + tick - 1) / tick, (uint64_t)l->timer_initial);
    if (periodic(l))
        return l->timer_initial - (uint32_t)((now - l->timer_next) / tick % l->timer_initial);
    return 0;
}

static void timer_disarm(struct lapic *l)
{
    l->timer_initial = 0;
    l->timer_next = 0;
    l->tsc_deadline = 0;
}

/* 11.5.4: writing the initial count (re)starts the count from it; 0 stops
 * the timer. 11.5.4.1: ignored in TSC-deadline mode. */
static void set_initial_count(struct lapic *l, uint32_t count, uint64_t now)
{
    if (deadline_mode(l))
        return;
    timer_catch_up(l, now);
    l->timer_initial = count;
    l->timer_start = now;
    l->timer_next = count ? now + count * tick_ns(l) : 0;
}

/* A new divider changes the rate of the count already running: what is
 * left of it goes on at the new rate (the count restarts from its current
 * value, now). */
static void set_divide(struct lapic *l, uint32_t val, uint64_t now)
{
    val &= TDCR_WRITABLE;
    if (val == l->timer_divide)
        return;
    timer_catch_up(l, now);
    uint32_t left = current_count(l, now);
    l->timer_divide = val;
    if (l->timer_next && left) {
        l->timer_start = now;
        l->timer_next = now + left * tick_ns(l);
    }
}

void lapic_timer_poll(struct lapic *l, uint64_t now_ns, uint64_t guest_tsc)
{
    timer_catch_up(l, now_ns);
    /* 11.5.4.1: the deadline fires once, when the TSC reaches it, and the
     * MSR then reads 0 (disarmed). */
    if (deadline_mode(l) && l->tsc_deadline && guest_tsc >= l->tsc_deadline) {
        l->tsc_deadline = 0;
        timer_fire(l);
    }
}

uint64_t lapic_timer_next_ns(const struct lapic *l)
{
    if (deadline_mode(l) || !l->timer_next || (l->lvt[LVT_TIMER] & APIC_LVT_MASKED))
        return UINT64_MAX;
    return l->timer_next;
}

uint64_t lapic_tsc_deadline(const struct lapic *l) { return deadline_mode(l) ? l->tsc_deadline : 0; }

/* 11.5.4.1: outside TSC-deadline mode writes to IA32_TSC_DEADLINE are
 * ignored (not a fault); 0 disarms. */
bool lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc)
{
    if (deadline_mode(l))
        l->tsc_deadline = tsc;
    return true;
}

/* --- register writes ------------------------------------------------------ */

static void write_lvt(struct lapic *l, unsigned i, uint32_t val, uint64_t now)
{
    val &= lvt_writable[i];
    if (!lapic_sw_enabled(l)) /* 11.4.7.2: the mask bits stay set while disabled */
        val |= APIC_LVT_MASKED;
    if (i == LVT_TIMER) {
        timer_catch_up(l, now); /* an expiry under the old setting is delivered (or not) as it was */
        /* 11.5.4.1: a write that changes the timer mode disarms the timer */
        if ((val & LVT_TIMER_MODE) != (l->lvt[i] & LVT_TIMER_MODE))
            timer_disarm(l);
    }
    l->lvt[i] = val;
}

/* 11.4.7.2: clearing the software enable masks every LVT. */
static void write_svr(struct lapic *l, uint32_t val, uint64_t now)
{
    timer_catch_up(l, now);
    l->svr = val & SVR_WRITABLE;
    if (!lapic_sw_enabled(l))
        for (unsigned i = 0; i < LVT_COUNT; i++)
            l->lvt[i] |= APIC_LVT_MASKED;
}

/* 11.6.1: an IPI as the ICR (just written) describes it, to the caller.
 * An illegal vector in a fixed or lowest-priority IPI is an error and
 * nothing is sent (11.5.3 bit 5; bhyve does the same); neither is
 * anything for the reserved delivery modes. */
static void send_ipi(struct lapic *l, uint32_t dest, struct lapic_out *out)
{
    uint32_t lo = l->icr_lo;
    uint8_t vector = (uint8_t)(lo & ICR_VECTOR), dm = (uint8_t)(lo >> ICR_DM_SHIFT & ICR_DM_MASK);
    if (dm == ICR_DM_RESERVED1 || dm == ICR_DM_RESERVED2)
        return;
    if ((dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST) && vector < VEC_FIRST_LEGAL) {
        raise_error(l, ESR_SEND_ILLEGAL);
        return;
    }
    out->ipi = true;
    out->ipi_msg = (struct lapic_ipi){
        .vector = vector,
        .delivery = dm,
        .shorthand = (uint8_t)(lo >> ICR_SH_SHIFT & ICR_SH_MASK),
        .logical = lo & ICR_LOGICAL,
        .assert = lo & ICR_ASSERT,
        .level_trig = lo & ICR_LEVEL,
        .dest = dest,
    };
}

/* 11.12.11: SELF IPI is a fixed, edge, self-directed interrupt. */
static void self_ipi(struct lapic *l, uint8_t vector)
{
    if (vector < VEC_FIRST_LEGAL) { /* 11.12.8 (x2APIC error handling): a send error */
        raise_error(l, ESR_SEND_ILLEGAL);
        return;
    }
    lapic_accept(l, vector, false);
}

/* A register's LVT index, or -1. */
static int lvt_index(unsigned off)
{
    if (off == APIC_LVT_CMCI)
        return LVT_CMCI;
    if (off >= APIC_LVT_TIMER && off <= APIC_LVT_ERROR)
        return LVT_TIMER + (int)((off - APIC_LVT_TIMER) / APIC_REG_STRIDE);
    return -1;
}

/* x2APIC writes with reserved bits set fault (11.12.1.3); the xAPIC page
 * drops them. */
static bool bits_ok(bool x2, uint32_t val, uint32_t allowed) { return !x2 || !(val & ~allowed); }

/* A write to a 32-bit register (all but the x2APIC ICR). False: #GP in
 * x2APIC mode (a read-only, write-only-absent or reserved register, or
 * reserved bits); the xAPIC caller ignores it. */
static bool reg_write(struct lapic *l, unsigned off, uint32_t val, uint64_t now, bool x2, struct lapic_out *out)
{
    switch (off) {
    case APIC_TPR:
        if (!bits_ok(x2, val, TPR_WRITABLE))
            return false;
        l->tpr = val & TPR_WRITABLE;
        return true;
    case APIC_EOI:
        if (x2 && val) /* table 11-6: a non-zero EOI write faults */
            return false;
        eoi(l, out);
        return true;
    case APIC_LDR:
        if (x2) /* 11.12.10.2: read-only in x2APIC mode */
            return false;
        l->ldr = val & LDR_XAPIC_WRITABLE;
        return true;
    case APIC_DFR:
        if (x2) /* table 11-6: no DFR in x2APIC mode */
            return false;
        l->dfr = (val & DFR_MODEL_MASK) | DFR_ONES;
        return true;
    case APIC_SVR:
        if (!bits_ok(x2, val, SVR_WRITABLE))
            return false;
        write_svr(l, val, now);
        return true;
    case APIC_ESR:
        if (x2 && val) /* table 11-6: a non-zero ESR write faults */
            return false;
        /* 11.5.3: a write latches the errors since the last one */
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        return true;
    case APIC_ICR: /* xAPIC only: lapic_msr_write takes the x2APIC ICR */
        l->icr_lo = val & ICR_LO_WRITABLE;
        send_ipi(l, l->icr_hi >> ICR2_XAPIC_SHIFT, out);
        return true;
    case APIC_ICR2:
        if (x2) /* table 11-6: MSR 0x831 does not exist */
            return false;
        l->icr_hi = val & ICR2_XAPIC_WRITABLE;
        return true;
    case APIC_TMICT:
        set_initial_count(l, val, now);
        return true;
    case APIC_TDCR:
        if (!bits_ok(x2, val, TDCR_WRITABLE))
            return false;
        set_divide(l, val, now);
        return true;
    case APIC_SELF_IPI:
        if (!x2 || !bits_ok(x2, val, ICR_VECTOR)) /* no such register in the xAPIC page */
            return false;
        self_ipi(l, (uint8_t)val);
        return true;
    }
    int i = lvt_index(off);
    if (i < 0) /* ID, LVR, PPR, ISR, TMR, IRR, current count: read-only; the rest reserved */
        return false;
    if (!bits_ok(x2, val, lvt_writable[i] | lvt_readonly[i]))
        return false;
    write_lvt(l, (unsigned)i, val, now);
    return true;
}

/* A 32-bit register's value (all but the x2APIC ICR); false: no such
 * readable register in this mode. */
static bool reg_read(const struct lapic *l, unsigned off, uint64_t now, bool x2, uint32_t *v)
{
    switch (off) {
    case APIC_ID: *v = x2 ? l->id : l->id << XAPIC_ID_SHIFT; return true;
    case APIC_LVR: *v = LVR_VALUE; return true;
    case APIC_TPR: *v = l->tpr; return true;
    case APIC_PPR: *v = lapic_ppr(l); return true;
    case APIC_LDR: *v = l->ldr; return true;
    case APIC_SVR: *v = l->svr; return true;
    case APIC_ESR: *v = l->esr; return true;
    case APIC_TMICT: *v = l->timer_initial; return true;
    case APIC_TMCCT: *v = current_count(l, now); return true;
    case APIC_TDCR: *v = l->timer_divide; return true;
    case APIC_APR: *v = 0; return !x2;
    case APIC_DFR: *v = l->dfr; return !x2;
    case APIC_ICR: *v = l->icr_lo; return !x2;
    case APIC_ICR2: *v = l->icr_hi; return !x2;
    }
    if (off >= APIC_ISR && off < APIC_IRR + VEC_WORDS * APIC_REG_STRIDE) {
        unsigned base = off >= APIC_IRR ? APIC_IRR : off >= APIC_TMR ? APIC_TMR : APIC_ISR;
        const uint32_t *r = base == APIC_IRR ? l->irr : base == APIC_TMR ? l->tmr : l->isr;
        *v = r[(off - base) / APIC_REG_STRIDE];
        return true;
    }
    int i = lvt_index(off);
    if (i < 0)
        return false;
    *v = l->lvt[i];
    return true;
}

/* --- the two interfaces --------------------------------------------------- */

/* In x2APIC mode (or disabled) the page is gone: reads 0, writes dropped,
 * as SDM 11.12.1.2 puts it "similar to ... globally disabled". */
static bool page_reg(const struct lapic *l, unsigned off)
{
    return xapic_mode(l) && off % APIC_REG_STRIDE == 0 && off < APIC_REGS_END;
}

uint32_t lapic_read(struct lapic *l, unsigned off, uint64_t now_ns)
{
    uint32_t v = 0;
    if (!page_reg(l, off) || !reg_read(l, off, now_ns, false, &v))
        return 0;
    return v;
}

void lapic_write(struct lapic *l, unsigned off, uint32_t val, uint64_t now_ns, struct lapic_out *out)
{
    memset(out, 0, sizeof(*out));
    if (page_reg(l, off))
        (void)reg_write(l, off, val, now_ns, false, out);
}

static unsigned msr_offset(uint32_t msr) { return (msr - MSR_X2APIC_FIRST) * APIC_REG_STRIDE; }

bool lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t now_ns, uint64_t *val)
{
    if (!lapic_x2apic(l) || msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
        return false;
    unsigned off = msr_offset(msr);
    if (off == APIC_ICR) { /* 11.12.9: one 64-bit register, destination in 63:32 */
        *val = (uint64_t)l->icr_hi << 32 | l->icr_lo;
        return true;
    }
    uint32_t v;
    if (!reg_read(l, off, now_ns, true, &v))
        return false;
    *val = v;
    return true;
}

bool lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val, uint64_t now_ns, struct lapic_out *out)
{
    memset(out, 0, sizeof(*out));
    if (!lapic_x2apic(l) || msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
        return false;
    unsigned off = msr_offset(msr);
    if (off == APIC_ICR) {
        uint32_t lo = (uint32_t)val;
        if (lo & ~ICR_LO_WRITABLE) /* figure 11-28: no delivery status in x2APIC mode */
            return false;
        l->icr_lo = lo;
        l->icr_hi = (uint32_t)(val >> 32);
        send_ipi(l, l->icr_hi, out);
        return true;
    }
    if (val >> 32) /* every other x2APIC register is 32 bits */
        return false;
    return reg_write(l, off, (uint32_t)val, now_ns, true, out);
}

/* --- IA32_APIC_BASE (SDM 11.4.4, 11.12.5) --------------------------------- */

bool lapic_set_base(struct lapic *l, uint64_t val, uint64_t maxphyaddr_mask)
{
    uint64_t rsvd = (~maxphyaddr_mask & APIC_BASE_ADDR) | APIC_BASE_RSVD_LOW;
    if (val & rsvd)
        return false;
    bool en = val & APIC_BASE_EN, extd = val & APIC_BASE_EXTD;
    bool was_en = lapic_hw_enabled(l), was_x2 = lapic_x2apic(l);
    /* 11.12.5: EXTD without EN is invalid; x2APIC can only
     * be left by disabling, and only entered from xAPIC. */
    if ((extd && !en) || (was_x2 && en && !extd) || (!was_en && extd))
        return false;
    /* The BSP flag is the processor's to say (11.4.4): a write keeps it. */
    l->apic_base = (val & ~APIC_BASE_BSP) | (l->apic_base & APIC_BASE_BSP);
    if (was_en && !en) /* 11.4.3: disabling loses the state (the ID stays, 11.12.5.1) */
        lapic_init(l);
    else if (extd && !was_x2) /* 11.12.10.2: entering x2APIC derives the LDR */
        l->ldr = x2apic_ldr(l->id);
    return true;
}

/* LVT LINT0/LINT1's delivery mode. With the APIC globally disabled the
 * processor is one without an APIC (11.4.3): its INTR and NMI pins are
 * LINT0 and LINT1, as if they were ExtINT and NMI (so does KVM's
 * kvm_apic_accept_pic_intr). */
int lapic_lint_mode(const struct lapic *l, unsigned pin)
{
    if (pin > 1)
        return -1;
    if (!lapic_hw_enabled(l))
        return pin == 0 ? APIC_DM_EXTINT : APIC_DM_NMI;
    uint32_t lvt = l->lvt[LVT_LINT0 + pin];
    if (lvt & APIC_LVT_MASKED)
        return -1;
    return (int)((lvt & LVT_DM) >> LVT_DM_SHIFT);
}
