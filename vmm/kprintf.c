/* Console output for the host core: formatted text to COM1. Output is
 * serialised with interrupts off so that an interrupt handler's message
 * cannot tear a line. */
#include <hopvm/lib.h>
#include <hopvm/uart.h>
#include <hopvm/x86.h>

static void out_str(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            uart_putc('\r');
        uart_putc(s[i]);
    }
}

int kvprintf(const char *fmt, va_list ap)
{
    char buf[512];
    va_list cp;
    va_copy(cp, ap);
    int n = kvsnprintf(buf, sizeof(buf), fmt, cp);
    va_end(cp);
    uint64_t fl = read_rflags();
    cli();
    out_str(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    if (fl & RFLAGS_IF)
        sti();
    return n;
}

int kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvprintf(fmt, ap);
    va_end(ap);
    return n;
}

void kputs(const char *s)
{
    kprintf("%s\n", s);
}

void kprint_x100(uint64_t v_x100) { kprintf("%lu.%02lu", v_x100 / 100, v_x100 % 100); }
