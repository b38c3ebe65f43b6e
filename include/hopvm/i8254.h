/* The 8254 programmable interval timer (Intel 82C54 datasheet, order no.
 * 231244: "Operation", "Modes", "Read-Back Command"), as a pure model:
 * the caller gives the time as a count of input-clock ticks (1.193182 MHz
 * on a PC) and the model answers reads, takes writes and says where each
 * OUT pin stands. vmm/dev/pit.c puts it at ports 0x40-0x43 with channel 2's
 * gate and OUT on port 0x61; unit-tested on Linux (tests/unit/test_i8254.c). */
#ifndef HOPVM_I8254_H
#define HOPVM_I8254_H
#include <stdbool.h>
#include <stdint.h>

#define I8254_HZ       1193182u /* the PC's PIT input clock */
#define I8254_CHANNELS 3

struct i8254_channel {
    uint8_t mode;          /* 0-5 (6 and 7 read as 2 and 3) */
    uint8_t access;        /* 1 LSB only, 2 MSB only, 3 LSB then MSB */
    bool bcd;
    uint32_t reload;       /* the count last written, 1..65536 (0 is written as 65536) */
    bool loaded;           /* a count was written since the mode was set */
    bool counting;         /* the count is running (modes 1 and 5: triggered) */
    bool out_low;          /* mode 0: the first byte of a new count came, OUT is low */
    uint64_t start;        /* tick at which the current count began */
    uint64_t frozen;       /* ticks counted before the gate last went low */
    bool gate;
    uint8_t write_lsb;     /* the LSB of a two-byte write, until its MSB comes */
    bool write_msb_next;
    bool read_msb_next;
    bool latched;          /* a counter-latch command holds `latch` */
    uint16_t latch;
    bool latch_msb_next;
    bool status_latched;
    uint8_t status;
};

struct i8254 {
    struct i8254_channel ch[I8254_CHANNELS];
};

/* Power-on: every channel in mode 0 with no count, gates high. */
void i8254_reset(struct i8254 *p);
/* Port 0-3 (0x40 + port on a PC): a counter or the control word. */
void i8254_write(struct i8254 *p, unsigned port, uint8_t val, uint64_t now);
uint8_t i8254_read(struct i8254 *p, unsigned port, uint64_t now);
void i8254_set_gate(struct i8254 *p, unsigned ch, bool gate, uint64_t now);
bool i8254_out(const struct i8254 *p, unsigned ch, uint64_t now);
/* How many times OUT has risen since the count was loaded: what an
 * edge-triggered interrupt line wired to OUT has seen (IRQ 0 on a PC). */
uint64_t i8254_edges(const struct i8254 *p, unsigned ch, uint64_t now);
/* The value the counting element holds now (what a latch would read). */
uint16_t i8254_count(const struct i8254 *p, unsigned ch, uint64_t now);

#endif
