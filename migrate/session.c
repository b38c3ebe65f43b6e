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
    if (s->out_len + REC_HDR_LEN + body_max + REC_ALIGN > MIG_OUT_CAP)
        return NULL;
    return s->out + s->out_len + REC_HDR_LEN;
}

void mig_digest_record(struct mig_session *s, uint32_t type, const uint8_t *body, size_t len)
{
    static const uint8_t zeros[REC_ALIGN];
    uint8_t hdr[REC_HDR_LEN];
    rec_put_hdr(hdr, type, (uint32_t)len);
    mig_digest_update(&s->digest, hdr, sizeof(hdr));
    mig_digest_update(&s->digest, body, len);
    mig_digest_update(&s->digest, zeros, rec_pad((uint32_t)len));
    s->st.records++;
}

void mig_queue_end(struct mig_session *s, uint32_t type, size_t body_len, bool digest)
{
    uint8_t *h = s->out + s->out_len;
    rec_put_hdr(h, type, (uint32_t)body_len);
    size_t pad = rec_pad((uint32_t)body_len);
    memset(h + REC_HDR_LEN + body_len, 0, pad);
    if (digest)
        mig_digest_record(s, type, h + REC_HDR_LEN, body_len);
    s->out_len += REC_HDR_LEN + body_len + pad;
    s->st.bytes_queued += REC_HDR_LEN + body_len + pad;
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

/* sent_all: everything queued had been handed to the transport, so a
 * queued COMMIT_READY may have reached the source. */
static void end_failed(struct mig_session *s, bool sent_all)
{
    if (s->role == ROLE_SOURCE) {
        if (s->phase != MIG_DONE) /* after the hand-over the guest is retired: stays DONE */
            s->phase = MIG_FAILED;
        return;
    }
    bool in_doubt = s->phase == MIG_COMMIT && sent_all;
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
    bool sent_all = s->out_off == s->out_len;
    /* Records already queued go out first: one may be half on the wire,
     * and cutting it would turn the ERROR into the rest of its body. */
    mig_queue(s, REC_ERROR, body, len, false);
    end_failed(s, sent_all);
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
    ksnprintf(s->error, sizeof(s->error), "%s", e.reason);
    bool sent_all = s->out_off == s->out_len;
    s->out_off = s->out_len = 0;
    end_failed(s, sent_all);
}

/* ---- handshake --------------------------------------------------------- */

static void init(struct mig_session *s, uint8_t role, void *ctx, const char *password, const char *host,
                 const uint8_t nonce[STREAM_NONCE_LEN], uint8_t *out, uint8_t *in)
{
    s->role = role;
    s->ctx = ctx;
    s->phase = MIG_HANDSHAKE;
    ksnprintf(s->password, sizeof(s->password), "%s", password ? password : "");
    s->out = out;
    rec_reader_init(&s->rd, in, MIG_IN_CAP);
    rec_reader_set_peer(&s->rd, role == ROLE_SOURCE ? ROLE_TARGET : ROLE_SOURCE);
    struct stream_hello *h = &s->hello[role];
    h->version = STREAM_VERSION;
    h->min_version = STREAM_MIN_VERSION;
    h->caps = STREAM_CAPS;
    memcpy(h->nonce, nonce, STREAM_NONCE_LEN);
    h->role = role;
    ksnprintf(h->host, sizeof(h->host), "%s", host);
    s->hello_len[role] = rec_put_hello(s->hello_body[role], h);
    memcpy(s->out, STREAM_MAGIC, STREAM_MAGIC_LEN);
    s->out_len = STREAM_MAGIC_LEN;
    mig_queue(s, REC_HELLO, s->hello_body[role], s->hello_len[role], false);
}

void mig_source_init(struct mig_session *s, const struct mig_source_ops *ops, void *ctx, const char *password,
                     const char *host, const uint8_t nonce[STREAM_NONCE_LEN], uint8_t *out, uint8_t *in)
{
    memset(s, 0, sizeof(*s));
    s->sops = ops;
    init(s, ROLE_SOURCE, ctx, password, host, nonce, out, in);
}

void mig_target_init(struct mig_session *s, const struct mig_target_ops *ops, void *ctx, const char *password,
                     const char *host, const uint8_t nonce[STREAM_NONCE_LEN], uint8_t *out, uint8_t *in)
{
    memset(s, 0, sizeof(*s));
    s->tops = ops;
    init(s, ROLE_TARGET, ctx, password, host, nonce, out, in);
}

static void handshake_record(struct mig_session *s)
{
    uint8_t me = s->role, peer = !s->role;
    char why[REC_ERR_LEN];
    if (!s->peer_hello) {
        if (s->rd.type != REC_HELLO) {
            mig_fail(s, MIG_ERR_PROTOCOL, "expected HELLO, got %s", rec_name(s->rd.type));
            return;
        }
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
            mig_fail(s, MIG_ERR_VERSION, "%s", why);
            return;
        }
        memcpy(s->hello_body[peer], s->rd.body, s->rd.len);
        s->hello_len[peer] = s->rd.len;
        s->peer_hello = true;
        uint8_t proof[MIG_HASH_LEN];
        mig_auth_proof(s->password, me, s->hello_body[ROLE_SOURCE], s->hello_len[ROLE_SOURCE],
                       s->hello_body[ROLE_TARGET], s->hello_len[ROLE_TARGET], proof);
        mig_queue(s, REC_AUTH, proof, sizeof(proof), false);
        return;
    }
    if (s->rd.type != REC_AUTH || s->rd.len != AUTH_LEN) {
        mig_fail(s, MIG_ERR_PROTOCOL, "expected AUTH, got %s", rec_name(s->rd.type));
        return;
    }
    if (!mig_auth_check(s->password, peer, s->hello_body[ROLE_SOURCE], s->hello_len[ROLE_SOURCE],
                        s->hello_body[ROLE_TARGET], s->hello_len[ROLE_TARGET], s->rd.body)) {
        mig_fail(s, MIG_ERR_AUTH, "wrong password");
        return;
    }
    s->peer_authed = true;
    mig_session_key(s->password, s->hello[ROLE_SOURCE].nonce, s->hello[ROLE_TARGET].nonce, s->key);
    mig_digest_init(&s->digest, s->key);
    s->phase = MIG_OFFER;
}

/* ---- input ------------------------------------------------------------- */

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
            if (s->rd.type == REC_ERROR)
                peer_error(s);
            else if (s->rd.skip) {
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
