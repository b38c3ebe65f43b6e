/* Guest x87, SSE and AVX state. The host core never touches vector
 * registers (-mgeneral-regs-only), so a vCPU's state stays in the
 * registers across exits and is swapped only when another vCPU runs on
 * this CPU: with XSAVE/XRSTOR of every component hopvm offers where the CPU
 * has XSAVE (SDM Vol.1 13.7-13.8), else with FXSAVE/FXRSTOR (SDM Vol.1
 * 10.5). Each vCPU has its own XCR0, which neither VMRUN nor VM entry
 * switches (APM Vol.2 15.5.1 and SDM Vol.3C 27.3 leave it alone): it is
 * loaded before each entry. Saves and restores run with the host's full
 * XCR0, so a guest that turned AVX off keeps the YMM state it had, as on
 * hardware (the KVM approach). Both backends call fpu_switch before
 * entering a guest. */
#include <hopvm/lib.h>
#include <hopvm/vcpu_check.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>
#include <hopvm/xstate.h>

#define CPUID_XSAVE_LEAF     0xd
#define CPUID1_ECX_XSAVE     (1u << 26)
#define FXSAVE_FCW_OFF       0
#define FXSAVE_MXCSR_MASK_OFF 28
#define MXCSR_MASK_DEFAULT   0xffbf /* SDM Vol.1 11.6.6: when FXSAVE stores 0 */
#define FCW_INIT             0x037f /* after FNINIT and reset */
#define MXCSR_INIT           0x1f80

/* The components hopvm saves and restores (0: no XSAVE, FXSAVE only). */
static uint64_t host_xcr0;

/* One per host CPU (only the boot CPU runs guests today): whose state is
 * in this CPU's registers, and what its XCR0 holds. */
struct fpu_cpu {
    struct vcpu *owner;
    uint64_t xcr0;
};
static struct fpu_cpu boot_cpu_fpu;
static struct fpu_cpu *this_cpu(void) { return &boot_cpu_fpu; }

static void xsetbv0(uint64_t v)
{
    __asm__ volatile("xsetbv" ::"c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static void set_xcr0(struct fpu_cpu *c, uint64_t v)
{
    if (c->xcr0 != v) {
        xsetbv0(v);
        c->xcr0 = v;
    }
}

static void save(struct fpu_cpu *c, struct vcpu *v)
{
    if (host_xcr0) {
        set_xcr0(c, host_xcr0);
        __asm__ volatile("xsave64 (%0)" ::"r"(v->fpu), "a"((uint32_t)host_xcr0),
                         "d"((uint32_t)(host_xcr0 >> 32)) : "memory");
    } else {
        __asm__ volatile("fxsave64 (%0)" ::"r"(v->fpu) : "memory");
    }
}

static void restore(struct fpu_cpu *c, struct vcpu *v)
{
    if (host_xcr0) {
        set_xcr0(c, host_xcr0);
        __asm__ volatile("xrstor64 (%0)" ::"r"(v->fpu), "a"((uint32_t)host_xcr0),
                         "d"((uint32_t)(host_xcr0 >> 32)) : "memory");
    } else {
        __asm__ volatile("fxrstor64 (%0)" ::"r"(v->fpu) : "memory");
    }
}

/* Per host CPU, before any guest runs there: CR4.OSXSAVE on and XCR0 set
 * to what hopvm switches, if the CPU has XSAVE. AVX is taken only in the
 * layout hopvm knows (SDM Vol.1 13.4.3: CPUID.(0DH,2) gives its size and
 * offset in the standard format). */
void fpu_cpu_init(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max = r[0];
    cpuid(1, 0, r);
    if (max < CPUID_XSAVE_LEAF || !(r[2] & CPUID1_ECX_XSAVE))
        return;
    cpuid(CPUID_XSAVE_LEAF, 0, r);
    uint64_t mask = (r[0] | (uint64_t)r[3] << 32) & XCR0_GUEST_MAX;
    if ((mask & (XCR0_X87 | XCR0_SSE)) != (XCR0_X87 | XCR0_SSE))
        return;
    if (mask & XCR0_AVX) {
        cpuid(CPUID_XSAVE_LEAF, 2, r);
        if (r[0] != XSAVE_AVX_SIZE || r[1] != XSAVE_AVX_OFF)
            mask &= ~XCR0_AVX;
    }
    write_cr4(read_cr4() | CR4_OSXSAVE);
    xsetbv0(mask);
    this_cpu()->xcr0 = mask;
    host_xcr0 = mask;
}

uint64_t fpu_xcr0_offered(void) { return host_xcr0 ? host_xcr0 : XCR0_RESET; }
bool fpu_has_xsave(void) { return host_xcr0 != 0; }

void fpu_init(struct vcpu *v)
{
    memset(v->fpu, 0, sizeof(v->fpu));
    uint16_t fcw = FCW_INIT;
    uint32_t mxcsr = MXCSR_INIT;
    memcpy(v->fpu + FXSAVE_FCW_OFF, &fcw, sizeof(fcw));
    memcpy(v->fpu + FXSAVE_MXCSR_OFF, &mxcsr, sizeof(mxcsr));
    /* XSTATE_BV: x87 and SSE from the legacy region, AVX in its initial
     * configuration (zero), as after reset (SDM Vol.1 13.6). */
    uint64_t bv = XCR0_X87 | XCR0_SSE;
    memcpy(v->fpu + XSAVE_HEADER_OFF, &bv, sizeof(bv));
    v->xcr0 = XCR0_RESET;
}

void fpu_switch(struct vcpu *v)
{
    struct fpu_cpu *c = this_cpu();
    if (c->owner != v) {
        if (c->owner)
            save(c, c->owner);
        restore(c, v);
        c->owner = v;
    }
    if (host_xcr0)
        set_xcr0(c, v->xcr0);
}

/* AMD-V intercepts XSETBV (APM Vol.2 15.9, vector 4 bit 13) and hopvm
 * sets the intercept, but QEMU 7.2's emulation of AMD-V runs the guest's
 * XSETBV anyway (seen: no xsetbv exits, a PKRU bit taken): XCR0 is read
 * back after each exit there. A value the guest may hold becomes its own,
 * as if the exit had happened; one hopvm does not offer stops the guest,
 * since the #GP it was owed can no longer be delivered. */
const char *fpu_xcr0_after_exit(struct vcpu *v)
{
    if (!host_xcr0)
        return NULL;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    uint64_t x = lo | (uint64_t)hi << 32;
    this_cpu()->xcr0 = x;
    if (x == v->xcr0)
        return NULL;
    if (vcpu_check_xcr0(x, host_xcr0, NULL, 0))
        return "the guest set XCR0 past the XSETBV intercept, with components hopvm does not offer";
    v->xcr0 = x;
    return NULL;
}

void fpu_forget(struct vcpu *v)
{
    struct fpu_cpu *c = this_cpu();
    if (c->owner == v)
        c->owner = NULL;
}

/* The vCPU's state into v->fpu, if it is still in the registers. */
void fpu_sync(struct vcpu *v)
{
    struct fpu_cpu *c = this_cpu();
    if (c->owner == v)
        save(c, v);
}

void fpu_get(struct vcpu *v, uint8_t legacy[XSAVE_LEGACY_SIZE], uint8_t ymmh[XSAVE_AVX_SIZE])
{
    fpu_sync(v);
    memcpy(legacy, v->fpu, XSAVE_LEGACY_SIZE);
    uint64_t bv;
    memcpy(&bv, v->fpu + XSAVE_HEADER_OFF, sizeof(bv));
    /* A component XSAVE found in its initial configuration has its
     * XSTATE_BV bit clear and its area unwritten (SDM Vol.1 13.7). */
    if ((host_xcr0 & XCR0_AVX) && (bv & XCR0_AVX))
        memcpy(ymmh, v->fpu + XSAVE_AVX_OFF, XSAVE_AVX_SIZE);
    else
        memset(ymmh, 0, XSAVE_AVX_SIZE);
}

/* The caller has checked MXCSR (fpu_image_ok) and xcr0 (vcpu_check_xcr0):
 * the header is built here, so XRSTOR's own checks of it (SDM Vol.1
 * 13.8.1: reserved header bytes, XSTATE_BV outside XCR0) always pass. */
void fpu_set(struct vcpu *v, const uint8_t legacy[XSAVE_LEGACY_SIZE], const uint8_t ymmh[XSAVE_AVX_SIZE],
             uint64_t xcr0)
{
    memset(v->fpu, 0, sizeof(v->fpu));
    memcpy(v->fpu, legacy, XSAVE_LEGACY_SIZE);
    uint64_t bv = XCR0_X87 | XCR0_SSE;
    if (host_xcr0 & XCR0_AVX) {
        memcpy(v->fpu + XSAVE_AVX_OFF, ymmh, XSAVE_AVX_SIZE);
        bv |= XCR0_AVX;
    }
    memcpy(v->fpu + XSAVE_HEADER_OFF, &bv, sizeof(bv));
    v->xcr0 = xcr0;
    fpu_forget(v); /* the next run loads this image */
}

/* An FXSAVE image from elsewhere (a teleport) is loaded in the host: an
 * MXCSR bit this CPU does not have would #GP the host (SDM Vol.1 11.6.6),
 * so it is checked against this CPU's MXCSR_MASK. */
bool fpu_image_ok(const uint8_t img[XSAVE_LEGACY_SIZE])
{
    static uint8_t probe[XSAVE_LEGACY_SIZE] __attribute__((aligned(16)));
    __asm__ volatile("fxsave64 %0" : "=m"(probe));
    uint32_t mask, mxcsr;
    memcpy(&mask, probe + FXSAVE_MXCSR_MASK_OFF, sizeof(mask));
    memcpy(&mxcsr, img + FXSAVE_MXCSR_OFF, sizeof(mxcsr));
    return !(mxcsr & ~(mask ? mask : MXCSR_MASK_DEFAULT));
}
