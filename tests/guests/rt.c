#include "rt.h"

#define COM1 0x3f8
#define COM1_LSR (COM1 + 5)
#define LSR_THRE 0x20
#define DEBUG_EXIT_PORT 0xf4

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void putc_serial(char c)
{
    while (!(inb(COM1_LSR) & LSR_THRE))
        ;
    outb(COM1, (uint8_t)c);
}

void puts_serial(const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            putc_serial('\r');
        putc_serial(*s);
    }
}

static void put_num(uint64_t v, unsigned base, int width, char padc)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n < width--)
        putc_serial(padc);
    while (n)
        putc_serial(buf[--n]);
}

/* %d %u %x %s %c with l/ll and a zero-padded width: enough for tests. */
int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            if (*fmt == '\n')
                putc_serial('\r');
            putc_serial(*fmt);
            continue;
        }
        fmt++;
        char padc = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0')
            padc = '0';
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        uint64_t v;
        switch (*fmt) {
        case 'd': {
            int64_t s = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            if (s < 0) {
                putc_serial('-');
                s = -s;
            }
            put_num((uint64_t)s, 10, width, padc);
            break;
        }
        case 'u': case 'x':
            v = lng >= 2 ? va_arg(ap, unsigned long long) : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_num(v, *fmt == 'u' ? 10 : 16, width, padc);
            break;
        case 's': puts_serial(va_arg(ap, const char *)); break;
        case 'c': putc_serial((char)va_arg(ap, int)); break;
        default: putc_serial('%'); putc_serial(*fmt); break;
        }
    }
    va_end(ap);
    return 0;
}

__attribute__((noreturn)) void guest_exit(uint8_t code)
{
    outb(DEBUG_EXIT_PORT, code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

uint64_t tsc_khz(void)
{
    uint32_t r[4];
    cpuid(0x40000000, r);
    if (r[0] < 0x40000010 || r[1] != 0x76706f68 /* "hopv" */)
        return 0;
    cpuid(0x40000010, r);
    return r[0];
}

const char *cmdline(const struct mb_info *mbi)
{
    if (!(mbi->flags & MB_INFO_CMDLINE))
        return "";
    return (const char *)(uintptr_t)mbi->cmdline;
}

uint64_t cmdline_num(const struct mb_info *mbi, const char *key, uint64_t def)
{
    const char *s = cmdline(mbi);
    size_t kl = strlen(key);
    while (*s) {
        while (*s == ' ')
            s++;
        const char *w = s;
        while (*s && *s != ' ')
            s++;
        if ((size_t)(s - w) > kl && w[kl] == '=') {
            size_t i = 0;
            while (i < kl && w[i] == key[i])
                i++;
            if (i == kl) {
                uint64_t v = 0;
                for (const char *p = w + kl + 1; p < s && *p >= '0' && *p <= '9'; p++)
                    v = v * 10 + (uint64_t)(*p - '0');
                return v;
            }
        }
    }
    return def;
}

#ifndef __x86_64__
/* 64-bit division for the 32-bit guests: gcc calls these libgcc helpers,
 * and there is no 32-bit libgcc on a build machine without multilib.
 * Shift-and-subtract: slow, and only used off the hot paths. */
uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint64_t q = 0, r = 0;
    if (d == 0) /* the hardware would fault; a test guest exits instead */
        guest_exit(0xde);
    for (int i = 63; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= 1ull << i;
        }
    }
    if (rem)
        *rem = r;
    return q;
}
uint64_t __udivdi3(uint64_t n, uint64_t d) { return __udivmoddi4(n, d, 0); }
uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t r;
    __udivmoddi4(n, d, &r);
    return r;
}
#endif
