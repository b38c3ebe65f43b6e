/* libFuzzer: a target session fed a valid handshake and then arbitrary
 * bytes, as a hostile or broken source would send them after
 * authenticating. The handshake is version 1's (the target allows it):
 * version 2 seals every record, so fuzzed bytes would only ever test the
 * seal (tests/unit/test_seal.c); behind it the same record parsers run. Whatever arrives, the target must end in a defined
 * phase, never touch a page outside the guest, and never commit a guest
 * whose END did not check out. */
#include <hopvm/mig_session.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 256

static uint8_t ram[PAGES * 4096];
static _Alignas(8) uint8_t out[MIG_OUT_CAP], in[MIG_IN_CAP];
static struct mig_session T;
static bool shell;

static int offer(void *c, const struct mig_vmdef *d, char *r, size_t n)
{
    (void)c, (void)r, (void)n;
    if (d->memory > sizeof(ram))
        return -1;
    shell = true;
    return 0;
}
static uint8_t *page(void *c, uint64_t g)
{
    (void)c;
    if (g >= PAGES)
        abort(); /* the session let a page outside the guest through */
    return ram + g * 4096;
}
static int vcpu(void *c, const struct mig_vcpu *v, char *e, size_t n) { (void)c, (void)v, (void)e, (void)n; return 0; }
static int uart(void *c, const struct mig_uart *u, char *e, size_t n) { (void)c, (void)u, (void)e, (void)n; return 0; }
static void commit(void *c) { (void)c; }
static void abort_shell(void *c, bool in_doubt) { (void)c; shell = in_doubt; }
static const struct mig_target_ops ops = {.offer = offer, .page = page, .vcpu = vcpu, .uart = uart, .commit = commit,
                                          .abort = abort_shell};

/* ---- the seed: a whole valid session after the handshake ---------------
 * FUZZ_SESSION_WRITE_SEED=FILE makes the binary write it (a source session
 * with the harness's nonces and password, a guest of 256 pages with two
 * data pages, its stream captured after its AUTH): VM_DEF, ROUND, RAM of
 * both kinds, VCPU, DEVICE, END with the right digest, and COMMIT. With
 * FUZZ_SESSION_EXPECT_DONE=1 every input must commit (tests/test_unit.py
 * checks the committed seed still does). */
static uint8_t src_ram[PAGES * 4096];
static void describe(void *c, struct mig_vmdef *d)
{
    (void)c;
    memset(d, 0, sizeof(*d));
    strcpy(d->name, "seed");
    d->memory = PAGES * 4096;
    d->vcpus = 1;
    strcpy(d->kernel, "counter.elf");
    strcpy(d->source_host, "s");
    strcpy(d->backend, "svm");
}
static const uint8_t *src_page(void *c, uint64_t g) { (void)c; return src_ram + g * 4096; }
static void src_vcpu(void *c, unsigned i, struct mig_vcpu *v)
{
    (void)c;
    memset(v, 0, sizeof(*v));
    v->index = i;
    v->s.rip = 0x100000;
    v->s.cr0 = 0x11;
}
static void src_uart(void *c, struct mig_uart *u)
{
    (void)c;
    memset(u, 0, sizeof(*u));
    u->log_total = u->log_count = 4;
    memcpy(u->log, "seed", 4);
}
static void handed_over(void *c) { (void)c; }
static const struct mig_source_ops sops = {.describe = describe, .page = src_page, .vcpu = src_vcpu,
                                           .uart = src_uart, .handed_over = handed_over};

static void write_seed(const char *path)
{
    static struct mig_session S;
    static _Alignas(8) uint8_t sout[MIG_OUT_CAP], sin[MIG_IN_CAP];
    static uint8_t rnd_s[MIG_RANDOM_LEN] = {1}, rnd_t[MIG_RANDOM_LEN] = {2};
    static uint8_t seed[1 << 20];
    memset(src_ram + 5 * 4096, 0x5a, 2 * 4096);
    mig_source_init(&S, &sops, NULL, &(struct mig_params){.password = "pw", .host = "s", .random = rnd_s,
                                                          .max_version = STREAM_V1}, sout, sin);
    mig_target_init(&T, &ops, NULL, &(struct mig_params){.password = "pw", .host = "t", .random = rnd_t,
                                                         .allow_v1 = true}, out, in);
    size_t len = 0;
    bool authed = false;
    for (int i = 0; i < 100000 && !(mig_finished(&S) && mig_finished(&T)); i++) {
        const uint8_t *p;
        size_t n = mig_peek(&S, &p);
        if (authed && len + n <= sizeof(seed))
            memcpy(seed + len, p, n), len += n;
        mig_consume(&T, p, n);
        mig_advance(&S, n);
        authed = authed || T.peer_authed; /* what follows the source's AUTH */
        n = mig_peek(&T, &p);
        mig_consume(&S, p, n);
        mig_advance(&T, n);
    }
    FILE *f = fopen(path, "wb");
    if (T.phase != MIG_DONE || !f || fwrite(seed, 1, len, f) != len || fclose(f) != 0)
        abort();
    printf("wrote %zu bytes to %s\n", len, path);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *path = getenv("FUZZ_SESSION_WRITE_SEED");
    if (path)
        write_seed(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t rnd_t[MIG_RANDOM_LEN] = {2}, nonce_s[STREAM_NONCE_LEN] = {1};
    shell = false;
    mig_target_init(&T, &ops, NULL, &(struct mig_params){.password = "pw", .host = "t", .random = rnd_t,
                                                         .allow_v1 = true}, out, in);
    /* The source's half of a valid handshake. */
    struct stream_hello h = {.version = 1, .min_version = 1, .caps = STREAM_CAPS, .role = ROLE_SOURCE};
    memcpy(h.nonce, nonce_s, sizeof(h.nonce));
    strcpy(h.host, "s");
    static uint8_t pre[256];
    size_t n = 0;
    memcpy(pre, STREAM_MAGIC, STREAM_MAGIC_LEN);
    n += STREAM_MAGIC_LEN;
    size_t hl = rec_put_hello(pre + n + REC_HDR_LEN, &h);
    rec_put_hdr(pre + n, REC_HELLO, (uint32_t)hl);
    n += REC_HDR_LEN + hl + rec_pad((uint32_t)hl);
    memset(pre + n - rec_pad((uint32_t)hl), 0, rec_pad((uint32_t)hl));
    mig_consume(&T, pre, n);
    uint8_t proof[MIG_HASH_LEN], auth[REC_HDR_LEN + MIG_HASH_LEN];
    mig_auth_proof("pw", ROLE_SOURCE, pre + STREAM_MAGIC_LEN + REC_HDR_LEN, hl, T.hello_body[ROLE_TARGET],
                   T.hello_len[ROLE_TARGET], proof);
    rec_put_hdr(auth, REC_AUTH, MIG_HASH_LEN);
    memcpy(auth + REC_HDR_LEN, proof, MIG_HASH_LEN);
    mig_consume(&T, auth, sizeof(auth));
    if (T.phase != MIG_OFFER)
        abort(); /* the harness's handshake must be valid */
    /* Then the fuzzer's bytes, in two pieces to cross a record boundary. */
    size_t half = size / 2;
    mig_consume(&T, data, half);
    mig_consume(&T, data + half, size - half);
    const uint8_t *p;
    mig_advance(&T, mig_peek(&T, &p));
    if (T.phase == MIG_DONE && !shell)
        abort(); /* committed a guest it had freed */
    if (T.phase == MIG_FAILED && shell)
        abort(); /* a failure must free the shell */
    if (getenv("FUZZ_SESSION_EXPECT_DONE") && T.phase != MIG_DONE) {
        fprintf(stderr, "not committed: %s: %s\n", mig_phase_name(T.phase), T.error);
        abort();
    }
    return 0;
}
