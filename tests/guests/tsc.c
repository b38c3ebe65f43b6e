/* tsc: the guest's time-stamp counter as hopvm gives it. RDTSC and the
 * IA32_TSC MSR (0x10) are one counter (SDM Vol.3B 18.17): a WRMSR sets what
 * RDTSC reads next, and RDMSR reads what RDTSC does. Prints
 *   tsc: first rdtsc N (K kHz)        the counter starts near zero with the guest
 *   tsc: rdtsc after wrtsc(0): N      a write sets it ...
 *   tsc: rdtsc after wrtsc(X): N      ... to any value
 *   tsc: rdtsc A, rdmsr B, rdtsc C    A <= B <= C
 *   tsc: rdtscp aux 0x5a5a1234, rdmsr 0x5a5a1234   IA32_TSC_AUX, as RDTSCP's ECX
 *   tsc: PIT channel 2 counted 10 ms in N TSC ticks   as Linux calibrates: mode 0,
 *                                     gated and polled through port 0x61
 *   tsc: rtc 2026-12-05 03:04:05      the RTC (CMOS 0x70/0x71, BCD), the host's time
 *   tsc: rtc set to 1999-12-31 23:59:58, reads 1999-12-31 23:59:5x  after SET
 * and exits 0; with tick=MS it then prints "tsc N" every MS milliseconds of
 * its own TSC time for ever, counting on from 2^40: the move tests compare
 * the lines before and after a save/restore or a teleport. */
#include "rt.h"

#define MSR_IA32_TSC 0x10
#define MSR_TSC_AUX  0xc0000103
#define TSC_AUX_SET  0x5a5a1234u
#define TSC_SET_TO   (1ull << 40) /* far above any host's TSC at boot or a fresh guest's */

/* Linux's pit_calibrate_tsc(): channel 2 in mode 0 with 11932 clocks
 * (10 ms at 1.193182 MHz), its gate raised through port 0x61 (speaker
 * off), then port 0x61's OUT bit polled until the terminal count. */
static uint64_t pit_10ms_in_tsc(void)
{
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xb0);
    outb(0x42, 11932 & 0xff);
    outb(0x42, 11932 >> 8);
    uint64_t t0 = rdtsc();
    while (!(inb(0x61) & 0x20))
        ;
    return rdtsc() - t0;
}

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static unsigned bcd(uint8_t v) { return (v >> 4) * 10 + (v & 0xf); }

/* The date as Linux's mc146818_get_time reads it: after any update in
 * progress (register A bit 7), BCD fields (register B bit 2 clear). */
static void print_rtc(const char *what)
{
    while (cmos(0x0a) & 0x80)
        ;
    printf("tsc: rtc%s %02u%02u-%02u-%02u %02u:%02u:%02u\n", what, bcd(cmos(0x32)), bcd(cmos(0x09)),
           bcd(cmos(0x08)), bcd(cmos(0x07)), bcd(cmos(0x04)), bcd(cmos(0x02)), bcd(cmos(0x00)));
}

static void set_rtc(void)
{
    static const uint8_t fields[][2] = {{0x32, 0x19}, {0x09, 0x99}, {0x08, 0x12}, {0x07, 0x31},
                                        {0x04, 0x23}, {0x02, 0x59}, {0x00, 0x58}};
    outb(0x70, 0x0b);
    uint8_t b = inb(0x71);
    outb(0x71, b | 0x80); /* SET: updates stop while the fields are written */
    for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        outb(0x70, fields[i][0]);
        outb(0x71, fields[i][1]);
    }
    outb(0x70, 0x0b);
    outb(0x71, b);
}

static uint32_t rdtscp_aux(void)
{
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    return aux;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint64_t first = rdtsc();
    uint64_t khz = tsc_khz();
    printf("tsc: first rdtsc %llu (%llu kHz)\n", (unsigned long long)first, (unsigned long long)khz);
    wrmsr(MSR_IA32_TSC, 0);
    uint64_t t = rdtsc();
    printf("tsc: rdtsc after wrtsc(0): %llu\n", (unsigned long long)t);
    wrmsr(MSR_IA32_TSC, TSC_SET_TO);
    t = rdtsc();
    printf("tsc: rdtsc after wrtsc(%llu): %llu\n", (unsigned long long)TSC_SET_TO, (unsigned long long)t);
    uint64_t a = rdtsc(), b = rdmsr(MSR_IA32_TSC), c = rdtsc();
    printf("tsc: rdtsc %llu, rdmsr %llu, rdtsc %llu\n", (unsigned long long)a, (unsigned long long)b,
           (unsigned long long)c);
    wrmsr(MSR_TSC_AUX, TSC_AUX_SET);
    uint32_t aux = rdtscp_aux();
    printf("tsc: rdtscp aux 0x%x, rdmsr 0x%x\n", aux, (uint32_t)rdmsr(MSR_TSC_AUX));
    /* The least of three: a time slice another guest takes only adds. */
    uint64_t pit = pit_10ms_in_tsc();
    for (int i = 0; i < 2; i++) {
        uint64_t t = pit_10ms_in_tsc();
        pit = t < pit ? t : pit;
    }
    printf("tsc: PIT channel 2 counted 10 ms in %llu TSC ticks\n", (unsigned long long)pit);
    print_rtc("");
    set_rtc();
    print_rtc(" set to 1999-12-31 23:59:58, reads");
    uint64_t ms = cmdline_num(mbi, "tick", 0);
    if (!ms)
        guest_exit(0);
    uint64_t period = (khz ? khz : 1000000) * ms; /* no rate from hopvm: assume 1 GHz */
    uint64_t last = rdtsc(), next = last;
    for (;;) {
        uint64_t now = rdtsc();
        /* A counter that went backwards is printed at once: that is what
         * the move tests look for, not a guest that waits for ever. */
        if ((int64_t)(now - next) >= 0 || now < last) {
            printf("tsc %llu\n", (unsigned long long)now);
            next = now + period;
            if ((aux = rdtscp_aux()) != TSC_AUX_SET) /* kept across moves and other guests */
                printf("tsc: TSC_AUX reads 0x%x (UNEXPECTED)\n", aux);
        }
        last = now;
    }
}
