/* The 8254 model (vmm/i8254.c) against the 82C54 datasheet: each mode's
 * count and OUT over time, the gate, two-byte access, the counter-latch
 * and read-back commands, BCD, and Linux's way of calibrating the TSC
 * (channel 2, mode 0, gated by port 0x61, polling the count's MSB). */
#include "check.h"
#include <hopvm/i8254.h>

static struct i8254 p;

#define CW(ch, rw, mode, bcd) ((uint8_t)(((ch) << 6) | ((rw) << 4) | ((mode) << 1) | (bcd)))

static void program(unsigned ch, unsigned mode, uint16_t count, uint64_t now)
{
    i8254_write(&p, 3, CW(ch, 3, mode, 0), now);
    i8254_write(&p, ch, (uint8_t)count, now);
    i8254_write(&p, ch, (uint8_t)(count >> 8), now);
}

static uint16_t read16(unsigned ch, uint64_t now)
{
    i8254_write(&p, 3, CW(ch, 0, 0, 0), now); /* counter latch */
    uint16_t lo = i8254_read(&p, ch, now + 1000); /* a latched count does not move */
    return (uint16_t)(lo | i8254_read(&p, ch, now + 2000) << 8);
}

static void mode0(void)
{
    i8254_reset(&p);
    program(0, 0, 100, 1000);
    CHECK(!i8254_out(&p, 0, 1000));
    CHECK_U64(read16(0, 1000), 100);
    CHECK_U64(read16(0, 1040), 60);
    CHECK(!i8254_out(&p, 0, 1099));
    CHECK(i8254_out(&p, 0, 1100)); /* terminal count */
    CHECK(i8254_out(&p, 0, 5000)); /* stays high */
    CHECK_U64(read16(0, 1101), 0xffff); /* and the count wraps */
    /* The first byte of a new count stops the count; the second loads it. */
    program(0, 0, 50, 5000);
    CHECK(i8254_out(&p, 0, 5100)); /* the count has expired: OUT high */
    i8254_write(&p, 0, 10, 5100);
    CHECK(!i8254_out(&p, 0, 5200)); /* the first byte of a new one sets it low at once */
    i8254_write(&p, 0, 0, 5200);
    CHECK(!i8254_out(&p, 0, 5209) && i8254_out(&p, 0, 5210));
    program(0, 0, 50, 6000);
    i8254_write(&p, 0, 10, 6020);
    CHECK_U64(i8254_count(&p, 0, 6500), 30);
    i8254_write(&p, 0, 0, 6600);
    CHECK_U64(i8254_count(&p, 0, 6600), 10);
    CHECK(!i8254_out(&p, 0, 6609) && i8254_out(&p, 0, 6610));
    /* A count of 0 is 65536. */
    program(0, 0, 0, 0);
    CHECK_U64(i8254_count(&p, 0, 1), 65535);
    CHECK(!i8254_out(&p, 0, 65535) && i8254_out(&p, 0, 65536));
}

static void gate(void)
{
    /* Modes 0 and 4: a low gate holds the count; high again, it goes on. */
    i8254_reset(&p);
    program(2, 0, 1000, 0);
    CHECK_U64(i8254_count(&p, 2, 100), 900);
    i8254_set_gate(&p, 2, false, 100);
    CHECK_U64(i8254_count(&p, 2, 700), 900);
    i8254_set_gate(&p, 2, true, 700);
    CHECK_U64(i8254_count(&p, 2, 800), 800);
    CHECK(i8254_out(&p, 2, 1600) && !i8254_out(&p, 2, 1599));
    /* Mode 2: a low gate forces OUT high and holds; the rising edge reloads. */
    program(1, 2, 10, 0);
    i8254_set_gate(&p, 1, false, 5);
    CHECK(i8254_out(&p, 1, 9));
    CHECK_U64(i8254_count(&p, 1, 50), 5);
    i8254_set_gate(&p, 1, true, 50);
    CHECK_U64(i8254_count(&p, 1, 50), 10);
    CHECK_U64(i8254_count(&p, 1, 53), 7);
    /* Mode 1: nothing until the gate's rising edge, then a one-shot. */
    i8254_set_gate(&p, 0, false, 0);
    program(0, 1, 20, 0);
    CHECK(i8254_out(&p, 0, 100));
    CHECK_U64(i8254_count(&p, 0, 100), 20);
    i8254_set_gate(&p, 0, true, 100);
    CHECK(!i8254_out(&p, 0, 105));
    CHECK_U64(i8254_count(&p, 0, 105), 15);
    CHECK(i8254_out(&p, 0, 120));
    /* Retriggered: starts over. */
    i8254_set_gate(&p, 0, false, 110);
    i8254_set_gate(&p, 0, true, 115);
    CHECK(!i8254_out(&p, 0, 130) && i8254_out(&p, 0, 135));
}

static void periodic(void)
{
    i8254_reset(&p);
    /* Mode 2, N = 5: 5 4 3 2 1 5 4 ...; OUT low only while the count is 1. */
    program(0, 2, 5, 0);
    static const uint16_t want2[] = {5, 4, 3, 2, 1, 5, 4, 3, 2, 1, 5};
    for (unsigned k = 0; k < sizeof(want2) / sizeof(want2[0]); k++) {
        CHECK_U64(i8254_count(&p, 0, k), want2[k]);
        CHECK(i8254_out(&p, 0, k) == (want2[k] != 1));
    }
    /* Mode 3, N = 6: high for 3 clocks, low for 3; counts 6 4 2 twice. */
    program(0, 3, 6, 0);
    static const uint16_t want3[] = {6, 4, 2, 6, 4, 2, 6};
    for (unsigned k = 0; k < sizeof(want3) / sizeof(want3[0]); k++) {
        CHECK_U64(i8254_count(&p, 0, k), want3[k]);
        CHECK(i8254_out(&p, 0, k) == ((k % 6) < 3));
    }
    /* Odd N = 5: high for 3, low for 2. */
    program(0, 3, 5, 0);
    for (unsigned k = 0; k < 10; k++)
        CHECK(i8254_out(&p, 0, k) == ((k % 5) < 3));
    /* The PC's 100 Hz tick: 11932 clocks a period. */
    program(0, 2, 11932, 0);
    CHECK(!i8254_out(&p, 0, 11931) && i8254_out(&p, 0, 11932) && !i8254_out(&p, 0, 2 * 11932 - 1));
    /* Mode 4: OUT low for one clock at the terminal count. */
    program(1, 4, 7, 0);
    CHECK(i8254_out(&p, 1, 6) && !i8254_out(&p, 1, 7) && i8254_out(&p, 1, 8));
    /* Mode 5: the same, triggered by the gate. */
    i8254_set_gate(&p, 2, false, 0);
    program(2, 5, 3, 0);
    CHECK(i8254_out(&p, 2, 50));
    i8254_set_gate(&p, 2, true, 50);
    CHECK(i8254_out(&p, 2, 52) && !i8254_out(&p, 2, 53) && i8254_out(&p, 2, 54));
}

static void access_modes(void)
{
    i8254_reset(&p);
    /* LSB only, MSB only. */
    i8254_write(&p, 3, CW(0, 1, 0, 0), 0);
    i8254_write(&p, 0, 0x34, 0);
    CHECK_U64(i8254_count(&p, 0, 4), 0x30);
    CHECK_U64(i8254_read(&p, 0, 4), 0x30);
    i8254_write(&p, 3, CW(1, 2, 0, 0), 0);
    i8254_write(&p, 1, 0x12, 0);
    CHECK_U64(i8254_count(&p, 1, 0), 0x1200);
    CHECK_U64(i8254_read(&p, 1, 0x100), 0x11);
    /* Unlatched two-byte reads alternate LSB, MSB. */
    program(2, 0, 0x1234, 0);
    CHECK_U64(i8254_read(&p, 2, 0), 0x34);
    CHECK_U64(i8254_read(&p, 2, 0), 0x12);
    /* A latch holds until both bytes are read; a second latch meanwhile is ignored. */
    i8254_write(&p, 3, CW(2, 0, 0, 0), 0x34);
    i8254_write(&p, 3, CW(2, 0, 0, 0), 0x100);
    CHECK_U64(i8254_read(&p, 2, 0x200), 0x00);
    CHECK_U64(i8254_read(&p, 2, 0x200), 0x12);
    CHECK_U64(i8254_read(&p, 2, 0x234), 0x00); /* live again */
    /* Read-back: status of channel 2 (OUT low, count loaded, LSB+MSB, mode 0), then its count. */
    i8254_write(&p, 3, 0xc0 | 0x08, 0x1000); /* latch count and status of channel 2 */
    CHECK_U64(i8254_read(&p, 2, 0x1000), 0x30);
    CHECK_U64(i8254_read(&p, 2, 0x1000), 0x34);
    CHECK_U64(i8254_read(&p, 2, 0x1000), 0x02);
    i8254_write(&p, 3, CW(1, 3, 2, 0), 0); /* a new mode: null count until written */
    i8254_write(&p, 3, 0xc0 | 0x20 | 0x04, 0);
    CHECK_U64(i8254_read(&p, 1, 0), 0xc0 | 0x34); /* OUT high, null count, LSB+MSB, mode 2 */
    /* BCD: 1000 decimal counts down in decimal digits. */
    i8254_write(&p, 3, CW(0, 3, 0, 1), 0);
    i8254_write(&p, 0, 0x00, 0);
    i8254_write(&p, 0, 0x10, 0);
    CHECK_U64(i8254_count(&p, 0, 1), 0x0999);
    CHECK_U64(i8254_count(&p, 0, 1000), 0x0000);
    CHECK_U64(i8254_count(&p, 0, 1001), 0x9999);
    /* Modes 6 and 7 are 2 and 3; the control port reads nothing. */
    i8254_write(&p, 3, CW(0, 3, 7, 0), 0);
    CHECK_U64(p.ch[0].mode, 3);
    CHECK_U64(i8254_read(&p, 3, 0), 0xff);
}

/* Linux's quick_pit_calibrate(): channel 2, mode 0, count 0xffff, the gate
 * raised through port 0x61, then the count's MSB polled as it falls one
 * step per 256 clocks. */
static void linux_calibration(void)
{
    i8254_reset(&p);
    i8254_set_gate(&p, 2, false, 0);
    i8254_write(&p, 3, 0xb0, 10); /* channel 2, LSB+MSB, mode 0, binary */
    i8254_write(&p, 2, 0xff, 10);
    i8254_write(&p, 2, 0xff, 10);
    i8254_set_gate(&p, 2, true, 20);
    uint8_t last = 0xff;
    unsigned steps = 0;
    for (uint64_t t = 21; t < 20 + 256 * 200; t += 16) {
        (void)i8254_read(&p, 2, t); /* LSB */
        uint8_t msb = i8254_read(&p, 2, t);
        CHECK(msb <= last);
        if (msb != last)
            steps++;
        last = msb;
    }
    CHECK(steps >= 199 && steps <= 200);
    CHECK(!i8254_out(&p, 2, 20 + 0xfffe) && i8254_out(&p, 2, 20 + 0xffff));
}

int main(void)
{
    mode0();
    gate();
    periodic();
    access_modes();
    linux_calibration();
    return check_report("test_i8254");
}
