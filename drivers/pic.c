/* Legacy 8259 PICs: remapped away from the exception vectors, then fully
 * masked; hopvm takes interrupts through the local APIC only. */
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define ICW1_INIT_ICW4 0x11
#define ICW4_8086 0x01
#define PIC1_VECTOR 0x70 /* a spurious IRQ7/15 lands on 0x77/0x7f, not an exception */
#define PIC2_VECTOR 0x78

void pic_disable(void)
{
    outb(PIC1_CMD, ICW1_INIT_ICW4);
    outb(PIC2_CMD, ICW1_INIT_ICW4);
    outb(PIC1_DATA, PIC1_VECTOR);
    outb(PIC2_DATA, PIC2_VECTOR);
    outb(PIC1_DATA, 4); /* slave on IRQ2 */
    outb(PIC2_DATA, 2);
    outb(PIC1_DATA, ICW4_8086);
    outb(PIC2_DATA, ICW4_8086);
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
}
