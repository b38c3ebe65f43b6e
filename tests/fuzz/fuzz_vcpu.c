/* libFuzzer: a VCPU record as a target reads it, any bytes through
 * mig_vcpu_decode (migrate/state_fdt.c) and then vcpu_check
 * (vmm/vcpu_check.c), on two hosts: one with 4-level paging and a 36-bit
 * physical address width, one with LA57 and 52 bits. No crash, no
 * undefined behaviour; a refusal always has one line of reason; what the
 * check accepts holds the properties the host relies on (the values the
 * VT-x backend WRMSRs are loadable, an XCR0 XSETBV takes) and survives
 * encode + decode unchanged. Seeds (tests/fuzz/corpus/fuzz_vcpu): svm-counter and
 * vmx-counter are the VCPU record bodies of `counter` saved by hopvm-save
 * from hopvm in QEMU (AMD-V) and in Bochs (VT-x); long-mode, real-mode,
 * protected-32 and virtual-8086 are `test_vcpu_check --write-corpus`'s. */
#include <hopvm/lib.h>
#include <hopvm/mig_state.h>
#include <hopvm/vcpu_check.h>
#include <hopvm/xstate.h>
#include <stdlib.h>

#define REASON_MAX 200
#define CR4_ALL 0x3ff7fffull       /* every defined CR4 bit */
#define CR4_LA57 (1ull << 12)
#define HIGH32 0xffffffff00000000ull

static struct mig_vcpu vcpu, vcpu2;
static uint64_t out[MIG_VCPU_MAX / 8 + 1];

static const struct vcpu_limits hosts[] = {
    {.cr4 = CR4_ALL & ~CR4_LA57, .efer = VCPU_EFER_GUEST, .phys_bits = 36},
    {.cr4 = CR4_ALL, .efer = VCPU_EFER_GUEST, .phys_bits = 52},
};

static void one_line(const char *why)
{
    if (!why[0] || strlen(why) >= VCPU_WHY_MAX - 1 || memchr(why, '\n', strlen(why)))
        abort();
}

/* What the host itself needs of an accepted state, checked here without
 * the validator's help: the VT-x lazy MSR switch WRMSRs these. */
static void host_safe(const struct vcpu_state *s, const struct vcpu_limits *lim)
{
    unsigned bits = (s->cr4 & CR4_LA57) ? 57 : 48;
    const uint64_t msrs[] = {s->lstar, s->cstar, s->kernel_gs_base, s->sysenter_esp, s->sysenter_eip,
                             s->fs.base, s->gs.base, s->gdtr.base, s->idtr.base};
    for (size_t i = 0; i < ARRAY_SIZE(msrs); i++)
        if (!vcpu_canonical(msrs[i], bits) || !vcpu_canonical(msrs[i], 57))
            abort();
    if ((s->sfmask & HIGH32) || (s->cr4 & ~lim->cr4) || (s->efer & ~lim->efer) || (s->cr3 >> lim->phys_bits) ||
        (s->dr6 & HIGH32) || (s->dr7 & HIGH32) || s->int_shadow > SHADOW_MOV_SS || s->nmi_blocked > 1 ||
        !(s->cs.attr & SEG_ATTR_P))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes (malloc aligns it for libfdt) so
     * ASan catches any overread. */
    void *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    char why[REASON_MAX] = "";
    int rc = mig_vcpu_decode(buf, size, &vcpu, why, sizeof(why));
    free(buf);
    if (rc) {
        if (rc != -1)
            abort();
        one_line(why);
        return 0;
    }
    bool accepted = false;
    for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
        why[0] = 0;
        rc = vcpu_check(&vcpu.s, &hosts[i], why, sizeof(why));
        if (rc == -1) {
            one_line(why);
            continue;
        }
        if (rc != 0 || why[0])
            abort();
        host_safe(&vcpu.s, &hosts[i]);
        accepted = true;
    }
    /* XCR0 against hosts offering x87|SSE and x87|SSE|AVX: an accepted
     * value is one XSETBV takes there (the host XRSTORs with it in force). */
    static const uint64_t offered[] = {XCR0_X87 | XCR0_SSE, XCR0_GUEST_MAX};
    for (size_t i = 0; i < ARRAY_SIZE(offered); i++) {
        why[0] = 0;
        rc = vcpu_check_xcr0(vcpu.xcr0, offered[i], why, sizeof(why));
        if (rc == -1) {
            one_line(why);
            continue;
        }
        if (rc != 0 || why[0] || !(vcpu.xcr0 & XCR0_X87) || (vcpu.xcr0 & ~offered[i]) ||
            ((vcpu.xcr0 & XCR0_AVX) && !(vcpu.xcr0 & XCR0_SSE)))
            abort();
    }
    size_t len;
    if (accepted && (mig_vcpu_encode(&vcpu, out, sizeof(out), &len) || len > MIG_VCPU_MAX ||
                     mig_vcpu_decode(out, len, &vcpu2, why, sizeof(why)) || memcmp(&vcpu, &vcpu2, sizeof(vcpu))))
        abort();
    return 0;
}
