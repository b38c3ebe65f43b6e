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
#define MSR_APIC_BASE      0x01b
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
#define APIC_BASE_BSP      (1ull << 8)
#define APIC_DEFAULT_BASE  0xfee00000ull
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

/* The APIC is not emulated: report it globally disabled (SDM Vol.3A 11.4.4). */
static bool rd_apic_base(struct vcpu *v, uint64_t *val)
{
    *val = APIC_DEFAULT_BASE | (v->id == 0 ? APIC_BASE_BSP : 0);
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
    {MSR_APIC_BASE, rd_apic_base, wr_ignore},
    {MSR_BIOS_SIGN_ID, rd_zero, wr_ignore},
    {MSR_MTRRCAP, rd_zero, NULL},               /* no MTRRs (CPUID says so too) */
    {MSR_MCG_CAP, rd_zero, NULL},
    {MSR_MCG_STATUS, rd_zero, wr_ignore},
    {MSR_MISC_ENABLE, rd_misc_enable, wr_ignore},
    {MSR_PAT, rd_pat, wr_pat},
    {MSR_MTRR_DEF_TYPE, rd_zero, wr_ignore},
    {MSR_EFER_NUM, rd_efer, wr_efer},
    {MSR_AMD_HWCR, rd_zero, wr_ignore},
    {MSR_TSC_AUX, rd_tsc_aux, wr_tsc_aux},
};

/* AMD's legacy performance counters (APM Vol.2 13.2.1, PerfEvtSel0-3 and
 * PerfCtr0-3) exist on every AMD CPU whatever CPUID says, and kernels
 * write them at start-up: here they are counters that never run. */
static const struct msr_entry amd_perf = {0, rd_zero, wr_ignore};

static const struct msr_entry *lookup(uint32_t msr)
{
    for (size_t i = 0; i < ARRAY_SIZE(msr_table); i++)
        if (msr_table[i].msr == msr)
            return &msr_table[i];
    if (msr >= MSR_K7_PERFCTL0 && msr <= MSR_K7_PERFCTR3 && cpuinfo()->amd)
        return &amd_perf;
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
    const struct msr_entry *e = lookup(msr);
    return e && e->rd && e->rd(v, val);
}

bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    const struct msr_entry *e = lookup(msr);
    return e && e->wr && e->wr(v, val);
}
