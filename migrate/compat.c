/* CPUID feature compatibility (see mig_compat.h). Only feature-flag
 * registers are compared: a bit the guest saw that the target lacks would
 * make the guest fault (#UD) or misbehave after the move. Counts, family
 * and cache descriptors may differ. */
#include <hopvm/lib.h>
#include <hopvm/mig_compat.h>
#include <hopvm/mig_state.h>

const uint32_t mig_feature_leaf[MIG_FEATURE_LEAVES] = {0x1, 0x7, 0x80000001};

enum reg { EAX, EBX, ECX, EDX };
static const char reg_name[4][4] = {"EAX", "EBX", "ECX", "EDX"};

/* AMD repeats leaf 1 EDX bits 0-9, 12-17, 23 and 24 in 0x80000001 EDX
 * (APM Vol.3 E.4.2); Intel leaves them 0 (SDM Vol.2A table 3-8). They are
 * checked once, in leaf 1, so a guest may move between the vendors. */
#define E1_EDX_AMD_MIRRORS 0x0183f3ffu

/* Which registers of each leaf are feature flags (SDM Vol.2A CPUID), and
 * bits of EDX not to compare. */
static const struct {
    uint32_t leaf;
    uint8_t regs; /* bit per enum reg */
    uint32_t edx_ignore;
} flag_regs[] = {
    {0x1, 1u << ECX | 1u << EDX, 0},
    {0x7, 1u << EBX | 1u << ECX | 1u << EDX, 0},
    {0x80000001, 1u << ECX | 1u << EDX, E1_EDX_AMD_MIRRORS},
};

/* Names for the bits an operator is most likely to meet (SDM Vol.2A
 * tables 3-10, 3-11, 3-8; APM Vol.3 E.4.2). Others print by position. */
static const struct {
    uint32_t leaf;
    uint8_t reg, bit;
    const char *name;
} names[] = {
    {0x1, ECX, 0, "SSE3"},      {0x1, ECX, 1, "PCLMULQDQ"}, {0x1, ECX, 9, "SSSE3"},
    {0x1, ECX, 13, "CMPXCHG16B"}, {0x1, ECX, 19, "SSE4.1"}, {0x1, ECX, 20, "SSE4.2"},
    {0x1, ECX, 22, "MOVBE"},    {0x1, ECX, 23, "POPCNT"},   {0x1, ECX, 25, "AES-NI"},
    {0x1, ECX, 30, "RDRAND"},   {0x1, EDX, 25, "SSE"},      {0x1, EDX, 26, "SSE2"},
    {0x7, EBX, 3, "BMI1"},      {0x7, EBX, 5, "AVX2"},      {0x7, EBX, 8, "BMI2"},
    {0x7, EBX, 9, "ERMS"},      {0x7, EBX, 18, "RDSEED"},   {0x7, EBX, 19, "ADX"},
    {0x7, EBX, 29, "SHA"},      {0x80000001, ECX, 0, "LAHF-SAHF"}, {0x80000001, ECX, 5, "LZCNT"},
    {0x80000001, EDX, 20, "NX"}, {0x80000001, EDX, 26, "1 GiB pages"},
    {0x80000001, EDX, 27, "RDTSCP"}, {0x80000001, EDX, 29, "long mode"},
};

static const struct mig_cpuid_leaf *find(const struct mig_cpuid_leaf *l, unsigned n, uint32_t leaf)
{
    for (unsigned i = 0; i < n; i++)
        if (l[i].leaf == leaf && l[i].subleaf == 0)
            return &l[i];
    return NULL;
}

static uint32_t reg_of(const struct mig_cpuid_leaf *l, int r)
{
    return r == EAX ? l->eax : r == EBX ? l->ebx : r == ECX ? l->ecx : l->edx;
}

int mig_cpuid_compatible(const struct mig_cpuid_leaf *src, unsigned nsrc, const struct mig_cpuid_leaf *here,
                         unsigned nhere, char *reason, size_t n)
{
    for (size_t f = 0; f < ARRAY_SIZE(flag_regs); f++) {
        const struct mig_cpuid_leaf *s = find(src, nsrc, flag_regs[f].leaf);
        if (!s)
            continue;
        const struct mig_cpuid_leaf *h = find(here, nhere, flag_regs[f].leaf);
        for (int r = EAX; r <= EDX; r++) {
            if (!(flag_regs[f].regs & (1u << r)))
                continue;
            uint32_t missing = reg_of(s, r) & ~(h ? reg_of(h, r) : 0);
            if (r == EDX)
                missing &= ~flag_regs[f].edx_ignore;
            if (!missing)
                continue;
            unsigned bit = (unsigned)__builtin_ctz(missing);
            const char *name = NULL;
            for (size_t k = 0; k < ARRAY_SIZE(names); k++)
                if (names[k].leaf == s->leaf && names[k].reg == r && names[k].bit == bit)
                    name = names[k].name;
            ksnprintf(reason, n, "target lacks %s%sCPUID.(0x%x,0):%s[%u]", name ? name : "",
                      name ? ", " : "", s->leaf, reg_name[r], bit);
            return -1;
        }
    }
    return 0;
}
