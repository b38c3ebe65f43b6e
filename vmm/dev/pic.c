/* The guest's 8259 pair (vmm/i8259.c) at ports 0x20-0x21 and 0xa0-0xa1,
 * and the edge/level control registers at 0x4d0-0x4d1 (PIIX/ICH ELCR).
 * Byte registers: a wider access acts on its low byte, as on ISA. */
#include <hopvm/vm.h>

static bool pic_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    (void)ctx, (void)size;
    if (write)
        i8259_write(&v->vm->pic, port, (uint8_t)*val);
    else
        *val = i8259_read(&v->vm->pic, port);
    return true;
}

void pic_dev_attach(struct vm *vm)
{
    io_register(vm, I8259_MASTER_CMD, 2, pic_io, NULL, "pic master");
    io_register(vm, I8259_SLAVE_CMD, 2, pic_io, NULL, "pic slave");
    io_register(vm, I8259_ELCR, 2, pic_io, NULL, "elcr");
}
