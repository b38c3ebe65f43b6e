/* The guest platform: every emulated device, in one table. A device is
 * added here and nowhere else in the core: its attach function resets its
 * state and registers its ports and MMIO ranges; its line says which ISA
 * interrupt it drives (the MADT and README's platform table follow this).
 * Order matters only in that the interrupt controllers come first, so a
 * device may raise its line while attaching. */
#include <hopvm/lib.h>
#include <hopvm/vm.h>

const struct vdev vdevs[] = {
    {.name = "8259 PIC pair + ELCR", .irq = -1, .attach = pic_dev_attach,
     .type = "i8259-pair", .save = pic_dev_save, .load = pic_dev_load},
    {.name = "I/O APIC", .irq = -1, .attach = ioapic_dev_attach,
     .type = "ioapic", .save = ioapic_dev_save, .load = ioapic_dev_load},
    {.name = "local APICs", .irq = -1, .attach = lapic_dev_attach,
     .type = "lapic", .instances = lapic_dev_instances, .save = lapic_dev_save, .load = lapic_dev_load},
    {.name = "8254 PIT + port 0x61", .irq = 0, .attach = pit_dev_attach,
     .type = "i8254", .save = pit_dev_save, .load = pit_dev_load},
    /* Its state goes in the uart16550 record (vm_save_uart), as before. */
    {.name = "16550 UART (COM1)", .irq = 4, .attach = uart_dev_attach},
    {.name = "MC146818 RTC + port 0x80", .irq = 8, .attach = rtc_dev_attach,
     .type = "mc146818", .save = rtc_dev_save, .load = rtc_dev_load},
    /* The platform's clock and ISA lines ride with the PM block. */
    {.name = "ACPI PM, reset 0xcf9, i8042", .irq = 9, .attach = pm_dev_attach,
     .type = "pc-platform", .save = pm_dev_save, .load = pm_dev_load},
    {.name = "debug exit 0xf4", .irq = -1, .attach = debugexit_attach},
};
const unsigned vdev_count = ARRAY_SIZE(vdevs);
_Static_assert(ARRAY_SIZE(vdevs) <= VM_MAX_DEVICES, "struct vm_mig tracks each device's records");
_Static_assert(CFG_MAX_VCPUS <= 32, "one bit per instance");

void devices_attach(struct vm *vm)
{
    irq_attach(vm);
    for (unsigned i = 0; i < vdev_count; i++)
        vdevs[i].attach(vm);
}
