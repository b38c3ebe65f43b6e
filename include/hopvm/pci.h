/* PCI: configuration access (ECAM from the ACPI MCFG table, or the legacy
 * 0xCF8/0xCFC ports), enumeration, BARs and capabilities (PCI Local Bus
 * 3.0 ch. 6; PCI Express Base 4.0 7.2.2 for ECAM). */
#ifndef HOPVM_PCI_H
#define HOPVM_PCI_H
#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 64
#define PCI_MAX_CAPS 16

enum pci_bar_kind { BAR_NONE, BAR_MEM32, BAR_MEM64, BAR_IO };

struct pci_bar {
    uint8_t kind;       /* enum pci_bar_kind */
    bool prefetch;
    uint64_t base;
    uint64_t size;
};

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type;
    uint8_t irq_line, irq_pin;
    struct pci_bar bar[6];
    uint8_t ncaps;
    uint8_t cap_id[PCI_MAX_CAPS];
    uint8_t cap_off[PCI_MAX_CAPS];
    const char *driver; /* NULL: no driver took it */
};

/* Pure: decodes a BAR from its value and what reads back after writing
 * all ones (hi/hi_mask: the upper half of a 64-bit BAR). */
void pci_bar_decode(uint32_t val, uint32_t mask, uint32_t hi, uint32_t hi_mask, struct pci_bar *out);

/* drivers/pci.c */
void pci_init(uint64_t ecam_base, uint8_t bus_start, uint8_t bus_end);
const char *pci_access_method(void);
unsigned pci_count(void);
struct pci_dev *pci_at(unsigned i);
uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id); /* offset, 0 if absent */
const char *pci_class_name(uint8_t class_code, uint8_t subclass);

/* drivers/pci_msi.c: message-signalled interrupts to this CPU's local
 * APIC, edge-triggered, fixed delivery. -1 if the device lacks the
 * capability (the driver then polls only). */
#define PCI_CAP_MSI  0x05
#define PCI_CAP_MSIX 0x11
int pci_msi_enable(struct pci_dev *d, uint8_t vector);
/* Programs MSI-X table entry `entry` and enables MSI-X; entries not
 * programmed stay masked. */
int pci_msix_enable(struct pci_dev *d, unsigned entry, uint8_t vector);

#endif
