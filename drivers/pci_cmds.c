/* Console `pci`: what the enumeration found (like lspci). */
#include <hopvm/cmd.h>
#include <hopvm/lib.h>
#include <hopvm/pci.h>

static const char *cap_name(uint8_t id)
{
    switch (id) { /* PCI Local Bus 3.0 appendix H */
    case 0x01: return "PM";
    case 0x05: return "MSI";
    case 0x09: return "vendor";
    case 0x10: return "PCIe";
    case 0x11: return "MSI-X";
    default: return "cap";
    }
}

static enum cmd_status cmd_pci(int argc, char **argv)
{
    bool verbose = argc == 2 && !strcmp(argv[1], "-v");
    if (argc > 2 || (argc == 2 && !verbose)) {
        kprintf("error: pci takes only -v\n");
        return CMD_USAGE;
    }
    kprintf("%u device(s), configuration space via %s\n", pci_count(), pci_access_method());
    struct pci_dev *d;
    for (unsigned i = 0; (d = pci_at(i)); i++) {
        kprintf("%02x:%02x.%u %04x:%04x class %02x.%02x.%02x %-20s driver: %s\n", d->bus, d->dev, d->fn,
                d->vendor, d->device, d->class_code, d->subclass, d->prog_if,
                pci_class_name(d->class_code, d->subclass), d->driver ? d->driver : "none");
        if (!verbose)
            continue;
        for (int b = 0; b < 6; b++) {
            const struct pci_bar *bar = &d->bar[b];
            if (bar->kind == BAR_NONE)
                continue;
            kprintf("    BAR%d %s 0x%lx size 0x%lx%s\n", b,
                    bar->kind == BAR_IO ? "I/O  " : bar->kind == BAR_MEM64 ? "mem64" : "mem32", bar->base,
                    bar->size, bar->prefetch ? " prefetchable" : "");
        }
        if (d->ncaps) {
            kprintf("    capabilities:");
            for (unsigned c = 0; c < d->ncaps; c++)
                kprintf(" %s@%02x", cap_name(d->cap_id[c]), d->cap_off[c]);
            kprintf("\n");
        }
        if (d->irq_pin)
            kprintf("    interrupt pin %c, line %u\n", 'A' + d->irq_pin - 1, d->irq_line);
    }
    return CMD_OK;
}

static const struct cmd pci_cmds[] = {
    {.name = "pci", .usage = "[-v]", .help = "PCI devices: vendor:device, class, driver; -v adds BARs and capabilities",
     .run = cmd_pci},
};

void pci_cmds_register(void)
{
    cmd_register(pci_cmds, ARRAY_SIZE(pci_cmds));
}
