/* kvsnprintf against the C library's vsnprintf, and parse_u64. */
#include "check.h"
#include <hopvm/lib.h>
#include <stdarg.h>

static void same(const char *fmt, ...)
{
    char a[256], b[256];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int na = kvsnprintf(a, sizeof(a), fmt, ap);
    int nb = vsnprintf(b, sizeof(b), fmt, ap2);
    va_end(ap2);
    va_end(ap);
    CHECK_STR(a, b);
    CHECK_U64(na, nb);
}

int main(void)
{
    same("plain");
    same("%d %i %u", -42, 7, 3000000000u);
    same("%x %X %o", 0xdeadbeefu, 0xabcu, 8u);
    same("%lx %lu %ld", 0xffffffffffffffffull, (unsigned long)UINT64_MAX, (long)INT64_MIN);
    same("%llx %lld", 0x123456789abcdefull, -1ll);
    same("%zu", (size_t)12345);
    same("%016lx|%-8s|%8s|%.3s", 0x1234ul, "ab", "cd", "abcdef");
    same("%5d|%-5d|%05d|%+d|% d", 42, 42, -42, 5, 5);
    same("%.5d|%8.3d|%.0d|%x", 42, -7, 0, 0u);
    same("%c%c%%", 'a', 'Z');
    same("%*d|%-*d|%.*s", 6, 1, 6, 2, 2, "xyz");
    same("%hhu %hu %hd", 300, 70000, -3);
    same("%s", "");
    same("%#x %#X %#lx %#o %#x %#o", 255u, 255u, 0x1000ul, 8u, 0u, 0u);
    same("%#10x|%-#8x|%#010x", 255u, 16u, 255u);
    char tiny[4];
    int n = ksnprintf(tiny, sizeof(tiny), "%s", "abcdef");
    CHECK_U64(n, 6);
    CHECK_STR(tiny, "abc");
    CHECK_U64(ksnprintf(NULL, 0, "%d", 12345), 5);
    char p[32];
    ksnprintf(p, sizeof(p), "%p", (void *)0x1000);
    CHECK_STR(p, "0x1000");
    const char *volatile nul = NULL;
    ksnprintf(p, sizeof(p), "%s", nul);
    CHECK_STR(p, "(null)");

    uint64_t v;
    CHECK(parse_u64("0", &v) == 0 && v == 0);
    CHECK(parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
    CHECK(parse_u64("18446744073709551616", &v) == -1);
    CHECK(parse_u64("0x10", &v) == 0 && v == 16);
    CHECK(parse_u64("0xFFFFffffFFFFffff", &v) == 0 && v == UINT64_MAX);
    CHECK(parse_u64("0x1ffffffffffffffff", &v) == -1);
    CHECK(parse_u64("0x", &v) == -1);
    CHECK(parse_u64("", &v) == -1);
    CHECK(parse_u64("12a", &v) == -1);
    CHECK(parse_u64("-1", &v) == -1);
    CHECK(parse_u64(" 1", &v) == -1);
    return check_report("test_format");
}
