/* The segment-register and descriptor-table checks of vcpu_check(): the
 * rules VM entry makes with "unrestricted guest" on (Intel SDM Vol.3C
 * 26.3.1.2-3, which hopvm's VT-x backend requires), which are also what a
 * CPU that loaded these registers from real descriptors holds (SDM Vol.3A
 * 3.4.5, 5.5-5.8), plus AMD's own (APM Vol.2 15.5.1). A segment whose P bit
 * is clear is unusable (vcpu_state.h): only the rules VM entry applies to
 * unusable segments hold for it.
 *
 * Three bits are encoding, not state, and AMD VMCBs do not always keep
 * them (KVM's svm_get_segment restores each): the accessed bit of a loaded
 * segment (always set in the CPU's cache, SDM 3.4.5.1), TR's busy bit, and
 * G, which only says how the descriptor scaled the limit. They are not
 * checked here; the VT-x backend sets them as VM entry wants when it loads
 * the state (vmm/vmx/vmx_state.c). The limit itself must be one a
 * descriptor can give. */
#include "vcpu_check_internal.h"
#include <hopvm/lib.h>

/* Descriptor type field (SDM Vol.3A 3.4.5.1, tables 3-1 and 3-2). */
#define TYPE_ACCESSED 0x1u
#define TYPE_RW 0x2u                /* data: writable; code: readable */
#define TYPE_CODE 0x8u
#define TYPE_DATA_RW_ACC 3u         /* also a 16-bit busy TSS as a system type */
#define TYPE_DATA_RW_DOWN_ACC 7u
#define TYPE_CODE_ACC 9u            /* non-conforming; 11 readable, 13/15 conforming */
#define TYPE_CODE_RD_ACC 11u
#define TYPE_CODE_CONF_ACC 13u
#define TYPE_CODE_CONF_RD_ACC 15u
#define TYPE_LDT 2u
#define TYPE_TSS16_AVAIL 1u
#define TYPE_TSS16_BUSY 3u
#define TYPE_TSS_AVAIL 9u           /* 32-bit, or 64-bit in IA-32e mode */
#define TYPE_TSS_BUSY 11u
#define SEL_TI 0x4u                 /* selector bit 2: the LDT, not the GDT */
#define SEL_V86_SHIFT 4             /* base = selector * 16 */
#define V86_LIMIT 0xffffu
#define V86_ATTR 0xf3u              /* present, DPL 3, accessed read/write data */
#define LIMIT_LOW12 0xfffu          /* a limit in 4 KiB pages ends in 0xfff */
#define LIMIT_BYTES_MAX 0xfffffu    /* a limit in bytes fits 20 bits */
#define DT_LIMIT_MAX 0xffffu
#define BASE_HIGH32 0xffffffff00000000ull

enum { ES, CS, SS, DS, FS, GS, LDTR, TR, NSEGS };
static const char *const names[NSEGS] = {"ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"};

static unsigned type_of(const struct seg_state *g) { return SEG_ATTR_TYPE(g->attr); }
static unsigned dpl_of(const struct seg_state *g) { return (g->attr >> 5) & 3u; }
static bool usable(const struct seg_state *g) { return g->attr & SEG_ATTR_P; }

/* The limit is a descriptor's 20 bits, in bytes or in 4 KiB pages (SDM
 * Vol.3A 3.4.5; VM entry's G check, 26.3.1.2 bit 15, is this rule). */
static int check_limit(struct vc *c, unsigned i, const struct seg_state *g)
{
    if (g->limit > LIMIT_BYTES_MAX && (g->limit & LIMIT_LOW12) != LIMIT_LOW12)
        return vc_fail(c, "%s limit 0x%x is above 1 MiB but not a multiple of 4 KiB less 1", names[i],
                       (unsigned)g->limit);
    return 0;
}

static int check_base32(struct vc *c, unsigned i, const struct seg_state *g)
{
    if (g->base & BASE_HIGH32) /* 26.3.1.2, base-address fields */
        return vc_fail(c, "%s base 0x%llx does not fit 32 bits", names[i], (unsigned long long)g->base);
    return 0;
}

/* Virtual-8086 mode: every segment is a real-mode style one (26.3.1.2). */
static int check_v86(struct vc *c, const struct seg_state *const *seg)
{
    for (unsigned i = ES; i <= GS; i++) {
        const struct seg_state *g = seg[i];
        if (g->base != (uint64_t)g->sel << SEL_V86_SHIFT || g->limit != V86_LIMIT ||
            (g->attr | TYPE_ACCESSED) != V86_ATTR)
            return vc_fail(c, "%s in virtual-8086 mode must have base selector*16, limit 0xffff, attributes 0xf3",
                           names[i]);
    }
    return 0;
}

static int check_cs(struct vc *c, const struct seg_state *cs, const struct seg_state *ss)
{
    unsigned t = type_of(cs) | TYPE_ACCESSED;
    if (!usable(cs) || !(cs->attr & SEG_ATTR_S))
        return vc_fail(c, "CS attributes 0x%x: not a present code or data segment", (unsigned)cs->attr);
    /* Accessed code, or (unrestricted guest, as after real mode) accessed
     * read/write data at DPL 0. */
    if (t == TYPE_DATA_RW_ACC) {
        if (dpl_of(cs) != 0)
            return vc_fail(c, "CS is a read/write data segment with DPL %u, not 0", dpl_of(cs));
    } else if (t == TYPE_CODE_ACC || t == TYPE_CODE_RD_ACC) {
        if (dpl_of(cs) != dpl_of(ss)) /* CPL is both */
            return vc_fail(c, "CS DPL %u differs from SS DPL %u (non-conforming code)", dpl_of(cs), dpl_of(ss));
    } else if (t == TYPE_CODE_CONF_ACC || t == TYPE_CODE_CONF_RD_ACC) {
        if (dpl_of(cs) > dpl_of(ss))
            return vc_fail(c, "CS DPL %u above SS DPL %u (conforming code)", dpl_of(cs), dpl_of(ss));
    } else {
        return vc_fail(c, "CS type %u is neither code nor (as after real mode) read/write data", type_of(cs));
    }
    /* 26.3.1.2 bit 14; APM 15.5.1: L and D together are reserved. */
    if (c->lma && (cs->attr & SEG_ATTR_L) && (cs->attr & SEG_ATTR_DB))
        return vc_fail(c, "CS has both L and D set in long mode");
    return check_base32(c, CS, cs) || check_limit(c, CS, cs);
}

static int check_ss(struct vc *c, const struct seg_state *ss, const struct seg_state *cs)
{
    /* SS.DPL is the CPL even when SS is unusable (SDM 27.3.2), and real
     * mode and data-segment CS run at CPL 0 (26.3.1.2). */
    if (dpl_of(ss) != 0 && (!(c->s->cr0 & CR0_PE) || (type_of(cs) | TYPE_ACCESSED) == TYPE_DATA_RW_ACC))
        return vc_fail(c, "SS DPL %u but the CPL must be 0 here", dpl_of(ss));
    if (!usable(ss))
        return 0;
    unsigned t = type_of(ss) | TYPE_ACCESSED;
    if (!(ss->attr & SEG_ATTR_S) || (t != TYPE_DATA_RW_ACC && t != TYPE_DATA_RW_DOWN_ACC))
        return vc_fail(c, "SS attributes 0x%x: not a writable data segment", (unsigned)ss->attr);
    return check_base32(c, SS, ss) || check_limit(c, SS, ss);
}

static int check_data(struct vc *c, unsigned i, const struct seg_state *g)
{
    /* FS and GS bases are 64-bit (MSRs in long mode): canonical. */
    if ((i == FS || i == GS) && vc_canonical(c, i == FS ? "FS base" : "GS base", g->base))
        return -1;
    if (!usable(g))
        return 0;
    unsigned t = type_of(g);
    if (!(g->attr & SEG_ATTR_S) || ((t & TYPE_CODE) && !(t & TYPE_RW)))
        return vc_fail(c, "%s attributes 0x%x: not a data or readable code segment", names[i], (unsigned)g->attr);
    if ((i == DS || i == ES) && check_base32(c, i, g))
        return -1;
    return check_limit(c, i, g);
}

/* TR always holds a TSS (26.3.1.2). AMD VMCBs leave the busy bit out of
 * TR's type (as KVM notes), so the available types are taken as well; the
 * VT-x backend loads them as busy. */
static int check_tr(struct vc *c, const struct seg_state *tr)
{
    unsigned t = type_of(tr);
    bool ok = t == TYPE_TSS_AVAIL || t == TYPE_TSS_BUSY ||
              (!c->lma && (t == TYPE_TSS16_AVAIL || t == TYPE_TSS16_BUSY));
    if (!usable(tr) || (tr->attr & SEG_ATTR_S) || !ok)
        return vc_fail(c, "TR attributes 0x%x: not a present %sTSS", (unsigned)tr->attr, c->lma ? "64-bit " : "");
    if (tr->sel & SEL_TI)
        return vc_fail(c, "TR selector 0x%x points into the LDT", (unsigned)tr->sel);
    return vc_canonical(c, "TR base", tr->base) || check_limit(c, TR, tr);
}

static int check_ldtr(struct vc *c, const struct seg_state *ldtr)
{
    if (!usable(ldtr))
        return 0;
    if ((ldtr->attr & SEG_ATTR_S) || type_of(ldtr) != TYPE_LDT)
        return vc_fail(c, "LDTR attributes 0x%x: not an LDT", (unsigned)ldtr->attr);
    if (ldtr->sel & SEL_TI)
        return vc_fail(c, "LDTR selector 0x%x points into the LDT", (unsigned)ldtr->sel);
    return vc_canonical(c, "LDTR base", ldtr->base) || check_limit(c, LDTR, ldtr);
}

/* GDTR and IDTR (26.3.1.3). */
static int check_dt(struct vc *c, const char *name, const char *base, const struct dt_state *d)
{
    if (vc_canonical(c, base, d->base))
        return -1;
    if (d->limit > DT_LIMIT_MAX)
        return vc_fail(c, "%s limit 0x%x does not fit 16 bits", name, (unsigned)d->limit);
    return 0;
}

int vc_check_segments(struct vc *c)
{
    const struct vcpu_state *s = c->s;
    const struct seg_state *const seg[NSEGS] = {&s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs, &s->ldtr, &s->tr};
    if (c->v86) {
        if (check_v86(c, seg) || vc_canonical(c, "FS base", s->fs.base) || vc_canonical(c, "GS base", s->gs.base))
            return -1;
    } else {
        if (check_ss(c, &s->ss, &s->cs) || check_cs(c, &s->cs, &s->ss))
            return -1;
        for (unsigned i = ES; i <= GS; i++)
            if (i != CS && i != SS && check_data(c, i, seg[i]))
                return -1;
    }
    if (check_tr(c, &s->tr) || check_ldtr(c, &s->ldtr) || check_dt(c, "GDTR", "GDTR base", &s->gdtr) ||
        check_dt(c, "IDTR", "IDTR base", &s->idtr))
        return -1;
    return 0;
}
