/* xstate: the XSAVE feature set as hopvm offers it (SDM Vol.2B MOV to
 * CR4, Vol.2C XSETBV/XGETBV, Vol.1 13.3; Vol.3A 2.5). Where CPUID offers
 * XSAVE and AVX:
 *   - XSETBV raises #UD while CR4.OSXSAVE is 0; MOV to CR4 with OSXSAVE
 *     works, and CPUID.1:ECX.OSXSAVE then reads 1;
 *   - XCR0 starts as 1 (x87); XSETBV raises #GP(0) for XCR 1, for a value
 *     without x87, for AVX without SSE and for a component CPUID.(0DH,0)
 *     does not offer;
 *   - with XCR0 = x87|SSE an AVX instruction raises #UD, and with
 *     x87|SSE|AVX it runs: the guest's XCR0 is the one in force, whatever
 *     other guests use (the avx guest runs beside it in the tests);
 *   - CPUID.(0DH,0).EBX follows XCR0 (576, then 832 bytes);
 *   - MOV to CR4 with the bit of a feature CPUID hides (VMXE, MCE) or a
 *     reserved bit (15), and, in long mode, one that clears PAE, raises
 *     #GP(0); one with bits CPUID offers (PGE) works.
 * Without XSAVE in CPUID, MOV to CR4 with OSXSAVE is #GP(0) and XSETBV #UD.
 * Each fault is caught by the guest's own handler, which resumes after the
 * instruction, so the guest reports every probe and exits 0 if all went as
 * expected (1 if not). Built as a multiboot (32-bit) guest and, through
 * xstate64.c, as an ELF64 one (REX-encoded MOV to CR4 from R9). */
#include "rt.h"
#include <stdbool.h>

#define VEC_UD 6
#define VEC_GP 13
#define NO_FAULT (-1)
#define CPUID1_ECX_XSAVE   (1u << 26)
#define CPUID1_ECX_OSXSAVE (1u << 27)
#define CPUID1_ECX_AVX     (1u << 28)
#define CPUID1_EDX_PGE     (1u << 13)
#define CR4_MCE     (1ul << 6)
#define CR4_PAE     (1ul << 5)
#define CR4_PGE     (1ul << 7)
#define CR4_VMXE    (1ul << 13)
#define CR4_RSVD15  (1ul << 15)
#define CR4_OSXSAVE (1ul << 18)
#define XCR0_X87 1u
#define XCR0_X87_SSE 3u
#define XCR0_X87_SSE_AVX 7u
#define XCR0_SSE_AVX 6u
#define XCR0_X87_AVX 5u
#define XCR0_PKRU_BIT9 (1u << 9)

/* Written by the fault handlers: the vector, its error code, and where to
 * go on (the probe sets it to the end of its faulting instruction). */
volatile int fault_vec = NO_FAULT;
volatile unsigned long fault_err;
volatile unsigned long fault_resume;

void ud_handler(void);
void gp_handler(void);
#ifdef __x86_64__
__asm__(".globl ud_handler\nud_handler:\n"
        "  movl $6, fault_vec(%rip)\n  movq $0, fault_err(%rip)\n"
        "  push %rax\n  mov fault_resume(%rip), %rax\n  mov %rax, 8(%rsp)\n  pop %rax\n  iretq\n"
        ".globl gp_handler\ngp_handler:\n"
        "  movl $13, fault_vec(%rip)\n"
        "  push %rax\n  mov 8(%rsp), %rax\n  mov %rax, fault_err(%rip)\n"
        "  mov fault_resume(%rip), %rax\n  mov %rax, 16(%rsp)\n  pop %rax\n  add $8, %rsp\n  iretq\n");
struct __attribute__((packed)) idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, rsvd;
};
struct __attribute__((packed)) idt_ptr {
    uint16_t limit;
    uint64_t base;
};
#define GATE(h, cs) ((struct idt_gate){(uint16_t)(h), (cs), 0, 0x8e, (uint16_t)((h) >> 16), (uint32_t)((h) >> 32), 0})
#else
__asm__(".globl ud_handler\nud_handler:\n"
        "  movl $6, fault_vec\n  movl $0, fault_err\n"
        "  push %eax\n  mov fault_resume, %eax\n  mov %eax, 4(%esp)\n  pop %eax\n  iret\n"
        ".globl gp_handler\ngp_handler:\n"
        "  movl $13, fault_vec\n"
        "  push %eax\n  mov 4(%esp), %eax\n  mov %eax, fault_err\n"
        "  mov fault_resume, %eax\n  mov %eax, 8(%esp)\n  pop %eax\n  add $4, %esp\n  iret\n");
struct __attribute__((packed)) idt_gate {
    uint16_t off_lo, sel;
    uint8_t zero, type;
    uint16_t off_hi;
};
struct __attribute__((packed)) idt_ptr {
    uint16_t limit;
    uint32_t base;
};
#define GATE(h, cs) ((struct idt_gate){(uint16_t)(h), (cs), 0, 0x8e, (uint16_t)((h) >> 16)})
#endif
static struct idt_gate idt[32];

static unsigned long read_cr4(void)
{
    unsigned long v;
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

/* MOV to CR4; the vector it raised, or NO_FAULT. In long mode the source is
 * R9, so the instruction carries REX.B (41 0F 22 E1). */
static int try_cr4(unsigned long val)
{
    fault_vec = NO_FAULT;
#ifdef __x86_64__
    register unsigned long src __asm__("r9") = val;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, fault_resume(%%rip)\n\t"
                     "mov %0, %%cr4\n1:" ::"r"(src) : "rax", "memory");
#else
    __asm__ volatile("movl $1f, fault_resume\n\tmov %0, %%cr4\n1:" ::"r"(val) : "memory");
#endif
    return fault_vec;
}

static int try_xsetbv(uint32_t xcr, uint64_t val)
{
    fault_vec = NO_FAULT;
#ifdef __x86_64__
    __asm__ volatile("lea 1f(%%rip), %%rbx\n\tmov %%rbx, fault_resume(%%rip)\n\txsetbv\n1:"
                     ::"c"(xcr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "rbx", "memory");
#else
    __asm__ volatile("movl $1f, fault_resume\n\txsetbv\n1:"
                     ::"c"(xcr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32)) : "memory");
#endif
    return fault_vec;
}

/* An AVX instruction (VEX.256 VPXOR): #UD unless XCR0 has SSE and AVX. */
static int try_avx(void)
{
    fault_vec = NO_FAULT;
#ifdef __x86_64__
    __asm__ volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, fault_resume(%%rip)\n\t"
                     "vpxor %%ymm1, %%ymm1, %%ymm1\n1:" ::: "rax", "memory");
#else
    __asm__ volatile("movl $1f, fault_resume\n\tvpxor %%ymm1, %%ymm1, %%ymm1\n1:" ::: "memory");
#endif
    return fault_vec;
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void cpuid_sub(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static const char *said(int vec)
{
    if (vec == NO_FAULT)
        return "no fault";
    if (vec == VEC_UD)
        return "#UD";
    if (vec == VEC_GP)
        return fault_err == 0 ? "#GP(0)" : "#GP(error code not 0)";
    return "an unexpected exception";
}

static int bad;

static void expect(const char *what, int got, int want)
{
    printf("xstate: %s: %s%s\n", what, said(got), got == want ? "" : " (UNEXPECTED)");
    if (got != want || (want == VEC_GP && fault_err != 0))
        bad++;
}

static void expect_num(const char *what, unsigned long got, unsigned long want)
{
    printf("xstate: %s: %lu%s\n", what, got, got == want ? "" : " (UNEXPECTED)");
    if (got != want)
        bad++;
}

/* The probes where CPUID offers XSAVE and AVX; CR4 is cr4 on entry and
 * on return. */
static void xsave_probes(unsigned long cr4)
{
    uint32_t r[4];
    expect("XSETBV before CR4.OSXSAVE", try_xsetbv(0, XCR0_X87_SSE), VEC_UD);
    expect("MOV to CR4 with OSXSAVE", try_cr4(cr4 | CR4_OSXSAVE), NO_FAULT);
    cpuid(1, r);
    expect_num("CPUID.1:ECX.OSXSAVE with CR4.OSXSAVE", !!(r[2] & CPUID1_ECX_OSXSAVE), 1);
    expect_num("XCR0 at the start", (unsigned long)xgetbv0(), XCR0_X87);
    cpuid_sub(0xd, 0, r);
    expect_num("CPUID.(0DH,0).EAX components", r[0], XCR0_X87_SSE_AVX);
    expect_num("CPUID.(0DH,0).ECX size of all", r[2], 832);
    expect("XSETBV of XCR 1", try_xsetbv(1, XCR0_X87_SSE), VEC_GP);
    expect("XSETBV without x87", try_xsetbv(0, XCR0_SSE_AVX), VEC_GP);
    expect("XSETBV of AVX without SSE", try_xsetbv(0, XCR0_X87_AVX), VEC_GP);
    expect("XSETBV of x87|SSE", try_xsetbv(0, XCR0_X87_SSE), NO_FAULT);
    expect_num("XCR0 after x87|SSE", (unsigned long)xgetbv0(), XCR0_X87_SSE);
    cpuid_sub(0xd, 0, r);
    expect_num("CPUID.(0DH,0).EBX size for x87|SSE", r[1], 576);
    expect("AVX instruction with XCR0 x87|SSE", try_avx(), VEC_UD);
    expect("XSETBV of x87|SSE|AVX", try_xsetbv(0, XCR0_X87_SSE_AVX), NO_FAULT);
    expect_num("XCR0 after x87|SSE|AVX", (unsigned long)xgetbv0(), XCR0_X87_SSE_AVX);
    cpuid_sub(0xd, 0, r);
    expect_num("CPUID.(0DH,0).EBX size for x87|SSE|AVX", r[1], 832);
    expect("AVX instruction with XCR0 x87|SSE|AVX", try_avx(), NO_FAULT);
    expect("MOV to CR4 without OSXSAVE", try_cr4(cr4), NO_FAULT);
    cpuid(1, r);
    expect_num("CPUID.1:ECX.OSXSAVE without CR4.OSXSAVE", !!(r[2] & CPUID1_ECX_OSXSAVE), 0);
    expect("XSETBV after CR4.OSXSAVE is cleared", try_xsetbv(0, XCR0_X87_SSE), VEC_UD);
    expect("AVX instruction without CR4.OSXSAVE", try_avx(), VEC_UD);
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic, (void)mbi;
    uint32_t r[4];
    cpuid(1, r);
    printf("xstate: %s mode, CPUID.1:ECX XSAVE %u OSXSAVE %u AVX %u\n", sizeof(long) == 8 ? "long" : "protected",
           !!(r[2] & CPUID1_ECX_XSAVE), !!(r[2] & CPUID1_ECX_OSXSAVE), !!(r[2] & CPUID1_ECX_AVX));
    if (r[2] & CPUID1_ECX_OSXSAVE) /* CR4.OSXSAVE is 0 at the start */
        bad++;
    bool xsave = (r[2] & CPUID1_ECX_XSAVE) && (r[2] & CPUID1_ECX_AVX);
    bool pge = r[3] & CPUID1_EDX_PGE;

    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    idt[VEC_UD] = GATE((uintptr_t)ud_handler, cs);
    idt[VEC_GP] = GATE((uintptr_t)gp_handler, cs);
    struct idt_ptr d = {sizeof(idt) - 1, (uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(d));

    unsigned long cr4 = read_cr4();
    printf("xstate: CR4 0x%lx at the start\n", cr4);
    if (xsave) {
        xsave_probes(cr4);
    } else {
        expect("MOV to CR4 with OSXSAVE", try_cr4(cr4 | CR4_OSXSAVE), VEC_GP);
        expect("XSETBV of x87|SSE|AVX", try_xsetbv(0, XCR0_X87_SSE_AVX), VEC_UD);
    }
    expect("MOV to CR4 with VMXE", try_cr4(cr4 | CR4_VMXE), VEC_GP);
    expect("MOV to CR4 with MCE", try_cr4(cr4 | CR4_MCE), VEC_GP);
    expect("MOV to CR4 with reserved bit 15", try_cr4(cr4 | CR4_RSVD15), VEC_GP);
    if (sizeof(long) == 8)
        expect("MOV to CR4 without PAE in long mode", try_cr4(cr4 & ~CR4_PAE), VEC_GP);
    if (read_cr4() != cr4) {
        printf("xstate: CR4 changed to 0x%lx (UNEXPECTED)\n", read_cr4());
        bad++;
    }
    if (pge) {
        expect("MOV to CR4 with PGE", try_cr4(cr4 | CR4_PGE), NO_FAULT);
        if (read_cr4() != (cr4 | CR4_PGE)) {
            printf("xstate: CR4 reads 0x%lx after setting PGE (UNEXPECTED)\n", read_cr4());
            bad++;
        }
        expect("MOV to CR4 back", try_cr4(cr4), NO_FAULT);
    }
    if (xsave) {
        /* Last: where an emulator lets XSETBV past the intercept (QEMU
         * 7.2's AMD-V), hopvm can only stop the guest here. */
        try_cr4(read_cr4() | CR4_OSXSAVE);
        expect("XSETBV of a component not offered (PKRU)", try_xsetbv(0, XCR0_X87_SSE | XCR0_PKRU_BIT9),
               VEC_GP);
        try_cr4(read_cr4() & ~CR4_OSXSAVE);
    }
    printf("xstate: CR4 0x%lx at the end\n", read_cr4());
    if (bad) {
        printf("xstate: %d UNEXPECTED\n", bad);
        guest_exit(1);
    }
    printf("xstate: all as expected\n");
    guest_exit(0);
}
