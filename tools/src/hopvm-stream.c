/* hopvm-stream: inspect teleport streams on Linux, like QEMU's
 * analyze-migration.py. It reads with hopvm's own reader and decoders
 * (migrate/stream.c), so it refuses exactly what hopvm would.
 *   hopvm-stream dump FILE   one line per record, then a summary
 * FILE is a saved guest (docs/migration-protocol.md: the magic, then
 * records) or a capture of one direction of a teleport. A sealed file
 * (SEAL first) shows its records' types and lengths only. Exit status 0 if
 * the whole file parsed, 1 with one error line naming the offset if not. */
#define _POSIX_C_SOURCE 200809L
#include <hopvm/mig_seal.h>
#include <hopvm/stream.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (64 * 1024)

static uint8_t body_buf[REC_MAX_BODY];
static uint8_t chunk[CHUNK];

struct totals {
    uint64_t records, data_pages, zero_pages;
};

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

/* The decoded fields of one record, after its offset, name and length.
 * Returns 0, or -1 with the decoder's reason in err. */
static bool sealed; /* after a SEAL record: the bodies are ciphertext */

static int print_fields(struct rec_reader *r, struct totals *t, char *err, size_t n)
{
    if (sealed) {
        printf("  (sealed)");
        return 0;
    }
    if (r->skip) {
        printf("  type 0x%x (unknown optional record: skipped)", r->type);
        return 0;
    }
    switch (r->type) {
    case REC_HELLO: {
        struct stream_hello h;
        if (rec_get_hello(r->body, r->len, &h, err, n))
            return -1;
        printf("  version %u..%u caps 0x%llx role %s host \"%s\"", h.min_version, h.version,
               (unsigned long long)h.caps, h.role == ROLE_SOURCE ? "source" : "target", h.host);
        break;
    }
    case REC_SEAL: {
        uint32_t rounds = r->body[0] | r->body[1] << 8 | r->body[2] << 16 | (uint32_t)r->body[3] << 24;
        printf("  sealed with a password: PBKDF2-HMAC-SHA256 %u rounds, salt ", rounds);
        print_hex(r->body + 8, 32);
        printf("; every later record ChaCha20-Poly1305");
        sealed = true;
        rec_reader_set_overhead(r, SEAL_TAG_LEN);
        break;
    }
    case REC_AUTH:
        printf("  proof ");
        print_hex(r->body, r->len);
        break;
    case REC_ERROR: {
        struct stream_error e;
        if (rec_get_error(r->body, r->len, &e, err, n))
            return -1;
        printf("  code %u (%s) \"%s\"", e.code, mig_err_name(e.code), e.reason);
        break;
    }
    case REC_ROUND: {
        struct stream_round rd;
        if (rec_get_round(r->body, r->len, &rd, err, n))
            return -1;
        printf("  round %u pages %llu%s", rd.round, (unsigned long long)rd.pages,
               rd.flags & ROUND_FINAL ? " final (guest paused)" : "");
        break;
    }
    case REC_RAM: {
        struct stream_ram ram;
        if (rec_get_ram(r->body, r->len, &ram, err, n))
            return -1;
        printf("  gfn 0x%llx count %u %s", (unsigned long long)ram.first_gfn, ram.count,
               ram.kind == RAM_KIND_DATA ? "data" : "zero");
        if (ram.kind == RAM_KIND_DATA)
            t->data_pages += ram.count;
        else
            t->zero_pages += ram.count;
        break;
    }
    case REC_END: {
        struct stream_end e;
        if (rec_get_end(r->body, r->len, &e, err, n))
            return -1;
        printf("  records %llu pages %llu digest ", (unsigned long long)e.records, (unsigned long long)e.pages);
        print_hex(e.digest, STREAM_DIGEST_LEN);
        break;
    }
    default: /* VM_DEF, VCPU, DEVICE (device trees) and the empty records */
        break;
    }
    return 0;
}

static int dump(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hopvm-stream: %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t magic[STREAM_MAGIC_LEN];
    if (fread(magic, 1, sizeof(magic), f) != sizeof(magic) || !stream_magic_ok(magic)) {
        fprintf(stderr, "hopvm-stream: %s: offset 0x0: not a hopvm stream (no \"%s\" magic)\n", path,
                STREAM_MAGIC);
        fclose(f);
        return 1;
    }
    struct rec_reader r;
    struct totals t = {0};
    char err[REC_ERR_LEN];
    rec_reader_init(&r, body_buf, sizeof(body_buf));
    printf("%-10s  %-12s %-3s %8s\n", "offset", "record", "opt", "length");
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        for (size_t pos = 0; pos < got;) {
            size_t used;
            enum rec_status st = rec_reader_feed(&r, chunk + pos, got - pos, &used);
            pos += used;
            /* Offsets count from the start of the file, magic included. */
            unsigned long long at = (unsigned long long)r.rec_offset + STREAM_MAGIC_LEN;
            if (st == REC_BAD) {
                fprintf(stderr, "hopvm-stream: %s: offset 0x%llx: %s\n", path, at, r.error);
                fclose(f);
                return 1;
            }
            if (st != REC_READY)
                continue;
            t.records++;
            printf("0x%08llx  %-12s %-3s %8u", at, r.skip ? "?" : rec_name(r.type), r.optional ? "opt" : "-",
                   r.len);
            int rc = print_fields(&r, &t, err, sizeof(err));
            printf("\n");
            if (rc) {
                fflush(stdout);
                fprintf(stderr, "hopvm-stream: %s: offset 0x%llx: %s\n", path, at, err);
                fclose(f);
                return 1;
            }
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "hopvm-stream: %s: read error\n", path);
        return 1;
    }
    unsigned long long size = (unsigned long long)r.offset + STREAM_MAGIC_LEN;
    if (rec_reader_mid_record(&r)) {
        unsigned long long at = (unsigned long long)r.rec_offset + STREAM_MAGIC_LEN, have = size - at;
        /* With its whole header read, the reader's type and length are this record's. */
        if (have >= REC_HDR_LEN)
            fprintf(stderr, "hopvm-stream: %s: offset 0x%llx: truncated: the file ends %llu bytes into a %s "
                    "record of %zu bytes\n", path, at, have, rec_name(r.type), REC_HDR_LEN + r.len + rec_pad(r.len));
        else
            fprintf(stderr, "hopvm-stream: %s: offset 0x%llx: truncated: the file ends inside a record header\n",
                    path, at);
        return 1;
    }
    printf("%llu records, %llu data pages, %llu zero pages, %llu bytes\n", (unsigned long long)t.records,
           (unsigned long long)t.data_pages, (unsigned long long)t.zero_pages, size);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "dump"))
        return dump(argv[2]);
    fprintf(stderr, "usage: hopvm-stream dump FILE\n");
    return 2;
}
