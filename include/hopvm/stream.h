/* The teleport stream, versions 1 and 2 (docs/migration-protocol.md): record
 * framing and the fixed record bodies. Pure (no allocation, no I/O), so the
 * same code frames a TCP teleport in hopvm and a saved-guest file in the
 * host tools; every decoder here reads untrusted bytes and is fuzzed
 * (tests/fuzz/fuzz_stream.c).
 *
 * Wire integers are little-endian and written byte by byte: no struct is
 * ever overlaid on wire bytes, so layout, alignment and padding of the C
 * structs below are free to differ from the wire. */
#ifndef HOPVM_STREAM_H
#define HOPVM_STREAM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_MAGIC        "HOPVMTP1"
#define STREAM_MAGIC_LEN    8
#define STREAM_VERSION      2 /* the newest version this host writes */
#define STREAM_MIN_VERSION  2 /* the oldest it speaks unless asked for version 1 (--v1) */
#define STREAM_V1           1 /* HMAC proofs, unsealed records */
#define STREAM_PORT         6000

/* Record types (bits 0-30 of the header's type word). */
enum rec_type {
    REC_HELLO        = 0x01,
    REC_AUTH         = 0x02,
    REC_ERROR        = 0x03,
    REC_KEX          = 0x04, /* version 2: a SPAKE2 share */
    REC_CONFIRM      = 0x05, /* version 2: the key confirmation */
    REC_SEAL         = 0x06, /* a saved file sealed with a password: how its key is derived */
    REC_VM_DEF       = 0x10,
    REC_ACCEPT       = 0x11,
    REC_ROUND        = 0x20,
    REC_RAM          = 0x21,
    REC_VCPU         = 0x30,
    REC_DEVICE       = 0x31,
    REC_END          = 0x3f,
    REC_COMMIT_READY = 0x40,
    REC_COMMIT       = 0x41,
};
#define REC_OPTIONAL    (1u << 31) /* set: a receiver that does not know the type skips it */
#define REC_TYPE_MASK   (REC_OPTIONAL - 1)
#define REC_HDR_LEN     8
#define REC_ALIGN       8          /* bodies are zero-padded to a multiple of this */
#define REC_MAX_BODY    ((1u << 20) + 64u) /* 1 MiB + 64: a full RAM record fits */

/* Roles, as in HELLO's role byte. */
enum stream_role { ROLE_SOURCE = 0, ROLE_TARGET = 1 };

/* Capabilities: the AND of both HELLOs is used. */
#define CAP_ZERO_RUNS   (1ull << 0) /* RAM kind 1 */
#define CAP_MULTI_ROUND (1ull << 1) /* more than one ROUND: live pre-copy */
#define CAP_LIVE        (1ull << 2) /* ROUND_FINAL marks the pause; each round's page count is checked */
#define STREAM_CAPS     (CAP_ZERO_RUNS | CAP_MULTI_ROUND | CAP_LIVE) /* what this host supports */

/* ERROR codes. A receiver prints the reason text; the code is for programs. */
enum mig_err {
    MIG_ERR_AUTH = 1,   /* wrong password */
    MIG_ERR_VERSION,    /* no common stream version */
    MIG_ERR_REFUSED,    /* the target cannot take this guest (memory, CPUID, name) */
    MIG_ERR_PROTOCOL,   /* a malformed or unexpected record */
    MIG_ERR_DIGEST,     /* END's digest does not match what was received */
    MIG_ERR_CANCELLED,  /* Ctrl-C on a console */
    MIG_ERR_INTERNAL,   /* the sender failed on its own (out of memory, ...) */
    MIG_ERR_TIMEOUT,    /* no progress for the idle timeout */
    MIG_ERR_CONVERGE,   /* live: the guest dirties memory faster than the link moves it */
};

/* Fixed body layouts (sizes in bytes). */
#define STREAM_NONCE_LEN     32
#define STREAM_DIGEST_LEN    32
#define HELLO_FIXED_LEN      56 /* u32 version, u32 min, u64 caps, nonce, u8 role, 7 zero */
#define HELLO_HOST_MAX       64
#define HELLO_MAX_LEN        (HELLO_FIXED_LEN + HELLO_HOST_MAX)
#define AUTH_LEN             32
#define KEX_LEN              65 /* SPAKE2_SHARE_LEN */
#define CONFIRM_LEN          32 /* SPAKE2_CONFIRM_LEN */
#define SEAL_REC_LEN         40 /* u32 PBKDF2 rounds, u32 zero, 32-byte salt */
#define ERROR_FIXED_LEN      4
#define ERROR_REASON_MAX     200
#define ERROR_MAX_LEN        (ERROR_FIXED_LEN + ERROR_REASON_MAX)
#define ROUND_LEN            16
#define RAM_HDR_LEN          16
#define RAM_PAGE_SIZE        4096u
#define RAM_MAX_DATA_PAGES   256
#define RAM_MAX_LEN          (RAM_HDR_LEN + RAM_MAX_DATA_PAGES * RAM_PAGE_SIZE)
#define END_LEN              48
#define FDT_MIN_LEN          40 /* VM_DEF, VCPU, DEVICE: at least a struct fdt_header */
#define STREAM_GFN_LIMIT     (1ull << (52 - 12)) /* x86 MAXPHYADDR is at most 52 */

enum ram_kind { RAM_KIND_DATA = 0, RAM_KIND_ZERO = 1 };

/* What is known about each record type. Bodies are min_len..max_len bytes,
 * and when unit is non-zero exactly min_len + k * unit. */
struct rec_info {
    const char *name;   /* "HELLO" */
    uint32_t min_len, max_len, unit;
    const char *shape;  /* the allowed lengths in words, if min/max do not say it */
    uint8_t senders;    /* bit (1 << ROLE_SOURCE) and/or (1 << ROLE_TARGET) */
};
/* NULL for a type this host does not know; REC_OPTIONAL is ignored. */
const struct rec_info *rec_lookup(uint32_t type);
/* "HELLO", ..., "UNKNOWN"; REC_OPTIONAL is ignored. */
const char *rec_name(uint32_t type);
/* "AUTH", ..., "UNKNOWN" for an ERROR code. */
const char *mig_err_name(uint32_t code);

bool stream_magic_ok(const uint8_t m[STREAM_MAGIC_LEN]);

/* --- encoding (trusted local data into a caller buffer) ------------------- */
/* Writes the 8-byte record header; returns REC_HDR_LEN. type may carry
 * REC_OPTIONAL. */
size_t rec_put_hdr(uint8_t *out, uint32_t type, uint32_t body_len);
/* Zero bytes (0..7) that follow a body of body_len bytes. */
size_t rec_pad(uint32_t body_len);

struct stream_hello {
    uint32_t version, min_version;
    uint64_t caps;
    uint8_t nonce[STREAM_NONCE_LEN];
    uint8_t role;                  /* enum stream_role */
    char host[HELLO_HOST_MAX + 1]; /* printable UTF-8, NUL-terminated */
};
struct stream_error {
    uint32_t code;                         /* enum mig_err, or newer */
    char reason[ERROR_REASON_MAX + 1];     /* printable UTF-8, NUL-terminated */
};
struct stream_round {
    uint32_t round;
    uint32_t flags; /* ROUND_FINAL; zero before CAP_LIVE */
    uint64_t pages; /* pages described by the RAM records of this round */
};
#define ROUND_FINAL       (1u << 0) /* the guest is paused: the last round (CAP_LIVE) */
#define ROUND_FLAGS_KNOWN ROUND_FINAL
struct stream_ram {
    uint64_t first_gfn;
    uint32_t count;
    uint32_t kind;        /* enum ram_kind */
    const uint8_t *data;  /* decoded: count pages inside the body; NULL for a zero run */
};
struct stream_end {
    uint64_t records; /* records sent from VM_DEF up to END, END excluded */
    uint64_t pages;   /* RAM pages described, over all rounds */
    uint8_t digest[STREAM_DIGEST_LEN];
};

/* Each returns the body length. Text fields are copied up to their limit,
 * cut at a UTF-8 character boundary, and control characters or invalid
 * UTF-8 become '?', so the peer's decoder always accepts what these write.
 * out holds at least HELLO_MAX_LEN / ERROR_MAX_LEN / ROUND_LEN / END_LEN. */
size_t rec_put_hello(uint8_t *out, const struct stream_hello *h);
size_t rec_put_error(uint8_t *out, uint32_t code, const char *reason);
size_t rec_put_round(uint8_t *out, const struct stream_round *r);
size_t rec_put_end(uint8_t *out, const struct stream_end *e);
/* Writes the 16-byte RAM header (ram->data is not used: the caller puts
 * count pages right after it for a data record) and returns the length of
 * the whole body: RAM_HDR_LEN + count * 4096 for data, RAM_HDR_LEN for a
 * zero run. 0 if the header would not decode (count 0, too many pages,
 * unknown kind, frames past STREAM_GFN_LIMIT). */
size_t rec_put_ram(uint8_t *out, const struct stream_ram *ram);

/* --- decoding (untrusted bytes) ------------------------------------------- */
/* Each decodes a complete body as a rec_reader returned it; 0, or -1 with
 * a one-line reason in err (n bytes). Text fields end at the body's end
 * or at a NUL followed only by NULs. */
int rec_get_hello(const uint8_t *body, size_t len, struct stream_hello *h, char *err, size_t n);
int rec_get_error(const uint8_t *body, size_t len, struct stream_error *e, char *err, size_t n);
int rec_get_round(const uint8_t *body, size_t len, struct stream_round *r, char *err, size_t n);
int rec_get_ram(const uint8_t *body, size_t len, struct stream_ram *ram, char *err, size_t n);
int rec_get_end(const uint8_t *body, size_t len, struct stream_end *e, char *err, size_t n);

/* The version both sides use: the smaller of the two newest, which must be
 * at least both oldest; caps = the AND of both. Also refuses two peers in
 * the same role. 0, or -1 with the reason to send in ERROR MIG_ERR_VERSION
 * ("stream version 2 not supported (this host reads 3..4)"). */
int stream_negotiate(const struct stream_hello *mine, const struct stream_hello *peer, uint32_t *version,
                     uint64_t *caps, char *err, size_t n);

/* --- incremental record reader -------------------------------------------- */
enum rec_status {
    REC_MORE,  /* all input used, no complete record yet */
    REC_READY, /* one record complete: type, len, body, optional, skip are valid */
    REC_BAD,   /* the stream is malformed: error says why; every later feed says REC_BAD */
};

#define REC_ERR_LEN 128

struct rec_reader {
    /* The record, after REC_READY until the next feed. */
    uint32_t type;        /* without REC_OPTIONAL */
    uint32_t len;         /* body length, padding excluded */
    const uint8_t *body;  /* len bytes in the caller's buffer */
    bool optional;        /* REC_OPTIONAL was set */
    bool skip;            /* an optional type this host does not know: ignore it */
    uint64_t rec_offset;  /* of its header, counted from the first byte fed */
    char error[REC_ERR_LEN]; /* after REC_BAD */
    /* Private. */
    uint8_t *buf;
    uint32_t cap;         /* largest body accepted now (rec_reader_limit) */
    uint32_t buf_cap;     /* the buffer's size, at most REC_MAX_BODY */
    uint8_t hdr[REC_HDR_LEN];
    uint32_t got;         /* bytes of the current part (header, body or padding) held */
    uint32_t pad;
    uint8_t state;
    uint8_t senders;      /* records accepted: from these roles (rec_info.senders) */
    uint64_t offset;      /* bytes consumed since init */
    uint32_t overhead;    /* bytes every body carries beyond its shape (a seal's tag) */
};

/* body_buf holds the bodies: REC_MAX_BODY bytes for a whole stream; a
 * smaller one (e.g. HELLO_MAX_LEN before the peer has authenticated)
 * refuses longer records. */
void rec_reader_init(struct rec_reader *r, uint8_t *body_buf, size_t cap);
/* Refuse records a peer in this role never sends (ACCEPT from a source...);
 * by default every known record is accepted, as in a saved file. */
void rec_reader_set_peer(struct rec_reader *r, enum stream_role peer);
/* Refuse bodies over cap bytes from the next header on (at most the
 * buffer's size): small before the peer has authenticated. */
void rec_reader_limit(struct rec_reader *r, size_t cap);
/* Every body from the next header on carries n more bytes than its type's
 * shape (a sealed record's tag): lengths are checked without them. */
void rec_reader_set_overhead(struct rec_reader *r, uint32_t n);
/* Consumes data until one record (header, body and padding) is complete or
 * the input is used up; *used says how many bytes it took. Feed the rest
 * (data + *used) next. Bytes may arrive in chunks of any size. */
enum rec_status rec_reader_feed(struct rec_reader *r, const uint8_t *data, size_t n, size_t *used);
/* True if part of a record has been fed: at the end of the input, the
 * stream was truncated. */
bool rec_reader_mid_record(const struct rec_reader *r);

#endif
