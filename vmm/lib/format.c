/* kvsnprintf: the core's only formatter. Pure: also built into the Linux
 * unit tests, which compare it against the C library's vsnprintf. */
#include <hopvm/lib.h>
#include <stdbool.h>

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero, plus, space, alt; /* alt: the # flag */
    int width, prec; /* prec < 0: none */
};

static void emit_str(struct out *o, const struct spec *sp, const char *s)
{
    size_t n = 0;
    if (!s)
        s = "(null)";
    while (s[n] && (sp->prec < 0 || n < (size_t)sp->prec))
        n++;
    int padn = sp->width > (int)n ? sp->width - (int)n : 0;
    if (!sp->left)
        pad(o, ' ', padn);
    for (size_t i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        pad(o, ' ', padn);
}

static void emit_num(struct out *o, const struct spec *sp, uint64_t v, bool neg,
                     unsigned base, bool upper, const char *prefix)
{
    char digits[24];
    int nd = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[nd++] = set[v % base];
        v /= base;
    } while (v);
    if (sp->prec == 0 && nd == 1 && digits[0] == '0')
        nd = 0; /* C11 7.21.6.1: zero with precision 0 prints nothing */
    char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
    int zeros = sp->prec > nd ? sp->prec - nd : 0;
    int plen = (int)strlen(prefix);
    int body = nd + zeros + (sign ? 1 : 0) + plen;
    int padn = sp->width > body ? sp->width - body : 0;
    bool zero_pad = sp->zero && !sp->left && sp->prec < 0;
    if (!sp->left && !zero_pad)
        pad(o, ' ', padn);
    if (sign)
        put(o, sign);
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    if (zero_pad)
        pad(o, '0', padn);
    pad(o, '0', zeros);
    while (nd)
        put(o, digits[--nd]);
    if (sp->left)
        pad(o, ' ', padn);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        struct spec sp = {.prec = -1};
        for (;;) {
            char f = *++fmt;
            if (f == '-') sp.left = true;
            else if (f == '0') sp.zero = true;
            else if (f == '+') sp.plus = true;
            else if (f == ' ') sp.space = true;
            else if (f == '#') sp.alt = true;
            else break;
        }
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) { sp.left = true; sp.width = -sp.width; }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            sp.prec = 0;
            fmt++;
            if (*fmt == '*') {
                sp.prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    sp.prec = sp.prec * 10 + (*fmt++ - '0');
            }
        }
        int lng = 0; /* -2 hh, -1 h, 0 int, 1 long, 2 long long / size_t */
        for (;;) {
            if (*fmt == 'l') { lng++; fmt++; }
            else if (*fmt == 'h') { lng--; fmt++; }
            else if (*fmt == 'z') { lng = 2; fmt++; }
            else break;
        }
        char c = *fmt;
        if (!c)
            break;
        uint64_t u = 0;
        int64_t s = 0;
        switch (c) {
        case 'd': case 'i':
            if (lng >= 1) s = lng == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            else s = va_arg(ap, int);
            if (lng == -1) s = (short)s;
            if (lng == -2) s = (signed char)s;
            emit_num(&o, &sp, s < 0 ? -(uint64_t)s : (uint64_t)s, s < 0, 10, false, "");
            break;
        case 'u': case 'x': case 'X': case 'o':
            if (lng >= 1) u = lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
            else u = va_arg(ap, unsigned int);
            if (lng == -1) u = (unsigned short)u;
            if (lng == -2) u = (unsigned char)u;
            /* '#': 0x / 0X before a non-zero hex number, 0 before octal (C11 7.21.6.1). */
            emit_num(&o, &sp, u, false, c == 'u' ? 10 : c == 'o' ? 8 : 16, c == 'X',
                     !sp.alt || !u || c == 'u' ? "" : c == 'x' ? "0x" : c == 'X' ? "0X" : "0");
            break;
        case 'p':
            u = (uint64_t)(uintptr_t)va_arg(ap, void *);
            emit_num(&o, &sp, u, false, 16, false, "0x");
            break;
        case 'c': {
            char ch[2] = {(char)va_arg(ap, int), 0};
            struct spec cs = sp;
            cs.prec = -1;
            if (ch[0]) emit_str(&o, &cs, ch);
            else { pad(&o, ' ', sp.left ? 0 : sp.width - 1); put(&o, 0); if (sp.left) pad(&o, ' ', sp.width - 1); }
            break;
        }
        case 's':
            emit_str(&o, &sp, va_arg(ap, const char *));
            break;
        case '%':
            put(&o, '%');
            break;
        default: /* unknown conversion: print it verbatim so the bug is visible */
            put(&o, '%');
            put(&o, c);
            break;
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int parse_u64(const char *s, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!*s)
            return -1;
    }
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9') d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = (unsigned)(*s - 'A' + 10);
        else return -1;
        if (v > (UINT64_MAX - d) / base)
            return -1;
        v = v * base + d;
    }
    *out = v;
    return 0;
}
