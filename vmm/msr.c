/* The guest MSR policy: a table of the MSRs a guest may touch and what
 * each does. Anything not listed raises #GP in the guest, as an MSR the
 * CPU does not implement would (SDM Vol.2B RDMSR/WRMSR). MSRs that the
 * hardware switches itself (FS/GS base, SYSCALL/SYSENTER) never exit. */
#include <hopvm/cpuinfo.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/x86.h>

#define MSR_TSC            0x010
#define MSR_PLATFORM_ID    0x017
#define MSR_BIOS_SIGN_ID   0x08b
#define MSR_MTRRCAP        0x0fe
#define MSR_MCG_CAP        0x179
#define MSR_MCG_STATUS     0x17a
#define MSR_MISC_ENABLE    0x1a0
#define MSR_PAT            0x277
#define MSR_MTRR_DEF_TYPE  0x2ff
#define MSR_EFER_NUM       0xc0000080
#define MSR_AMD_HWCR       0xc0010015
#define MSR_TSC_AUX        0xc0000103
#define MSR_K7_PERFCTL0    0xc0010000 /* ... PERFCTL3, then PERFCTR0-3 at 0xc0010004-7 */
#define MSR_K7_PERFCTR3    0xc0010007
#define CPUID_EXT_FEATURES 0x80000001u
#define E1_EDX_RDTSCP      (1u << 27)
#define MSR_KVM_FIRST      0x4b564d00 /* vmm/kvmclock.c */
#define MSR_KVM_LAST       0x4b564d01
#define MTRR_DEF_TYPE_E    (1ull << 11)
#define MTRR_DEF_TYPE_FE   (1ull << 10)
#define CPUID_ADDR_SIZES   0x80000008u
#define APIC_BASE_ADDR_MASK 0x000ffffffffff000ull
#define MISC_ENABLE_FAST_STRINGS 1ull
#define EFER_ALLOWED (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

typedef bool (*msr_rd)(struct vcpu *v, uint64_t *val);
typedef bool (*msr_wr)(struct vcpu *v, uint64_t val);

static bool rd_zero(struct vcpu *v, uint64_t *val) { (void)v; *val = 0; return true; }
static bool wr_ignore(struct vcpu *v, uint64_t val) { (void)v, (void)val; return true; }

static bool rd_tsc(struct vcpu *v, uint64_t *val)
{
    struct vcpu_state s;
    hv()->get_state(v, &s);
    *val = rdtsc() + s.tsc_offset;
    return true;
}

static bool wr_tsc(struct vcpu *v, uint64_t val)
{
    struct vcpu_state s;
    hv()->get_state(v, &s);
    s.tsc_offset = val - rdtsc();
    hv()->set_state(v, &s);
    return true;
}

/* IA32_APIC_BASE (SDM Vol.3A 11.4.4, 11.12.5): the local APIC model
 * checks the value and the mode transition. */
static bool rd_apic_base(struct vcpu *v, uint64_t *val)
{
    *val = v->lapic.apic_base;
    return true;
}

static bool wr_apic_base(struct vcpu *v, uint64_t val)
{
    /* The APIC page stays at its default address (vmm/dev/lapic.c): a move
     * is refused (#GP) rather than taken and left with nothing there. */
    if ((val & APIC_BASE_ADDR_MASK) != LAPIC_DEFAULT_BASE)
        return false;
    uint32_t r[4];
    cpuid(CPUID_ADDR_SIZES, 0, r);
    unsigned bits = r[0] & 0xff ? r[0] & 0xff : 36;
    return lapic_set_base(&v->lapic, val, (1ull << bits) - 1);
}

/* IA32_TSC_DEADLINE (SDM Vol.3A 11.5.4.1): the APIC timer in deadline mode. */
static bool rd_tsc_deadline(struct vcpu *v, uint64_t *val)
{
    *val = lapic_tsc_deadline(&v->lapic);
    return true;
}

static bool wr_tsc_deadline(struct vcpu *v, uint64_t val) { return lapic_set_tsc_deadline(&v->lapic, val); }

/* SDM Vol.3A 12.11.2.1 table 12-8: UC 0, WC 1, WT 4, WP 5, WB 6; 2, 3 and
 * above 6 are reserved. */
bool mtrr_type_valid(uint64_t t) { return t == MTRR_UC || t == MTRR_WC || (t >= MTRR_WT && t <= MTRR_WB); }

/* The MTRR interface with no variable or fixed ranges (SDM Vol.3A 12.11):
 * everything is the default type, write-back, which is what guest memory
 * is (the nested tables map it WB). A guest may turn the MTRRs off or pick
 * another default; it changes nothing but what it reads back. */
static bool rd_mtrr_def(struct vcpu *v, uint64_t *val)
{
    *val = v->mtrr_def_type;
    return true;
}

static bool wr_mtrr_def(struct vcpu *v, uint64_t val)
{
    if ((val & ~(MTRR_DEF_TYPE_E | MTRR_DEF_TYPE_FE | MTRR_TYPE_MASK)) || !mtrr_type_valid(val & MTRR_TYPE_MASK))
        return false; /* reserved bits or type: #GP (SDM 12.11.2.1) */
    v->mtrr_def_type = val & ~MTRR_DEF_TYPE_FE; /* FE needs fixed ranges, which MTRRCAP says are absent */
    return true;
}

static bool rd_misc_enable(struct vcpu *v, uint64_t *val) { (void)v; *val = MISC_ENABLE_FAST_STRINGS; return true; }

static bool rd_efer(struct vcpu *v, uint64_t *val)
{
    struct vcpu_state s;
    hv()->get_state(v, &s);
    *val = s.efer;
    return true;
}

static bool wr_efer(struct vcpu *v, uint64_t val)
{
    if (val & ~EFER_ALLOWED)
        return false; /* reserved or unsupported bits: #GP */
    struct vcpu_state s;
    hv()->get_state(v, &s);
    /* LMA is read-only: the CPU sets it when paging turns on with LME. */
    s.efer = (val & ~EFER_LMA) | (s.efer & EFER_LMA);
    hv()->set_state(v, &s);
    return true;
}

static bool rd_pat(struct vcpu *v, uint64_t *val)
{
    struct vcpu_state s;
    hv()->get_state(v, &s);
    *val = s.pat;
    return true;
}

static bool wr_pat(struct vcpu *v, uint64_t val)
{
    /* SDM Vol.3A 11.12.2: each byte must be a valid memory type. */
    for (int i = 0; i < 8; i++) {
        uint8_t t = (uint8_t)(val >> (8 * i));
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    struct vcpu_state s;
    hv()->get_state(v, &s);
    s.pat = val;
    hv()->set_state(v, &s);
    return true;
}

/* IA32_TSC_AUX (SDM Vol.4 table 2-2; APM Vol.2 13.2.4): RDTSCP's ECX,
 * there whenever CPUID offers RDTSCP; bits 63:32 are reserved. The guest's
 * value is loaded into the CPU before it runs (msr_load_guest). */
static bool rdtscp_offered(struct vcpu *v)
{
    uint32_t r[4];
    cpuid_policy(v, CPUID_EXT_FEATURES, 0, r);
    return r[3] & E1_EDX_RDTSCP;
}

static bool rd_tsc_aux(struct vcpu *v, uint64_t *val)
{
    *val = v->tsc_aux;
    return rdtscp_offered(v);
}

static bool wr_tsc_aux(struct vcpu *v, uint64_t val)
{
    if (!rdtscp_offered(v) || (val >> 32))
        return false;
    v->tsc_aux = (uint32_t)val;
    return true;
}

static const struct msr_entry {
    uint32_t msr;
    msr_rd rd; /* NULL: write-only, reads #GP */
    msr_wr wr; /* NULL: read-only, writes #GP */
} msr_table[] = {
    {MSR_TSC, rd_tsc, wr_tsc},
    {MSR_PLATFORM_ID, rd_zero, NULL},
    {MSR_APIC_BASE, rd_apic_base, wr_apic_base},
    {MSR_TSC_DEADLINE, rd_tsc_deadline, wr_tsc_deadline},
    {MSR_BIOS_SIGN_ID, rd_zero, wr_ignore},
    {MSR_MTRRCAP, rd_zero, NULL},               /* no variable or fixed ranges, no WC */
    {MSR_MCG_CAP, rd_zero, NULL},
    {MSR_MCG_STATUS, rd_zero, wr_ignore},
    {MSR_MISC_ENABLE, rd_misc_enable, wr_ignore},
    {MSR_PAT, rd_pat, wr_pat},
    {MSR_MTRR_DEF_TYPE, rd_mtrr_def, wr_mtrr_def},
    {MSR_EFER_NUM, rd_efer, wr_efer},
    {MSR_AMD_HWCR, rd_zero, wr_ignore},
    {MSR_TSC_AUX, rd_tsc_aux, wr_tsc_aux},
};

/* AMD's legacy performance counters (APM Vol.2 13.2.1, PerfEvtSel0-3 and
 * PerfCtr0-3) exist on every AMD CPU whatever CPUID says, and kernels
 * write them at start-up: here they are counters that never run. */
static const struct msr_entry amd_perf = {0, rd_zero, wr_ignore};
/* The K8's interrupt-pending message register (AMD BKDG for family 0Fh,
 * MSR C001_0055), which Linux reads without a fault handler on family 0Fh
 * CPUs (QEMU's TCG CPU is one) to see whether C1E is on: it is not. */
#define MSR_K8_INT_PENDING_MSG 0xc0010055
static const struct msr_entry amd_int_pending = {MSR_K8_INT_PENDING_MSG, rd_zero, wr_ignore};

/* The x2APIC registers (SDM Vol.3A 11.12.1.2) and the KVM clock MSRs
 * are ranges with handlers of their own. */
static bool rd_range(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
        return lapic_msr_read(&v->lapic, msr, vm_clock_ns(v->vm), val);
    return kvmclock_msr_read(v, msr, val);
}

static bool wr_range(struct vcpu *v, uint32_t msr, uint64_t val)
{
    if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
        struct lapic_out out;
        memset(&out, 0, sizeof(out));
        if (!lapic_msr_write(&v->lapic, msr, val, vm_clock_ns(v->vm), &out))
            return false;
        irq_lapic_out(v, &out);
        return true;
    }
    return kvmclock_msr_write(v, msr, val);
}

static bool in_range(uint32_t msr)
{
    return (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) || (msr >= MSR_KVM_FIRST && msr <= MSR_KVM_LAST);
}

static const struct msr_entry *lookup(uint32_t msr)
{
    for (size_t i = 0; i < ARRAY_SIZE(msr_table); i++)
        if (msr_table[i].msr == msr)
            return &msr_table[i];
    if (msr >= MSR_K7_PERFCTL0 && msr <= MSR_K7_PERFCTR3 && cpuinfo()->amd)
        return &amd_perf;
    if (msr == MSR_K8_INT_PENDING_MSG && cpuinfo()->amd)
        return &amd_int_pending;
    return NULL;
}

/* Guest MSR values neither VMRUN nor VM entry loads, before each entry
 * (both backends call it). One cached value per host CPU: only the boot
 * CPU runs guests today. */
void msr_load_guest(struct vcpu *v)
{
    static bool have_rdtscp, probed;
    static uint64_t tsc_aux_loaded = ~0ull;
    if (!probed) {
        uint32_t r[4];
        cpuid(CPUID_EXT_FEATURES, 0, r);
        have_rdtscp = r[3] & E1_EDX_RDTSCP;
        probed = true;
    }
    if (have_rdtscp && tsc_aux_loaded != v->tsc_aux) {
        wrmsr(MSR_TSC_AUX, v->tsc_aux);
        tsc_aux_loaded = v->tsc_aux;
    }
}

bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    if (in_range(msr))
        return rd_range(v, msr, val);
    const struct msr_entry *e = lookup(msr);
    return e && e->rd && e->rd(v, val);
}

bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    if (in_range(msr))
        return wr_range(v, msr, val);
    const struct msr_entry *e = lookup(msr);
    return e && e->wr && e->wr(v, val);
}
