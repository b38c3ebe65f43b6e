/* HPET main counter as a reference clock (IA-PC HPET spec 1.0a, 2.3). */
#include <hopvm/acpi.h>
#include <hopvm/paging.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define HPET_GCAP_ID   0x000
#define HPET_GEN_CONF  0x010
#define HPET_COUNTER   0x0f0
#define HPET_ENABLE    (1ull << 0)
#define HPET_COUNT_64  (1ull << 13)
#define FS_PER_S       1000000000000000ull

static uint64_t base;

static uint64_t hpet_read(void) { return mmio_read64(base + HPET_COUNTER); }

int hpet_probe(struct refclock *rc)
{
    const struct acpi_info *a = acpi();
    if (!a->present || !a->hpet_base)
        return -1;
    base = a->hpet_base;
    paging_make_uncached(base, 1024);
    uint64_t cap = mmio_read64(base + HPET_GCAP_ID);
    uint64_t period_fs = cap >> 32;
    if (period_fs == 0 || period_fs > 100000000ull) /* spec: at most 100 ns */
        return -1;
    uint64_t conf = mmio_read64(base + HPET_GEN_CONF);
    if (!(conf & HPET_ENABLE))
        mmio_write64(base + HPET_GEN_CONF, conf | HPET_ENABLE);
    rc->name = "HPET";
    rc->hz = FS_PER_S / period_fs;
    rc->mask = (cap & HPET_COUNT_64) ? ~0ull : 0xffffffffull;
    rc->read = hpet_read;
    return 0;
}
