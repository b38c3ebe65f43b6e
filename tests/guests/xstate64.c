/* xstate64: the xstate guest (xstate.c) built as an ELF64 kernel, entered
 * in long mode: the same probes with 64-bit operands, a REX-encoded MOV to
 * CR4 and the extra #GP for clearing CR4.PAE in IA-32e mode. */
#include "xstate.c"
