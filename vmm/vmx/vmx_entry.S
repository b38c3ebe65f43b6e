/* VM entry and exit with the full general-register switch (SDM Vol.3C
 * 27.x and 28.x: VM entry loads RSP/RIP/RFLAGS from the VMCS; every other
 * GPR, including RAX, is exchanged here).
 *
 * int vmx_enter(uint64_t *gpr, int launched)
 *   returns 0 after a VM exit, 1 if VMLAUNCH/VMRESUME failed (VMfail;
 *   the VM-instruction error field says why). */
#define G(r) (8 * (r))
#define RAX 0
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7
#define VMCS_HOST_RSP 0x6c14

    .text
    .globl vmx_enter, vmx_exit_stub
vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi               /* gpr[] for the exit stub */
    mov $VMCS_HOST_RSP, %eax
    vmwrite %rsp, %rax      /* the exit stub starts on this stack */
    cmp $0, %esi
    mov G(RAX)(%rdi), %rax
    mov G(RCX)(%rdi), %rcx
    mov G(RDX)(%rdi), %rdx
    mov G(RBX)(%rdi), %rbx
    mov G(RBP)(%rdi), %rbp
    mov G(RSI)(%rdi), %rsi
    mov G(8)(%rdi), %r8
    mov G(9)(%rdi), %r9
    mov G(10)(%rdi), %r10
    mov G(11)(%rdi), %r11
    mov G(12)(%rdi), %r12
    mov G(13)(%rdi), %r13
    mov G(14)(%rdi), %r14
    mov G(15)(%rdi), %r15
    mov G(RDI)(%rdi), %rdi  /* flags from the cmp above are still intact */
    jne 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  /* Only reached when the entry failed (VMfailValid/VMfailInvalid). */
    pop %rdi
    mov $1, %eax
    jmp 3f

vmx_exit_stub:
    push %rdi               /* guest RDI */
    mov 8(%rsp), %rdi       /* gpr[] */
    mov %rax, G(RAX)(%rdi)
    mov %rcx, G(RCX)(%rdi)
    mov %rdx, G(RDX)(%rdi)
    mov %rbx, G(RBX)(%rdi)
    mov %rbp, G(RBP)(%rdi)
    mov %rsi, G(RSI)(%rdi)
    mov %r8, G(8)(%rdi)
    mov %r9, G(9)(%rdi)
    mov %r10, G(10)(%rdi)
    mov %r11, G(11)(%rdi)
    mov %r12, G(12)(%rdi)
    mov %r13, G(13)(%rdi)
    mov %r14, G(14)(%rdi)
    mov %r15, G(15)(%rdi)
    pop %rax
    mov %rax, G(RDI)(%rdi)
    add $8, %rsp            /* gpr[] */
    xor %eax, %eax
3:  pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .section .note.GNU-stack, "", @progbits
