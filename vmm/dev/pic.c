/* The guest's 8259 pair (vmm/i8259.c) at ports 0x20-0x21 and 0xa0-0xa1,
 * and the edge/level control registers at 0x4d0-0x4d1 (PIIX/ICH ELCR).
 * Byte registers: a wider access acts on its low byte, as on ISA. */
#include <hopvm/devstate.h>
#include <hopvm/lib.h>
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

/* ---- teleport: DEVICE "i8259-pair", fields prefixed m- and s- ---------- */

#define INIT_STEP_MAX 4 /* 0 operating, 2-4 the ICW expected next (vmm/i8259.c) */
#define INIT_STEP_NONE 1 /* no ICW is numbered 1 after ICW1 itself */
#define VECTOR_LOW_BITS 7 /* ICW2 gives bits 7:3; 2:0 are the IR number */
static const struct dev_field chip_fields[] = {
    DEV_INT(struct i8259, irr, "irr", 0xff),           DEV_INT(struct i8259, isr, "isr", 0xff),
    DEV_INT(struct i8259, imr, "imr", 0xff),           DEV_INT(struct i8259, last_level, "level", 0xff),
    DEV_INT(struct i8259, elcr, "elcr", 0xff),         DEV_INT(struct i8259, vector_base, "vector-base", 0xf8),
    DEV_INT(struct i8259, init_step, "init-step", INIT_STEP_MAX),
    DEV_INT(struct i8259, icw1, "icw1", 0xff),         DEV_INT(struct i8259, icw4, "icw4", 0xff),
    DEV_INT(struct i8259, priority_add, "priority-add", 7),
    DEV_BOOL(struct i8259, read_isr, "read-isr"),      DEV_BOOL(struct i8259, poll, "poll"),
    DEV_BOOL(struct i8259, special_mask, "special-mask"), DEV_BOOL(struct i8259, auto_eoi, "auto-eoi"),
    DEV_BOOL(struct i8259, rotate_on_aeoi, "rotate-on-aeoi"),
    DEV_BOOL(struct i8259, special_fully_nested, "sfnm"),
};
static const char *const chip_prefix[2] = {"m-", "s-"};

int pic_dev_save(struct vm *vm, unsigned i, struct mig_dev *d)
{
    mig_dev_init(d, "i8259-pair", i);
    for (unsigned c = 0; c < 2; c++)
        if (devstate_save(d, chip_prefix[c], &vm->pic.chip[c], chip_fields, ARRAY_SIZE(chip_fields)))
            return -1;
    return 0;
}

int pic_dev_load(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    struct i8259_pair p;
    memset(&p, 0, sizeof(p));
    for (unsigned c = 0; c < 2; c++) {
        if (devstate_load(d, chip_prefix[c], &p.chip[c], chip_fields, ARRAY_SIZE(chip_fields), err, n))
            return -1;
        if (p.chip[c].init_step == INIT_STEP_NONE || (p.chip[c].vector_base & VECTOR_LOW_BITS))
            return ksnprintf(err, n, "i8259-pair: %sinit-step or vector-base out of range", chip_prefix[c]), -1;
    }
    vm->pic = p;
    return 0;
}
