/* What hopvm takes from the firmware's ACPI tables (ACPI 6.5 ch. 5). */
#ifndef HOPVM_ACPI_H
#define HOPVM_ACPI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_PM_TIMER_HZ 3579545u /* ACPI 6.5 4.8.3.3 */

struct acpi_info {
    bool present;
    char oem[7];
    uint32_t tables;      /* SDT entries seen */
    uint16_t pm_tmr_port; /* 0: no PM timer */
    bool pm_tmr_32bit;    /* FADT TMR_VAL_EXT */
    uint64_t hpet_base;   /* 0: no HPET */
    uint16_t pm1a_cnt, pm1b_cnt;
    uint16_t smi_cmd;
    uint8_t acpi_enable;
    bool s5_valid;
    uint8_t slp_typa, slp_typb;
    bool reset_valid;
    uint8_t reset_space;  /* GAS address space: 0 memory, 1 I/O */
    uint64_t reset_addr;
    uint8_t reset_value;
    bool hw_reduced;
    uint64_t mcfg_base;   /* PCIe ECAM of segment 0, 0 if none */
    uint8_t mcfg_bus_start, mcfg_bus_end;
};

/* Parses RSDP, XSDT/RSDT, FADT, DSDT (for \_S5) and HPET. Returns 0, or -1
 * with a printed reason; acpi() then reports present = false. */
int acpi_init(uint64_t rsdp);
const struct acpi_info *acpi(void);

/* ACPI 6.5 7.4.2 / 16.1.7: enter S5. Returns only on failure, with why. */
const char *acpi_poweroff(void);
/* FADT reset register, then 0xcf9, then the keyboard controller. Returns
 * only if all fail. */
void acpi_reset(void);

/* Pure: finds the \_S5 package in AML bytes and returns its first two
 * values (SLP_TYPa, SLP_TYPb). Returns 0 if found, -1 if not. */
int acpi_find_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb);

#endif
