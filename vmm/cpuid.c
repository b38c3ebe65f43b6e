/* What a guest sees from CPUID: the host's answers, minus what hopvm does
 * not virtualize, plus a hypervisor leaf range at 0x40000000. */
#include <hopvm/hv.h>
#include <hopvm/mig_compat.h>
#include <hopvm/mig_state.h>
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define CPUID_BASIC_MAX 0x20u   /* a guest's table keeps basic leaves up to this */
#define CPUID_EXT_BASE  0x80000000u
#define CPUID_EXT_MAX   0x80000028u
#define CPUID_CACHE_LEVELS_MAX 8 /* leaf 4 / 0x8000001D sub-leaves kept */
#define CACHE_TYPE_MASK 0x1fu   /* EAX[4:0]: 0 = no more caches */
#define HV_LEAF_BASE   0x40000000u
#define HV_LEAF_LAST   0x4000ffffu /* the whole range a guest scans for hypervisors is hopvm's */
#define HV_LEAF_TIMING 0x40000010u /* EAX = TSC kHz, EBX = APIC bus kHz (the VMware/KVM convention) */
/* The KVM paravirtual interface, one block of 0x100 leaves up, where a
 * guest's scan for "KVMKVMKVM" finds it (Linux: hypervisor_cpuid_base(),
 * Documentation/virt/kvm/x86/cpuid.rst; QEMU puts it there too beside
 * Hyper-V's). It offers the clock only (vmm/kvmclock.c): no PV EOI, steal
 * time, async page faults or PV IPIs. */
#define KVM_LEAF_BASE     0x40000100u
#define KVM_LEAF_FEATURES 0x40000101u
#define KVM_FEATURE_NOP_IO_DELAY     (1u << 1)  /* port 0x80 delays are not needed */
#define KVM_FEATURE_CLOCKSOURCE2     (1u << 3)  /* MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW */
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

/* Leaf 1 (SDM Vol.2A CPUID, tables 3-10 and 3-11): allow-lists, so a
 * feature is offered only if it needs nothing from hopvm, or what it needs
 * is there. Offered with what hopvm emulates: APIC, x2APIC and
 * TSC-deadline (vmm/lapic.c), MTRR (the interface, vmm/msr.c). Left out:
 * ECX DTES64, MONITOR, DS-CPL, VMX, SMX, EST, TM2, CNXT-ID, SDBG, xTPR,
 * PDCM, PCID, DCA (debug store, power and thermal control are not
 * virtualized); EDX MCE, MCA, PSN, DS, ACPI, SS, HTT, TM, PBE. XSAVE and the AVX
 * family come from the XSAVE state hopvm switches (vmm/fpu.c); OSXSAVE is
 * the guest's CR4.OSXSAVE, filled in at the CPUID exit (vmm/exits.c). */
#define L1_ECX_ALLOWED ((1u << 0) | (1u << 1) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | \
                        (1u << 22) | (1u << 23) | (1u << 25) | (1u << 30))
/* SSE3, PCLMULQDQ, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, AES, RDRAND */
#define L1_ECX_HYPERVISOR (1u << 31)
#define L1_ECX_PLATFORM ((1u << 21) | (1u << 24)) /* x2APIC, TSC-deadline */
#define L1_EDX_PLATFORM ((1u << 9) | (1u << 12))  /* APIC, MTRR */
#define L6_EAX_ARAT (1u << 2)       /* the APIC timer runs in every C-state */
#define E7_EDX_INVARIANT_TSC (1u << 8) /* the guest's TSC rate never changes under it (but see kvmclock) */
#define L1_ECX_XSAVE (1u << 26)
#define L1_ECX_OSXSAVE (1u << 27)
#define L1_ECX_AVX_FAMILY ((1u << 12) | (1u << 28) | (1u << 29)) /* FMA, AVX, F16C: YMM state */
#define L7_EBX_AVX2 (1u << 5)
#define E1_EDX_RDTSCP (1u << 27)
#define E1_EDX_AMD_MIRRORS 0x0183f3ffu /* leaf 1 EDX bits AMD repeats (migrate/compat.c) */
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

/* Leaf 1 ECX bits that come with the XSAVE state hopvm switches. */
static uint32_t xsave_ecx(void)
{
    if (!fpu_has_xsave())
        return 0;
    return L1_ECX_XSAVE | ((fpu_xcr0_offered() & XCR0_AVX) ? L1_ECX_AVX_FAMILY : 0);
}

/* The standard-format size of the components in mask (SDM Vol.1 13.4). */
static uint32_t xsave_size(uint64_t mask)
{
    return (mask & XCR0_AVX) ? XSAVE_AVX_OFF + XSAVE_AVX_SIZE : XSAVE_HEADER_OFF + XSAVE_HEADER_SIZE;
}

/* Leaf 0DH (SDM Vol.2A CPUID, table 3-8; Vol.1 13.2), for the components
 * hopvm offers. Sub-leaf 0: the components (EDX:EAX), the size for the
 * guest's current XCR0 (EBX) and for all of them (ECX). Sub-leaf 1: none of
 * XSAVEOPT, XSAVEC, XGETBV with ECX=1 or XSAVES, which differ among the
 * CPUs a guest moves between, and XSAVES would need IA32_XSS. Sub-leaf 2:
 * AVX, as the CPU says (fpu_cpu_init checked it). */
static void xsave_leaf(uint64_t xcr0, uint32_t sub, uint32_t r[4])
{
    uint64_t offered = fpu_xcr0_offered();
    if (!fpu_has_xsave() || (sub == 2 && !(offered & XCR0_AVX)) || sub == 1 || sub > 2) {
        r[0] = r[1] = r[2] = r[3] = 0;
        return;
    }
    if (sub == 0) {
        r[0] = (uint32_t)offered;
        r[3] = (uint32_t)(offered >> 32);
        r[1] = xsave_size(xcr0);
        r[2] = xsave_size(offered);
    } else {
        r[0] = XSAVE_AVX_SIZE;
        r[1] = XSAVE_AVX_OFF;
        r[2] = r[3] = 0;
    }
}

/* What this host offers a guest: the answers a guest started here fixes
 * as its own (cpuid_fix). Per-vCPU parts are left for cpuid_vcpu. */
static void host_answer(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf >= HV_LEAF_BASE && leaf <= HV_LEAF_LAST) {
        r[0] = r[1] = r[2] = r[3] = 0;
        if (leaf == HV_LEAF_BASE) {
            r[0] = HV_LEAF_TIMING;
            memcpy(&r[1], "hopv", 4);  /* "hopvmhopvm\0\0" */
            memcpy(&r[2], "mhop", 4);
            memcpy(&r[3], "vm\0\0", 4);
        } else if (leaf == HV_LEAF_TIMING) {
            r[0] = (uint32_t)(tsc_hz() / 1000);
            r[1] = (uint32_t)(LAPIC_BUS_HZ / 1000);
        } else if (leaf == KVM_LEAF_BASE && kvmclock_available()) {
            r[0] = KVM_LEAF_FEATURES;
            memcpy(&r[1], "KVMK", 4);
            memcpy(&r[2], "VMKV", 4);
            memcpy(&r[3], "M\0\0\0", 4);
        } else if (leaf == KVM_LEAF_FEATURES && kvmclock_available()) {
            r[0] = KVM_FEATURE_NOP_IO_DELAY | KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
        }
        return;
    }
    cpuid(leaf, sub, r);
    switch (leaf) {
    case 0x1:
        /* No VMX (no nesting), no MONITOR/MWAIT. XSAVE and AVX as far as
         * hopvm switches their state; the APIC, x2APIC, TSC-deadline and
         * MTRR interface hopvm emulates; no machine-check architecture or
         * ACPI thermal control; one logical CPU per package. */
        r[2] = (r[2] & (L1_ECX_ALLOWED | xsave_ecx())) | L1_ECX_HYPERVISOR | L1_ECX_PLATFORM;
        r[3] = (r[3] & L1_EDX_ALLOWED) | L1_EDX_PLATFORM;
        r[1] = (r[1] & 0x0000ffffu) | (1u << 16); /* count 1; the APIC ID is the vCPU's */
        break;
    case 0xd:
        xsave_leaf(fpu_xcr0_offered(), sub, r);
        break;
    case 0xb: case 0x1f: case 0x8000001e:
        /* The host's topology is not the guest's: without these leaves a
         * kernel takes its CPUs from the MADT and one per package. */
        r[0] = r[1] = r[2] = r[3] = 0;
        break;
    case 0x6:
        /* Power management: only ARAT, which Linux wants before it trusts
         * the TSC-deadline timer in a guest (apic_needs_pit()). */
        r[0] = L6_EAX_ARAT;
        r[1] = r[2] = r[3] = 0;
        break;
    case 0x80000007:
        r[0] = r[1] = r[2] = 0;
        r[3] = E7_EDX_INVARIANT_TSC;
        break;
    case 0x5: case 0xa: case 0xf: case 0x10: case 0x12: case 0x14:
    case 0x8000000a:
        /* MONITOR, power, PMU, RDT, SGX, PT, SVM: not offered. */
        r[0] = r[1] = r[2] = r[3] = 0;
        break;
    case 0x7:
        if (sub == 0) {
            r[0] = 0;
            r[1] &= L7_EBX_ALLOWED | ((fpu_xcr0_offered() & XCR0_AVX) ? L7_EBX_AVX2 : 0);
            r[2] = r[3] = 0;
        } else {
            r[0] = r[1] = r[2] = r[3] = 0;
        }
        break;
    case 0x80000001:
        r[2] &= E1_ECX_ALLOWED;
        r[3] &= E1_EDX_ALLOWED;
        if (hv() && hv()->guest_rdtscp && !hv()->guest_rdtscp())
            r[3] &= ~E1_EDX_RDTSCP; /* it would #UD in the guest */
        break;
    default:
        break;
    }
}

/* Leaves whose answer depends on ECX (SDM Vol.2A CPUID, "sub-leaf"). */
static bool has_subleaves(uint32_t leaf)
{
    switch (leaf) {
    case 0x4: case 0x7: case 0xb: case 0xd: case 0xf: case 0x10: case 0x12: case 0x14: case 0x17:
    case 0x18: case 0x1d: case 0x1e: case 0x1f: case 0x20: case 0x8000001d: case 0x80000020:
        return true;
    default:
        return false;
    }
}

/* The sub-leaves worth keeping: cache levels until the null type (leaves 4
 * and 0x8000001D), XSAVE's components 0-2, and sub-leaf 0 of the rest
 * (which hopvm's policy empties beyond that). */
static uint32_t subleaf_count(uint32_t leaf)
{
    if (leaf == 0x4 || leaf == 0x8000001d)
        return CPUID_CACHE_LEVELS_MAX;
    return leaf == 0xd ? 3 : 1;
}

static void add_leaf(struct vm *vm, uint32_t leaf, uint32_t sub)
{
    if (vm->ncpuid >= VM_CPUID_MAX)
        return;
    uint32_t r[4];
    host_answer(leaf, sub, r);
    vm->cpuid[vm->ncpuid++] = (struct cpuid_entry){leaf, sub, r[0], r[1], r[2], r[3]};
}

/* A guest's CPUID is fixed when it starts (and travels with it): every
 * basic leaf up to CPUID_BASIC_MAX, the hypervisor leaves, every extended
 * leaf up to CPUID_EXT_MAX. The range maxima in leaves 0 and 0x80000000
 * say no more than the table holds. */
/* The psABI's x86-64 micro-architecture levels (x86-64 psABI 1.0, 3.1.1):
 * the ISA extensions each adds, in the registers that carry them. A guest
 * with `cpu = x86-64-v2` sees exactly the v2 extensions (and what hopvm
 * emulates), so it can move to any host that has v2, whatever else either
 * host has. */
struct cpu_level {
    uint32_t l1_ecx, l7_ebx, e1_ecx, e1_edx;
};
#define V2_L1_ECX ((1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | (1u << 23))
/* SSE3 SSSE3 CMPXCHG16B SSE4.1 SSE4.2 POPCNT */
#define V3_L1_ECX (V2_L1_ECX | (1u << 12) | (1u << 22) | (1u << 26) | (1u << 28) | (1u << 29))
/* + FMA MOVBE XSAVE AVX F16C */
#define V3_L7_EBX ((1u << 3) | (1u << 5) | (1u << 8)) /* BMI1 AVX2 BMI2 */
#define E1_ECX_LAHF  (1u << 0)
#define E1_ECX_LZCNT (1u << 5)
#define E1_EDX_BASE  ((1u << 11) | (1u << 20) | (1u << 29)) /* SYSCALL NX LM (v1) */
static const struct cpu_level levels[CFG_CPU_COUNT] = {
    [CFG_CPU_X86_64_V2] = {V2_L1_ECX, 0, E1_ECX_LAHF, E1_EDX_BASE},
    [CFG_CPU_X86_64_V3] = {V3_L1_ECX, V3_L7_EBX, E1_ECX_LAHF | E1_ECX_LZCNT, E1_EDX_BASE},
};

static struct cpuid_entry *entry(struct vm *vm, uint32_t leaf, uint32_t sub)
{
    for (unsigned i = 0; i < vm->ncpuid; i++)
        if (vm->cpuid[i].leaf == leaf && vm->cpuid[i].subleaf == sub)
            return &vm->cpuid[i];
    return NULL;
}

/* Narrows a host table to a level: -1 with the first missing extension
 * named (migrate/compat.c's names) if this host lacks part of it. */
static int apply_level(struct vm *vm, enum cfg_cpu cpu, char *err, size_t n)
{
    const struct cpu_level *l = &levels[cpu];
    struct cpuid_entry *l1 = entry(vm, 1, 0), *l7 = entry(vm, 7, 0), *e1 = entry(vm, 0x80000001, 0);
    struct mig_cpuid_leaf want[3] = {{1, 0, 0, 0, l->l1_ecx, 0}, {7, 0, 0, l->l7_ebx, 0, 0},
                                     {0x80000001, 0, 0, 0, l->e1_ecx, l->e1_edx}};
    struct mig_cpuid_leaf have[3] = {{1, 0, 0, 0, l1 ? l1->ecx : 0, 0}, {7, 0, 0, l7 ? l7->ebx : 0, 0, 0},
                                     {0x80000001, 0, 0, 0, e1 ? e1->ecx : 0, e1 ? e1->edx : 0}};
    if (!l1 || !e1)
        return ksnprintf(err, n, "cpu = %s, but this host has no feature leaves", cfg_cpu_names[cpu]), -1;
    char why[96];
    if (mig_cpuid_compatible(want, 3, have, 3, why, sizeof(why)) != 0)
        return ksnprintf(err, n, "cpu = %s, but this host %s", cfg_cpu_names[cpu], why + sizeof("target ") - 1), -1;
    l1->ecx &= l->l1_ecx | L1_ECX_HYPERVISOR | L1_ECX_PLATFORM;
    if (l7) {
        l7->ebx &= l->l7_ebx;
        l7->ecx = l7->edx = 0;
    }
    e1->ecx &= l->e1_ecx;
    /* AMD repeats leaf 1's EDX in 0x80000001 EDX (APM Vol.3 E.4.2): kept. */
    e1->edx &= l->e1_edx | (l1->edx & E1_EDX_AMD_MIRRORS);
    if (!(l->l1_ecx & L1_ECX_XSAVE))
        for (unsigned i = 0; i < vm->ncpuid; i++)
            if (vm->cpuid[i].leaf == 0xd)
                vm->cpuid[i].eax = vm->cpuid[i].ebx = vm->cpuid[i].ecx = vm->cpuid[i].edx = 0;
    return 0;
}

/* One range (basic or extended): every leaf from its first up to what the
 * first reports, capped at cap, with their sub-leaves; the first leaf's
 * EAX then says the capped maximum. */
static void add_range(struct vm *vm, uint32_t first, uint32_t cap)
{
    uint32_t r[4];
    host_answer(first, 0, r);
    if (r[0] < first)
        return; /* no leaves in this range */
    uint32_t last = MIN(r[0], cap);
    unsigned at = vm->ncpuid;
    for (uint32_t leaf = first; leaf <= last; leaf++) {
        uint32_t subs = has_subleaves(leaf) ? subleaf_count(leaf) : 1;
        for (uint32_t sub = 0; sub < subs; sub++) {
            host_answer(leaf, sub, r);
            if (sub && (leaf == 0x4 || leaf == 0x8000001d) && !(r[0] & CACHE_TYPE_MASK))
                break; /* the cache levels end */
            add_leaf(vm, leaf, sub);
        }
    }
    if (at < vm->ncpuid)
        vm->cpuid[at].eax = last;
}

int cpuid_fix(struct vm *vm, char *err, size_t n)
{
    vm->ncpuid = 0;
    add_range(vm, 0, CPUID_BASIC_MAX);
    add_leaf(vm, HV_LEAF_BASE, 0);
    add_leaf(vm, HV_LEAF_TIMING, 0);
    add_leaf(vm, KVM_LEAF_BASE, 0);
    add_leaf(vm, KVM_LEAF_FEATURES, 0);
    add_range(vm, CPUID_EXT_BASE, CPUID_EXT_MAX);
    enum cfg_cpu cpu = vm->def ? vm->def->cpu : CFG_CPU_HOST;
    if (cpu != CFG_CPU_HOST && apply_level(vm, cpu, err, n) != 0) {
        vm->ncpuid = 0;
        return -1;
    }
    return 0;
}

/* What differs between a guest's vCPUs, or follows their state: the APIC
 * ID (leaf 1 EBX[31:24]) and XSAVE's size for the vCPU's own XCR0 (leaf
 * 0DH EBX); and the TSC rate, which is this host's (a teleport carries the
 * TSC's value, not its rate: the KVM clock is rewritten for it). */
static void cpuid_vcpu(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    if (leaf == HV_LEAF_TIMING && r[0])
        r[0] = (uint32_t)(tsc_hz() / 1000);
    else if (leaf == 0x1)
        r[1] = (r[1] & 0x00ffffffu) | ((v->lapic.id & 0xff) << 24);
    else if (leaf == 0xd && sub == 0 && r[0])
        r[1] = xsave_size(v->xcr0);
}

void cpuid_policy(struct vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    const struct vm *vm = v->vm;
    if (!vm || !vm->ncpuid) {
        host_answer(leaf, sub, r);
    } else {
        /* A leaf the table lacks (past a range's maximum, or a sub-leaf
         * beyond those kept) reads as zeros, as on AMD CPUs. */
        if (!has_subleaves(leaf))
            sub = 0;
        r[0] = r[1] = r[2] = r[3] = 0;
        for (unsigned i = 0; i < vm->ncpuid; i++)
            if (vm->cpuid[i].leaf == leaf && vm->cpuid[i].subleaf == sub) {
                r[0] = vm->cpuid[i].eax, r[1] = vm->cpuid[i].ebx;
                r[2] = vm->cpuid[i].ecx, r[3] = vm->cpuid[i].edx;
                break;
            }
    }
    cpuid_vcpu(v, leaf, sub, r);
}

/* Each CR4 bit and the CPUID feature that gives it meaning (SDM Vol.3A 2.5
 * and Vol.2A CPUID tables 3-8 to 3-11; APM Vol.2 3.1.3). A bit not listed is
 * reserved. The answer is cpuid_policy's, so a feature hopvm hides from the
 * guest cannot be turned on through CR4 either (CR4.OSXSAVE, the way into
 * XSETBV and XCR0, only where hopvm switches XSAVE state). */
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
