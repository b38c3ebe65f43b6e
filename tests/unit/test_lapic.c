/* The local APIC model (vmm/lapic.c) against Intel SDM Vol.3A chapter 11:
 * reset and INIT values, each register's writable bits, PPR, the order of
 * acceptance, acknowledgement and EOI, illegal vectors and the ESR, the
 * destination models, the x2APIC MSR rules, IA32_APIC_BASE transitions, the
 * timer's three modes and divider, software disable, and the ICR's IPIs. */
#include "check.h"
#include <hopvm/lapic.h>

#define MAXPHY       ((1ull << 39) - 1)
#define MSR(off)     (MSR_X2APIC_FIRST + (off) / 16)
#define SVR_ON       0x1ffu /* software enabled, spurious vector 0xff */
#define LVT_PERIODIC (APIC_TIMER_PERIODIC << 17)
#define LVT_DEADLINE (APIC_TIMER_TSC_DEADLINE << 17)
#define TDCR_DIV1    0xbu
#define BASE_XAPIC   (LAPIC_DEFAULT_BASE | APIC_BASE_EN)
#define BASE_X2APIC  (LAPIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD)

static struct lapic l;
static struct lapic_out out;

static uint32_t rd(unsigned off, uint64_t now) { return lapic_read(&l, off, now); }
static void wr(unsigned off, uint32_t v, uint64_t now) { lapic_write(&l, off, v, now, &out); }
static bool mwr(uint32_t msr, uint64_t v) { return lapic_msr_write(&l, msr, v, 0, &out); }
static bool mrd(uint32_t msr, uint64_t *v) { return lapic_msr_read(&l, msr, 0, v); }

static bool irr(unsigned v) { return rd(APIC_IRR + v / 32 * 16, 0) >> (v % 32) & 1; }
static bool isr(unsigned v) { return rd(APIC_ISR + v / 32 * 16, 0) >> (v % 32) & 1; }
static bool tmr(unsigned v) { return rd(APIC_TMR + v / 32 * 16, 0) >> (v % 32) & 1; }
static unsigned irr_count(void)
{
    unsigned n = 0;
    for (unsigned v = 0; v < 256; v++)
        n += irr(v);
    return n;
}

/* A fresh, software-enabled xAPIC with id 3. */
static void fresh(void)
{
    memset(&l, 0xa5, sizeof(l)); /* reset must not leave anything behind */
    lapic_reset(&l, 3, true);
    wr(APIC_SVR, SVR_ON, 0);
}

/* Take the highest pending vector and return it (-1: none). */
static int take(void)
{
    int v = lapic_pending(&l);
    if (v >= 0)
        lapic_ack(&l, (uint8_t)v);
    return v;
}

static const unsigned lvt_offs[] = {APIC_LVT_CMCI, APIC_LVT_TIMER, APIC_LVT_THERM, APIC_LVT_PERF,
                                    APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR};

static void check_reset_regs(uint32_t id)
{
    CHECK_U64(rd(APIC_ID, 0), id << 24);
    CHECK_U64(rd(APIC_LVR, 0), 0x00060014); /* max LVT 6, version 0x14, bit 24 (directed EOI) clear */
    CHECK_U64(rd(APIC_TPR, 0), 0);
    CHECK_U64(rd(APIC_APR, 0), 0);
    CHECK_U64(rd(APIC_PPR, 0), 0);
    CHECK_U64(rd(APIC_LDR, 0), 0);
    CHECK_U64(rd(APIC_DFR, 0), 0xffffffff);
    CHECK_U64(rd(APIC_SVR, 0), 0xff);
    CHECK_U64(rd(APIC_ESR, 0), 0);
    CHECK_U64(rd(APIC_ICR, 0), 0);
    CHECK_U64(rd(APIC_ICR2, 0), 0);
    CHECK_U64(rd(APIC_TMICT, 0), 0);
    CHECK_U64(rd(APIC_TMCCT, 0), 0);
    CHECK_U64(rd(APIC_TDCR, 0), 0);
    unsigned nonzero = 0;
    for (unsigned i = 0; i < 8; i++)
        nonzero += rd(APIC_ISR + i * 16, 0) != 0 || rd(APIC_TMR + i * 16, 0) != 0 || rd(APIC_IRR + i * 16, 0) != 0;
    CHECK_U64(nonzero, 0);
    for (unsigned i = 0; i < 7; i++)
        CHECK_U64(rd(lvt_offs[i], 0), APIC_LVT_MASKED);
    CHECK(!lapic_sw_enabled(&l));
    CHECK_U64(lapic_pending(&l), (uint64_t)-1);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    CHECK_U64(lapic_tsc_deadline(&l), 0);
    CHECK_U64(l.esr_pending, 0);
    CHECK_U64(l.tsc_deadline, 0);
    CHECK_U64(l.timer_next, 0);
}

static void reset_and_init(void)
{
    memset(&l, 0xa5, sizeof(l));
    lapic_reset(&l, 3, true);
    CHECK_U64(l.apic_base, 0xfee00900);
    CHECK(lapic_hw_enabled(&l) && !lapic_x2apic(&l));
    check_reset_regs(3);
    lapic_reset(&l, 1, false);
    CHECK_U64(l.apic_base, 0xfee00800);

    /* INIT: everything back, but the ID and IA32_APIC_BASE (moved here) stay. */
    lapic_reset(&l, 7, true);
    CHECK(lapic_set_base(&l, 0xfed00000 | APIC_BASE_EN, MAXPHY));
    wr(APIC_SVR, SVR_ON, 0);
    wr(APIC_TPR, 0x20, 0);
    wr(APIC_LDR, 0x01000000, 0);
    wr(APIC_DFR, 0, 0);
    wr(APIC_LVT_TIMER, 0x40, 0);
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_TMICT, 100, 0);
    wr(APIC_ICR2, 0x01000000, 0);
    lapic_accept(&l, 0x50, true);
    lapic_accept(&l, 0x60, false);
    lapic_ack(&l, 0x60);
    lapic_accept(&l, 3, false);
    lapic_init(&l);
    CHECK_U64(l.apic_base, 0xfed00000 | APIC_BASE_EN | APIC_BASE_BSP);
    check_reset_regs(7);
}

static void writable_bits(void)
{
    fresh();
    /* All ones in, the writable bits out (SDM figures 11-6 .. 11-31). */
    static const struct { unsigned off; uint32_t ones; } regs[] = {
        {APIC_ID, 3u << 24},        /* read-only here */
        {APIC_LVR, 0x00060014},
        {APIC_TPR, 0xff},
        {APIC_APR, 0},
        {APIC_LDR, 0xff000000},
        {APIC_DFR, 0xffffffff},
        {APIC_SVR, 0x3ff},          /* bit 12 needs directed EOI, which LVR denies */
        {APIC_ESR, 0},              /* a write latches the (no) errors */
        {APIC_ICR2, 0xff000000},
        {APIC_LVT_CMCI, 0x107ff},
        {APIC_LVT_THERM, 0x107ff},
        {APIC_LVT_PERF, 0x107ff},
        {APIC_LVT_LINT0, 0x1a7ff},  /* + polarity, trigger; not remote IRR, delivery status */
        {APIC_LVT_LINT1, 0x1a7ff},
        {APIC_LVT_ERROR, 0x100ff},
        {APIC_LVT_TIMER, 0x700ff},  /* vector, mask, mode */
        {APIC_TDCR, 0xb},
        {APIC_TMCCT, 0},            /* read-only: timer stopped */
    };
    for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        wr(regs[i].off, 0xffffffff, 0);
        CHECK_U64(rd(regs[i].off, 0), regs[i].ones);
    }
    wr(APIC_LVT_TIMER, 0, 0);
    wr(APIC_TMICT, 0xffffffff, 0);
    CHECK_U64(rd(APIC_TMICT, 0), 0xffffffff);
    /* All zeros in: DFR keeps its ones below bit 28. */
    wr(APIC_DFR, 0, 0);
    CHECK_U64(rd(APIC_DFR, 0), 0x0fffffff);
    wr(APIC_SVR, 0x100, 0);
    CHECK_U64(rd(APIC_SVR, 0), 0x100);
    wr(APIC_TPR, 0, 0);
    CHECK_U64(rd(APIC_TPR, 0), 0);
    for (unsigned i = 0; i < 7; i++) {
        wr(lvt_offs[i], 0, 0);
        CHECK_U64(rd(lvt_offs[i], 0), 0);
    }
    /* PPR, ISR, TMR, IRR are read-only. */
    wr(APIC_PPR, 0xff, 0);
    CHECK_U64(rd(APIC_PPR, 0), 0);
    wr(APIC_IRR + 0x20, 0xffffffff, 0);
    wr(APIC_ISR + 0x20, 0xffffffff, 0);
    wr(APIC_TMR + 0x20, 0xffffffff, 0);
    CHECK_U64(irr_count(), 0);
    CHECK(!isr(0x40) && !tmr(0x40));
    /* The ICR keeps its writable bits; delivery status (12) reads 0. */
    wr(APIC_ICR, 0xffffffff, 0);
    CHECK_U64(rd(APIC_ICR, 0), 0x000ccfff);
    CHECK(!out.ipi); /* delivery mode 7 is reserved in the ICR */
    /* No SELF IPI in the xAPIC page; misaligned and out-of-page accesses
     * are nothing. */
    wr(APIC_SELF_IPI, 0x40, 0);
    CHECK(!irr(0x40));
    CHECK_U64(rd(APIC_SELF_IPI, 0), 0);
    wr(APIC_TPR + 4, 0x20, 0);
    CHECK_U64(rd(APIC_TPR, 0), 0);
    CHECK_U64(rd(APIC_LVR + 4, 0), 0);
    CHECK_U64(rd(APIC_LVR + 0x1000, 0), 0);
    CHECK_U64(rd(APIC_EOI, 0), 0); /* write-only */
}

static void ppr(void)
{
    fresh();
    wr(APIC_TPR, 0x35, 0);
    CHECK_U64(rd(APIC_PPR, 0), 0x35);
    lapic_accept(&l, 0x41, false);
    CHECK_U64(take(), 0x41);
    CHECK_U64(rd(APIC_PPR, 0), 0x40); /* ISR's class wins, low nibble 0 */
    wr(APIC_TPR, 0x45, 0);
    CHECK_U64(rd(APIC_PPR, 0), 0x45); /* equal class: TPR, whole */
    wr(APIC_TPR, 0x4f, 0);
    CHECK_U64(lapic_ppr(&l), 0x4f);
    wr(APIC_TPR, 0x3f, 0);
    CHECK_U64(lapic_ppr(&l), 0x40);
    wr(APIC_TPR, 0x60, 0);
    CHECK_U64(lapic_ppr(&l), 0x60);
    wr(APIC_EOI, 0, 0);
    wr(APIC_TPR, 0x12, 0);
    CHECK_U64(lapic_ppr(&l), 0x12);
}

static void accept_ack_eoi(void)
{
    fresh();
    lapic_accept(&l, 0x21, false);
    CHECK_U64(rd(APIC_IRR + 0x10, 0), 1u << 1); /* vector 0x21: IRR register 1, bit 1 */
    lapic_accept(&l, 0x50, false);
    lapic_accept(&l, 0x30, false);
    CHECK_U64(lapic_pending(&l), 0x50);
    lapic_ack(&l, 0x50);
    CHECK(!irr(0x50) && isr(0x50));
    CHECK_U64(lapic_pending(&l), (uint64_t)-1); /* 0x30, 0x21 are below PPR 0x50 */
    lapic_accept(&l, 0x5f, false);
    CHECK_U64(lapic_pending(&l), (uint64_t)-1); /* same class as in service: waits */
    lapic_accept(&l, 0x61, false);
    CHECK_U64(take(), 0x61);                    /* nests */
    CHECK(isr(0x50) && isr(0x61));
    wr(APIC_EOI, 0, 0);                         /* retires the highest: 0x61 */
    CHECK(isr(0x50) && !isr(0x61));
    CHECK(!out.eoi_level);
    CHECK_U64(lapic_pending(&l), (uint64_t)-1);
    wr(APIC_EOI, 0, 0);
    CHECK(!isr(0x50));
    CHECK_U64(take(), 0x5f);
    wr(APIC_EOI, 0, 0);
    CHECK_U64(take(), 0x30);
    wr(APIC_EOI, 0, 0);
    CHECK_U64(take(), 0x21);
    wr(APIC_EOI, 0, 0);
    CHECK_U64(lapic_pending(&l), (uint64_t)-1);
    wr(APIC_EOI, 0, 0); /* nothing in service: nothing happens */
    CHECK(!out.eoi_level);
    /* ack of something not requested does nothing */
    lapic_ack(&l, 0x77);
    CHECK(!isr(0x77));

    /* TPR holds back a class and below. */
    wr(APIC_TPR, 0x50, 0);
    lapic_accept(&l, 0x5a, false);
    CHECK_U64(lapic_pending(&l), (uint64_t)-1);
    lapic_accept(&l, 0x60, false);
    CHECK_U64(lapic_pending(&l), 0x60);
    wr(APIC_TPR, 0x4f, 0);
    CHECK_U64(take(), 0x60);
    CHECK_U64(lapic_pending(&l), (uint64_t)-1); /* 0x5a is below in-service 0x60 */
    wr(APIC_EOI, 0, 0);
    CHECK_U64(take(), 0x5a);
    wr(APIC_EOI, 0, 0);
    wr(APIC_TPR, 0, 0);

    /* Level-triggered: TMR set, and its EOI is reported for the IOAPIC. */
    lapic_accept(&l, 0x70, true);
    CHECK(tmr(0x70));
    lapic_accept(&l, 0x90, false);
    CHECK(!tmr(0x90));
    CHECK_U64(take(), 0x90);
    CHECK_U64(take(), -1);
    wr(APIC_EOI, 0, 0);
    CHECK(!out.eoi_level);
    CHECK_U64(take(), 0x70);
    wr(APIC_EOI, 0, 0);
    CHECK(out.eoi_level);
    CHECK_U64(out.eoi_vector, 0x70);
    wr(APIC_TPR, 0, 0);
    CHECK(!out.eoi_level); /* each write reports afresh */
    /* an edge acceptance of the same vector clears TMR: its EOI is quiet */
    lapic_accept(&l, 0x70, false);
    CHECK(!tmr(0x70));
    CHECK_U64(take(), 0x70);
    wr(APIC_EOI, 0, 0);
    CHECK(!out.eoi_level);

    /* Software-disabled: new interrupts are refused, held ones still go. */
    lapic_accept(&l, 0x80, false);
    wr(APIC_SVR, 0xff, 0);
    lapic_accept(&l, 0x81, false);
    CHECK(irr(0x80) && !irr(0x81));
    CHECK_U64(take(), 0x80);
    /* Hardware-disabled: nothing. */
    fresh();
    lapic_accept(&l, 0x80, false);
    CHECK(lapic_set_base(&l, LAPIC_DEFAULT_BASE, MAXPHY));
    lapic_accept(&l, 0x81, false);
    CHECK_U64(lapic_pending(&l), (uint64_t)-1);
    CHECK_U64(l.irr[4], 0);
}

static void illegal_vectors(void)
{
    fresh();
    for (unsigned v = 0; v < 16; v++)
        lapic_accept(&l, (uint8_t)v, false);
    lapic_accept(&l, 16, false); /* the first legal one */
    CHECK_U64(irr_count(), 1);
    CHECK(irr(16));
    CHECK_U64(rd(APIC_ESR, 0), 0); /* not until a write latches it */
    wr(APIC_ESR, 0, 0);
    CHECK_U64(rd(APIC_ESR, 0), 0x40); /* received illegal vector */
    wr(APIC_ESR, 0, 0);
    CHECK_U64(rd(APIC_ESR, 0), 0); /* back-to-back writes clear it */
    /* With LVT error unmasked, an error is an interrupt too. */
    wr(APIC_LVT_ERROR, 0xfe, 0);
    lapic_accept(&l, 5, false);
    CHECK(irr(0xfe));
    /* ... but not with an illegal error vector (and no loop) */
    fresh();
    wr(APIC_LVT_ERROR, 0x03, 0);
    lapic_accept(&l, 5, false);
    CHECK_U64(irr_count(), 0);
    /* Sending a fixed IPI with an illegal vector: error, nothing sent. */
    fresh();
    wr(APIC_ICR, 0x4000 | 10, 0);
    CHECK(!out.ipi);
    wr(APIC_ICR, 0x4000 | (APIC_DM_LOWEST << 8) | 15, 0);
    CHECK(!out.ipi);
    wr(APIC_ESR, 0, 0);
    CHECK_U64(rd(APIC_ESR, 0), 0x20); /* send illegal vector */
    /* NMI and SIPI carry no interrupt vector: low ones are fine. */
    wr(APIC_ICR, 0x4000 | (APIC_DM_NMI << 8), 0);
    CHECK(out.ipi);
    wr(APIC_ICR, 0x4000 | (APIC_DM_SIPI << 8) | 0x09, 0);
    CHECK(out.ipi && out.ipi_msg.vector == 0x09);
}

static void destinations(void)
{
    /* xAPIC physical */
    fresh();
    CHECK(lapic_match(&l, 3, false));
    CHECK(!lapic_match(&l, 4, false));
    CHECK(!lapic_match(&l, 0x83, false));
    CHECK(lapic_match(&l, 0xff, false));
    /* flat logical */
    wr(APIC_LDR, 0x04000000, 0);
    CHECK(lapic_match(&l, 0x04, true));
    CHECK(lapic_match(&l, 0x06, true));
    CHECK(!lapic_match(&l, 0x0b, true));
    CHECK(lapic_match(&l, 0xff, true));
    CHECK(!lapic_match(&l, 0x04, false)); /* not by physical ID */
    /* cluster logical: cluster 2, member bit 0 */
    wr(APIC_DFR, 0x0fffffff, 0);
    wr(APIC_LDR, 0x21000000, 0);
    CHECK(lapic_match(&l, 0x21, true));
    CHECK(lapic_match(&l, 0x23, true));
    CHECK(!lapic_match(&l, 0x22, true));
    CHECK(!lapic_match(&l, 0x31, true));
    CHECK(!lapic_match(&l, 0x01, true));
    CHECK(lapic_match(&l, 0xff, true));
    /* an undefined model matches nothing logical */
    wr(APIC_DFR, 0x5fffffff, 0);
    CHECK(!lapic_match(&l, 0x21, true));
    /* a globally disabled APIC matches nothing */
    CHECK(lapic_set_base(&l, LAPIC_DEFAULT_BASE, MAXPHY));
    CHECK(!lapic_match(&l, 3, false));
    CHECK(!lapic_match(&l, 0xff, false));

    /* x2APIC: 32-bit IDs, LDR cluster 3 (0x35 >> 4), member bit 5 */
    lapic_reset(&l, 0x35, false);
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));
    CHECK_U64(l.ldr, 0x00030020);
    CHECK(lapic_match(&l, 0x35, false));
    CHECK(!lapic_match(&l, 0x36, false));
    CHECK(!lapic_match(&l, 0x100035, false));
    CHECK(!lapic_match(&l, 0xff, false)); /* not a broadcast in x2APIC */
    CHECK(lapic_match(&l, 0xffffffff, false));
    CHECK(lapic_match(&l, 0x00030020, true));
    CHECK(lapic_match(&l, 0x00030030, true));
    CHECK(!lapic_match(&l, 0x00020020, true));
    CHECK(!lapic_match(&l, 0x00030010, true));
    CHECK(lapic_match(&l, 0xffffffff, true));
    /* a large ID: cluster 0x1234, position 15 */
    lapic_reset(&l, 0x1234f, false);
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));
    uint64_t v = 0;
    CHECK(mrd(MSR(APIC_LDR), &v));
    CHECK_U64(v, 0x12348000);
    CHECK(mrd(MSR(APIC_ID), &v));
    CHECK_U64(v, 0x1234f);
    CHECK(lapic_match(&l, 0x1234f, false));
    CHECK(lapic_match(&l, 0x12348000, true));
}

static void x2apic_msrs(void)
{
    uint64_t v = 0;
    fresh();
    /* Not in x2APIC mode: every MSR faults. */
    CHECK(!mrd(MSR(APIC_ID), &v));
    CHECK(!mwr(MSR(APIC_TPR), 0));
    CHECK(lapic_set_base(&l, BASE_X2APIC | APIC_BASE_BSP, MAXPHY));
    CHECK(lapic_x2apic(&l));
    /* ... and now the page is gone */
    CHECK_U64(rd(APIC_SVR, 0), 0);
    wr(APIC_TPR, 0x20, 0);
    CHECK_U64(l.tpr, 0);

    CHECK(mrd(MSR(APIC_ID), &v) && v == 3);
    CHECK(!mwr(MSR(APIC_ID), 3));
    CHECK(mrd(MSR(APIC_LVR), &v) && v == 0x00060014);
    CHECK(!mwr(MSR(APIC_LVR), 0x00060014));
    CHECK(mwr(MSR(APIC_TPR), 0x20));
    CHECK(mrd(MSR(APIC_TPR), &v) && v == 0x20);
    CHECK(!mwr(MSR(APIC_TPR), 0x120));       /* reserved bits */
    CHECK(!mwr(MSR(APIC_TPR), 1ull << 32));  /* bits 63:32 */
    CHECK_U64(l.tpr, 0x20);
    CHECK(!mrd(MSR(APIC_APR), &v) && !mwr(MSR(APIC_APR), 0));
    CHECK(mrd(MSR(APIC_PPR), &v) && v == 0x20);
    CHECK(!mwr(MSR(APIC_PPR), 0));
    CHECK(!mrd(MSR(APIC_EOI), &v));           /* write-only */
    CHECK(mwr(MSR(APIC_EOI), 0));
    CHECK(!mwr(MSR(APIC_EOI), 1));
    CHECK(!mrd(MSR(APIC_RRD), &v));
    CHECK(mrd(MSR(APIC_LDR), &v) && v == 0x00000008);
    CHECK(!mwr(MSR(APIC_LDR), 0x8));
    CHECK(!mrd(MSR(APIC_DFR), &v) && !mwr(MSR(APIC_DFR), 0xffffffff));
    CHECK(mrd(MSR(APIC_SVR), &v) && v == SVR_ON);
    CHECK(mwr(MSR(APIC_SVR), 0x3ff));
    CHECK(!mwr(MSR(APIC_SVR), 0x11ff));       /* EOI-broadcast suppression: not offered */
    CHECK(mrd(MSR(APIC_SVR), &v) && v == 0x3ff);
    lapic_accept(&l, 0x44, true);
    CHECK(mrd(MSR(APIC_IRR + 0x20), &v) && v == 1u << 4);
    CHECK(mrd(MSR(APIC_TMR + 0x20), &v) && v == 1u << 4);
    CHECK(!mwr(MSR(APIC_IRR + 0x20), 0));
    CHECK(!mwr(MSR(APIC_TMR + 0x20), 0));
    lapic_ack(&l, 0x44);
    CHECK(mrd(MSR(APIC_ISR + 0x20), &v) && v == 1u << 4);
    CHECK(!mwr(MSR(APIC_ISR + 0x20), 0));
    CHECK(mwr(MSR(APIC_EOI), 0) && out.eoi_level && out.eoi_vector == 0x44);
    CHECK(mwr(MSR(APIC_ESR), 0));
    CHECK(!mwr(MSR(APIC_ESR), 0x40));
    CHECK(mrd(MSR(APIC_ESR), &v) && v == 0);
    CHECK(!mrd(MSR(APIC_ICR2), &v) && !mwr(MSR(APIC_ICR2), 0));
    /* LVTs: writable bits as in xAPIC; reserved ones fault, read-only
     * ones (delivery status, LINT remote IRR) pass. */
    CHECK(mwr(MSR(APIC_LVT_LINT0), 0x1a7ff));
    CHECK(mrd(MSR(APIC_LVT_LINT0), &v) && v == 0x1a7ff);
    CHECK(mwr(MSR(APIC_LVT_LINT0), 0x1f7ff));
    CHECK(mrd(MSR(APIC_LVT_LINT0), &v) && v == 0x1a7ff);
    CHECK(!mwr(MSR(APIC_LVT_LINT0), 0x20000));
    CHECK(!mwr(MSR(APIC_LVT_TIMER), 0x40 | 0x4000)); /* no remote IRR in the timer */
    CHECK(!mwr(MSR(APIC_LVT_TIMER), 0x40 | 0x100));  /* nor a delivery mode */
    CHECK(mwr(MSR(APIC_LVT_TIMER), 0x40 | 0x1000));
    CHECK(!mwr(MSR(APIC_LVT_ERROR), 0x400));
    CHECK(!mwr(MSR(APIC_LVT_CMCI), 0x2000));
    CHECK(mwr(MSR(APIC_LVT_CMCI), 0x10400));
    CHECK(mrd(MSR(APIC_LVT_CMCI), &v) && v == 0x10400);
    CHECK(mwr(MSR(APIC_TMICT), 0xffffffff));
    CHECK(mrd(MSR(APIC_TMICT), &v) && v == 0xffffffff);
    CHECK(mrd(MSR(APIC_TMCCT), &v));
    CHECK(!mwr(MSR(APIC_TMCCT), 0));
    CHECK(mwr(MSR(APIC_TDCR), 0xb));
    CHECK(!mwr(MSR(APIC_TDCR), 0x4));
    CHECK(mrd(MSR(APIC_TDCR), &v) && v == 0xb);
    /* SELF IPI: write-only, a fixed edge interrupt to this APIC */
    CHECK(!mrd(MSR(APIC_SELF_IPI), &v));
    CHECK(mwr(MSR(APIC_SELF_IPI), 0x61));
    CHECK_U64(l.irr[3], 1u << 1);
    CHECK(!out.ipi);
    CHECK(!mwr(MSR(APIC_SELF_IPI), 0x161));
    CHECK(mwr(MSR(APIC_SELF_IPI), 0x05));
    CHECK(mwr(MSR(APIC_ESR), 0) && mrd(MSR(APIC_ESR), &v) && v == 0x20);
    /* Holes and the edges of the range */
    static const uint32_t holes[] = {0x800, 0x801, 0x804, 0x807, 0x809, 0x80c, 0x80e, 0x829, 0x82e,
                                     0x831, 0x83a, 0x83d, 0x840, 0x8ff, 0x7ff, 0x900};
    for (unsigned i = 0; i < sizeof(holes) / sizeof(holes[0]); i++) {
        CHECK(!mrd(holes[i], &v));
        CHECK(!mwr(holes[i], 0));
    }
    /* The ICR: one 64-bit register */
    CHECK(mwr(MSR(APIC_ICR), 0x1234567800004040ull));
    CHECK(out.ipi);
    CHECK_U64(out.ipi_msg.dest, 0x12345678);
    CHECK_U64(out.ipi_msg.vector, 0x40);
    CHECK(mrd(MSR(APIC_ICR), &v));
    CHECK_U64(v, 0x1234567800004040ull);
    CHECK(!mwr(MSR(APIC_ICR), 0x1040)); /* no delivery status bit */
    CHECK(!out.ipi);
    CHECK(!mwr(MSR(APIC_ICR), 0x100040)); /* reserved bit 20 */
    CHECK(!mwr(MSR(APIC_ICR), 0x2040));   /* reserved bit 13 */
    CHECK(mrd(MSR(APIC_ICR), &v) && v == 0x1234567800004040ull);
}

static void base_transitions(void)
{
    fresh();
    /* reserved bits: 7:0, 9, above MAXPHYADDR */
    CHECK(!lapic_set_base(&l, BASE_XAPIC | 1, MAXPHY));
    CHECK(!lapic_set_base(&l, BASE_XAPIC | 0x80, MAXPHY));
    CHECK(!lapic_set_base(&l, BASE_XAPIC | 0x200, MAXPHY));
    CHECK(!lapic_set_base(&l, BASE_XAPIC | (1ull << 39), MAXPHY));
    CHECK(lapic_set_base(&l, BASE_XAPIC | (1ull << 38), MAXPHY));
    CHECK_U64(l.apic_base, BASE_XAPIC | (1ull << 38) | APIC_BASE_BSP);
    CHECK(lapic_set_base(&l, 0xfed00000 | APIC_BASE_EN, MAXPHY)); /* the page moves */
    CHECK_U64(l.apic_base, 0xfed00000 | APIC_BASE_EN | APIC_BASE_BSP);
    CHECK_U64(rd(APIC_SVR, 0), SVR_ON); /* moving is not disabling */
    /* the BSP flag is not software's to change */
    CHECK(lapic_set_base(&l, BASE_XAPIC, MAXPHY));
    CHECK(l.apic_base & APIC_BASE_BSP);
    lapic_reset(&l, 2, false);
    CHECK(lapic_set_base(&l, BASE_XAPIC | APIC_BASE_BSP, MAXPHY));
    CHECK(!(l.apic_base & APIC_BASE_BSP));

    /* the state machine of SDM figure 11-27 */
    fresh();
    CHECK(!lapic_set_base(&l, LAPIC_DEFAULT_BASE | APIC_BASE_EXTD, MAXPHY)); /* EXTD without EN */
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));
    CHECK(lapic_x2apic(&l));
    CHECK(!lapic_set_base(&l, BASE_XAPIC, MAXPHY)); /* x2APIC -> xAPIC */
    CHECK(lapic_x2apic(&l));
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY)); /* stays */
    CHECK(lapic_set_base(&l, LAPIC_DEFAULT_BASE, MAXPHY)); /* x2APIC -> disabled */
    CHECK(!lapic_hw_enabled(&l) && !lapic_x2apic(&l));
    CHECK(!lapic_set_base(&l, BASE_X2APIC, MAXPHY)); /* disabled -> x2APIC */
    CHECK(!lapic_hw_enabled(&l));
    CHECK(lapic_set_base(&l, BASE_XAPIC, MAXPHY));
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));

    /* Disabling resets the state, keeping the ID; re-enabled, it reads as
     * after reset (software-disabled). */
    fresh();
    wr(APIC_TPR, 0x20, 0);
    wr(APIC_LDR, 0x01000000, 0);
    wr(APIC_DFR, 0, 0);
    wr(APIC_LVT_LINT0, 0x700, 0);
    wr(APIC_LVT_TIMER, 0x40, 0);
    wr(APIC_TMICT, 1000, 0);
    lapic_accept(&l, 0x50, false);
    CHECK(lapic_set_base(&l, LAPIC_DEFAULT_BASE | APIC_BASE_BSP, MAXPHY));
    CHECK_U64(rd(APIC_ID, 0), 0); /* no page while disabled */
    CHECK_U64(l.id, 3);
    CHECK_U64(l.svr, 0xff);
    CHECK_U64(l.irr[2], 0);
    CHECK(lapic_set_base(&l, BASE_XAPIC | APIC_BASE_BSP, MAXPHY));
    check_reset_regs(3);
    /* ... in x2APIC mode too, and the LDR comes back derived */
    fresh();
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));
    CHECK_U64(l.ldr, 0x8);
    CHECK(mwr(MSR(APIC_TPR), 0x30));
    CHECK(lapic_set_base(&l, LAPIC_DEFAULT_BASE, MAXPHY));
    CHECK(lapic_set_base(&l, BASE_XAPIC, MAXPHY));
    check_reset_regs(3);
    /* INIT in x2APIC mode stays in it, with the derived LDR */
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));
    lapic_init(&l);
    uint64_t v = 0;
    CHECK(lapic_x2apic(&l));
    CHECK(mrd(MSR(APIC_LDR), &v) && v == 0x8);
    CHECK(mrd(MSR(APIC_SVR), &v) && v == 0xff);
}

static void timer_oneshot(void)
{
    fresh();
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_LVT_TIMER, 0x20, 0);
    wr(APIC_TMICT, 1000, 5000);
    CHECK_U64(lapic_timer_next_ns(&l), 6000);
    CHECK_U64(rd(APIC_TMCCT, 5000), 1000);
    CHECK_U64(rd(APIC_TMCCT, 5001), 999);
    CHECK_U64(rd(APIC_TMCCT, 5500), 500);
    CHECK_U64(rd(APIC_TMCCT, 5999), 1);
    CHECK_U64(rd(APIC_TMCCT, 6000), 0);
    CHECK_U64(rd(APIC_TMCCT, 9000), 0);
    CHECK_U64(rd(APIC_TMICT, 9000), 1000);
    lapic_timer_poll(&l, 5999, 0);
    CHECK(!irr(0x20)); /* not before */
    lapic_timer_poll(&l, 6000, 0);
    CHECK(irr(0x20));  /* exactly at */
    CHECK_U64(irr_count(), 1);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    CHECK_U64(take(), 0x20);
    wr(APIC_EOI, 0, 6000);
    lapic_timer_poll(&l, 20000, 0);
    CHECK_U64(irr_count(), 0); /* once */
    CHECK_U64(rd(APIC_TMCCT, 20000), 0);

    /* Divide by 16: a count is 16 ns; the count reads whole ticks left. */
    wr(APIC_TDCR, 0x3, 0);
    wr(APIC_TMICT, 100, 0);
    CHECK_U64(lapic_timer_next_ns(&l), 1600);
    CHECK_U64(rd(APIC_TMCCT, 15), 100);
    CHECK_U64(rd(APIC_TMCCT, 16), 99);
    CHECK_U64(rd(APIC_TMCCT, 1599), 1);
    CHECK_U64(rd(APIC_TMCCT, 1600), 0);
    /* a new initial count restarts it; 0 stops it */
    wr(APIC_TMICT, 10, 800);
    CHECK_U64(lapic_timer_next_ns(&l), 960);
    wr(APIC_TMICT, 0, 900);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    CHECK_U64(rd(APIC_TMCCT, 900), 0);
    lapic_timer_poll(&l, 5000, 0);
    CHECK_U64(irr_count(), 0);

    /* Every divider (figure 11-10). */
    static const struct { uint32_t tdcr, div; } divs[] = {
        {0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}, {0x4, 2}, {0xf, 1},
    };
    for (unsigned i = 0; i < sizeof(divs) / sizeof(divs[0]); i++) {
        wr(APIC_TDCR, divs[i].tdcr, 0);
        CHECK_U64(rd(APIC_TDCR, 0), divs[i].tdcr & 0xb);
        wr(APIC_TMICT, 10, 1000);
        CHECK_U64(lapic_timer_next_ns(&l), 1000 + 10 * divs[i].div);
        CHECK_U64(rd(APIC_TMCCT, 1000 + divs[i].div), 9);
    }
    /* the largest count at the slowest rate, in 64 bits */
    wr(APIC_TDCR, 0xa, 0);
    wr(APIC_TMICT, 0xffffffff, 1);
    CHECK_U64(lapic_timer_next_ns(&l), 1 + 0xffffffffull * 128);
    CHECK_U64(rd(APIC_TMCCT, 1 + 128 * 0xfffffffeull), 1);

    /* A new divider mid-count: the rest goes at the new rate. */
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_TMICT, 1000, 0);
    wr(APIC_TDCR, 0x0, 400); /* 600 left, now 2 ns each */
    CHECK_U64(lapic_timer_next_ns(&l), 1600);
    CHECK_U64(rd(APIC_TMCCT, 1000), 300);
    wr(APIC_TDCR, 0x0, 501); /* the same divider again changes nothing (not even rounding) */
    CHECK_U64(lapic_timer_next_ns(&l), 1600);
}

static void timer_periodic(void)
{
    fresh();
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_LVT_TIMER, 0x20 | LVT_PERIODIC, 0);
    wr(APIC_TMICT, 100, 1000);
    lapic_timer_poll(&l, 1099, 0);
    CHECK(!irr(0x20));
    lapic_timer_poll(&l, 1100, 0);
    CHECK(irr(0x20));
    CHECK_U64(lapic_timer_next_ns(&l), 1200);
    CHECK_U64(rd(APIC_TMCCT, 1150), 50);
    CHECK_U64(rd(APIC_TMCCT, 1200), 100); /* reloaded, even unpolled */
    CHECK_U64(rd(APIC_TMCCT, 1201), 99);
    CHECK_U64(take(), 0x20);
    wr(APIC_EOI, 0, 0);
    /* a late poll does not move the period */
    lapic_timer_poll(&l, 1250, 0);
    CHECK_U64(take(), 0x20);
    wr(APIC_EOI, 0, 0);
    CHECK_U64(lapic_timer_next_ns(&l), 1300);
    lapic_timer_poll(&l, 1299, 0);
    CHECK_U64(irr_count(), 0);
    /* missed periods collapse into one interrupt */
    lapic_timer_poll(&l, 1750, 0);
    CHECK_U64(take(), 0x20);
    wr(APIC_EOI, 0, 0);
    lapic_timer_poll(&l, 1750, 0);
    CHECK_U64(irr_count(), 0);
    CHECK_U64(lapic_timer_next_ns(&l), 1800);
    CHECK_U64(rd(APIC_TMCCT, 1750), 50);
    CHECK_U64(rd(APIC_TMCCT, 2025), 75); /* three periods on, unpolled */
    /* no drift over many periods polled late */
    for (uint64_t t = 1800 + 37; t < 1800 + 100 * 1000; t += 100)
        lapic_timer_poll(&l, t, 0);
    CHECK_U64(lapic_timer_next_ns(&l), 1800 + 100 * 1000);
}

static void timer_masked(void)
{
    /* masked: counts, no interrupt, and no wake-up asked for */
    fresh();
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_LVT_TIMER, 0x20 | APIC_LVT_MASKED, 0);
    wr(APIC_TMICT, 100, 0);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    CHECK_U64(rd(APIC_TMCCT, 50), 50);
    lapic_timer_poll(&l, 200, 0);
    CHECK_U64(irr_count(), 0);
    CHECK_U64(rd(APIC_TMCCT, 200), 0);
    /* masked periodic, unmasked later: goes on in phase, and what expired
     * while masked stays undelivered */
    wr(APIC_LVT_TIMER, 0x20 | LVT_PERIODIC | APIC_LVT_MASKED, 0);
    wr(APIC_TMICT, 100, 0);
    CHECK_U64(rd(APIC_TMCCT, 350), 50);
    wr(APIC_LVT_TIMER, 0x20 | LVT_PERIODIC, 360);
    CHECK_U64(irr_count(), 0);
    CHECK_U64(lapic_timer_next_ns(&l), 400);
    lapic_timer_poll(&l, 400, 0);
    CHECK(irr(0x20));
    /* an expiry while unmasked is not lost by masking before the poll */
    fresh();
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_LVT_TIMER, 0x20, 0);
    wr(APIC_TMICT, 100, 0);
    wr(APIC_LVT_TIMER, 0x20 | APIC_LVT_MASKED, 150);
    CHECK(irr(0x20));
}

static void timer_deadline(void)
{
    fresh();
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_LVT_TIMER, 0x30 | LVT_DEADLINE, 0);
    wr(APIC_TMICT, 100, 0); /* ignored in this mode */
    CHECK_U64(rd(APIC_TMICT, 0), 0);
    CHECK_U64(rd(APIC_TMCCT, 50), 0);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    CHECK_U64(lapic_tsc_deadline(&l), 0);
    CHECK(lapic_set_tsc_deadline(&l, 5000));
    CHECK_U64(lapic_tsc_deadline(&l), 5000);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    lapic_timer_poll(&l, 1000000, 4999);
    CHECK_U64(irr_count(), 0);
    lapic_timer_poll(&l, 0, 5000);
    CHECK(irr(0x30));
    CHECK_U64(lapic_tsc_deadline(&l), 0); /* disarmed by firing */
    CHECK_U64(take(), 0x30);
    wr(APIC_EOI, 0, 0);
    lapic_timer_poll(&l, 0, 9000);
    CHECK_U64(irr_count(), 0);
    /* late: fires at the first poll after */
    CHECK(lapic_set_tsc_deadline(&l, 6000));
    lapic_timer_poll(&l, 0, 7000);
    CHECK(irr(0x30));
    CHECK_U64(take(), 0x30);
    wr(APIC_EOI, 0, 0);
    /* 0 disarms */
    CHECK(lapic_set_tsc_deadline(&l, 8000));
    CHECK(lapic_set_tsc_deadline(&l, 0));
    lapic_timer_poll(&l, 0, 9000);
    CHECK_U64(irr_count(), 0);
    /* masked: disarms without an interrupt */
    wr(APIC_LVT_TIMER, 0x30 | LVT_DEADLINE | APIC_LVT_MASKED, 0);
    CHECK(lapic_set_tsc_deadline(&l, 10000));
    lapic_timer_poll(&l, 0, 10000);
    CHECK_U64(irr_count(), 0);
    CHECK_U64(lapic_tsc_deadline(&l), 0);

    /* Changing the mode disarms whatever was armed. */
    wr(APIC_LVT_TIMER, 0x30 | LVT_DEADLINE, 0);
    CHECK(lapic_set_tsc_deadline(&l, 20000));
    wr(APIC_LVT_TIMER, 0x30, 0);
    CHECK_U64(lapic_tsc_deadline(&l), 0);
    CHECK_U64(l.tsc_deadline, 0);
    wr(APIC_LVT_TIMER, 0x30 | LVT_DEADLINE, 0);
    CHECK_U64(lapic_tsc_deadline(&l), 0); /* not restored */
    lapic_timer_poll(&l, 0, 30000);
    CHECK_U64(irr_count(), 0);
    wr(APIC_LVT_TIMER, 0x30, 0);
    wr(APIC_TMICT, 500, 0);
    wr(APIC_LVT_TIMER, 0x30 | LVT_DEADLINE, 100);
    CHECK_U64(rd(APIC_TMICT, 100), 0);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    wr(APIC_LVT_TIMER, 0x30, 100);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    lapic_timer_poll(&l, 1000, 0);
    CHECK_U64(irr_count(), 0);
    /* one-shot <-> periodic is a mode change too */
    wr(APIC_TMICT, 500, 0);
    wr(APIC_LVT_TIMER, 0x30 | LVT_PERIODIC, 100);
    CHECK_U64(lapic_timer_next_ns(&l), UINT64_MAX);
    CHECK_U64(rd(APIC_TMICT, 100), 0);
    /* the same mode with another vector is not */
    wr(APIC_TMICT, 500, 0);
    wr(APIC_LVT_TIMER, 0x31 | LVT_PERIODIC, 100);
    CHECK_U64(lapic_timer_next_ns(&l), 500);
    /* outside deadline mode the MSR write is taken, and ignored */
    CHECK(lapic_set_tsc_deadline(&l, 100));
    CHECK_U64(lapic_tsc_deadline(&l), 0);
    CHECK_U64(l.tsc_deadline, 0); /* not even kept (the state migrates as is) */
    wr(APIC_LVT_TIMER, 0x30 | LVT_DEADLINE, 0);
    CHECK_U64(lapic_tsc_deadline(&l), 0);
}

static void software_disable(void)
{
    fresh();
    for (unsigned i = 0; i < 7; i++)
        wr(lvt_offs[i], 0x40 + i, 0);
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_TMICT, 100, 0);
    wr(APIC_SVR, 0xff, 10); /* disable */
    CHECK(!lapic_sw_enabled(&l));
    for (unsigned i = 0; i < 7; i++)
        CHECK_U64(rd(lvt_offs[i], 0), APIC_LVT_MASKED | (0x40 + i));
    wr(APIC_LVT_LINT0, 0x700, 0); /* unmasking is refused while disabled */
    CHECK_U64(rd(APIC_LVT_LINT0, 0), APIC_LVT_MASKED | 0x700);
    CHECK_U64(lapic_lint_mode(&l, 0), (uint64_t)-1);
    /* the timer still counts, silently */
    CHECK_U64(rd(APIC_TMCCT, 60), 40);
    lapic_timer_poll(&l, 200, 0);
    CHECK_U64(irr_count(), 0);
    /* re-enabling leaves the masks for software to clear */
    wr(APIC_SVR, SVR_ON, 0);
    CHECK_U64(rd(APIC_LVT_LINT0, 0), APIC_LVT_MASKED | 0x700);
    wr(APIC_LVT_LINT0, 0x700, 0);
    CHECK_U64(rd(APIC_LVT_LINT0, 0), 0x700);
    /* an expiry before the disable, not yet polled, is still delivered */
    fresh();
    wr(APIC_TDCR, TDCR_DIV1, 0);
    wr(APIC_LVT_TIMER, 0x20, 0);
    wr(APIC_TMICT, 100, 0);
    wr(APIC_SVR, 0xff, 150);
    CHECK(irr(0x20));
}

static void ipis(void)
{
    fresh();
    wr(APIC_ICR2, 0x05000000, 0);
    CHECK(!out.ipi); /* the high half does not send */
    wr(APIC_ICR, 0x4031, 0);
    CHECK(out.ipi);
    CHECK_U64(out.ipi_msg.vector, 0x31);
    CHECK_U64(out.ipi_msg.delivery, APIC_DM_FIXED);
    CHECK_U64(out.ipi_msg.shorthand, APIC_SH_NONE);
    CHECK(!out.ipi_msg.logical && out.ipi_msg.assert && !out.ipi_msg.level_trig);
    CHECK_U64(out.ipi_msg.dest, 5);
    wr(APIC_TPR, 0, 0);
    CHECK(!out.ipi); /* each write reports afresh */
    /* logical, level NMI */
    wr(APIC_ICR, (APIC_DM_NMI << 8) | (1u << 11) | (1u << 14) | (1u << 15), 0);
    CHECK(out.ipi && out.ipi_msg.delivery == APIC_DM_NMI && out.ipi_msg.logical);
    CHECK(out.ipi_msg.assert && out.ipi_msg.level_trig);
    /* INIT level de-assert */
    wr(APIC_ICR, (APIC_DM_INIT << 8) | (1u << 15), 0);
    CHECK(out.ipi && out.ipi_msg.delivery == APIC_DM_INIT && !out.ipi_msg.assert && out.ipi_msg.level_trig);
    /* SIPI, lowest priority, SMI */
    wr(APIC_ICR, (APIC_DM_SIPI << 8) | 0x9a | (1u << 14), 0);
    CHECK(out.ipi && out.ipi_msg.delivery == APIC_DM_SIPI && out.ipi_msg.vector == 0x9a);
    wr(APIC_ICR, (APIC_DM_LOWEST << 8) | 0x40 | (1u << 11), 0);
    CHECK(out.ipi && out.ipi_msg.delivery == APIC_DM_LOWEST && out.ipi_msg.logical);
    wr(APIC_ICR, APIC_DM_SMI << 8, 0);
    CHECK(out.ipi && out.ipi_msg.delivery == APIC_DM_SMI);
    wr(APIC_ICR, (3u << 8) | 0x40, 0); /* reserved delivery mode */
    CHECK(!out.ipi);
    /* shorthands */
    for (unsigned sh = 0; sh < 4; sh++) {
        wr(APIC_ICR, (sh << 18) | 0x40 | (1u << 14), 0);
        CHECK(out.ipi && out.ipi_msg.shorthand == sh && out.ipi_msg.vector == 0x40);
    }
    /* the xAPIC destination is ICR2[31:24] only */
    wr(APIC_ICR2, 0xffffffff, 0);
    CHECK_U64(rd(APIC_ICR2, 0), 0xff000000);
    wr(APIC_ICR, 0x40, 0);
    CHECK_U64(out.ipi_msg.dest, 0xff);
    /* delivery status (bit 12) reads idle */
    wr(APIC_ICR, 0x1040, 0);
    CHECK_U64(rd(APIC_ICR, 0), 0x40);
    /* the ICR sends whatever the software-enable: 11.4.7.2 */
    wr(APIC_SVR, 0xff, 0);
    wr(APIC_ICR, 0x4041, 0);
    CHECK(out.ipi && out.ipi_msg.vector == 0x41);

    /* x2APIC: 32-bit destinations in ICR[63:32] */
    fresh();
    CHECK(lapic_set_base(&l, BASE_X2APIC, MAXPHY));
    CHECK(mwr(MSR(APIC_ICR), 0xffffffff00000000ull | (APIC_DM_INIT << 8) | (1u << 14) | (2u << 18)));
    CHECK(out.ipi && out.ipi_msg.dest == 0xffffffff && out.ipi_msg.delivery == APIC_DM_INIT);
    CHECK_U64(out.ipi_msg.shorthand, APIC_SH_ALL);
    CHECK(mwr(MSR(APIC_ICR), (0x00030002ull << 32) | (1u << 11) | 0x55));
    CHECK(out.ipi && out.ipi_msg.logical && out.ipi_msg.dest == 0x00030002 && out.ipi_msg.vector == 0x55);
    CHECK(mwr(MSR(APIC_ICR), 0x7));
    CHECK(!out.ipi); /* illegal vector */
    CHECK(mwr(MSR(APIC_ESR), 0));
    uint64_t v = 0;
    CHECK(mrd(MSR(APIC_ESR), &v) && v == 0x20);
}

static void lint(void)
{
    fresh();
    CHECK_U64(lapic_lint_mode(&l, 0), (uint64_t)-1);
    CHECK_U64(lapic_lint_mode(&l, 1), (uint64_t)-1);
    wr(APIC_LVT_LINT0, APIC_DM_EXTINT << 8, 0);
    wr(APIC_LVT_LINT1, APIC_DM_NMI << 8, 0);
    CHECK_U64(lapic_lint_mode(&l, 0), APIC_DM_EXTINT);
    CHECK_U64(lapic_lint_mode(&l, 1), APIC_DM_NMI);
    CHECK_U64(lapic_lint_mode(&l, 2), (uint64_t)-1);
    wr(APIC_LVT_LINT0, 0x30 | APIC_LVT_MASKED, 0);
    CHECK_U64(lapic_lint_mode(&l, 0), (uint64_t)-1);
    wr(APIC_LVT_LINT0, 0x30, 0);
    CHECK_U64(lapic_lint_mode(&l, 0), APIC_DM_FIXED);
    /* globally disabled: the pins are the processor's INTR and NMI */
    CHECK(lapic_set_base(&l, LAPIC_DEFAULT_BASE, MAXPHY));
    CHECK_U64(lapic_lint_mode(&l, 0), APIC_DM_EXTINT);
    CHECK_U64(lapic_lint_mode(&l, 1), APIC_DM_NMI);
}

int main(void)
{
    reset_and_init();
    writable_bits();
    ppr();
    accept_ack_eoi();
    illegal_vectors();
    destinations();
    x2apic_msrs();
    base_transitions();
    timer_oneshot();
    timer_periodic();
    timer_masked();
    timer_deadline();
    software_disable();
    ipis();
    lint();
    return check_report("test_lapic");
}
