/* `bench compute`: the host half of the guest-versus-host compute
 * benchmark (tools/bench-exits runs the guest half in the `compute` guest).
 * `bench mig`: what a teleport costs the host core per byte (string
 * routines, the zero-page check, the stream digest, lwIP's checksum), in
 * MB/s (10^6 bytes), to compare with `nettest` and the teleport's MB/s. */
#include <hopvm/bench_loop.h>
#include <hopvm/cmd.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/mig_auth.h>
#include <hopvm/mig_session.h>
#include <hopvm/mig_spake2.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>
#include "bearssl_block.h"
#include "lwip/inet_chksum.h"

#define BENCH_DEFAULT_ITERS 20000000ull
#define MIG_BUF      (1024 * 1024)  /* one RAM record's worth */
#define MIG_PAGES    (MIG_BUF / PAGE_SIZE)
#define MIG_DEFAULT_MS 300          /* per measurement */
#define SEG          1460           /* one TCP segment (TCP_MSS) */

static enum cmd_status bench_compute(int argc, char **argv)
{
    uint64_t iters = BENCH_DEFAULT_ITERS;
    if (argc == 3 && (parse_u64(argv[2], &iters) != 0 || iters == 0)) {
        kprintf("error: bad iteration count '%s'\n", argv[2]);
        return CMD_USAGE;
    }
    uint64_t t0 = rdtsc();
    uint64_t r = bench_loop(iters);
    uint64_t t1 = rdtsc();
    kprintf("bench: compute %lu iterations in %lu cycles (result %lx), TSC %lu kHz\n", iters, t1 - t0, r,
            tsc_hz() / 1000);
    return CMD_OK;
}

/* ---- bench mig ---------------------------------------------------------- */

static uint8_t *src_buf, *dst_buf;
static uint8_t mig_key[MIG_HASH_LEN] = {1, 2, 3};
static volatile uint64_t sink; /* results the compiler must not drop */


/* Each does one MiB's worth of work. */
static void op_memcpy_pages(void)
{
    for (size_t i = 0; i < MIG_PAGES; i++)
        memcpy(dst_buf + i * PAGE_SIZE, src_buf + i * PAGE_SIZE, PAGE_SIZE);
}
static void op_memcpy_segs(void) /* what tcp_write, pbuf_take and the drivers do */
{
    for (size_t o = 0; o + SEG <= MIG_BUF; o += SEG)
        memcpy(dst_buf + o + 2, src_buf + o, SEG);
}
static void op_memmove(void) { memmove(dst_buf, dst_buf + 8, MIG_BUF - 8); }
static void op_memset(void) { memset(dst_buf, 0, MIG_BUF); }
static void op_memcmp(void) { sink += (uint64_t)memcmp(dst_buf, src_buf, MIG_BUF); }
static void op_zero_check(void)
{
    for (size_t i = 0; i < MIG_PAGES; i++)
        sink += mig_page_is_zero(dst_buf + i * PAGE_SIZE);
}
static void digest(const uint8_t *key)
{
    struct mig_digest d;
    uint8_t out[MIG_HASH_LEN];
    mig_digest_init(&d, key);
    for (size_t i = 0; i < MIG_PAGES; i++) /* the stream digests record by record */
        mig_digest_update(&d, src_buf + i * PAGE_SIZE, PAGE_SIZE);
    mig_digest_final(&d, out);
    sink += out[0];
}
static void op_sha256(void) { digest(NULL); }
static void op_hmac(void) { digest(mig_key); }
/* MACs the stream could use instead (for comparison; nothing uses them):
 * Poly1305 keyed by ChaCha20 as in RFC 8439 with the data as AAD, and
 * GHASH, GCM's MAC. */
static void op_poly1305(void)
{
    uint8_t iv[12] = {0}, tag[16];
    br_poly1305_ctmul_run(mig_key, iv, NULL, 0, src_buf, MIG_BUF, tag, br_chacha20_ct_run, 1);
    sink += tag[0];
}
/* ChaCha20-Poly1305 as RFC 8439 seals a record: encrypt, then MAC the
 * ciphertext (issue 12's AEAD stream would do this to every byte). */
static void op_chacha_poly(void)
{
    uint8_t iv[12] = {0}, tag[16];
    br_poly1305_ctmul_run(mig_key, iv, src_buf, MIG_BUF, NULL, 0, tag, br_chacha20_ct_run, 1);
    sink += tag[0];
}
static void op_ghash(void)
{
    uint8_t y[16] = {0};
    br_ghash_ctmul64(y, mig_key, src_buf, MIG_BUF);
    sink += y[0];
}
static void op_chksum(void)
{
    for (size_t o = 0; o + SEG <= MIG_BUF; o += SEG)
        sink += inet_chksum(src_buf + o, SEG);
}
static void op_chksum_copy(void)
{
    for (size_t o = 0; o + SEG <= MIG_BUF; o += SEG)
        sink += lwip_chksum_copy(dst_buf + o, src_buf + o, SEG);
}

static const struct {
    const char *name, *what;
    void (*op)(void);
    bool zero_dst; /* the destination buffer is cleared before timing */
} mig_ops[] = {
    {"memcpy-4k", "copy 4 KiB pages into a 1 MiB record (source.c)", op_memcpy_pages, false},
    {"memcpy-1460", "copy 1460-byte segments (tcp_write, pbufs, drivers)", op_memcpy_segs, false},
    {"memmove", "move 1 MiB down by 8 bytes (session.c's queue)", op_memmove, false},
    {"memset", "clear 1 MiB", op_memset, false},
    {"memcmp", "compare 1 MiB of equal bytes", op_memcmp, false},
    {"zero-check", "mig_page_is_zero over zero pages (source.c)", op_zero_check, true},
    {"sha256", "mig_digest, unkeyed (saved files)", op_sha256, false},
    {"hmac-sha256", "mig_digest, keyed (every byte of a version-1 stream)", op_hmac, false},
    {"poly1305", "Poly1305 MAC (BearSSL ctmul), for comparison", op_poly1305, false},
    {"chacha-poly", "ChaCha20-Poly1305 seal in place (every byte of a version-2 stream)", op_chacha_poly, false},
    {"ghash", "GHASH (BearSSL ctmul64), for comparison", op_ghash, false},
    {"chksum", "lwIP inet_chksum per segment (RX check)", op_chksum, false},
    {"chksum-copy", "lwIP copy + checksum per segment (TX)", op_chksum_copy, false},
};

/* Repeats op for at least ms milliseconds; prints MB/s. */
static void mig_measure(unsigned i, uint64_t ms)
{
    if (mig_ops[i].zero_dst)
        memset(dst_buf, 0, MIG_BUF);
    else
        memcpy(dst_buf, src_buf, MIG_BUF); /* memcmp compares equal buffers */
    mig_ops[i].op(); /* warm up: TCG translates the code once */
    uint64_t hz = tsc_hz(), want = hz / 1000 * ms, runs = 0;
    uint64_t t0 = rdtsc(), t;
    do {
        mig_ops[i].op();
        runs++;
        t = rdtsc() - t0;
    } while (t < want);
    uint64_t bytes = runs * MIG_BUF;
    kprintf("bench: mig %-12s ", mig_ops[i].name);
    kprint_x100(bytes * 100 / (t * 1000 / (hz / 1000))); /* bytes/us = MB/s */
    kprintf(" MB/s  (%lu MiB in %lu ms; %s)\n", runs, t / (hz / 1000), mig_ops[i].what);
}

/* What a version-2 handshake costs each side, once per teleport: the
 * password through PBKDF2, and SPAKE2's two P-256 operations. */
static void handshake_costs(void)
{
    uint64_t hz = tsc_hz(), t0 = rdtsc();
    uint8_t okm[SPAKE2_SCALAR_LEN], w[SPAKE2_SCALAR_LEN], x[SPAKE2_SCALAR_LEN];
    mig_pbkdf2_sha256("bench", 5, mig_key, sizeof(mig_key), MIG_KDF_ITERATIONS, okm, sizeof(okm));
    uint64_t t1 = rdtsc();
    spake2_scalar(okm, w);
    spake2_scalar(mig_key, x);
    struct spake2 a, b;
    struct spake2_keys k;
    spake2_start(&a, false, w, x);
    spake2_start(&b, true, w, x);
    uint64_t t2 = rdtsc();
    int rc = spake2_finish(&a, NULL, 0, NULL, 0, b.share, &k, NULL, NULL);
    uint64_t t3 = rdtsc();
    kprintf("bench: handshake PBKDF2 %u rounds %lu ms, SPAKE2 share %lu ms, key %lu ms%s (once per teleport, "
            "each side)\n", MIG_KDF_ITERATIONS, (t1 - t0) / (hz / 1000), (t2 - t1) / 2 / (hz / 1000),
            (t3 - t2) / (hz / 1000), rc ? " (failed!)" : "");
}

static enum cmd_status bench_mig(int argc, char **argv)
{
    uint64_t ms = MIG_DEFAULT_MS;
    if (argc == 3 && (parse_u64(argv[2], &ms) != 0 || ms == 0 || ms > 60000)) {
        kprintf("error: bad time per measurement '%s' ms (1 to 60000)\n", argv[2]);
        return CMD_USAGE;
    }
    src_buf = page_alloc(MIG_PAGES, 0);
    dst_buf = page_alloc(MIG_PAGES, 0);
    if (!src_buf || !dst_buf) {
        kprintf("error: out of memory for the 2 MiB of buffers\n");
        if (src_buf)
            page_free(src_buf, MIG_PAGES);
        return CMD_FAIL;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull; /* guest-like data: no zero words */
    for (size_t i = 0; i < MIG_BUF / 8; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ((uint64_t *)src_buf)[i] = x | 1;
    }
    for (unsigned i = 0; i < ARRAY_SIZE(mig_ops); i++)
        mig_measure(i, ms);
    handshake_costs();
    page_free(src_buf, MIG_PAGES);
    page_free(dst_buf, MIG_PAGES);
    return CMD_OK;
}

static enum cmd_status cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && argc <= 3 && !strcmp(argv[1], "compute"))
        return bench_compute(argc, argv);
    if (argc >= 2 && argc <= 3 && !strcmp(argv[1], "mig"))
        return bench_mig(argc, argv);
    kprintf("error: bench knows two benchmarks: compute, mig\n");
    return CMD_USAGE;
}

static const struct cmd bench_cmds[] = {
    {.name = "bench", .usage = "compute [ITERATIONS] | mig [MS]",
     .help = "run the compute loop, or time the teleport's per-byte work (MB/s), on the host core",
     .run = cmd_bench},
};

void bench_cmds_register(void)
{
    cmd_register(bench_cmds, ARRAY_SIZE(bench_cmds));
}
