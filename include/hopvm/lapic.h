/* The local APIC (Intel SDM Vol.3A chapter 11, "Advanced Programmable
 * Interrupt Controller (APIC)"; chapter 10 in older editions), one per
 * vCPU, as a pure model: register file, interrupt acceptance (IRR, ISR,
 * TMR), priorities (TPR, PPR), EOI, the ICR's interprocessor interrupts
 * (handed back to the caller to route), the LVTs and the timer in one-shot,
 * periodic and TSC-deadline mode; both the xAPIC MMIO page and the x2APIC
 * MSRs. Time comes from the caller: now_ns for the timer's bus clock
 * (LAPIC_BUS_HZ), the guest's TSC for the deadline mode. No hardware is
 * touched; vmm/dev/lapic.c wires it to the vCPUs; unit-tested on Linux
 * (tests/unit/test_lapic.c). Every field is plain data, so the whole
 * struct is what a teleport carries. */
#ifndef HOPVM_LAPIC_H
#define HOPVM_LAPIC_H
#include <stdbool.h>
#include <stdint.h>

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define LAPIC_BUS_HZ       1000000000ull /* the timer's input clock: 1 GHz, so one tick is 1 ns */
#define LAPIC_VERSION      0x14          /* an integrated APIC */
#define LAPIC_MAX_LVT      6             /* LVT entries beyond the first: 7 LVTs (CMCI..error) */

/* IA32_APIC_BASE (MSR 0x1b, SDM 11.4.4, 11.12.1) */
#define MSR_APIC_BASE      0x1b
#define APIC_BASE_BSP      (1ull << 8)
#define APIC_BASE_EXTD     (1ull << 10) /* x2APIC mode */
#define APIC_BASE_EN       (1ull << 11)
#define MSR_TSC_DEADLINE   0x6e0
#define MSR_X2APIC_FIRST   0x800
#define MSR_X2APIC_LAST    0x8ff

/* Register offsets in the xAPIC page (SDM table 11-1); x2APIC MSR = 0x800 + off / 16. */
#define APIC_ID        0x020
#define APIC_LVR       0x030
#define APIC_TPR       0x080
#define APIC_APR       0x090
#define APIC_PPR       0x0a0
#define APIC_EOI       0x0b0
#define APIC_RRD       0x0c0
#define APIC_LDR       0x0d0
#define APIC_DFR       0x0e0
#define APIC_SVR       0x0f0
#define APIC_ISR       0x100 /* 8 registers, 0x10 apart */
#define APIC_TMR       0x180
#define APIC_IRR       0x200
#define APIC_ESR       0x280
#define APIC_LVT_CMCI  0x2f0
#define APIC_ICR       0x300
#define APIC_ICR2      0x310
#define APIC_LVT_TIMER 0x320
#define APIC_LVT_THERM 0x330
#define APIC_LVT_PERF  0x340
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370
#define APIC_TMICT     0x380
#define APIC_TMCCT     0x390
#define APIC_TDCR      0x3e0
#define APIC_SELF_IPI  0x3f0 /* x2APIC only */

/* Delivery modes (ICR, LVT, IOAPIC redirection entries and MSIs share them). */
#define APIC_DM_FIXED   0
#define APIC_DM_LOWEST  1
#define APIC_DM_SMI     2
#define APIC_DM_NMI     4
#define APIC_DM_INIT    5
#define APIC_DM_SIPI    6
#define APIC_DM_EXTINT  7

/* ICR destination shorthands (SDM 11.6.1) */
#define APIC_SH_NONE       0
#define APIC_SH_SELF       1
#define APIC_SH_ALL        2
#define APIC_SH_ALL_BUT    3

#define APIC_LVT_MASKED    (1u << 16)
#define APIC_LVT_DM_SHIFT  8          /* delivery mode, bits 10:8 of an LVT and the ICR */
#define APIC_SVR_ENABLE    (1u << 8)  /* software enable (SDM 11.9) */
#define APIC_SPURIOUS_DEFAULT 0xff    /* the spurious vector after reset */
#define APIC_TIMER_ONESHOT  0
#define APIC_TIMER_PERIODIC 1
#define APIC_TIMER_TSC_DEADLINE 2

/* An interrupt the ICR asks for (or EOI of a level-triggered one): the
 * caller routes it to the destination APICs (lapic_match) and acts on
 * INIT/SIPI/NMI itself. */
struct lapic_ipi {
    uint8_t vector;
    uint8_t delivery;    /* APIC_DM_* */
    uint8_t shorthand;   /* APIC_SH_* */
    bool logical;        /* destination mode */
    bool assert;         /* level: assert (INIT level de-assert has it false) */
    bool level_trig;     /* trigger mode */
    uint32_t dest;       /* xAPIC: 8 bits (ICR2 31:24); x2APIC: 32 bits */
};

/* What a register write asks of the outside world. */
struct lapic_out {
    bool ipi;            /* send out.ipi_msg */
    struct lapic_ipi ipi_msg;
    bool eoi_level;      /* an EOI retired a level-triggered vector: tell the IOAPIC */
    uint8_t eoi_vector;
};

struct lapic {
    uint64_t apic_base;  /* IA32_APIC_BASE */
    uint32_t id;         /* the APIC ID (xAPIC shows it in bits 31:24 of APIC_ID) */
    uint32_t tpr, ldr, dfr, svr, esr, esr_pending;
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[LAPIC_MAX_LVT + 1]; /* CMCI, timer, thermal, perf, LINT0, LINT1, error */
    uint32_t timer_initial, timer_divide;
    uint64_t timer_start;     /* now_ns when the current count (re)started */
    uint64_t timer_next;      /* now_ns of the next one-shot/periodic expiry; 0: none armed */
    uint64_t tsc_deadline;    /* IA32_TSC_DEADLINE; 0: disarmed */
    uint32_t irr[8], isr[8], tmr[8];
};

/* Power-on / RESET (SDM 11.4.7.1): registers cleared, LVTs masked, SVR
 * 0xff, DFR all ones; apic_base = default address | EN | BSP if bsp. */
void lapic_reset(struct lapic *l, uint32_t id, bool bsp);
/* An INIT (IPI or INIT signal): as reset but the APIC ID and
 * IA32_APIC_BASE are kept (SDM 11.4.7.3). */
void lapic_init(struct lapic *l);
/* The global enable (IA32_APIC_BASE.EN) and the software enable (SVR bit 8). */
bool lapic_hw_enabled(const struct lapic *l);
bool lapic_sw_enabled(const struct lapic *l);
bool lapic_x2apic(const struct lapic *l);
/* A WRMSR to IA32_APIC_BASE: false (#GP) for reserved bits or a transition
 * SDM 11.12.5 forbids (x2APIC -> xAPIC without disabling, EXTD without EN). */
bool lapic_set_base(struct lapic *l, uint64_t val, uint64_t maxphyaddr_mask);

/* The xAPIC page: 32-bit accesses at a 16-byte aligned offset (others
 * read 0 / are ignored). Reads of write-only or unknown registers give 0. */
uint32_t lapic_read(struct lapic *l, unsigned off, uint64_t now_ns);
void lapic_write(struct lapic *l, unsigned off, uint32_t val, uint64_t now_ns, struct lapic_out *out);
/* The x2APIC MSRs (SDM 11.12.1.2): false means #GP (not in x2APIC mode, a
 * read of a write-only register, a reserved register or reserved bits). */
bool lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t now_ns, uint64_t *val);
bool lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val, uint64_t now_ns, struct lapic_out *out);

/* An interrupt arriving for this APIC (fixed or lowest priority): IRR,
 * and TMR for level-triggered. Ignored while software-disabled. */
void lapic_accept(struct lapic *l, uint8_t vector, bool level_trig);
/* The highest vector in IRR whose priority class is above PPR (SDM
 * 11.8.3.1), or -1. */
int lapic_pending(const struct lapic *l);
/* The CPU took `vector` (INTA): IRR -> ISR. */
void lapic_ack(struct lapic *l, uint8_t vector);
uint32_t lapic_ppr(const struct lapic *l);
/* The destination test for fixed/lowest/NMI/INIT messages (SDM 11.6.2):
 * physical (ID match or broadcast 0xff / 0xffffffff) or logical (flat or
 * cluster model in xAPIC by DFR; x2APIC's cluster LDR). */
bool lapic_match(const struct lapic *l, uint32_t dest, bool logical);

/* The timer: fires the LVT timer vector into IRR if its time has come
 * (one-shot, periodic with rearm, or TSC deadline against guest_tsc). */
void lapic_timer_poll(struct lapic *l, uint64_t now_ns, uint64_t guest_tsc);
/* When it fires next, in now_ns terms (one-shot, periodic), or UINT64_MAX
 * (none armed, masked, or TSC-deadline mode: see lapic_tsc_deadline). */
uint64_t lapic_timer_next_ns(const struct lapic *l);
/* The armed TSC deadline in deadline mode, else 0. */
uint64_t lapic_tsc_deadline(const struct lapic *l);
bool lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc);

/* LVT LINT0/LINT1 (pin 0/1): the delivery mode if unmasked, else -1. */
int lapic_lint_mode(const struct lapic *l, unsigned pin);

#endif
