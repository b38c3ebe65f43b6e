/* exitstorm: a million port writes and a million CPUIDs, each a VM exit;
 * prints the count and the TSC cycles they took (tools/bench-exits reads
 * the line), then exits 0. */
#include "rt.h"

#define EMPTY_PORT 0x2e0 /* nothing there: each write an exit hopvm counts as unclaimed */

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint32_t n = (uint32_t)cmdline_num(mbi, "n", 1000000);
    uint32_t r[4];
    uint64_t t0 = rdtsc();
    for (uint32_t i = 0; i < n; i++)
        outb(EMPTY_PORT, (uint8_t)i);
    uint64_t t1 = rdtsc();
    for (uint32_t i = 0; i < n; i++)
        cpuid(0, r);
    uint64_t t2 = rdtsc();
    printf("exitstorm: %u port writes in %lu cycles, %u cpuids in %lu cycles, tsc %lu kHz\n", n,
           (unsigned long)(t1 - t0), n, (unsigned long)(t2 - t1), (unsigned long)tsc_khz());
    printf("exitstorm: %u exits done\n", 2 * n);
    guest_exit(0);
}
