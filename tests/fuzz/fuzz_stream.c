/* libFuzzer: the teleport stream reader and the fixed-body decoders
 * (migrate/stream.c). Any bytes, in any chunking: no crash, no UB, and
 *  - chunked feeding returns exactly the records (and the error) that
 *    feeding everything at once does;
 *  - every READY record fits its type's table entry;
 *  - a body a decoder accepts re-encodes to one it accepts identically;
 *  - text from the input, encoded, always decodes.
 * An input that starts with the magic (a saved file, as the seeds are) is
 * read after it, as hopvm-stream dump does. */
#include <hopvm/lib.h>
#include <hopvm/stream.h>
#include <stdlib.h>

#define MAX_SEEN 256
#define SMALL_CHUNK 17   /* exercise boundaries inside headers and padding */
#define LARGE_CHUNK 5000 /* exercise boundaries inside pages */

struct seen { /* no padding bytes, so memcmp compares only fields */
    uint64_t offset;
    uint32_t type, len, sum, flags;
};
#define SEEN(r, sum)                                                                                   \
    ((struct seen){(r)->rec_offset, (r)->type, (r)->len, (sum), (uint32_t)(r)->optional | (uint32_t)(r)->skip << 1})

static uint8_t body_buf[REC_MAX_BODY];

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void check_text(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)s[i] < 0x20 || (uint8_t)s[i] == 0x7f)
            abort();
}

/* Decodes one READY record with its decoder and checks the round trip. */
static void decode(const struct rec_reader *r)
{
    static uint8_t out[HELLO_MAX_LEN + ERROR_MAX_LEN];
    char err[REC_ERR_LEN];
    if (r->skip)
        return;
    const struct rec_info *ri = rec_lookup(r->type);
    if (!ri || r->len < ri->min_len || r->len > ri->max_len || (ri->unit && (r->len - ri->min_len) % ri->unit))
        abort();
    switch (r->type) {
    case REC_HELLO: {
        struct stream_hello h, h2;
        if (rec_get_hello(r->body, r->len, &h, err, sizeof(err)))
            break;
        check_text(h.host, HELLO_HOST_MAX);
        size_t n = rec_put_hello(out, &h);
        if (rec_get_hello(out, n, &h2, err, sizeof(err)) || h2.version != h.version ||
            h2.min_version != h.min_version || h2.caps != h.caps || h2.role != h.role ||
            memcmp(h2.nonce, h.nonce, STREAM_NONCE_LEN) || strcmp(h2.host, h.host))
            abort();
        break;
    }
    case REC_ERROR: {
        struct stream_error e, e2;
        if (rec_get_error(r->body, r->len, &e, err, sizeof(err)))
            break;
        check_text(e.reason, ERROR_REASON_MAX);
        size_t n = rec_put_error(out, e.code, e.reason);
        if (rec_get_error(out, n, &e2, err, sizeof(err)) || e2.code != e.code || strcmp(e.reason, e2.reason))
            abort();
        break;
    }
    case REC_ROUND: {
        struct stream_round rd;
        if (rec_get_round(r->body, r->len, &rd, err, sizeof(err)))
            break;
        if (rec_put_round(out, &rd) != r->len || memcmp(out, r->body, r->len))
            abort();
        break;
    }
    case REC_RAM: {
        struct stream_ram ram;
        if (rec_get_ram(r->body, r->len, &ram, err, sizeof(err)))
            break;
        if (ram.first_gfn + ram.count > STREAM_GFN_LIMIT || (ram.kind == RAM_KIND_DATA) != (ram.data != NULL))
            abort();
        if (rec_put_ram(out, &ram) != r->len || memcmp(out, r->body, RAM_HDR_LEN))
            abort();
        if (ram.data) /* touch every page byte so ASan sees any overread */
            (void)fnv(ram.data, (size_t)ram.count * RAM_PAGE_SIZE);
        break;
    }
    case REC_END: {
        struct stream_end e;
        if (rec_get_end(r->body, r->len, &e, err, sizeof(err)) || rec_put_end(out, &e) != END_LEN ||
            memcmp(out, r->body, END_LEN))
            abort();
        break;
    }
    default:
        break;
    }
}

/* Feeds data[0..size) in chunks (whole if seed is 0); records what it
 * saw. Returns the final status; the reader keeps the error. */
static enum rec_status run(const uint8_t *data, size_t size, uint32_t seed, struct rec_reader *r,
                           struct seen *seen, size_t *nseen)
{
    rec_reader_init(r, body_buf, sizeof(body_buf));
    enum rec_status st = REC_MORE;
    size_t off = 0;
    *nseen = 0;
    while (off < size) {
        size_t c = size - off;
        if (seed) {
            seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
            c = MIN(c, 1 + seed % (seed & 1 ? SMALL_CHUNK : LARGE_CHUNK));
        }
        size_t pos = 0;
        while (pos < c) {
            size_t used;
            st = rec_reader_feed(r, data + off + pos, c - pos, &used);
            if (used > c - pos)
                abort();
            pos += used;
            if (st == REC_BAD)
                return st;
            if (st == REC_MORE && pos != c)
                abort();
            if (st == REC_READY) {
                decode(r);
                if (*nseen < MAX_SEEN)
                    seen[(*nseen)++] = SEEN(r, fnv(r->body, r->len));
            }
        }
        off += c;
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct seen whole[MAX_SEEN], chunked[MAX_SEEN];
    static struct rec_reader a, b;
    size_t nwhole, nchunked;
    if (size >= STREAM_MAGIC_LEN && stream_magic_ok(data))
        data += STREAM_MAGIC_LEN, size -= STREAM_MAGIC_LEN;
    /* A heap copy of exactly size bytes so ASan catches any overread. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    enum rec_status s1 = run(copy, size, 0, &a, whole, &nwhole);
    /* The chunking comes from the input, so the fuzzer steers it. */
    uint32_t seed = fnv(copy, size) | 1;
    enum rec_status s2 = run(copy, size, seed, &b, chunked, &nchunked);
    if (s1 != s2 || nwhole != nchunked || memcmp(whole, chunked, nwhole * sizeof(whole[0])))
        abort();
    if (s1 == REC_BAD && strcmp(a.error, b.error))
        abort();
    if (s1 != REC_BAD && rec_reader_mid_record(&a) != rec_reader_mid_record(&b))
        abort();

    /* Text encoders: whatever the bytes, the result decodes. */
    char text[ERROR_REASON_MAX * 2];
    size_t tn = MIN(size, sizeof(text) - 1);
    memcpy(text, copy, tn);
    text[tn] = 0;
    static uint8_t out[HELLO_MAX_LEN + ERROR_MAX_LEN];
    char err[REC_ERR_LEN];
    struct stream_error e;
    if (rec_get_error(out, rec_put_error(out, MIG_ERR_PROTOCOL, text), &e, err, sizeof(err)))
        abort();
    struct stream_hello h = {.version = 1, .min_version = 1}, h2;
    memcpy(h.host, text, MIN(tn + 1, sizeof(h.host) - 1));
    if (rec_get_hello(out, rec_put_hello(out, &h), &h2, err, sizeof(err)))
        abort();
    free(copy);
    return 0;
}
