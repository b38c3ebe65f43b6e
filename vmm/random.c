/* Nonces: a SHA-256 hash chain over a pool that every call stirs with the
 * entropy at hand — RDRAND when the CPU has it (CPUID.01H:ECX[30], Intel
 * SDM Vol.1 7.3.17), the TSC (whose low bits jitter against the emulator's
 * or the machine's timing), the host tick count and a call counter. Two
 * hosts never share a nonce; a recorded nonce is never reused. */
#include <hopvm/lib.h>
#include <hopvm/random.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>
#include "bearssl_hash.h"

#define CPUID_1_ECX_RDRAND (1u << 30)
#define RDRAND_TRIES 10

static uint8_t pool[32];
static uint64_t calls;
static int has_rdrand = -1;

static bool rdrand64(uint64_t *v)
{
    for (int i = 0; i < RDRAND_TRIES; i++) {
        uint8_t ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
        if (ok)
            return true;
    }
    return false;
}

static void stir(br_sha256_context *h)
{
    if (has_rdrand < 0) {
        uint32_t r[4];
        cpuid(1, 0, r);
        has_rdrand = (r[2] & CPUID_1_ECX_RDRAND) != 0;
    }
    uint64_t e[6] = {rdtsc(), timer_ticks(), ++calls, 0, 0, 0};
    for (int i = 3; i < 6 && has_rdrand; i++)
        if (!rdrand64(&e[i]))
            e[i] = rdtsc();
    br_sha256_update(h, pool, sizeof(pool));
    br_sha256_update(h, e, sizeof(e));
}

void random_bytes(void *buf, size_t n)
{
    uint8_t *out = buf;
    while (n) {
        br_sha256_context h;
        uint8_t block[32];
        br_sha256_init(&h);
        stir(&h);
        br_sha256_update(&h, "out", 3);
        br_sha256_out(&h, block);
        br_sha256_init(&h); /* the pool moves on: an output never reveals the next */
        stir(&h);
        br_sha256_update(&h, "pool", 4);
        br_sha256_out(&h, pool);
        size_t k = n < sizeof(block) ? n : sizeof(block);
        memcpy(out, block, k);
        out += k, n -= k;
    }
}
