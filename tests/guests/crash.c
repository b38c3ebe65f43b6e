/* crash: triple-faults on purpose. An empty IDT makes INT3 a #GP, the #GP
 * a #DF and the #DF a shutdown (SDM Vol.3A 6.15, interrupt 8). */
#include "rt.h"

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
    (void)magic;
    (void)mbi;
    printf("crash: about to triple-fault\n");
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idt = {0, 0};
    __asm__ volatile("lidt %0; int3" ::"m"(idt));
    printf("crash: still alive?!\n");
    guest_exit(1);
}
