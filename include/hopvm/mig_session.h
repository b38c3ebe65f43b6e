/* A teleport session: the protocol of docs/migration-protocol.md as a pure
 * state machine, one per side. It knows nothing of sockets or of struct
 * vm: bytes go in through mig_consume, come out through mig_peek and
 * mig_advance, and the guest is reached through the role's ops. The same
 * code runs in hopvm (lwIP) and in the host tools (BSD sockets), and is
 * unit-tested by joining a source and a target in memory. */
#ifndef HOPVM_MIG_SESSION_H
#define HOPVM_MIG_SESSION_H
#include <hopvm/mig_auth.h>
#include <hopvm/mig_converge.h>
#include <hopvm/mig_seal.h>
#include <hopvm/mig_spake2.h>
#include <hopvm/mig_state.h>
#include <hopvm/stream.h>

/* Buffers the caller provides: one record out, one record in. */
#define MIG_OUT_CAP (STREAM_MAGIC_LEN + 2 * (REC_HDR_LEN + HELLO_MAX_LEN + 8) + REC_HDR_LEN + REC_MAX_BODY + \
                     SEAL_TAG_LEN + 8)
#define MIG_IN_CAP  REC_MAX_BODY
/* The largest record accepted before the peer has proved the password:
 * HELLO, KEX, CONFIRM, AUTH or ERROR (so a stranger cannot make this host
 * buffer a megabyte). */
#define MIG_PREAUTH_CAP 256

#define MIG_RANDOM_LEN 64        /* per session: the HELLO nonce, then a secret for the key exchange */
#define MIG_KDF_ITERATIONS 20000 /* PBKDF2 rounds from a password to a key or scalar (about 0.6 s under Bochs) */

/* How a session starts. */
struct mig_params {
    const char *password;       /* "" for none: version 2 still seals, but nobody is authenticated */
    const char *host;           /* this host's name, sent in HELLO */
    const uint8_t *random;      /* MIG_RANDOM_LEN bytes from a good generator */
    bool allow_v1;              /* also speak version 1 (HMAC proofs, unsealed records) */
    uint32_t kdf_iterations;    /* 0: MIG_KDF_ITERATIONS (both sides must agree: tests only) */
    uint32_t max_version;       /* 0: STREAM_VERSION; 1: speak only version 1 (a source's --v1) */
    uint32_t kdf_slice;         /* 0: the password's PBKDF2 runs inside mig_consume; N: mig_work
                                   runs N iterations per call (a host that must not stall its guests) */
};

enum mig_phase {
    MIG_HANDSHAKE,  /* HELLO and AUTH both ways */
    MIG_OFFER,      /* source: VM_DEF sent, waiting for ACCEPT; target: waiting for VM_DEF */
    MIG_STREAM,     /* RAM, VCPU, DEVICE records, then END */
    MIG_COMMIT,     /* target: COMMIT_READY sent, waiting for COMMIT; source: sending COMMIT */
    MIG_DONE,       /* handed over: the target runs the guest */
    MIG_FAILED,     /* nothing happened: the source guest runs on */
    MIG_IN_DOUBT,   /* target only: the link failed after COMMIT_READY */
};

struct mig_source_ops {
    void (*describe)(void *ctx, struct mig_vmdef *d);
    /* 4 KiB of guest RAM; NULL if the guest is gone (it exited or crashed). */
    const uint8_t *(*page)(void *ctx, uint64_t gfn);
    void (*vcpu)(void *ctx, unsigned i, struct mig_vcpu *v);
    void (*uart)(void *ctx, struct mig_uart *u);
    /* The platform's other devices, one DEVICE record each, after the
     * UART's: fills d and returns 0 for device i, 1 past the last. May be
     * NULL (a guest with only a UART: the tools' old files). */
    int (*device)(void *ctx, unsigned i, struct mig_dev *d);
    /* COMMIT_READY came: retire the guest for good, before COMMIT goes out. */
    void (*handed_over)(void *ctx);
    /* The final round begins: the guest stops running here (the start of
     * the downtime). A stop-and-copy teleport calls it before round 0. */
    void (*pause)(void *ctx);
    /* Live pre-copy only (mig_source_live); may be NULL otherwise. */
    int (*log_start)(void *ctx, char *err, size_t n); /* dirty logging on */
    /* ORs the pages dirtied since the last harvest into bitmap; returns how many. */
    uint64_t (*harvest)(void *ctx, uint64_t *bitmap);
    void (*throttle)(void *ctx, unsigned pct);        /* withhold pct % of the guest's CPU */
    uint64_t (*now_ns)(void *ctx);                    /* a monotonic clock */
    /* Everything queued so far has reached the peer (NULL: assume so). A
     * round ends only then, so its time measures the link, and the final
     * pause does not begin with the last round still on the wire. */
    bool (*link_idle)(void *ctx);
};

struct mig_target_ops {
    /* Compatibility and the paused shell; 0, or -1 with the reason. */
    int (*offer)(void *ctx, const struct mig_vmdef *d, char *reason, size_t n);
    uint8_t *(*page)(void *ctx, uint64_t gfn); /* where page gfn goes */
    int (*vcpu)(void *ctx, const struct mig_vcpu *v, char *err, size_t n);
    int (*uart)(void *ctx, const struct mig_uart *u, char *err, size_t n);
    /* A generic DEVICE record (decoded, not yet checked): 0, or -1 with
     * the reason (a type this host lacks, a value its device refuses).
     * NULL: every such record is refused. */
    int (*device)(void *ctx, const struct mig_dev *d, char *err, size_t n);
    /* The final round began (ROUND_FINAL): the source paused the guest.
     * May be NULL. */
    void (*final_round)(void *ctx);
    /* COMMIT arrived: run it. */
    void (*commit)(void *ctx);
    /* END checked out: the copy is complete. The last moment to refuse
     * (hopvm-save writes its file here): -1 with the reason fails the
     * teleport before COMMIT_READY exists. May be NULL. */
    int (*ready)(void *ctx, char *err, size_t n);
    /* The teleport failed: free the shell (in_doubt: keep it, paused). */
    void (*abort)(void *ctx, bool in_doubt);
};

#define MIG_ROUND_LOG 16 /* rounds whose page counts are kept; the last slot sums the rest */

struct mig_stats {
    uint64_t ram_pages;         /* guest RAM in pages */
    uint64_t pages_done;        /* described so far (data or zero), over all rounds */
    uint64_t zero_pages;
    uint64_t bytes_out, bytes_in;
    uint64_t bytes_queued;      /* source: bytes put in the output queue */
    uint64_t records;
    /* Rounds (both roles count what they sent or received). */
    uint32_t rounds;            /* rounds begun */
    bool final_round;           /* the final round has begun: the guest is paused */
    uint64_t round_pages[MIG_ROUND_LOG];
    uint64_t round_left;        /* pages of the current round not yet described */
    /* Source, live: what the convergence model saw at the latest harvest. */
    uint64_t dirty_pages;       /* dirty at the latest harvest */
    uint64_t dirty_rate;        /* bytes/s */
    uint64_t link_rate;         /* bytes/s */
    uint64_t expected_downtime_ns;
    unsigned throttle_pct;
};

/* A live (pre-copy) teleport's limits: migrate/converge.c decides with them. */
struct mig_live_params {
    uint64_t downtime_ns;       /* the final pause to aim for */
    uint32_t max_rounds;        /* with no_throttle: give up after this many */
    bool no_throttle;
};

struct mig_session {
    uint8_t role;                       /* ROLE_SOURCE or ROLE_TARGET */
    enum mig_phase phase;
    const struct mig_source_ops *sops;
    const struct mig_target_ops *tops;
    void *ctx;
    char password[MIG_PASSWORD_MAX + 1];
    /* Out: whole records queued, sent from out_off. */
    uint8_t *out;
    size_t out_len, out_off;
    /* In: the peer's magic, then records. */
    uint8_t magic[STREAM_MAGIC_LEN];
    unsigned magic_got;
    struct rec_reader rd;
    /* Handshake. */
    struct stream_hello hello[2];       /* by role */
    uint8_t hello_body[2][HELLO_MAX_LEN];
    size_t hello_len[2];
    bool peer_hello, peer_authed;
    uint32_t version;
    uint64_t caps;
    uint8_t key[MIG_HASH_LEN];          /* version 1: keys the END digest */
    struct mig_digest digest;           /* version 1 */
    /* Version 2: the key exchange and the sealed records. */
    uint8_t secret[SPAKE2_SCALAR_LEN];
    uint32_t kdf_iterations, kdf_slice;
    struct mig_pbkdf2 kdf;
    bool kdf_running;                   /* the password's PBKDF2 is under way (mig_work) */
    bool peer_kex_waiting;              /* the peer's KEX came first: it waits for ours */
    uint8_t peer_kex[SPAKE2_SHARE_LEN];
    struct spake2 pake;
    struct spake2_keys pake_keys;
    bool kex_sent, kex_done;
    struct mig_seal tx, rx;
    bool tx_sealed, rx_sealed;
    /* Live pre-copy (source): mig_source_live turned it on. */
    bool live;
    struct mig_live_params lp;
    struct mig_conv conv;
    uint64_t *send;                     /* the pages the current round sends (rounds > 0) */
    uint64_t round_t0, round_bytes0, harvest_t;
    /* Stream position. */
    uint32_t round;                     /* the current round */
    uint64_t next_gfn;                  /* round 0: the next page; later: where to look next */
    unsigned next_vcpu;
    unsigned next_dev;                  /* source: the next generic DEVICE record */
    bool offered, round_begun;
    bool uart_done, end_done;
    bool vcpu_seen[CFG_MAX_VCPUS];
    struct mig_vmdef def;
    struct mig_stats st;
    /* Outcome. */
    uint32_t error_code;
    bool error_from_peer;
    char error[ERROR_REASON_MAX + 1];
};

void mig_source_init(struct mig_session *s, const struct mig_source_ops *ops, void *ctx,
                     const struct mig_params *p, uint8_t *out, uint8_t *in);
/* Makes a source session live: pre-copy rounds while the guest runs,
 * then a final round in a pause (if the peer has CAP_LIVE; otherwise it
 * falls back to stop-and-copy). bitmap: one bit per guest page, zeroed,
 * owned by the caller for the whole session. Call after mig_source_init. */
void mig_source_live(struct mig_session *s, const struct mig_live_params *p, uint64_t *bitmap);
void mig_target_init(struct mig_session *s, const struct mig_target_ops *ops, void *ctx,
                     const struct mig_params *p, uint8_t *out, uint8_t *in);
/* Bytes from the peer. */
void mig_consume(struct mig_session *s, const uint8_t *data, size_t n);
/* With kdf_slice: one slice of the handshake's key derivation. True while
 * more is to do; when it ends, this side's KEX is queued (mig_peek). */
bool mig_work(struct mig_session *s);
/* Bytes for the peer: what is ready now (0 = nothing until the peer speaks). */
size_t mig_peek(struct mig_session *s, const uint8_t **p);
void mig_advance(struct mig_session *s, size_t n);
/* A local failure (link lost, Ctrl-C, idle timeout): an ERROR is queued
 * if the link may still carry it; the session ends (in doubt if the
 * target had sent COMMIT_READY). */
void mig_fail(struct mig_session *s, uint32_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool mig_finished(const struct mig_session *s); /* DONE, FAILED or IN_DOUBT, and nothing left to send */
const char *mig_phase_name(enum mig_phase p);

/* migrate/source.c, migrate/target.c: the roles' records. Internal. */
void mig_source_fill(struct mig_session *s);
void mig_source_record(struct mig_session *s);
void mig_target_record(struct mig_session *s);
/* migrate/source.c: whether a 4 KiB page is all zero (a zero run). */
bool mig_page_is_zero(const uint8_t *p);
/* migrate/session.c: shared by the roles. Internal. */
uint8_t *mig_queue_begin(struct mig_session *s, size_t body_max);
void mig_queue_end(struct mig_session *s, uint32_t type, size_t body_len, bool digest);
void mig_queue(struct mig_session *s, uint32_t type, const void *body, size_t len, bool digest);
void mig_digest_record(struct mig_session *s, uint32_t type, const uint8_t *body, size_t len);

#endif
