/* The architectural checks on a vCPU state that came from outside hopvm
 * (include/hopvm/vcpu_check.h): control registers, EFER and the modes they
 * make, RIP and RFLAGS, debug registers, PAT and the MSRs the backends load,
 * the interrupt shadow and the pending event. Segments and descriptor
 * tables are vmm/vcpu_check_seg.c's. Each rule cites where the manuals make
 * it: the VMX guest-state checks (Intel SDM Vol.3C 26.3.1), the VMRUN
 * consistency checks (AMD APM Vol.2 15.5.1), or the instruction that would
 * fault on the value (MOV to CR, WRMSR). A rule that only one vendor's
 * entry makes is kept anyway: a state must load on either backend, since a
 * guest moves between them. Pure: no hardware, no allocation. */
#include "vcpu_check_internal.h"
#include <hopvm/lib.h>
#include <hopvm/xstate.h>

/* Control-register and flag bits not in vcpu_state.h (SDM Vol.3A 2.5,
 * figure 2-7; 2.3, figure 2-5). */
#ifndef CR0_EM
#define CR0_EM (1ull << 2)
#endif
#ifndef CR0_TS
#define CR0_TS (1ull << 3)
#endif
#ifndef CR0_AM
#define CR0_AM (1ull << 18)
#endif
#ifndef CR0_NW
#define CR0_NW (1ull << 29)
#endif
#ifndef CR0_CD
#define CR0_CD (1ull << 30)
#endif
#define CR0_DEFINED (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | \
                     CR0_CD | CR0_PG)
#define CR4_BIT_PCIDE (1ull << 17)
#define CR4_BIT_CET (1ull << 23)
/* Bits 0-14 and 16-25 are defined (VME ... SMXE, FSGSBASE ... UINTR); the
 * rest is reserved on every CPU hopvm knows. */
#define CR4_DEFINED (0x7fffull | (0x3ffull << 16))
#define RFLAGS_RESERVED (~0x3fffffull | (1ull << 15) | (1ull << 5) | (1ull << 3)) /* 63:22, 15, 5, 3 */
#define HIGH32 0xffffffff00000000ull
#define PHYS_BITS_MAX 52            /* SDM Vol.3A 4.1.4: MAXPHYADDR is at most 52 */
#define ADDR_BITS 64

/* Exceptions that push an error code (SDM Vol.3A 6.15; #CP only with CET). */
#define EXC_DF 8
#define EXC_TS 10
#define EXC_NP 11
#define EXC_SS 12
#define EXC_PF 14
#define EXC_AC 17
#define EXC_CP 21
#define EXC_LAST 31
#define NMI_VECTOR 2
#define ERROR_CODE_BITS 0xffffu     /* SDM Vol.3C 26.2.1.3: bits 31:16 of an injected error code are 0 */

/* PAT entries are 3-bit memory types in bits 2:0 of each byte; 2 and 3 are
 * reserved, as are bits 7:3 (SDM Vol.3A 11.12.2, table 11-10). */
#define PAT_ENTRIES 8
#define PAT_ENTRY_BITS 8
#define PAT_ENTRY_MASK 0xffu
#define PAT_TYPE_RSVD2 2
#define PAT_TYPE_RSVD3 3
#define PAT_TYPE_MAX 7

int vc_fail(struct vc *c, const char *fmt, ...)
{
    if (c->why && c->n) {
        va_list ap;
        va_start(ap, fmt);
        kvsnprintf(c->why, c->n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

bool vcpu_canonical(uint64_t addr, unsigned bits)
{
    if (bits == 0 || bits > ADDR_BITS)
        return false;
    uint64_t top = addr >> (bits - 1);
    return top == 0 || top == ~0ull >> (bits - 1);
}

int vc_canonical(struct vc *c, const char *what, uint64_t addr)
{
    if (vcpu_canonical(addr, c->va_bits))
        return 0;
    return vc_fail(c, "%s 0x%llx is not canonical", what, (unsigned long long)addr);
}

/* CR0, CR3, CR4 and EFER, and the paging mode they make together. */
static int check_control(struct vc *c)
{
    const struct vcpu_state *s = c->s;
    /* MOV to CR0 faults on bits 63:32 and VMRUN refuses them (APM 15.5.1);
     * the VMX fixed-1 MSR has 0 for every reserved bit (SDM 26.3.1.1). */
    if (s->cr0 & ~CR0_DEFINED)
        return vc_fail(c, "CR0 0x%llx sets reserved bits 0x%llx", (unsigned long long)s->cr0,
                       (unsigned long long)(s->cr0 & ~CR0_DEFINED));
    if ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE))
        return vc_fail(c, "CR0.PG is set without CR0.PE"); /* SDM 26.3.1.1, APM 15.5.1 */
    if ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD))
        return vc_fail(c, "CR0.NW is set without CR0.CD"); /* APM 15.5.1; MOV to CR0 #GP */
    uint64_t cr4_bad = s->cr4 & ~(c->lim->cr4 & CR4_DEFINED);
    if (cr4_bad) /* SDM 26.3.1.1 (IA32_VMX_CR4_FIXED1); APM 15.5.1 (CR4 MBZ, CPUID) */
        return vc_fail(c, "CR4 0x%llx sets bits 0x%llx a guest here cannot have", (unsigned long long)s->cr4,
                       (unsigned long long)cr4_bad);
    unsigned phys = MIN(c->lim->phys_bits, (unsigned)PHYS_BITS_MAX);
    if (s->cr3 >> phys) /* SDM 26.3.1.1; APM 15.5.1 (CR3 MBZ) */
        return vc_fail(c, "CR3 0x%llx has bits above the %u-bit physical address width",
                       (unsigned long long)s->cr3, phys);
    uint64_t efer_bad = s->efer & ~(c->lim->efer & VCPU_EFER_GUEST);
    if (efer_bad) /* SDM 26.3.1.1 (load IA32_EFER); APM 15.5.1 (EFER MBZ) */
        return vc_fail(c, "EFER 0x%llx sets bits 0x%llx a guest here cannot have", (unsigned long long)s->efer,
                       (unsigned long long)efer_bad);
    /* The CPU sets LMA exactly when paging is on with LME (SDM Vol.3A
     * 9.8.5); VM entry wants LMA = "IA-32e mode guest" and, with paging,
     * LMA = LME (26.3.1.1). */
    bool lme_pg = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
    if (c->lma && !lme_pg)
        return vc_fail(c, "EFER.LMA is set without both EFER.LME and CR0.PG");
    if (!c->lma && lme_pg)
        return vc_fail(c, "EFER.LME and CR0.PG are set but EFER.LMA is clear");
    if (c->lma && !(s->cr4 & CR4_PAE)) /* SDM 26.3.1.1; APM 15.5.1 */
        return vc_fail(c, "long mode (EFER.LMA) without CR4.PAE");
    if ((s->cr4 & CR4_BIT_PCIDE) && !c->lma) /* SDM 26.3.1.1; MOV to CR4 #GP */
        return vc_fail(c, "CR4.PCIDE is set outside long mode");
    if ((s->cr4 & CR4_BIT_CET) && !(s->cr0 & CR0_WP)) /* SDM 26.3.1.1; APM 15.5.1 */
        return vc_fail(c, "CR4.CET is set without CR0.WP");
    return 0;
}

/* RFLAGS and RIP (SDM 26.3.1.4). */
static int check_flags_rip(struct vc *c)
{
    const struct vcpu_state *s = c->s;
    if (s->rflags & RFLAGS_RESERVED)
        return vc_fail(c, "RFLAGS 0x%llx sets reserved bits", (unsigned long long)s->rflags);
    if (!(s->rflags & RFLAGS_FIXED))
        return vc_fail(c, "RFLAGS 0x%llx has bit 1 clear", (unsigned long long)s->rflags);
    if ((s->rflags & RFLAGS_VM) && (c->lma || !(s->cr0 & CR0_PE)))
        return vc_fail(c, "RFLAGS.VM is set %s", c->lma ? "in long mode" : "with CR0.PE clear");
    /* 64-bit code runs at a canonical RIP; everything else at a 32-bit EIP. */
    if (c->lma && (s->cs.attr & SEG_ATTR_L))
        return vc_canonical(c, "RIP", s->rip);
    if (s->rip & HIGH32)
        return vc_fail(c, "RIP 0x%llx does not fit 32 bits outside 64-bit code", (unsigned long long)s->rip);
    return 0;
}

/* The debug registers, PAT and the MSRs a backend loads into the CPU. */
static int check_msrs(struct vc *c)
{
    const struct vcpu_state *s = c->s;
    /* MOV to DR6/DR7 faults on bits 63:32 (SDM Vol.3A 17.2.6); VMRUN
     * refuses them (APM 15.5.1), VM entry does for DR7 (26.3.1.1). Bits
     * 31:0 have no must-be-zero bits: the CPU fixes the reserved ones. */
    if (s->dr6 & HIGH32)
        return vc_fail(c, "DR6 0x%llx sets bits 63:32", (unsigned long long)s->dr6);
    if (s->dr7 & HIGH32)
        return vc_fail(c, "DR7 0x%llx sets bits 63:32", (unsigned long long)s->dr7);
    for (unsigned i = 0; i < PAT_ENTRIES; i++) { /* SDM 26.3.1.1 (load IA32_PAT); WRMSR #GP */
        unsigned t = (unsigned)(s->pat >> (PAT_ENTRY_BITS * i)) & PAT_ENTRY_MASK;
        if (t == PAT_TYPE_RSVD2 || t == PAT_TYPE_RSVD3 || t > PAT_TYPE_MAX)
            return vc_fail(c, "PAT 0x%llx: entry %u is 0x%x, not a memory type (0, 1, 4-7)",
                           (unsigned long long)s->pat, i, t);
    }
    /* WRMSR faults on a non-canonical LSTAR, CSTAR or KERNEL_GS_BASE (SDM
     * Vol.2B WRMSR; Vol.4 table 2-2): the VT-x backend writes them into
     * the CPU itself when it switches between guests. VM entry checks
     * SYSENTER_ESP/EIP (26.3.1.1). */
    const struct { const char *name; uint64_t v; } addrs[] = {
        {"LSTAR", s->lstar}, {"CSTAR", s->cstar}, {"KERNEL_GS_BASE", s->kernel_gs_base},
        {"SYSENTER_ESP", s->sysenter_esp}, {"SYSENTER_EIP", s->sysenter_eip},
    };
    for (size_t i = 0; i < ARRAY_SIZE(addrs); i++)
        if (vc_canonical(c, addrs[i].name, addrs[i].v))
            return -1;
    /* IA32_FMASK bits 63:32 are reserved: WRMSR faults (SDM Vol.4 table
     * 2-2), in the host when the VT-x backend loads it. */
    if (s->sfmask & HIGH32)
        return vc_fail(c, "SFMASK 0x%llx sets bits 63:32", (unsigned long long)s->sfmask);
    /* The VMCS field is 32 bits (SDM Vol.3C 24.4.1): more would not move. */
    if (s->sysenter_cs & HIGH32)
        return vc_fail(c, "SYSENTER_CS 0x%llx does not fit 32 bits", (unsigned long long)s->sysenter_cs);
    return 0;
}

static bool pushes_error_code(unsigned vector, bool cet)
{
    return vector == EXC_DF || (vector >= EXC_TS && vector <= EXC_PF) || vector == EXC_AC ||
           (vector == EXC_CP && cet);
}

/* The interrupt shadow, NMI blocking and the event to inject (SDM Vol.3C
 * 26.2.1.3 and 26.3.1.5; APM 15.20). */
static int check_events(struct vc *c)
{
    const struct vcpu_state *s = c->s;
    const struct vcpu_event *e = &s->event;
    bool intr_on = s->rflags & RFLAGS_IF;
    if (s->int_shadow > SHADOW_MOV_SS)
        return vc_fail(c, "interrupt shadow %u is not none, STI or MOV SS", (unsigned)s->int_shadow);
    if (s->nmi_blocked > 1)
        return vc_fail(c, "NMI blocking %u is not 0 or 1", (unsigned)s->nmi_blocked);
    /* STI leaves IF set: its shadow with IF clear cannot happen. */
    if (s->int_shadow == SHADOW_STI && !intr_on)
        return vc_fail(c, "an STI interrupt shadow with RFLAGS.IF clear");
    if (e->type > EVENT_SOFTINT || e->has_error > 1)
        return vc_fail(c, "pending event type %u / has-error %u unknown", (unsigned)e->type, (unsigned)e->has_error);
    if (e->type == EVENT_NONE)
        return 0;
    if (e->has_error && e->type != EVENT_EXCEPTION)
        return vc_fail(c, "pending event: only an exception has an error code");
    switch (e->type) {
    case EVENT_EXCEPTION: {
        if (e->vector > EXC_LAST || e->vector == NMI_VECTOR)
            return vc_fail(c, "pending exception vector %u is not an exception", (unsigned)e->vector);
        /* With unrestricted guest the error code goes with exactly these
         * vectors, in protected mode (26.2.1.3). */
        bool want = (s->cr0 & CR0_PE) && pushes_error_code(e->vector, s->cr4 & CR4_BIT_CET);
        if (e->has_error != want)
            return vc_fail(c, "pending exception %u %s an error code", (unsigned)e->vector,
                           want ? "lacks" : "cannot have");
        if (e->has_error && e->error > ERROR_CODE_BITS)
            return vc_fail(c, "pending exception error code 0x%x does not fit 16 bits", (unsigned)e->error);
        break;
    }
    case EVENT_NMI:
        if (e->vector != NMI_VECTOR)
            return vc_fail(c, "pending NMI with vector %u, not 2", (unsigned)e->vector);
        /* VM entry refuses NMI injection in a MOV SS shadow and may in an
         * STI one (26.3.1.5); an NMI is not delivered while one is blocked. */
        if (s->int_shadow != SHADOW_NONE)
            return vc_fail(c, "pending NMI inside an interrupt shadow");
        if (s->nmi_blocked)
            return vc_fail(c, "pending NMI while NMIs are blocked");
        break;
    case EVENT_EXTINT:
        /* A maskable interrupt needs IF set and no shadow (26.3.1.4-5). */
        if (!intr_on || s->int_shadow != SHADOW_NONE)
            return vc_fail(c, "pending external interrupt while interrupts are %s",
                           intr_on ? "in a shadow" : "off (RFLAGS.IF clear)");
        break;
    default: /* a software interrupt: INT n, any vector */
        break;
    }
    return 0;
}

int vcpu_check(const struct vcpu_state *s, const struct vcpu_limits *lim, char *why, size_t n)
{
    struct vc c = {.s = s, .lim = lim, .why = why, .n = n};
    c.lma = s->efer & EFER_LMA;
    c.v86 = (s->rflags & RFLAGS_VM) && (s->cr0 & CR0_PE) && !c.lma;
    /* 5-level paging widens linear addresses to 57 bits (SDM Vol.3A 4.5). */
    c.va_bits = (s->cr4 & CR4_BIT_LA57) ? VA_BITS_5LEVEL : VA_BITS_4LEVEL;
    if (why && n)
        why[0] = 0;
    if (check_control(&c) || check_flags_rip(&c) || vc_check_segments(&c) || check_msrs(&c) ||
        check_events(&c))
        return -1;
    return 0;
}

/* XCR0 as XSETBV would take it (SDM Vol.2C XSETBV, Vol.1 13.3): x87 always
 * on, AVX only with SSE, and nothing the host does not offer the guest
 * (CPUID.(EAX=0DH,ECX=0):EDX:EAX as hopvm answers it). */
int vcpu_check_xcr0(uint64_t xcr0, uint64_t allowed, char *why, size_t n)
{
    struct vc c = {.why = why, .n = n};
    if (why && n)
        why[0] = 0;
    if (!(xcr0 & XCR0_X87))
        return vc_fail(&c, "XCR0 0x%llx clears x87, which is always on", (unsigned long long)xcr0);
    if ((xcr0 & XCR0_AVX) && !(xcr0 & XCR0_SSE))
        return vc_fail(&c, "XCR0 0x%llx enables AVX without SSE", (unsigned long long)xcr0);
    if (xcr0 & ~allowed)
        return vc_fail(&c, "XCR0 0x%llx enables state components 0x%llx this host does not offer (at most 0x%llx)",
                       (unsigned long long)xcr0, (unsigned long long)(xcr0 & ~allowed),
                       (unsigned long long)allowed);
    return 0;
}
