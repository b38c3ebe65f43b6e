/* ACPI table discovery (ACPI 6.5 5.2): RSDP -> XSDT (or RSDT) -> FADT,
 * DSDT, HPET. Every table is length- and checksum-checked before use. */
#include <hopvm/acpi.h>
#include <hopvm/lib.h>

#define SDT_HEADER_LEN 36
#define MAX_TABLE_LEN  (16u << 20)

/* FADT field offsets, ACPI 6.5 table 5.9. */
enum {
    FADT_DSDT = 40, FADT_SMI_CMD = 48, FADT_ACPI_ENABLE = 52,
    FADT_PM1A_CNT = 64, FADT_PM1B_CNT = 68, FADT_PM_TMR = 76, FADT_PM_TMR_LEN = 91,
    FADT_FLAGS = 112, FADT_RESET_REG = 116, FADT_RESET_VALUE = 128,
    FADT_X_DSDT = 140, FADT_X_PM_TMR = 208,
};
#define FADT_TMR_VAL_EXT    (1u << 8)
#define FADT_RESET_REG_SUP  (1u << 10)
#define FADT_HW_REDUCED     (1u << 20)
#define GAS_SPACE_IO        1
#define HPET_BASE_GAS       40 /* ACPI HPET table: event timer block GAS */
#define MCFG_ENTRIES        44 /* PCI Firmware 3.2 4.1.2: 16-byte allocations */
#define MCFG_ENTRY_LEN      16

static struct acpi_info info;

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int checksum_ok(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

/* Returns the table at pa if its header and checksum are sane. */
static const uint8_t *table_at(uint64_t pa, uint32_t *len)
{
    if (!pa)
        return 0;
    const uint8_t *t = (const uint8_t *)(uintptr_t)pa;
    uint32_t l = rd32(t + 4);
    if (l < SDT_HEADER_LEN || l > MAX_TABLE_LEN || !checksum_ok(t, l))
        return 0;
    *len = l;
    return t;
}

/* Field present within the table's length (older FADT revisions are shorter). */
static int has(uint32_t len, uint32_t off, uint32_t size) { return off + size <= len; }

static void parse_fadt(const uint8_t *f, uint32_t len)
{
    uint32_t flags = has(len, FADT_FLAGS, 4) ? rd32(f + FADT_FLAGS) : 0;
    info.hw_reduced = flags & FADT_HW_REDUCED;
    info.smi_cmd = (uint16_t)rd32(f + FADT_SMI_CMD);
    info.acpi_enable = f[FADT_ACPI_ENABLE];
    info.pm1a_cnt = (uint16_t)rd32(f + FADT_PM1A_CNT);
    info.pm1b_cnt = (uint16_t)rd32(f + FADT_PM1B_CNT);
    uint32_t tmr = rd32(f + FADT_PM_TMR);
    if (has(len, FADT_X_PM_TMR, 12) && f[FADT_X_PM_TMR] == GAS_SPACE_IO && rd64(f + FADT_X_PM_TMR + 4))
        tmr = (uint32_t)rd64(f + FADT_X_PM_TMR + 4);
    if (tmr && f[FADT_PM_TMR_LEN] == 4) {
        info.pm_tmr_port = (uint16_t)tmr;
        info.pm_tmr_32bit = flags & FADT_TMR_VAL_EXT;
    }
    if ((flags & FADT_RESET_REG_SUP) && has(len, FADT_RESET_VALUE, 1)) {
        info.reset_valid = true;
        info.reset_space = f[FADT_RESET_REG];
        info.reset_addr = rd64(f + FADT_RESET_REG + 4);
        info.reset_value = f[FADT_RESET_VALUE];
    }
    uint64_t dsdt = rd32(f + FADT_DSDT);
    if (has(len, FADT_X_DSDT, 8) && rd64(f + FADT_X_DSDT))
        dsdt = rd64(f + FADT_X_DSDT);
    uint32_t dlen;
    const uint8_t *d = table_at(dsdt, &dlen);
    if (d && acpi_find_s5(d + SDT_HEADER_LEN, dlen - SDT_HEADER_LEN, &info.slp_typa, &info.slp_typb) == 0)
        info.s5_valid = true;
}

static void parse_table(const uint8_t *t, uint32_t len)
{
    info.tables++;
    if (!memcmp(t, "FACP", 4) && len >= FADT_PM_TMR_LEN + 1)
        parse_fadt(t, len);
    else if (!memcmp(t, "HPET", 4) && len >= HPET_BASE_GAS + 12 && t[HPET_BASE_GAS] == 0)
        info.hpet_base = rd64(t + HPET_BASE_GAS + 4);
    else if (!memcmp(t, "MCFG", 4)) {
        for (uint32_t off = MCFG_ENTRIES; off + MCFG_ENTRY_LEN <= len && !info.mcfg_base; off += MCFG_ENTRY_LEN) {
            uint16_t segment;
            memcpy(&segment, t + off + 8, 2);
            if (segment == 0 && t[off + 11] >= t[off + 10]) {
                info.mcfg_base = rd64(t + off);
                info.mcfg_bus_start = t[off + 10];
                info.mcfg_bus_end = t[off + 11];
            }
        }
    } else if (!memcmp(t, "SSDT", 4) && !info.s5_valid &&
             acpi_find_s5(t + SDT_HEADER_LEN, len - SDT_HEADER_LEN, &info.slp_typa, &info.slp_typb) == 0)
        info.s5_valid = true;
}

int acpi_init(uint64_t rsdp_pa)
{
    memset(&info, 0, sizeof(info));
    const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_pa;
    if (!rsdp || memcmp(rsdp, "RSD PTR ", 8) || !checksum_ok(rsdp, 20)) {
        kprintf("acpi: no valid RSDP; power-off and PM timer unavailable\n");
        return -1;
    }
    memcpy(info.oem, rsdp + 9, 6);
    /* ACPI 6.5 5.2.5.3: revision >= 2 has the 64-bit XSDT address. */
    uint64_t sdt = rd32(rsdp + 16);
    int entry = 4;
    if (rsdp[15] >= 2 && checksum_ok(rsdp, 36) && rd64(rsdp + 24)) {
        sdt = rd64(rsdp + 24);
        entry = 8;
    }
    uint32_t len;
    const uint8_t *root = table_at(sdt, &len);
    if (!root) {
        kprintf("acpi: root table at 0x%lx is invalid\n", sdt);
        return -1;
    }
    for (uint32_t off = SDT_HEADER_LEN; off + entry <= len; off += entry) {
        uint64_t pa = entry == 8 ? rd64(root + off) : rd32(root + off);
        uint32_t tlen;
        const uint8_t *t = table_at(pa, &tlen);
        if (t)
            parse_table(t, tlen);
    }
    info.present = true;
    return 0;
}

const struct acpi_info *acpi(void) { return &info; }

