/* libFuzzer: the instruction decoders (MMIO MOVs, MOV to CR), fed guest bytes. */
#include <hopvm/insn.h>
#include <hopvm/lib.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *b = malloc(size - 1 ? size - 1 : 1);
    memcpy(b, data + 1, size - 1);
    struct mmio_insn in;
    const char *why;
    if (insn_decode_mmio(b, size - 1, (enum cpu_mode)(data[0] % 3), &in, &why) == 0) {
        if (in.len == 0 || in.len > 15 || in.len > size - 1 || in.reg > 15 ||
            (in.size != 1 && in.size != 2 && in.size != 4 && in.size != 8))
            abort();
    }
    struct cr_insn cr;
    if (insn_decode_mov_cr(b, size - 1, (enum cpu_mode)(data[0] % 3), &cr, &why) == 0) {
        if (cr.len < 3 || cr.len > 15 || cr.len > size - 1 || cr.cr > 15 || cr.gpr > 15)
            abort();
    }
    free(b);
    return 0;
}
