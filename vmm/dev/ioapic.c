/* The guest's I/O APIC (vmm/ioapic.c) at 0xfec00000: IOREGSEL, IOWIN and
 * the EOI register, dword accesses (82093AA datasheet, "Register
 * Description": the registers are 32 bits wide and accessed as such). Its
 * pins are driven through vmm/irq.c. */
#include <hopvm/mmio.h>
#include <hopvm/vm.h>

#define IOAPIC_PAGE 0x1000

static void ioapic_mmio(struct vcpu *v, void *ctx, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    (void)ctx;
    struct vm *vm = v->vm;
    if (!write) {
        *val = (off & 3) ? 0 : (uint64_t)ioapic_read(&vm->ioapic, (unsigned)off);
        return;
    }
    if (size != 4 || (off & 3))
        return; /* undefined in the datasheet: dropped */
    irq_ioapic_write(vm, (unsigned)off, (uint32_t)*val);
}

void ioapic_dev_attach(struct vm *vm)
{
    mmio_register(vm, IOAPIC_DEFAULT_BASE, IOAPIC_PAGE, ioapic_mmio, NULL, "ioapic");
}
