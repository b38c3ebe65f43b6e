/* SPAKE2 over P-256 (RFC 9382, ciphersuite SPAKE2-P256-SHA256-HKDF-HMAC),
 * the password-authenticated key exchange of stream version 2
 * (docs/migration-protocol.md, "Key exchange"). Balanced: both sides know
 * the password. Neither a listener on the path nor an impostor learns
 * anything that allows an offline guess: an impostor tests one password
 * per connection. Pure (BearSSL's constant-time P-256), so hopvm and the
 * host tools share it, and tests check it against the RFC's vectors.
 *
 * The source is party A (it blinds with M), the target party B (N). */
#ifndef HOPVM_MIG_SPAKE2_H
#define HOPVM_MIG_SPAKE2_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPAKE2_SCALAR_LEN  32 /* big-endian, 0 < s < the P-256 group order n */
#define SPAKE2_SHARE_LEN   65 /* an uncompressed SEC1 point: 0x04, X, Y */
#define SPAKE2_KE_LEN      16 /* the shared secret Ke: the first half of Hash(TT) */
#define SPAKE2_CONFIRM_LEN 32 /* HMAC-SHA256 of TT */

struct spake2 {
    bool party_b;                      /* the target */
    uint8_t w[SPAKE2_SCALAR_LEN];      /* the password scalar */
    uint8_t x[SPAKE2_SCALAR_LEN];      /* this side's secret scalar */
    uint8_t share[SPAKE2_SHARE_LEN];   /* this side's message: pA or pB */
};

struct spake2_keys {
    uint8_t ke[SPAKE2_KE_LEN];
    uint8_t confirm_mine[SPAKE2_CONFIRM_LEN]; /* send this */
    uint8_t confirm_peer[SPAKE2_CONFIRM_LEN]; /* expect this */
};

/* 32 bytes, big-endian, as a scalar in [1, n-1]: the bytes themselves if
 * they are one; else SHA-256(bytes || counter) for counter 0, 1, ... until
 * one is (each try fails with probability below 2^-32). */
void spake2_scalar(const uint8_t in[32], uint8_t out[SPAKE2_SCALAR_LEN]);

/* Fills s and computes this side's share (pA = x*G + w*M, pB = y*G + w*N).
 * w and x are scalars (spake2_scalar). */
void spake2_start(struct spake2 *s, bool party_b, const uint8_t w[SPAKE2_SCALAR_LEN],
                  const uint8_t x[SPAKE2_SCALAR_LEN]);

/* The peer's share: the shared point K, the transcript TT (RFC 9382 sec. 3.3:
 * each of A, B, pA, pB, K, w with its 8-byte little-endian length), Ke and
 * the two confirmation MACs (sec. 4, no AAD). id_a and id_b name the
 * parties. 0, or -1 if the share is not a point of the curve or makes K
 * the point at infinity (then nothing is derived). If tt is not NULL it
 * receives TT (tt_cap bytes at least SPAKE2_TT_MAX(id_a_len + id_b_len)). */
#define SPAKE2_TT_MAX(ids) (6 * 8 + (ids) + 3 * SPAKE2_SHARE_LEN + SPAKE2_SCALAR_LEN)
int spake2_finish(const struct spake2 *s, const uint8_t *id_a, size_t id_a_len, const uint8_t *id_b,
                  size_t id_b_len, const uint8_t peer_share[SPAKE2_SHARE_LEN], struct spake2_keys *k,
                  uint8_t *tt, size_t *tt_len);

/* PBKDF2-HMAC-SHA256 (RFC 8018 sec. 5.2): the deliberately slow step between
 * a password and its scalar. */
void mig_pbkdf2_sha256(const void *password, size_t password_len, const void *salt, size_t salt_len,
                       uint32_t iterations, uint8_t *out, size_t out_len);

/* The same for one 32-byte block, a slice at a time, so a host that runs
 * guests can spread the work between their time slices instead of
 * stalling them for it. */
#define MIG_PBKDF2_SALT_MAX 128
#define MIG_PBKDF2_LEN 32
struct mig_pbkdf2 {
    uint64_t key_ctx[32];  /* BearSSL's HMAC key context (spake2.c checks it fits) */
    uint32_t iterations, done;
    uint8_t u[MIG_PBKDF2_LEN], t[MIG_PBKDF2_LEN];
};
/* salt_len <= MIG_PBKDF2_SALT_MAX; iterations >= 1. */
void mig_pbkdf2_start(struct mig_pbkdf2 *k, const void *password, size_t password_len, const void *salt,
                      size_t salt_len, uint32_t iterations);
/* Up to budget more iterations; true once the key is in out. */
bool mig_pbkdf2_step(struct mig_pbkdf2 *k, uint32_t budget, uint8_t out[MIG_PBKDF2_LEN]);

#endif
