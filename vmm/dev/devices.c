/* The guest platform: every emulated device, in one table. A device is
 * added here and nowhere else in the core: its attach function resets its
 * state and registers its ports and MMIO ranges; its line says which ISA
 * interrupt it drives (the MADT and README's platform table follow this).
 * Order matters only in that the interrupt controllers come first, so a
 * device may raise its line while attaching. */
#include <hopvm/lib.h>
#include <hopvm/vm.h>

const struct vdev vdevs[] = {
    {.name = "8259 PIC pair + ELCR", .irq = -1, .attach = pic_dev_attach},
    {.name = "I/O APIC", .irq = -1, .attach = ioapic_dev_attach},
    {.name = "local APICs", .irq = -1, .attach = lapic_dev_attach},
    {.name = "8254 PIT + port 0x61", .irq = 0, .attach = pit_dev_attach},
    {.name = "16550 UART (COM1)", .irq = 4, .attach = uart_dev_attach},
    {.name = "MC146818 RTC + port 0x80", .irq = 8, .attach = rtc_dev_attach},
    {.name = "ACPI PM, reset 0xcf9, i8042", .irq = 9, .attach = pm_dev_attach},
    {.name = "debug exit 0xf4", .irq = -1, .attach = debugexit_attach},
};
const unsigned vdev_count = ARRAY_SIZE(vdevs);

void devices_attach(struct vm *vm)
{
    irq_attach(vm);
    for (unsigned i = 0; i < vdev_count; i++)
        vdevs[i].attach(vm);
}
