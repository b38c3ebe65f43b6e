/* The guest's ACPI tables (include/hopvm/acpi_guest.h), written byte by
 * byte in little-endian order so the layout is the spec's and not the
 * compiler's. One contiguous block, each piece 16-byte aligned:
 *
 *   RSDP  36 bytes   ACPI 6.5 5.2.5.3 (at the start: the 16-byte boundary
 *                    the BIOS-area scan of 5.2.5.1 wants)
 *   RSDT  44         5.2.7: FADT, MADT (32-bit pointers)
 *   XSDT  52         5.2.8: FADT, MADT (64-bit pointers)
 *   FADT  276        5.2.9, revision 6.5
 *   DSDT  51         5.2.11.1: \_S5 only
 *   MADT  44 + 8 per CPU + 38 (+ 8 per x2APIC CPU, + 12 if any)  5.2.12
 *   FACS  64         5.2.10, on a 64-byte guest-physical boundary
 *
 * The RSDT duplicates the XSDT for OSes and loaders that only know ACPI
 * 1.0 (an OS that understands revision 2 uses the XSDT, 5.2.5.3); it costs
 * 44 bytes, and the tables live below 4 GiB anyway because the FADT's
 * FIRMWARE_CTRL and DSDT are 32-bit too.
 *
 * The platform described: no SMM (SMI_CMD 0, so OSPM finds the machine
 * already in ACPI mode, 4.8.2.1 / 5.2.9), the PM1a event and control
 * blocks and the 24-bit PM timer at GUEST_PM_BASE, no GPE blocks, the
 * reset register at 0xcf9, the PC/AT legacy devices (two 8259s, 8254,
 * CMOS RTC), one I/O APIC and no PCI. */
#include <hopvm/acpi_guest.h>
#include <hopvm/lib.h>
#include <stdbool.h>

/* ACPI 6.5 5.2.5.3: RSDP */
#define RSDP_SIG            "RSD PTR "
#define RSDP_CHECKSUM       8
#define RSDP_OEMID          9
#define RSDP_REVISION       15
#define RSDP_RSDT           16
#define RSDP_LENGTH         20
#define RSDP_XSDT           24
#define RSDP_EXT_CHECKSUM   32
#define RSDP_V1_LEN         20  /* the ACPI 1.0 part the first checksum covers */
#define RSDP_LEN            36
#define RSDP_REV_ACPI2      2

/* ACPI 6.5 5.2.6: the system description table header */
#define SDT_SIG             0
#define SDT_LENGTH          4
#define SDT_REVISION        8
#define SDT_CHECKSUM        9
#define SDT_OEMID           10
#define SDT_OEM_TABLE_ID    16
#define SDT_OEM_REVISION    24
#define SDT_CREATOR_ID      28
#define SDT_CREATOR_REV     32
#define SDT_HDR_LEN         36
#define OEMID_LEN           6
#define OEM_TABLE_ID        "HOPVM   "
#define OEM_TABLE_ID_LEN    8
#define OEM_REVISION        1
#define CREATOR_ID          "HOPV"  /* for the DSDT also the "ASL compiler" */
#define CREATOR_REVISION    1
#define SIG_LEN             4

/* ACPI 6.5 5.2.7 / 5.2.8: RSDT and XSDT, revision 1, two entries each */
#define RSDT_REVISION       1
#define XSDT_REVISION       1
#define ROOT_ENTRIES        2   /* FADT, MADT */
#define RSDT_LEN            (SDT_HDR_LEN + ROOT_ENTRIES * 4)
#define XSDT_LEN            (SDT_HDR_LEN + ROOT_ENTRIES * 8)

/* ACPI 6.5 5.2.3.2: Generic Address Structure */
#define GAS_SPACE           0
#define GAS_BIT_WIDTH       1
#define GAS_BIT_OFFSET      2
#define GAS_ACCESS_SIZE     3
#define GAS_ADDRESS         4
#define GAS_SPACE_IO        1
#define GAS_ACCESS_BYTE     1
#define GAS_ACCESS_WORD     2
#define GAS_ACCESS_DWORD    3

/* ACPI 6.5 5.2.9 table 5.9: FADT, major version 6, minor 5 */
#define FADT_LEN            276
#define FADT_REVISION       6
#define FADT_MINOR_VERSION  5   /* bits 3:0 minor, 7:4 errata (0) */
enum {
    FADT_FIRMWARE_CTRL = 36, FADT_DSDT = 40, FADT_PM_PROFILE = 45, FADT_SCI_INT = 46,
    FADT_SMI_CMD = 48, FADT_PM1A_EVT_BLK = 56, FADT_PM1A_CNT_BLK = 64, FADT_PM_TMR_BLK = 76,
    FADT_PM1_EVT_LEN = 88, FADT_PM1_CNT_LEN = 89, FADT_PM_TMR_LEN = 91,
    FADT_P_LVL2_LAT = 96, FADT_P_LVL3_LAT = 98, FADT_CENTURY = 108, FADT_IAPC_BOOT_ARCH = 109,
    FADT_FLAGS = 112, FADT_RESET_REG = 116, FADT_RESET_VALUE = 128, FADT_MINOR = 131,
    FADT_X_FIRMWARE_CTRL = 132, FADT_X_DSDT = 140, FADT_X_PM1A_EVT_BLK = 148,
    FADT_X_PM1A_CNT_BLK = 172, FADT_X_PM_TMR_BLK = 208, FADT_HYPERVISOR_ID = 268,
};
#define PM_PROFILE_UNSPECIFIED 0
#define PM1_EVT_LEN         4   /* PM1_STS + PM1_EN, 16 bits each (4.8.3.1) */
#define PM1_CNT_LEN         2
#define PM_TMR_LEN          4
#define P_LVL2_LAT_NONE     101   /* > 100: no C2 */
#define P_LVL3_LAT_NONE     1001  /* > 1000: no C3 */
#define CMOS_CENTURY        0x32  /* the RTC's century byte (vmm/mc146818.c) */
#define BITS_PER_BYTE       8
/* Table 5.10: fixed feature flags. TMR_VAL_EXT (bit 8) stays clear: the
 * PM timer counts 24 bits. PWR_BUTTON (bit 4) clear: a fixed-feature power
 * button in PM1, which OSPM may enable. SLP_BUTTON (bit 5) set: none. */
#define FADT_F_WBINVD       (1u << 0)
#define FADT_F_PROC_C1      (1u << 2)
#define FADT_F_SLP_BUTTON   (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_FLAGS_VALUE    (FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP)
/* Table 5.11: IA-PC boot architecture flags. The legacy ISA devices are
 * there; no VGA; no PCI, so no MSI; the CMOS RTC is present (bit 5 "CMOS
 * RTC Not Present" clear). The 8042 flag stays clear: only its reset line
 * is emulated, and with the flag set Linux probes for a keyboard
 * controller for most of a second (i8042: "Can't read CTR"). */
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_VGA_NOT_PRESENT (1u << 2)
#define BOOT_MSI_NOT_SUPPORTED (1u << 3)
#define IAPC_BOOT_ARCH_VALUE (BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT | BOOT_MSI_NOT_SUPPORTED)
#define RESET_REG_BITS      8

/* ACPI 6.5 5.2.10 table 5.14: FACS */
#define FACS_LEN            64
#define FACS_ALIGN          64
#define FACS_LENGTH         4
#define FACS_VERSION        32
#define FACS_VERSION_VALUE  2

/* ACPI 6.5 5.2.11.1: DSDT. Revision 2: AML integers are 64 bits. */
#define DSDT_REVISION       2

/* ACPI 6.5 20.2: the AML encodings the DSDT uses */
#define AML_ZERO_OP         0x00
#define AML_NAME_OP         0x08  /* 20.2.5.1 DefName */
#define AML_BYTE_PREFIX     0x0a  /* 20.2.3 ByteConst */
#define AML_PACKAGE_OP      0x12  /* 20.2.5.4 DefPackage */
#define AML_ROOT_CHAR       0x5c  /* 20.2.2 '\' */
#define S5_NUM_ELEMENTS     4
#define S5_PKG_LENGTH       8     /* 20.2.4: one-byte form, counts itself */
#define S5_PKG_START        7     /* the PkgLength byte's index below */

/* Name (\_S5, Package (0x04) { 0x05, 0x05, Zero, Zero }): SLP_TYPa and
 * SLP_TYPb for S5 (7.4.2.5), then two reserved values. */
static const uint8_t dsdt_aml[] = {
    AML_NAME_OP, AML_ROOT_CHAR, '_', 'S', '5', '_',
    AML_PACKAGE_OP, S5_PKG_LENGTH, S5_NUM_ELEMENTS,
    AML_BYTE_PREFIX, GUEST_SLP_TYP_S5, AML_BYTE_PREFIX, GUEST_SLP_TYP_S5, AML_ZERO_OP, AML_ZERO_OP,
};
_Static_assert(sizeof(dsdt_aml) - S5_PKG_START == S5_PKG_LENGTH, "PkgLength covers itself and the package");
#define DSDT_LEN            (SDT_HDR_LEN + sizeof(dsdt_aml))

/* ACPI 6.5 5.2.12 table 5.19: MADT */
#define MADT_REVISION       6
#define MADT_LAPIC_ADDR     36
#define MADT_FLAGS          40
#define MADT_HDR_LEN        44
#define MADT_PCAT_COMPAT    (1u << 0)  /* dual 8259s: mask them to use the APICs */
/* 5.2.12.2: Processor Local APIC */
#define MADT_LAPIC          0
#define MADT_LAPIC_LEN      8
#define LAPIC_ENABLED       (1u << 0)
/* 5.2.12.12: an APIC ID of 255 or more needs a Processor Local x2APIC */
#define MADT_X2APIC         9
#define MADT_X2APIC_LEN     16
#define X2APIC_MIN_ID       255
/* 5.2.12.3: I/O APIC, its pins from GSI 0 */
#define MADT_IOAPIC         1
#define MADT_IOAPIC_LEN     12
#define IOAPIC_GSI_BASE     0
/* 5.2.12.5: Interrupt Source Override, table 5.26 MPS INTI flags */
#define MADT_ISO            2
#define MADT_ISO_LEN        10
#define ISO_BUS_ISA         0
#define INTI_CONFORMS       0x0
#define INTI_ACTIVE_HIGH    0x1
#define INTI_LEVEL          (0x3 << 2)
#define ISA_IRQ_PIT         0
#define GSI_PIT             2   /* the PIT on I/O APIC pin 2, as since the PIIX */
#define MADT_ISO_COUNT      2   /* the PIT and the SCI */
/* 5.2.12.7 / 5.2.12.13: Local (x2)APIC NMI, for every processor */
#define MADT_LAPIC_NMI      4
#define MADT_LAPIC_NMI_LEN  6
#define MADT_X2APIC_NMI     0x0a
#define MADT_X2APIC_NMI_LEN 12
#define NMI_ALL_UID         0xff
#define NMI_ALL_UID32       0xffffffffu
#define NMI_LINT1           1

#define TABLE_ALIGN         16
#define U32_LIMIT           GiB(4)

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* ACPI 6.5 5.2.5.3 / 5.2.6: the byte that makes len bytes sum to zero.
 * The field itself must still be zero when this runs. */
static uint8_t checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

/* OEM IDs are fixed-width and space-padded, not NUL-terminated. */
static void put_oemid(uint8_t *p, const char *oem)
{
    size_t n = 0;
    while (n < OEMID_LEN && oem[n])
        n++;
    memcpy(p, oem, n);
    memset(p + n, ' ', OEMID_LEN - n);
}

/* ACPI 6.5 5.2.6: the 36-byte header; the checksum comes last (seal). */
static void put_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev, const struct acpi_guest *g)
{
    memcpy(t + SDT_SIG, sig, SIG_LEN);
    put32(t + SDT_LENGTH, len);
    t[SDT_REVISION] = rev;
    put_oemid(t + SDT_OEMID, g->oem_id);
    memcpy(t + SDT_OEM_TABLE_ID, OEM_TABLE_ID, OEM_TABLE_ID_LEN);
    put32(t + SDT_OEM_REVISION, OEM_REVISION);
    memcpy(t + SDT_CREATOR_ID, CREATOR_ID, SIG_LEN);
    put32(t + SDT_CREATOR_REV, CREATOR_REVISION);
}

static void seal(uint8_t *t, uint32_t len) { t[SDT_CHECKSUM] = checksum(t, len); }

/* ACPI 6.5 5.2.3.2: a port-I/O register. */
static void put_gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint16_t port)
{
    p[GAS_SPACE] = GAS_SPACE_IO;
    p[GAS_BIT_WIDTH] = bits;
    p[GAS_BIT_OFFSET] = 0;
    p[GAS_ACCESS_SIZE] = access;
    put64(p + GAS_ADDRESS, port);
}

static bool needs_x2apic(uint32_t id) { return id >= X2APIC_MIN_ID; }

static bool any_x2apic(const struct acpi_guest *g)
{
    for (unsigned i = 0; i < g->ncpus; i++)
        if (needs_x2apic(g->apic_id[i]))
            return true;
    return false;
}

static uint32_t madt_len(const struct acpi_guest *g)
{
    uint32_t len = MADT_HDR_LEN + MADT_IOAPIC_LEN + MADT_ISO_COUNT * MADT_ISO_LEN + MADT_LAPIC_NMI_LEN;
    for (unsigned i = 0; i < g->ncpus; i++)
        len += needs_x2apic(g->apic_id[i]) ? MADT_X2APIC_LEN : MADT_LAPIC_LEN;
    return any_x2apic(g) ? len + MADT_X2APIC_NMI_LEN : len;
}

/* The input checks the header promises, plus what the MADT can express:
 * 32-bit APIC addresses (no Local APIC Address Override) and distinct
 * APIC IDs. */
static bool valid(const struct acpi_guest *g)
{
    if (!g || g->ncpus == 0 || g->ncpus > ACPI_GUEST_MAX_CPUS)
        return false;
    if (g->lapic_base >= U32_LIMIT || g->ioapic_base >= U32_LIMIT)
        return false;
    for (unsigned i = 0; i < g->ncpus; i++)
        for (unsigned j = 0; j < i; j++)
            if (g->apic_id[i] == g->apic_id[j])
                return false;
    return true;
}

/* ACPI 6.5 5.2.9: FADT */
static void build_fadt(uint8_t *t, const struct acpi_guest *g, uint32_t facs, uint32_t dsdt)
{
    put_header(t, "FACP", FADT_LEN, FADT_REVISION, g);
    /* 5.2.9: both the 32- and 64-bit FACS and DSDT pointers, equal, so an
     * OSPM that reads either finds the same tables. */
    put32(t + FADT_FIRMWARE_CTRL, facs);
    put32(t + FADT_DSDT, dsdt);
    put64(t + FADT_X_FIRMWARE_CTRL, facs);
    put64(t + FADT_X_DSDT, dsdt);
    t[FADT_PM_PROFILE] = PM_PROFILE_UNSPECIFIED;
    put16(t + FADT_SCI_INT, GUEST_SCI_IRQ);
    put32(t + FADT_SMI_CMD, 0); /* no SMM: ACPI_ENABLE/DISABLE stay 0 too */
    put32(t + FADT_PM1A_EVT_BLK, GUEST_PM1A_EVT);
    put32(t + FADT_PM1A_CNT_BLK, GUEST_PM1A_CNT);
    put32(t + FADT_PM_TMR_BLK, GUEST_PM_TMR);
    t[FADT_PM1_EVT_LEN] = PM1_EVT_LEN;
    t[FADT_PM1_CNT_LEN] = PM1_CNT_LEN;
    t[FADT_PM_TMR_LEN] = PM_TMR_LEN;
    put16(t + FADT_P_LVL2_LAT, P_LVL2_LAT_NONE);
    put16(t + FADT_P_LVL3_LAT, P_LVL3_LAT_NONE);
    t[FADT_CENTURY] = CMOS_CENTURY;
    put16(t + FADT_IAPC_BOOT_ARCH, IAPC_BOOT_ARCH_VALUE);
    put32(t + FADT_FLAGS, FADT_FLAGS_VALUE);
    put_gas_io(t + FADT_RESET_REG, RESET_REG_BITS, GAS_ACCESS_BYTE, GUEST_RESET_PORT);
    t[FADT_RESET_VALUE] = GUEST_RESET_VAL;
    t[FADT_MINOR] = FADT_MINOR_VERSION;
    /* The X_ blocks repeat the 32-bit ones with their widths (4.8.3): the
     * PM1 registers are 16-bit, the timer 32-bit. */
    put_gas_io(t + FADT_X_PM1A_EVT_BLK, PM1_EVT_LEN * BITS_PER_BYTE, GAS_ACCESS_WORD, GUEST_PM1A_EVT);
    put_gas_io(t + FADT_X_PM1A_CNT_BLK, PM1_CNT_LEN * BITS_PER_BYTE, GAS_ACCESS_WORD, GUEST_PM1A_CNT);
    put_gas_io(t + FADT_X_PM_TMR_BLK, PM_TMR_LEN * BITS_PER_BYTE, GAS_ACCESS_DWORD, GUEST_PM_TMR);
    /* 5.2.9: "Hypervisor Vendor Identity", free-form, the vendor's name. */
    memcpy(t + FADT_HYPERVISOR_ID, OEM_TABLE_ID, OEM_TABLE_ID_LEN);
    seal(t, FADT_LEN);
}

/* ACPI 6.5 5.2.12: MADT */
static void build_madt(uint8_t *t, const struct acpi_guest *g, uint32_t len)
{
    put_header(t, "APIC", len, MADT_REVISION, g);
    put32(t + MADT_LAPIC_ADDR, (uint32_t)g->lapic_base);
    put32(t + MADT_FLAGS, MADT_PCAT_COMPAT);
    uint8_t *p = t + MADT_HDR_LEN;
    /* Processor UIDs are the CPU indices; the DSDT declares no processor
     * objects for them to match, which Linux does not need. */
    for (unsigned i = 0; i < g->ncpus; i++) {
        if (needs_x2apic(g->apic_id[i])) {
            p[0] = MADT_X2APIC, p[1] = MADT_X2APIC_LEN; /* 2..3 reserved */
            put32(p + 4, g->apic_id[i]);
            put32(p + 8, LAPIC_ENABLED);
            put32(p + 12, i);
        } else {
            p[0] = MADT_LAPIC, p[1] = MADT_LAPIC_LEN;
            p[2] = (uint8_t)i;
            p[3] = (uint8_t)g->apic_id[i];
            put32(p + 4, LAPIC_ENABLED); /* Online Capable must be 0 with Enabled */
        }
        p += p[1];
    }
    p[0] = MADT_IOAPIC, p[1] = MADT_IOAPIC_LEN;
    p[2] = g->ioapic_id; /* 3 reserved */
    put32(p + 4, (uint32_t)g->ioapic_base);
    put32(p + 8, IOAPIC_GSI_BASE);
    p += MADT_IOAPIC_LEN;
    /* The PIT's IRQ 0 is on pin 2 (pin 0 is the 8259's ExtINT). The SCI:
     * 5.2.9 has OSPM treat it as level, active low unless an override says
     * otherwise; this one says level, active high, as on the PIIX4/ICH
     * and QEMU, so the PM model drives pin 9 high while an event is on. */
    static const struct { uint8_t irq; uint32_t gsi; uint16_t flags; } iso[MADT_ISO_COUNT] = {
        {ISA_IRQ_PIT, GSI_PIT, INTI_CONFORMS},
        {GUEST_SCI_IRQ, GUEST_SCI_IRQ, INTI_ACTIVE_HIGH | INTI_LEVEL},
    };
    for (size_t k = 0; k < ARRAY_SIZE(iso); k++) {
        p[0] = MADT_ISO, p[1] = MADT_ISO_LEN;
        p[2] = ISO_BUS_ISA;
        p[3] = iso[k].irq;
        put32(p + 4, iso[k].gsi);
        put16(p + 8, iso[k].flags);
        p += MADT_ISO_LEN;
    }
    /* Every processor's LINT1 is NMI, as on the PC (MP spec 1.4 5.1). */
    p[0] = MADT_LAPIC_NMI, p[1] = MADT_LAPIC_NMI_LEN;
    p[2] = NMI_ALL_UID;
    put16(p + 3, INTI_CONFORMS);
    p[5] = NMI_LINT1;
    p += MADT_LAPIC_NMI_LEN;
    if (any_x2apic(g)) {
        p[0] = MADT_X2APIC_NMI, p[1] = MADT_X2APIC_NMI_LEN;
        put16(p + 2, INTI_CONFORMS);
        put32(p + 4, NMI_ALL_UID32);
        p[8] = NMI_LINT1; /* 9..11 reserved */
    }
    seal(t, len);
}

struct layout {
    size_t rsdt, xsdt, fadt, dsdt, madt, facs, end;
    uint32_t madt_len;
};

/* Offsets in buf; alignment is of the guest-physical address. */
static size_t place(uint64_t gpa, size_t off, size_t align)
{
    return (size_t)(ALIGN_UP(gpa + off, (uint64_t)align) - gpa);
}

size_t acpi_guest_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_guest *g, uint64_t *rsdp_gpa)
{
    if (!buf || !valid(g) || gpa % TABLE_ALIGN || gpa >= U32_LIMIT)
        return 0;
    struct layout l;
    l.madt_len = madt_len(g);
    l.rsdt = place(gpa, RSDP_LEN, TABLE_ALIGN);
    l.xsdt = place(gpa, l.rsdt + RSDT_LEN, TABLE_ALIGN);
    l.fadt = place(gpa, l.xsdt + XSDT_LEN, TABLE_ALIGN);
    l.dsdt = place(gpa, l.fadt + FADT_LEN, TABLE_ALIGN);
    l.madt = place(gpa, l.dsdt + DSDT_LEN, TABLE_ALIGN);
    l.facs = place(gpa, l.madt + l.madt_len, FACS_ALIGN);
    l.end = l.facs + FACS_LEN;
    /* Every pointer but the XSDT's is 32 bits: the whole block below 4 GiB. */
    if (cap < l.end || gpa + l.end > U32_LIMIT)
        return 0;
    memset(buf, 0, l.end);
    const uint32_t base = (uint32_t)gpa;

    /* ACPI 6.5 5.2.8 / 5.2.7: XSDT and RSDT, the same two tables. */
    const uint32_t entries[ROOT_ENTRIES] = {base + (uint32_t)l.fadt, base + (uint32_t)l.madt};
    uint8_t *rsdt = buf + l.rsdt, *xsdt = buf + l.xsdt;
    put_header(rsdt, "RSDT", RSDT_LEN, RSDT_REVISION, g);
    put_header(xsdt, "XSDT", XSDT_LEN, XSDT_REVISION, g);
    for (size_t k = 0; k < ROOT_ENTRIES; k++) {
        put32(rsdt + SDT_HDR_LEN + 4 * k, entries[k]);
        put64(xsdt + SDT_HDR_LEN + 8 * k, entries[k]);
    }
    seal(rsdt, RSDT_LEN);
    seal(xsdt, XSDT_LEN);

    build_fadt(buf + l.fadt, g, base + (uint32_t)l.facs, base + (uint32_t)l.dsdt);

    /* ACPI 6.5 5.2.11.1: DSDT, a header and the definition block's AML. */
    uint8_t *dsdt = buf + l.dsdt;
    put_header(dsdt, "DSDT", DSDT_LEN, DSDT_REVISION, g);
    memcpy(dsdt + SDT_HDR_LEN, dsdt_aml, sizeof(dsdt_aml));
    seal(dsdt, DSDT_LEN);

    build_madt(buf + l.madt, g, l.madt_len);

    /* ACPI 6.5 5.2.10: FACS. No checksum; the hardware signature, waking
     * vectors, global lock and flags start at zero (no S4BIOS, no 64-bit
     * wake). */
    uint8_t *facs = buf + l.facs;
    memcpy(facs, "FACS", SIG_LEN);
    put32(facs + FACS_LENGTH, FACS_LEN);
    facs[FACS_VERSION] = FACS_VERSION_VALUE;

    /* ACPI 6.5 5.2.5.3: RSDP, the first checksum over the ACPI 1.0 part,
     * the extended one over all of it. */
    uint8_t *rsdp = buf;
    memcpy(rsdp, RSDP_SIG, sizeof(RSDP_SIG) - 1);
    put_oemid(rsdp + RSDP_OEMID, g->oem_id);
    rsdp[RSDP_REVISION] = RSDP_REV_ACPI2;
    put32(rsdp + RSDP_RSDT, base + (uint32_t)l.rsdt);
    put32(rsdp + RSDP_LENGTH, RSDP_LEN);
    put64(rsdp + RSDP_XSDT, base + (uint64_t)l.xsdt);
    rsdp[RSDP_CHECKSUM] = checksum(rsdp, RSDP_V1_LEN);
    rsdp[RSDP_EXT_CHECKSUM] = checksum(rsdp, RSDP_LEN);

    if (rsdp_gpa)
        *rsdp_gpa = gpa;
    return l.end;
}
