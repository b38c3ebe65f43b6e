/* The guest's ACPI tables (vmm/acpi_guest.c), read the way an OS reads
 * them: from the RSDP through the XSDT (and the RSDT) to each table, every
 * signature, length and checksum checked, every field at its ACPI 6.5
 * offset written out here rather than taken from the builder. The DSDT's
 * AML goes through hopvm's own \_S5 reader (drivers/acpi_aml.c). */
#include "check.h"
#include <hopvm/acpi.h>
#include <hopvm/acpi_guest.h>
#include <stdlib.h>

#define BUF_CAP 4096

/* The block as guest memory: gpa -> byte, or NULL outside what was built. */
static const uint8_t *mem;
static uint64_t mem_gpa;
static size_t mem_len;

static const uint8_t *at(uint64_t gpa, size_t len)
{
    if (gpa < mem_gpa || gpa - mem_gpa > mem_len || len > mem_len - (gpa - mem_gpa))
        return NULL;
    return mem + (gpa - mem_gpa);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* ACPI 6.5 5.2.6: a table at gpa with this signature, its length inside
 * the block, its bytes summing to zero and the common header filled. */
static const uint8_t *table(uint64_t gpa, const char *sig, uint8_t rev, const char *oem)
{
    const uint8_t *t = at(gpa, 36);
    CHECK(t != NULL);
    if (!t)
        return NULL;
    CHECK(!memcmp(t, sig, 4));
    uint32_t len = rd32(t + 4);
    CHECK(len >= 36 && at(gpa, len) != NULL);
    if (len < 36 || !at(gpa, len))
        return NULL;
    CHECK_U64(sum(t, len), 0);
    CHECK_U64(t[8], rev);
    CHECK(!memcmp(t + 10, oem, 6));
    CHECK(!memcmp(t + 16, "HOPVM   ", 8));
    CHECK_U64(rd32(t + 24), 1);
    CHECK(!memcmp(t + 28, "HOPV", 4));
    CHECK_U64(rd32(t + 32), 1);
    CHECK_U64(gpa % 16, 0);
    return t;
}

/* ACPI 6.5 5.2.3.2: Generic Address Structure. */
static void check_gas(const uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
    CHECK_U64(p[0], space);
    CHECK_U64(p[1], bits);
    CHECK_U64(p[2], 0);
    CHECK_U64(p[3], access);
    CHECK_U64(rd64(p + 4), addr);
}

static void check_fadt(const uint8_t *f, const char *oem)
{
    CHECK_U64(rd32(f + 4), 276);   /* ACPI 6.5 table 5.9 */
    /* FACS and DSDT: the 64-bit pointers equal the 32-bit ones. */
    uint32_t facs_gpa = rd32(f + 36), dsdt_gpa = rd32(f + 40);
    CHECK_U64(rd64(f + 132), facs_gpa);
    CHECK_U64(rd64(f + 140), dsdt_gpa);
    CHECK_U64(f[44], 0);           /* reserved (INT_MODEL) */
    CHECK_U64(f[45], 0);           /* Preferred_PM_Profile: unspecified */
    CHECK_U64(rd16(f + 46), 9);    /* SCI_INT */
    CHECK_U64(rd32(f + 48), 0);    /* SMI_CMD: no SMM */
    CHECK_U64(f[52], 0);           /* ACPI_ENABLE */
    CHECK_U64(f[53], 0);           /* ACPI_DISABLE */
    CHECK_U64(f[54], 0);           /* S4BIOS_REQ */
    CHECK_U64(f[55], 0);           /* PSTATE_CNT */
    CHECK_U64(rd32(f + 56), 0x600); /* PM1a_EVT_BLK */
    CHECK_U64(rd32(f + 60), 0);    /* PM1b_EVT_BLK */
    CHECK_U64(rd32(f + 64), 0x604); /* PM1a_CNT_BLK */
    CHECK_U64(rd32(f + 68), 0);    /* PM1b_CNT_BLK */
    CHECK_U64(rd32(f + 72), 0);    /* PM2_CNT_BLK */
    CHECK_U64(rd32(f + 76), 0x608); /* PM_TMR_BLK */
    CHECK_U64(rd32(f + 80), 0);    /* GPE0_BLK */
    CHECK_U64(rd32(f + 84), 0);    /* GPE1_BLK */
    CHECK_U64(f[88], 4);           /* PM1_EVT_LEN */
    CHECK_U64(f[89], 2);           /* PM1_CNT_LEN */
    CHECK_U64(f[90], 0);           /* PM2_CNT_LEN */
    CHECK_U64(f[91], 4);           /* PM_TMR_LEN */
    CHECK_U64(f[92], 0);           /* GPE0_BLK_LEN */
    CHECK_U64(f[93], 0);           /* GPE1_BLK_LEN */
    CHECK_U64(f[95], 0);           /* CST_CNT */
    CHECK_U64(rd16(f + 96), 101);  /* P_LVL2_LAT: > 100, no C2 */
    CHECK_U64(rd16(f + 98), 1001); /* P_LVL3_LAT: > 1000, no C3 */
    CHECK_U64(f[106], 0);          /* DAY_ALRM */
    CHECK_U64(f[107], 0);          /* MON_ALRM */
    CHECK_U64(f[108], 0x32);       /* CENTURY */
    /* IAPC_BOOT_ARCH (table 5.11): LEGACY_DEVICES, VGA Not Present, MSI
     * Not Supported; no 8042 (bit 1: only its reset line exists); CMOS RTC
     * Not Present (bit 5) clear. */
    CHECK_U64(rd16(f + 109), 0x000d);
    CHECK_U64(f[111], 0);
    /* Flags (table 5.10): WBINVD, PROC_C1, SLP_BUTTON, RESET_REG_SUP; not
     * TMR_VAL_EXT (bit 8: the timer is 24-bit) nor HW_REDUCED (bit 20). */
    uint32_t flags = rd32(f + 112);
    CHECK_U64(flags, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10));
    CHECK(!(flags & (1u << 8)) && !(flags & (1u << 20)));
    check_gas(f + 116, 1, 8, 1, 0xcf9); /* RESET_REG: I/O, byte */
    CHECK_U64(f[128], 6);               /* RESET_VALUE */
    CHECK_U64(rd16(f + 129), 0);        /* ARM_BOOT_ARCH */
    CHECK_U64(f[131], 5);               /* FADT Minor Version: 6.5 */
    check_gas(f + 148, 1, 32, 2, 0x600); /* X_PM1a_EVT_BLK */
    check_gas(f + 160, 0, 0, 0, 0);      /* X_PM1b_EVT_BLK */
    check_gas(f + 172, 1, 16, 2, 0x604); /* X_PM1a_CNT_BLK */
    check_gas(f + 184, 0, 0, 0, 0);      /* X_PM1b_CNT_BLK */
    check_gas(f + 196, 0, 0, 0, 0);      /* X_PM2_CNT_BLK */
    check_gas(f + 208, 1, 32, 3, 0x608); /* X_PM_TMR_BLK */
    check_gas(f + 220, 0, 0, 0, 0);      /* X_GPE0_BLK */
    check_gas(f + 232, 0, 0, 0, 0);      /* X_GPE1_BLK */
    check_gas(f + 244, 0, 0, 0, 0);      /* SLEEP_CONTROL_REG: not HW-reduced */
    check_gas(f + 256, 0, 0, 0, 0);      /* SLEEP_STATUS_REG */
    CHECK(!memcmp(f + 268, "HOPVM   ", 8)); /* Hypervisor Vendor Identity */
    /* The 32-bit X_ mirror agrees with the legacy block fields. */
    CHECK_U64(rd64(f + 148 + 4), rd32(f + 56));
    CHECK_U64(rd64(f + 172 + 4), rd32(f + 64));
    CHECK_U64(rd64(f + 208 + 4), rd32(f + 76));

    /* ACPI 6.5 5.2.10: FACS, 64 bytes on a 64-byte boundary, version 2. */
    const uint8_t *facs = at(facs_gpa, 64);
    CHECK(facs != NULL);
    CHECK_U64(facs_gpa % 64, 0);
    if (facs) {
        CHECK(!memcmp(facs, "FACS", 4));
        CHECK_U64(rd32(facs + 4), 64);
        CHECK_U64(facs[32], 2);
        uint8_t z = 0;
        for (size_t i = 8; i < 64; i++)
            if (i != 32)
                z |= facs[i];
        CHECK_U64(z, 0);
    }

    /* ACPI 6.5 5.2.11.1: DSDT, revision 2; hopvm's reader finds \_S5. */
    const uint8_t *d = table(dsdt_gpa, "DSDT", 2, oem);
    if (d) {
        uint32_t len = rd32(d + 4);
        uint8_t a = 0xee, b = 0xee;
        CHECK(acpi_find_s5(d + 36, len - 36, &a, &b) == 0);
        CHECK_U64(a, 5);
        CHECK_U64(b, 5);
        /* The exact encoding (ACPI 6.5 20.2.5.1, 20.2.5.4): NameOp, '\',
         * NameSeg, PackageOp, PkgLength 8, 4 elements, BytePrefix 5 twice,
         * Zero twice. */
        static const uint8_t want[] = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04,
                                       0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
        CHECK_U64(len, 36 + sizeof(want));
        CHECK(len == 36 + sizeof(want) && !memcmp(d + 36, want, sizeof(want)));
    }
}

struct madt_want {
    unsigned ncpus;
    const uint32_t *ids;
    uint8_t ioapic_id;
};

/* ACPI 6.5 5.2.12: MADT, entry by entry. */
static void check_madt(const uint8_t *m, const struct madt_want *w)
{
    uint32_t len = rd32(m + 4);
    CHECK_U64(rd32(m + 36), 0xfee00000);  /* Local Interrupt Controller Address */
    CHECK_U64(rd32(m + 40), 1);           /* PCAT_COMPAT */
    unsigned lapics = 0, x2apics = 0, ioapics = 0, isos = 0, nmis = 0, x2nmis = 0, other = 0;
    bool iso0 = false, iso9 = false, bad_len = false;
    bool any_x2 = false;
    for (unsigned i = 0; i < w->ncpus; i++)
        any_x2 |= w->ids[i] >= 255;
    size_t off = 44;
    while (off < len) {
        const uint8_t *e = m + off;
        if (off + 2 > len || e[1] < 2 || off + e[1] > len) {
            bad_len = true;
            break;
        }
        switch (e[0]) {
        case 0: /* 5.2.12.2 Processor Local APIC */
            CHECK_U64(e[1], 8);
            CHECK(lapics + x2apics < w->ncpus);
            if (lapics + x2apics < w->ncpus) {
                unsigned k = lapics + x2apics;
                CHECK_U64(e[2], k);            /* ACPI Processor UID */
                CHECK_U64(e[3], w->ids[k]);    /* APIC ID */
                CHECK(w->ids[k] < 255);
            }
            CHECK_U64(rd32(e + 4), 1);         /* Enabled, not Online Capable */
            lapics++;
            break;
        case 9: /* 5.2.12.12 Processor Local x2APIC */
            CHECK_U64(e[1], 16);
            CHECK_U64(rd16(e + 2), 0);
            if (lapics + x2apics < w->ncpus) {
                unsigned k = lapics + x2apics;
                CHECK_U64(rd32(e + 4), w->ids[k]);
                CHECK_U64(rd32(e + 12), k);
                CHECK(w->ids[k] >= 255);
            } else
                CHECK(0);
            CHECK_U64(rd32(e + 8), 1);
            x2apics++;
            break;
        case 1: /* 5.2.12.3 I/O APIC */
            CHECK_U64(e[1], 12);
            CHECK_U64(e[2], w->ioapic_id);
            CHECK_U64(e[3], 0);
            CHECK_U64(rd32(e + 4), 0xfec00000);
            CHECK_U64(rd32(e + 8), 0);         /* GSI base */
            ioapics++;
            break;
        case 2: /* 5.2.12.5 Interrupt Source Override */
            CHECK_U64(e[1], 10);
            CHECK_U64(e[2], 0);                /* ISA */
            if (e[3] == 0) {
                CHECK_U64(rd32(e + 4), 2);
                CHECK_U64(rd16(e + 8), 0);     /* conforming */
                iso0 = true;
            } else if (e[3] == 9) {
                CHECK_U64(rd32(e + 4), 9);
                CHECK_U64(rd16(e + 8), 0x000d); /* active high (01), level (11) */
                iso9 = true;
            } else
                CHECK(0);
            isos++;
            break;
        case 4: /* 5.2.12.7 Local APIC NMI */
            CHECK_U64(e[1], 6);
            CHECK_U64(e[2], 0xff);             /* all processors */
            CHECK_U64(rd16(e + 3), 0);
            CHECK_U64(e[5], 1);                /* LINT1 */
            nmis++;
            break;
        case 0x0a: /* 5.2.12.13 Local x2APIC NMI */
            CHECK_U64(e[1], 12);
            CHECK_U64(rd16(e + 2), 0);
            CHECK_U64(rd32(e + 4), 0xffffffff);
            CHECK_U64(e[8], 1);
            x2nmis++;
            break;
        default:
            other++;
        }
        off += e[1];
    }
    CHECK(!bad_len);
    CHECK_U64(off, len);
    CHECK_U64(lapics + x2apics, w->ncpus);
    CHECK_U64(ioapics, 1);
    CHECK_U64(isos, 2);
    CHECK(iso0 && iso9);
    CHECK_U64(nmis, 1);
    CHECK_U64(x2nmis, any_x2 ? 1 : 0);
    CHECK_U64(other, 0);
}

/* Builds into an exactly-sized heap copy (ASan sees any write past the
 * returned size) and walks it from the RSDP. */
static void build_and_walk(uint64_t gpa, const struct acpi_guest *g, const char *oem, const struct madt_want *w)
{
    uint8_t *big = malloc(BUF_CAP);
    memset(big, 0xa5, BUF_CAP); /* the builder must clear what it uses */
    uint64_t rsdp_gpa = 0;
    size_t n = acpi_guest_build(big, BUF_CAP, gpa, g, &rsdp_gpa);
    CHECK(n > 0 && n < BUF_CAP);
    CHECK_U64(rsdp_gpa, gpa);
    /* The same into a buffer of exactly n bytes: the same bytes. */
    uint8_t *exact = malloc(n ? n : 1);
    uint64_t r2 = 0;
    CHECK_U64(acpi_guest_build(exact, n, gpa, g, &r2), n);
    CHECK(!memcmp(exact, big, n));
    /* One byte short: refused. */
    CHECK_U64(acpi_guest_build(exact, n - 1, gpa, g, &r2), 0);
    free(big);
    mem = exact, mem_gpa = gpa, mem_len = n;

    /* ACPI 6.5 5.2.5.3: RSDP. */
    const uint8_t *r = at(rsdp_gpa, 36);
    CHECK(r != NULL);
    if (!r)
        goto out;
    CHECK_U64(rsdp_gpa % 16, 0);
    CHECK(!memcmp(r, "RSD PTR ", 8));
    CHECK_U64(sum(r, 20), 0);
    CHECK_U64(sum(r, 36), 0);
    CHECK(!memcmp(r + 9, oem, 6));
    CHECK_U64(r[15], 2);
    CHECK_U64(rd32(r + 20), 36);
    CHECK_U64(r[33] | r[34] | r[35], 0);
    uint64_t xsdt_gpa = rd64(r + 24);
    uint32_t rsdt_gpa = rd32(r + 16);

    /* ACPI 6.5 5.2.8: XSDT, then each table by signature. */
    const uint8_t *x = table(xsdt_gpa, "XSDT", 1, oem);
    const uint8_t *rs = table(rsdt_gpa, "RSDT", 1, oem);
    if (!x || !rs)
        goto out;
    uint32_t xn = (rd32(x + 4) - 36) / 8, rn = (rd32(rs + 4) - 36) / 4;
    CHECK_U64(rd32(x + 4), 36 + 8 * 2);
    CHECK_U64(xn, 2);
    CHECK_U64(rn, xn);
    const uint8_t *fadt = NULL, *madt = NULL;
    for (uint32_t i = 0; i < xn; i++) {
        uint64_t p = rd64(x + 36 + 8 * i);
        CHECK_U64(i < rn ? rd32(rs + 36 + 4 * i) : 0, p); /* the RSDT says the same */
        const uint8_t *t = at(p, 4);
        CHECK(t != NULL);
        if (!t)
            continue;
        if (!memcmp(t, "FACP", 4)) {
            CHECK(fadt == NULL);
            fadt = table(p, "FACP", 6, oem);
        } else if (!memcmp(t, "APIC", 4)) {
            CHECK(madt == NULL);
            madt = table(p, "APIC", 6, oem);
        } else
            CHECK(0);
    }
    CHECK(fadt && madt);
    if (fadt)
        check_fadt(fadt, oem);
    if (madt)
        check_madt(madt, w);
    /* Nothing overlaps: FADT, DSDT, MADT, FACS, RSDT, XSDT are disjoint. */
    if (fadt && madt) {
        uint64_t s[6] = {xsdt_gpa, rsdt_gpa, (uint64_t)(fadt - mem) + gpa, rd32(fadt + 40),
                         (uint64_t)(madt - mem) + gpa, rd32(fadt + 36)};
        uint64_t l[6];
        for (int i = 0; i < 6; i++)
            l[i] = rd32(mem + (s[i] - gpa) + 4);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < i; j++)
                CHECK(s[i] + l[i] <= s[j] || s[j] + l[j] <= s[i]);
        for (int i = 0; i < 6; i++)
            CHECK(s[i] >= gpa + 36);
    }
out:
    free(exact);
    mem = NULL;
}

static struct acpi_guest guest(unsigned ncpus, const uint32_t *ids, const char *oem)
{
    struct acpi_guest g;
    memset(&g, 0, sizeof(g));
    g.ncpus = ncpus;
    for (unsigned i = 0; i < ncpus && i < ACPI_GUEST_MAX_CPUS; i++)
        g.apic_id[i] = ids[i];
    g.lapic_base = 0xfee00000;
    g.ioapic_base = 0xfec00000;
    g.ioapic_id = (uint8_t)ncpus; /* the I/O APIC after the CPUs, as firmware does */
    strcpy(g.oem_id, oem);
    return g;
}

static void invalid(void)
{
    static const uint32_t ids[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t *buf = malloc(BUF_CAP);
    uint64_t r = 0x1234;
    struct acpi_guest g = guest(1, ids, "HOPVM ");
    CHECK(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, &r) > 0);
    /* Too small, down to nothing. */
    CHECK_U64(acpi_guest_build(buf, 0, 0xe0000, &g, &r), 0);
    CHECK_U64(acpi_guest_build(buf, 36, 0xe0000, &g, &r), 0);
    CHECK_U64(acpi_guest_build(buf, 512, 0xe0000, &g, &r), 0);
    /* No CPUs, too many. */
    g.ncpus = 0;
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, &r), 0);
    g.ncpus = ACPI_GUEST_MAX_CPUS + 1;
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, &r), 0);
    g.ncpus = 1;
    /* Misaligned. */
    for (uint64_t off = 1; off < 16; off++)
        CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000 + off, &g, &r), 0);
    /* Above 4 GiB, or running past it; just below is fine. */
    const uint64_t four_g = 1ull << 32;
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, four_g, &g, &r), 0);
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, four_g - 256, &g, &r), 0);
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, UINT64_MAX - 15, &g, &r), 0);
    size_t n = acpi_guest_build(buf, BUF_CAP, four_g - 4096, &g, &r);
    CHECK(n > 0);
    CHECK_U64(r, four_g - 4096);
    /* Ending exactly at 4 GiB is allowed, 64 bytes further is not. The
     * FACS is last and 64-byte aligned, so from a 64-byte-aligned gpa the
     * block is a multiple of 64 bytes and moves as a whole. */
    CHECK_U64(n % 64, 0);
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, four_g - n, &g, &r), n);
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, four_g - n + 64, &g, &r), 0);
    /* APIC addresses the MADT cannot hold, duplicate APIC IDs. */
    g.lapic_base = four_g;
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, &r), 0);
    g = guest(1, ids, "HOPVM ");
    g.ioapic_base = four_g + 0xfec00000;
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, &r), 0);
    static const uint32_t dup[2] = {3, 3};
    g = guest(2, dup, "HOPVM ");
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, &r), 0);
    /* NULLs. */
    g = guest(1, ids, "HOPVM ");
    CHECK_U64(acpi_guest_build(buf, BUF_CAP, 0xe0000, NULL, &r), 0);
    CHECK_U64(acpi_guest_build(NULL, BUF_CAP, 0xe0000, &g, &r), 0);
    CHECK(acpi_guest_build(buf, BUF_CAP, 0xe0000, &g, NULL) > 0);
    free(buf);
}

int main(void)
{
    static const uint32_t one[1] = {0};
    static const uint32_t eight[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    static const uint32_t sparse[8] = {0, 2, 4, 6, 254, 255, 256, 0x1000};

    struct acpi_guest g1 = guest(1, one, "HOPVM ");
    struct madt_want w1 = {1, one, 1};
    /* Every 16-byte alignment modulo 64, so the FACS padding varies. */
    for (uint64_t gpa = 0xe0000; gpa < 0xe0040; gpa += 16)
        build_and_walk(gpa, &g1, "HOPVM ", &w1);

    struct acpi_guest g8 = guest(8, eight, "HOPVM ");
    struct madt_want w8 = {8, eight, 8};
    build_and_walk(0xe0000, &g8, "HOPVM ", &w8);
    build_and_walk(0x9fc00, &g8, "HOPVM ", &w8);

    /* APIC IDs 255 and up become x2APIC entries, with an x2APIC NMI. */
    struct acpi_guest gx = guest(8, sparse, "AB");
    struct madt_want wx = {8, sparse, 8};
    build_and_walk(0xe0010, &gx, "AB    ", &wx);

    /* Sizes: 1 CPU at a 64-byte-aligned gpa, 8 CPUs. */
    uint8_t buf[BUF_CAP];
    uint64_t r;
    size_t n1 = acpi_guest_build(buf, sizeof(buf), 0xe0000, &g1, &r);
    size_t n8 = acpi_guest_build(buf, sizeof(buf), 0xe0000, &g8, &r);
    CHECK(n1 > 0 && n1 <= 1024);
    CHECK(n8 >= n1 + 7 * 8 && n8 <= 1024);

    invalid();
    return check_report("test_acpi_guest");
}
