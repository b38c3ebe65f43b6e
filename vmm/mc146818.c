/* The MC146818A RTC and CMOS RAM as a pure model (include/hopvm/mc146818.h).
 * The time registers are never stored: a read works them out from the
 * wall time and the guest's offset; a write of one field moves the offset
 * so that field reads back as written (the data sheet's "SET" procedure
 * freezes the clock while several fields are written). Calendar math:
 * days <-> civil date after H. Hinnant's chrono algorithms (public
 * domain facts: the proleptic Gregorian calendar, 1970-01-01 a Thursday). */
#include <hopvm/lib.h>
#include <hopvm/mc146818.h>

#define PORT_INDEX      0
#define INDEX_NMI       0x80
#define INDEX_MASK      0x7f
#define REG_A_WRITABLE  0x7f
#define REG_A_BIOS      0x26 /* DV 010 (32.768 kHz, running), RS 0110 (1024 Hz) */
#define REG_B_UIE       0x10
#define NS_PER_S        1000000000ll
#define S_PER_DAY       86400ll
#define DAYS_PER_ERA    146097ll
#define EPOCH_SHIFT     719468ll /* days from 0000-03-01 to 1970-01-01 */

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && ((a < 0) != (b < 0))); }

void rtc_from_unix(int64_t s, struct rtc_time *t)
{
    int64_t days = floor_div(s, S_PER_DAY), sod = s - days * S_PER_DAY;
    t->hour = (unsigned)(sod / 3600), t->minute = (unsigned)(sod / 60 % 60), t->second = (unsigned)(sod % 60);
    t->weekday = (unsigned)((days % 7 + 7 + 4) % 7) + 1; /* 1970-01-01 was a Thursday; Sunday is 1 */
    int64_t z = days + EPOCH_SHIFT, era = floor_div(z, DAYS_PER_ERA);
    int64_t doe = z - era * DAYS_PER_ERA;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t->day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    t->month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    t->year = (unsigned)(yoe + era * 400 + (t->month <= 2));
}

int64_t rtc_to_unix(const struct rtc_time *t)
{
    int64_t y = (int64_t)t->year - (t->month <= 2), era = floor_div(y, 400);
    int64_t yoe = y - era * 400, m = t->month;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)t->day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
    return days * S_PER_DAY + (int64_t)t->hour * 3600 + (int64_t)t->minute * 60 + t->second;
}

static bool is_time_reg(uint8_t i)
{
    return i == RTC_SECONDS || i == RTC_MINUTES || i == RTC_HOURS || i == RTC_WEEKDAY || i == RTC_DAY ||
           i == RTC_MONTH || i == RTC_YEAR || i == RTC_CENTURY;
}

static int64_t guest_s(const struct mc146818 *r, uint64_t now_ns)
{
    if (r->regs[RTC_REG_B] & RTC_B_SET)
        return r->frozen_s;
    return (int64_t)(now_ns / NS_PER_S) + r->offset_s;
}

/* A field as the guest sees it: BCD or binary by DM, the hour by 12/24. */
static uint8_t encode(const struct mc146818 *r, uint8_t idx, const struct rtc_time *t)
{
    bool bin = r->regs[RTC_REG_B] & RTC_B_BINARY;
    unsigned v, pm = 0;
    switch (idx) {
    case RTC_SECONDS: v = t->second; break;
    case RTC_MINUTES: v = t->minute; break;
    case RTC_HOURS:
        v = t->hour;
        if (!(r->regs[RTC_REG_B] & RTC_B_24H)) {
            pm = v >= 12 ? RTC_HOUR_PM : 0;
            v = v % 12 ? v % 12 : 12;
        }
        break;
    case RTC_WEEKDAY: v = t->weekday; break;
    case RTC_DAY: v = t->day; break;
    case RTC_MONTH: v = t->month; break;
    case RTC_YEAR: v = t->year % 100; break;
    default: v = t->year / 100 % 100; break; /* century */
    }
    return (uint8_t)((bin ? v : rtc_bcd(v)) | pm);
}

static void set_field(const struct mc146818 *r, uint8_t idx, uint8_t raw, struct rtc_time *t)
{
    bool bin = r->regs[RTC_REG_B] & RTC_B_BINARY;
    unsigned pm = 0;
    if (idx == RTC_HOURS && !(r->regs[RTC_REG_B] & RTC_B_24H)) {
        pm = raw & RTC_HOUR_PM;
        raw &= (uint8_t)~RTC_HOUR_PM;
    }
    unsigned v = bin ? raw : rtc_unbcd(raw);
    switch (idx) {
    case RTC_SECONDS: t->second = v; break;
    case RTC_MINUTES: t->minute = v; break;
    case RTC_HOURS:
        t->hour = (r->regs[RTC_REG_B] & RTC_B_24H) ? v : v % 12 + (pm ? 12 : 0);
        break;
    case RTC_WEEKDAY: break; /* follows from the date here */
    case RTC_DAY: t->day = v; break;
    case RTC_MONTH: t->month = v; break;
    case RTC_YEAR: t->year = t->year / 100 * 100 + v % 100; break;
    default: t->year = v * 100 + t->year % 100; break;
    }
}

void mc146818_reset(struct mc146818 *r, uint64_t now_ns)
{
    memset(r, 0, sizeof(*r));
    r->regs[RTC_REG_A] = REG_A_BIOS;
    r->regs[RTC_REG_B] = RTC_B_24H;
    r->regs[RTC_REG_D] = RTC_D_VRT;
    r->frozen_s = (int64_t)(now_ns / NS_PER_S);
}

void mc146818_write(struct mc146818 *r, unsigned port, uint8_t v, uint64_t now_ns)
{
    if (port == PORT_INDEX) {
        r->index = v & INDEX_MASK;
        r->nmi_masked = v & INDEX_NMI;
        return;
    }
    uint8_t i = r->index;
    if (is_time_reg(i)) {
        struct rtc_time t;
        rtc_from_unix(guest_s(r, now_ns), &t);
        set_field(r, i, v, &t);
        int64_t g = rtc_to_unix(&t);
        if (r->regs[RTC_REG_B] & RTC_B_SET)
            r->frozen_s = g;
        else
            r->offset_s = g - (int64_t)(now_ns / NS_PER_S);
        return;
    }
    switch (i) {
    case RTC_REG_A:
        r->regs[i] = v & REG_A_WRITABLE; /* UIP is read-only */
        break;
    case RTC_REG_B: {
        bool was = r->regs[i] & RTC_B_SET, set = v & RTC_B_SET;
        if (!was && set)
            r->frozen_s = guest_s(r, now_ns);
        if (set)
            v &= (uint8_t)~REG_B_UIE; /* SET clears UIE (data sheet, register B) */
        r->regs[i] = v;
        if (was && !set)
            r->offset_s = r->frozen_s - (int64_t)(now_ns / NS_PER_S);
        break;
    }
    case RTC_REG_C:
    case RTC_REG_D:
        break; /* read-only */
    default:
        r->regs[i] = v;
        break;
    }
}

uint8_t mc146818_read(struct mc146818 *r, unsigned port, uint64_t now_ns)
{
    if (port == PORT_INDEX)
        return 0xff; /* write-only on a PC */
    uint8_t i = r->index;
    if (is_time_reg(i)) {
        struct rtc_time t;
        rtc_from_unix(guest_s(r, now_ns), &t);
        return encode(r, i, &t);
    }
    switch (i) {
    case RTC_REG_A: {
        bool uip = !(r->regs[RTC_REG_B] & RTC_B_SET) && now_ns % NS_PER_S >= NS_PER_S - RTC_UIP_NS;
        return r->regs[i] | (uip ? RTC_A_UIP : 0);
    }
    case RTC_REG_C:
        return 0; /* no interrupt flags: no interrupts yet */
    default:
        return r->regs[i];
    }
}
