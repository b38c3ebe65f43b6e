/* What a guest sees from CPUID: the host's answers, minus what hopvm does
 * not virtualize, plus a hypervisor leaf range at 0x40000000. */
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define HV_LEAF_BASE   0x40000000u
#define HV_LEAF_TIMING 0x40000010u /* EAX = TSC kHz, EBX = bus kHz (the VMware/KVM convention) */

/* Leaf 1 (SDM Vol.2A CPUID, tables 3-10 and 3-11): allow-lists, so a
 * feature is offered only if it needs nothing from hopvm. Left out: ECX
 * DTES64, MONITOR, DS-CPL, VMX, SMX, EST, TM2, CNXT-ID, SDBG, FMA, xTPR,
 * PDCM, PCID, DCA, x2APIC, TSC-deadline, XSAVE, OSXSAVE, AVX, F16C (debug
 * store, power and thermal control, APIC and XSAVE state are not
 * virtualized; FMA/F16C/AVX need XSAVE); EDX MCE, APIC, MTRR, MCA, PSN, DS,
 * ACPI, SS, HTT, TM, PBE. */
#define L1_ECX_ALLOWED ((1u << 0) | (1u << 1) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | \
                        (1u << 22) | (1u << 23) | (1u << 25) | (1u << 30))
/* SSE3, PCLMULQDQ, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, AES, RDRAND */
#define L1_ECX_HYPERVISOR (1u << 31)
#define L1_EDX_ALLOWED ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | \
                        (1u << 8) | (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) | \
                        (1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* FPU DE PSE TSC MSR PAE CX8 SEP PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2. Also left
 * out, though they need nothing from hopvm, are features that differ between
 * the CPUs a guest may be teleported among, so that a guest started on one
 * can move to the others (the target refuses a guest that saw a feature it
 * lacks): VME (virtual-8086 extensions), RDSEED and PREFETCHW, which QEMU's
 * TCG lacks, and the AMD- or Intel-only bits of 0x80000001. A per-guest
 * baseline chosen at start is the fuller answer (a later issue). */
/* Leaf 7 EBX: only these features, which need no hypervisor support:
 * FSGSBASE BMI1 SMEP BMI2 ERMS ADX SMAP CLFLUSHOPT SHA. */
#define L7_EBX_ALLOWED ((1u << 0) | (1u << 3) | (1u << 7) | (1u << 8) | (1u << 9) | \
                        (1u << 19) | (1u << 20) | (1u << 23) | (1u << 29))
/* 0x80000001 (APM Vol.3 E.4.2; SDM Vol.2A CPUID): ECX LAHF/SAHF in long
 * mode and LZCNT; EDX SYSCALL, NX, 1 GiB pages, RDTSCP, long mode, and on
 * AMD the mirrors of leaf 1 EDX (which the migration check leaves out). */
#define E1_ECX_ALLOWED  ((1u << 0) | (1u << 5))
#define E1_EDX_ALLOWED  ((1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29) | L1_EDX_ALLOWED)

void cpuid_policy(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf >= HV_LEAF_BASE && leaf < HV_LEAF_BASE + 0x100) {
        r[0] = r[1] = r[2] = r[3] = 0;
        if (leaf == HV_LEAF_BASE) {
            r[0] = HV_LEAF_TIMING;
            memcpy(&r[1], "hopv", 4);  /* "hopvmhopvm\0\0" */
            memcpy(&r[2], "mhop", 4);
            memcpy(&r[3], "vm\0\0", 4);
        } else if (leaf == HV_LEAF_TIMING) {
            r[0] = (uint32_t)(tsc_hz() / 1000);
        }
        return;
    }
    cpuid(leaf, sub, r);
    switch (leaf) {
    case 0x1:
        /* No VMX (no nesting), no MONITOR/MWAIT, and no XSAVE/AVX: hopvm
         * switches guest vector state with FXSAVE, which covers SSE only.
         * No local APIC, MTRRs, machine-check architecture or ACPI thermal
         * control are emulated; one logical CPU per package. */
        r[2] = (r[2] & L1_ECX_ALLOWED) | L1_ECX_HYPERVISOR;
        r[3] &= L1_EDX_ALLOWED;
        r[1] = (r[1] & 0x0000ffffu) | (1u << 16) | (v->id << 24); /* count 1, APIC ID */
        break;
    case 0x5: case 0x6: case 0xa: case 0xd: case 0xf: case 0x10: case 0x12: case 0x14:
    case 0x8000000a:
        /* MONITOR, power, PMU, XSAVE, RDT, SGX, PT, SVM: not offered. */
        r[0] = r[1] = r[2] = r[3] = 0;
        break;
    case 0x7:
        if (sub == 0) {
            r[0] = 0;
            r[1] &= L7_EBX_ALLOWED;
            r[2] = r[3] = 0;
        } else {
            r[0] = r[1] = r[2] = r[3] = 0;
        }
        break;
    case 0x80000001:
        r[2] &= E1_ECX_ALLOWED;
        r[3] &= E1_EDX_ALLOWED;
        break;
    default:
        break;
    }
}

/* Each CR4 bit and the CPUID feature that gives it meaning (SDM Vol.3A 2.5
 * and Vol.2A CPUID tables 3-8 to 3-11; APM Vol.2 3.1.3). A bit not listed is
 * reserved. The answer is cpuid_policy's, so a feature hopvm hides from the
 * guest cannot be turned on through CR4 either: CR4.OSXSAVE is the way into
 * XSETBV and XCR0, whose state hopvm does not switch (vmm/fpu.c uses FXSAVE). */
enum { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };
static const struct cr4_feature {
    uint8_t bit;
    uint8_t reg;   /* which register of the leaf's answer */
    uint32_t leaf; /* 0: the bit needs no feature */
    uint32_t mask;
} cr4_features[] = {
    {0, CPUID_EDX, 1, 1u << 1},   /* VME: VME */
    {1, CPUID_EDX, 1, 1u << 1},   /* PVI: VME */
    {2, CPUID_EDX, 1, 1u << 4},   /* TSD: TSC */
    {3, CPUID_EDX, 1, 1u << 2},   /* DE: DE */
    {4, CPUID_EDX, 1, 1u << 3},   /* PSE: PSE */
    {5, CPUID_EDX, 1, 1u << 6},   /* PAE: PAE */
    {6, CPUID_EDX, 1, 1u << 7},   /* MCE: MCE */
    {7, CPUID_EDX, 1, 1u << 13},  /* PGE: PGE */
    {8, CPUID_EAX, 0, 0},         /* PCE: no feature bit (RDPMC outside ring 0) */
    {9, CPUID_EDX, 1, 1u << 24},  /* OSFXSR: FXSR */
    {10, CPUID_EDX, 1, 1u << 25}, /* OSXMMEXCPT: SSE */
    {11, CPUID_ECX, 7, 1u << 2},  /* UMIP: UMIP */
    {12, CPUID_ECX, 7, 1u << 16}, /* LA57: LA57 */
    {13, CPUID_ECX, 1, 1u << 5},  /* VMXE: VMX */
    {14, CPUID_ECX, 1, 1u << 6},  /* SMXE: SMX */
    {16, CPUID_EBX, 7, 1u << 0},  /* FSGSBASE: FSGSBASE */
    {17, CPUID_ECX, 1, 1u << 17}, /* PCIDE: PCID */
    {18, CPUID_ECX, 1, 1u << 26}, /* OSXSAVE: XSAVE */
    {19, CPUID_ECX, 7, 1u << 23}, /* KL: Key Locker */
    {20, CPUID_EBX, 7, 1u << 7},  /* SMEP: SMEP */
    {21, CPUID_EBX, 7, 1u << 20}, /* SMAP: SMAP */
    {22, CPUID_ECX, 7, 1u << 3},  /* PKE: PKU */
    {23, CPUID_ECX, 7, 1u << 7},  /* CET: CET shadow stacks */
    {24, CPUID_ECX, 7, 1u << 31}, /* PKS: PKS */
};

uint64_t cpuid_cr4_allowed(struct vcpu *v)
{
    uint32_t l0[4], l1[4], l7[4] = {0, 0, 0, 0};
    cpuid_policy(v, 0, 0, l0);
    cpuid_policy(v, 1, 0, l1);
    if (l0[0] >= 7) /* past the last leaf a CPU answers with another leaf's data */
        cpuid_policy(v, 7, 0, l7);
    uint64_t ok = 0;
    for (size_t i = 0; i < ARRAY_SIZE(cr4_features); i++) {
        const struct cr4_feature *f = &cr4_features[i];
        const uint32_t *r = f->leaf == 7 ? l7 : l1;
        if (!f->leaf || (r[f->reg] & f->mask))
            ok |= 1ull << f->bit;
    }
    return ok;
}
