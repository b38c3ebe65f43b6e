/* The compute loop of the guest-versus-host benchmark: the same source
 * runs in the `compute` test guest (ELF64) and in the host core (`bench
 * compute`), compiled the same way, so their cycle counts compare. */
#ifndef HOPVM_BENCH_LOOP_H
#define HOPVM_BENCH_LOOP_H
#include <stdint.h>

static inline uint64_t bench_loop(uint64_t iters)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0;
    for (uint64_t i = 0; i < iters; i++) {
        x ^= x << 13; /* xorshift64: integer ALU work, no memory */
        x ^= x >> 7;
        x ^= x << 17;
        acc += x ^ i;
        __asm__ volatile("" : "+r"(acc)); /* keep the loop from being folded */
    }
    return acc;
}

#endif
