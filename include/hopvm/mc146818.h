/* The MC146818A real-time clock and CMOS RAM (Motorola MC146818A data
 * sheet: "Address Map", "Time, Calendar and Alarm Locations", "Registers
 * A-D"; the PC puts it at ports 0x70/0x71 and the century at CMOS 0x32), as
 * a pure model: the caller gives the wall time (ns since 1970, UTC) and the
 * model keeps the guest's clock as an offset from it, so the guest's time
 * goes on with the host's and can be set without touching the host's. Its
 * interrupts (alarm, periodic, update-ended) are not modelled. vmm/dev/rtc.c
 * puts it at 0x70/0x71; drivers/rtc.c reads the host's own RTC with the
 * same conversions; unit-tested (tests/unit/test_mc146818.c). */
#ifndef HOPVM_MC146818_H
#define HOPVM_MC146818_H
#include <stdbool.h>
#include <stdint.h>

#define RTC_REGS         128
#define RTC_SECONDS      0x00
#define RTC_MINUTES      0x02
#define RTC_HOURS        0x04
#define RTC_WEEKDAY      0x06
#define RTC_DAY          0x07
#define RTC_MONTH        0x08
#define RTC_YEAR         0x09
#define RTC_REG_A        0x0a
#define RTC_REG_B        0x0b
#define RTC_REG_C        0x0c
#define RTC_REG_D        0x0d
#define RTC_CENTURY      0x32 /* the PC's (and ACPI FADT's) century byte */
#define RTC_A_UIP        0x80 /* an update is under way: the time registers are in flux */
#define RTC_B_SET        0x80 /* updates stopped while software sets the time */
#define RTC_B_BINARY     0x04 /* DM: binary, not BCD */
#define RTC_B_24H        0x02
#define RTC_D_VRT        0x80 /* valid RAM and time */
#define RTC_HOUR_PM      0x80 /* 12-hour mode */
#define RTC_UIP_NS       244000ull /* UIP is set this long before each update (tBUC + tUC) */

struct rtc_time {
    unsigned year, month, day, hour, minute, second, weekday; /* month 1-12, day 1-31, weekday 1 (Sunday)-7 */
};

struct mc146818 {
    uint8_t index;          /* the register port 0x71 reaches */
    bool nmi_masked;        /* port 0x70 bit 7 */
    uint8_t regs[RTC_REGS]; /* A-D, the alarms and the RAM; time registers come from the clock */
    int64_t offset_s;       /* guest seconds = wall seconds + offset_s */
    int64_t frozen_s;       /* while SET: the guest's time, being set */
};

/* A clock that reads the wall time, set up as a PC BIOS leaves it:
 * 24-hour BCD, the divider running at 32.768 kHz, 1024 Hz periodic rate. */
void mc146818_reset(struct mc146818 *r, uint64_t now_ns);
/* port 0: the index (and NMI mask); port 1: the data. */
void mc146818_write(struct mc146818 *r, unsigned port, uint8_t v, uint64_t now_ns);
uint8_t mc146818_read(struct mc146818 *r, unsigned port, uint64_t now_ns);

/* Seconds since 1970-01-01 (UTC) <-> calendar (proleptic Gregorian). */
void rtc_from_unix(int64_t s, struct rtc_time *t);
int64_t rtc_to_unix(const struct rtc_time *t);
/* BCD <-> binary for one register byte. */
static inline uint8_t rtc_bcd(unsigned v) { return (uint8_t)(((v / 10) << 4) | (v % 10)); }
static inline unsigned rtc_unbcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }

#endif
