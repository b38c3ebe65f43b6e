/* migrate/spake2.c: SPAKE2-P256-SHA256-HKDF-HMAC against RFC 9382
 * Appendix B's first vector (A='server', B='client'), the M and N points
 * against the RFC's compressed form, PBKDF2-HMAC-SHA256 against RFC 7914
 * sec. 11, and the properties the handshake relies on. */
#include "check.h"
#include <hopvm/mig_spake2.h>
#include "bearssl_ec.h"
#include <stdlib.h>
#include <string.h>

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            abort();
        out[i] = (uint8_t)v;
    }
}

static int hex_eq(const uint8_t *b, const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t want[512];
    unhex(hex, want, n);
    return !memcmp(b, want, n);
}

/* RFC 9382 Appendix B, A='server', B='client'. */
#define W  "2ee57912099d31560b3a44b1184b9b4866e904c49d12ac5042c97dca461b1a5f"
#define X  "43dd0fd7215bdcb482879fca3220c6a968e66d70b1356cac18bb26c84a78d729"
#define Y  "dcb60106f276b02606d8ef0a328c02e4b629f84f89786af5befb0bc75b6e66be"
#define PA "04a56fa807caaa53a4d28dbb9853b9815c61a411118a6fe516a8798434751470" \
           "f9010153ac33d0d5f2047ffdb1a3e42c9b4e6be662766e1eeb4116988ede5f912c"
#define PB "0406557e482bd03097ad0cbaa5df82115460d951e3451962f1eaf4367a420676" \
           "d09857ccbc522686c83d1852abfa8ed6e4a1155cf8f1543ceca528afb591a1e0b7"
#define K  "0412af7e89717850671913e6b469ace67bd90a4df8ce45c2af19010175e37eed" \
           "69f75897996d539356e2fa6a406d528501f907e04d97515fbe83db277b715d3325"
#define KE "0e0672dc86f8e45565d338b0540abe69"
#define CA "58ad4aa88e0b60d5061eb6b5dd93e80d9c4f00d127c65b3b35b1b5281fee38f0"
#define CB "d3e2e547f1ae04f2dbdbf0fc4b79f8ecff2dff314b5d32fe9fcef2fb26dc459b"

static void rfc_vector(void)
{
    uint8_t w[32], x[32], y[32], tt[SPAKE2_TT_MAX(12)];
    unhex(W, w, 32), unhex(X, x, 32), unhex(Y, y, 32);
    struct spake2 a, b;
    spake2_start(&a, false, w, x);
    spake2_start(&b, true, w, y);
    CHECK(hex_eq(a.share, PA));
    CHECK(hex_eq(b.share, PB));
    struct spake2_keys ka, kb;
    size_t tt_len = 0;
    CHECK(spake2_finish(&a, (const uint8_t *)"server", 6, (const uint8_t *)"client", 6, b.share, &ka, tt, &tt_len) == 0);
    /* TT holds K after A, B, pA, pB (each with its 8-byte length). */
    CHECK_U64(tt_len, 6 * 8 + 12 + 3 * 65 + 32);
    CHECK(hex_eq(tt + 8 + 6 + 8 + 6 + 8 + 65 + 8 + 65 + 8, K));
    CHECK(hex_eq(ka.ke, KE));
    CHECK(hex_eq(ka.confirm_mine, CA));
    CHECK(hex_eq(ka.confirm_peer, CB));
    CHECK(spake2_finish(&b, (const uint8_t *)"server", 6, (const uint8_t *)"client", 6, a.share, &kb, NULL, NULL) == 0);
    CHECK(!memcmp(ka.ke, kb.ke, sizeof(ka.ke)));
    CHECK(hex_eq(kb.confirm_mine, CB));
    CHECK(hex_eq(kb.confirm_peer, CA));
}

/* M and N (RFC 9382 sec. 6, here uncompressed): with w = 1 and secret
 * scalars 1, B computes K = 1 * (pA - 1*M) = G exactly when the M that A
 * blinded with is the M that B removes, and likewise for N; a wrong
 * constant gives some other point. */
#define G_HEX "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" \
              "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
#define M_HEX "04886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f" \
              "5ff355163e43ce224e0b0e65ff02ac8e5c7be09419c785e0ca547d55a12e2d20"
#define K_OFF (8 + 8 + 8 + 65 + 8 + 65 + 8) /* K in a TT with empty identities */

static void constants(void)
{
    uint8_t one[32] = {0}, tt[SPAKE2_TT_MAX(0)];
    one[31] = 1;
    struct spake2 a, b;
    struct spake2_keys k;
    size_t n;
    spake2_start(&a, false, one, one); /* M + G */
    spake2_start(&b, true, one, one);  /* N + G */
    CHECK(spake2_finish(&b, NULL, 0, NULL, 0, a.share, &k, tt, &n) == 0);
    CHECK(hex_eq(tt + K_OFF, G_HEX));
    CHECK(spake2_finish(&a, NULL, 0, NULL, 0, b.share, &k, tt, &n) == 0);
    CHECK(hex_eq(tt + K_OFF, G_HEX));
    /* And M is the RFC's: its x is 886e2f97... (02 prefix: y even). */
    uint8_t m[65];
    unhex(M_HEX, m, 65);
    CHECK(!(m[64] & 1));
}

static void refusals(void)
{
    uint8_t w[32], x[32], bad[65];
    unhex(W, w, 32), unhex(X, x, 32);
    struct spake2 a, b;
    struct spake2_keys k;
    spake2_start(&a, false, w, x);
    spake2_start(&b, true, w, x);
    /* Not a point of the curve; not uncompressed. */
    unhex(PB, bad, 65);
    bad[64] ^= 1;
    CHECK(spake2_finish(&a, NULL, 0, NULL, 0, bad, &k, NULL, NULL) == -1);
    unhex(PB, bad, 65);
    bad[0] = 0x02;
    CHECK(spake2_finish(&a, NULL, 0, NULL, 0, bad, &k, NULL, NULL) == -1);
    /* A share of exactly w*M (an impostor that knows w but sends no x*G):
     * pA - w*M is the point at infinity, refused. */
    uint8_t wm[65];
    unhex(M_HEX, wm, 65);
    CHECK(br_ec_p256_m31.mul(wm, 65, w, 32, BR_EC_secp256r1) == 1);
    CHECK(spake2_finish(&b, NULL, 0, NULL, 0, wm, &k, NULL, NULL) == -1);
    /* Wrong password: both sides finish, but keys and confirmations differ. */
    uint8_t w2[32];
    memcpy(w2, w, 32);
    w2[31] ^= 1;
    struct spake2 b2;
    struct spake2_keys ka, kb;
    spake2_start(&b2, true, w2, x);
    CHECK(spake2_finish(&a, NULL, 0, NULL, 0, b2.share, &ka, NULL, NULL) == 0);
    CHECK(spake2_finish(&b2, NULL, 0, NULL, 0, a.share, &kb, NULL, NULL) == 0);
    CHECK(memcmp(ka.confirm_peer, kb.confirm_mine, 32) != 0);
    CHECK(memcmp(ka.ke, kb.ke, 16) != 0);
    /* Different identities (the HELLOs, tampered on the way): different keys. */
    CHECK(spake2_finish(&a, (const uint8_t *)"s", 1, NULL, 0, b.share, &ka, NULL, NULL) == 0);
    CHECK(spake2_finish(&b, (const uint8_t *)"t", 1, NULL, 0, a.share, &kb, NULL, NULL) == 0);
    CHECK(memcmp(ka.ke, kb.ke, 16) != 0);
}

static void scalars(void)
{
    uint8_t in[32], out[32];
    memset(in, 0, 32);
    spake2_scalar(in, out); /* 0 is not a scalar: hashed */
    CHECK(memcmp(in, out, 32) != 0);
    memset(in, 0xff, 32); /* above n: hashed */
    spake2_scalar(in, out);
    CHECK(memcmp(in, out, 32) != 0);
    unhex(W, in, 32); /* a valid one stays */
    spake2_scalar(in, out);
    CHECK(!memcmp(in, out, 32));
    /* n - 1 is valid, n is not. */
    unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550", in, 32);
    spake2_scalar(in, out);
    CHECK(!memcmp(in, out, 32));
    in[31] = 0x51;
    spake2_scalar(in, out);
    CHECK(memcmp(in, out, 32) != 0);
}

static void pbkdf2(void)
{
    uint8_t out[64];
    mig_pbkdf2_sha256("passwd", 6, "salt", 4, 1, out, 64);
    CHECK(hex_eq(out, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"));
    mig_pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, out, 64);
    CHECK(hex_eq(out, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
                      "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"));
    /* A slice at a time: the same first block whatever the slices. */
    static const uint32_t budgets[] = {1, 7, 1000, 79999, 80000, UINT32_MAX};
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        struct mig_pbkdf2 k;
        uint8_t key[MIG_PBKDF2_LEN] = {0};
        unsigned calls = 1;
        mig_pbkdf2_start(&k, "Password", 8, "NaCl", 4, 80000);
        while (!mig_pbkdf2_step(&k, budgets[i], key))
            calls++;
        CHECK(!memcmp(key, out, MIG_PBKDF2_LEN));
        CHECK(calls == (79999 + (uint64_t)budgets[i] - 1) / budgets[i]); /* U1 came with the start */
    }
}

int main(void)
{
    rfc_vector();
    constants();
    refusals();
    scalars();
    pbkdf2();
    return check_report("test_spake2");
}
