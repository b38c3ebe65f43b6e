/* Low-level entry points of the host core: stack switch, segment reload
 * and the 256 interrupt stubs. Position independent (the image is relocated
 * by gnu-efi's crt0), so every reference is RIP-relative. */
    .text

/* void switch_stack_and_call(void *top, void (*fn)(void *), void *arg) */
    .globl switch_stack_and_call
switch_stack_and_call:
    mov %rdi, %rsp
    xor %ebp, %ebp          /* terminates backtraces */
    mov %rdx, %rdi
    call *%rsi
1:  cli
    hlt
    jmp 1b

/* void gdt_load(const void *gdtr, uint16_t cs, uint16_t ds)
 * SDM 3.4.3: CS can only be reloaded by a far transfer; use LRETQ. */
    .globl gdt_load
gdt_load:
    lgdt (%rdi)
    mov %dx, %ds
    mov %dx, %es
    mov %dx, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    movzwq %si, %rsi
    pushq %rsi
    leaq 1f(%rip), %rax
    pushq %rax
    lretq
1:  ret

/* int rdmsr_safe(uint32_t msr, uint64_t *val) / int wrmsr_safe(uint32_t msr, uint64_t val)
 * An MSR the CPU does not implement raises #GP (SDM Vol.2B RDMSR); the trap
 * handler sees the faulting RIP is one of these and resumes at the fixup,
 * so probing an MSR never brings the host down. Returns 0 or -1. */
    .globl rdmsr_safe, rdmsr_safe_insn, rdmsr_safe_fixup
rdmsr_safe:
    mov %edi, %ecx
rdmsr_safe_insn:
    rdmsr
    shl $32, %rdx
    or %rdx, %rax
    mov %rax, (%rsi)
    xor %eax, %eax
    ret
rdmsr_safe_fixup:
    mov $-1, %eax
    ret

    .globl wrmsr_safe, wrmsr_safe_insn, wrmsr_safe_fixup
wrmsr_safe:
    mov %edi, %ecx
    mov %rsi, %rax
    mov %rsi, %rdx
    shr $32, %rdx
wrmsr_safe_insn:
    wrmsr
    xor %eax, %eax
    ret
wrmsr_safe_fixup:
    mov $-1, %eax
    ret

/* SDM 6.13: these vectors push an error code; the others get a zero so
 * every frame has the same shape (struct trap_frame). */
.macro STUB n
    .p2align 4
isr_\n:
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    pushq $0
    .endif
    pushq $\n
    jmp isr_common
.endm

    .altmacro
.set i, 0
.rept 256
    STUB %i
    .set i, i + 1
.endr

isr_common:
    cld
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, %rdi
    /* SysV needs a 16-byte aligned stack at the call. */
    mov %rsp, %rbx
    and $-16, %rsp
    call trap_entry
    mov %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    add $16, %rsp           /* vector, error code */
    iretq

    .section .data.rel.ro, "aw"
    .p2align 3
    .globl isr_stub_table
isr_stub_table:
.macro STUBADDR n
    .quad isr_\n
.endm
.set i, 0
.rept 256
    STUBADDR %i
    .set i, i + 1
.endr

    .section .note.GNU-stack, "", @progbits
