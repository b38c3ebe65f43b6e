/* MMIO instruction decoding. */
#include "check.h"
#include <hopvm/insn.h>
#include <string.h>

static struct mmio_insn in;
static const char *why;

static int dec(const char *bytes, size_t n, enum cpu_mode m)
{
    why = "";
    return insn_decode_mmio((const uint8_t *)bytes, n, m, &in, &why);
}

int main(void)
{
    /* mov %al,(%ebx)  88 03 */
    CHECK(dec("\x88\x03", 2, MODE_32) == 0);
    CHECK(in.write && in.size == 1 && in.reg == 0 && in.len == 2 && !in.high8);
    /* mov %ah,(%ebx)  88 23: AH without REX */
    CHECK(dec("\x88\x23", 2, MODE_32) == 0);
    CHECK(in.high8 && in.reg == 4);
    /* mov 0x5(%eax),%dl  8a 50 05 */
    CHECK(dec("\x8a\x50\x05", 3, MODE_32) == 0);
    CHECK(!in.write && in.size == 1 && in.reg == 2 && in.len == 3 && in.dst_size == 1);
    /* mov 0x12345678(,%ecx,4),%esi  8b 34 8d 78 56 34 12 */
    CHECK(dec("\x8b\x34\x8d\x78\x56\x34\x12", 7, MODE_32) == 0);
    CHECK(in.size == 4 && in.reg == 6 && in.len == 7);
    /* mov %ax,(%edi) with 66h */
    CHECK(dec("\x66\x89\x07", 3, MODE_32) == 0);
    CHECK(in.write && in.size == 2 && in.len == 3);
    /* movl $0xdeadbeef,0x10(%ebp)  c7 45 10 ef be ad de */
    CHECK(dec("\xc7\x45\x10\xef\xbe\xad\xde", 7, MODE_32) == 0);
    CHECK(in.write && in.has_imm && in.imm == 0xdeadbeef && in.size == 4 && in.len == 7);
    /* movb $0x5a,0x7(%eax)  c6 40 07 5a */
    CHECK(dec("\xc6\x40\x07\x5a", 4, MODE_32) == 0);
    CHECK(in.imm == 0x5a && in.size == 1 && in.len == 4);
    /* movzbl (%eax),%ecx  0f b6 08 */
    CHECK(dec("\x0f\xb6\x08", 3, MODE_32) == 0);
    CHECK(!in.write && in.size == 1 && in.dst_size == 4 && in.reg == 1 && in.len == 3 && !in.high8);
    /* movzwl (%eax),%esp-coded reg 4 (esp) 0f b7 20: not AH */
    CHECK(dec("\x0f\xb7\x20", 3, MODE_32) == 0);
    CHECK(in.size == 2 && in.reg == 4 && !in.high8);
    /* 64-bit: mov %r9b,(%rax)  44 88 08 */
    CHECK(dec("\x44\x88\x08", 3, MODE_64) == 0);
    CHECK(in.write && in.size == 1 && in.reg == 9 && !in.high8 && in.len == 3);
    /* 64-bit: mov %sil,(%rdi)  40 88 37: REX makes reg 6 SIL, not DH */
    CHECK(dec("\x40\x88\x37", 3, MODE_64) == 0);
    CHECK(in.reg == 6 && !in.high8);
    /* 64-bit: mov (%rip+0x100),%rax  48 8b 05 00 01 00 00 */
    CHECK(dec("\x48\x8b\x05\x00\x01\x00\x00", 7, MODE_64) == 0);
    CHECK(in.size == 8 && in.reg == 0 && in.len == 7);
    /* 64-bit: movq $-1,(%rdx)  48 c7 02 ff ff ff ff: imm32 sign-extends */
    CHECK(dec("\x48\xc7\x02\xff\xff\xff\xff", 7, MODE_64) == 0);
    CHECK(in.size == 8 && in.imm == ~0ull && in.len == 7);
    /* SIB with base 101 and mod 00: disp32 follows. mov (,%rax,8)+disp32 */
    CHECK(dec("\x8b\x04\xc5\x00\x10\x00\x00", 7, MODE_64) == 0);
    CHECK(in.len == 7);
    /* MOV with an absolute offset (A0-A3): the accumulator, an offset as
     * wide as the address. mov 0xe0000000,%eax  a1 00 00 00 e0 */
    CHECK(dec("\xa1\x00\x00\x00\xe0", 5, MODE_32) == 0);
    CHECK(!in.write && in.size == 4 && in.dst_size == 4 && in.reg == 0 && in.len == 5 && !in.high8);
    CHECK(dec("\xa2\x10\x00\x00\xe0", 5, MODE_32) == 0); /* mov %al,0xe0000010 */
    CHECK(in.write && in.size == 1 && in.reg == 0 && in.len == 5);
    CHECK(dec("\x66\xa3\x10\x00\x00\xe0", 6, MODE_32) == 0); /* mov %ax,... */
    CHECK(in.write && in.size == 2 && in.len == 6);
    CHECK(dec("\x48\xa1\x00\x00\xe0\xfe\x00\x00\x00\x00", 10, MODE_64) == 0); /* movabs 0xfee00000,%rax */
    CHECK(!in.write && in.size == 8 && in.len == 10);
    CHECK(dec("\x67\xa1\x00\x00\xe0\xfe", 6, MODE_64) == 0); /* addr32: a 4-byte offset */
    CHECK(in.size == 4 && in.len == 6);
    CHECK(dec("\xa0\x34\x12", 3, MODE_16) == 0); /* 16-bit: a 2-byte offset */
    CHECK(in.size == 1 && in.len == 3);
    CHECK(dec("\xa1\x00\x00\x00", 4, MODE_32) == -1 && strstr(why, "truncated"));
    /* Segment prefix and address-size prefix are accepted. */
    CHECK(dec("\x64\x67\x8b\x00", 4, MODE_32) == 0);
    CHECK(in.len == 4);
    /* 16-bit addressing with a 67h prefix in 32-bit code: mov (bx+si+disp16),al */
    CHECK(dec("\x67\x8a\x80\x34\x12", 5, MODE_32) == 0);
    CHECK(in.len == 5);
    /* 16-bit code: 89 /r is a 16-bit store by default, 32 with 66h. */
    CHECK(dec("\x89\x07", 2, MODE_16) == 0 && in.size == 2);
    CHECK(dec("\x66\x89\x07", 3, MODE_16) == 0 && in.size == 4);

    /* Refused. */
    CHECK(dec("\x89\xc0", 2, MODE_32) == -1); /* register to register */
    CHECK(strstr(why, "register operand") != NULL);
    CHECK(dec("\x01\x03", 2, MODE_32) == -1); /* ADD */
    CHECK(strstr(why, "not a MOV") != NULL);
    CHECK(dec("\xc7\x48\x10\x01\x00\x00\x00", 7, MODE_32) == -1); /* C7 /1 */
    CHECK(dec("\xc7\x45\x10\xef\xbe", 5, MODE_32) == -1); /* truncated imm */
    CHECK(strstr(why, "truncated") != NULL);
    CHECK(dec("\x66\x66", 2, MODE_32) == -1);
    CHECK(dec("", 0, MODE_64) == -1);
    CHECK(dec("\x0f", 1, MODE_64) == -1);
    CHECK(dec("\x8b", 1, MODE_64) == -1);
    CHECK(dec("\x8b\x04", 2, MODE_64) == -1); /* SIB missing */
    CHECK(dec("\x8b\x8b\x34", 3, MODE_32) == -1); /* disp32 cut off (found by fuzz_insn) */
    /* Fifteen prefixes: too long for any instruction. */
    CHECK(dec("\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x89\x07", 17, MODE_32) == -1);

    /* MOV to CR (0F 22 /r): the CR from ModRM.reg, the register from rm. */
    struct cr_insn cr;
    const uint8_t *mov = (const uint8_t *)"\x0f\x22\xe0"; /* mov %eax,%cr4 */
    CHECK(insn_decode_mov_cr(mov, 3, MODE_32, &cr, &why) == 0);
    CHECK(cr.cr == 4 && cr.gpr == 0 && cr.len == 3);
    /* mod is ignored: 0F 22 20 is mov %eax,%cr4 too (SDM: always a register) */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x0f\x22\x20", 3, MODE_32, &cr, &why) == 0 && cr.gpr == 0);
    /* 64-bit: mov %r9,%cr4  41 0f 22 e1 (REX.B) */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x41\x0f\x22\xe1", 4, MODE_64, &cr, &why) == 0);
    CHECK(cr.cr == 4 && cr.gpr == 9 && cr.len == 4);
    /* 64-bit: mov %rax,%cr8  44 0f 22 c0 (REX.R) */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x44\x0f\x22\xc0", 4, MODE_64, &cr, &why) == 0 && cr.cr == 8);
    /* 40-4F is INC/DEC outside 64-bit mode, not REX */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x41\x0f\x22\xe1", 4, MODE_32, &cr, &why) == -1);
    /* AMD: LOCK MOV CR0 is CR8 in legacy mode */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\xf0\x0f\x22\xc3", 4, MODE_32, &cr, &why) == 0);
    CHECK(cr.cr == 8 && cr.gpr == 3 && cr.len == 4);
    /* A segment prefix counts in the length. */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x2e\x0f\x22\xe6", 4, MODE_16, &cr, &why) == 0);
    CHECK(cr.gpr == 6 && cr.len == 4);
    /* MOV from CR, other opcodes and short buffers are refused. */
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x0f\x20\xe0", 3, MODE_32, &cr, &why) == -1);
    CHECK(strstr(why, "not a MOV to CR") != NULL);
    CHECK(insn_decode_mov_cr((const uint8_t *)"\x0f\x22", 2, MODE_32, &cr, &why) == -1);
    CHECK(strstr(why, "truncated") != NULL);
    CHECK(insn_decode_mov_cr((const uint8_t *)"", 0, MODE_64, &cr, &why) == -1);
    return check_report("test_insn");
}
