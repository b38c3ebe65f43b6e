#ifndef HOPVM_CONSOLE_H
#define HOPVM_CONSOLE_H
#include <stdbool.h>

#define CONSOLE_PROMPT "hopvm> "

/* Moves bytes from the UART into the input ring; called on every tick so
 * no byte is lost while a command or a guest runs. */
void console_poll_input(void);
/* Next input byte or -1. */
int console_getc(void);
struct vm;
/* Prints the first prompt. */
void console_start(void);
/* Handles every input byte that is waiting: line editing and commands, or
 * keys for the attached guest. Returns whether there was any. */
bool console_service(void);
bool console_input_pending(void);
/* Routes the host console to a guest's UART until Ctrl-] (0x1d). */
void console_attach(struct vm *vm);
/* A byte the guest wrote to its UART: shown live when attached. */
void console_guest_output(struct vm *vm, char c);
/* An asynchronous message (a guest stopped, ...): printed on its own line
 * and the prompt with the half-typed line redrawn below it. */
void console_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A foreground task: a command that goes on after it returns (a transfer
 * driven by network callbacks from the host loop, so guests keep running)
 * and holds the prompt back until it ends. Ctrl-C calls cancel, which must
 * end the task. Other keys are ignored meanwhile. */
struct console_task {
    const char *name;
    void (*cancel)(void);
    /* May be NULL: called once per host-loop pass while the task runs, for
     * work that must not stall the guests; true while it has more. */
    bool (*poll)(void);
};
/* Called by a command before it returns: the prompt waits for task_end. */
void console_task_begin(const struct console_task *t);
/* The task is over: the prompt comes back. */
void console_task_end(void);
bool console_task_active(void);
/* The guest stopped: leave it if attached. */
void console_guest_stopped(struct vm *vm);

#endif
