/* VMCS field encodings and VMX control bits (Intel SDM Vol.3C appendix B
 * and chapter 25). Only vmm/vmx/ includes this file. */
#ifndef HOPVM_VMX_VMCS_H
#define HOPVM_VMX_VMCS_H

/* 16-bit fields */
#define VMCS_VPID              0x0000
#define VMCS_GUEST_ES_SEL      0x0800 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define VMCS_PML_INDEX         0x0812 /* SDM Vol.3C 25.4.2 */
#define VMCS_HOST_ES_SEL       0x0c00
#define VMCS_HOST_CS_SEL       0x0c02
#define VMCS_HOST_SS_SEL       0x0c04
#define VMCS_HOST_DS_SEL       0x0c06
#define VMCS_HOST_FS_SEL       0x0c08
#define VMCS_HOST_GS_SEL       0x0c0a
#define VMCS_HOST_TR_SEL       0x0c0c
/* 64-bit fields */
#define VMCS_IO_BITMAP_A       0x2000
#define VMCS_IO_BITMAP_B       0x2002
#define VMCS_MSR_BITMAP        0x2004
#define VMCS_PML_ADDRESS       0x200e
#define VMCS_TSC_OFFSET        0x2010
#define VMCS_EPT_POINTER       0x201a
#define VMCS_GUEST_PHYS_ADDR   0x2400
#define VMCS_LINK_POINTER      0x2800
#define VMCS_GUEST_PAT         0x2804
#define VMCS_GUEST_EFER        0x2806
#define VMCS_HOST_PAT          0x2c00
#define VMCS_HOST_EFER         0x2c02
/* 32-bit fields */
#define VMCS_PIN_CTLS          0x4000
#define VMCS_PROC_CTLS         0x4002
#define VMCS_EXCEPTION_BITMAP  0x4004
#define VMCS_EXIT_CTLS         0x400c
#define VMCS_ENTRY_CTLS        0x4012
#define VMCS_ENTRY_INTR_INFO   0x4016
#define VMCS_ENTRY_EXC_ERROR   0x4018
#define VMCS_ENTRY_INSN_LEN    0x401a
#define VMCS_PROC_CTLS2        0x401e
#define VMCS_INSN_ERROR        0x4400
#define VMCS_EXIT_REASON       0x4402
#define VMCS_EXIT_INTR_INFO    0x4404
#define VMCS_IDT_VECT_INFO     0x4408
#define VMCS_IDT_VECT_ERROR    0x440a
#define VMCS_EXIT_INSN_LEN     0x440c
#define VMCS_EXIT_INSN_INFO    0x440e
#define VMCS_GUEST_ES_LIMIT    0x4800 /* ... TR 0x480e, GDTR 0x4810, IDTR 0x4812 */
#define VMCS_GUEST_GDTR_LIMIT  0x4810
#define VMCS_GUEST_IDTR_LIMIT  0x4812
#define VMCS_GUEST_ES_AR       0x4814 /* ... TR 0x4822 */
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define INTERRUPTIBILITY_STI    (1u << 0) /* SDM Vol.3C 24.4.2, table 24-3 */
#define INTERRUPTIBILITY_MOV_SS (1u << 1)
#define INTERRUPTIBILITY_NMI    (1u << 3)
#define VMCS_GUEST_ACTIVITY    0x4826
#define VMCS_GUEST_SYSENTER_CS 0x482a
#define VMCS_PREEMPT_TIMER     0x482e
#define VMCS_HOST_SYSENTER_CS  0x4c00
/* natural-width fields */
#define VMCS_CR0_MASK          0x6000
#define VMCS_CR4_MASK          0x6002
#define VMCS_CR0_SHADOW        0x6004
#define VMCS_CR4_SHADOW        0x6006
#define VMCS_EXIT_QUAL         0x6400
#define VMCS_GUEST_CR0         0x6800
#define VMCS_GUEST_CR3         0x6802
#define VMCS_GUEST_CR4         0x6804
#define VMCS_GUEST_ES_BASE     0x6806 /* ... TR 0x6814 */
#define VMCS_GUEST_GDTR_BASE   0x6816
#define VMCS_GUEST_IDTR_BASE   0x6818
#define VMCS_GUEST_DR7         0x681a
#define VMCS_GUEST_RSP         0x681c
#define VMCS_GUEST_RIP         0x681e
#define VMCS_GUEST_RFLAGS      0x6820
#define VMCS_GUEST_PENDING_DBG 0x6822
#define VMCS_GUEST_SYSENTER_ESP 0x6824
#define VMCS_GUEST_SYSENTER_EIP 0x6826
#define VMCS_HOST_CR0          0x6c00
#define VMCS_HOST_CR3          0x6c02
#define VMCS_HOST_CR4          0x6c04
#define VMCS_HOST_FS_BASE      0x6c06
#define VMCS_HOST_GS_BASE      0x6c08
#define VMCS_HOST_TR_BASE      0x6c0a
#define VMCS_HOST_GDTR_BASE    0x6c0c
#define VMCS_HOST_IDTR_BASE    0x6c0e
#define VMCS_HOST_SYSENTER_ESP 0x6c10
#define VMCS_HOST_SYSENTER_EIP 0x6c12
#define VMCS_HOST_RSP          0x6c14
#define VMCS_HOST_RIP          0x6c16

/* Capability MSRs (SDM Vol.3C appendix A) */
#define MSR_VMX_BASIC          0x480
#define MSR_VMX_PINBASED       0x481
#define MSR_VMX_PROCBASED      0x482
#define MSR_VMX_EXIT           0x483
#define MSR_VMX_ENTRY          0x484
#define MSR_VMX_MISC           0x485
#define MSR_VMX_CR0_FIXED0     0x486
#define MSR_VMX_CR0_FIXED1     0x487
#define MSR_VMX_CR4_FIXED0     0x488
#define MSR_VMX_CR4_FIXED1     0x489
#define MSR_VMX_PROCBASED2     0x48b
#define MSR_VMX_EPT_VPID_CAP   0x48c
#define MSR_VMX_TRUE_PINBASED  0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT      0x48f
#define MSR_VMX_TRUE_ENTRY     0x490
#define VMX_BASIC_TRUE_CTLS    (1ull << 55)

/* Controls (SDM Vol.3C 25.6, 25.7, 25.8) */
#define PIN_EXT_INTR           (1u << 0)
#define PIN_NMI                (1u << 3)
#define PIN_VIRTUAL_NMI        (1u << 5)
#define PIN_PREEMPT_TIMER      (1u << 6)
#define PROC_INTR_WINDOW       (1u << 2)
#define PROC_TSC_OFFSET        (1u << 3)
#define PROC_HLT               (1u << 7)
#define PROC_MWAIT             (1u << 10)
#define PROC_CR3_LOAD          (1u << 15)
#define PROC_CR3_STORE         (1u << 16)
#define PROC_CR8_LOAD          (1u << 19)
#define PROC_CR8_STORE         (1u << 20)
#define PROC_UNCOND_IO         (1u << 24)
#define PROC_MSR_BITMAPS       (1u << 28)
#define PROC_MONITOR           (1u << 29)
#define PROC_SECONDARY         (1u << 31)
#define PROC2_EPT              (1u << 1)
#define PROC2_RDTSCP           (1u << 3)
#define PROC2_VPID             (1u << 5)
#define PROC2_UNRESTRICTED     (1u << 7)
#define PROC2_PML              (1u << 17)
#define EXIT_HOST_64           (1u << 9)
#define EXIT_SAVE_PAT          (1u << 18)
#define EXIT_LOAD_PAT          (1u << 19)
#define EXIT_SAVE_EFER         (1u << 20)
#define EXIT_LOAD_EFER         (1u << 21)
#define ENTRY_IA32E            (1u << 9)
#define ENTRY_LOAD_PAT         (1u << 14)
#define ENTRY_LOAD_EFER        (1u << 15)

/* Basic exit reasons (SDM Vol.3C appendix C) */
#define VMX_EXIT_EXCEPTION     0
#define VMX_EXIT_EXT_INTR      1
#define VMX_EXIT_TRIPLE_FAULT  2
#define VMX_EXIT_INTR_WINDOW   7
#define VMX_EXIT_CPUID         10
#define VMX_EXIT_HLT           12
#define VMX_EXIT_INVD          13
#define VMX_EXIT_VMCALL        18
#define VMX_EXIT_VMCLEAR       19
#define VMX_EXIT_VMXON         27
#define VMX_EXIT_CR_ACCESS     28
#define VMX_EXIT_IO            30
#define VMX_EXIT_RDMSR         31
#define VMX_EXIT_WRMSR         32
#define VMX_EXIT_BAD_GUEST     33
#define VMX_EXIT_BAD_MSR_LOAD  34
#define VMX_EXIT_MWAIT         36
#define VMX_EXIT_MONITOR       39
#define VMX_EXIT_EPT_VIOLATION 48
#define VMX_EXIT_EPT_MISCONFIG 49
#define VMX_EXIT_INVEPT        50
#define VMX_EXIT_PREEMPT_TIMER 52
#define VMX_EXIT_INVVPID       53
#define VMX_EXIT_XSETBV        55
#define VMX_EXIT_PML_FULL      62
#define VMX_EXIT_REASON_MASK   0xffff
#define VMX_EXIT_ENTRY_FAIL    (1u << 31)

/* Interruption information (SDM Vol.3C 25.8.3, 26.9.2) */
#define INTR_INFO_VALID        (1u << 31)
#define INTR_INFO_ERR_VALID    (1u << 11)
#define INTR_TYPE_SHIFT        8
#define INTR_TYPE_EXT          0
#define INTR_TYPE_NMI          2
#define INTR_TYPE_HW_EXC       3
#define INTR_TYPE_SOFT_INT     4

/* Exit qualifications */
#define CRQ_CR_MASK            0xf    /* control-register accesses (SDM Vol.3C table 28-3) */
#define CRQ_TYPE_SHIFT         4
#define CRQ_TYPE_MASK          3
#define CRQ_MOV_TO_CR          0
#define CRQ_MOV_FROM_CR        1
#define CRQ_CLTS               2
#define CRQ_GPR_SHIFT          8
#define CRQ_GPR_MASK           0xf
#define CRQ_LMSW_SRC_SHIFT     16
#define IOQ_SIZE_MASK          0x7
#define IOQ_IN                 (1u << 3)
#define IOQ_STRING             (1u << 4)
#define IOQ_REP                (1u << 5)
#define IOQ_PORT_SHIFT         16
#define EPTQ_WRITE             (1u << 1)
#define EPTQ_FETCH             (1u << 2)
#define EPTQ_LINEAR_VALID      (1u << 7) /* SDM Vol.3C table 28-7: a linear address was being translated */
#define EPTQ_FINAL             (1u << 8) /* ... and the access was to its translation, not a paging entry */

/* EPT (SDM Vol.3C 29.3) */
#define EPT_MEMTYPE_WB         (6ull << 3)
#define EPTP_WB                6ull
#define EPTP_WALK_4            (3ull << 3)
#define EPTP_AD                (1ull << 6)
#define EPT_CAP_WB             (1ull << 14)
#define EPT_CAP_2M             (1ull << 16)
#define EPT_CAP_AD             (1ull << 21)

#define CR4_VMXE               (1ull << 13)
#define AR_UNUSABLE            (1u << 16)

#endif
