/* Multiboot v1 entry (Multiboot Specification 0.6.96, 3.1 and 3.2):
 * the loader jumps here in 32-bit protected mode, paging off, with
 * EAX = 0x2BADB002 and EBX = the information structure. */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003 /* page-align modules, want memory info */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
_start:
    mov $stack_top, %esp
    push %ebx
    push %eax
    call guest_main
    push $0
    call guest_exit

    .bss
    .align 16
stack:
    .skip 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
