/* compute: an ELF64 guest entered in long mode. Runs the benchmark loop
 * that the host core also runs (`bench compute`), prints its TSC cycles,
 * exits 0. tools/bench-exits compares the two. */
#include "rt.h"
#include "../../include/hopvm/bench_loop.h"

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    uint64_t iters = cmdline_num(mbi, "iters", 20000000);
    printf("compute: long mode, magic 0x%x, cmdline '%s'\n", magic, cmdline(mbi));
    /* A 64-bit MMIO store with a REX-extended register (44 88 xx). */
    volatile uint8_t *mmio = (volatile uint8_t *)0xfeb00000ull;
    for (const char *p = "compute: MMIO from long mode\r\n"; *p; p++) {
        register uint8_t c __asm__("r9") = (uint8_t)*p;
        __asm__ volatile("movb %b0, (%1)" ::"r"(c), "r"(mmio) : "memory");
    }
    uint64_t t0 = rdtsc();
    uint64_t r = bench_loop(iters);
    uint64_t t1 = rdtsc();
    printf("compute: %lu iterations in %lu cycles (result %lx)\n", (unsigned long)iters,
           (unsigned long)(t1 - t0), (unsigned long)r);
    guest_exit(0);
}
