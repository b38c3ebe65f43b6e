/* crash: misbehaves on purpose.
 *   (default)  triple-faults: an empty IDT makes INT3 a #GP, the #GP a #DF
 *              and the #DF a shutdown (SDM Vol.3A 6.15, interrupt 8);
 *   mode=1     executes VMRUN, which must raise #UD in a guest (hopvm
 *              intercepts it, APM 15.5); a #UD handler reports it, exit 6;
 *   mode=2     reads and writes guest-physical memory far beyond its RAM
 *              (all ones, dropped), then jumps there;
 *   mode=3     not a crash: drives the UART through its MMIO window and
 *              with string I/O (REP OUTSB), the paths hopvm must decode. */
#include "rt.h"

struct __attribute__((packed)) idt_gate32 {
    uint16_t off_lo, sel;
    uint8_t zero, type;
    uint16_t off_hi;
};
static struct idt_gate32 idt[32];

void ud_handler(void);
__asm__(".globl ud_handler\nud_handler:\n"
        "  push $ud_msg\n  call puts_serial\n  push $6\n  call guest_exit\n"
        ".section .rodata\nud_msg: .asciz \"crash: VMRUN raised #UD\\n\"\n.text\n");

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    uint64_t mode = cmdline_num(mbi, "mode", 0);
    if (mode == 1) {
        uint16_t cs;
        __asm__ volatile("mov %%cs, %0" : "=r"(cs));
        uintptr_t h = (uintptr_t)ud_handler;
        idt[6] = (struct idt_gate32){(uint16_t)h, cs, 0, 0x8e, (uint16_t)(h >> 16)};
        struct __attribute__((packed)) { uint16_t limit; uint32_t base; } d = {sizeof(idt) - 1, (uint32_t)(uintptr_t)idt};
        __asm__ volatile("lidt %0" ::"m"(d));
        printf("crash: trying VMRUN\n");
        __asm__ volatile("vmrun" ::"a"(0));
        printf("crash: VMRUN did not fault?!\n");
        guest_exit(1);
    }
    if (mode == 3) {
        volatile uint8_t *mmio = (volatile uint8_t *)0xfeb00000u;
        const char *msg = "crash: hello through the MMIO UART\r\n";
        for (const char *p = msg; *p; p++) {
            while (!(mmio[5] & 0x20)) /* LSR.THRE, a byte load (8A) */
                ;
            mmio[0] = (uint8_t)*p; /* a byte store (88) */
        }
        uint32_t lsr32 = *(volatile uint32_t *)(mmio + 5); /* 32-bit load (8B) */
        uint32_t zx;
        __asm__ volatile("movzbl (%1), %0" : "=r"(zx) : "r"(mmio + 7)); /* MOVZX from SCR */
        *(volatile uint8_t *)(mmio + 7) = 0x5a; /* immediate store (C6) */
        __asm__ volatile("movzbl (%1), %0" : "=r"(zx) : "r"(mmio + 7));
        printf("crash: MMIO LSR 0x%x, SCR 0x%x\n", lsr32 & 0xff, zx);
        static const char rep[] = "crash: hello through REP OUTSB\r\n";
        const char *src = rep;
        uint32_t count = sizeof(rep) - 1;
        __asm__ volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(0x3f8) : "memory");
        guest_exit(0);
    }
    if (mode == 2) {
        /* Nothing there, as on a PC: reads all ones, writes dropped. Then
         * a jump there: no code to run, the guest stops. */
        volatile uint32_t *p = (volatile uint32_t *)0xe0000000u;
        printf("crash: read 0x%x at 0xe0000000\n", *p);
        *p = 0x12345678;
        volatile uint8_t *b = (volatile uint8_t *)0xe0000010u;
        printf("crash: read 0x%x after a write, byte 0x%x\n", *p, *b);
        printf("crash: jumping to 0xe0000000\n");
        ((void (*)(void))0xe0000000u)();
        printf("crash: came back?!\n");
        guest_exit(1);
    }
    printf("crash: about to triple-fault\n");
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } empty = {0, 0};
    __asm__ volatile("lidt %0; int3" ::"m"(empty));
    printf("crash: still alive?!\n");
    guest_exit(1);
}
