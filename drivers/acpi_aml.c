/* The one piece of AML hopvm reads: the \_S5 sleep-type package, needed to
 * power off (ACPI 6.5 7.4.2.5). Pure and bounds-checked on every byte: the
 * DSDT comes from firmware we do not control. Fuzzed in tests/fuzz. */
#include <hopvm/acpi.h>

/* ACPI 6.5 20.2: AML encodings used here. */
#define AML_ZERO_OP     0x00
#define AML_ONE_OP      0x01
#define AML_NAME_OP     0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_PACKAGE_OP  0x12
#define AML_ONES_OP     0xff

/* ACPI 6.5 20.2.4 PkgLength: bits 7:6 of the lead byte count follow-on bytes. */
static int skip_pkglength(const uint8_t *p, size_t len, size_t *i)
{
    if (*i >= len)
        return -1;
    size_t extra = p[*i] >> 6;
    if (extra && (p[*i] & 0x30))
        return -1; /* bits 5:4 must be zero when follow-on bytes exist */
    if (*i + 1 + extra > len)
        return -1;
    *i += 1 + extra;
    return 0;
}

static int read_int(const uint8_t *p, size_t len, size_t *i, uint8_t *out)
{
    if (*i >= len)
        return -1;
    uint8_t op = p[(*i)++];
    size_t n;
    switch (op) {
    case AML_ZERO_OP: *out = 0; return 0;
    case AML_ONE_OP: *out = 1; return 0;
    case AML_ONES_OP: *out = 0xff; return 0;
    case AML_BYTE_PREFIX: n = 1; break;
    case AML_WORD_PREFIX: n = 2; break;
    case AML_DWORD_PREFIX: n = 4; break;
    default: return -1;
    }
    if (*i + n > len)
        return -1;
    *out = p[*i]; /* SLP_TYP is 3 bits; the low byte carries it */
    *i += n;
    return 0;
}

int acpi_find_s5(const uint8_t *aml, size_t len, uint8_t *typa, uint8_t *typb)
{
    for (size_t k = 0; k + 4 <= len; k++) {
        if (aml[k] != '_' || aml[k + 1] != 'S' || aml[k + 2] != '5' || aml[k + 3] != '_')
            continue;
        /* NameOp, optionally followed by the root prefix '\', then the name. */
        if (!(k >= 1 && aml[k - 1] == AML_NAME_OP) &&
            !(k >= 2 && aml[k - 1] == '\\' && aml[k - 2] == AML_NAME_OP))
            continue;
        size_t i = k + 4;
        if (i >= len || aml[i] != AML_PACKAGE_OP)
            continue;
        i++;
        if (skip_pkglength(aml, len, &i) != 0 || i >= len)
            continue;
        uint8_t count = aml[i++];
        uint8_t a, b = 0;
        if (count < 1 || read_int(aml, len, &i, &a) != 0)
            continue;
        if (count >= 2 && read_int(aml, len, &i, &b) != 0)
            continue;
        *typa = a & 7;
        *typb = b & 7;
        return 0;
    }
    return -1;
}
