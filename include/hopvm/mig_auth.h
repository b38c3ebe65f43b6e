/* Teleport authentication and the stream digest (docs/migration-protocol.md,
 * "Authentication"): HMAC-SHA256 with BearSSL. The password never crosses
 * the wire; each side proves it knows it over both HELLO bodies. */
#ifndef HOPVM_MIG_AUTH_H
#define HOPVM_MIG_AUTH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bearssl_hash.h"
#include "bearssl_hmac.h"

#define MIG_HASH_LEN   32
#define MIG_NONCE_LEN  32
#define MIG_PASSWORD_MAX 128

/* AUTH proof of `role` (0 source, 1 target) over both HELLO bodies. */
void mig_auth_proof(const char *password, uint8_t role, const uint8_t *hello_src, size_t src_len,
                    const uint8_t *hello_tgt, size_t tgt_len, uint8_t out[MIG_HASH_LEN]);
/* Constant-time check of a peer's proof. */
bool mig_auth_check(const char *password, uint8_t role, const uint8_t *hello_src, size_t src_len,
                    const uint8_t *hello_tgt, size_t tgt_len, const uint8_t proof[MIG_HASH_LEN]);
/* The session key that keys the END digest. */
void mig_session_key(const char *password, const uint8_t nonce_src[MIG_NONCE_LEN],
                     const uint8_t nonce_tgt[MIG_NONCE_LEN], uint8_t key[MIG_HASH_LEN]);

/* The END digest: HMAC-SHA256 under the session key, or plain SHA-256 for
 * a saved file (key NULL). */
struct mig_digest {
    bool keyed;
    br_hmac_key_context kc;
    br_hmac_context hmac;
    br_sha256_context sha;
};
void mig_digest_init(struct mig_digest *d, const uint8_t *key);
void mig_digest_update(struct mig_digest *d, const void *data, size_t len);
void mig_digest_final(const struct mig_digest *d, uint8_t out[MIG_HASH_LEN]);
bool mig_equal(const uint8_t *a, const uint8_t *b, size_t n); /* constant time */

#endif
