/* IPv4 text parsing (vmm/inet.c). */
#include "check.h"
#include <hopvm/inet.h>

int main(void)
{
    uint32_t a;
    unsigned p;
    CHECK(inet_parse4("192.168.7.2", &a));
    CHECK_U64(a, 0xc0a80702u);
    CHECK(inet_parse4("0.0.0.0", &a) && a == 0);
    CHECK(inet_parse4("255.255.255.255", &a) && a == 0xffffffffu);
    CHECK(inet_parse4("010.1.1.1", &a) && a == 0x0a010101u); /* decimal, not octal */
    static const char *const bad[] = {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1..3.4", ".1.2.3",
                                      "1.2.3.4.", "1.2.3.4 ", "a.b.c.d", "1.2.3.0004", "-1.2.3.4",
                                      "0x1.2.3.4", "1.2.3.4/24"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = 7;
        CHECK(!inet_parse4(bad[i], &a));
        CHECK_U64(a, 7); /* untouched on failure */
    }
    CHECK(inet_parse4_prefix("10.0.0.1/8", &a, &p) && a == 0x0a000001u && p == 8);
    CHECK(inet_parse4_prefix("10.0.0.1/32", &a, &p) && p == 32);
    CHECK(!inet_parse4_prefix("10.0.0.1/0", &a, &p));
    CHECK(!inet_parse4_prefix("10.0.0.1/33", &a, &p));
    CHECK(!inet_parse4_prefix("10.0.0.1/", &a, &p));
    CHECK(!inet_parse4_prefix("10.0.0.1", &a, &p));
    CHECK(!inet_parse4_prefix("10.0.0/8", &a, &p));
    CHECK(!inet_parse4_prefix("1000.0.0.1000.0.0.1/8", &a, &p));
    CHECK_U64(inet_prefix_mask(24), 0xffffff00u);
    CHECK_U64(inet_prefix_mask(32), 0xffffffffu);
    CHECK_U64(inet_prefix_mask(1), 0x80000000u);
    CHECK_U64(inet_prefix_mask(0), 0);
    return check_report("test_inet");
}
