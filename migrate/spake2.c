/* SPAKE2 over P-256 (RFC 9382) and PBKDF2: see hopvm/mig_spake2.h. Pure. */
#include <hopvm/lib.h>
#include <hopvm/mig_spake2.h>
#include "bearssl_ec.h"
#include "bearssl_hash.h"
#include "bearssl_hmac.h"
#include "bearssl_kdf.h"

/* RFC 9382 sec. 6: M and N for P-256, uncompressed (the RFC gives them
 * compressed; tests/unit/test_spake2.c checks these against it). Nobody
 * knows their discrete logarithms: they were hashed from a seed. */
static const uint8_t P256_M[SPAKE2_SHARE_LEN] = {
    0x04, 0x88, 0x6e, 0x2f, 0x97, 0xac, 0xe4, 0x6e, 0x55, 0xba, 0x9d, 0xd7, 0x24,
    0x25, 0x79, 0xf2, 0x99, 0x3b, 0x64, 0xe1, 0x6e, 0xf3, 0xdc, 0xab, 0x95, 0xaf,
    0xd4, 0x97, 0x33, 0x3d, 0x8f, 0xa1, 0x2f, 0x5f, 0xf3, 0x55, 0x16, 0x3e, 0x43,
    0xce, 0x22, 0x4e, 0x0b, 0x0e, 0x65, 0xff, 0x02, 0xac, 0x8e, 0x5c, 0x7b, 0xe0,
    0x94, 0x19, 0xc7, 0x85, 0xe0, 0xca, 0x54, 0x7d, 0x55, 0xa1, 0x2e, 0x2d, 0x20,
};
static const uint8_t P256_N[SPAKE2_SHARE_LEN] = {
    0x04, 0xd8, 0xbb, 0xd6, 0xc6, 0x39, 0xc6, 0x29, 0x37, 0xb0, 0x4d, 0x99, 0x7f,
    0x38, 0xc3, 0x77, 0x07, 0x19, 0xc6, 0x29, 0xd7, 0x01, 0x4d, 0x49, 0xa2, 0x4b,
    0x4f, 0x98, 0xba, 0xa1, 0x29, 0x2b, 0x49, 0x07, 0xd6, 0x0a, 0xa6, 0xbf, 0xad,
    0xe4, 0x50, 0x08, 0xa6, 0x36, 0x33, 0x7f, 0x51, 0x68, 0xc6, 0x4d, 0x9b, 0xd3,
    0x60, 0x34, 0x80, 0x8c, 0xd5, 0x64, 0x49, 0x0b, 0x1e, 0x65, 0x6e, 0xdb, 0xe7,
};
/* The group order n (SEC 2, secp256r1). */
static const uint8_t P256_ORDER[SPAKE2_SCALAR_LEN] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};
static const char CONFIRM_INFO[] = "ConfirmationKeys"; /* RFC 9382 sec. 4, with an empty AAD */

/* a - b over 32 big-endian bytes into out (may be NULL); the borrow out,
 * computed without branching on the values. */
static uint32_t sub256(uint8_t *out, const uint8_t *a, const uint8_t *b)
{
    uint32_t borrow = 0;
    for (int i = SPAKE2_SCALAR_LEN - 1; i >= 0; i--) {
        uint32_t d = (uint32_t)a[i] - b[i] - borrow;
        if (out)
            out[i] = (uint8_t)d;
        borrow = (d >> 8) & 1;
    }
    return borrow;
}

static bool scalar_ok(const uint8_t s[SPAKE2_SCALAR_LEN])
{
    uint8_t any = 0;
    for (int i = 0; i < SPAKE2_SCALAR_LEN; i++)
        any |= s[i];
    return any && sub256(NULL, s, P256_ORDER); /* 0 < s < n */
}

void spake2_scalar(const uint8_t in[32], uint8_t out[SPAKE2_SCALAR_LEN])
{
    memcpy(out, in, SPAKE2_SCALAR_LEN);
    for (uint8_t ctr = 0; !scalar_ok(out); ctr++) {
        br_sha256_context h;
        br_sha256_init(&h);
        br_sha256_update(&h, in, 32);
        br_sha256_update(&h, &ctr, 1);
        br_sha256_out(&h, out);
    }
}

void spake2_start(struct spake2 *s, bool party_b, const uint8_t w[SPAKE2_SCALAR_LEN],
                  const uint8_t x[SPAKE2_SCALAR_LEN])
{
    s->party_b = party_b;
    memcpy(s->w, w, SPAKE2_SCALAR_LEN);
    memcpy(s->x, x, SPAKE2_SCALAR_LEN);
    /* pA = w*M + x*G (muladd with B NULL adds the generator's multiple);
     * both scalars are in [1, n-1], so only a 2^-256 accident could make
     * it the point at infinity. */
    memcpy(s->share, party_b ? P256_N : P256_M, SPAKE2_SHARE_LEN);
    br_ec_p256_m31.muladd(s->share, NULL, SPAKE2_SHARE_LEN, w, SPAKE2_SCALAR_LEN, x, SPAKE2_SCALAR_LEN,
                          BR_EC_secp256r1);
}

static size_t tt_put(uint8_t *tt, size_t off, const uint8_t *p, size_t n)
{
    for (int i = 0; i < 8; i++)
        tt[off + i] = (uint8_t)((uint64_t)n >> (8 * i));
    if (n)
        memcpy(tt + off + 8, p, n);
    return off + 8 + n;
}

int spake2_finish(const struct spake2 *s, const uint8_t *id_a, size_t id_a_len, const uint8_t *id_b,
                  size_t id_b_len, const uint8_t peer_share[SPAKE2_SHARE_LEN], struct spake2_keys *k,
                  uint8_t *tt_out, size_t *tt_len)
{
    /* K = x * (peer - w * blind), the blind being the peer's: N for A, M for
     * B. peer - w*blind is 1*peer + (n - w)*blind, one muladd, which also
     * checks that the peer's share is a point of the curve and refuses a
     * sum at infinity (a peer that sent exactly w*blind). */
    uint8_t p[SPAKE2_SHARE_LEN], neg_w[SPAKE2_SCALAR_LEN], one = 1;
    memcpy(p, peer_share, SPAKE2_SHARE_LEN);
    sub256(neg_w, P256_ORDER, s->w);
    if (!br_ec_p256_m31.muladd(p, s->party_b ? P256_M : P256_N, SPAKE2_SHARE_LEN, &one, 1, neg_w,
                               SPAKE2_SCALAR_LEN, BR_EC_secp256r1))
        return -1;
    if (!br_ec_p256_m31.mul(p, SPAKE2_SHARE_LEN, s->x, SPAKE2_SCALAR_LEN, BR_EC_secp256r1))
        return -1;
    /* TT = A, B, pA, pB, K, w (RFC 9382 sec. 3.3). */
    uint8_t tt_buf[SPAKE2_TT_MAX(2 * 128)], *tt = tt_out ? tt_out : tt_buf;
    if (!tt_out && id_a_len + id_b_len > 2 * 128)
        return -1;
    const uint8_t *pa = s->party_b ? peer_share : s->share, *pb = s->party_b ? s->share : peer_share;
    size_t n = tt_put(tt, 0, id_a, id_a_len);
    n = tt_put(tt, n, id_b, id_b_len);
    n = tt_put(tt, n, pa, SPAKE2_SHARE_LEN);
    n = tt_put(tt, n, pb, SPAKE2_SHARE_LEN);
    n = tt_put(tt, n, p, SPAKE2_SHARE_LEN);
    n = tt_put(tt, n, s->w, SPAKE2_SCALAR_LEN);
    if (tt_len)
        *tt_len = n;
    /* Ke || Ka = Hash(TT); KcA || KcB = HKDF(no salt, Ka, "ConfirmationKeys");
     * each confirmation is HMAC(Kc, TT) (sec. 4). */
    uint8_t h[32], kc[32];
    br_sha256_context sh;
    br_sha256_init(&sh);
    br_sha256_update(&sh, tt, n);
    br_sha256_out(&sh, h);
    memcpy(k->ke, h, SPAKE2_KE_LEN);
    br_hkdf_context hk;
    br_hkdf_init(&hk, &br_sha256_vtable, BR_HKDF_NO_SALT, 0);
    br_hkdf_inject(&hk, h + SPAKE2_KE_LEN, sizeof(h) - SPAKE2_KE_LEN);
    br_hkdf_flip(&hk);
    br_hkdf_produce(&hk, CONFIRM_INFO, sizeof(CONFIRM_INFO) - 1, kc, sizeof(kc));
    for (int party = 0; party < 2; party++) {
        br_hmac_key_context kctx;
        br_hmac_context hm;
        br_hmac_key_init(&kctx, &br_sha256_vtable, kc + party * 16, 16);
        br_hmac_init(&hm, &kctx, 0);
        br_hmac_update(&hm, tt, n);
        br_hmac_out(&hm, party == (int)s->party_b ? k->confirm_mine : k->confirm_peer);
    }
    return 0;
}

_Static_assert(sizeof(br_hmac_key_context) <= sizeof(((struct mig_pbkdf2 *)0)->key_ctx), "HMAC key context fits");
_Static_assert(_Alignof(br_hmac_key_context) <= _Alignof(uint64_t), "HMAC key context alignment");

/* U1 of block `block` (RFC 8018 sec. 5.2: PRF(P, S || INT(i))). */
static void pbkdf2_block(struct mig_pbkdf2 *k, const void *salt, size_t salt_len, uint32_t block)
{
    uint8_t be[4] = {(uint8_t)(block >> 24), (uint8_t)(block >> 16), (uint8_t)(block >> 8), (uint8_t)block};
    br_hmac_context h;
    br_hmac_init(&h, (const br_hmac_key_context *)k->key_ctx, 0);
    br_hmac_update(&h, salt, salt_len);
    br_hmac_update(&h, be, sizeof(be));
    br_hmac_out(&h, k->u);
    memcpy(k->t, k->u, sizeof(k->t));
    k->done = 1;
}

static void pbkdf2_key(struct mig_pbkdf2 *k, const void *password, size_t password_len, uint32_t iterations)
{
    br_hmac_key_init((br_hmac_key_context *)k->key_ctx, &br_sha256_vtable, password, password_len);
    k->iterations = iterations ? iterations : 1;
}

void mig_pbkdf2_start(struct mig_pbkdf2 *k, const void *password, size_t password_len, const void *salt,
                      size_t salt_len, uint32_t iterations)
{
    pbkdf2_key(k, password, password_len, iterations);
    pbkdf2_block(k, salt, MIN(salt_len, (size_t)MIG_PBKDF2_SALT_MAX), 1);
}

/* U2 ... Uc, each XORed into T. */
bool mig_pbkdf2_step(struct mig_pbkdf2 *k, uint32_t budget, uint8_t out[MIG_PBKDF2_LEN])
{
    br_hmac_context h;
    for (; k->done < k->iterations && budget; k->done++, budget--) {
        br_hmac_init(&h, (const br_hmac_key_context *)k->key_ctx, 0);
        br_hmac_update(&h, k->u, sizeof(k->u));
        br_hmac_out(&h, k->u);
        for (size_t j = 0; j < sizeof(k->t); j++)
            k->t[j] ^= k->u[j];
    }
    if (k->done < k->iterations)
        return false;
    memcpy(out, k->t, MIG_PBKDF2_LEN);
    return true;
}

void mig_pbkdf2_sha256(const void *password, size_t password_len, const void *salt, size_t salt_len,
                       uint32_t iterations, uint8_t *out, size_t out_len)
{
    struct mig_pbkdf2 k;
    uint8_t t[MIG_PBKDF2_LEN];
    pbkdf2_key(&k, password, password_len, iterations);
    for (uint32_t block = 1; out_len; block++) {
        pbkdf2_block(&k, salt, salt_len, block);
        mig_pbkdf2_step(&k, UINT32_MAX, t);
        size_t take = MIN(out_len, sizeof(t));
        memcpy(out, t, take);
        out += take, out_len -= take;
    }
    memset(&k, 0, sizeof(k));
    memset(t, 0, sizeof(t));
}
