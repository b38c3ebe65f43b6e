/* migrate/auth.c: known answers for SHA-256, HMAC-SHA256 and the proof,
 * and the properties the protocol relies on. */
#include "check.h"
#include <hopvm/mig_auth.h>
#include <string.h>

static int hex_eq(const uint8_t *b, const char *hex)
{
    for (size_t i = 0; i < MIG_HASH_LEN; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || v != b[i])
            return 0;
    }
    return 1;
}

int main(void)
{
    uint8_t out[MIG_HASH_LEN];
    /* SHA-256("abc") (FIPS 180-2): the unkeyed digest of a saved file. */
    struct mig_digest d;
    mig_digest_init(&d, NULL);
    mig_digest_update(&d, "a", 1);
    mig_digest_update(&d, "bc", 2);
    mig_digest_final(&d, out);
    CHECK(hex_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    /* HMAC-SHA256 with a 32-byte key (values from Python's hmac module). */
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    mig_digest_init(&d, key);
    mig_digest_update(&d, "abc", 3);
    mig_digest_final(&d, out);
    CHECK(hex_eq(out, "f0133729c4163dede81e21cd47839256da58171238c8a0d874397c73b14e1e47"));
    /* The proof is HMAC(password, label || role || HELLO_s || HELLO_t), as
     * docs/migration-protocol.md says (same check in Python). */
    uint8_t hs[40], ht[40], p1[32], p2[32];
    memset(hs, 1, sizeof(hs));
    memset(ht, 2, sizeof(ht));
    mig_auth_proof("secret", 0, hs, sizeof(hs), ht, sizeof(ht), p1);
    CHECK(hex_eq(p1, "8547cb6508534d4fb3fb59adbf069be57446b2c3ae23aa1388e3fbf76293f917"));
    mig_auth_proof("secret", 0, hs, sizeof(hs), ht, sizeof(ht), p2);
    CHECK(!memcmp(p1, p2, 32));
    CHECK(mig_auth_check("secret", 0, hs, sizeof(hs), ht, sizeof(ht), p1));
    CHECK(!mig_auth_check("Secret", 0, hs, sizeof(hs), ht, sizeof(ht), p1)); /* wrong password */
    CHECK(!mig_auth_check("secret", 1, hs, sizeof(hs), ht, sizeof(ht), p1)); /* other role: no reflection */
    ht[39] ^= 1;
    CHECK(!mig_auth_check("secret", 0, hs, sizeof(hs), ht, sizeof(ht), p1)); /* other nonce or caps */
    CHECK(!mig_auth_check("", 0, hs, sizeof(hs), ht, sizeof(ht), p1));
    /* Session keys differ per nonce pair; the keyed digest differs from the plain one. */
    uint8_t n1[32] = {1}, n2[32] = {2}, k1[32], k2[32];
    mig_session_key("pw", n1, n2, k1);
    mig_session_key("pw", n2, n1, k2);
    CHECK(memcmp(k1, k2, 32));
    mig_digest_init(&d, k1);
    mig_digest_update(&d, "abc", 3);
    mig_digest_final(&d, out);
    CHECK(!hex_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(mig_equal(k1, k1, 32) && !mig_equal(k1, k2, 32));
    return check_report("test_auth");
}
