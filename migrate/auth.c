/* HMAC-SHA256 proofs, the session key and the END digest
 * (docs/migration-protocol.md, "Authentication"). Pure: the same file
 * serves hopvm and the host tools. */
#include <hopvm/lib.h>
#include <hopvm/mig_auth.h>

static const char AUTH_LABEL[] = "hopvm-teleport-auth-v1";
static const char KEY_LABEL[] = "hopvm-teleport-key-v1";

static void hmac_start(br_hmac_key_context *kc, br_hmac_context *h, const char *password)
{
    br_hmac_key_init(kc, &br_sha256_vtable, password, strlen(password));
    br_hmac_init(h, kc, 0);
}

void mig_auth_proof(const char *password, uint8_t role, const uint8_t *hello_src, size_t src_len,
                    const uint8_t *hello_tgt, size_t tgt_len, uint8_t out[MIG_HASH_LEN])
{
    br_hmac_key_context kc;
    br_hmac_context h;
    hmac_start(&kc, &h, password);
    br_hmac_update(&h, AUTH_LABEL, sizeof(AUTH_LABEL) - 1);
    br_hmac_update(&h, &role, 1);
    br_hmac_update(&h, hello_src, src_len);
    br_hmac_update(&h, hello_tgt, tgt_len);
    br_hmac_out(&h, out);
}

bool mig_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

bool mig_auth_check(const char *password, uint8_t role, const uint8_t *hello_src, size_t src_len,
                    const uint8_t *hello_tgt, size_t tgt_len, const uint8_t proof[MIG_HASH_LEN])
{
    uint8_t want[MIG_HASH_LEN];
    mig_auth_proof(password, role, hello_src, src_len, hello_tgt, tgt_len, want);
    return mig_equal(want, proof, MIG_HASH_LEN);
}

void mig_session_key(const char *password, const uint8_t nonce_src[MIG_NONCE_LEN],
                     const uint8_t nonce_tgt[MIG_NONCE_LEN], uint8_t key[MIG_HASH_LEN])
{
    br_hmac_key_context kc;
    br_hmac_context h;
    hmac_start(&kc, &h, password);
    br_hmac_update(&h, KEY_LABEL, sizeof(KEY_LABEL) - 1);
    br_hmac_update(&h, nonce_src, MIG_NONCE_LEN);
    br_hmac_update(&h, nonce_tgt, MIG_NONCE_LEN);
    br_hmac_out(&h, key);
}

void mig_digest_init(struct mig_digest *d, const uint8_t *key)
{
    d->keyed = key != NULL;
    if (d->keyed) {
        br_hmac_key_init(&d->kc, &br_sha256_vtable, key, MIG_HASH_LEN);
        br_hmac_init(&d->hmac, &d->kc, 0);
    } else {
        br_sha256_init(&d->sha);
    }
}

void mig_digest_update(struct mig_digest *d, const void *data, size_t len)
{
    if (d->keyed)
        br_hmac_update(&d->hmac, data, len);
    else
        br_sha256_update(&d->sha, data, len);
}

void mig_digest_final(const struct mig_digest *d, uint8_t out[MIG_HASH_LEN])
{
    if (d->keyed)
        br_hmac_out(&d->hmac, out);
    else
        br_sha256_out(&d->sha, out);
}
