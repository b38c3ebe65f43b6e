/* libFuzzer: hopvm.cfg parser. Any bytes: no crash, no overread, and
 * every accepted VM satisfies the documented limits. */
#include <hopvm/config.h>
#include <hopvm/lib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config cfg;
    /* A heap copy of exactly size bytes so ASan catches any overread. */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    config_parse(text, size, &cfg, NULL, NULL);
    if (cfg.nvms > CFG_MAX_VMS)
        abort();
    for (unsigned i = 0; i < cfg.nvms; i++) {
        const struct cfg_vm *vm = &cfg.vms[i];
        if (!vm->name[0] || !vm->kernel[0] || vm->vcpus < 1 || vm->vcpus > CFG_MAX_VCPUS ||
            vm->memory < CFG_MEM_MIN || vm->memory > CFG_MEM_MAX || vm->nmodules > CFG_MAX_MODULES)
            abort();
    }
    free(text);
    return 0;
}
