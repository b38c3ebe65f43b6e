/* Shared by vmm/vcpu_check.c and vmm/vcpu_check_seg.c only. */
#ifndef HOPVM_VCPU_CHECK_INTERNAL_H
#define HOPVM_VCPU_CHECK_INTERNAL_H
#include <hopvm/vcpu_check.h>

#define VA_BITS_4LEVEL 48
#define VA_BITS_5LEVEL 57
#define CR4_BIT_LA57 (1ull << 12)
#ifndef RFLAGS_IF
#define RFLAGS_IF (1ull << 9)
#endif
#ifndef RFLAGS_VM
#define RFLAGS_VM (1ull << 17)
#endif

/* One check in progress: the state, the host's limits, where the reason
 * goes, and the mode the control registers put the vCPU in. */
struct vc {
    const struct vcpu_state *s;
    const struct vcpu_limits *lim;
    char *why;
    size_t n;
    bool lma;         /* IA-32e mode (EFER.LMA) */
    bool v86;         /* virtual-8086 mode (RFLAGS.VM in protected mode) */
    unsigned va_bits; /* linear-address width for canonical checks */
};

/* Writes the reason; always -1. */
int vc_fail(struct vc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or -1 naming what is not canonical. */
int vc_canonical(struct vc *c, const char *what, uint64_t addr);
/* vmm/vcpu_check_seg.c: segment registers, GDTR and IDTR. */
int vc_check_segments(struct vc *c);

#endif
