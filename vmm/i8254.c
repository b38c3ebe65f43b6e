/* The 8254 interval timer as a pure model (include/hopvm/i8254.h). Time is
 * the caller's count of input-clock ticks; a channel keeps when its count
 * began and how many ticks it had counted before its gate last stopped it,
 * and works out its count and OUT from those (Intel 82C54 datasheet,
 * "Mode 0" ... "Mode 5", and the gate summary table). Simplifications, none
 * visible to a guest that polls: a count is loaded the moment it is
 * written rather than on the next clock, and a new count in modes 2 and 3
 * takes effect at once rather than at the end of the current period. */
#include <hopvm/i8254.h>
#include <hopvm/lib.h>

#define PORT_CONTROL   3
#define CW_SC(v)       ((v) >> 6)        /* select counter; 3: read-back */
#define CW_RW(v)       (((v) >> 4) & 3)  /* 0: counter latch; 1 LSB, 2 MSB, 3 both */
#define CW_MODE(v)     (((v) >> 1) & 7)
#define CW_BCD         0x01
#define SC_READBACK    3
#define RB_NO_COUNT    0x20              /* read-back: 0 latches the counts */
#define RB_NO_STATUS   0x10              /* read-back: 0 latches the status */
#define RB_CHANNEL(i)  (0x02u << (i))
#define ST_OUT         0x80
#define ST_NULL_COUNT  0x40
#define ACCESS_LSB     1
#define ACCESS_MSB     2
#define ACCESS_WORD    3
#define BIN_MAX        65536u            /* a count of 0 means this */
#define BCD_MAX        10000u

static bool gate_stops(uint8_t mode) { return mode == 0 || mode == 2 || mode == 3 || mode == 4; }
static bool gate_triggers(uint8_t mode) { return mode == 1 || mode == 5; }
static uint32_t range(const struct i8254_channel *c) { return c->bcd ? BCD_MAX : BIN_MAX; }

static uint32_t from_bcd(uint32_t v)
{
    return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12));
}

/* The count N as a number of ticks: 0 written means the full range. */
static uint32_t period(const struct i8254_channel *c)
{
    uint32_t n = c->bcd ? from_bcd(c->reload) : c->reload;
    return n ? n : range(c);
}

/* Ticks counted since the count was loaded (or last retriggered). */
static uint64_t counted(const struct i8254_channel *c, uint64_t now)
{
    if (!c->loaded || !c->counting || (gate_stops(c->mode) && !c->gate) || now < c->start)
        return c->frozen;
    return c->frozen + (now - c->start);
}

void i8254_reset(struct i8254 *p)
{
    memset(p, 0, sizeof(*p));
    for (unsigned i = 0; i < I8254_CHANNELS; i++) {
        p->ch[i].gate = true;
        p->ch[i].access = ACCESS_WORD;
    }
}

uint16_t i8254_count(const struct i8254 *p, unsigned ch, uint64_t now)
{
    const struct i8254_channel *c = &p->ch[ch];
    if (!c->loaded)
        return (uint16_t)c->reload;
    uint32_t n = period(c), v;
    uint64_t k = counted(c, now);
    switch (c->mode) {
    case 2: /* N .. 1, reloading */
        v = n - (uint32_t)(k % n);
        break;
    case 3: { /* by twos from N (even), once per half period */
        uint32_t high = (n + 1) / 2, phase = (uint32_t)(k % n);
        uint32_t pos = phase < high ? phase : phase - high;
        v = (n & ~1u) - 2 * pos;
        if (v == 0 || v > n)
            v = 2;
        break;
    }
    default: /* 0, 1, 4, 5: down from N, wrapping after the terminal count */
        v = (uint32_t)((n + range(c) - k % range(c)) % range(c));
        break;
    }
    return c->bcd ? to_bcd(v % BCD_MAX) : (uint16_t)v;
}

bool i8254_out(const struct i8254 *p, unsigned ch, uint64_t now)
{
    const struct i8254_channel *c = &p->ch[ch];
    uint32_t n = period(c);
    uint64_t k = counted(c, now);
    switch (c->mode) {
    case 0: /* low from the count's write to the terminal count */
        return c->loaded && !c->out_low && k >= n;
    case 1: /* low from the trigger to the terminal count */
        return !c->loaded || !c->counting || k >= n;
    case 2: /* low for the one clock the count is 1 */
        return !c->loaded || !c->gate || k % n != n - 1;
    case 3: /* high for the first half of each period (the longer half if N is odd) */
        return !c->loaded || !c->gate || k % n < (n + 1) / 2;
    default: /* 4, 5: low for the one clock at the terminal count */
        return !c->loaded || !c->counting || k != n;
    }
}

uint64_t i8254_edges(const struct i8254 *p, unsigned ch, uint64_t now)
{
    const struct i8254_channel *c = &p->ch[ch];
    if (!c->loaded)
        return 0;
    uint32_t n = period(c);
    uint64_t k = counted(c, now);
    switch (c->mode) {
    case 0: /* one rise, at the terminal count */
        return !c->out_low && k >= n;
    case 2: /* back up after the count of 1 ends each period */
    case 3: /* up again as each period begins */
        return k / n;
    default: /* 1, 4, 5: one rise, after the terminal count's clock */
        return c->counting && k > n;
    }
}

static uint8_t status_of(const struct i8254 *p, unsigned ch, uint64_t now)
{
    const struct i8254_channel *c = &p->ch[ch];
    return (uint8_t)((i8254_out(p, ch, now) ? ST_OUT : 0) | (c->loaded ? 0 : ST_NULL_COUNT) | (c->access << 4) |
                     (c->mode << 1) | (c->bcd ? CW_BCD : 0));
}

static void latch(struct i8254 *p, unsigned ch, uint64_t now)
{
    struct i8254_channel *c = &p->ch[ch];
    if (c->latched) /* a second latch before the first is read is ignored */
        return;
    c->latch = i8254_count(p, ch, now);
    c->latched = true;
    c->latch_msb_next = false;
}

static void control(struct i8254 *p, uint8_t v, uint64_t now)
{
    if (CW_SC(v) == SC_READBACK) {
        for (unsigned i = 0; i < I8254_CHANNELS; i++) {
            if (!(v & RB_CHANNEL(i)))
                continue;
            if (!(v & RB_NO_COUNT))
                latch(p, i, now);
            if (!(v & RB_NO_STATUS) && !p->ch[i].status_latched) {
                p->ch[i].status = status_of(p, i, now);
                p->ch[i].status_latched = true;
            }
        }
        return;
    }
    struct i8254_channel *c = &p->ch[CW_SC(v)];
    if (CW_RW(v) == 0) {
        latch(p, CW_SC(v), now);
        return;
    }
    bool gate = c->gate;
    memset(c, 0, sizeof(*c));
    c->gate = gate;
    c->mode = CW_MODE(v) & (CW_MODE(v) >= 6 ? 3 : 7); /* 6, 7 are 2, 3 */
    c->access = (uint8_t)CW_RW(v);
    c->bcd = v & CW_BCD;
}

static void load(struct i8254_channel *c, uint32_t count, uint64_t now)
{
    c->reload = count;
    c->loaded = true;
    c->out_low = false;
    c->frozen = 0;
    c->start = now;
    c->counting = !gate_triggers(c->mode);
}

void i8254_write(struct i8254 *p, unsigned port, uint8_t val, uint64_t now)
{
    if (port == PORT_CONTROL) {
        control(p, val, now);
        return;
    }
    if (port >= I8254_CHANNELS)
        return;
    struct i8254_channel *c = &p->ch[port];
    switch (c->access) {
    case ACCESS_LSB: load(c, val, now); break;
    case ACCESS_MSB: load(c, (uint32_t)val << 8, now); break;
    default:
        if (!c->write_msb_next) {
            c->write_lsb = val;
            c->write_msb_next = true;
            if (c->mode == 0) { /* mode 0: the first byte stops the count, OUT goes low (datasheet, "Mode 0") */
                c->frozen = counted(c, now);
                c->counting = false;
                c->out_low = true;
            }
        } else {
            c->write_msb_next = false;
            load(c, c->write_lsb | ((uint32_t)val << 8), now);
        }
        break;
    }
}

/* One byte of a 16-bit value by the access mode and the read flip-flop. */
static uint8_t byte_of(uint16_t v, uint8_t access, bool *msb_next, bool *done)
{
    if (access == ACCESS_LSB)
        return *done = true, (uint8_t)v;
    if (access == ACCESS_MSB)
        return *done = true, (uint8_t)(v >> 8);
    bool msb = *msb_next;
    *msb_next = !msb;
    *done = msb;
    return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

uint8_t i8254_read(struct i8254 *p, unsigned port, uint64_t now)
{
    if (port >= I8254_CHANNELS)
        return 0xff; /* the control word is write-only */
    struct i8254_channel *c = &p->ch[port];
    bool done;
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->latched) {
        uint8_t b = byte_of(c->latch, c->access, &c->latch_msb_next, &done);
        if (done)
            c->latched = false;
        return b;
    }
    return byte_of(i8254_count(p, port, now), c->access, &c->read_msb_next, &done);
}

void i8254_set_gate(struct i8254 *p, unsigned ch, bool gate, uint64_t now)
{
    struct i8254_channel *c = &p->ch[ch];
    if (gate == c->gate)
        return;
    if (!gate) {
        if (gate_stops(c->mode))
            c->frozen = counted(c, now);
        c->gate = false;
        return;
    }
    c->gate = true;
    if (!c->loaded)
        return;
    if (c->mode == 2 || c->mode == 3 || gate_triggers(c->mode)) { /* a rising edge (re)starts the count */
        c->frozen = 0;
        c->counting = true;
    }
    c->start = now;
}
