/* ACPI power-management timer: 3.579545 MHz, 24 or 32 bits (ACPI 6.5 4.8.3.3). */
#include <hopvm/acpi.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

static uint16_t port;

static uint64_t pmtimer_read(void) { return inl(port); }

int pmtimer_probe(struct refclock *rc)
{
    const struct acpi_info *a = acpi();
    if (!a->present || !a->pm_tmr_port)
        return -1;
    port = a->pm_tmr_port;
    rc->name = "ACPI PM timer";
    rc->hz = ACPI_PM_TIMER_HZ;
    rc->mask = a->pm_tmr_32bit ? 0xffffffffull : 0xffffffull;
    rc->read = pmtimer_read;
    /* A timer that does not move is absent in practice. */
    uint64_t t0 = pmtimer_read() & rc->mask;
    for (int i = 0; i < 100000; i++)
        if ((pmtimer_read() & rc->mask) != t0)
            return 0;
    return -1;
}
