/* Compatibility of an incoming guest with this host, checked before any RAM
 * moves (docs/migration-protocol.md, "Compatibility"). Pure. */
#ifndef HOPVM_MIG_COMPAT_H
#define HOPVM_MIG_COMPAT_H
#include <stddef.h>
#include <stdint.h>

struct mig_cpuid_leaf;
/* The CPUID feature leaves a guest's definition carries: (1,0), (7,0),
 * (0x80000001,0). */
#define MIG_FEATURE_LEAVES 3
extern const uint32_t mig_feature_leaf[MIG_FEATURE_LEAVES];

/* 0 if every feature bit the guest saw (src) is also in what this host
 * offers (here, same layout), else -1 and "target lacks AVX2,
 * CPUID.(7,0):EBX[5]" in reason. Leaves absent from src are skipped. */
int mig_cpuid_compatible(const struct mig_cpuid_leaf *src, unsigned nsrc, const struct mig_cpuid_leaf *here,
                         unsigned nhere, char *reason, size_t n);

#endif
