/* The serial shell on COM1: reads keys from a ring that the tick fills,
 * edits lines, runs commands, and sleeps (HLT) when there is nothing to do. */
#include <hopvm/cmd.h>
#include <hopvm/console.h>
#include <hopvm/lib.h>
#include <hopvm/lineedit.h>
#include <hopvm/time.h>
#include <hopvm/uart.h>
#include <hopvm/x86.h>

#define RING_SIZE 1024 /* power of two */

static volatile uint8_t ring[RING_SIZE];
static volatile uint32_t ring_head, ring_tail; /* head: written by the tick */
static uint64_t dropped;
static struct lineedit le;

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

static void le_out(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        uart_putc(s[i]);
}

__attribute__((noreturn)) void console_run(void)
{
    char line[LE_MAX];
    le_init(&le, le_out, NULL);
    kprintf("%s", CONSOLE_PROMPT);
    for (;;) {
        int c = console_getc();
        if (c < 0) {
            if (timer_hz())
                sti_hlt(); /* the next tick (or any interrupt) wakes us */
            else
                pause();
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
        kprintf("%s", CONSOLE_PROMPT);
    }
}
