/* vmm/vcpu_check.c: a good 64-bit, real-mode, 32-bit protected-mode and
 * virtual-8086 state pass; each single violation of each rule fails with
 * its one-line reason; a VCPU record whose LSTAR is not canonical decodes
 * but is refused.
 *
 * `test_vcpu_check --write-corpus DIR` writes the good states as VCPU
 * records, seeds for tests/fuzz/fuzz_vcpu, instead of testing. */
#include "check.h"
#include <hopvm/mig_state.h>
#include <hopvm/vcpu_check.h>
#include <hopvm/xstate.h>
#include <stdlib.h>

#define NONCANON 0x0000800000000000ull  /* the first address past the lower half */
#define HIGH_HALF 0xffff800000000000ull /* the first address of the upper half */
#define CR0_PE_ET_PG (CR0_PE | CR0_ET | CR0_PG)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_VM (1ull << 17)
#define CR4_PSE (1ull << 4)
#define CR4_PGE (1ull << 7)
#define CR4_LA57 (1ull << 12)
#define CR4_VMXE (1ull << 13)
#define CR4_PCIDE (1ull << 17)
#define CR4_CET (1ull << 23)
#define EFER_SVME (1ull << 12)
#define EXC_PF 14
#define EXC_CP 21

/* Attributes as struct seg_state packs them. */
#define CODE64 0xa9bu      /* P, S, type 11, L, G */
#define CODE32 0xc9bu      /* P, S, type 11, D, G */
#define DATA32 0xc93u      /* P, S, type 3, D, G */
#define REAL_CODE 0x9bu
#define REAL_DATA 0x93u
#define TSS_BUSY 0x8bu
#define TSS_AVAIL 0x89u
#define LDT 0x82u
#define V86 0xf3u
#define USER 0x60u         /* DPL 3 */

/* The host's limits: the CR4 bits of a plain CPU, no LA57. */
static const uint64_t lim_cr4 = CR4_PSE | CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PCIDE | CR4_CET;
static struct vcpu_limits lim;

static void reset_limits(void)
{
    lim = (struct vcpu_limits){.cr4 = lim_cr4, .efer = VCPU_EFER_GUEST, .phys_bits = 40};
}

static struct seg_state seg(uint16_t sel, uint16_t attr, uint32_t limit, uint64_t base)
{
    return (struct seg_state){.sel = sel, .attr = attr, .limit = limit, .base = base};
}

static struct vcpu_event ev(uint8_t type, uint8_t vector, uint8_t has_error, uint32_t error)
{
    return (struct vcpu_event){.type = type, .vector = vector, .has_error = has_error, .error = error};
}

static void common(struct vcpu_state *s)
{
    memset(s, 0, sizeof(*s));
    s->rflags = RFLAGS_FIXED | RFLAGS_IF;
    s->pat = PAT_DEFAULT;
    s->dr6 = 0xffff0ff0;
    s->dr7 = 0x400;
}

/* A Linux-like kernel in 64-bit mode, inside a system call. */
static struct vcpu_state good64(void)
{
    struct vcpu_state s;
    common(&s);
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG | (1ull << 18);
    s.cr3 = 0x12345000;
    s.cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_PCIDE;
    s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    s.rip = 0xffffffff81000123ull;
    s.cs = seg(0x10, CODE64, 0xffffffff, 0);
    s.ss = s.ds = s.es = seg(0x18, DATA32, 0xffffffff, 0);
    s.fs = seg(0, 0, 0, 0x00007f0012345678ull);        /* null, user TLS base */
    s.gs = seg(0, 0, 0, 0xffff888007c00000ull);        /* null, per-CPU base */
    s.tr = seg(0x40, TSS_BUSY, 0x206f, 0xfffffe0000003000ull);
    s.gdtr = (struct dt_state){0xfffffe0000001000ull, 0x7f};
    s.idtr = (struct dt_state){0xfffffe0000000000ull, 0xfff};
    s.star = 0x0023001000000000ull;
    s.lstar = 0xffffffff81a00000ull;
    s.cstar = 0xffffffff81a01000ull;
    s.sfmask = 0x47700;
    s.kernel_gs_base = 0x00007f0000001000ull;
    s.sysenter_cs = 0x10;
    s.sysenter_esp = 0xfffffe0000003000ull;
    s.sysenter_eip = 0xffffffff81a02000ull;
    return s;
}

/* Just after reset (SDM Vol.3A 9.1.1, table 9-1). */
static struct vcpu_state good_real(void)
{
    struct vcpu_state s;
    common(&s);
    s.rflags = RFLAGS_FIXED;
    s.cr0 = CR0_ET;
    s.rip = 0xfff0;
    s.cs = seg(0xf000, REAL_CODE, 0xffff, 0xffff0000);
    s.ss = s.ds = s.es = s.fs = s.gs = seg(0, REAL_DATA, 0xffff, 0);
    s.tr = seg(0, TSS_BUSY, 0xffff, 0);
    s.ldtr = seg(0, LDT, 0xffff, 0);
    s.gdtr = (struct dt_state){0, 0xffff};
    s.idtr = (struct dt_state){0, 0x3ff};
    return s;
}

/* A 32-bit kernel with paging, as a multiboot guest makes itself. */
static struct vcpu_state good32(void)
{
    struct vcpu_state s;
    common(&s);
    s.cr0 = CR0_PE_ET_PG | CR0_WP;
    s.cr3 = 0x9000;
    s.cr4 = CR4_PSE | CR4_PGE;
    s.rip = 0xc0100000;
    s.cs = seg(0x08, CODE32, 0xffffffff, 0);
    s.ss = s.ds = s.es = s.fs = s.gs = seg(0x10, DATA32, 0xffffffff, 0);
    s.tr = seg(0x28, TSS_BUSY, 0x67, 0xc0200000);
    s.gdtr = (struct dt_state){0xc0201000, 0x37};
    s.idtr = (struct dt_state){0xc0202000, 0x7ff};
    s.sysenter_cs = 0x08;
    s.sysenter_esp = 0xc0300000;
    s.sysenter_eip = 0xc0101000;
    return s;
}

/* A DOS program under a 32-bit monitor. */
static struct vcpu_state good_v86(void)
{
    struct vcpu_state s = good32();
    s.rflags |= RFLAGS_VM;
    s.rip = 0x100;
    struct seg_state *segs[] = {&s.cs, &s.ss, &s.ds, &s.es, &s.fs, &s.gs};
    for (unsigned i = 0; i < 6; i++)
        *segs[i] = seg((uint16_t)(0x1234 + i), V86, 0xffff, (0x1234u + i) << 4);
    return s;
}

static char why[VCPU_WHY_MAX];

static void expect_ok_at(int line, const char *what, const struct vcpu_state *s)
{
    strcpy(why, "(no reason)");
    if (vcpu_check(s, &lim, why, sizeof(why)) == 0 && !why[0]) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: %s refused: \"%s\"\n", __FILE__, line, what, why);
}

static void expect_bad_at(int line, const struct vcpu_state *s, const char *reason)
{
    strcpy(why, "(no reason)");
    int rc = vcpu_check(s, &lim, why, sizeof(why));
    /* One line that fits, naming the rule; a short buffer gets it cut, not
     * overrun; no buffer at all is fine too. */
    char tiny[6];
    bool ok = rc == -1 && strstr(why, reason) && !strchr(why, '\n') && strlen(why) < sizeof(why) - 1 &&
              vcpu_check(s, &lim, tiny, sizeof(tiny)) == -1 && strlen(tiny) == sizeof(tiny) - 1 &&
              vcpu_check(s, &lim, NULL, 0) == -1;
    if (ok) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: vcpu_check gave %d \"%s\", expected -1 \"...%s...\"\n", __FILE__, line, rc, why,
            reason);
}

#define OK(state) expect_ok_at(__LINE__, #state, &(state))
/* Starts from good state base, applies the statements to s, expects reason. */
#define BAD(base, change, reason)                    \
    do {                                             \
        struct vcpu_state st_ = base();              \
        struct vcpu_state *s = &st_;                 \
        change;                                      \
        expect_bad_at(__LINE__, s, reason);          \
    } while (0)
#define GOOD(base, change)                           \
    do {                                             \
        struct vcpu_state st_ = base();              \
        struct vcpu_state *s = &st_;                 \
        change;                                      \
        expect_ok_at(__LINE__, #change, s);          \
    } while (0)

static void test_canonical(void)
{
    CHECK(vcpu_canonical(0, 48) && vcpu_canonical(NONCANON - 1, 48) && vcpu_canonical(HIGH_HALF, 48));
    CHECK(vcpu_canonical(~0ull, 48) && !vcpu_canonical(NONCANON, 48) && !vcpu_canonical(HIGH_HALF - 1, 48));
    CHECK(!vcpu_canonical(1ull << 63, 48) && !vcpu_canonical(0x7fffffffffffffffull, 48));
    CHECK(vcpu_canonical(NONCANON, 57) && vcpu_canonical(0x00ffffffffffffffull, 57));
    CHECK(!vcpu_canonical(0x0100000000000000ull, 57) && vcpu_canonical(0xff00000000000000ull, 57));
    CHECK(!vcpu_canonical(0xfeffffffffffffffull, 57));
    CHECK(vcpu_canonical(1ull << 63, 64) && !vcpu_canonical(0, 0) && !vcpu_canonical(0, 65));
}

static void test_good(void)
{
    struct vcpu_state s64 = good64(), real = good_real(), s32 = good32(), v86 = good_v86();
    OK(s64);
    OK(real);
    OK(s32);
    OK(v86);
    /* Variants a real CPU produces. */
    GOOD(good64, s->cs.attr |= USER; s->ss.attr |= USER; s->rip = 0x401000);   /* user mode */
    GOOD(good64, s->cs.attr = CODE32 | USER; s->ss.attr |= USER; s->rip = 0x8048000); /* compatibility mode */
    GOOD(good64, s->ss = seg(0, 0, 0, 0));       /* null SS at CPL 0 after an interrupt */
    GOOD(good64, s->ds = seg(0, 0x1f, 0x123, 0)); /* unusable: the rest is not looked at */
    GOOD(good64, s->ds.attr = 0; s->es.attr = 0);
    /* As AMD VMCBs may show them (KVM's svm_get_segment): TR not busy, a
     * data segment not accessed, G not kept; the VT-x backend sets them. */
    GOOD(good64, s->tr.attr = TSS_AVAIL);
    GOOD(good64, s->ds.attr &= ~1u; s->ss.attr &= ~1u; s->cs.attr &= ~1u);
    GOOD(good64, s->cs.attr &= ~SEG_ATTR_G; s->ss.attr &= ~SEG_ATTR_G);
    GOOD(good_real, s->cs.attr |= SEG_ATTR_G; s->ds.attr |= SEG_ATTR_G);
    GOOD(good_v86, s->ds.attr &= ~1u);
    GOOD(good64, s->ldtr = seg(0x50, LDT, 0xfff, 0xffff888000000000ull));
    GOOD(good64, s->cs.attr = (CODE64 & ~0xfu) | 15; s->ss.attr |= USER); /* conforming, CPL 3 */
    GOOD(good64, s->event = ev(EVENT_EXCEPTION, EXC_PF, 1, 0x2));
    GOOD(good64, s->event = ev(EVENT_EXTINT, 0x30, 0, 0));
    GOOD(good64, s->event = ev(EVENT_NMI, 2, 0, 0));
    GOOD(good64, s->event = ev(EVENT_SOFTINT, 0x80, 0, 0); s->int_shadow = SHADOW_STI);
    GOOD(good64, s->event = ev(EVENT_EXCEPTION, EXC_UD, 0, 0x1234)); /* stale error ignored */
    GOOD(good64, s->int_shadow = SHADOW_STI);
    GOOD(good64, s->int_shadow = SHADOW_MOV_SS; s->rflags &= ~RFLAGS_IF);
    GOOD(good64, s->int_shadow = SHADOW_MOV_SS; s->rflags |= RFLAGS_TF);
    GOOD(good64, s->nmi_blocked = 1);
    GOOD(good64, s->pat = 0x0007010600070406ull);
    GOOD(good64, s->cr3 = (1ull << 40) - 4096);
    GOOD(good_real, s->event = ev(EVENT_EXCEPTION, EXC_GP, 0, 0)); /* no error code in real mode */
    GOOD(good_real, s->cs.attr = REAL_DATA);                    /* CS as real-mode data, DPL 0 */
    GOOD(good_real, s->efer = EFER_LME);                        /* on the way to long mode */
    GOOD(good32, s->cr0 &= ~CR0_PG; s->cr4 = CR4_PAE; s->efer = EFER_LME);
    GOOD(good32, s->cr4 |= CR4_PAE; s->cr3 = 0xffffffe0);        /* PAE, PDPT high in 4 GiB */
    GOOD(good32, s->ldtr = seg(0x30, LDT, 0xff, 0xc0203000));
    GOOD(good32, s->tr.attr = 0x83);                            /* a 16-bit busy TSS */
    GOOD(good32, s->cs.attr = CODE32 | (1u << 9));              /* L is not looked at outside long mode */
    lim.cr4 |= CR4_LA57;
    GOOD(good64, s->cr4 |= CR4_LA57; s->lstar = 0xff00000000000000ull); /* 57-bit canonical */
    reset_limits();
}

static void test_control(void)
{
    BAD(good64, s->cr0 |= 1ull << 6, "CR0 0x80050073 sets reserved bits 0x40");
    BAD(good64, s->cr0 |= 1ull << 32, "CR0 0x180050033 sets reserved bits 0x100000000");
    BAD(good32, s->cr0 &= ~CR0_PE, "CR0.PG is set without CR0.PE");
    BAD(good32, s->cr0 |= 1ull << 29, "CR0.NW is set without CR0.CD");
    GOOD(good32, s->cr0 |= 3ull << 29);
    BAD(good64, s->cr4 |= CR4_VMXE, "CR4 0x226a0 sets bits 0x2000 a guest here cannot have");
    BAD(good64, s->cr4 |= CR4_LA57, "sets bits 0x1000 a guest here");
    lim.cr4 = ~0ull;
    BAD(good64, s->cr4 |= 1ull << 15, "CR4 0x286a0 sets bits 0x8000 a guest here cannot have");
    BAD(good64, s->cr4 |= 1ull << 32, "sets bits 0x100000000");
    reset_limits();
    BAD(good64, s->cr3 = 1ull << 40, "CR3 0x10000000000 has bits above the 40-bit physical address width");
    lim.phys_bits = 64; /* clamped to 52: no undefined shift */
    BAD(good64, s->cr3 = 1ull << 52, "above the 52-bit physical address width");
    reset_limits();
    BAD(good64, s->efer |= EFER_SVME, "EFER 0x1d01 sets bits 0x1000 a guest here cannot have");
    BAD(good64, s->efer |= 1ull << 1, "EFER 0xd03 sets bits 0x2");
    lim.efer = VCPU_EFER_GUEST & ~EFER_NXE;
    BAD(good64, , "EFER 0xd01 sets bits 0x800 a guest here cannot have");
    reset_limits();
    BAD(good32, s->efer = EFER_LMA, "EFER.LMA is set without both EFER.LME and CR0.PG");
    BAD(good64, s->efer &= ~EFER_LME, "EFER.LMA is set without both EFER.LME and CR0.PG");
    BAD(good32, s->efer = EFER_LME; s->cr4 |= CR4_PAE, "EFER.LME and CR0.PG are set but EFER.LMA is clear");
    BAD(good64, s->cr4 &= ~CR4_PAE, "long mode (EFER.LMA) without CR4.PAE");
    BAD(good32, s->cr4 |= CR4_PCIDE, "CR4.PCIDE is set outside long mode");
    BAD(good64, s->cr4 |= CR4_CET; s->cr0 &= ~CR0_WP, "CR4.CET is set without CR0.WP");
    GOOD(good64, s->cr4 |= CR4_CET);
}

static void test_flags_rip(void)
{
    BAD(good64, s->rflags |= 1ull << 3, "RFLAGS 0x20a sets reserved bits");
    BAD(good64, s->rflags |= 1ull << 5, "RFLAGS 0x222 sets reserved bits");
    BAD(good64, s->rflags |= 1ull << 15, "RFLAGS 0x8202 sets reserved bits");
    BAD(good64, s->rflags |= 1ull << 22, "RFLAGS 0x400202 sets reserved bits");
    BAD(good64, s->rflags |= 1ull << 63, "sets reserved bits");
    BAD(good64, s->rflags = RFLAGS_IF, "RFLAGS 0x200 has bit 1 clear");
    BAD(good64, s->rflags |= RFLAGS_VM, "RFLAGS.VM is set in long mode");
    BAD(good_real, s->rflags |= RFLAGS_VM, "RFLAGS.VM is set with CR0.PE clear");
    BAD(good64, s->rip = NONCANON, "RIP 0x800000000000 is not canonical");
    BAD(good64, s->rip = 0x7fffffffffffffffull, "RIP 0x7fffffffffffffff is not canonical");
    BAD(good32, s->rip = 0x100000000ull, "RIP 0x100000000 does not fit 32 bits outside 64-bit code");
    BAD(good64, s->cs.attr = CODE32; s->rip = 0x100000000ull, "RIP 0x100000000 does not fit 32 bits");
    BAD(good_real, s->rip = 1ull << 40, "does not fit 32 bits");
}

static void test_segments(void)
{
    /* CS */
    BAD(good64, s->cs.attr &= ~SEG_ATTR_P, "CS attributes 0xa1b: not a present code or data segment");
    BAD(good64, s->cs.attr &= ~SEG_ATTR_S, "CS attributes 0xa8b: not a present code or data segment");
    BAD(good64, s->cs.attr = (CODE64 & ~0xfu) | 0x1, "CS type 1 is neither code nor (as after real mode) read/write");
    BAD(good64, s->cs.attr = (CODE64 & ~0xfu) | 0x7, "CS type 7 is neither code nor");
    BAD(good64, s->cs.attr = (CODE64 & ~0xfu) | 0x4, "CS type 4 is neither code nor");
    BAD(good_real, s->cr0 |= CR0_PE; s->cs.attr = REAL_DATA | USER,
        "CS is a read/write data segment with DPL 3, not 0");
    BAD(good64, s->cs.attr |= USER, "CS DPL 3 differs from SS DPL 0 (non-conforming code)");
    BAD(good64, s->ss.attr |= USER, "CS DPL 0 differs from SS DPL 3");
    BAD(good64, s->cs.attr = (CODE64 & ~0xfu) | 13 | (2u << 5); s->ss.attr |= 1u << 5,
        "CS DPL 2 above SS DPL 1 (conforming code)");
    BAD(good64, s->cs.attr |= SEG_ATTR_DB, "CS has both L and D set in long mode");
    BAD(good32, s->cs.base = 1ull << 32, "CS base 0x100000000 does not fit 32 bits");
    BAD(good_real, s->cs.limit = 0x100000,
        "CS limit 0x100000 is above 1 MiB but not a multiple of 4 KiB less 1");
    BAD(good32, s->cs.limit = 0xfffffffe, "CS limit 0xfffffffe is above 1 MiB");
    /* SS */
    BAD(good_real, s->ss.attr |= USER, "SS DPL 3 but the CPL must be 0 here");
    BAD(good_real, s->ss = seg(0, 0x20, 0, 0), "SS DPL 1 but the CPL must be 0"); /* unusable too */
    BAD(good64, s->ss.attr = (DATA32 & ~0xfu) | 1, "SS attributes 0xc91: not a writable data segment");
    BAD(good64, s->ss.attr = (DATA32 & ~0xfu) | 5, "SS attributes 0xc95: not a writable data segment");
    BAD(good64, s->ss.attr = CODE32, "SS attributes 0xc9b");
    BAD(good64, s->ss.attr &= ~SEG_ATTR_S, "SS attributes 0xc83");
    GOOD(good32, s->ss.attr = (DATA32 & ~0xfu) | 7);
    BAD(good32, s->ss.base = 0x123456789ull, "SS base 0x123456789 does not fit 32 bits");
    BAD(good32, s->ss.limit = 0x12345678, "SS limit 0x12345678 is above 1 MiB");
    /* DS, ES, FS, GS */
    BAD(good64, s->es.attr = (DATA32 & ~0xfu) | 9, "ES attributes 0xc99: not a data or readable code segment");
    BAD(good64, s->ds.attr = (DATA32 & ~0xfu) | 8, "DS attributes 0xc98: not a data or readable code segment");
    BAD(good32, s->gs.attr &= ~SEG_ATTR_S, "GS attributes 0xc83");
    GOOD(good32, s->fs.attr = CODE32);                          /* readable code is fine */
    BAD(good32, s->ds.base = 1ull << 32, "DS base 0x100000000 does not fit 32 bits");
    BAD(good32, s->es.base = 1ull << 33, "ES base 0x200000000 does not fit 32 bits");
    GOOD(good32, s->fs.base = 1ull << 33);                      /* FS, GS: canonical is enough */
    BAD(good64, s->fs.base = NONCANON, "FS base 0x800000000000 is not canonical");
    BAD(good64, s->gs.base = 0x8000000000000000ull, "GS base 0x8000000000000000 is not canonical");
    BAD(good32, s->fs.limit = 0x100000, "FS limit 0x100000 is above 1 MiB but not a multiple of 4 KiB less 1");
    /* TR */
    BAD(good64, s->tr.attr &= ~SEG_ATTR_P, "TR attributes 0xb: not a present 64-bit TSS");
    BAD(good64, s->tr.attr |= SEG_ATTR_S, "TR attributes 0x9b: not a present 64-bit TSS");
    BAD(good64, s->tr.attr = 0x83, "TR attributes 0x83: not a present 64-bit TSS");
    BAD(good32, s->tr.attr = LDT, "TR attributes 0x82: not a present TSS");
    BAD(good32, s->tr.attr = 0x8d, "TR attributes 0x8d");
    BAD(good64, s->tr.sel |= 4, "TR selector 0x44 points into the LDT");
    BAD(good64, s->tr.base = NONCANON, "TR base 0x800000000000 is not canonical");
    BAD(good64, s->tr.limit = 0x100000, "TR limit 0x100000 is above 1 MiB");
    /* LDTR */
    BAD(good32, s->ldtr = seg(0x30, 0x83, 0xff, 0), "LDTR attributes 0x83: not an LDT");
    BAD(good32, s->ldtr = seg(0x30, 0x92, 0xff, 0), "LDTR attributes 0x92: not an LDT");
    BAD(good32, s->ldtr = seg(0x34, LDT, 0xff, 0), "LDTR selector 0x34 points into the LDT");
    BAD(good64, s->ldtr = seg(0x30, LDT, 0xff, NONCANON), "LDTR base 0x800000000000 is not canonical");
    BAD(good64, s->ldtr = seg(0x30, LDT, 0x1000000, 0), "LDTR limit 0x1000000 is above 1 MiB");
    /* GDTR, IDTR */
    BAD(good64, s->gdtr.base = NONCANON, "GDTR base 0x800000000000 is not canonical");
    BAD(good64, s->idtr.base = HIGH_HALF - 1, "IDTR base 0xffff7fffffffffff is not canonical");
    BAD(good64, s->gdtr.limit = 0x10000, "GDTR limit 0x10000 does not fit 16 bits");
    BAD(good64, s->idtr.limit = 0xffffffff, "IDTR limit 0xffffffff does not fit 16 bits");
    /* virtual-8086 mode */
    BAD(good_v86, s->ds.base += 1,
        "DS in virtual-8086 mode must have base selector*16, limit 0xffff, attributes 0xf3");
    BAD(good_v86, s->cs.limit = 0xfffff, "CS in virtual-8086 mode must have");
    BAD(good_v86, s->ss.attr = REAL_DATA, "SS in virtual-8086 mode must have");
    BAD(good_v86, s->tr.attr = TSS_BUSY & ~SEG_ATTR_P, "TR attributes 0xb: not a present TSS");
}

static void test_msrs(void)
{
    BAD(good64, s->dr6 |= 1ull << 32, "DR6 0x1ffff0ff0 sets bits 63:32");
    BAD(good64, s->dr7 |= 1ull << 63, "DR7 0x8000000000000400 sets bits 63:32");
    GOOD(good64, s->dr6 = 0; s->dr7 = 0xffffffff);              /* the CPU fixes bits 31:0 */
    BAD(good64, s->pat = 0x0007040600070402ull, "PAT 0x7040600070402: entry 0 is 0x2, not a memory type (0, 1, 4-7)");
    BAD(good64, s->pat = 0x0307040600070406ull, "entry 7 is 0x3");
    BAD(good64, s->pat = 0x0007040600080406ull, "entry 2 is 0x8");
    BAD(good64, s->pat = 0x0007040600470406ull, "entry 2 is 0x47");
    BAD(good64, s->lstar = NONCANON, "LSTAR 0x800000000000 is not canonical");
    BAD(good64, s->lstar = 0x8000000000000000ull, "LSTAR 0x8000000000000000 is not canonical");
    BAD(good64, s->cstar = 0x0123456789abcdefull, "CSTAR 0x123456789abcdef is not canonical");
    BAD(good64, s->kernel_gs_base = HIGH_HALF - 1, "KERNEL_GS_BASE 0xffff7fffffffffff is not canonical");
    BAD(good32, s->sysenter_esp = NONCANON, "SYSENTER_ESP 0x800000000000 is not canonical");
    BAD(good32, s->sysenter_eip = NONCANON, "SYSENTER_EIP 0x800000000000 is not canonical");
    BAD(good64, s->sfmask |= 1ull << 32, "SFMASK 0x100047700 sets bits 63:32");
    BAD(good64, s->sysenter_cs = 1ull << 32, "SYSENTER_CS 0x100000000 does not fit 32 bits");
    GOOD(good64, s->star = ~0ull);                               /* STAR has no reserved bits */
    GOOD(good64, s->cr2 = NONCANON);                             /* nor CR2 */
}

static void test_events(void)
{
    BAD(good64, s->int_shadow = 3, "interrupt shadow 3 is not none, STI or MOV SS");
    BAD(good64, s->nmi_blocked = 2, "NMI blocking 2 is not 0 or 1");
    BAD(good64, s->int_shadow = SHADOW_STI; s->rflags &= ~RFLAGS_IF, "an STI interrupt shadow with RFLAGS.IF clear");
    BAD(good64, s->event.type = EVENT_SOFTINT + 1, "pending event type 5 / has-error 0 unknown");
    BAD(good64, s->event = ev(EVENT_EXCEPTION, EXC_PF, 2, 0), "has-error 2 unknown");
    BAD(good64, s->event = ev(EVENT_EXTINT, 0x30, 1, 0), "only an exception has an error code");
    BAD(good64, s->event = ev(EVENT_EXCEPTION, 32, 0, 0), "pending exception vector 32 is not an exception");
    BAD(good64, s->event = ev(EVENT_EXCEPTION, 2, 0, 0), "pending exception vector 2 is not an exception");
    BAD(good64, s->event = ev(EVENT_EXCEPTION, EXC_GP, 0, 0), "pending exception 13 lacks an error code");
    BAD(good64, s->event = ev(EVENT_EXCEPTION, EXC_UD, 1, 0), "pending exception 6 cannot have an error code");
    BAD(good_real, s->event = ev(EVENT_EXCEPTION, EXC_GP, 1, 0), "pending exception 13 cannot have");
    BAD(good64, s->event = ev(EVENT_EXCEPTION, EXC_CP, 1, 0), "pending exception 21 cannot have");
    GOOD(good64, s->cr4 |= CR4_CET; s->event = ev(EVENT_EXCEPTION, EXC_CP, 1, 3));
    BAD(good64, s->event = ev(EVENT_EXCEPTION, EXC_GP, 1, 0x10000),
        "pending exception error code 0x10000 does not fit 16 bits");
    BAD(good64, s->event = ev(EVENT_NMI, 3, 0, 0), "pending NMI with vector 3, not 2");
    BAD(good64, s->event = ev(EVENT_NMI, 2, 0, 0); s->int_shadow = SHADOW_MOV_SS,
        "pending NMI inside an interrupt shadow");
    BAD(good64, s->event = ev(EVENT_NMI, 2, 0, 0); s->int_shadow = SHADOW_STI,
        "pending NMI inside an interrupt shadow");
    BAD(good64, s->event = ev(EVENT_NMI, 2, 0, 0); s->nmi_blocked = 1,
        "pending NMI while NMIs are blocked");
    BAD(good64, s->event = ev(EVENT_EXTINT, 0x30, 0, 0); s->rflags &= ~RFLAGS_IF,
        "pending external interrupt while interrupts are off (RFLAGS.IF clear)");
    BAD(good64, s->event = ev(EVENT_EXTINT, 0x30, 0, 0); s->int_shadow = SHADOW_STI,
        "pending external interrupt while interrupts are in a shadow");
}

/* The stream carries the state unchecked; the target's check refuses it. */
static void test_record(void)
{
    static uint64_t buf[MIG_VCPU_MAX / 8];
    static struct mig_vcpu m, out;
    char err[200];
    size_t len;
    memset(&m, 0, sizeof(m));
    m.s = good64();
    m.s.lstar = 0x8000000000000000ull;
    m.s.int_shadow = SHADOW_MOV_SS;
    m.s.nmi_blocked = 1;
    CHECK(mig_vcpu_encode(&m, buf, sizeof(buf), &len) == 0);
    CHECK(mig_vcpu_decode(buf, len, &out, err, sizeof(err)) == 0 && !memcmp(&m, &out, sizeof(m)));
    CHECK(vcpu_check(&out.s, &lim, why, sizeof(why)) == -1);
    CHECK_STR(why, "LSTAR 0x8000000000000000 is not canonical");
    out.s.lstar = m.s.lstar = good64().lstar;
    CHECK(vcpu_check(&out.s, &lim, why, sizeof(why)) == 0);
}

/* Seeds for tests/fuzz/fuzz_vcpu: each good state as a VCPU record. */
/* XCR0 as XSETBV takes it (SDM Vol.2C XSETBV, Vol.1 13.3). */
static void expect_xcr0_at(int line, uint64_t xcr0, uint64_t offered, const char *reason)
{
    strcpy(why, "(no reason)");
    int rc = vcpu_check_xcr0(xcr0, offered, why, sizeof(why));
    bool ok = reason ? rc == -1 && strstr(why, reason) && vcpu_check_xcr0(xcr0, offered, NULL, 0) == -1
                     : rc == 0 && !why[0];
    if (ok) {
        check_passed++;
        return;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: vcpu_check_xcr0(0x%llx, 0x%llx) gave %d \"%s\", expected %s\n", __FILE__, line,
            (unsigned long long)xcr0, (unsigned long long)offered, rc, why, reason ? reason : "0");
}
#define XCR0(x, offered, reason) expect_xcr0_at(__LINE__, x, offered, reason)

static void test_xcr0(void)
{
    const uint64_t all = XCR0_GUEST_MAX, no_avx = XCR0_X87 | XCR0_SSE;
    XCR0(XCR0_RESET, all, NULL);
    XCR0(XCR0_RESET, XCR0_X87, NULL); /* a host without XSAVE: only the reset value */
    XCR0(3, all, NULL);
    XCR0(7, all, NULL);
    XCR0(0, all, "clears x87");
    XCR0(6, all, "clears x87");
    XCR0(5, all, "AVX without SSE");
    XCR0(7, no_avx, "XCR0 0x7 enables state components 0x4 this host does not offer (at most 0x3)");
    XCR0(3, XCR0_X87, "components 0x2");
    XCR0(1ull | (1ull << 9), all, "components 0x200"); /* PKRU */
    XCR0(7ull | (7ull << 5), all, "components 0xe0");  /* AVX-512 */
    XCR0(1ull | (1ull << 63), all, "components 0x8000000000000000");
}

static int write_corpus(const char *dir)
{
    static const struct { const char *name; struct vcpu_state (*make)(void); } seeds[] = {
        {"long-mode", good64}, {"real-mode", good_real}, {"protected-32", good32}, {"virtual-8086", good_v86},
    };
    static uint64_t buf[MIG_VCPU_MAX / 8];
    static struct mig_vcpu m;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        char path[512];
        size_t len;
        memset(&m, 0, sizeof(m));
        m.s = seeds[i].make();
        uint32_t mxcsr = 0x1f80; /* the power-up MXCSR, at its FXSAVE offset */
        memcpy(m.fxsave + 24, &mxcsr, sizeof(mxcsr));
        m.xcr0 = XCR0_RESET;
        if (seeds[i].make == good64) { /* one seed with AVX on, so ymm-hi128 is in the corpus */
            m.xcr0 = XCR0_GUEST_MAX;
            for (size_t k = 0; k < sizeof(m.ymmh); k++)
                m.ymmh[k] = (uint8_t)(k + 1);
        }
        snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || mig_vcpu_encode(&m, buf, sizeof(buf), &len) || fwrite(buf, 1, len, f) != len || fclose(f)) {
            perror(path);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write-corpus"))
        return write_corpus(argv[2]);
    reset_limits();
    test_canonical();
    test_good();
    test_control();
    test_flags_rip();
    test_segments();
    test_msrs();
    test_events();
    test_record();
    test_xcr0();
    return check_report("test_vcpu_check");
}
