/* counter: an increasing counter, one line every ~100 ms of TSC time,
 * forever. After a migration the numbers must continue, not restart.
 * Keys typed at its console (hopvm's `console counter`) are echoed back;
 * 'v' also prints the CPU vendor and feature leaf 1 that CPUID answers
 * (the guest's CPUID must not change when it moves). */
#include "rt.h"

static void show_cpuid(void)
{
    uint32_t r[4], f[4];
    char vendor[13];
    cpuid(0, r);
    cpuid(1, f);
    const uint32_t order[3] = {r[1], r[3], r[2]}; /* EBX, EDX, ECX */
    for (int i = 0; i < 12; i++)
        vendor[i] = (char)(order[i / 4] >> (8 * (i % 4)));
    vendor[12] = 0;
    printf("counter: cpuid %s max 0x%x leaf1 %x %x %x\n", vendor, r[0], f[0], f[2], f[3]);
}

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
            if (inb(0x3f8 + 5) & 1) { /* LSR.DR: a key is waiting */
                char k = (char)inb(0x3f8);
                printf("counter: got key '%c'\n", k);
                if (k == 'v')
                    show_cpuid();
            }
            __asm__ volatile("pause");
        }
    }
}
