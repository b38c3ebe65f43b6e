/* What the boot CPU offers for virtualization; read once at start-up and
 * used by the `cpu` command and by the hardware backends. */
#ifndef HOPVM_CPUINFO_H
#define HOPVM_CPUINFO_H
#include <stdbool.h>
#include <stdint.h>

struct cpu_info {
    char vendor[13];
    char brand[49];
    uint32_t family, model, stepping;
    bool intel, amd;
    bool page1g, invariant_tsc;
    unsigned phys_bits;
    /* Intel VT-x (SDM Vol.3C appendix A) */
    bool vmx, vmx_enabled, vmx_locked_off;
    bool ept, ept_ad, pml, vpid, unrestricted, preemption_timer;
    unsigned vpid_count;
    /* AMD-V (APM Vol.2 15.4, CPUID Fn8000_000A) */
    bool svm, svm_enabled, svm_locked_off;
    bool npt, nrips, decode_assists, flush_by_asid, vgif, vmcb_clean;
    unsigned asid_count;
    unsigned svm_rev;
};

void cpuinfo_init(void);
const struct cpu_info *cpuinfo(void);

#endif
