/* The serial shell on COM1: reads keys from a ring that the tick fills,
 * edits lines and runs commands, or, when attached to a guest, passes keys
 * to the guest's UART until Ctrl-]. */
#include <hopvm/cmd.h>
#include <hopvm/console.h>
#include <hopvm/lib.h>
#include <hopvm/lineedit.h>
#include <hopvm/uart.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define RING_SIZE 1024 /* power of two */
#define KEY_DETACH 0x1d /* Ctrl-] as in telnet */
#define KEY_CANCEL 0x03 /* Ctrl-C */

static volatile uint8_t ring[RING_SIZE];
static volatile uint32_t ring_head, ring_tail; /* head: written by the tick */
static uint64_t dropped;
static struct lineedit le;
static struct vm *attached;
static const struct console_task *task;

void console_poll_input(void)
{
    int c;
    while ((c = uart_getc()) >= 0) {
        if (ring_head - ring_tail == RING_SIZE) {
            dropped++;
            continue;
        }
        ring[ring_head % RING_SIZE] = (uint8_t)c;
        ring_head++;
    }
}

int console_getc(void)
{
    uint64_t fl = read_rflags();
    cli();
    console_poll_input();
    int c = -1;
    if (ring_tail != ring_head) {
        c = ring[ring_tail % RING_SIZE];
        ring_tail++;
    }
    if (fl & RFLAGS_IF)
        sti();
    return c;
}

/* Keys the console could act on now: not those waiting for an attached
 * guest's full UART (that guest must run to make room). */
bool console_input_pending(void)
{
    if (ring_tail == ring_head)
        return false;
    if (!attached || uart_dev_room(attached))
        return true;
    for (unsigned i = ring_tail; i != ring_head; i++)
        if (ring[i % RING_SIZE] == KEY_DETACH)
            return true;
    return false;
}

static void le_out(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        uart_putc(s[i]);
}

void console_start(void)
{
    le_init(&le, le_out, NULL);
    kprintf("%s", CONSOLE_PROMPT);
}

void console_attach(struct vm *vm)
{
    attached = vm;
}

static void detach(const char *why)
{
    kprintf("\n[%s: back to hopvm]\n%s", why, CONSOLE_PROMPT);
    attached = NULL;
    le_reset(&le);
}

void console_guest_output(struct vm *vm, char c)
{
    if (vm == attached)
        uart_putc(c);
}

void console_guest_stopped(struct vm *vm)
{
    if (vm == attached)
        detach("guest stopped");
}

void console_notify(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Erase the prompt line, print the news, redraw what was being typed. */
    kprintf("\r\x1b[K%s\n", msg);
    if (!attached && !task) {
        kprintf("%s%s", CONSOLE_PROMPT, le.buf);
        for (size_t i = le.cur; i < le.len; i++)
            uart_putc('\b');
    }
}

void console_task_begin(const struct console_task *t) { task = t; }
bool console_task_active(void) { return task != NULL; }

void console_task_end(void)
{
    if (!task)
        return;
    task = NULL;
    le_reset(&le); /* keys typed meanwhile were ignored */
    if (!attached)
        kprintf("%s", CONSOLE_PROMPT);
}

/* True if a Ctrl-] waits anywhere in the ring: the way back to hopvm must
 * not queue behind keys a guest will never read. */
static bool detach_waiting(void)
{
    uint64_t fl = read_rflags();
    cli();
    console_poll_input();
    bool found = false;
    for (unsigned i = ring_tail; i != ring_head && !found; i++)
        found = ring[i % RING_SIZE] == KEY_DETACH;
    if (fl & RFLAGS_IF)
        sti();
    return found;
}

/* Drops the keys up to and including the first Ctrl-]. */
static void take_through_detach(void)
{
    int c;
    while ((c = console_getc()) >= 0 && c != KEY_DETACH)
        ;
}

bool console_service(void)
{
    char line[LE_MAX];
    bool any = false;
    int c;
    for (;;) {
        /* While attached, keys wait in the ring until the guest's UART has
         * room (its FIFO holds 16550-sized bursts), as a terminal's flow
         * control would: a pasted line is not cut. A Ctrl-] anywhere
         * behind them still detaches from a guest that reads nothing (the
         * keys before it are dropped). */
        if (attached && !uart_dev_room(attached)) {
            if (!detach_waiting())
                break;
            take_through_detach();
            detach("detached");
            any = true;
            continue;
        }
        if ((c = console_getc()) < 0)
            break;
        any = true;
        if (attached) {
            if (c == KEY_DETACH)
                detach("detached");
            else
                uart_dev_input(attached, (uint8_t)c);
            continue;
        }
        if (task) {
            if (c == KEY_CANCEL)
                task->cancel(); /* ends the task, prints the prompt */
            continue;
        }
        enum le_result r = le_feed(&le, c);
        if (r == LE_NONE)
            continue;
        if (r == LE_LINE) {
            memcpy(line, le.buf, le.len + 1);
            cmd_execute(line);
        }
        le_reset(&le);
        if (!attached && !task)
            kprintf("%s", CONSOLE_PROMPT);
    }
    if (task && task->poll)
        any |= task->poll();
    return any;
}
