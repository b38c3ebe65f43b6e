/* The nettest pattern (vmm/nettest_pattern.c): fill and check agree at any
 * offset and length, a single wrong byte is found exactly, and the values
 * match the reference the Python side uses (tests/system/nettest.py). */
#include "check.h"
#include <hopvm/nettest.h>
#include <string.h>

int main(void)
{
    static uint8_t buf[4096 + 64];
    /* splitmix64 reference values: seed 0, k = 0 and 1 (from the paper's
     * published generator, which starts at state + golden gamma). */
    CHECK_U64(nettest_word(0, 1), 0xe220a8397b1dcdafull);
    for (uint64_t off = 0; off < 17; off++)
        for (size_t n = 0; n < 40; n += 3) {
            nettest_fill(42, off, buf, n);
            CHECK_U64(nettest_check(42, off, buf, n), n);
        }
    /* A chunk filled in pieces equals one filled at once. */
    static uint8_t whole[1000], parts[1000];
    nettest_fill(7, 3, whole, sizeof(whole));
    nettest_fill(7, 3, parts, 333);
    nettest_fill(7, 336, parts + 333, 667);
    CHECK(!memcmp(whole, parts, sizeof(whole)));
    /* Every single-byte error is found at its offset. */
    for (size_t bad = 0; bad < 64; bad++) {
        nettest_fill(9, 5, buf, 64);
        buf[bad] ^= 0x10;
        CHECK_U64(nettest_check(9, 5, buf, 64), bad);
    }
    /* Data shifted by one word (a duplicated or lost segment) fails. */
    nettest_fill(9, 8, buf, 128);
    CHECK(nettest_check(9, 0, buf, 128) != 128);
    /* Other seeds give other data. */
    nettest_fill(1, 0, buf, 64);
    CHECK(nettest_check(2, 0, buf, 64) != 64);
    uint8_t be[8];
    nettest_put_be64(be, 0x0102030405060708ull);
    CHECK(be[0] == 1 && be[7] == 8);
    CHECK_U64(nettest_get_be64(be), 0x0102030405060708ull);
    return check_report("test_nettest");
}
