/* Teleport stream framing and fixed record bodies (see stream.h). Every
 * byte a peer or a file sends passes through rec_reader_feed and the
 * rec_get_* decoders first, so they check everything the spec states and
 * never trust a length before it has been bounded. */
#include <hopvm/lib.h>
#include <hopvm/stream.h>

#define SENDER_S (1u << ROLE_SOURCE)
#define SENDER_T (1u << ROLE_TARGET)
#define SENDER_ANY (SENDER_S | SENDER_T)

/* Indexed by record type (types are small; REC_COMMIT is the largest);
 * a slot without a name is a type this version does not know. The reader
 * checks lengths here, at the header, so no body is buffered for a record
 * whose size cannot be right. */
#define REC_TYPE_SLOTS (REC_COMMIT + 1)
#define FIXED(len) .min_len = (len), .max_len = (len)
static const struct rec_info rec_table[REC_TYPE_SLOTS] = {
    [REC_HELLO] = {.name = "HELLO", .min_len = HELLO_FIXED_LEN, .max_len = HELLO_MAX_LEN, .senders = SENDER_ANY},
    [REC_AUTH] = {.name = "AUTH", FIXED(AUTH_LEN), .senders = SENDER_ANY},
    [REC_ERROR] = {.name = "ERROR", .min_len = ERROR_FIXED_LEN, .max_len = ERROR_MAX_LEN, .senders = SENDER_ANY},
    [REC_KEX] = {.name = "KEX", FIXED(KEX_LEN), .senders = SENDER_ANY},
    [REC_CONFIRM] = {.name = "CONFIRM", FIXED(CONFIRM_LEN), .senders = SENDER_ANY},
    [REC_SEAL] = {.name = "SEAL", FIXED(SEAL_REC_LEN), .senders = SENDER_S},
    [REC_VM_DEF] = {.name = "VM_DEF", .min_len = FDT_MIN_LEN, .max_len = REC_MAX_BODY, .senders = SENDER_S},
    [REC_ACCEPT] = {.name = "ACCEPT", FIXED(0), .senders = SENDER_T},
    [REC_ROUND] = {.name = "ROUND", FIXED(ROUND_LEN), .senders = SENDER_S},
    /* The header plus whole pages; rec_get_ram checks the count inside agrees. */
    [REC_RAM] = {.name = "RAM", .min_len = RAM_HDR_LEN, .max_len = RAM_MAX_LEN, .unit = RAM_PAGE_SIZE,
                 .shape = "16 + 4096 x count", .senders = SENDER_S},
    [REC_VCPU] = {.name = "VCPU", .min_len = FDT_MIN_LEN, .max_len = REC_MAX_BODY, .senders = SENDER_S},
    [REC_DEVICE] = {.name = "DEVICE", .min_len = FDT_MIN_LEN, .max_len = REC_MAX_BODY, .senders = SENDER_S},
    [REC_END] = {.name = "END", FIXED(END_LEN), .senders = SENDER_S},
    [REC_COMMIT_READY] = {.name = "COMMIT_READY", FIXED(0), .senders = SENDER_T},
    [REC_COMMIT] = {.name = "COMMIT", FIXED(0), .senders = SENDER_S},
};

static const char *const err_names[] = {
    [MIG_ERR_AUTH] = "AUTH",         [MIG_ERR_VERSION] = "VERSION", [MIG_ERR_REFUSED] = "REFUSED",
    [MIG_ERR_PROTOCOL] = "PROTOCOL", [MIG_ERR_DIGEST] = "DIGEST",   [MIG_ERR_CANCELLED] = "CANCELLED",
    [MIG_ERR_INTERNAL] = "INTERNAL", [MIG_ERR_TIMEOUT] = "TIMEOUT",   [MIG_ERR_CONVERGE] = "CONVERGE",
};

static const char *const role_names[] = {[ROLE_SOURCE] = "source", [ROLE_TARGET] = "target"};

const struct rec_info *rec_lookup(uint32_t type)
{
    type &= REC_TYPE_MASK;
    if (type >= REC_TYPE_SLOTS || !rec_table[type].name)
        return NULL;
    return &rec_table[type];
}

const char *rec_name(uint32_t type)
{
    const struct rec_info *ri = rec_lookup(type);
    return ri ? ri->name : "UNKNOWN";
}

const char *mig_err_name(uint32_t code)
{
    return code < ARRAY_SIZE(err_names) && err_names[code] ? err_names[code] : "UNKNOWN";
}

bool stream_magic_ok(const uint8_t m[STREAM_MAGIC_LEN])
{
    return !memcmp(m, STREAM_MAGIC, STREAM_MAGIC_LEN);
}

/* --- little-endian, byte by byte: the host's order and alignment never matter */
static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* --- text: host names and reasons end up on a console ------------------- */
#define ASCII_SPACE 0x20
#define ASCII_DEL 0x7f
#define UTF8_CONT_MASK 0xc0
#define UTF8_CONT 0x80
#define UTF8_CONT_BITS 6
#define UNICODE_MAX 0x10ffff
#define SURROGATE_FIRST 0xd800
#define SURROGATE_LAST 0xdfff
#define C1_FIRST 0x80
#define C1_LAST 0x9f
#define UTF8_MAX_LEN 4

/* UTF-8 lead bytes (RFC 3629): mask, value, sequence length, smallest code
 * point that needs that length (anything below is an overlong form). */
static const struct {
    uint8_t mask, value, len;
    uint32_t min;
} utf8_leads[] = {
    {0xe0, 0xc0, 2, 0x80},
    {0xf0, 0xe0, 3, 0x800},
    {0xf8, 0xf0, UTF8_MAX_LEN, 0x10000},
};

/* Length of the printable character at p (n bytes available), or 0: C0 and
 * C1 controls and DEL could drive the terminal that shows the text, and
 * overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
static size_t utf8_printable(const uint8_t *p, size_t n)
{
    if (p[0] < UTF8_CONT)
        return p[0] >= ASCII_SPACE && p[0] != ASCII_DEL;
    for (size_t k = 0; k < ARRAY_SIZE(utf8_leads); k++) {
        if ((p[0] & utf8_leads[k].mask) != utf8_leads[k].value)
            continue;
        size_t len = utf8_leads[k].len;
        if (n < len)
            return 0;
        uint32_t cp = p[0] & (uint8_t)~utf8_leads[k].mask;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & UTF8_CONT_MASK) != UTF8_CONT)
                return 0;
            cp = cp << UTF8_CONT_BITS | (p[i] & (uint8_t)~UTF8_CONT_MASK);
        }
        if (cp < utf8_leads[k].min || cp > UNICODE_MAX || (cp >= SURROGATE_FIRST && cp <= SURROGATE_LAST) ||
            (cp >= C1_FIRST && cp <= C1_LAST))
            return 0;
        return len;
    }
    return 0;
}

/* Copies at most max bytes of s, whole characters only, '?' for anything
 * not printable UTF-8; returns the bytes written (no NUL on the wire). */
static size_t put_text(uint8_t *out, const char *s, size_t max)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t o = 0;
    while (*p && o < max) {
        /* A sequence cut short by the NUL must not be read past it (and
         * glibc hides strnlen under -std=c11). */
        size_t avail = 1;
        while (avail < UTF8_MAX_LEN && p[avail])
            avail++;
        size_t k = utf8_printable(p, avail);
        if (!k) {
            out[o++] = '?';
            p++;
            continue;
        }
        if (o + k > max)
            break;
        memcpy(out + o, p, k);
        o += k, p += k;
    }
    return o;
}

/* The text field p[0..len): printable UTF-8 up to the end or to a NUL that
 * only NULs follow (C peers may send the terminator). out holds len + 1. */
static int get_text(const uint8_t *p, size_t len, char *out, const char *what, char *err, size_t n)
{
    const uint8_t *nul = memchr(p, 0, len);
    size_t end = nul ? (size_t)(nul - p) : len;
    if (!all_zero(p + end, len - end))
        return fail(err, n, "%s has bytes after its NUL terminator", what);
    for (size_t i = 0; i < end;) {
        size_t k = utf8_printable(p + i, end - i);
        if (!k)
            return fail(err, n, "%s is not printable UTF-8 (byte 0x%02x at %zu)", what, p[i], i);
        i += k;
    }
    memcpy(out, p, end);
    out[end] = 0;
    return 0;
}

/* --- encoders ------------------------------------------------------------ */
#define HELLO_OFF_MIN 4
#define HELLO_OFF_CAPS 8
#define HELLO_OFF_NONCE 16
#define HELLO_OFF_ROLE (HELLO_OFF_NONCE + STREAM_NONCE_LEN)
#define HELLO_OFF_RSVD (HELLO_OFF_ROLE + 1)
#define HELLO_RSVD_LEN (HELLO_FIXED_LEN - HELLO_OFF_RSVD)
#define ROUND_OFF_FLAGS 4
#define ROUND_OFF_PAGES 8
#define RAM_OFF_COUNT 8
#define RAM_OFF_KIND 12
#define END_OFF_PAGES 8
#define END_OFF_DIGEST 16

size_t rec_put_hdr(uint8_t *out, uint32_t type, uint32_t body_len)
{
    put_le32(out, type);
    put_le32(out + 4, body_len);
    return REC_HDR_LEN;
}

size_t rec_pad(uint32_t body_len)
{
    return (REC_ALIGN - body_len % REC_ALIGN) % REC_ALIGN;
}

size_t rec_put_hello(uint8_t *out, const struct stream_hello *h)
{
    put_le32(out, h->version);
    put_le32(out + HELLO_OFF_MIN, h->min_version);
    put_le64(out + HELLO_OFF_CAPS, h->caps);
    memcpy(out + HELLO_OFF_NONCE, h->nonce, STREAM_NONCE_LEN);
    out[HELLO_OFF_ROLE] = h->role;
    memset(out + HELLO_OFF_RSVD, 0, HELLO_RSVD_LEN);
    return HELLO_FIXED_LEN + put_text(out + HELLO_FIXED_LEN, h->host, HELLO_HOST_MAX);
}

size_t rec_put_error(uint8_t *out, uint32_t code, const char *reason)
{
    put_le32(out, code);
    return ERROR_FIXED_LEN + put_text(out + ERROR_FIXED_LEN, reason, ERROR_REASON_MAX);
}

size_t rec_put_round(uint8_t *out, const struct stream_round *r)
{
    put_le32(out, r->round);
    put_le32(out + ROUND_OFF_FLAGS, r->flags);
    put_le64(out + ROUND_OFF_PAGES, r->pages);
    return ROUND_LEN;
}

/* The checks rec_get_ram makes on the header alone; NULL if it is fine. */
static const char *ram_hdr_problem(uint64_t gfn, uint32_t count, uint32_t kind)
{
    if (!count)
        return "count 0";
    if (kind != RAM_KIND_DATA && kind != RAM_KIND_ZERO)
        return "unknown kind";
    if (kind == RAM_KIND_DATA && count > RAM_MAX_DATA_PAGES)
        return "more than 256 data pages";
    if (gfn >= STREAM_GFN_LIMIT || count > STREAM_GFN_LIMIT - gfn)
        return "frames past the 52-bit physical address space";
    return NULL;
}

size_t rec_put_ram(uint8_t *out, const struct stream_ram *ram)
{
    if (ram_hdr_problem(ram->first_gfn, ram->count, ram->kind))
        return 0;
    put_le64(out, ram->first_gfn);
    put_le32(out + RAM_OFF_COUNT, ram->count);
    put_le32(out + RAM_OFF_KIND, ram->kind);
    return RAM_HDR_LEN + (ram->kind == RAM_KIND_DATA ? (size_t)ram->count * RAM_PAGE_SIZE : 0);
}

size_t rec_put_end(uint8_t *out, const struct stream_end *e)
{
    put_le64(out, e->records);
    put_le64(out + END_OFF_PAGES, e->pages);
    memcpy(out + END_OFF_DIGEST, e->digest, STREAM_DIGEST_LEN);
    return END_LEN;
}

/* --- decoders ------------------------------------------------------------ */
int rec_get_hello(const uint8_t *body, size_t len, struct stream_hello *h, char *err, size_t n)
{
    if (len < HELLO_FIXED_LEN || len > HELLO_MAX_LEN)
        return fail(err, n, "HELLO body of %zu bytes: expected %d to %d", len, HELLO_FIXED_LEN, HELLO_MAX_LEN);
    h->version = get_le32(body);
    h->min_version = get_le32(body + HELLO_OFF_MIN);
    h->caps = get_le64(body + HELLO_OFF_CAPS);
    memcpy(h->nonce, body + HELLO_OFF_NONCE, STREAM_NONCE_LEN);
    h->role = body[HELLO_OFF_ROLE];
    if (h->min_version < 1 || h->version < h->min_version)
        return fail(err, n, "HELLO versions %u..%u: expected 1 <= oldest <= newest", h->min_version, h->version);
    if (h->role != ROLE_SOURCE && h->role != ROLE_TARGET)
        return fail(err, n, "HELLO role %u: expected 0 (source) or 1 (target)", h->role);
    if (!all_zero(body + HELLO_OFF_RSVD, HELLO_RSVD_LEN))
        return fail(err, n, "HELLO reserved bytes are not zero");
    return get_text(body + HELLO_FIXED_LEN, len - HELLO_FIXED_LEN, h->host, "HELLO host name", err, n);
}

int rec_get_error(const uint8_t *body, size_t len, struct stream_error *e, char *err, size_t n)
{
    if (len < ERROR_FIXED_LEN || len > ERROR_MAX_LEN)
        return fail(err, n, "ERROR body of %zu bytes: expected %d to %d", len, ERROR_FIXED_LEN, ERROR_MAX_LEN);
    e->code = get_le32(body);
    return get_text(body + ERROR_FIXED_LEN, len - ERROR_FIXED_LEN, e->reason, "ERROR reason", err, n);
}

int rec_get_round(const uint8_t *body, size_t len, struct stream_round *r, char *err, size_t n)
{
    if (len != ROUND_LEN)
        return fail(err, n, "ROUND body of %zu bytes: expected %d", len, ROUND_LEN);
    r->flags = get_le32(body + ROUND_OFF_FLAGS);
    if (r->flags & ~ROUND_FLAGS_KNOWN)
        return fail(err, n, "ROUND flags 0x%x include bits this host does not know", r->flags);
    r->round = get_le32(body);
    r->pages = get_le64(body + ROUND_OFF_PAGES);
    return 0;
}

int rec_get_ram(const uint8_t *body, size_t len, struct stream_ram *ram, char *err, size_t n)
{
    if (len < RAM_HDR_LEN)
        return fail(err, n, "RAM body of %zu bytes: expected 16 + 4096 x count", len);
    ram->first_gfn = get_le64(body);
    ram->count = get_le32(body + RAM_OFF_COUNT);
    ram->kind = get_le32(body + RAM_OFF_KIND);
    ram->data = NULL;
    const char *problem = ram_hdr_problem(ram->first_gfn, ram->count, ram->kind);
    if (problem)
        return fail(err, n, "RAM gfn 0x%lx count %u kind %u: %s", ram->first_gfn, ram->count, ram->kind,
                    problem);
    /* count <= 256 here for data, so the product cannot overflow. */
    size_t want = RAM_HDR_LEN + (ram->kind == RAM_KIND_DATA ? (size_t)ram->count * RAM_PAGE_SIZE : 0);
    if (len != want)
        return fail(err, n, "RAM %s of %u pages in a body of %zu bytes: expected %zu",
                    ram->kind == RAM_KIND_DATA ? "data" : "zero run", ram->count, len, want);
    if (ram->kind == RAM_KIND_DATA)
        ram->data = body + RAM_HDR_LEN;
    return 0;
}

int rec_get_end(const uint8_t *body, size_t len, struct stream_end *e, char *err, size_t n)
{
    if (len != END_LEN)
        return fail(err, n, "END body of %zu bytes: expected %d", len, END_LEN);
    e->records = get_le64(body);
    e->pages = get_le64(body + END_OFF_PAGES);
    memcpy(e->digest, body + END_OFF_DIGEST, STREAM_DIGEST_LEN);
    return 0;
}

int stream_negotiate(const struct stream_hello *mine, const struct stream_hello *peer, uint32_t *version,
                     uint64_t *caps, char *err, size_t n)
{
    uint32_t v = MIN(mine->version, peer->version);
    if (v < mine->min_version)
        return fail(err, n, "stream version %u not supported (this host reads %u..%u)", v, mine->min_version,
                    mine->version);
    if (v < peer->min_version)
        return fail(err, n, "stream version %u not supported by the peer (it reads %u..%u)", v,
                    peer->min_version, peer->version);
    *version = v;
    *caps = mine->caps & peer->caps;
    return 0;
}

/* --- the incremental reader ---------------------------------------------- */
enum { RS_HDR, RS_BODY, RS_PAD, RS_BAD };

void rec_reader_init(struct rec_reader *r, uint8_t *body_buf, size_t cap)
{
    memset(r, 0, sizeof(*r));
    r->buf = body_buf;
    r->cap = r->buf_cap = cap < REC_MAX_BODY ? (uint32_t)cap : REC_MAX_BODY;
    r->state = RS_HDR;
    r->senders = SENDER_ANY;
}

void rec_reader_limit(struct rec_reader *r, size_t cap)
{
    r->cap = (uint32_t)MIN(cap, (size_t)r->buf_cap);
}

void rec_reader_set_overhead(struct rec_reader *r, uint32_t n) { r->overhead = n; }

void rec_reader_set_peer(struct rec_reader *r, enum stream_role peer)
{
    r->senders = (uint8_t)(1u << peer);
}

bool rec_reader_mid_record(const struct rec_reader *r)
{
    return r->state != RS_BAD && (r->state != RS_HDR || r->got);
}

static enum rec_status bad(struct rec_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum rec_status bad(struct rec_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    r->state = RS_BAD;
    return REC_BAD;
}

/* Everything the header alone decides, before any body byte is stored. */
static enum rec_status check_hdr(struct rec_reader *r)
{
    uint32_t word = get_le32(r->hdr), len = get_le32(r->hdr + 4);
    r->type = word & REC_TYPE_MASK;
    r->optional = word & REC_OPTIONAL;
    r->len = len;
    const struct rec_info *ri = rec_lookup(r->type);
    r->skip = !ri;
    if (!ri && !r->optional)
        return bad(r, "unknown mandatory record type 0x%02x; the peer is newer: upgrade this host", r->type);
    const char *name = rec_name(r->type);
    if (len > REC_MAX_BODY)
        return bad(r, "record 0x%02x (%s) body length %u over the 1 MiB + 64 limit", r->type, name, len);
    if (len > r->cap)
        return bad(r, "record 0x%02x (%s) body length %u over this reader's limit of %u bytes", r->type,
                   name, len, r->cap);
    if (len < r->overhead)
        return bad(r, "record 0x%02x (%s) of %u bytes: shorter than its %u-byte seal", r->type, name, len,
                   r->overhead);
    len -= r->overhead;
    if (!ri)
        return REC_MORE;
    if (len < ri->min_len || len > ri->max_len || (ri->unit && (len - ri->min_len) % ri->unit)) {
        char want[48];
        if (ri->shape)
            ksnprintf(want, sizeof(want), "%s", ri->shape);
        else if (ri->min_len == ri->max_len)
            ksnprintf(want, sizeof(want), "%u", ri->min_len);
        else if (ri->max_len == REC_MAX_BODY)
            ksnprintf(want, sizeof(want), "at least %u", ri->min_len);
        else
            ksnprintf(want, sizeof(want), "%u to %u", ri->min_len, ri->max_len);
        return bad(r, "record 0x%02x (%s) body of %u bytes: expected %s", r->type, name, len, want);
    }
    if (!(ri->senders & r->senders))
        return bad(r, "record 0x%02x (%s) from the %s, which never sends it", r->type, name,
                   role_names[r->senders == SENDER_S ? ROLE_SOURCE : ROLE_TARGET]);
    return REC_MORE;
}

enum rec_status rec_reader_feed(struct rec_reader *r, const uint8_t *data, size_t n, size_t *used)
{
    size_t i = 0, take;
    *used = 0;
    for (;;) {
        switch (r->state) {
        case RS_HDR:
            take = MIN((size_t)(REC_HDR_LEN - r->got), n - i);
            if (!take)
                goto more;
            if (!r->got)
                r->rec_offset = r->offset;
            memcpy(r->hdr + r->got, data + i, take);
            r->got += (uint32_t)take, i += take, r->offset += take;
            if (r->got < REC_HDR_LEN)
                goto more;
            if (check_hdr(r) == REC_BAD) {
                *used = i;
                return REC_BAD;
            }
            r->got = 0;
            r->pad = (uint32_t)rec_pad(r->len);
            r->state = RS_BODY;
            break;
        case RS_BODY:
            take = MIN((size_t)(r->len - r->got), n - i);
            if (take) { /* the buffer may be NULL when only empty bodies fit */
                memcpy(r->buf + r->got, data + i, take);
                r->got += (uint32_t)take, i += take, r->offset += take;
            }
            if (r->got < r->len)
                goto more;
            r->got = 0;
            r->state = RS_PAD;
            break;
        case RS_PAD:
            for (; r->got < r->pad && i < n; r->got++, i++, r->offset++)
                if (data[i]) {
                    *used = i + 1;
                    r->offset++;
                    return bad(r, "non-zero padding after record 0x%02x (%s)", r->type, rec_name(r->type));
                }
            if (r->got < r->pad)
                goto more;
            r->got = 0;
            r->state = RS_HDR;
            r->body = r->buf;
            *used = i;
            return REC_READY;
        default: /* RS_BAD: the stream cannot be resynchronised */
            return REC_BAD;
        }
    }
more:
    *used = i;
    return REC_MORE;
}
