/* xstate: tries to turn on the vector state hopvm hides. Its CPUID offers
 * no XSAVE, OSXSAVE or AVX, so, as on a CPU without them (SDM Vol.2B MOV to
 * CR4, Vol.2C XSETBV; Vol.3A 2.5):
 *   - MOV to CR4 with OSXSAVE raises #GP(0), as does one with the bit of
 *     another feature CPUID hides (VMXE, MCE) or a reserved bit (15), and,
 *     in long mode, one that clears PAE;
 *   - XSETBV raises #UD, since CR4.OSXSAVE stays 0;
 *   - a MOV to CR4 with bits CPUID does offer (PGE) works.
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
#define XCR0_X87_SSE_AVX 7u

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

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic, (void)mbi;
    uint32_t r[4];
    cpuid(1, r);
    printf("xstate: %s mode, CPUID.1:ECX XSAVE %u OSXSAVE %u AVX %u\n", sizeof(long) == 8 ? "long" : "protected",
           !!(r[2] & CPUID1_ECX_XSAVE), !!(r[2] & CPUID1_ECX_OSXSAVE), !!(r[2] & CPUID1_ECX_AVX));
    if (r[2] & (CPUID1_ECX_XSAVE | CPUID1_ECX_OSXSAVE | CPUID1_ECX_AVX))
        bad++;
    bool pge = r[3] & CPUID1_EDX_PGE;

    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    idt[VEC_UD] = GATE((uintptr_t)ud_handler, cs);
    idt[VEC_GP] = GATE((uintptr_t)gp_handler, cs);
    struct idt_ptr d = {sizeof(idt) - 1, (uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(d));

    unsigned long cr4 = read_cr4();
    printf("xstate: CR4 0x%lx at the start\n", cr4);
    expect("MOV to CR4 with OSXSAVE", try_cr4(cr4 | CR4_OSXSAVE), VEC_GP);
    expect("XSETBV of x87|SSE|AVX", try_xsetbv(0, XCR0_X87_SSE_AVX), VEC_UD);
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
    printf("xstate: CR4 0x%lx at the end\n", read_cr4());
    if (bad) {
        printf("xstate: %d UNEXPECTED\n", bad);
        guest_exit(1);
    }
    printf("xstate: all as expected\n");
    guest_exit(0);
}
