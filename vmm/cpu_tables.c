/* The host's own GDT, TSS and IDT. UEFI's tables live in boot-services
 * memory that the allocator reclaims, and OVMF leaves TR = 0, which VT-x
 * rejects as host state (SDM 26.2.3), so hopvm installs its own first. */
#include <hopvm/cpu.h>
#include <hopvm/lib.h>

/* SDM Vol.3A 8.7: 64-bit TSS. */
struct __attribute__((packed)) tss64 {
    uint32_t rsvd0;
    uint64_t rsp[3];
    uint64_t rsvd1;
    uint64_t ist[7];
    uint64_t rsvd2;
    uint16_t rsvd3;
    uint16_t iopb;
};

/* SDM Vol.3A 6.14.1: 64-bit IDT gate descriptor. */
struct __attribute__((packed)) idt_gate {
    uint16_t off0;
    uint16_t sel;
    uint8_t ist;
    uint8_t type; /* P | DPL | type */
    uint16_t off1;
    uint32_t off2;
    uint32_t rsvd;
};

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint64_t base;
};

#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate */
#define IST_STACK_SIZE 8192

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint8_t ist_stacks[3][IST_STACK_SIZE] __attribute__((aligned(16)));

/* SDM Vol.3A 3.4.5: code segment L=1, D=0; data segment writable. */
#define GDT_CODE64 0x00af9a000000ffffull
#define GDT_DATA   0x00cf92000000ffffull

static void set_tss_desc(uint64_t *slot, uint64_t base, uint32_t limit)
{
    /* SDM Vol.3A 8.2.3: 16-byte TSS descriptor, type 9 (available 64-bit TSS). */
    slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
              ((uint64_t)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    slot[1] = base >> 32;
}

static void set_gate(int vec, uint64_t handler, uint8_t ist)
{
    struct idt_gate *g = &idt[vec];
    g->off0 = (uint16_t)handler;
    g->sel = SEL_CODE64;
    g->ist = ist;
    g->type = GATE_INTERRUPT;
    g->off1 = (uint16_t)(handler >> 16);
    g->off2 = (uint32_t)(handler >> 32);
    g->rsvd = 0;
}

void cpu_tables_init(void)
{
    gdt[0] = 0;
    gdt[SEL_CODE64 / 8] = GDT_CODE64;
    gdt[SEL_DATA / 8] = GDT_DATA;
    for (int i = 0; i < 3; i++)
        tss.ist[i] = (uint64_t)(uintptr_t)(ist_stacks[i] + IST_STACK_SIZE);
    tss.iopb = sizeof(tss); /* no I/O permission bitmap */
    set_tss_desc(&gdt[SEL_TSS / 8], (uint64_t)(uintptr_t)&tss, sizeof(tss) - 1);
    struct dtr gdtr = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
    gdt_load(&gdtr, SEL_CODE64, SEL_DATA);
    __asm__ volatile("ltr %w0" ::"r"((uint16_t)SEL_TSS));

    for (int v = 0; v < 256; v++)
        set_gate(v, isr_stub_table[v], 0);
    /* Faults that can arrive on a broken stack get stacks of their own
     * (SDM Vol.3A 6.14.5), so their dump is still printed. */
    set_gate(8, isr_stub_table[8], IST_DOUBLE_FAULT);
    set_gate(2, isr_stub_table[2], IST_NMI);
    set_gate(18, isr_stub_table[18], IST_MACHINE_CHECK);
    struct dtr idtr = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}
