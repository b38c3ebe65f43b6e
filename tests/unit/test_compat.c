/* CPUID compatibility of an incoming guest (migrate/compat.c). */
#include "check.h"
#include <hopvm/mig_compat.h>
#include <hopvm/mig_state.h>
#include <string.h>

int main(void)
{
    char why[160] = "";
    struct mig_cpuid_leaf src[3] = {
        {0x1, 0, 0x000806ec, 0, (1u << 0) | (1u << 20), (1u << 25) | (1u << 26)},
        {0x7, 0, 0, (1u << 3) | (1u << 5), 0, 0},
        {0x80000001, 0, 0, 0, 1u << 0, (1u << 20) | (1u << 29)},
    };
    struct mig_cpuid_leaf here[3];
    memcpy(here, src, sizeof(here));
    here[0].eax = 0x000a0655; /* another family/model: not a feature */
    CHECK(mig_cpuid_compatible(src, 3, here, 3, why, sizeof(why)) == 0);
    here[1].ebx &= ~(1u << 5); /* the target lacks AVX2 */
    CHECK(mig_cpuid_compatible(src, 3, here, 3, why, sizeof(why)) == -1);
    CHECK_STR(why, "target lacks AVX2, CPUID.(0x7,0):EBX[5]");
    here[1].ebx |= 1u << 5;
    here[2].ecx = 0; /* an unnamed-by-position check: LAHF-SAHF is named */
    CHECK(mig_cpuid_compatible(src, 3, here, 3, why, sizeof(why)) == -1);
    CHECK_STR(why, "target lacks LAHF-SAHF, CPUID.(0x80000001,0):ECX[0]");
    here[2].ecx = 1;
    src[0].ecx |= 1u << 17; /* PCID: no name in the table */
    CHECK(mig_cpuid_compatible(src, 3, here, 3, why, sizeof(why)) == -1);
    CHECK_STR(why, "target lacks CPUID.(0x1,0):ECX[17]");
    /* A leaf the target does not report at all: every bit is missing. */
    src[0].ecx &= ~(1u << 17);
    CHECK(mig_cpuid_compatible(src, 3, here, 2, why, sizeof(why)) == -1);
    CHECK_STR(why, "target lacks LAHF-SAHF, CPUID.(0x80000001,0):ECX[0]");
    /* AMD's copies of leaf 1 EDX in 0x80000001 EDX (FPU, TSC, CMOV, ...)
     * are not features an Intel target lacks. */
    src[2].edx |= 0x0183f3ffu;
    CHECK(mig_cpuid_compatible(src, 3, here, 3, why, sizeof(why)) == 0);
    /* Leaves absent from the guest's definition are not checked. */
    CHECK(mig_cpuid_compatible(src, 2, here, 2, why, sizeof(why)) == 0);
    return check_report("test_compat");
}
