/* MOV decoding for MMIO emulation: 88/89/8A/8B (MOV r/m, r and r, r/m),
 * C6/C7 /0 (MOV r/m, imm), 0F B6/B7 (MOVZX), with legacy prefixes and REX
 * (SDM Vol.2A ch. 2: instruction format, ModR/M and SIB tables 2-1..2-3);
 * and MOV to CR (0F 22) for intercepted control-register writes. */
#include <hopvm/insn.h>

#define PFX_OPSIZE 0x66
#define PFX_ADDRSIZE 0x67
#define PFX_LOCK 0xf0
#define OP_TWO_BYTE 0x0f
#define OP2_MOV_TO_CR 0x22

static bool is_legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: /* segments */
    case 0xf0: case 0xf2: case 0xf3: case PFX_OPSIZE: case PFX_ADDRSIZE:
        return true;
    default:
        return false;
    }
}

/* Bytes of ModR/M + SIB + displacement for a memory operand; -1 for a
 * register operand or truncation. */
static int modrm_len(const uint8_t *b, size_t n, size_t at, int addr_bits)
{
    if (at >= n)
        return -1;
    uint8_t modrm = b[at];
    unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3)
        return -1;
    int len = 1;
    if (addr_bits == 16) { /* table 2-1 */
        if (mod == 0 && rm == 6)
            len += 2;
        else
            len += mod == 1 ? 1 : mod == 2 ? 2 : 0;
        return len;
    }
    if (rm == 4) { /* table 2-3: SIB follows */
        if (at + 1 >= n)
            return -1;
        len++;
        if (mod == 0 && (b[at + 1] & 7) == 5)
            len += 4;
    } else if (mod == 0 && rm == 5) {
        len += 4; /* disp32, or RIP-relative in 64-bit mode */
    }
    len += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    return len;
}

int insn_decode_mmio(const uint8_t *b, size_t n, enum cpu_mode mode, struct mmio_insn *o,
                     const char **why)
{
    size_t i = 0;
    bool opsize = false, addrsize = false;
    uint8_t rex = 0;
    if (n > INSN_MAX_LEN)
        n = INSN_MAX_LEN;
    while (i < n && is_legacy_prefix(b[i])) {
        opsize |= b[i] == PFX_OPSIZE;
        addrsize |= b[i] == PFX_ADDRSIZE;
        i++;
    }
    if (mode == MODE_64 && i < n && (b[i] & 0xf0) == 0x40)
        rex = b[i++]; /* REX must come last (SDM 2.2.1) */
    if (i >= n)
        return *why = "instruction truncated", -1;
    int addr_bits = mode == MODE_64 ? (addrsize ? 32 : 64) : mode == MODE_32 ? (addrsize ? 16 : 32)
                                                                             : (addrsize ? 32 : 16);
    unsigned opnd = (rex & 8) ? 8 : mode == MODE_16 ? (opsize ? 4 : 2) : (opsize ? 2 : 4);
    uint8_t op = b[i++];
    bool movzx = false;
    if (op == 0x0f) {
        if (i >= n)
            return *why = "instruction truncated", -1;
        op = b[i++];
        if (op != 0xb6 && op != 0xb7)
            return *why = "not a MOV/MOVZX", -1;
        movzx = true;
    }
    *o = (struct mmio_insn){0};
    if (!movzx && op >= 0xa0 && op <= 0xa3) {
        /* MOV AL/rAX <-> moffs (SDM Vol.2B MOV, opcodes A0-A3): no ModR/M,
         * an absolute offset as wide as the address size; the register is
         * always the accumulator. */
        size_t off_len = (size_t)addr_bits / 8;
        if (i + off_len > n)
            return *why = "instruction truncated", -1;
        o->write = op >= 0xa2;
        o->size = (op & 1) ? (uint8_t)opnd : 1;
        o->dst_size = o->size;
        o->len = (uint8_t)(i + off_len);
        return 0;
    }
    switch (movzx ? 0x100 | op : op) {
    case 0x88: o->write = true; o->size = 1; break;
    case 0x89: o->write = true; o->size = (uint8_t)opnd; break;
    case 0x8a: o->size = 1; break;
    case 0x8b: o->size = (uint8_t)opnd; break;
    case 0xc6: o->write = o->has_imm = true; o->size = 1; break;
    case 0xc7: o->write = o->has_imm = true; o->size = (uint8_t)opnd; break;
    case 0x1b6: o->size = 1; break;
    case 0x1b7: o->size = 2; break;
    default: return *why = "not a MOV/MOVZX", -1;
    }
    int ml = modrm_len(b, n, i, addr_bits);
    if (ml < 0)
        return *why = i >= n ? "instruction truncated" : "register operand or truncated ModR/M", -1;
    if (i + (size_t)ml > n)
        return *why = "instruction truncated", -1; /* displacement cut off */
    uint8_t modrm = b[i];
    unsigned reg = (modrm >> 3) & 7;
    i += (size_t)ml;
    if (o->has_imm) {
        if (reg != 0)
            return *why = "C6/C7 with a reg field other than /0", -1;
        unsigned isz = o->size == 8 ? 4 : o->size; /* imm32 sign-extends for 64-bit */
        if (i + isz > n)
            return *why = "instruction truncated", -1;
        uint64_t v = 0;
        for (unsigned k = 0; k < isz; k++)
            v |= (uint64_t)b[i + k] << (8 * k);
        if (o->size == 8 && (v & 0x80000000u))
            v |= 0xffffffff00000000ull;
        o->imm = v;
        i += isz;
    } else {
        o->reg = (uint8_t)(reg | ((rex & 4) ? 8 : 0));
        /* Without REX, 8-bit register numbers 4-7 are AH..BH; a MOVZX
         * destination is never 8-bit. */
        o->high8 = !movzx && o->size == 1 && !rex && reg >= 4;
        o->dst_size = movzx ? (uint8_t)opnd : o->size;
    }
    o->len = (uint8_t)i;
    return 0;
}

/* MOV CRn, r32/r64: 0F 22 /r (SDM Vol.2B MOV—Move to/from Control
 * Registers; APM Vol.3 MOV CRn). ModRM.reg is the CR and REX.R adds 8
 * (AMD's LOCK prefix does the same outside 64-bit mode, for CR8);
 * ModRM.rm is the register and REX.B adds 8. The mod field is ignored:
 * the operand is always a register, so the instruction is three bytes
 * after its prefixes. */
int insn_decode_mov_cr(const uint8_t *b, size_t n, enum cpu_mode mode, struct cr_insn *o, const char **why)
{
    size_t i = 0;
    bool lock = false;
    uint8_t rex = 0;
    if (n > INSN_MAX_LEN)
        n = INSN_MAX_LEN;
    while (i < n && is_legacy_prefix(b[i])) {
        lock |= b[i] == PFX_LOCK;
        i++;
    }
    if (mode == MODE_64 && i < n && (b[i] & 0xf0) == 0x40)
        rex = b[i++];
    if (i + 3 > n)
        return *why = "instruction truncated", -1;
    if (b[i] != OP_TWO_BYTE || b[i + 1] != OP2_MOV_TO_CR)
        return *why = "not a MOV to CR", -1;
    uint8_t modrm = b[i + 2];
    *o = (struct cr_insn){0};
    o->cr = (uint8_t)(((modrm >> 3) & 7) | ((rex & 4) || lock ? 8 : 0));
    o->gpr = (uint8_t)((modrm & 7) | ((rex & 1) ? 8 : 0));
    o->len = (uint8_t)(i + 3);
    return 0;
}
