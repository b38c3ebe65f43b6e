/* A guest in a host tool's memory and its saved-guest file
 * (guest_image.h). The file is the teleport stream minus the handshake:
 * the records a source sends, in the order it sends them, and an END whose
 * digest is plain SHA-256 of every record before it (headers, bodies and
 * padding, as migrate/session.c's mig_digest_record hashes them). A file is
 * untrusted input: reading it applies the rules migrate/target.c applies
 * to a stream, then the counts and the digest. Saved with a password, the
 * file begins with a SEAL record (the key's salt and PBKDF2 rounds) and
 * every record after it is sealed as a version-2 stream seals them
 * (migrate/seal.c), so the guest's memory is unreadable without the
 * password and any change to the file fails to open. */
#define _DEFAULT_SOURCE
#include "guest_image.h"
#include <hopvm/mig_auth.h>
#include <hopvm/mig_seal.h>
#include <hopvm/mig_session.h>
#include <hopvm/stream.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK  (64 * 1024)
#define FILE_MODE   0600      /* guest RAM may hold the guest's secrets */
#define TMP_SUFFIX  ".tmp"
#define REASON_MAX  256

/* One record on its way out: header, then the body, 8-byte aligned (the
 * FDT encoders need it), then room for the padding. */
static _Alignas(8) uint8_t rec_buf[REC_HDR_LEN + REC_MAX_BODY + SEAL_TAG_LEN + REC_ALIGN];
/* One record on its way in (the reader keeps bodies here, aligned too). */
static _Alignas(8) uint8_t body_buf[REC_MAX_BODY];
static uint8_t chunk[READ_CHUNK];

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static const uint8_t *page(const struct guest_image *g, uint64_t gfn) { return g->ram + gfn * RAM_PAGE_SIZE; }

static bool page_is_zero(const uint8_t *p) { return p[0] == 0 && !memcmp(p, p + 1, RAM_PAGE_SIZE - 1); }

int guest_image_alloc(struct guest_image *g, const struct mig_vmdef *d, char *err, size_t n)
{
    memset(g, 0, sizeof(*g));
    g->def = *d;
    /* calloc: untouched pages cost nothing until a RAM record fills them. */
    if (!(g->ram = calloc(1, (size_t)d->memory)))
        return fail(err, n, "cannot allocate %llu MiB for the guest's RAM", (unsigned long long)(d->memory >> 20));
    return 0;
}

void guest_image_free(struct guest_image *g)
{
    free(g->ram);
    g->ram = NULL;
}

int guest_image_add_device(struct guest_image *g, const struct mig_dev *d, char *err, size_t n)
{
    if (g->ndev >= GUEST_DEV_MAX)
        return fail(err, n, "more than %d DEVICE records besides the UART's (%s %u is one too many)", GUEST_DEV_MAX,
                    d->type, d->instance);
    g->dev[g->ndev++] = *d;
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

struct writer {
    int fd;
    const char *tmp;
    struct mig_digest digest;
    bool sealed;
    const char *password;
    struct mig_seal seal;
    struct guest_file_info *info;
    char *err;
    size_t n;
};

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes the record whose body (len bytes) is already in rec_buf after the
 * header; every record but END goes into the digest and the count. */
static int put(struct writer *w, uint32_t type, size_t len)
{
    size_t pad = rec_pad((uint32_t)len), total = REC_HDR_LEN + len + pad;
    rec_put_hdr(rec_buf, type, (uint32_t)len);
    memset(rec_buf + REC_HDR_LEN + len, 0, pad);
    if (type != REC_END) { /* the digest is of the plain records, sealed or not */
        mig_digest_update(&w->digest, rec_buf, total);
        w->info->records++;
    }
    if (w->sealed) {
        size_t sealed = len + SEAL_TAG_LEN;
        pad = rec_pad((uint32_t)sealed), total = REC_HDR_LEN + sealed + pad;
        rec_put_hdr(rec_buf, type, (uint32_t)sealed);
        mig_seal(&w->seal, rec_buf, REC_HDR_LEN, rec_buf + REC_HDR_LEN, len, rec_buf + REC_HDR_LEN + len);
        memset(rec_buf + REC_HDR_LEN + sealed, 0, pad);
    }
    if (write_all(w->fd, rec_buf, total) != 0)
        return fail(w->err, w->n, "%s: %s", w->tmp, strerror(errno));
    w->info->bytes += total;
    return 0;
}

/* Round 0 as a source sends it: every page once, in order, zero pages as
 * runs and the rest as data records of up to RAM_MAX_DATA_PAGES pages. */
static int put_ram(struct writer *w, const struct guest_image *g)
{
    uint64_t total = g->def.memory / RAM_PAGE_SIZE;
    uint8_t *body = rec_buf + REC_HDR_LEN;
    for (uint64_t gfn = 0; gfn < total;) {
        struct stream_ram r = {.first_gfn = gfn};
        if (page_is_zero(page(g, gfn))) {
            while (gfn < total && r.count < UINT32_MAX && page_is_zero(page(g, gfn)))
                gfn++, r.count++;
            r.kind = RAM_KIND_ZERO;
            w->info->zero_pages += r.count;
        } else {
            while (gfn < total && r.count < RAM_MAX_DATA_PAGES && !page_is_zero(page(g, gfn))) {
                memcpy(body + RAM_HDR_LEN + (size_t)r.count * RAM_PAGE_SIZE, page(g, gfn), RAM_PAGE_SIZE);
                gfn++, r.count++;
            }
            r.kind = RAM_KIND_DATA;
            w->info->data_pages += r.count;
        }
        if (put(w, REC_RAM, rec_put_ram(body, &r)) != 0)
            return -1;
    }
    return 0;
}

static int put_records(struct writer *w, const struct guest_image *g)
{
    uint8_t *body = rec_buf + REC_HDR_LEN;
    size_t len;
    if (write_all(w->fd, (const uint8_t *)STREAM_MAGIC, STREAM_MAGIC_LEN) != 0)
        return fail(w->err, w->n, "%s: %s", w->tmp, strerror(errno));
    w->info->bytes = STREAM_MAGIC_LEN;
    if (w->sealed) { /* SEAL first, plain: how to derive the key from the password */
        uint8_t *b = rec_buf + REC_HDR_LEN, salt[SEAL_SALT_LEN], key[SEAL_KEY_LEN];
        if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
            return fail(w->err, w->n, "getrandom: %s", strerror(errno));
        uint32_t rounds = MIG_KDF_ITERATIONS;
        memset(b, 0, SEAL_REC_LEN);
        for (int i = 0; i < 4; i++)
            b[i] = (uint8_t)(rounds >> (8 * i));
        memcpy(b + 8, salt, sizeof(salt));
        rec_put_hdr(rec_buf, REC_SEAL, SEAL_REC_LEN);
        if (write_all(w->fd, rec_buf, REC_HDR_LEN + SEAL_REC_LEN) != 0)
            return fail(w->err, w->n, "%s: %s", w->tmp, strerror(errno));
        w->info->bytes += REC_HDR_LEN + SEAL_REC_LEN;
        mig_seal_file_key(w->password, salt, rounds, key);
        mig_seal_init(&w->seal, key);
        memset(key, 0, sizeof(key));
    }
    if (mig_vmdef_encode(&g->def, body, REC_MAX_BODY, &len) != 0)
        return fail(w->err, w->n, "cannot encode the VM_DEF record");
    if (put(w, REC_VM_DEF, len) != 0)
        return -1;
    struct stream_round round = {.round = 0, .pages = g->def.memory / RAM_PAGE_SIZE};
    if (put(w, REC_ROUND, rec_put_round(body, &round)) != 0 || put_ram(w, g) != 0)
        return -1;
    for (uint32_t i = 0; i < g->def.vcpus; i++) {
        if (mig_vcpu_encode(&g->vcpu[i], body, REC_MAX_BODY, &len) != 0)
            return fail(w->err, w->n, "cannot encode the VCPU record of vCPU %u", i);
        if (put(w, REC_VCPU, len) != 0)
            return -1;
    }
    if (mig_uart_encode(&g->uart, body, REC_MAX_BODY, &len) != 0)
        return fail(w->err, w->n, "cannot encode the DEVICE record");
    if (put(w, REC_DEVICE, len) != 0)
        return -1;
    for (unsigned i = 0; i < g->ndev; i++) { /* the other devices, as a source sends them: after the UART */
        if (mig_dev_encode(&g->dev[i], body, REC_MAX_BODY, &len) != 0)
            return fail(w->err, w->n, "cannot encode the DEVICE record of %s %u", g->dev[i].type, g->dev[i].instance);
        if (put(w, REC_DEVICE, len) != 0)
            return -1;
    }
    struct stream_end end = {.records = w->info->records, .pages = w->info->data_pages + w->info->zero_pages};
    mig_digest_final(&w->digest, end.digest);
    return put(w, REC_END, rec_put_end(body, &end));
}

static int tmp_path(const char *path, char *tmp, size_t size, char *err, size_t n)
{
    if ((size_t)snprintf(tmp, size, "%s%s", path, TMP_SUFFIX) >= size)
        return fail(err, n, "%s: path too long", path);
    return 0;
}

/* Makes a rename durable: it lives in the directory, which has its own
 * data to sync. */
static int sync_dir(const char *path, char *err, size_t n)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, n, "cannot sync directory %s: %s", dir, strerror(e));
    }
    close(fd);
    return 0;
}

int guest_image_save(const struct guest_image *g, const char *path, const char *password,
                     struct guest_file_info *info, char *err, size_t n)
{
    char tmp[PATH_MAX];
    struct guest_file_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof(*info));
    if (tmp_path(path, tmp, sizeof(tmp), err, n) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return fail(err, n, "%s: %s", tmp, strerror(errno));
    struct writer w = {.fd = fd, .tmp = tmp, .info = info, .err = err, .n = n,
                       .sealed = password && password[0], .password = password};
    mig_digest_init(&w.digest, NULL);
    int rc = put_records(&w, g);
    /* On disk before anyone is told the guest is safe in it. */
    if (rc == 0 && fsync(fd) != 0)
        rc = fail(err, n, "%s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = fail(err, n, "%s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fail(err, n, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    if (sync_dir(path, err, n) != 0) {
        unlink(path); /* not known to be durable: not a saved guest either */
        return -1;
    }
    return 0;
}

int guest_image_check_writable(const char *path, char *err, size_t n)
{
    char tmp[PATH_MAX];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return fail(err, n, "%s is a directory", path);
    if (tmp_path(path, tmp, sizeof(tmp), err, n) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, FILE_MODE);
    if (fd < 0)
        return fail(err, n, "cannot create %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

struct loader {
    struct guest_image *g;
    struct guest_file_info *info;
    struct mig_digest digest;
    uint64_t ram_pages, next_gfn, pages;
    uint32_t round;             /* the current ROUND */
    uint32_t vcpus_seen;
    bool have_def, round_begun, uart_done, ended;
    bool vcpu_seen[CFG_MAX_VCPUS];
    const char *password;       /* for a sealed file */
    bool sealed;
    struct mig_seal seal;
    char *why;                  /* REASON_MAX bytes */
};

#define WHY(l, ...) fail((l)->why, REASON_MAX, __VA_ARGS__)

/* As migrate/session.c's mig_digest_record: header, body, padding. */
static void digest_record(struct loader *l, const struct rec_reader *r)
{
    static const uint8_t zeros[REC_ALIGN];
    uint8_t hdr[REC_HDR_LEN];
    rec_put_hdr(hdr, r->type | (r->optional ? REC_OPTIONAL : 0), r->len);
    mig_digest_update(&l->digest, hdr, sizeof(hdr));
    mig_digest_update(&l->digest, r->body, r->len);
    mig_digest_update(&l->digest, zeros, rec_pad(r->len));
    l->info->records++;
}

static int load_def(struct loader *l, const struct rec_reader *r)
{
    struct mig_vmdef d;
    if (mig_vmdef_decode(r->body, r->len, &d, l->why, REASON_MAX) != 0)
        return -1;
    if (guest_image_alloc(l->g, &d, l->why, REASON_MAX) != 0)
        return -1;
    l->ram_pages = d.memory / RAM_PAGE_SIZE;
    l->have_def = true;
    return 0;
}

static int load_round(struct loader *l, const struct rec_reader *r)
{
    struct stream_round rd;
    if (rec_get_round(r->body, r->len, &rd, l->why, REASON_MAX) != 0)
        return -1;
    if (!l->round_begun && rd.round != 0)
        return WHY(l, "the first ROUND is round %u, not 0", rd.round);
    if (!l->round_begun && rd.pages != l->ram_pages)
        return WHY(l, "ROUND 0 announces %llu pages for a guest of %llu", (unsigned long long)rd.pages,
                   (unsigned long long)l->ram_pages);
    if (l->round_begun && rd.round <= l->round)
        return WHY(l, "ROUND %u after round %u", rd.round, l->round);
    if (l->round_begun && l->next_gfn != l->ram_pages)
        return WHY(l, "ROUND %u before round 0 described every page (%llu of %llu)", rd.round,
                   (unsigned long long)l->next_gfn, (unsigned long long)l->ram_pages);
    l->round = rd.round;
    l->round_begun = true;
    return 0;
}

static int load_ram(struct loader *l, const struct rec_reader *r)
{
    struct stream_ram ram;
    if (rec_get_ram(r->body, r->len, &ram, l->why, REASON_MAX) != 0)
        return -1;
    if (!l->round_begun)
        return WHY(l, "a RAM record before ROUND");
    if (ram.first_gfn >= l->ram_pages || ram.count > l->ram_pages - ram.first_gfn)
        return WHY(l, "RAM record for pages %#llx+%u outside the guest's %llu pages",
                   (unsigned long long)ram.first_gfn, ram.count, (unsigned long long)l->ram_pages);
    /* Round 0 describes every page once, in order (as a target requires). */
    if (l->round == 0 && ram.first_gfn != l->next_gfn)
        return WHY(l, "round 0 skipped from page %#llx to %#llx", (unsigned long long)l->next_gfn,
                   (unsigned long long)ram.first_gfn);
    for (uint32_t i = 0; i < ram.count; i++) {
        uint8_t *dst = l->g->ram + (ram.first_gfn + i) * RAM_PAGE_SIZE;
        if (ram.kind == RAM_KIND_DATA)
            memcpy(dst, ram.data + (size_t)i * RAM_PAGE_SIZE, RAM_PAGE_SIZE);
        else if (l->round > 0 && !page_is_zero(dst)) /* round 0 finds calloc's zeros; reading them allocates nothing */
            memset(dst, 0, RAM_PAGE_SIZE);
    }
    if (l->round == 0)
        l->next_gfn += ram.count;
    l->pages += ram.count;
    if (ram.kind == RAM_KIND_DATA)
        l->info->data_pages += ram.count;
    else
        l->info->zero_pages += ram.count;
    return 0;
}

static int load_vcpu(struct loader *l, const struct rec_reader *r)
{
    static struct mig_vcpu v;
    if (mig_vcpu_decode(r->body, r->len, &v, l->why, REASON_MAX) != 0)
        return -1;
    if (v.index >= l->g->def.vcpus || l->vcpu_seen[v.index])
        return WHY(l, "VCPU %u: not in the guest, or saved twice", v.index);
    l->g->vcpu[v.index] = v;
    l->vcpu_seen[v.index] = true;
    l->vcpus_seen++;
    return 0;
}

/* The UART's record, or a generic one (any other type, or a tree without a
 * valid type, whose reason mig_dev_decode gives). Which types a hopvm
 * emulates, and what their values may be, is for the hopvm the guest is
 * restored to: here each record needs only to be well-formed. */
static int load_device(struct loader *l, const struct rec_reader *r)
{
    static struct mig_dev d;
    char type[CFG_NAME_MAX];
    if (mig_device_type(r->body, r->len, type, sizeof(type)) == 0 && !strcmp(type, MIG_UART_TYPE)) {
        if (l->uart_done)
            return WHY(l, "a second uart16550 DEVICE record");
        if (mig_uart_decode(r->body, r->len, &l->g->uart, l->why, REASON_MAX) != 0)
            return -1;
        l->uart_done = true;
        return 0;
    }
    if (mig_dev_decode(r->body, r->len, &d, l->why, REASON_MAX) != 0)
        return -1;
    return guest_image_add_device(l->g, &d, l->why, REASON_MAX);
}

static int load_end(struct loader *l, const struct rec_reader *r)
{
    struct stream_end e;
    uint8_t want[MIG_HASH_LEN];
    if (rec_get_end(r->body, r->len, &e, l->why, REASON_MAX) != 0)
        return -1;
    mig_digest_final(&l->digest, want);
    if (!mig_equal(want, e.digest, MIG_HASH_LEN))
        return WHY(l, "digest mismatch: END's SHA-256 does not match the records before it; the file is corrupt");
    if (e.records != l->info->records || e.pages != l->pages)
        return WHY(l, "END counts %llu records and %llu pages, the file holds %llu and %llu",
                   (unsigned long long)e.records, (unsigned long long)e.pages,
                   (unsigned long long)l->info->records, (unsigned long long)l->pages);
    if (l->next_gfn != l->ram_pages || l->vcpus_seen != l->g->def.vcpus || !l->uart_done)
        return WHY(l, "END before the whole guest: %llu of %llu pages, %u of %u vCPUs, uart %s",
                   (unsigned long long)l->next_gfn, (unsigned long long)l->ram_pages, l->vcpus_seen,
                   l->g->def.vcpus, l->uart_done ? "yes" : "no");
    l->ended = true;
    return 0;
}

/* SEAL, first of all: the file's key from the password. */
static int load_seal(struct loader *l, struct rec_reader *r)
{
    if (l->sealed || l->have_def)
        return WHY(l, "a SEAL record after the first");
    if (!l->password || !l->password[0])
        return WHY(l, "the file is sealed with a password: give --password or --password-file");
    uint32_t rounds = r->body[0] | r->body[1] << 8 | r->body[2] << 16 | (uint32_t)r->body[3] << 24;
    if (rounds < 1000 || rounds > 10000000 || r->body[4] | r->body[5] | r->body[6] | r->body[7])
        return WHY(l, "SEAL asks for %u PBKDF2 rounds (1000 to 10000000) or has non-zero reserved bytes", rounds);
    uint8_t key[SEAL_KEY_LEN];
    mig_seal_file_key(l->password, r->body + 8, rounds, key);
    mig_seal_init(&l->seal, key);
    memset(key, 0, sizeof(key));
    l->sealed = true;
    rec_reader_set_overhead(r, SEAL_TAG_LEN);
    return 0;
}

/* A sealed file's record: it opens only with the right password, unchanged
 * and in its place. */
static int open_record(struct loader *l, struct rec_reader *r)
{
    uint32_t len = r->len - SEAL_TAG_LEN;
    uint8_t *body = (uint8_t *)r->body;
    if (!mig_open(&l->seal, r->hdr, REC_HDR_LEN, body, len, body + len))
        return WHY(l, "the %s record does not open: wrong password, or the file was changed", rec_name(r->type));
    r->len = len;
    return 0;
}

static int load_record(struct loader *l, struct rec_reader *r)
{
    if (r->type == REC_SEAL && !r->skip)
        return load_seal(l, r);
    if (l->sealed && open_record(l, r) != 0)
        return -1;
    if (r->skip) { /* an optional record from a newer writer: skipped, but digested like every record */
        if (l->have_def)
            digest_record(l, r);
        return 0;
    }
    if (!l->have_def && r->type != REC_VM_DEF)
        return WHY(l, "the first record is %s, not VM_DEF", rec_name(r->type));
    switch (r->type) {
    case REC_VM_DEF:
        if (l->have_def)
            return WHY(l, "a second VM_DEF record");
        if (load_def(l, r) != 0)
            return -1;
        digest_record(l, r);
        return 0;
    case REC_ROUND: digest_record(l, r); return load_round(l, r);
    case REC_RAM: digest_record(l, r); return load_ram(l, r);
    case REC_VCPU: digest_record(l, r); return load_vcpu(l, r);
    case REC_DEVICE: digest_record(l, r); return load_device(l, r);
    case REC_END: return load_end(l, r);
    default:
        return WHY(l, "a %s record does not belong in a saved guest", rec_name(r->type));
    }
}

/* Why the file ended where it did, when it ended before END. */
static void truncated(const struct loader *l, const struct rec_reader *rd, char *err, size_t n)
{
    unsigned long long size = (unsigned long long)rd->offset + STREAM_MAGIC_LEN;
    unsigned long long at = (unsigned long long)rd->rec_offset + STREAM_MAGIC_LEN;
    if (rec_reader_mid_record(rd) && size - at >= REC_HDR_LEN) /* the header is read: its type and length hold */
        fail(err, n, "offset 0x%llx: truncated: the file ends %llu bytes into the %zu-byte %s record", at,
             size - at, REC_HDR_LEN + rd->len + rec_pad(rd->len), rec_name(rd->type));
    else if (rec_reader_mid_record(rd))
        fail(err, n, "offset 0x%llx: truncated: the file ends inside a record header", at);
    else
        fail(err, n, "offset 0x%llx: truncated: the file ends after %llu records, before END", size,
             (unsigned long long)l->info->records);
}

static int load_file(FILE *f, struct loader *l, char *err, size_t n)
{
    uint8_t magic[STREAM_MAGIC_LEN];
    size_t got = fread(magic, 1, sizeof(magic), f);
    if (ferror(f))
        return fail(err, n, "read error: %s", strerror(errno));
    if (got != sizeof(magic) || !stream_magic_ok(magic))
        return fail(err, n, "offset 0x0: not a saved hopvm guest (no \"%s\" magic)", STREAM_MAGIC);
    struct rec_reader rd;
    rec_reader_init(&rd, body_buf, sizeof(body_buf));
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        for (size_t pos = 0; pos < got;) {
            unsigned long long here = (unsigned long long)rd.offset + STREAM_MAGIC_LEN;
            if (l->ended)
                return fail(err, n, "offset 0x%llx: data after END", here);
            size_t used;
            enum rec_status st = rec_reader_feed(&rd, chunk + pos, got - pos, &used);
            pos += used;
            unsigned long long at = (unsigned long long)rd.rec_offset + STREAM_MAGIC_LEN;
            if (st == REC_BAD)
                return fail(err, n, "offset 0x%llx: %s", at, rd.error);
            if (st == REC_READY && load_record(l, &rd) != 0)
                return fail(err, n, "offset 0x%llx: %s", at, l->why);
        }
    }
    if (ferror(f))
        return fail(err, n, "read error: %s", strerror(errno));
    if (!l->ended) {
        truncated(l, &rd, err, n);
        return -1;
    }
    l->info->bytes = (unsigned long long)rd.offset + STREAM_MAGIC_LEN;
    return 0;
}

int guest_image_load(struct guest_image *g, const char *path, const char *password, struct guest_file_info *info,
                     char *err, size_t n)
{
    struct guest_file_info local;
    char why[REASON_MAX];
    if (!info)
        info = &local;
    memset(info, 0, sizeof(*info));
    memset(g, 0, sizeof(*g));
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, n, "%s", strerror(errno));
    struct loader l = {.g = g, .info = info, .why = why, .password = password};
    mig_digest_init(&l.digest, NULL);
    int rc = load_file(f, &l, err, n);
    fclose(f);
    if (rc != 0)
        guest_image_free(g);
    return rc;
}
