/* Vendor-neutral architectural state of a vCPU: what `vm info` shows,
 * what the migration engine will stream, and what either hardware backend
 * can load. Field meanings follow the Intel SDM / AMD APM definitions. */
#ifndef HOPVM_VCPU_STATE_H
#define HOPVM_VCPU_STATE_H
#include <stdint.h>

/* General registers in x86 encoding order (SDM Vol.2A 2.1.5 table 2-2). */
enum gpr {
    GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
    GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
    GPR_COUNT
};

/* A segment register with its hidden part. attr packs descriptor bits
 * 40-47 (type, S, DPL, P) in bits 0-7 and bits 52-55 (AVL, L, D/B, G) in
 * bits 8-11; limit is the expanded byte limit. */
struct seg_state {
    uint16_t sel;
    uint16_t attr;
    uint32_t limit;
    uint64_t base;
};
#define SEG_ATTR_TYPE(t) ((t) & 0xf)
#define SEG_ATTR_S       (1u << 4)
#define SEG_ATTR_DPL(d)  (((d) & 3) << 5)
#define SEG_ATTR_P       (1u << 7)
#define SEG_ATTR_AVL     (1u << 8)
#define SEG_ATTR_L       (1u << 9)
#define SEG_ATTR_DB      (1u << 10)
#define SEG_ATTR_G       (1u << 11)

struct dt_state {
    uint64_t base;
    uint32_t limit;
};

/* An event to deliver at the next entry (SDM Vol.3C 24.8.3, APM 15.20). */
enum event_type { EVENT_NONE, EVENT_EXCEPTION, EVENT_EXTINT, EVENT_NMI, EVENT_SOFTINT };
struct vcpu_event {
    uint8_t type;       /* enum event_type */
    uint8_t vector;
    uint8_t has_error;
    uint8_t insn_len;   /* a software interrupt's INT instruction length (0: unknown) */
    uint32_t error;
};

struct vcpu_state {
    uint64_t gpr[GPR_COUNT];
    uint64_t rip, rflags;
    struct seg_state es, cs, ss, ds, fs, gs, ldtr, tr;
    struct dt_state gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, efer, dr6, dr7;
    uint64_t pat, star, lstar, cstar, sfmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset;
    uint32_t int_shadow;      /* enum int_shadow: events held off for one instruction */
    uint32_t nmi_blocked;     /* 1: an NMI handler runs, NMIs wait for its IRET */
    struct vcpu_event event;  /* pending event */
};

/* The interrupt shadow after STI or after MOV SS / POP SS (SDM Vol.3A
 * 6.8.3, Vol.3C 24.4.2 interruptibility state bits 0 and 1). Both hold off
 * maskable interrupts for one instruction; MOV SS's also holds off debug
 * traps, and VM entry takes STI's only with RFLAGS.IF set (STI sets it). */
enum int_shadow { SHADOW_NONE, SHADOW_STI, SHADOW_MOV_SS };

/* Architectural bits used by the core. */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define RFLAGS_FIXED (1ull << 1)
#define DR6_INIT 0xffff0ff0ull /* SDM Vol.3A table 9-1 */
#define DR7_INIT 0x400ull
#define PAT_DEFAULT 0x0007040600070406ull /* SDM Vol.3A 11.12.4: power-up PAT */

#define EXC_NMI 2
#define EXC_UD 6
#define EXC_GP 13

#endif
