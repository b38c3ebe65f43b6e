/* PCI enumeration. Configuration space through ECAM when the firmware's
 * MCFG table gives one (PCIe Base 4.0 7.2.2: bus << 20 | dev << 15 |
 * fn << 12), else through the legacy 0xCF8/0xCFC mechanism #1 (PCI Local
 * Bus 3.0 3.2.2.3.2). Buses are found by following bridges from bus 0. */
#include <hopvm/lib.h>
#include <hopvm/paging.h>
#include <hopvm/pci.h>
#include <hopvm/x86.h>

#define CFG_ADDR 0xcf8
#define CFG_DATA 0xcfc
#define CFG_ENABLE 0x80000000u
#define PCI_VENDOR 0x00
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REV 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT 0x3c
#define STATUS_CAP_LIST (1u << 4)
#define CMD_IO (1u << 0)
#define CMD_MEM (1u << 1)
#define HDR_MULTIFN 0x80
#define HDR_TYPE_MASK 0x7f
#define HDR_BRIDGE 0x01
#define MAX_DEPTH 8

static struct pci_dev devs[PCI_MAX_DEVICES];
static unsigned ndevs;
static uint64_t ecam;
static uint8_t bus_lo, bus_hi;
static bool bus_seen[256];

static uint32_t cfg_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    if (ecam)
        return mmio_read32(ecam + ((uint64_t)(bus - bus_lo) << 20 | (uint64_t)dev << 15 |
                                   (uint64_t)fn << 12 | (off & 0xffc)));
    outl(CFG_ADDR, CFG_ENABLE | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xfc));
    return inl(CFG_DATA);
}

static void cfg_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
    if (ecam) {
        mmio_write32(ecam + ((uint64_t)(bus - bus_lo) << 20 | (uint64_t)dev << 15 | (uint64_t)fn << 12 |
                             (off & 0xffc)), v);
        return;
    }
    outl(CFG_ADDR, CFG_ENABLE | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xfc));
    outl(CFG_DATA, v);
}

uint32_t pci_read32(const struct pci_dev *d, uint16_t off) { return cfg_read(d->bus, d->dev, d->fn, off); }
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v) { cfg_write(d->bus, d->dev, d->fn, off, v); }

uint16_t pci_read16(const struct pci_dev *d, uint16_t off)
{
    return (uint16_t)(pci_read32(d, off & ~3) >> (8 * (off & 2)));
}

void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
    uint32_t w = pci_read32(d, off & ~3);
    unsigned sh = 8 * (off & 2);
    w = (w & ~(0xffffu << sh)) | (uint32_t)v << sh;
    if ((off & ~3) == PCI_COMMAND)
        w &= 0xffff; /* never write back status bits: they are write-one-to-clear */
    pci_write32(d, off & ~3, w);
}

/* Sizes a BAR by writing all ones with decoding off (PCI 3.0 6.2.5.1). */
static int read_bar(struct pci_dev *d, int i)
{
    uint16_t off = PCI_BAR0 + 4 * i;
    uint32_t val = pci_read32(d, off);
    pci_write32(d, off, 0xffffffffu);
    uint32_t mask = pci_read32(d, off);
    pci_write32(d, off, val);
    uint32_t hi = 0, hi_mask = 0;
    bool is64 = !(val & 1) && (val & 6) == 4;
    if (is64 && i < 5) {
        hi = pci_read32(d, off + 4);
        pci_write32(d, off + 4, 0xffffffffu);
        hi_mask = pci_read32(d, off + 4);
        pci_write32(d, off + 4, hi);
    }
    pci_bar_decode(val, mask, hi, hi_mask, &d->bar[i]);
    return is64 ? 2 : 1;
}

static void read_caps(struct pci_dev *d)
{
    if (!(pci_read16(d, PCI_STATUS) & STATUS_CAP_LIST))
        return;
    uint8_t off = (uint8_t)pci_read32(d, PCI_CAP_PTR) & 0xfc;
    /* A malformed list could loop: at most 48 entries fit in 256 bytes. */
    for (int n = 0; off >= 0x40 && n < 48 && d->ncaps < PCI_MAX_CAPS; n++) {
        uint32_t w = pci_read32(d, off);
        d->cap_id[d->ncaps] = (uint8_t)w;
        d->cap_off[d->ncaps] = off;
        d->ncaps++;
        off = (uint8_t)(w >> 8) & 0xfc;
    }
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id)
{
    for (unsigned i = 0; i < d->ncaps; i++)
        if (d->cap_id[i] == id)
            return d->cap_off[i];
    return 0;
}

static void scan_bus(uint8_t bus, int depth);

static void add_function(uint8_t bus, uint8_t dev, uint8_t fn, int depth)
{
    uint32_t id = cfg_read(bus, dev, fn, PCI_VENDOR);
    if ((id & 0xffff) == 0xffff || ndevs == PCI_MAX_DEVICES)
        return;
    struct pci_dev *d = &devs[ndevs++];
    memset(d, 0, sizeof(*d));
    d->bus = bus, d->dev = dev, d->fn = fn;
    d->vendor = (uint16_t)id;
    d->device = (uint16_t)(id >> 16);
    uint32_t cr = cfg_read(bus, dev, fn, PCI_CLASS_REV);
    d->revision = (uint8_t)cr, d->prog_if = (uint8_t)(cr >> 8);
    d->subclass = (uint8_t)(cr >> 16), d->class_code = (uint8_t)(cr >> 24);
    d->header_type = (uint8_t)(cfg_read(bus, dev, fn, PCI_HEADER_TYPE & ~3) >> 16);
    uint32_t intr = cfg_read(bus, dev, fn, PCI_INTERRUPT);
    d->irq_line = (uint8_t)intr, d->irq_pin = (uint8_t)(intr >> 8);
    int nbars = (d->header_type & HDR_TYPE_MASK) == 0 ? 6 : (d->header_type & HDR_TYPE_MASK) == HDR_BRIDGE ? 2 : 0;
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~(CMD_IO | CMD_MEM));
    for (int i = 0; i < nbars;)
        i += read_bar(d, i);
    pci_write16(d, PCI_COMMAND, cmd);
    read_caps(d);
    if ((d->header_type & HDR_TYPE_MASK) == HDR_BRIDGE && depth < MAX_DEPTH) {
        uint8_t sec = (uint8_t)(cfg_read(bus, dev, fn, PCI_SECONDARY_BUS & ~3) >> 8);
        if (sec > bus && sec >= bus_lo && sec <= bus_hi)
            scan_bus(sec, depth + 1);
    }
}

static void scan_bus(uint8_t bus, int depth)
{
    if (bus_seen[bus])
        return;
    bus_seen[bus] = true;
    for (uint8_t dev = 0; dev < 32; dev++) {
        if ((cfg_read(bus, dev, 0, PCI_VENDOR) & 0xffff) == 0xffff)
            continue;
        uint8_t hdr = (uint8_t)(cfg_read(bus, dev, 0, PCI_HEADER_TYPE & ~3) >> 16);
        for (uint8_t fn = 0; fn < ((hdr & HDR_MULTIFN) ? 8 : 1); fn++)
            add_function(bus, dev, fn, depth);
    }
}

void pci_init(uint64_t ecam_base, uint8_t start, uint8_t end)
{
    ecam = ecam_base;
    bus_lo = ecam ? start : 0;
    bus_hi = ecam ? end : 255;
    if (ecam)
        paging_make_uncached(ecam, (uint64_t)(end - start + 1) << 20);
    ndevs = 0;
    memset(bus_seen, 0, sizeof(bus_seen));
    scan_bus(bus_lo, 0);
    kprintf("pci: %u device(s) via %s\n", ndevs, pci_access_method());
}

const char *pci_access_method(void) { return ecam ? "ECAM (ACPI MCFG)" : "ports 0xCF8/0xCFC"; }
unsigned pci_count(void) { return ndevs; }
struct pci_dev *pci_at(unsigned i) { return i < ndevs ? &devs[i] : NULL; }

/* PCI Code and ID Assignment 1.11: the classes a lab host is likely to have. */
const char *pci_class_name(uint8_t c, uint8_t s)
{
    static const struct { uint8_t c, s; const char *name; } names[] = {
        {0x01, 0x01, "IDE controller"}, {0x01, 0x06, "SATA controller"}, {0x01, 0x08, "NVMe controller"},
        {0x01, 0x00, "SCSI controller"}, {0x02, 0x00, "Ethernet controller"}, {0x03, 0x00, "VGA controller"},
        {0x06, 0x00, "host bridge"}, {0x06, 0x01, "ISA bridge"}, {0x06, 0x04, "PCI bridge"},
        {0x06, 0x80, "bridge"}, {0x0c, 0x03, "USB controller"}, {0x0c, 0x05, "SMBus controller"},
        {0x08, 0x00, "interrupt controller"}, {0x04, 0x01, "audio device"}, {0x04, 0x03, "audio device"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (names[i].c == c && names[i].s == s)
            return names[i].name;
    return "device";
}
