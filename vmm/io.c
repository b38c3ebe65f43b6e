/* Guest port I/O, dispatched to the device that claims the port range. */
#include <hopvm/lib.h>
#include <hopvm/vm.h>

int io_register(struct vm *vm, uint16_t base, uint16_t len, io_fn fn, void *ctx, const char *name)
{
    if (vm->nio == VM_MAX_IO || len == 0 || (uint32_t)base + len > 0x10000)
        return -1;
    for (unsigned i = 0; i < vm->nio; i++) {
        const struct io_range *r = &vm->io[i];
        if (base < r->base + r->len && r->base < base + len)
            return -1; /* overlapping claims are a bug in the caller */
    }
    vm->io[vm->nio++] = (struct io_range){base, len, fn, ctx, name};
    return 0;
}

void io_dispatch(struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct vm *vm = v->vm;
    for (unsigned i = 0; i < vm->nio; i++) {
        const struct io_range *r = &vm->io[i];
        if (port >= r->base && port - r->base < r->len && r->fn(v, r->ctx, port, size, write, val))
            return;
    }
    /* Nothing there: like an empty ISA bus, reads float high. */
    vm->io_unhandled++;
    vm->io_unhandled_last = port;
    if (!write)
        *val = 0xffffffffu;
}
