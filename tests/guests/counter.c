/* counter: an increasing counter, one line every ~100 ms of TSC time,
 * forever. After a migration the numbers must continue, not restart.
 * Keys typed at its console (hopvm's `console counter`) are echoed back. */
#include "rt.h"

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint64_t khz = tsc_khz();
    if (!khz) {
        printf("counter: no TSC rate from the hypervisor; assuming 1 GHz\n");
        khz = 1000000;
    }
    uint64_t period = khz * cmdline_num(mbi, "ms", 100);
    uint64_t next = rdtsc();
    for (uint64_t n = 0;; n++) {
        printf("counter %lu\n", (unsigned long)n);
        next += period;
        while ((int64_t)(rdtsc() - next) < 0) {
            if (inb(0x3f8 + 5) & 1) /* LSR.DR: a key is waiting */
                printf("counter: got key '%c'\n", (char)inb(0x3f8));
            __asm__ volatile("pause");
        }
    }
}
