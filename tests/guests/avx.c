/* avx: turns on AVX (CR4.OSXSAVE, then XCR0 = x87|SSE|AVX with XSETBV),
 * loads a pattern made from its seed (cmdline seed=N) into all sixteen YMM
 * registers once, and from then on only reads them: every ms=N
 * milliseconds it prints "avx <n> intact", and all the time in between it
 * stores them, compares all 512 bytes with the pattern and checks XCR0
 * with XGETBV. Registers that
 * changed, in either half, are a line "avx: ymm<i> byte <j> ... UNEXPECTED"
 * and exit code 1.
 *
 * What it proves: hopvm keeps this guest's whole vector state, upper YMM
 * halves included, while other guests (another avx with another seed)
 * run on the same CPU, and across a save/restore or a teleport. The guests
 * are compiled with -mgeneral-regs-only, so nothing but the asm here
 * touches a vector register. ELF64 (sixteen registers). */
#include "rt.h"

#define CPUID1_ECX_XSAVE (1u << 26)
#define CPUID1_ECX_AVX   (1u << 28)
#define CR4_OSXSAVE      (1ul << 18)
#define XCR0_X87_SSE_AVX 7u
#define NREGS 16
#define YMM_BYTES 32

static uint8_t want[NREGS][YMM_BYTES] __attribute__((aligned(32)));
static uint8_t got[NREGS][YMM_BYTES] __attribute__((aligned(32)));

#define LOAD(i) __asm__ volatile("vmovdqu %0, %%ymm" #i ::"m"(want[i]))
#define STORE(i) __asm__ volatile("vmovdqu %%ymm" #i ", %0" : "=m"(got[i]))

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void load_all(void)
{
    LOAD(0); LOAD(1); LOAD(2); LOAD(3); LOAD(4); LOAD(5); LOAD(6); LOAD(7);
    LOAD(8); LOAD(9); LOAD(10); LOAD(11); LOAD(12); LOAD(13); LOAD(14); LOAD(15);
}

static void store_all(void)
{
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5); STORE(6); STORE(7);
    STORE(8); STORE(9); STORE(10); STORE(11); STORE(12); STORE(13); STORE(14); STORE(15);
}

/* 0 if the registers hold the pattern, else 1 after saying where not. */
static int check(uint64_t n)
{
    store_all();
    for (int i = 0; i < NREGS; i++)
        for (int j = 0; j < YMM_BYTES; j++)
            if (got[i][j] != want[i][j]) {
                printf("avx: ymm%d byte %d is 0x%x, not 0x%x, after %lu checks (UNEXPECTED)\n", i, j,
                       got[i][j], want[i][j], (unsigned long)n);
                return 1;
            }
    uint64_t x = xgetbv0();
    if (x != XCR0_X87_SSE_AVX) {
        printf("avx: XCR0 reads 0x%lx, not 0x%x (UNEXPECTED)\n", (unsigned long)x, XCR0_X87_SSE_AVX);
        return 1;
    }
    return 0;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint32_t r[4];
    cpuid(1, r);
    if (!(r[2] & CPUID1_ECX_XSAVE) || !(r[2] & CPUID1_ECX_AVX)) {
        printf("avx: CPUID offers no XSAVE or no AVX\n");
        guest_exit(2);
    }
    unsigned long cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | CR4_OSXSAVE));
    __asm__ volatile("xsetbv" ::"c"(0), "a"(XCR0_X87_SSE_AVX), "d"(0));

    uint64_t seed = cmdline_num(mbi, "seed", 1);
    for (int i = 0; i < NREGS; i++)
        for (int j = 0; j < YMM_BYTES; j++)
            want[i][j] = (uint8_t)(seed * 151 + (uint64_t)i * 29 + (uint64_t)j * 7 + 1);
    load_all();
    printf("avx: seed %lu, XCR0 0x%lx, 16 YMM registers loaded\n", (unsigned long)seed,
           (unsigned long)xgetbv0());

    uint64_t khz = tsc_khz() ? tsc_khz() : 1000000;
    uint64_t period = khz * cmdline_num(mbi, "ms", 100);
    uint64_t next = rdtsc();
    for (uint64_t n = 0;; n++) {
        if (check(n))
            guest_exit(1);
        printf("avx %lu intact\n", (unsigned long)n);
        next += period;
        while ((int64_t)(rdtsc() - next) < 0)
            if (check(n)) /* all the time, not only at the lines */
                guest_exit(1);
    }
}
