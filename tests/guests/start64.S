/* ELF64 entry, per hopvm's documented long-mode initial state (README,
 * "Guest kernels"): RDI = multiboot-format information, RSI = 0x2BADB002,
 * a stack already set. Arguments are passed on as guest_main(magic, info). */
    .text
    .globl _start
_start:
    lea stack_top(%rip), %rsp
    mov %rdi, %rax
    mov %esi, %edi
    mov %rax, %rsi
    call guest_main
    xor %edi, %edi
    call guest_exit

    .bss
    .align 16
stack:
    .skip 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
