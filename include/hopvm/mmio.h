/* Guest MMIO devices: ranges of guest-physical addresses outside RAM. */
#ifndef HOPVM_MMIO_H
#define HOPVM_MMIO_H
#include <hopvm/vm.h>

int mmio_register(struct vm *vm, uint64_t base, uint64_t len, mmio_fn fn, void *ctx, const char *name);
/* Emulates the access at gpa. false: no device there (*why NULL) or the
 * instruction could not be emulated (*why says so). */
bool mmio_handle(struct vcpu *v, uint64_t gpa, const char **why);

#endif
