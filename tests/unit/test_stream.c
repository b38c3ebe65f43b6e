/* The teleport stream framing (migrate/stream.c): every fixed body survives
 * a round trip, every check the spec names refuses with its reason, and the
 * reader returns the same records however the bytes are chunked. */
#include "check.h"
#include <hopvm/lib.h>
#include <hopvm/stream.h>
#include <stdlib.h>

static uint8_t body_buf[REC_MAX_BODY];
static uint8_t stream[4 * REC_MAX_BODY];
static char err[REC_ERR_LEN];

static uint32_t rng = 12345;
static uint32_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Appends one framed record (header, body, zero padding). */
static size_t emit(uint8_t *out, uint32_t type, const uint8_t *body, uint32_t len)
{
    size_t o = rec_put_hdr(out, type, len);
    if (len)
        memcpy(out + o, body, len);
    o += len;
    size_t pad = rec_pad(len);
    memset(out + o, 0, pad);
    return o + pad;
}

static void test_basics(void)
{
    uint8_t h[REC_HDR_LEN];
    CHECK_U64(rec_put_hdr(h, REC_RAM | REC_OPTIONAL, 0x01020304), REC_HDR_LEN);
    const uint8_t want[] = {0x21, 0, 0, 0x80, 0x04, 0x03, 0x02, 0x01};
    CHECK(!memcmp(h, want, sizeof(want)));
    CHECK_U64(rec_pad(0), 0);
    CHECK_U64(rec_pad(1), 7);
    CHECK_U64(rec_pad(7), 1);
    CHECK_U64(rec_pad(8), 0);
    CHECK_U64(rec_pad(13), 3);
    CHECK_STR(rec_name(REC_HELLO), "HELLO");
    CHECK_STR(rec_name(REC_COMMIT_READY), "COMMIT_READY");
    CHECK_STR(rec_name(REC_DEVICE | REC_OPTIONAL), "DEVICE");
    CHECK_STR(rec_name(0x55), "UNKNOWN");
    CHECK_STR(rec_name(0), "UNKNOWN");
    CHECK_STR(rec_name(0x7fffffff), "UNKNOWN");
    CHECK(rec_lookup(REC_END) && rec_lookup(REC_END)->min_len == END_LEN);
    CHECK(!rec_lookup(0x12));
    CHECK_STR(mig_err_name(MIG_ERR_AUTH), "AUTH");
    CHECK_STR(mig_err_name(MIG_ERR_TIMEOUT), "TIMEOUT");
    CHECK_STR(mig_err_name(0), "UNKNOWN");
    CHECK_STR(mig_err_name(1000), "UNKNOWN");
    CHECK(stream_magic_ok((const uint8_t *)"HOPVMTP1"));
    CHECK(!stream_magic_ok((const uint8_t *)"HOPVMTP2"));
    CHECK_U64(RAM_MAX_LEN <= REC_MAX_BODY, 1);
}

static void test_round_trips(void)
{
    uint8_t b[REC_MAX_BODY];
    struct stream_hello h = {.version = 2, .min_version = 1, .caps = CAP_ZERO_RUNS | (1ull << 40),
                             .role = ROLE_TARGET, .host = "h\xc3\xb4te-1 \xe2\x82\xac \xf0\x9f\x98\x80"};
    for (int i = 0; i < STREAM_NONCE_LEN; i++)
        h.nonce[i] = (uint8_t)(i * 7 + 1);
    size_t len = rec_put_hello(b, &h);
    CHECK_U64(len, HELLO_FIXED_LEN + strlen(h.host));
    CHECK_U64(b[0], 2);
    CHECK_U64(b[8], CAP_ZERO_RUNS);
    CHECK_U64(b[13], 1); /* bit 40 of caps, little-endian */
    struct stream_hello h2;
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == 0);
    CHECK(h2.version == 2 && h2.min_version == 1 && h2.caps == h.caps && h2.role == ROLE_TARGET);
    CHECK(!memcmp(h2.nonce, h.nonce, STREAM_NONCE_LEN));
    CHECK_STR(h2.host, h.host);
    /* An empty host name is allowed; the body is then exactly the fixed part. */
    h.host[0] = 0;
    CHECK_U64(rec_put_hello(b, &h), HELLO_FIXED_LEN);
    CHECK(rec_get_hello(b, HELLO_FIXED_LEN, &h2, err, sizeof(err)) == 0 && h2.host[0] == 0);

    struct stream_error e;
    len = rec_put_error(b, MIG_ERR_REFUSED, "target has 12 MiB free, guest needs 32 MiB");
    CHECK(rec_get_error(b, len, &e, err, sizeof(err)) == 0);
    CHECK_U64(e.code, MIG_ERR_REFUSED);
    CHECK_STR(e.reason, "target has 12 MiB free, guest needs 32 MiB");
    len = rec_put_error(b, 99, "");
    CHECK_U64(len, ERROR_FIXED_LEN);
    CHECK(rec_get_error(b, len, &e, err, sizeof(err)) == 0 && e.code == 99 && !e.reason[0]);

    struct stream_round r = {.round = 3, .flags = ROUND_FINAL, .pages = 0x123456789aull}, r2;
    CHECK_U64(rec_put_round(b, &r), ROUND_LEN);
    CHECK(rec_get_round(b, ROUND_LEN, &r2, err, sizeof(err)) == 0 && r2.round == 3 && r2.pages == r.pages &&
          r2.flags == ROUND_FINAL);

    struct stream_ram ram = {.first_gfn = 0x100, .count = 2, .kind = RAM_KIND_DATA}, ram2;
    len = rec_put_ram(b, &ram);
    CHECK_U64(len, RAM_HDR_LEN + 2 * RAM_PAGE_SIZE);
    memset(b + RAM_HDR_LEN, 0xab, 2 * RAM_PAGE_SIZE);
    CHECK(rec_get_ram(b, len, &ram2, err, sizeof(err)) == 0);
    CHECK(ram2.first_gfn == 0x100 && ram2.count == 2 && ram2.kind == RAM_KIND_DATA && ram2.data == b + RAM_HDR_LEN);
    ram = (struct stream_ram){.first_gfn = 7, .count = 0xffffffffu, .kind = RAM_KIND_ZERO};
    CHECK_U64(rec_put_ram(b, &ram), RAM_HDR_LEN);
    CHECK(rec_get_ram(b, RAM_HDR_LEN, &ram2, err, sizeof(err)) == 0);
    CHECK(ram2.count == 0xffffffffu && ram2.kind == RAM_KIND_ZERO && !ram2.data);
    ram = (struct stream_ram){.first_gfn = 0, .count = RAM_MAX_DATA_PAGES, .kind = RAM_KIND_DATA};
    CHECK_U64(rec_put_ram(b, &ram), RAM_MAX_LEN);
    CHECK(rec_get_ram(b, RAM_MAX_LEN, &ram2, err, sizeof(err)) == 0);
    ram = (struct stream_ram){.first_gfn = STREAM_GFN_LIMIT - 5, .count = 5, .kind = RAM_KIND_ZERO};
    CHECK_U64(rec_put_ram(b, &ram), RAM_HDR_LEN);
    CHECK(rec_get_ram(b, RAM_HDR_LEN, &ram2, err, sizeof(err)) == 0);
    /* The encoder refuses what the decoder would refuse. */
    ram = (struct stream_ram){.count = 0};
    CHECK_U64(rec_put_ram(b, &ram), 0);
    ram = (struct stream_ram){.count = RAM_MAX_DATA_PAGES + 1, .kind = RAM_KIND_DATA};
    CHECK_U64(rec_put_ram(b, &ram), 0);
    ram = (struct stream_ram){.count = 1, .kind = 2};
    CHECK_U64(rec_put_ram(b, &ram), 0);
    ram = (struct stream_ram){.first_gfn = STREAM_GFN_LIMIT - 5, .count = 6, .kind = RAM_KIND_ZERO};
    CHECK_U64(rec_put_ram(b, &ram), 0);

    struct stream_end end = {.records = 1000, .pages = 1u << 20}, end2;
    for (int i = 0; i < STREAM_DIGEST_LEN; i++)
        end.digest[i] = (uint8_t)(0xff - i);
    CHECK_U64(rec_put_end(b, &end), END_LEN);
    CHECK(rec_get_end(b, END_LEN, &end2, err, sizeof(err)) == 0);
    CHECK(end2.records == 1000 && end2.pages == end.pages && !memcmp(end2.digest, end.digest, STREAM_DIGEST_LEN));
}

/* Encoders never write text the peer's decoder refuses. */
static void test_text_encoding(void)
{
    uint8_t b[HELLO_MAX_LEN + ERROR_MAX_LEN];
    struct stream_hello h = {.version = 1, .min_version = 1}, h2;
    /* 63 ASCII bytes then a 2-byte character: cut before it, not inside. */
    memset(h.host, 'a', 63);
    memcpy(h.host + 63, "\xc3\xa9", 2);
    size_t len = rec_put_hello(b, &h);
    CHECK_U64(len, HELLO_FIXED_LEN + 63);
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == 0 && strlen(h2.host) == 63);
    /* Controls and broken UTF-8 become '?'. */
    strcpy(h.host, "a\tb\x1b[2Jc\xff\xc3");
    len = rec_put_hello(b, &h);
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == 0);
    CHECK_STR(h2.host, "a?b?[2Jc??");
    struct stream_error e;
    char reason[400];
    memset(reason, 'x', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = 0;
    len = rec_put_error(b, MIG_ERR_INTERNAL, reason);
    CHECK_U64(len, ERROR_MAX_LEN);
    CHECK(rec_get_error(b, len, &e, err, sizeof(err)) == 0 && strlen(e.reason) == ERROR_REASON_MAX);
    len = rec_put_error(b, MIG_ERR_PROTOCOL, "line one\nline two\x7f\xc2\x85");
    CHECK(rec_get_error(b, len, &e, err, sizeof(err)) == 0);
    CHECK_STR(e.reason, "line one?line two???");
}

static struct stream_hello good_hello(void)
{
    struct stream_hello h = {.version = 1, .min_version = 1, .caps = STREAM_CAPS, .role = ROLE_SOURCE,
                             .host = "lab-a"};
    return h;
}

/* Decodes a HELLO whose host field is the raw bytes t[0..n). */
static int hello_with_host(const char *t, size_t n, struct stream_hello *out)
{
    uint8_t b[HELLO_MAX_LEN + 8];
    struct stream_hello h = good_hello();
    h.host[0] = 0;
    size_t len = rec_put_hello(b, &h);
    memcpy(b + len, t, n);
    return rec_get_hello(b, len + n, out, err, sizeof(err));
}

static void test_decode_errors(void)
{
    uint8_t b[REC_MAX_BODY];
    struct stream_hello h = good_hello(), h2;
    size_t len = rec_put_hello(b, &h);
    CHECK(rec_get_hello(b, HELLO_FIXED_LEN - 1, &h2, err, sizeof(err)) == -1);
    CHECK_STR(err, "HELLO body of 55 bytes: expected 56 to 120");
    CHECK(rec_get_hello(b, HELLO_MAX_LEN + 1, &h2, err, sizeof(err)) == -1);
    h.version = 0, h.min_version = 0;
    rec_put_hello(b, &h);
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == -1);
    CHECK_STR(err, "HELLO versions 0..0: expected 1 <= oldest <= newest");
    h.version = 1, h.min_version = 2;
    rec_put_hello(b, &h);
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == -1);
    h = good_hello();
    h.role = 2;
    rec_put_hello(b, &h);
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == -1);
    CHECK_STR(err, "HELLO role 2: expected 0 (source) or 1 (target)");
    h = good_hello();
    rec_put_hello(b, &h);
    b[HELLO_FIXED_LEN - 1] = 1; /* the last reserved byte */
    CHECK(rec_get_hello(b, len, &h2, err, sizeof(err)) == -1);
    CHECK_STR(err, "HELLO reserved bytes are not zero");

    /* Host names: printable UTF-8, optionally NUL-terminated. */
    CHECK(hello_with_host("lab\0\0\0", 6, &h2) == 0);
    CHECK_STR(h2.host, "lab");
    CHECK(hello_with_host("lab\0x", 5, &h2) == -1);
    CHECK_STR(err, "HELLO host name has bytes after its NUL terminator");
    CHECK(hello_with_host("a\nb", 3, &h2) == -1);
    CHECK_STR(err, "HELLO host name is not printable UTF-8 (byte 0x0a at 1)");
    CHECK(hello_with_host("\x1b[2J", 4, &h2) == -1);
    CHECK(hello_with_host("\x7f", 1, &h2) == -1);
    CHECK(hello_with_host("\xc0\xaf", 2, &h2) == -1);         /* overlong '/' */
    CHECK(hello_with_host("\xe0\x80\xaf", 3, &h2) == -1);     /* overlong, 3 bytes */
    CHECK(hello_with_host("\xed\xa0\x80", 3, &h2) == -1);     /* surrogate U+D800 */
    CHECK(hello_with_host("\xf4\x90\x80\x80", 4, &h2) == -1); /* U+110000 */
    CHECK(hello_with_host("\xc2\x9b", 2, &h2) == -1);         /* C1 CSI */
    CHECK(hello_with_host("ab\xc3", 3, &h2) == -1);           /* truncated */
    CHECK(hello_with_host("\xc3(", 2, &h2) == -1);            /* bad continuation */
    CHECK(hello_with_host("\xf8\x88\x80\x80\x80", 5, &h2) == -1);
    CHECK(hello_with_host("\xc2\xa0\xef\xbf\xbd\xf4\x8f\xbf\xbf", 9, &h2) == 0); /* NBSP, U+FFFD, U+10FFFF */

    struct stream_error e;
    CHECK(rec_get_error(b, 3, &e, err, sizeof(err)) == -1);
    CHECK_STR(err, "ERROR body of 3 bytes: expected 4 to 204");
    CHECK(rec_get_error(b, ERROR_MAX_LEN + 1, &e, err, sizeof(err)) == -1);
    memcpy(b, "\x01\0\0\0wrong password\0", 20);
    CHECK(rec_get_error(b, 20, &e, err, sizeof(err)) == 0);
    CHECK_STR(e.reason, "wrong password");
    memcpy(b, "\x01\0\0\0bell\a", 9);
    CHECK(rec_get_error(b, 9, &e, err, sizeof(err)) == -1);
    CHECK_STR(err, "ERROR reason is not printable UTF-8 (byte 0x07 at 4)");

    struct stream_round r = {.round = 1, .pages = 2};
    rec_put_round(b, &r);
    CHECK(rec_get_round(b, ROUND_LEN - 1, &r, err, sizeof(err)) == -1);
    CHECK_STR(err, "ROUND body of 15 bytes: expected 16");
    b[5] = 1;
    CHECK(rec_get_round(b, ROUND_LEN, &r, err, sizeof(err)) == -1);
    CHECK_STR(err, "ROUND flags 0x100 include bits this host does not know");

    struct stream_ram ram;
    CHECK(rec_get_ram(b, 9, &ram, err, sizeof(err)) == -1);
    CHECK_STR(err, "RAM body of 9 bytes: expected 16 + 4096 x count");
    /* Raw headers: gfn, count, kind. */
    static const struct {
        uint64_t gfn;
        uint32_t count, kind;
        size_t len;
        const char *why;
    } bad_ram[] = {
        {0, 0, RAM_KIND_DATA, RAM_HDR_LEN, "RAM gfn 0x0 count 0 kind 0: count 0"},
        {0, 0, RAM_KIND_ZERO, RAM_HDR_LEN, "RAM gfn 0x0 count 0 kind 1: count 0"},
        {0, 1, 2, RAM_HDR_LEN, "RAM gfn 0x0 count 1 kind 2: unknown kind"},
        {0, 257, RAM_KIND_DATA, RAM_HDR_LEN + 257 * RAM_PAGE_SIZE,
         "RAM gfn 0x0 count 257 kind 0: more than 256 data pages"},
        {~0ull, 1, RAM_KIND_ZERO, RAM_HDR_LEN,
         "RAM gfn 0xffffffffffffffff count 1 kind 1: frames past the 52-bit physical address space"},
        {STREAM_GFN_LIMIT - 1, 2, RAM_KIND_ZERO, RAM_HDR_LEN,
         "RAM gfn 0xffffffffff count 2 kind 1: frames past the 52-bit physical address space"},
        {1, 0xffffffffu, RAM_KIND_ZERO, RAM_HDR_LEN, NULL}, /* fits below the limit */
        {0, 2, RAM_KIND_DATA, RAM_HDR_LEN + RAM_PAGE_SIZE, "RAM data of 2 pages in a body of 4112 bytes: expected 8208"},
        {0, 1, RAM_KIND_DATA, RAM_HDR_LEN, "RAM data of 1 pages in a body of 16 bytes: expected 4112"},
        {0, 1, RAM_KIND_ZERO, RAM_HDR_LEN + RAM_PAGE_SIZE,
         "RAM zero run of 1 pages in a body of 4112 bytes: expected 16"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_ram); i++) {
        memset(b, 0, RAM_HDR_LEN);
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(bad_ram[i].gfn >> (8 * k));
        for (int k = 0; k < 4; k++) {
            b[8 + k] = (uint8_t)(bad_ram[i].count >> (8 * k));
            b[12 + k] = (uint8_t)(bad_ram[i].kind >> (8 * k));
        }
        int rc = rec_get_ram(b, bad_ram[i].len, &ram, err, sizeof(err));
        if (bad_ram[i].why) {
            CHECK(rc == -1);
            CHECK_STR(err, bad_ram[i].why);
        } else
            CHECK(rc == 0);
    }
    CHECK(rec_get_end(b, END_LEN + 1, &(struct stream_end){0}, err, sizeof(err)) == -1);
    CHECK_STR(err, "END body of 49 bytes: expected 48");
}

static void test_negotiate(void)
{
    struct stream_hello a = good_hello(), b = good_hello();
    uint32_t v = 0;
    uint64_t caps = 0;
    b.role = ROLE_TARGET;
    b.caps = CAP_ZERO_RUNS | (1ull << 63);
    CHECK(stream_negotiate(&a, &b, &v, &caps, err, sizeof(err)) == 0 && v == 1 && caps == CAP_ZERO_RUNS);
    /* A newer peer that still reads version 1: version 1. */
    b.version = 2;
    CHECK(stream_negotiate(&a, &b, &v, &caps, err, sizeof(err)) == 0 && v == 1);
    CHECK(stream_negotiate(&b, &a, &v, &caps, err, sizeof(err)) == 0 && v == 1);
    /* Both read 2: version 2. */
    a.version = 3, a.min_version = 2;
    CHECK(stream_negotiate(&a, &b, &v, &caps, err, sizeof(err)) == 0 && v == 2);
    /* This host reads 3..4, the peer writes at most 2. */
    a.version = 4, a.min_version = 3;
    CHECK(stream_negotiate(&a, &b, &v, &caps, err, sizeof(err)) == -1);
    CHECK_STR(err, "stream version 2 not supported (this host reads 3..4)");
    CHECK(stream_negotiate(&b, &a, &v, &caps, err, sizeof(err)) == -1);
    CHECK_STR(err, "stream version 2 not supported by the peer (it reads 3..4)");
}

/* One record as the reader returned it. */
struct seen { /* no padding bytes, so memcmp compares only fields */
    uint64_t offset;
    uint32_t type, len, sum, flags;
};
#define SEEN_OPTIONAL 1u
#define SEEN_SKIP 2u
#define SEEN(r, sum)                                                                                   \
    ((struct seen){(r)->rec_offset, (r)->type, (r)->len, (sum),                                        \
                   ((r)->optional ? SEEN_OPTIONAL : 0) | ((r)->skip ? SEEN_SKIP : 0)})

static uint32_t body_sum(const uint8_t *p, uint32_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Feeds s[0..n) in chunks: chunk 0 all at once, 1 byte by byte, else
 * random sizes up to chunk. Returns the records; *st the final status. */
static size_t read_all(const uint8_t *s, size_t n, size_t chunk, struct seen *out, size_t max,
                       enum rec_status *st, struct rec_reader *r)
{
    rec_reader_init(r, body_buf, sizeof(body_buf));
    size_t k = 0, off = 0;
    *st = REC_MORE;
    while (off < n) {
        size_t c = chunk == 0 ? n - off : chunk == 1 ? 1 : 1 + xorshift() % chunk;
        c = MIN(c, n - off);
        size_t pos = 0;
        while (pos < c) {
            size_t used;
            *st = rec_reader_feed(r, s + off + pos, c - pos, &used);
            pos += used;
            if (*st == REC_BAD)
                return k;
            if (*st == REC_READY && k < max)
                out[k++] = SEEN(r, body_sum(r->body, r->len));
            if (*st == REC_MORE && pos != c) {
                CHECK(!"REC_MORE left input unused");
                return k;
            }
        }
        off += c;
    }
    return k;
}

static size_t build_stream(uint8_t *s)
{
    uint8_t b[RAM_MAX_LEN];
    size_t o = 0;
    struct stream_hello h = good_hello();
    o += emit(s + o, REC_HELLO, b, (uint32_t)rec_put_hello(b, &h));
    memset(b, 0x5a, AUTH_LEN);
    o += emit(s + o, REC_AUTH, b, AUTH_LEN);
    for (uint32_t i = 0; i < 45; i++)
        b[i] = (uint8_t)(i * 3);
    o += emit(s + o, REC_VM_DEF, b, 45);
    o += emit(s + o, REC_ACCEPT, NULL, 0);
    o += emit(s + o, REC_ROUND, b, (uint32_t)rec_put_round(b, &(struct stream_round){0, 0, 300}));
    struct stream_ram ram = {.first_gfn = 0, .count = 3, .kind = RAM_KIND_DATA};
    size_t len = rec_put_ram(b, &ram);
    for (size_t i = RAM_HDR_LEN; i < len; i++)
        b[i] = (uint8_t)(i * 13 + 1);
    o += emit(s + o, REC_RAM, b, (uint32_t)len);
    ram = (struct stream_ram){.first_gfn = 3, .count = 297, .kind = RAM_KIND_ZERO};
    o += emit(s + o, REC_RAM, b, (uint32_t)rec_put_ram(b, &ram));
    /* A newer peer's optional record, then a known one marked optional. */
    memset(b, 0x77, 13);
    o += emit(s + o, 0x7ff | REC_OPTIONAL, b, 13);
    o += emit(s + o, REC_DEVICE | REC_OPTIONAL, b, 41);
    ram = (struct stream_ram){.first_gfn = 1000, .count = RAM_MAX_DATA_PAGES, .kind = RAM_KIND_DATA};
    len = rec_put_ram(b, &ram);
    for (size_t i = RAM_HDR_LEN; i < len; i++)
        b[i] = (uint8_t)(i >> 5);
    o += emit(s + o, REC_RAM, b, (uint32_t)len);
    o += emit(s + o, REC_VCPU, b, 100);
    o += emit(s + o, REC_END, b, (uint32_t)rec_put_end(b, &(struct stream_end){.records = 9, .pages = 556}));
    o += emit(s + o, REC_COMMIT, NULL, 0);
    return o;
}

#define NREC 13
static void test_reader_chunking(void)
{
    static struct seen ref[NREC + 1], got[NREC + 1];
    struct rec_reader r;
    enum rec_status st;
    size_t n = build_stream(stream);
    CHECK_U64(n % REC_ALIGN, 0);
    size_t k = read_all(stream, n, 0, ref, NREC + 1, &st, &r);
    CHECK_U64(k, NREC);
    CHECK(st == REC_READY && !rec_reader_mid_record(&r));
    CHECK_U64(r.offset, n);
    CHECK(ref[0].type == REC_HELLO && ref[0].offset == 0 && !ref[0].flags);
    CHECK(ref[2].type == REC_VM_DEF && ref[2].len == 45);
    CHECK(ref[3].type == REC_ACCEPT && ref[3].len == 0);
    CHECK(ref[7].type == 0x7ff && ref[7].flags == (SEEN_OPTIONAL | SEEN_SKIP) && ref[7].len == 13);
    CHECK(ref[8].type == REC_DEVICE && ref[8].flags == SEEN_OPTIONAL);
    CHECK(ref[9].type == REC_RAM && ref[9].len == RAM_MAX_LEN);
    CHECK(ref[12].type == REC_COMMIT && ref[12].offset == n - REC_HDR_LEN);
    size_t chunks[] = {1, 2, 3, 7, 8, 9, 100, 4097, 70000};
    for (size_t c = 0; c < ARRAY_SIZE(chunks); c++)
        for (int rep = 0; rep < (chunks[c] == 1 ? 1 : 5); rep++) {
            memset(got, 0, sizeof(got));
            k = read_all(stream, n, chunks[c], got, NREC + 1, &st, &r);
            CHECK_U64(k, NREC);
            CHECK(st == REC_READY && !memcmp(got, ref, sizeof(ref)));
        }
    /* Truncated anywhere: no error, but the reader knows a record is open. */
    for (size_t cut = 1; cut < 400; cut++) {
        read_all(stream, cut, 0, got, NREC + 1, &st, &r);
        CHECK(st != REC_BAD);
        bool boundary = false;
        for (size_t i = 0; i < NREC; i++)
            boundary |= ref[i].offset == cut;
        CHECK(rec_reader_mid_record(&r) == !boundary);
    }
    /* Two records in one feed: the first READY stops right after it. */
    size_t used;
    rec_reader_init(&r, body_buf, sizeof(body_buf));
    CHECK(rec_reader_feed(&r, stream, n, &used) == REC_READY);
    CHECK_U64(used, HELLO_FIXED_LEN + strlen("lab-a") + rec_pad(HELLO_FIXED_LEN + 5) + REC_HDR_LEN);
    CHECK(rec_reader_feed(&r, stream + used, 0, &used) == REC_MORE && used == 0);
}

/* Feeds s all at once and expects REC_BAD with this reason. */
static void expect_bad(const uint8_t *s, size_t n, const char *why)
{
    struct rec_reader r;
    size_t used;
    rec_reader_init(&r, body_buf, sizeof(body_buf));
    enum rec_status st = rec_reader_feed(&r, s, n, &used);
    CHECK(st == REC_BAD);
    CHECK_STR(r.error, why);
    /* Sticky: nothing more is read. */
    CHECK(rec_reader_feed(&r, s, n, &used) == REC_BAD && used == 0);
    CHECK(!rec_reader_mid_record(&r));
}

static void test_reader_errors(void)
{
    uint8_t s[64] = {0};
    rec_put_hdr(s, REC_RAM, 9);
    expect_bad(s, REC_HDR_LEN, "record 0x21 (RAM) body of 9 bytes: expected 16 + 4096 x count");
    rec_put_hdr(s, REC_RAM, RAM_HDR_LEN + 4095);
    expect_bad(s, REC_HDR_LEN, "record 0x21 (RAM) body of 4111 bytes: expected 16 + 4096 x count");
    rec_put_hdr(s, REC_RAM | REC_OPTIONAL, RAM_HDR_LEN + 257 * RAM_PAGE_SIZE);
    expect_bad(s, REC_HDR_LEN, "record 0x21 (RAM) body length 1052688 over the 1 MiB + 64 limit");
    rec_put_hdr(s, REC_RAM, RAM_MAX_LEN + 32); /* under the limit, not whole pages */
    expect_bad(s, REC_HDR_LEN, "record 0x21 (RAM) body of 1048624 bytes: expected 16 + 4096 x count");
    rec_put_hdr(s, REC_VM_DEF, 3000000);
    expect_bad(s, REC_HDR_LEN, "record 0x10 (VM_DEF) body length 3000000 over the 1 MiB + 64 limit");
    rec_put_hdr(s, 0x123 | REC_OPTIONAL, REC_MAX_BODY + 1);
    expect_bad(s, REC_HDR_LEN, "record 0x123 (UNKNOWN) body length 1048641 over the 1 MiB + 64 limit");
    rec_put_hdr(s, 0x55, 0);
    expect_bad(s, REC_HDR_LEN, "unknown mandatory record type 0x55; the peer is newer: upgrade this host");
    rec_put_hdr(s, 0, 0);
    expect_bad(s, REC_HDR_LEN, "unknown mandatory record type 0x00; the peer is newer: upgrade this host");
    rec_put_hdr(s, REC_AUTH, 31);
    expect_bad(s, REC_HDR_LEN, "record 0x02 (AUTH) body of 31 bytes: expected 32");
    rec_put_hdr(s, REC_HELLO, 121);
    expect_bad(s, REC_HDR_LEN, "record 0x01 (HELLO) body of 121 bytes: expected 56 to 120");
    rec_put_hdr(s, REC_VCPU, 39);
    expect_bad(s, REC_HDR_LEN, "record 0x30 (VCPU) body of 39 bytes: expected at least 40");
    rec_put_hdr(s, REC_COMMIT, 8);
    expect_bad(s, REC_HDR_LEN, "record 0x41 (COMMIT) body of 8 bytes: expected 0");
    /* Padding must be zero, in every position. */
    for (int at = 0; at < 3; at++) {
        memset(s, 0, sizeof(s));
        rec_put_hdr(s, REC_ERROR, 5);
        s[REC_HDR_LEN + 5 + at] = 0x80;
        expect_bad(s, REC_HDR_LEN + 8, "non-zero padding after record 0x03 (ERROR)");
    }
    /* ...however it arrives. */
    struct rec_reader r;
    size_t used;
    rec_reader_init(&r, body_buf, sizeof(body_buf));
    enum rec_status st = REC_MORE;
    for (size_t i = 0; i < REC_HDR_LEN + 8 && st == REC_MORE; i++)
        st = rec_reader_feed(&r, s + i, 1, &used);
    CHECK(st == REC_BAD);
    CHECK_U64(r.offset, REC_HDR_LEN + 5 + 2 + 1);

    /* Direction: a source never sends ACCEPT; a target never sends RAM. */
    rec_reader_init(&r, body_buf, sizeof(body_buf));
    rec_reader_set_peer(&r, ROLE_SOURCE);
    rec_put_hdr(s, REC_ACCEPT, 0);
    CHECK(rec_reader_feed(&r, s, REC_HDR_LEN, &used) == REC_BAD);
    CHECK_STR(r.error, "record 0x11 (ACCEPT) from the source, which never sends it");
    rec_reader_init(&r, body_buf, sizeof(body_buf));
    rec_reader_set_peer(&r, ROLE_TARGET);
    CHECK(rec_reader_feed(&r, s, REC_HDR_LEN, &used) == REC_READY);
    rec_put_hdr(s, REC_ROUND, ROUND_LEN);
    CHECK(rec_reader_feed(&r, s, REC_HDR_LEN, &used) == REC_BAD);
    CHECK_STR(r.error, "record 0x20 (ROUND) from the target, which never sends it");
    /* A small buffer (before authentication) refuses long records early. */
    uint8_t small[HELLO_MAX_LEN];
    rec_reader_init(&r, small, sizeof(small));
    rec_put_hdr(s, REC_VM_DEF, 4000);
    CHECK(rec_reader_feed(&r, s, REC_HDR_LEN, &used) == REC_BAD);
    CHECK_STR(r.error, "record 0x10 (VM_DEF) body length 4000 over this reader's limit of 120 bytes");
    /* No buffer at all: empty records still work. */
    rec_reader_init(&r, NULL, 0);
    rec_put_hdr(s, REC_COMMIT_READY, 0);
    CHECK(rec_reader_feed(&r, s, REC_HDR_LEN, &used) == REC_READY && r.len == 0);
    CHECK(rec_reader_feed(&r, NULL, 0, &used) == REC_MORE && used == 0);
}

int main(void)
{
    test_basics();
    test_round_trips();
    test_text_encoding();
    test_decode_errors();
    test_negotiate();
    test_reader_chunking();
    test_reader_errors();
    return check_report("test_stream");
}
