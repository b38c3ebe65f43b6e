/* \_S5 extraction from AML. */
#include "check.h"
#include <hopvm/acpi.h>

static int find(const unsigned char *b, size_t n, uint8_t *a, uint8_t *c)
{
    return acpi_find_s5(b, n, a, c);
}

int main(void)
{
    uint8_t a = 9, b = 9;
    /* QEMU q35: Name (_S5, Package (4) { Zero, Zero, Zero, Zero }) */
    const unsigned char q35[] = {0x10, 0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
    CHECK(find(q35, sizeof(q35), &a, &b) == 0);
    CHECK_U64(a, 0);
    CHECK_U64(b, 0);
    /* Byte-prefixed values and a root prefix: Name (\_S5, Package () { 5, 5 }) */
    const unsigned char bytes[] = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x02, 0x0a, 0x05, 0x0a, 0x05};
    CHECK(find(bytes, sizeof(bytes), &a, &b) == 0);
    CHECK_U64(a, 5);
    CHECK_U64(b, 5);
    /* Two-byte PkgLength and One/Ones elements. */
    const unsigned char two[] = {0x08, '_', 'S', '5', '_', 0x12, 0x40, 0x01, 0x02, 0x01, 0xff};
    CHECK(find(two, sizeof(two), &a, &b) == 0);
    CHECK_U64(a, 1);
    CHECK_U64(b, 7);
    /* A reference to _S5_ that is not a definition is skipped. */
    const unsigned char ref[] = {0x70, '_', 'S', '5', '_', 0x60, 0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x01, 0x0a, 0x07};
    CHECK(find(ref, sizeof(ref), &a, &b) == 0);
    CHECK_U64(a, 7);
    /* Truncated anywhere: not found, never an overread (ASan watches). */
    for (size_t n = 0; n < sizeof(bytes); n++) {
        unsigned char *copy = (unsigned char *)__builtin_alloca(n + 1);
        memcpy(copy, bytes, n);
        int r = find(copy, n, &a, &b);
        CHECK(r == -1);
    }
    const unsigned char none[] = "no sleep states here";
    CHECK(find(none, sizeof(none), &a, &b) == -1);
    /* Bad PkgLength (follow-on bytes with bits 5:4 set). */
    const unsigned char badlen[] = {0x08, '_', 'S', '5', '_', 0x12, 0x70, 0x00, 0x02, 0x00, 0x00};
    CHECK(find(badlen, sizeof(badlen), &a, &b) == -1);
    return check_report("test_aml");
}
