/* Is this vCPU state one the architecture allows? Checked before a backend
 * loads a state that came from outside hopvm (a teleport, a saved file):
 * such bytes must never fault the host (a non-canonical LSTAR reaches a
 * WRMSR in the VT-x backend's lazy MSR switch) nor reach a guest past the
 * checks VM entry (Intel SDM Vol.3C 26.3.1) or VMRUN (AMD APM Vol.2
 * 15.5.1) would make, since a refused entry after the commit loses a guest
 * whose source has already retired it. Vendor-neutral and pure: unit-tested
 * (tests/unit/test_vcpu_check.c) and fuzzed behind the VCPU decoder
 * (tests/fuzz/fuzz_vcpu.c). */
#ifndef HOPVM_VCPU_CHECK_H
#define HOPVM_VCPU_CHECK_H
#include <hopvm/vcpu_state.h>
#include <stdbool.h>
#include <stddef.h>

/* The EFER bits a hopvm guest can have: those vmm/msr.c lets it write,
 * plus LMA, which the CPU sets (APM Vol.2 3.1.7, SDM Vol.3A 2.2.1). */
#define VCPU_EFER_GUEST (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

/* What the host that loads the state can give a guest, filled by the
 * caller from its CPU, its CPUID policy and its backend. */
struct vcpu_limits {
    uint64_t cr4;       /* CR4 bits allowed (the guest's CPUID, the backend's fixed bits) */
    uint64_t efer;      /* EFER bits allowed */
    unsigned phys_bits; /* MAXPHYADDR: CR3 bits from here up are reserved */
};

/* Room for any reason vcpu_check() gives. */
#define VCPU_WHY_MAX 128

/* 0 if s passes every check, else -1 with the first failure as one line in
 * why (if n > 0), such as "LSTAR 0x8000000000000000 is not canonical". */
int vcpu_check(const struct vcpu_state *s, const struct vcpu_limits *lim, char *why, size_t n);

/* 0 if xcr0 is a value XSETBV would accept on a CPU whose guest may
 * enable the components in allowed, else -1 with the reason in why. */
int vcpu_check_xcr0(uint64_t xcr0, uint64_t allowed, char *why, size_t n);

/* True if addr is canonical for a linear-address width of bits (48 with
 * 4-level paging, 57 with 5-level): bits 63:bits-1 all equal (SDM Vol.1
 * 3.3.7.1). */
bool vcpu_canonical(uint64_t addr, unsigned bits);

#endif
