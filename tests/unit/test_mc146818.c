/* The MC146818A model (vmm/mc146818.c): calendar conversion, BCD and
 * binary, 12- and 24-hour modes, setting the time under SET, the
 * update-in-progress window, CMOS RAM, the NMI bit of the index port. */
#include "check.h"
#include <hopvm/mc146818.h>

#define NS 1000000000ull
static struct mc146818 r;

static uint8_t rd(uint8_t idx, uint64_t now)
{
    mc146818_write(&r, 0, idx, now);
    return mc146818_read(&r, 1, now);
}

static void wr(uint8_t idx, uint8_t v, uint64_t now)
{
    mc146818_write(&r, 0, idx, now);
    mc146818_write(&r, 1, v, now);
}

static void calendar(void)
{
    struct rtc_time t;
    rtc_from_unix(0, &t);
    CHECK(t.year == 1970 && t.month == 1 && t.day == 1 && t.hour == 0 && t.weekday == 5); /* Thursday */
    rtc_from_unix(1796439467, &t); /* 2026-12-05 02:57:47 UTC, a Saturday */
    CHECK(t.year == 2026 && t.month == 12 && t.day == 5 && t.hour == 2 && t.minute == 57 && t.second == 47);
    CHECK_U64(t.weekday, 7);
    rtc_from_unix(951782400, &t); /* 2000-02-29: a leap day of a century leap year */
    CHECK(t.year == 2000 && t.month == 2 && t.day == 29);
    rtc_from_unix(4107542399ll, &t); /* 2100-02-28 23:59:59; 2100 is not a leap year */
    CHECK(t.year == 2100 && t.month == 2 && t.day == 28 && t.second == 59);
    rtc_from_unix(4107542400ll, &t);
    CHECK(t.month == 3 && t.day == 1);
    rtc_from_unix(-1, &t);
    CHECK(t.year == 1969 && t.month == 12 && t.day == 31 && t.hour == 23 && t.weekday == 4);
    /* Every day of 400 years round-trips. */
    for (int64_t s = -86400ll * 365 * 70; s < 86400ll * 365 * 330; s += 86400 + 3661) {
        rtc_from_unix(s, &t);
        if (rtc_to_unix(&t) != s) {
            CHECK(rtc_to_unix(&t) == s);
            break;
        }
    }
    check_passed++;
}

static void registers(void)
{
    uint64_t now = 1796439467ull * NS + 100; /* 2026-12-05 02:57:47 */
    mc146818_reset(&r, now);
    CHECK_U64(rd(RTC_SECONDS, now), 0x47);
    CHECK_U64(rd(RTC_MINUTES, now), 0x57);
    CHECK_U64(rd(RTC_HOURS, now), 0x02);
    CHECK_U64(rd(RTC_WEEKDAY, now), 7);
    CHECK_U64(rd(RTC_DAY, now), 0x05);
    CHECK_U64(rd(RTC_MONTH, now), 0x12);
    CHECK_U64(rd(RTC_YEAR, now), 0x26);
    CHECK_U64(rd(RTC_CENTURY, now), 0x20);
    CHECK_U64(rd(RTC_REG_A, now), 0x26);
    CHECK_U64(rd(RTC_REG_B, now), RTC_B_24H);
    CHECK_U64(rd(RTC_REG_D, now), RTC_D_VRT);
    CHECK_U64(rd(RTC_SECONDS, now + 5 * NS), 0x52); /* it runs with the wall clock */
    /* Binary, 12-hour: 14:05 reads 2 PM. */
    uint64_t pm = (1796439467ull + 11 * 3600 + 8 * 60) * NS; /* 14:05:47 */
    wr(RTC_REG_B, RTC_B_BINARY, pm);
    CHECK_U64(rd(RTC_HOURS, pm), 2 | RTC_HOUR_PM);
    CHECK_U64(rd(RTC_MINUTES, pm), 5);
    CHECK_U64(rd(RTC_YEAR, pm), 26);
    CHECK_U64(rd(RTC_HOURS, now), 2); /* 02:57 AM */
    CHECK_U64(rd(RTC_HOURS, now - 3 * 3600 * NS), 11 | RTC_HOUR_PM); /* 23:57 the day before: 11 PM */
    wr(RTC_REG_B, RTC_B_24H, now);
    /* UIP: only in the last 244 us before a second ends. */
    CHECK(!(rd(RTC_REG_A, 1796439467ull * NS + NS - RTC_UIP_NS - 1) & RTC_A_UIP));
    CHECK(rd(RTC_REG_A, 1796439467ull * NS + NS - RTC_UIP_NS) & RTC_A_UIP);
    wr(RTC_REG_A, 0xff, now); /* UIP is not writable */
    CHECK_U64(rd(RTC_REG_A, now), 0x7f);
    wr(RTC_REG_A, 0x26, now);
    /* CMOS RAM keeps what is written; C and D do not change. */
    wr(0x40, 0xa5, now);
    wr(0x7f, 0x5a, now);
    CHECK_U64(rd(0x40, now), 0xa5);
    CHECK_U64(rd(0x7f, now), 0x5a);
    wr(RTC_REG_D, 0, now);
    CHECK_U64(rd(RTC_REG_D, now), RTC_D_VRT);
    /* The index port: bit 7 masks NMIs; the index is 7 bits. */
    mc146818_write(&r, 0, 0x80 | 0x40, now);
    CHECK(r.nmi_masked);
    CHECK_U64(mc146818_read(&r, 1, now), 0xa5);
    mc146818_write(&r, 0, 0x40, now);
    CHECK(!r.nmi_masked);
}

static void setting(void)
{
    uint64_t now = 1796439467ull * NS;
    mc146818_reset(&r, now);
    /* As Linux's mc146818_set_time: SET, write every field (BCD), clear SET. */
    wr(RTC_REG_B, RTC_B_SET | RTC_B_24H, now);
    wr(RTC_YEAR, 0x99, now);
    wr(RTC_CENTURY, 0x19, now);
    wr(RTC_MONTH, 0x12, now);
    wr(RTC_DAY, 0x31, now);
    wr(RTC_HOURS, 0x23, now);
    wr(RTC_MINUTES, 0x59, now);
    wr(RTC_SECONDS, 0x50, now);
    CHECK_U64(rd(RTC_SECONDS, now + 30 * NS), 0x50); /* frozen while SET */
    CHECK(!(rd(RTC_REG_A, now + NS - 1) & RTC_A_UIP)); /* and no updates */
    wr(RTC_REG_B, RTC_B_24H, now + 30 * NS);
    uint64_t later = now + 40 * NS; /* 10 s after SET was cleared: 2000-01-01 00:00:00 */
    CHECK_U64(rd(RTC_SECONDS, later), 0x00);
    CHECK_U64(rd(RTC_MINUTES, later), 0x00);
    CHECK_U64(rd(RTC_HOURS, later), 0x00);
    CHECK_U64(rd(RTC_DAY, later), 0x01);
    CHECK_U64(rd(RTC_MONTH, later), 0x01);
    CHECK_U64(rd(RTC_YEAR, later), 0x00);
    CHECK_U64(rd(RTC_CENTURY, later), 0x20);
    CHECK_U64(rd(RTC_WEEKDAY, later), 7); /* 2000-01-01 was a Saturday */
    /* One field alone, binary mode, without SET: the others stay. */
    wr(RTC_REG_B, RTC_B_24H | RTC_B_BINARY, later);
    wr(RTC_MINUTES, 30, later);
    CHECK_U64(rd(RTC_MINUTES, later), 30);
    CHECK_U64(rd(RTC_HOURS, later), 0);
    /* 12-hour mode: 12 AM is midnight, 12 PM noon. */
    wr(RTC_REG_B, RTC_B_BINARY, later);
    wr(RTC_HOURS, 12 | RTC_HOUR_PM, later);
    wr(RTC_REG_B, RTC_B_BINARY | RTC_B_24H, later);
    CHECK_U64(rd(RTC_HOURS, later), 12);
    wr(RTC_REG_B, RTC_B_BINARY, later);
    wr(RTC_HOURS, 12, later);
    wr(RTC_REG_B, RTC_B_BINARY | RTC_B_24H, later);
    CHECK_U64(rd(RTC_HOURS, later), 0);
}

int main(void)
{
    calendar();
    registers();
    setting();
    return check_report("test_mc146818");
}
