/* libFuzzer: a target session fed a valid handshake and then arbitrary
 * bytes, as a hostile or broken source would send them after
 * authenticating. The handshake is version 1's (the target allows it):
 * version 2 seals every record, so fuzzed bytes would only ever test the
 * seal (tests/unit/test_seal.c); behind it the same record parsers run. Whatever arrives, the target must end in a defined
 * phase, never touch a page outside the guest, and never commit a guest
 * whose END did not check out. */
#include <hopvm/mig_session.h>
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
    return 0;
}
