/* Debug-exit port at 0xf4, like QEMU's isa-debug-exit: a write stops the
 * guest and records the value as its exit code. */
#include <hopvm/lib.h>
#include <hopvm/vm.h>

#define DEBUG_EXIT_PORT 0xf4

static bool debugexit_io(struct vcpu *v, void *ctx, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct vm *vm = v->vm;
    (void)ctx, (void)port;
    if (!write) {
        *val = 0xffffffffu >> (32 - 8 * size);
        return true;
    }
    vm->exit_code = (int)(*val & 0xff);
    vm->state = VM_EXITED;
    ksnprintf(vm->reason, sizeof(vm->reason), "exited with code %d (debug-exit port)", vm->exit_code);
    return true;
}

void debugexit_attach(struct vm *vm)
{
    io_register(vm, DEBUG_EXIT_PORT, 1, debugexit_io, NULL, "debug-exit");
}
