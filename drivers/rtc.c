/* The host's wall clock: its own MC146818A RTC (ports 0x70/0x71) read
 * once at start-up, then carried forward by the TSC (time_ns). A PC's RTC
 * normally keeps UTC on machines that run Linux; hopvm takes it as UTC.
 * The read follows the data sheet: wait out an update in progress, read
 * every field, and read again until two passes agree. */
#include <hopvm/lib.h>
#include <hopvm/mc146818.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define CMOS_INDEX   0x70
#define CMOS_DATA    0x71
#define UIP_WAIT_US  2500 /* an update takes under 2 ms (tBUC + tUC) */
#define READ_TRIES   4
#define NS_PER_S     1000000000ull
#define YEAR_MIN     2000 /* older means no RTC, or a dead battery */

static int64_t base_s = -1;
static uint64_t base_ns;

static uint8_t cmos(uint8_t reg)
{
    outb(CMOS_INDEX, reg); /* bit 7 clear: NMIs stay enabled */
    return inb(CMOS_DATA);
}

static bool read_once(struct rtc_time *t)
{
    for (unsigned us = 0; cmos(RTC_REG_A) & RTC_A_UIP; us++) {
        if (us > UIP_WAIT_US)
            return false;
        udelay(1);
    }
    uint8_t b = cmos(RTC_REG_B), hour = cmos(RTC_HOURS), cen = cmos(RTC_CENTURY);
    bool bin = b & RTC_B_BINARY;
#define FIELD(v) (bin ? (unsigned)(v) : rtc_unbcd(v))
    t->second = FIELD(cmos(RTC_SECONDS));
    t->minute = FIELD(cmos(RTC_MINUTES));
    t->day = FIELD(cmos(RTC_DAY));
    t->month = FIELD(cmos(RTC_MONTH));
    unsigned century = FIELD(cen);
    t->year = (century >= 19 && century <= 99 ? century : 20) * 100 + FIELD(cmos(RTC_YEAR));
    bool pm = !(b & RTC_B_24H) && (hour & RTC_HOUR_PM);
    unsigned h = FIELD(hour & (uint8_t)~RTC_HOUR_PM);
    t->hour = (b & RTC_B_24H) ? h : h % 12 + (pm ? 12 : 0);
#undef FIELD
    t->weekday = 0;
    return true;
}

int host_rtc_init(void)
{
    struct rtc_time a, b;
    for (int i = 0; i < READ_TRIES; i++) {
        if (!read_once(&a) || !read_once(&b))
            continue;
        if (memcmp(&a, &b, sizeof(a)))
            continue; /* an update came between the passes */
        if (a.year < YEAR_MIN || a.month < 1 || a.month > 12 || a.day < 1 || a.day > 31 || a.hour > 23 ||
            a.minute > 59 || a.second > 59)
            return -1;
        base_s = rtc_to_unix(&a);
        base_ns = time_ns();
        return 0;
    }
    return -1;
}

uint64_t wall_ns(void)
{
    return (uint64_t)(base_s < 0 ? 0 : base_s) * NS_PER_S + (time_ns() - base_ns);
}
