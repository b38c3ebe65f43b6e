/* Record sealing for stream version 2 (docs/migration-protocol.md,
 * "Sealed records"): ChaCha20-Poly1305 (RFC 8439) with one key per
 * direction and the record's sequence number as the nonce, so a record
 * cannot be altered, dropped, replayed, reordered or reflected without
 * the receiver's open failing. The record header is the associated data.
 * Pure; BearSSL's constant-time ChaCha20 and Poly1305. */
#ifndef HOPVM_MIG_SEAL_H
#define HOPVM_MIG_SEAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32
#define SEAL_TAG_LEN 16

struct mig_seal {
    uint8_t key[SEAL_KEY_LEN];
    uint64_t seq; /* records sealed (or opened) so far in this direction */
};

/* The two directions' keys from the key exchange's secret and both HELLO
 * nonces (HKDF-SHA256, RFC 5869). */
void mig_seal_keys(const uint8_t *secret, size_t secret_len, const uint8_t nonce_src[32],
                   const uint8_t nonce_tgt[32], uint8_t src_to_tgt[SEAL_KEY_LEN], uint8_t tgt_to_src[SEAL_KEY_LEN]);
void mig_seal_init(struct mig_seal *c, const uint8_t key[SEAL_KEY_LEN]);
/* A saved file's key: PBKDF2-HMAC-SHA256 of the password, salted with the
 * file's own random salt (its SEAL record), `rounds` rounds. */
#define SEAL_SALT_LEN 32
void mig_seal_file_key(const char *password, const uint8_t salt[SEAL_SALT_LEN], uint32_t rounds,
                       uint8_t key[SEAL_KEY_LEN]);
/* Encrypts len bytes of body in place and writes the tag; hdr (hdr_len
 * bytes) is authenticated, not encrypted. */
void mig_seal(struct mig_seal *c, const uint8_t *hdr, size_t hdr_len, uint8_t *body, size_t len,
              uint8_t tag[SEAL_TAG_LEN]);
/* Checks the tag and decrypts in place: true if the record is the next
 * one the peer sealed, unaltered. On false the body is garbage and the
 * stream must end (the sequence number has moved on). */
bool mig_open(struct mig_seal *c, const uint8_t *hdr, size_t hdr_len, uint8_t *body, size_t len,
              const uint8_t tag[SEAL_TAG_LEN]);

#endif
