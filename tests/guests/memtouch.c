/* memtouch: fills mb=N MiB with a pattern, rewrites rate=R pages per
 * second, and verifies every page once per second, printing a checksum.
 * Each page's content derives from its number and a per-page generation,
 * so any lost or stale page is found. */
#include "rt.h"

#define AREA_BASE  0x800000u /* 8 MiB: above the kernel and its modules */
#define PAGE       4096u
#define MAX_PAGES  65536u     /* 256 MiB */

static uint32_t gen[MAX_PAGES];

static uint32_t word(uint32_t page, uint32_t g, uint32_t i)
{
    uint32_t x = page * 0x9e3779b1u ^ g * 0x85ebca6bu ^ i * 0xc2b2ae35u;
    return x ^ (x >> 15);
}

static void fill(uint32_t page)
{
    uint32_t *p = (uint32_t *)(uintptr_t)(AREA_BASE + page * PAGE);
    for (uint32_t i = 0; i < PAGE / 4; i++)
        p[i] = word(page, gen[page], i);
}

/* Returns the number of bad pages; *sum gets a checksum of the area. */
static uint32_t verify(uint32_t pages, uint32_t *sum)
{
    uint32_t bad = 0, s = 2166136261u; /* FNV-1a over words: order-sensitive */
    for (uint32_t pg = 0; pg < pages; pg++) {
        const uint32_t *p = (const uint32_t *)(uintptr_t)(AREA_BASE + pg * PAGE);
        for (uint32_t i = 0; i < PAGE / 4; i++) {
            if (p[i] != word(pg, gen[pg], i)) {
                bad++;
                break;
            }
            s = (s ^ p[i]) * 16777619u;
        }
    }
    *sum = s;
    return bad;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint32_t mb = (uint32_t)cmdline_num(mbi, "mb", 16);
    uint32_t rate = (uint32_t)cmdline_num(mbi, "rate", 1000);
    uint32_t pages = mb * 256;
    uint64_t mem_top = ((uint64_t)mbi->mem_upper + 1024) * 1024;
    if (pages > MAX_PAGES || AREA_BASE + (uint64_t)pages * PAGE > mem_top) {
        printf("memtouch: %u MiB does not fit in guest memory\n", mb);
        guest_exit(2);
    }
    uint64_t khz = tsc_khz() ? tsc_khz() : 1000000;
    printf("memtouch: %u MiB at 0x%x, rewriting %u pages/s\n", mb, AREA_BASE, rate);
    for (uint32_t pg = 0; pg < pages; pg++)
        fill(pg);
    uint32_t rng = 12345, pass = 0, sum;
    uint64_t start = rdtsc(), written = 0;
    for (;;) {
        /* Rewrite pages at the requested rate for one second, then verify. */
        uint64_t second = khz * 1000, t0 = rdtsc();
        while (rdtsc() - t0 < second) {
            uint64_t due = (rdtsc() - start) * rate / (khz * 1000);
            while (written < due) {
                rng = rng * 1103515245u + 12345u;
                uint32_t pg = (rng >> 8) % pages;
                gen[pg]++;
                fill(pg);
                written++;
            }
            __asm__ volatile("pause");
        }
        uint32_t bad = verify(pages, &sum);
        printf("memtouch: pass %u verified %u MiB checksum %08x %s (%lu rewrites)\n", pass++, mb, sum,
               bad ? "BAD" : "ok", (unsigned long)written);
        if (bad) {
            printf("memtouch: %u bad pages\n", bad);
            guest_exit(3);
        }
    }
}
