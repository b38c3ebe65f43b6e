/* The VMCB (AMD APM Vol.2 appendix B, tables B-1 and B-2). Only vmm/svm/
 * includes this file. */
#ifndef HOPVM_SVM_VMCB_H
#define HOPVM_SVM_VMCB_H
#include <stddef.h>
#include <stdint.h>

struct vmcb_control {
    uint32_t intercept_cr;        /* 0x000: CR reads 0-15, writes 16-31 */
    uint32_t intercept_dr;        /* 0x004 */
    uint32_t intercept_exceptions;/* 0x008 */
    uint32_t intercept_misc1;     /* 0x00c */
    uint32_t intercept_misc2;     /* 0x010 */
    uint32_t intercept_misc3;     /* 0x014 */
    uint8_t rsvd1[0x03c - 0x018];
    uint16_t pause_filter_threshold; /* 0x03c */
    uint16_t pause_filter_count;     /* 0x03e */
    uint64_t iopm_base_pa;        /* 0x040 */
    uint64_t msrpm_base_pa;       /* 0x048 */
    uint64_t tsc_offset;          /* 0x050 */
    uint32_t asid;                /* 0x058 */
    uint8_t tlb_control;          /* 0x05c */
    uint8_t rsvd2[3];
    uint64_t int_ctl;             /* 0x060: V_TPR, V_IRQ, V_INTR_MASKING, ... */
    uint64_t int_state;           /* 0x068: bit 0 interrupt shadow */
    uint64_t exitcode;            /* 0x070 */
    uint64_t exitinfo1;           /* 0x078 */
    uint64_t exitinfo2;           /* 0x080 */
    uint64_t exitintinfo;         /* 0x088 */
    uint64_t np_control;          /* 0x090: bit 0 NP_ENABLE */
    uint64_t avic_apic_bar;       /* 0x098 */
    uint64_t ghcb_pa;             /* 0x0a0 */
    uint64_t eventinj;            /* 0x0a8 */
    uint64_t n_cr3;               /* 0x0b0 */
    uint64_t virt_ext;            /* 0x0b8 */
    uint32_t clean;               /* 0x0c0 */
    uint32_t rsvd3;
    uint64_t next_rip;            /* 0x0c8 */
    uint8_t insn_len;             /* 0x0d0 */
    uint8_t insn_bytes[15];
    uint8_t rsvd4[0x400 - 0x0e0];
};

struct vmcb_seg {
    uint16_t sel;
    uint16_t attr;
    uint32_t limit;
    uint64_t base;
};

struct vmcb_save {
    struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x000 */
    uint8_t rsvd1[0x0cb - 0x0a0];
    uint8_t cpl;                  /* 0x0cb */
    uint32_t rsvd2;
    uint64_t efer;                /* 0x0d0 */
    uint8_t rsvd3[0x148 - 0x0d8];
    uint64_t cr4, cr3, cr0, dr7, dr6, rflags, rip; /* 0x148 */
    uint8_t rsvd4[0x1d8 - 0x180];
    uint64_t rsp;                 /* 0x1d8 */
    uint8_t rsvd5[0x1f8 - 0x1e0];
    uint64_t rax;                 /* 0x1f8 */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x200 */
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip, cr2; /* 0x228 */
    uint8_t rsvd6[0x268 - 0x248];
    uint64_t g_pat;               /* 0x268 */
    uint64_t dbgctl, br_from, br_to, last_excp_from, last_excp_to;
};

struct vmcb {
    struct vmcb_control ctl;
    struct vmcb_save save;
};

_Static_assert(offsetof(struct vmcb_control, iopm_base_pa) == 0x040, "VMCB layout");
_Static_assert(offsetof(struct vmcb_control, exitcode) == 0x070, "VMCB layout");
_Static_assert(offsetof(struct vmcb_control, n_cr3) == 0x0b0, "VMCB layout");
_Static_assert(offsetof(struct vmcb_control, next_rip) == 0x0c8, "VMCB layout");
_Static_assert(sizeof(struct vmcb_control) == 0x400, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, cpl) == 0x0cb, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, efer) == 0x0d0, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, cr4) == 0x148, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, rip) == 0x178, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, rsp) == 0x1d8, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, rax) == 0x1f8, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, cr2) == 0x240, "VMCB layout");
_Static_assert(offsetof(struct vmcb_save, g_pat) == 0x268, "VMCB layout");

/* CR intercepts (offset 0x000, APM table B-1): reads in bits 0-15, writes in 16-31. */
#define INTERCEPT_CR4_WRITE (1u << (16 + 4))
/* Intercept vector 3 (offset 0x00c), APM table B-1. */
#define INTERCEPT_INTR      (1u << 0)
#define INTERCEPT_VINTR     (1u << 4)
#define INTERCEPT_IRET      (1u << 20)
#define INTERCEPT_NMI       (1u << 1)
#define INTERCEPT_SMI       (1u << 2)
#define INTERCEPT_CPUID     (1u << 18)
#define INTERCEPT_INVD      (1u << 22)
#define INTERCEPT_HLT       (1u << 24)
#define INTERCEPT_INVLPGA   (1u << 26)
#define INTERCEPT_IOIO_PROT (1u << 27)
#define INTERCEPT_MSR_PROT  (1u << 28)
#define INTERCEPT_SHUTDOWN  (1u << 31)
/* Intercept vector 4 (offset 0x010). */
#define INTERCEPT_VMRUN     (1u << 0)
#define INTERCEPT_VMMCALL   (1u << 1)
#define INTERCEPT_VMLOAD    (1u << 2)
#define INTERCEPT_VMSAVE    (1u << 3)
#define INTERCEPT_STGI      (1u << 4)
#define INTERCEPT_CLGI      (1u << 5)
#define INTERCEPT_SKINIT    (1u << 6)
#define INTERCEPT_MONITOR   (1u << 10)
#define INTERCEPT_MWAIT     (1u << 11)
#define INTERCEPT_MWAIT_CND (1u << 12)
#define INTERCEPT_XSETBV    (1u << 13)

#define V_INTR_MASKING      (1ull << 24)
#define V_TPR_MASK          0xfull       /* int_ctl bits 3:0: the guest's CR8 (APM 15.21.1) */
#define V_TPR_SHIFT         4            /* ... which is the local APIC's TPR[7:4] */
#define V_IRQ               (1ull << 8)  /* a virtual interrupt is pending (APM 15.21.4) */
#define V_INTR_PRIO_SHIFT   16
#define V_INTR_PRIO_MASK    (0xfull << V_INTR_PRIO_SHIFT)
#define V_IGN_TPR           (1ull << 20)
#define NP_ENABLE           (1ull << 0)
#define TLB_CONTROL_NONE    0
#define TLB_CONTROL_ALL     1  /* flush every ASID */
#define TLB_CONTROL_ASID    3  /* this guest's ASID only (FlushByAsid) */
#define INT_STATE_SHADOW    (1ull << 0)

/* EVENTINJ / EXITINTINFO (APM 15.20). */
#define EVTINJ_VALID        (1ull << 31)
#define EVTINJ_ERR_VALID    (1ull << 11)
#define EVTINJ_TYPE_SHIFT   8
#define EVTINJ_TYPE_INTR    0
#define EVTINJ_TYPE_NMI     2
#define EVTINJ_TYPE_EXC     3
#define EVTINJ_TYPE_SOFT    4

/* Exit codes (APM appendix C). */
#define SVM_EXIT_CR4_WRITE  0x014
#define SVM_EXIT_INTR       0x060
#define SVM_EXIT_VINTR      0x064
#define SVM_EXIT_NMI        0x061
#define SVM_EXIT_SMI        0x062
#define SVM_EXIT_CPUID      0x072
#define SVM_EXIT_IRET       0x074
#define SVM_EXIT_INVD       0x076
#define SVM_EXIT_PAUSE      0x077
#define SVM_EXIT_HLT        0x078
#define SVM_EXIT_INVLPGA    0x07a
#define SVM_EXIT_IOIO       0x07b
#define SVM_EXIT_MSR        0x07c
#define SVM_EXIT_SHUTDOWN   0x07f
#define SVM_EXIT_VMRUN      0x080
#define SVM_EXIT_VMMCALL    0x081
#define SVM_EXIT_VMLOAD     0x082
#define SVM_EXIT_VMSAVE     0x083
#define SVM_EXIT_STGI       0x084
#define SVM_EXIT_CLGI       0x085
#define SVM_EXIT_SKINIT     0x086
#define SVM_EXIT_MONITOR    0x08a
#define SVM_EXIT_MWAIT      0x08b
#define SVM_EXIT_MWAIT_CND  0x08c
#define SVM_EXIT_XSETBV     0x08d
#define SVM_EXIT_NPF        0x400
#define SVM_EXIT_INVALID    0xffffffffffffffffull

/* IOIO EXITINFO1 (APM 15.10.2). */
#define IOIO_IN             (1u << 0)
#define IOIO_STR            (1u << 2)
#define IOIO_REP            (1u << 3)
#define IOIO_SZ8            (1u << 4)
#define IOIO_SZ16           (1u << 5)
#define IOIO_SZ32           (1u << 6)
#define IOIO_A16            (1u << 7)
#define IOIO_A32            (1u << 8)
#define IOIO_A64            (1u << 9)
#define IOIO_SEG_SHIFT      10
#define IOIO_PORT_SHIFT     16
/* MOV-to-CR EXITINFO1 with decode assists (APM Vol.2 15, "Decode Assists",
 * MOV CRx): bit 63 says a MOV caused it, bits 3:0 name its source register. */
#define CR_INFO_MOV         (1ull << 63)
#define CR_INFO_GPR_MASK    0xfull
/* #NPF EXITINFO1 (APM 15.25.6): page-fault error code bits. */
#define NPF_WRITE           (1ull << 1)
#define NPF_FETCH           (1ull << 4)
#define NPF_GUEST_WALK      (1ull << 33) /* APM 15.25.6: the fault was on the guest's page-table walk */

#define MSR_VM_HSAVE_PA     0xc0010117
#define EFER_SVME           (1ull << 12)
#define IOPM_SIZE           (12 * 1024)
#define MSRPM_SIZE          (8 * 1024)

#endif
