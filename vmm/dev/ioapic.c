/* The guest's I/O APIC (vmm/ioapic.c) at 0xfec00000: IOREGSEL, IOWIN and
 * the EOI register, dword accesses (82093AA datasheet, "Register
 * Description": the registers are 32 bits wide and accessed as such). Its
 * pins are driven through vmm/irq.c. */
#include <hopvm/devstate.h>
#include <hopvm/lib.h>
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

/* ---- teleport: DEVICE "ioapic" ------------------------------------------ */

#define IOAPIC_ID_MAX 0xf
/* The redirection entries go as the model keeps them (u64, little-endian
 * bytes, as in memory: both ends are x86). */
static const struct dev_field ioapic_fields[] = {
    DEV_INT(struct ioapic, id, "id", IOAPIC_ID_MAX),
    DEV_INT(struct ioapic, regsel, "regsel", 0xff),
    DEV_BYTES(struct ioapic, rte, "rte"),
    DEV_INT(struct ioapic, pin_level, "pin-level", (1u << IOAPIC_PINS) - 1),
};

int ioapic_dev_save(struct vm *vm, unsigned i, struct mig_dev *d)
{
    mig_dev_init(d, "ioapic", i);
    return devstate_save(d, NULL, &vm->ioapic, ioapic_fields, ARRAY_SIZE(ioapic_fields));
}

int ioapic_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    struct ioapic io;
    memset(&io, 0, sizeof(io));
    if (devstate_load(d, NULL, &io, ioapic_fields, ARRAY_SIZE(ioapic_fields), err, n))
        return -1;
    if (io.id != vm->ioapic.id)
        return ksnprintf(err, n, "ioapic: id %u, but this guest's MADT says %u", io.id, vm->ioapic.id), -1;
    vm->ioapic = io;
    return 0;
}
