/* The 8254 PIT (channel 2) as the last-resort reference clock, for
 * machines whose firmware publishes no ACPI tables (OVMF under Bochs does
 * not). 1.193182 MHz; channel 2 is gated by port 0x61 and drives no IRQ.
 * Intel 8254 data sheet; the PC wiring is in the IBM PC/AT reference. */
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define PIT_HZ        1193182u
#define PIT_CH2       0x42
#define PIT_CMD       0x43
#define PORT_B        0x61
#define PORTB_GATE2   0x01
#define PORTB_SPEAKER 0x02
#define CMD_CH2_MODE2_LOHI 0xb4 /* channel 2, lo/hi byte, mode 2 (rate generator) */
#define CMD_CH2_LATCH      0x80

static uint64_t pit_read(void)
{
    outb(PIT_CMD, CMD_CH2_LATCH);
    uint8_t lo = inb(PIT_CH2);
    uint8_t hi = inb(PIT_CH2);
    /* The counter runs down; the reference clock must run up. */
    return (uint16_t)(0x10000u - ((unsigned)hi << 8 | lo));
}

int pit_probe(struct refclock *rc)
{
    outb(PORT_B, (inb(PORT_B) & ~PORTB_SPEAKER) | PORTB_GATE2);
    outb(PIT_CMD, CMD_CH2_MODE2_LOHI);
    outb(PIT_CH2, 0); /* reload 0 = 65536: wraps every 54.9 ms */
    outb(PIT_CH2, 0);
    rc->name = "8254 PIT";
    rc->hz = PIT_HZ;
    rc->mask = 0xffff;
    rc->read = pit_read;
    uint64_t t0 = pit_read();
    for (int i = 0; i < 100000; i++)
        if (pit_read() != t0)
            return 0;
    return -1; /* no PIT either */
}
