/* The `nettest` data pattern (see nettest.h). Pure: unit-tested on Linux,
 * and the hot loop of a transfer, so whole words are compared where the
 * offset allows. */
#include <hopvm/lib.h>
#include <hopvm/nettest.h>

/* splitmix64 (Steele, Lea, Flood 2014): every word differs from its
 * neighbours, and a run of words identifies its own position. */
uint64_t nettest_word(uint64_t seed, uint64_t k)
{
    uint64_t z = seed + k * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint8_t pattern_byte(uint64_t seed, uint64_t i)
{
    return (uint8_t)(nettest_word(seed, i / 8) >> (8 * (i % 8)));
}

void nettest_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i < n && (off + i) % 8; i++)
        p[i] = pattern_byte(seed, off + i);
    for (; i + 8 <= n; i += 8) {
        uint64_t w = nettest_word(seed, (off + i) / 8);
        memcpy(p + i, &w, 8); /* x86 is little-endian, as the format says */
    }
    for (; i < n; i++)
        p[i] = pattern_byte(seed, off + i);
}

size_t nettest_check(uint64_t seed, uint64_t off, const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i < n && (off + i) % 8; i++)
        if (p[i] != pattern_byte(seed, off + i))
            return i;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != nettest_word(seed, (off + i) / 8))
            break; /* the byte loop below names the exact byte */
    }
    for (; i < n; i++)
        if (p[i] != pattern_byte(seed, off + i))
            return i;
    return n;
}

void nettest_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t nettest_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
