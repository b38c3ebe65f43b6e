/* memtouch: fills mb=N MiB with a pattern, rewrites rate=R pages per
 * second, and verifies every page once per second, printing a checksum.
 * Time is the TSC, at the rate hopvm's CPUID leaf 0x40000010 gives; an
 * optional khz=N overrides it (a hypervisor without that leaf, such as
 * plain QEMU, whose TCG guest TSC runs at the host's TSC rate); with
 * neither, 1 GHz is assumed.
 * Each page's content derives from its number and a per-page generation,
 * so any lost or stale page is found.
 * passes=N ends the guest (exit code 0) after N passes.
 * mixed=1 rewrites each page one of four ways, so that every way a page
 * can change is checked by a live teleport's dirty tracking: plain stores,
 * `rep stosb`, non-temporal stores (movnti, which bypass the caches), and
 * `rep insb` from the UART's scratch register — string port input, which
 * hopvm itself writes into guest RAM. */
#include "rt.h"
#include <stdbool.h>

#define AREA_BASE  0x800000u /* 8 MiB: above the kernel and its modules */
#define PAGE       4096u
#define MAX_PAGES  65536u     /* 256 MiB */

#define UART_SCR   0x3ff      /* 16550 scratch register: reads back what was written */

enum way { WAY_STORE, WAY_STOSB, WAY_MOVNTI, WAY_INSB, WAYS };

static uint32_t gen[MAX_PAGES];
static uint8_t how[MAX_PAGES]; /* enum way of the page's last rewrite */

static uint32_t word(uint32_t page, uint32_t g, uint32_t i)
{
    uint32_t x = page * 0x9e3779b1u ^ g * 0x85ebca6bu ^ i * 0xc2b2ae35u;
    return x ^ (x >> 15);
}

/* What a rep stosb / rep insb page holds: one byte, all over. */
static uint8_t byte_of(uint32_t page, uint32_t g) { return (uint8_t)(word(page, g, 0) | 1); }

/* The word at i of a page as its last rewrite left it. */
static uint32_t expect(uint32_t page, uint32_t i)
{
    if (how[page] == WAY_STOSB || how[page] == WAY_INSB)
        return byte_of(page, gen[page]) * 0x01010101u;
    return word(page, gen[page], i);
}

static void fill(uint32_t page)
{
    uint32_t *p = (uint32_t *)(uintptr_t)(AREA_BASE + page * PAGE);
    uint32_t n = PAGE;
    uint8_t b = byte_of(page, gen[page]);
    switch (how[page]) {
    case WAY_STOSB: {
        void *d = p;
        __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(b) : "memory");
        break;
    }
    case WAY_MOVNTI:
        for (uint32_t i = 0; i < PAGE / 4; i++)
            __asm__ volatile("movnti %1, %0" : "=m"(p[i]) : "r"(word(page, gen[page], i)));
        __asm__ volatile("sfence" ::: "memory");
        break;
    case WAY_INSB: {
        void *d = p;
        outb(UART_SCR, b);
        __asm__ volatile("rep insb" : "+D"(d), "+c"(n) : "d"((uint16_t)UART_SCR) : "memory");
        break;
    }
    default:
        for (uint32_t i = 0; i < PAGE / 4; i++)
            p[i] = word(page, gen[page], i);
    }
}

/* Returns the number of bad pages; *sum gets a checksum of the area. */
static uint32_t verify(uint32_t pages, uint32_t *sum)
{
    uint32_t bad = 0, s = 2166136261u; /* FNV-1a over words: order-sensitive */
    for (uint32_t pg = 0; pg < pages; pg++) {
        const uint32_t *p = (const uint32_t *)(uintptr_t)(AREA_BASE + pg * PAGE);
        for (uint32_t i = 0; i < PAGE / 4; i++) {
            if (p[i] != expect(pg, i)) {
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
    bool mixed = cmdline_num(mbi, "mixed", 0) != 0;
    uint32_t last_pass = (uint32_t)cmdline_num(mbi, "passes", 0); /* 0: forever; else exit after them */
    uint32_t pages = mb * 256;
    uint64_t mem_top = ((uint64_t)mbi->mem_upper + 1024) * 1024;
    if (pages > MAX_PAGES || AREA_BASE + (uint64_t)pages * PAGE > mem_top) {
        printf("memtouch: %u MiB does not fit in guest memory\n", mb);
        guest_exit(2);
    }
    uint64_t khz = cmdline_num(mbi, "khz", 0);
    const char *src = "khz=";
    if (!khz) {
        khz = tsc_khz();
        src = "CPUID 0x40000010";
    }
    if (!khz) {
        khz = 1000000;
        src = "assumed";
    }
    printf("memtouch: %u MiB at 0x%x, rewriting %u pages/s%s (TSC %lu kHz, %s)\n", mb, AREA_BASE, rate,
           mixed ? " four ways (store, rep stosb, movnti, rep insb)" : "", (unsigned long)khz, src);
    for (uint32_t pg = 0; pg < pages; pg++)
        fill(pg);
    uint32_t rng = 12345, pass = 0, sum;
    uint64_t start = rdtsc(), written = 0, skipped = 0; /* rewrites done = written - skipped */
    for (;;) {
        /* Rewrite pages at the requested rate for one second, then verify. */
        uint64_t second = khz * 1000, t0 = rdtsc();
        while (rdtsc() - t0 < second) {
            uint64_t due = (rdtsc() - start) * rate / (khz * 1000);
            /* More than a second behind (a slow host, or a TSC that runs
             * faster on the host it moved to): skip ahead rather than
             * spend every later pass catching up. */
            if (due > written + rate) {
                skipped += due - rate - written;
                written = due - rate;
            }
            while (written < due) {
                rng = rng * 1103515245u + 12345u;
                uint32_t pg = (rng >> 8) % pages;
                gen[pg]++;
                if (mixed)
                    how[pg] = (uint8_t)((rng >> 4) % WAYS);
                fill(pg);
                written++;
            }
            __asm__ volatile("pause");
        }
        uint32_t bad = verify(pages, &sum);
        printf("memtouch: pass %u verified %u MiB checksum %08x %s (%lu rewrites)\n", pass++, mb, sum,
               bad ? "BAD" : "ok", (unsigned long)(written - skipped));
        if (bad) {
            printf("memtouch: %u bad pages\n", bad);
            guest_exit(3);
        }
        if (last_pass && pass >= last_pass) {
            printf("memtouch: %u passes done\n", pass);
            guest_exit(0);
        }
    }
}
