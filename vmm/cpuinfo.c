/* CPU feature discovery for virtualization. MSRs are read with rdmsr_safe
 * because emulators do not implement every one the manuals list. */
#include <hopvm/cpu.h>
#include <hopvm/cpuinfo.h>
#include <hopvm/lib.h>
#include <hopvm/x86.h>

/* SDM Vol.3C 23.7 / Vol.4: IA32_FEATURE_CONTROL bits. */
#define FC_LOCK             (1ull << 0)
#define FC_VMXON_OUTSIDE_SMX (1ull << 2)
/* SDM Vol.3C A.3.2/A.3.3: allowed-1 settings live in bits 63:32. */
#define PROC_SECONDARY      (1ull << (32 + 31))
#define PIN_PREEMPTION_TIMER (1ull << (32 + 6))
#define PROC2_EPT           (1ull << (32 + 1))
#define PROC2_VPID          (1ull << (32 + 5))
#define PROC2_UNRESTRICTED  (1ull << (32 + 7))
#define PROC2_PML           (1ull << (32 + 17))
#define EPT_CAP_AD          (1ull << 21) /* SDM Vol.3C A.10 */
/* APM Vol.2 15.30.1 VM_CR */
#define VM_CR_LOCK          (1ull << 3)
#define VM_CR_SVMDIS        (1ull << 4)
/* CPUID Fn8000_000A_EDX (APM Vol.3 E.4.9) */
#define SVM_NP              (1u << 0)
#define SVM_NRIPS           (1u << 3)
#define SVM_VMCB_CLEAN      (1u << 5)
#define SVM_FLUSH_BY_ASID   (1u << 6)
#define SVM_DECODE_ASSISTS  (1u << 7)
#define SVM_VGIF            (1u << 16)

static struct cpu_info ci;

static void read_vmx(void)
{
    uint64_t fc = 0, proc = 0, proc2 = 0, cap = 0;
    if (rdmsr_safe(MSR_IA32_FEATURE_CONTROL, &fc) == 0) {
        bool locked = fc & FC_LOCK;
        ci.vmx_enabled = !locked || (fc & FC_VMXON_OUTSIDE_SMX);
        ci.vmx_locked_off = locked && !(fc & FC_VMXON_OUTSIDE_SMX);
    }
    uint64_t pin = 0;
    if (rdmsr_safe(MSR_IA32_VMX_PINBASED, &pin) == 0)
        ci.preemption_timer = pin & PIN_PREEMPTION_TIMER;
    if (rdmsr_safe(MSR_IA32_VMX_PROCBASED, &proc) != 0 || !(proc & PROC_SECONDARY))
        return;
    if (rdmsr_safe(MSR_IA32_VMX_PROCBASED2, &proc2) != 0)
        return;
    ci.ept = proc2 & PROC2_EPT;
    ci.vpid = proc2 & PROC2_VPID;
    ci.unrestricted = proc2 & PROC2_UNRESTRICTED;
    ci.pml = proc2 & PROC2_PML;
    ci.vpid_count = ci.vpid ? 65535 : 0; /* 16-bit VPID, 0 is the host's */
    if (ci.ept && rdmsr_safe(MSR_IA32_VMX_EPT_VPID_CAP, &cap) == 0)
        ci.ept_ad = cap & EPT_CAP_AD;
}

static void read_svm(void)
{
    uint32_t r[4];
    uint64_t vmcr = 0;
    if (rdmsr_safe(MSR_AMD_VM_CR, &vmcr) == 0) {
        ci.svm_enabled = !(vmcr & VM_CR_SVMDIS);
        ci.svm_locked_off = (vmcr & VM_CR_SVMDIS) && (vmcr & VM_CR_LOCK);
    } else {
        ci.svm_enabled = true; /* no VM_CR: nothing can have disabled SVM */
    }
    cpuid(0x8000000a, 0, r);
    ci.svm_rev = r[0] & 0xff;
    ci.asid_count = r[1];
    ci.npt = r[3] & SVM_NP;
    ci.nrips = r[3] & SVM_NRIPS;
    ci.vmcb_clean = r[3] & SVM_VMCB_CLEAN;
    ci.flush_by_asid = r[3] & SVM_FLUSH_BY_ASID;
    ci.decode_assists = r[3] & SVM_DECODE_ASSISTS;
    ci.vgif = r[3] & SVM_VGIF;
}

void cpuinfo_init(void)
{
    uint32_t r[4];
    memset(&ci, 0, sizeof(ci));
    cpuid(0, 0, r);
    uint32_t max = r[0];
    memcpy(ci.vendor, &r[1], 4);
    memcpy(ci.vendor + 4, &r[3], 4);
    memcpy(ci.vendor + 8, &r[2], 4);
    ci.intel = !strcmp(ci.vendor, "GenuineIntel");
    ci.amd = !strcmp(ci.vendor, "AuthenticAMD");
    uint32_t ecx1 = 0;
    if (max >= 1) {
        cpuid(1, 0, r);
        ci.stepping = r[0] & 0xf;
        ci.family = (r[0] >> 8) & 0xf;
        ci.model = (r[0] >> 4) & 0xf;
        /* SDM Vol.2A CPUID: extended family/model apply for family 0xf (and 6 for model). */
        if (ci.family == 0xf)
            ci.family += (r[0] >> 20) & 0xff;
        if (ci.family == 0x6 || ci.family >= 0xf)
            ci.model |= ((r[0] >> 16) & 0xf) << 4;
        ecx1 = r[2];
    }
    cpuid(0x80000000, 0, r);
    uint32_t emax = r[0];
    uint32_t ecx81 = 0;
    if (emax >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        ecx81 = r[2];
        ci.page1g = (r[3] >> 26) & 1;
    }
    if (emax >= 0x80000004) {
        for (uint32_t i = 0; i < 3; i++) {
            cpuid(0x80000002 + i, 0, r);
            memcpy(ci.brand + 16 * i, r, 16);
        }
        ci.brand[48] = 0;
    }
    if (emax >= 0x80000007) {
        cpuid(0x80000007, 0, r);
        ci.invariant_tsc = (r[3] >> 8) & 1;
    }
    ci.phys_bits = 36;
    if (emax >= 0x80000008) {
        cpuid(0x80000008, 0, r);
        ci.phys_bits = r[0] & 0xff;
    }
    ci.vmx = (ecx1 >> 5) & 1;  /* CPUID.1:ECX.VMX */
    ci.svm = (ecx81 >> 2) & 1; /* CPUID.80000001H:ECX.SVM */
    if (ci.vmx)
        read_vmx();
    if (ci.svm && emax >= 0x8000000a)
        read_svm();
}

const struct cpu_info *cpuinfo(void) { return &ci; }
