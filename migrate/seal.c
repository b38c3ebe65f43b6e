/* Sealed records: see hopvm/mig_seal.h. Pure. */
#include <hopvm/lib.h>
#include <hopvm/mig_auth.h>
#include <hopvm/mig_seal.h>
#include <hopvm/mig_spake2.h>
#include "bearssl_block.h"
#include "bearssl_kdf.h"

#define NONCE_LEN 12 /* RFC 8439 sec. 2.8: 96 bits; here 4 zero bytes and the LE sequence number */

static const char KEY_INFO_S2T[] = "hopvm-teleport-v2 source to target";
static const char KEY_INFO_T2S[] = "hopvm-teleport-v2 target to source";

void mig_seal_keys(const uint8_t *secret, size_t secret_len, const uint8_t nonce_src[32],
                   const uint8_t nonce_tgt[32], uint8_t s2t[SEAL_KEY_LEN], uint8_t t2s[SEAL_KEY_LEN])
{
    /* Extract with both nonces as the salt, so every connection has its own
     * keys even if a key exchange were ever repeated. */
    uint8_t salt[64];
    memcpy(salt, nonce_src, 32);
    memcpy(salt + 32, nonce_tgt, 32);
    br_hkdf_context hk;
    br_hkdf_init(&hk, &br_sha256_vtable, salt, sizeof(salt));
    br_hkdf_inject(&hk, secret, secret_len);
    br_hkdf_flip(&hk);
    br_hkdf_produce(&hk, KEY_INFO_S2T, sizeof(KEY_INFO_S2T) - 1, s2t, SEAL_KEY_LEN);
    br_hkdf_init(&hk, &br_sha256_vtable, salt, sizeof(salt));
    br_hkdf_inject(&hk, secret, secret_len);
    br_hkdf_flip(&hk);
    br_hkdf_produce(&hk, KEY_INFO_T2S, sizeof(KEY_INFO_T2S) - 1, t2s, SEAL_KEY_LEN);
}

void mig_seal_file_key(const char *password, const uint8_t salt[SEAL_SALT_LEN], uint32_t rounds,
                       uint8_t key[SEAL_KEY_LEN])
{
    static const char label[] = "hopvm-saved-guest-v2";
    uint8_t s[sizeof(label) - 1 + SEAL_SALT_LEN];
    memcpy(s, label, sizeof(label) - 1);
    memcpy(s + sizeof(label) - 1, salt, SEAL_SALT_LEN);
    mig_pbkdf2_sha256(password, strlen(password), s, sizeof(s), rounds, key, SEAL_KEY_LEN);
}

void mig_seal_init(struct mig_seal *c, const uint8_t key[SEAL_KEY_LEN])
{
    memcpy(c->key, key, SEAL_KEY_LEN);
    c->seq = 0;
}

static void nonce(const struct mig_seal *c, uint8_t iv[NONCE_LEN])
{
    memset(iv, 0, NONCE_LEN);
    for (int i = 0; i < 8; i++)
        iv[4 + i] = (uint8_t)(c->seq >> (8 * i));
}

void mig_seal(struct mig_seal *c, const uint8_t *hdr, size_t hdr_len, uint8_t *body, size_t len,
              uint8_t tag[SEAL_TAG_LEN])
{
    uint8_t iv[NONCE_LEN];
    nonce(c, iv);
    br_poly1305_ctmul_run(c->key, iv, body, len, hdr, hdr_len, tag, br_chacha20_ct_run, 1);
    c->seq++;
}

bool mig_open(struct mig_seal *c, const uint8_t *hdr, size_t hdr_len, uint8_t *body, size_t len,
              const uint8_t tag[SEAL_TAG_LEN])
{
    uint8_t iv[NONCE_LEN], want[SEAL_TAG_LEN];
    nonce(c, iv);
    br_poly1305_ctmul_run(c->key, iv, body, len, hdr, hdr_len, want, br_chacha20_ct_run, 0);
    c->seq++;
    return mig_equal(want, tag, SEAL_TAG_LEN);
}
