/* Host CPU tables (GDT, TSS, IDT), traps and interrupt routing. */
#ifndef HOPVM_CPU_H
#define HOPVM_CPU_H
#include <stdint.h>

#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_TSS    0x18

/* Vectors: 0-31 are exceptions (SDM Vol.3A 6.3.1); the rest we assign. */
#define VEC_TIMER    0x20
#define VEC_NIC      0x30  /* MSI/MSI-X of every NIC: wakes the host loop */
#define VEC_SPURIOUS 0xff
#define IST_DOUBLE_FAULT 1
#define IST_NMI          2
#define IST_MACHINE_CHECK 3

/* Pushed by vmm/entry.S, in this order from low to high addresses. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

typedef void (*irq_handler_t)(struct trap_frame *tf);

void cpu_tables_init(void);
void irq_register(uint8_t vector, irq_handler_t fn);
/* Counts interrupts that arrived on a vector nobody registered. */
uint64_t irq_unexpected_count(void);

/* Prints a full register dump of tf with a reason line and a backtrace;
 * used by fatal exceptions and by anything else that dies. */
void trap_dump(const char *what, const struct trap_frame *tf);
__attribute__((noreturn)) void cpu_park(void);

/* The core's stack (vmm/main.c); backtraces stay inside it. */
#define BOOT_STACK_SIZE (64 * 1024)
extern uint8_t boot_stack[BOOT_STACK_SIZE];
void image_info(uint64_t *base, uint64_t *size);

/* Implemented in vmm/entry.S. */
__attribute__((noreturn)) void switch_stack_and_call(void *top, void (*fn)(void *), void *arg);
void gdt_load(const void *gdtr, uint16_t cs, uint16_t ds);
extern const uint64_t isr_stub_table[256];
int rdmsr_safe(uint32_t msr, uint64_t *val);
int wrmsr_safe(uint32_t msr, uint64_t val);
extern const uint8_t rdmsr_safe_insn[], rdmsr_safe_fixup[], wrmsr_safe_insn[], wrmsr_safe_fixup[];

#endif
