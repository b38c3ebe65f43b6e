/* VMRUN with the full general-register switch (APM 15.5). VMRUN saves and
 * restores only RAX, RSP, RIP, RFLAGS and segment/control state; every
 * other GPR is exchanged here. VMLOAD/VMSAVE move the guest's FS/GS/TR/
 * LDTR, KernelGSBase, STAR/LSTAR/CSTAR/SFMASK and SYSENTER MSRs, and the
 * host's copy is reloaded from its own save area afterwards (APM 15.5.2).
 *
 * void svm_vmrun(uint64_t vmcb_pa, uint64_t *gpr, uint64_t host_save_pa)
 * gpr[] is indexed like enum gpr (RAX and RSP live in the VMCB). */
#define G(r) (8 * r)
#define RCX 1
#define RDX 2
#define RBX 3
#define RBP 5
#define RSI 6
#define RDI 7

    .text
    .globl svm_vmrun
svm_vmrun:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdx               /* host save area */
    push %rsi               /* gpr[] */
    mov %rdi, %rax          /* VMCB physical address, implicit operand */
    mov G(RCX)(%rsi), %rcx
    mov G(RDX)(%rsi), %rdx
    mov G(RBX)(%rsi), %rbx
    mov G(RBP)(%rsi), %rbp
    mov G(RDI)(%rsi), %rdi
    mov G(8)(%rsi), %r8
    mov G(9)(%rsi), %r9
    mov G(10)(%rsi), %r10
    mov G(11)(%rsi), %r11
    mov G(12)(%rsi), %r12
    mov G(13)(%rsi), %r13
    mov G(14)(%rsi), %r14
    mov G(15)(%rsi), %r15
    mov G(RSI)(%rsi), %rsi
    vmload %rax
    vmrun %rax
    vmsave %rax
    push %rsi               /* guest RSI */
    mov 8(%rsp), %rsi       /* gpr[] */
    mov %rcx, G(RCX)(%rsi)
    mov %rdx, G(RDX)(%rsi)
    mov %rbx, G(RBX)(%rsi)
    mov %rbp, G(RBP)(%rsi)
    mov %rdi, G(RDI)(%rsi)
    mov %r8, G(8)(%rsi)
    mov %r9, G(9)(%rsi)
    mov %r10, G(10)(%rsi)
    mov %r11, G(11)(%rsi)
    mov %r12, G(12)(%rsi)
    mov %r13, G(13)(%rsi)
    mov %r14, G(14)(%rsi)
    mov %r15, G(15)(%rsi)
    pop %rax
    mov %rax, G(RSI)(%rsi)
    add $8, %rsp            /* gpr[] */
    pop %rax                /* host save area */
    vmload %rax
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
    .section .note.GNU-stack, "", @progbits
