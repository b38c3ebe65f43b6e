/* Decoding the guest instruction that touched MMIO, or wrote a control
 * register. Without decode assists (QEMU TCG offers none) a nested page
 * fault says only where, not what, and a CR-write intercept names the CR
 * but not the source register, so hopvm reads the instruction and decodes
 * the MOV forms device drivers use, and MOV to CR. Pure; unit-tested and
 * fuzzed (the bytes come from the guest). */
#ifndef HOPVM_INSN_H
#define HOPVM_INSN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cpu_mode { MODE_16, MODE_32, MODE_64 }; /* from CS.L / CS.D */

#define INSN_MAX_LEN 15 /* longest x86 instruction (SDM Vol.2A 2.3.11) */

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

/* MOV to a control register, for an intercepted CR write on AMD-V without
 * decode assists (the #VMEXIT names the CR, not the source register). */
struct cr_insn {
    uint8_t len;        /* whole instruction, bytes */
    uint8_t cr;         /* control register written, 0-15 */
    uint8_t gpr;        /* source register, x86 encoding 0-15 */
};

/* 0, or -1 with a reason: not a MOV to CR, or too short. */
int insn_decode_mov_cr(const uint8_t *b, size_t n, enum cpu_mode mode, struct cr_insn *out,
                       const char **why);

#endif
