#ifndef HOPVM_CONSOLE_H
#define HOPVM_CONSOLE_H

#define CONSOLE_PROMPT "hopvm> "

/* Moves bytes from the UART into the input ring; called on every tick so
 * no byte is lost while a command or a guest runs. */
void console_poll_input(void);
/* Next input byte or -1. */
int console_getc(void);
/* The shell: prompt, line editing, dispatch. Never returns. */
__attribute__((noreturn)) void console_run(void);

#endif
