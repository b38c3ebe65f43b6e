/* The part of a teleport session both roles share: the output queue, the
 * magic and record reader, HELLO and AUTH, ERROR, and failure
 * (docs/migration-protocol.md). Pure; see mig_session.h. */
#include <hopvm/lib.h>
#include <hopvm/mig_session.h>

static const char *const phase_names[] = {
    [MIG_HANDSHAKE] = "handshake", [MIG_OFFER] = "offer", [MIG_STREAM] = "streaming",
    [MIG_COMMIT] = "committing", [MIG_DONE] = "completed", [MIG_FAILED] = "failed",
    [MIG_IN_DOUBT] = "in doubt",
};

const char *mig_phase_name(enum mig_phase p) { return phase_names[p]; }

static bool terminal(const struct mig_session *s)
{
    return s->phase == MIG_DONE || s->phase == MIG_FAILED || s->phase == MIG_IN_DOUBT;
}

/* ---- output ------------------------------------------------------------ */

uint8_t *mig_queue_begin(struct mig_session *s, size_t body_max)
{
    if (s->out_off >= REC_ALIGN) {
        /* Keep what is unsent at the front, moved by a multiple of 8 so
         * record bodies stay 8-byte aligned (libfdt reads them in place). */
        size_t drop = s->out_off & ~(size_t)(REC_ALIGN - 1);
        memmove(s->out, s->out + drop, s->out_len - drop);
        s->out_len -= drop;
        s->out_off -= drop;
    }
    if (s->out_len + REC_HDR_LEN + body_max + SEAL_TAG_LEN + REC_ALIGN > MIG_OUT_CAP)
        return NULL;
    return s->out + s->out_len + REC_HDR_LEN;
}

void mig_digest_record(struct mig_session *s, uint32_t type, const uint8_t *body, size_t len)
{
    s->st.records++;
    if (s->version != STREAM_V1)
        return; /* version 2 seals every record: the AEAD covers each one, in order */
    static const uint8_t zeros[REC_ALIGN];
    uint8_t hdr[REC_HDR_LEN];
    rec_put_hdr(hdr, type, (uint32_t)len);
    mig_digest_update(&s->digest, hdr, sizeof(hdr));
    mig_digest_update(&s->digest, body, len);
    mig_digest_update(&s->digest, zeros, rec_pad((uint32_t)len));
}

/* Version 2, once this side's CONFIRM is queued: the body is encrypted in
 * place and its tag follows it; the header, which says the sealed length,
 * is the associated data. */
void mig_queue_end(struct mig_session *s, uint32_t type, size_t body_len, bool digest)
{
    uint8_t *h = s->out + s->out_len, *body = h + REC_HDR_LEN;
    if (digest)
        mig_digest_record(s, type, body, body_len);
    size_t len = body_len + (s->tx_sealed ? SEAL_TAG_LEN : 0);
    rec_put_hdr(h, type, (uint32_t)len);
    if (s->tx_sealed)
        mig_seal(&s->tx, h, REC_HDR_LEN, body, body_len, body + body_len);
    size_t pad = rec_pad((uint32_t)len);
    memset(body + len, 0, pad);
    s->out_len += REC_HDR_LEN + len + pad;
    s->st.bytes_queued += REC_HDR_LEN + len + pad;
}

void mig_queue(struct mig_session *s, uint32_t type, const void *body, size_t len, bool digest)
{
    uint8_t *b = mig_queue_begin(s, len);
    if (!b)
        return; /* only small records come here; the buffer has room for them */
    if (len)
        memcpy(b, body, len);
    mig_queue_end(s, type, len, digest);
}

size_t mig_peek(struct mig_session *s, const uint8_t **p)
{
    if (s->out_off == s->out_len && s->role == ROLE_SOURCE && !terminal(s))
        mig_source_fill(s);
    *p = s->out + s->out_off;
    return s->out_len - s->out_off;
}

void mig_advance(struct mig_session *s, size_t n)
{
    s->out_off += n;
    s->st.bytes_out += n;
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
}

bool mig_finished(const struct mig_session *s) { return terminal(s) && s->out_off == s->out_len; }

/* ---- failure ----------------------------------------------------------- */

static void end_failed(struct mig_session *s)
{
    if (s->role == ROLE_SOURCE) {
        if (s->phase != MIG_DONE) /* after the hand-over the guest is retired: stays DONE */
            s->phase = MIG_FAILED;
        return;
    }
    /* Once COMMIT_READY is queued it may reach the source whatever happens
     * here next (an ERROR queued behind it comes too late), and the source
     * would retire its guest: the copy stays, paused, in doubt. */
    bool in_doubt = s->phase == MIG_COMMIT;
    bool shell = s->phase == MIG_STREAM || s->phase == MIG_COMMIT;
    s->phase = in_doubt ? MIG_IN_DOUBT : MIG_FAILED;
    if (shell)
        s->tops->abort(s->ctx, in_doubt);
}

void mig_fail(struct mig_session *s, uint32_t code, const char *fmt, ...)
{
    if (terminal(s))
        return; /* a source that handed over stays DONE, whatever follows */
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(s->error, sizeof(s->error), fmt, ap);
    va_end(ap);
    s->error_code = code;
    s->error_from_peer = false;
    uint8_t body[ERROR_MAX_LEN];
    size_t len = rec_put_error(body, code, s->error);
    /* Records already queued go out first: one may be half on the wire,
     * and cutting it would turn the ERROR into the rest of its body. */
    mig_queue(s, REC_ERROR, body, len, false);
    end_failed(s);
}

static void peer_error(struct mig_session *s)
{
    struct stream_error e;
    char why[REC_ERR_LEN];
    if (rec_get_error(s->rd.body, s->rd.len, &e, why, sizeof(why)) != 0) {
        e.code = MIG_ERR_PROTOCOL;
        ksnprintf(e.reason, sizeof(e.reason), "a malformed ERROR record (%s)", why);
    }
    s->error_code = e.code;
    s->error_from_peer = true;
    /* Before the peer proved the password (or in version 1, where records
     * are not sealed) anyone on the path could have written this. */
    ksnprintf(s->error, sizeof(s->error), "%s%s", e.reason, s->rx_sealed ? "" : " (unauthenticated)");
    s->out_off = s->out_len = 0;
    end_failed(s);
}

/* ---- handshake --------------------------------------------------------- */

static void init(struct mig_session *s, uint8_t role, void *ctx, const struct mig_params *p, uint8_t *out,
                 uint8_t *in)
{
    s->role = role;
    s->ctx = ctx;
    s->phase = MIG_HANDSHAKE;
    ksnprintf(s->password, sizeof(s->password), "%s", p->password ? p->password : "");
    memcpy(s->secret, p->random + STREAM_NONCE_LEN, sizeof(s->secret));
    s->kdf_iterations = p->kdf_iterations ? p->kdf_iterations : MIG_KDF_ITERATIONS;
    s->kdf_slice = p->kdf_slice;
    s->out = out;
    rec_reader_init(&s->rd, in, MIG_IN_CAP);
    rec_reader_limit(&s->rd, MIG_PREAUTH_CAP);
    rec_reader_set_peer(&s->rd, role == ROLE_SOURCE ? ROLE_TARGET : ROLE_SOURCE);
    struct stream_hello *h = &s->hello[role];
    h->version = p->max_version ? p->max_version : STREAM_VERSION;
    h->min_version = p->allow_v1 || h->version == STREAM_V1 ? STREAM_V1 : STREAM_MIN_VERSION;
    h->caps = STREAM_CAPS;
    memcpy(h->nonce, p->random, STREAM_NONCE_LEN);
    h->role = role;
    ksnprintf(h->host, sizeof(h->host), "%s", p->host);
    s->hello_len[role] = rec_put_hello(s->hello_body[role], h);
    memcpy(s->out, STREAM_MAGIC, STREAM_MAGIC_LEN);
    s->out_len = STREAM_MAGIC_LEN;
    mig_queue(s, REC_HELLO, s->hello_body[role], s->hello_len[role], false);
}

void mig_source_init(struct mig_session *s, const struct mig_source_ops *ops, void *ctx,
                     const struct mig_params *p, uint8_t *out, uint8_t *in)
{
    memset(s, 0, sizeof(*s));
    s->sops = ops;
    init(s, ROLE_SOURCE, ctx, p, out, in);
}

void mig_target_init(struct mig_session *s, const struct mig_target_ops *ops, void *ctx,
                     const struct mig_params *p, uint8_t *out, uint8_t *in)
{
    memset(s, 0, sizeof(*s));
    s->tops = ops;
    init(s, ROLE_TARGET, ctx, p, out, in);
}

/* The peer proved the password: full-size records from now on. */
static void authenticated(struct mig_session *s)
{
    s->peer_authed = true;
    rec_reader_limit(&s->rd, MIG_IN_CAP);
    s->phase = MIG_OFFER;
}

static const char PW_SALT[] = "hopvm-teleport-v2 password";

static void take_kex(struct mig_session *s, const uint8_t share[SPAKE2_SHARE_LEN]);

/* Version 2 (docs/migration-protocol.md, "Key exchange"): the password
 * through PBKDF2, salted with both nonces so no table can be built ahead,
 * becomes SPAKE2's w. With a kdf_slice the derivation goes on in mig_work,
 * between the host's other work; otherwise it runs here. */
static void start_kex(struct mig_session *s)
{
    uint8_t salt[sizeof(PW_SALT) - 1 + 2 * STREAM_NONCE_LEN];
    _Static_assert(sizeof(salt) <= MIG_PBKDF2_SALT_MAX, "salt fits the PBKDF2 context");
    memcpy(salt, PW_SALT, sizeof(PW_SALT) - 1);
    memcpy(salt + sizeof(PW_SALT) - 1, s->hello[ROLE_SOURCE].nonce, STREAM_NONCE_LEN);
    memcpy(salt + sizeof(PW_SALT) - 1 + STREAM_NONCE_LEN, s->hello[ROLE_TARGET].nonce, STREAM_NONCE_LEN);
    mig_pbkdf2_start(&s->kdf, s->password, strlen(s->password), salt, sizeof(salt), s->kdf_iterations);
    s->kdf_running = true;
    if (!s->kdf_slice)
        mig_work(s);
}

/* The derivation is done: this side's share goes out in KEX, and a share
 * the peer sent meanwhile is taken. */
static void send_kex(struct mig_session *s, const uint8_t okm[MIG_PBKDF2_LEN])
{
    uint8_t w[SPAKE2_SCALAR_LEN], x[SPAKE2_SCALAR_LEN];
    spake2_scalar(okm, w);
    spake2_scalar(s->secret, x);
    spake2_start(&s->pake, s->role == ROLE_TARGET, w, x);
    memset(s->secret, 0, sizeof(s->secret));
    memset(w, 0, sizeof(w)), memset(x, 0, sizeof(x));
    mig_queue(s, REC_KEX, s->pake.share, KEX_LEN, false);
    s->kex_sent = true;
    if (s->peer_kex_waiting) {
        s->peer_kex_waiting = false;
        take_kex(s, s->peer_kex);
    }
}

bool mig_work(struct mig_session *s)
{
    if (!s->kdf_running || s->phase >= MIG_DONE)
        return false;
    uint8_t okm[MIG_PBKDF2_LEN];
    if (!mig_pbkdf2_step(&s->kdf, s->kdf_slice ? s->kdf_slice : UINT32_MAX, okm))
        return true;
    s->kdf_running = false;
    memset(&s->kdf, 0, sizeof(s->kdf));
    send_kex(s, okm);
    memset(okm, 0, sizeof(okm));
    return false;
}

/* The peer's share: the shared secret, both directions' keys and this
 * side's confirmation, after which everything it sends is sealed. The
 * identities bound into the transcript are both HELLO bodies, so a change
 * to either (version, capabilities, nonce) on the way fails the
 * confirmation. */
static void take_kex(struct mig_session *s, const uint8_t share[SPAKE2_SHARE_LEN])
{
    if (spake2_finish(&s->pake, s->hello_body[ROLE_SOURCE], s->hello_len[ROLE_SOURCE], s->hello_body[ROLE_TARGET],
                      s->hello_len[ROLE_TARGET], share, &s->pake_keys, NULL, NULL) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "the peer's key share is not a usable point of P-256");
        return;
    }
    uint8_t s2t[SEAL_KEY_LEN], t2s[SEAL_KEY_LEN];
    mig_seal_keys(s->pake_keys.ke, SPAKE2_KE_LEN, s->hello[ROLE_SOURCE].nonce, s->hello[ROLE_TARGET].nonce, s2t,
                  t2s);
    memset(s->pake.x, 0, sizeof(s->pake.x)); /* the secrets are spent: only the keys matter now */
    memset(s->pake.w, 0, sizeof(s->pake.w));
    mig_seal_init(&s->tx, s->role == ROLE_SOURCE ? s2t : t2s);
    mig_seal_init(&s->rx, s->role == ROLE_SOURCE ? t2s : s2t);
    memset(s2t, 0, sizeof(s2t)), memset(t2s, 0, sizeof(t2s));
    s->kex_done = true;
    mig_queue(s, REC_CONFIRM, s->pake_keys.confirm_mine, CONFIRM_LEN, false);
    s->tx_sealed = true;
}

/* Only the right password gives the peer's confirmation; an impostor
 * learns whether its one guess was right, and nothing a listener could
 * use offline (the confirmation depends on both secret scalars). */
static void take_confirm(struct mig_session *s)
{
    if (!mig_equal(s->rd.body, s->pake_keys.confirm_peer, CONFIRM_LEN)) {
        mig_fail(s, MIG_ERR_AUTH, "wrong password");
        return;
    }
    s->rx_sealed = true;
    rec_reader_set_overhead(&s->rd, SEAL_TAG_LEN);
    authenticated(s);
}

static void take_hello(struct mig_session *s)
{
    uint8_t me = s->role, peer = !s->role;
    char why[REC_ERR_LEN];
    struct stream_hello *h = &s->hello[peer];
    if (rec_get_hello(s->rd.body, s->rd.len, h, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "bad HELLO: %s", why);
        return;
    }
    if (h->role != peer) {
        mig_fail(s, MIG_ERR_PROTOCOL, "the peer is a %s too", me == ROLE_SOURCE ? "source" : "target");
        return;
    }
    if (stream_negotiate(&s->hello[me], h, &s->version, &s->caps, why, sizeof(why)) != 0) {
        if (h->version == STREAM_V1)
            mig_fail(s, MIG_ERR_VERSION, "the peer speaks only stream version 1 (unsealed): give --v1 to use it");
        else
            mig_fail(s, MIG_ERR_VERSION, "%s", why);
        return;
    }
    memcpy(s->hello_body[peer], s->rd.body, s->rd.len);
    s->hello_len[peer] = s->rd.len;
    s->peer_hello = true;
    if (s->version != STREAM_V1) {
        start_kex(s);
        return;
    }
    uint8_t proof[MIG_HASH_LEN];
    mig_auth_proof(s->password, me, s->hello_body[ROLE_SOURCE], s->hello_len[ROLE_SOURCE],
                   s->hello_body[ROLE_TARGET], s->hello_len[ROLE_TARGET], proof);
    mig_queue(s, REC_AUTH, proof, sizeof(proof), false);
}

/* Version 1: the peer's HMAC proof (docs/migration-protocol.md). */
static void take_auth(struct mig_session *s)
{
    uint8_t peer = !s->role;
    if (!mig_auth_check(s->password, peer, s->hello_body[ROLE_SOURCE], s->hello_len[ROLE_SOURCE],
                        s->hello_body[ROLE_TARGET], s->hello_len[ROLE_TARGET], s->rd.body)) {
        mig_fail(s, MIG_ERR_AUTH, "wrong password");
        return;
    }
    mig_session_key(s->password, s->hello[ROLE_SOURCE].nonce, s->hello[ROLE_TARGET].nonce, s->key);
    mig_digest_init(&s->digest, s->key);
    authenticated(s);
}

/* HELLO; then AUTH (version 1) or KEX and CONFIRM (version 2); nothing else. */
static void handshake_record(struct mig_session *s)
{
    uint32_t t = s->rd.type;
    uint32_t want = !s->peer_hello ? REC_HELLO : s->version == STREAM_V1 ? REC_AUTH : !s->kex_done ? REC_KEX
                                                                                                  : REC_CONFIRM;
    if (t != want || s->peer_kex_waiting) { /* nothing follows a KEX before ours went out */
        mig_fail(s, MIG_ERR_PROTOCOL, "expected %s, got %s", s->peer_kex_waiting ? "nothing" : rec_name(want),
                 rec_name(t));
        return;
    }
    switch (t) {
    case REC_HELLO: take_hello(s); break;
    case REC_AUTH: take_auth(s); break;
    case REC_KEX:
        if (s->kdf_running) { /* ours is still being derived */
            memcpy(s->peer_kex, s->rd.body, KEX_LEN);
            s->peer_kex_waiting = true;
        } else {
            take_kex(s, s->rd.body);
        }
        break;
    default: take_confirm(s); break;
    }
}

/* ---- input ------------------------------------------------------------- */

/* Version 2 after the peer's CONFIRM: every record is the next one the
 * peer sealed, unaltered, or the stream ends here. */
static bool open_record(struct mig_session *s)
{
    uint32_t len = s->rd.len - SEAL_TAG_LEN; /* the reader checked len >= the tag */
    uint8_t *body = (uint8_t *)s->rd.body;   /* the session's own input buffer */
    if (!mig_open(&s->rx, s->rd.hdr, REC_HDR_LEN, body, len, body + len)) {
        mig_fail(s, MIG_ERR_PROTOCOL, "a %s record failed authentication: changed, dropped, replayed or "
                 "reordered on the way", rec_name(s->rd.type));
        return false;
    }
    s->rd.len = len;
    return true;
}

void mig_consume(struct mig_session *s, const uint8_t *data, size_t n)
{
    s->st.bytes_in += n;
    while (n && !terminal(s)) {
        if (s->magic_got < STREAM_MAGIC_LEN) {
            s->magic[s->magic_got++] = *data++;
            n--;
            if (s->magic_got == STREAM_MAGIC_LEN && !stream_magic_ok(s->magic))
                mig_fail(s, MIG_ERR_PROTOCOL, "the peer does not speak the hopvm teleport protocol");
            continue;
        }
        size_t used = 0;
        enum rec_status st = rec_reader_feed(&s->rd, data, n, &used);
        data += used;
        n -= used;
        if (st == REC_BAD) {
            mig_fail(s, MIG_ERR_PROTOCOL, "%s", s->rd.error);
        } else if (st == REC_READY) {
            if (s->rx_sealed && !open_record(s))
                continue;
            if (s->rd.type == REC_ERROR)
                peer_error(s);
            else if (s->rd.skip && !s->peer_authed) {
                mig_fail(s, MIG_ERR_PROTOCOL, "an unknown record (0x%02x) before the peer proved the password",
                         s->rd.type);
            } else if (s->rd.skip) {
                /* An optional record from a newer peer: skipped, but the
                 * END digest covers it like every record after VM_DEF. */
                if (s->role == ROLE_TARGET && (s->phase == MIG_OFFER || s->phase == MIG_STREAM) &&
                    s->def.name[0])
                    mig_digest_record(s, s->rd.type | REC_OPTIONAL, s->rd.body, s->rd.len);
            }
            else if (s->phase == MIG_HANDSHAKE)
                handshake_record(s);
            else if (s->role == ROLE_SOURCE)
                mig_source_record(s);
            else
                mig_target_record(s);
        }
    }
}
