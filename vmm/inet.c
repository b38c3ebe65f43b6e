/* IPv4 address parsing for the console and hopvm.cfg (see inet.h). */
#include <hopvm/inet.h>
#include <hopvm/lib.h>

bool inet_parse4(const char *s, uint32_t *addr)
{
    uint32_t a = 0;
    for (int part = 0; part < 4; part++) {
        unsigned v = 0, digits = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (++digits > 3)
                return false;
            v = v * 10 + (unsigned)(*s - '0');
        }
        if (!digits || v > 255)
            return false;
        a = a << 8 | v;
        if (part < 3 && *s++ != '.')
            return false;
    }
    if (*s)
        return false;
    *addr = a;
    return true;
}

bool inet_parse4_prefix(const char *s, uint32_t *addr, unsigned *prefix)
{
    char a[16];
    size_t n = 0;
    while (s[n] && s[n] != '/')
        if (++n >= sizeof(a))
            return false;
    if (s[n] != '/')
        return false;
    memcpy(a, s, n);
    a[n] = 0;
    uint64_t p;
    if (!inet_parse4(a, addr) || parse_u64(s + n + 1, &p) != 0 || p < 1 || p > 32)
        return false;
    *prefix = (unsigned)p;
    return true;
}

uint32_t inet_prefix_mask(unsigned prefix)
{
    return prefix >= 32 ? 0xffffffffu : prefix == 0 ? 0 : ~(0xffffffffu >> prefix);
}
