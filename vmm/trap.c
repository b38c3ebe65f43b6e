/* Exceptions and interrupts of the host. An exception in the host is a bug
 * in hopvm: print everything that helps find it and park the CPU. No crash
 * is ever silent. */
#include <hopvm/cpu.h>
#include <hopvm/lib.h>
#include <hopvm/x86.h>

static irq_handler_t handlers[256];
static uint64_t unexpected;

/* SDM Vol.3A 6.3.1 table 6-1 mnemonics. */
static const char *const exc_names[32] = {
    [0] = "#DE divide error",      [1] = "#DB debug",
    [2] = "NMI",                   [3] = "#BP breakpoint",
    [4] = "#OF overflow",          [5] = "#BR bound range",
    [6] = "#UD invalid opcode",    [7] = "#NM device not available",
    [8] = "#DF double fault",      [9] = "coprocessor segment overrun",
    [10] = "#TS invalid TSS",      [11] = "#NP segment not present",
    [12] = "#SS stack fault",      [13] = "#GP general protection",
    [14] = "#PF page fault",       [16] = "#MF x87 error",
    [17] = "#AC alignment check",  [18] = "#MC machine check",
    [19] = "#XM SIMD exception",   [20] = "#VE virtualization exception",
    [21] = "#CP control protection", [29] = "#VC VMM communication",
    [30] = "#SX security exception",
};

void irq_register(uint8_t vector, irq_handler_t fn) { handlers[vector] = fn; }
uint64_t irq_unexpected_count(void) { return unexpected; }

__attribute__((noreturn)) void cpu_park(void)
{
    for (;;) {
        cli();
        hlt();
    }
}

static uint64_t stack_lo(uint64_t rbp)
{
    uint64_t lo = (uint64_t)(uintptr_t)boot_stack;
    uint64_t hi = (uint64_t)(uintptr_t)(boot_stack + BOOT_STACK_SIZE);
    return rbp >= lo && rbp < hi ? lo : 0;
}

/* Walks the frame-pointer chain (the core builds with
 * -fno-omit-frame-pointer), never leaving the boot stack, so a corrupt
 * chain ends the walk instead of faulting again. */
static void backtrace(uint64_t rip, uint64_t rbp)
{
    uint64_t base, size;
    image_info(&base, &size);
    kprintf("backtrace (image base 0x%lx; addr2line -e build/hopvm.so OFFSET):\n", base);
    kprintf("  #0  0x%016lx  +0x%lx\n", rip, rip - base);
    uint64_t hi = (uint64_t)(uintptr_t)(boot_stack + BOOT_STACK_SIZE);
    for (int depth = 1; depth < 32 && stack_lo(rbp) && rbp + 16 <= hi && !(rbp & 7); depth++) {
        uint64_t ret = ((uint64_t *)(uintptr_t)rbp)[1];
        uint64_t next = ((uint64_t *)(uintptr_t)rbp)[0];
        if (!ret)
            break;
        kprintf("  #%-2d 0x%016lx  +0x%lx\n", depth, ret, ret - base);
        if (next <= rbp)
            break;
        rbp = next;
    }
}

void trap_dump(const char *what, const struct trap_frame *tf)
{
    kprintf("\n*** hopvm: %s (vector %lu) error code 0x%lx ***\n", what, tf->vector, tf->error);
    kprintf("RIP=%016lx CS=%04lx RFLAGS=%016lx\n", tf->rip, tf->cs, tf->rflags);
    kprintf("RSP=%016lx SS=%04lx\n", tf->rsp, tf->ss);
    kprintf("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
    kprintf("RSI=%016lx RDI=%016lx RBP=%016lx\n", tf->rsi, tf->rdi, tf->rbp);
    kprintf("R8 =%016lx R9 =%016lx R10=%016lx R11=%016lx\n", tf->r8, tf->r9, tf->r10, tf->r11);
    kprintf("R12=%016lx R13=%016lx R14=%016lx R15=%016lx\n", tf->r12, tf->r13, tf->r14, tf->r15);
    kprintf("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx\n", read_cr0(), read_cr2(), read_cr3(), read_cr4());
    kprintf("EFER=%016lx\n", rdmsr(MSR_EFER));
    backtrace(tf->rip, tf->rbp);
}

void trap_entry(struct trap_frame *tf);
void trap_entry(struct trap_frame *tf)
{
    uint64_t v = tf->vector;
    if (v == 13 && tf->rip == (uint64_t)(uintptr_t)rdmsr_safe_insn) {
        tf->rip = (uint64_t)(uintptr_t)rdmsr_safe_fixup;
        return;
    }
    if (v == 13 && tf->rip == (uint64_t)(uintptr_t)wrmsr_safe_insn) {
        tf->rip = (uint64_t)(uintptr_t)wrmsr_safe_fixup;
        return;
    }
    if (v < 32) {
        const char *name = exc_names[v] ? exc_names[v] : "reserved exception";
        trap_dump(name, tf);
        kprintf("CPU parked. The host has stopped; reset the machine.\n");
        cpu_park();
    }
    if (handlers[v])
        handlers[v](tf);
    else
        unexpected++;
}
