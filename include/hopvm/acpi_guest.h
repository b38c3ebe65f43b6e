/* The ACPI tables hopvm builds for each guest (ACPI 6.5 chapter 5): RSDP,
 * XSDT, FADT (with FACS and DSDT), MADT and nothing the platform lacks.
 * Pure: it writes into a buffer the caller places at guest-physical `gpa`,
 * every pointer between tables in guest-physical terms. vmm/vm.c puts the
 * result in the guest's reserved BIOS area and tells a Linux guest where
 * the RSDP is (boot_params.acpi_rsdp_addr); a guest that scans
 * 0xe0000-0xfffff for "RSD PTR " finds it there too. Unit-tested on Linux
 * (tests/unit/test_acpi_guest.c), including hopvm's own \_S5 reader
 * (drivers/acpi_aml.c) on the DSDT it builds. */
#ifndef HOPVM_ACPI_GUEST_H
#define HOPVM_ACPI_GUEST_H
#include <stddef.h>
#include <stdint.h>

#define ACPI_GUEST_MAX_CPUS 8

/* The guest's fixed-hardware block (vmm/dev/pm.c): PM1a event (4 bytes),
 * PM1a control (2 bytes) and the PM timer (4 bytes, 24-bit counter), all
 * port I/O, and the reset register (port 0xcf9, value 6 = hard reset). */
#define GUEST_PM_BASE    0x600
#define GUEST_PM1A_EVT   (GUEST_PM_BASE + 0x0)
#define GUEST_PM1A_CNT   (GUEST_PM_BASE + 0x4)
#define GUEST_PM_TMR     (GUEST_PM_BASE + 0x8)
#define GUEST_PM_LEN     0xc
#define GUEST_SCI_IRQ    9
#define GUEST_RESET_PORT 0xcf9
#define GUEST_RESET_VAL  0x06
#define GUEST_SLP_TYP_S5 5      /* the \_S5 package's value, written to PM1a_CNT.SLP_TYP */

struct acpi_guest {
    unsigned ncpus;                          /* 1..ACPI_GUEST_MAX_CPUS */
    uint32_t apic_id[ACPI_GUEST_MAX_CPUS];   /* the MADT's processor entries, in order */
    uint64_t lapic_base;                     /* 0xfee00000 */
    uint64_t ioapic_base;                    /* 0xfec00000 */
    uint8_t ioapic_id;
    char oem_id[7];                          /* 6 chars + NUL, e.g. "HOPVM " */
};

/* Builds every table into buf[0, cap) as it will sit at guest-physical
 * gpa (16-byte aligned). Returns the bytes used and sets *rsdp_gpa (the
 * RSDP is at the start, so it is on a 16-byte boundary as ACPI 5.2.5.1
 * wants for the BIOS-area scan), or 0 if cap is too small or g is
 * invalid. Every table's checksum is right. */
size_t acpi_guest_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_guest *g, uint64_t *rsdp_gpa);

#endif
