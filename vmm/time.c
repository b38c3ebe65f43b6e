/* TSC calibration. The TSC is the host's clock: cheap to read and, on the
 * hosts we target, invariant (CPUID.80000007H:EDX[8]). Its rate is measured
 * against the ACPI PM timer, else the HPET, else the 8254 PIT. */
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define CALIBRATE_MS 50
#define CALIBRATE_RUNS 3

static uint64_t hz;
static uint64_t tsc0;
static const char *source = "none";

/* TSC ticks during ms milliseconds of the reference clock. */
static uint64_t measure(const struct refclock *rc, unsigned ms)
{
    uint64_t want = rc->hz * ms / 1000;
    uint64_t last = rc->read() & rc->mask, done = 0;
    uint64_t t0 = rdtsc();
    while (done < want) {
        uint64_t now = rc->read() & rc->mask;
        done += (now - last) & rc->mask; /* wraps at the counter width */
        last = now;
    }
    uint64_t t1 = rdtsc();
    /* Scale by what actually elapsed: the loop overshoots by one read. */
    return (t1 - t0) * want / done;
}

int time_init(void)
{
    struct refclock rc;
    if (pmtimer_probe(&rc) != 0 && hpet_probe(&rc) != 0 && pit_probe(&rc) != 0) {
        kprintf("time: no ACPI PM timer, HPET or PIT; cannot calibrate the TSC\n");
        return -1;
    }
    uint64_t r[CALIBRATE_RUNS];
    for (int i = 0; i < CALIBRATE_RUNS; i++)
        r[i] = measure(&rc, CALIBRATE_MS) * (1000 / CALIBRATE_MS);
    /* median of three */
    uint64_t a = r[0], b = r[1], c = r[2];
    hz = MAX(MIN(a, b), MIN(MAX(a, b), c));
    source = rc.name;
    tsc0 = rdtsc();
    return 0;
}

uint64_t tsc_hz(void) { return hz; }
const char *time_source(void) { return source; }

uint64_t time_ns(void) { return time_ns_at(rdtsc()); }

uint64_t time_ns_at(uint64_t tsc)
{
    if (!hz)
        return 0;
    uint64_t d = tsc - tsc0;
    /* Split to avoid overflow: whole seconds, then the remainder. */
    return d / hz * 1000000000ull + d % hz * 1000000000ull / hz;
}

void udelay(uint64_t us)
{
    uint64_t end = rdtsc() + hz * us / 1000000;
    while ((int64_t)(rdtsc() - end) < 0)
        pause();
}
