/* migrate/seal.c: ChaCha20-Poly1305 records with sequence-number nonces.
 * A known answer (Python's `cryptography`, RFC 8439 AEAD, key 00..1f,
 * nonce 4 zero bytes || LE64(5), AAD a RAM header), then every way a
 * record on the path can be changed, and each must fail to open. */
#include "check.h"
#include <hopvm/mig_seal.h>
#include <string.h>

static const uint8_t HDR[8] = {0x21, 0, 0, 0, 0x10, 0, 0, 0};
static const char MSG[] = "hopvm sealed record body";

static void known_answer(void)
{
    uint8_t key[32], body[sizeof(MSG) - 1], tag[SEAL_TAG_LEN];
    static const uint8_t want[] = {0x4b, 0x67, 0xe6, 0x7c, 0x28, 0x05, 0x34, 0x5b, 0xea, 0xc6, 0x5c, 0x2c,
                                   0x05, 0xc7, 0x55, 0xc0, 0xf1, 0x4c, 0xe7, 0x65, 0x96, 0x37, 0x65, 0x71,
                                   0xed, 0x81, 0x19, 0x65, 0x67, 0xde, 0x86, 0x78, 0x54, 0xea, 0xde, 0x41,
                                   0x64, 0x6f, 0xc5, 0xf5};
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    struct mig_seal s;
    mig_seal_init(&s, key);
    s.seq = 5;
    memcpy(body, MSG, sizeof(body));
    mig_seal(&s, HDR, sizeof(HDR), body, sizeof(body), tag);
    CHECK(!memcmp(body, want, sizeof(body)));
    CHECK(!memcmp(tag, want + sizeof(body), SEAL_TAG_LEN));
    CHECK_U64(s.seq, 6);
}

struct rec {
    uint8_t hdr[8], body[64], tag[SEAL_TAG_LEN];
    size_t len;
};

static void seal_n(struct mig_seal *s, struct rec *r, int n)
{
    for (int i = 0; i < n; i++) {
        memcpy(r[i].hdr, HDR, 8);
        r[i].hdr[4] = (uint8_t)(10 + i);
        r[i].len = 10 + (size_t)i;
        memset(r[i].body, 'a' + i, r[i].len);
        mig_seal(s, r[i].hdr, 8, r[i].body, r[i].len, r[i].tag);
    }
}

static bool open_copy(struct mig_seal *s, const struct rec *r)
{
    struct rec c = *r;
    return mig_open(s, c.hdr, 8, c.body, c.len, c.tag);
}

static void path_attacks(void)
{
    uint8_t s2t[32], t2s[32], n1[32] = {1}, n2[32] = {2}, secret[16] = {7};
    mig_seal_keys(secret, sizeof(secret), n1, n2, s2t, t2s);
    CHECK(memcmp(s2t, t2s, 32) != 0);
    struct mig_seal tx, rx;
    struct rec r[3];
    mig_seal_init(&tx, s2t);
    seal_n(&tx, r, 3);
    /* In order: all open, and the plaintext comes back. */
    mig_seal_init(&rx, s2t);
    struct rec c = r[0];
    CHECK(mig_open(&rx, c.hdr, 8, c.body, c.len, c.tag));
    CHECK(c.body[0] == 'a' && c.body[9] == 'a');
    CHECK(open_copy(&rx, &r[1]) && open_copy(&rx, &r[2]));
    /* Dropped (1 skipped), replayed (0 twice), reordered (1 before 0). */
    mig_seal_init(&rx, s2t);
    CHECK(open_copy(&rx, &r[0]) && !open_copy(&rx, &r[2]));
    mig_seal_init(&rx, s2t);
    CHECK(open_copy(&rx, &r[0]) && !open_copy(&rx, &r[0]));
    mig_seal_init(&rx, s2t);
    CHECK(!open_copy(&rx, &r[1]));
    /* One bit anywhere: body, header (type or length), tag. */
    for (size_t bit = 0; bit < 8 * (8 + 10 + SEAL_TAG_LEN); bit++) {
        c = r[0];
        uint8_t *p = bit < 64 ? c.hdr + bit / 8 : bit < 64 + 80 ? c.body + (bit - 64) / 8 : c.tag + (bit - 144) / 8;
        *p ^= (uint8_t)(1u << (bit % 8));
        mig_seal_init(&rx, s2t);
        CHECK(!mig_open(&rx, c.hdr, 8, c.body, c.len, c.tag));
    }
    /* Truncated: the same bytes opened as a shorter record. */
    c = r[0];
    mig_seal_init(&rx, s2t);
    CHECK(!mig_open(&rx, c.hdr, 8, c.body, c.len - 1, c.tag));
    /* Reflected: a record sealed for the target opened as if from it. */
    mig_seal_init(&rx, t2s);
    CHECK(!open_copy(&rx, &r[0]));
    /* Another connection (other nonces): other keys. */
    uint8_t s2t_b[32], t2s_b[32];
    n2[0] = 3;
    mig_seal_keys(secret, sizeof(secret), n1, n2, s2t_b, t2s_b);
    mig_seal_init(&rx, s2t_b);
    CHECK(!open_copy(&rx, &r[0]));
}

int main(void)
{
    known_answer();
    path_attacks();
    return check_report("test_seal");
}
