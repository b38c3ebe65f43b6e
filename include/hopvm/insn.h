/* Decoding the guest instruction that touched MMIO. Without decode assists
 * (QEMU TCG offers none) a nested page fault says only where, not what, so
 * hopvm reads the instruction and decodes the MOV forms device drivers use.
 * Pure; unit-tested and fuzzed (the bytes come from the guest). */
#ifndef HOPVM_INSN_H
#define HOPVM_INSN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cpu_mode { MODE_16, MODE_32, MODE_64 }; /* from CS.L / CS.D */

struct mmio_insn {
    uint8_t len;        /* whole instruction, bytes */
    uint8_t size;       /* memory operand size: 1, 2, 4 or 8 */
    bool write;         /* store to memory */
    bool has_imm;       /* store of an immediate (C6/C7) */
    uint64_t imm;       /* sign-extended to size */
    uint8_t reg;        /* register operand, x86 encoding 0-15 */
    bool high8;         /* reg 4-7 mean AH, CH, DH, BH (8-bit, no REX) */
    uint8_t dst_size;   /* register width written by a load (movzx widens) */
};

/* 0, or -1 with a reason: unsupported opcode, register operand, too short. */
int insn_decode_mmio(const uint8_t *b, size_t n, enum cpu_mode mode, struct mmio_insn *out,
                     const char **why);

#endif
