/* MSI and MSI-X (PCI Local Bus 3.0 6.8.1 and 6.8.2). The message goes to
 * the boot CPU's local APIC: address 0xFEE00000 with the destination APIC
 * ID in bits 19:12, physical mode; data = the vector, fixed delivery, edge
 * (Intel SDM Vol.3A 11.11.1 and 11.11.2). */
#include <hopvm/lib.h>
#include <hopvm/paging.h>
#include <hopvm/pci.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define PCI_COMMAND       0x04
#define CMD_INTX_DISABLE  (1u << 10)
#define MSI_CTRL          2
#define MSI_CTRL_ENABLE   (1u << 0)
#define MSI_CTRL_MME      (7u << 4)   /* multiple message enable: 0 = one */
#define MSI_CTRL_64BIT    (1u << 7)
#define MSI_ADDR_LO       4
#define MSI_ADDR_HI       8
#define MSI_DATA_32       8
#define MSI_DATA_64       12
#define MSIX_CTRL         2
#define MSIX_CTRL_SIZE    0x7ffu     /* table size - 1 */
#define MSIX_CTRL_MASKALL (1u << 14)
#define MSIX_CTRL_ENABLE  (1u << 15)
#define MSIX_TABLE        4          /* offset | BIR in bits 2:0 */
#define MSIX_ENTRY_SIZE   16
#define MSIX_VECTOR_CTRL  12
#define MSIX_MASKED       1u
#define MSG_ADDR_BASE     0xfee00000u

static uint32_t msg_addr(void) { return MSG_ADDR_BASE | (host_lapic_id() & 0xff) << 12; }

int pci_msi_enable(struct pci_dev *d, uint8_t vector)
{
    uint8_t c = pci_find_cap(d, PCI_CAP_MSI);
    if (!c)
        return -1;
    uint16_t ctrl = pci_read16(d, c + MSI_CTRL);
    pci_write32(d, c + MSI_ADDR_LO, msg_addr());
    if (ctrl & MSI_CTRL_64BIT) {
        pci_write32(d, c + MSI_ADDR_HI, 0);
        pci_write16(d, c + MSI_DATA_64, vector);
    } else {
        pci_write16(d, c + MSI_DATA_32, vector);
    }
    pci_write16(d, c + MSI_CTRL, (uint16_t)((ctrl & ~MSI_CTRL_MME) | MSI_CTRL_ENABLE));
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | CMD_INTX_DISABLE);
    return 0;
}

int pci_msix_enable(struct pci_dev *d, unsigned entry, uint8_t vector)
{
    uint8_t c = pci_find_cap(d, PCI_CAP_MSIX);
    if (!c)
        return -1;
    uint16_t ctrl = pci_read16(d, c + MSIX_CTRL);
    uint32_t tbl = pci_read32(d, c + MSIX_TABLE);
    unsigned bir = tbl & 7, size = (ctrl & MSIX_CTRL_SIZE) + 1u;
    uint64_t off = tbl & ~7u;
    if (entry >= size || bir > 5 || d->bar[bir].kind == BAR_NONE || d->bar[bir].kind == BAR_IO ||
        off + (uint64_t)size * MSIX_ENTRY_SIZE > d->bar[bir].size ||
        paging_map_mmio(d->bar[bir].base, d->bar[bir].size))
        return -1;
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | (1u << 1)); /* memory space */
    /* 6.8.2.3: enable with the function masked, program, then unmask. */
    pci_write16(d, c + MSIX_CTRL, (uint16_t)(ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL));
    uint64_t base = d->bar[bir].base + off;
    for (unsigned i = 0; i < size; i++)
        mmio_write32(base + i * MSIX_ENTRY_SIZE + MSIX_VECTOR_CTRL, MSIX_MASKED);
    uint64_t e = base + (uint64_t)entry * MSIX_ENTRY_SIZE;
    mmio_write32(e + 0, msg_addr());
    mmio_write32(e + 4, 0);
    mmio_write32(e + 8, vector);
    mmio_write32(e + MSIX_VECTOR_CTRL, 0);
    pci_write16(d, c + MSIX_CTRL, (uint16_t)((ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL));
    pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | CMD_INTX_DISABLE);
    return 0;
}
