/* libFuzzer: a listening target (stream version 2, password "pw") fed
 * arbitrary bytes from its first, as a stranger on the network would send
 * them. Whatever arrives: no crash or undefined behaviour in the HELLO
 * decoder, the SPAKE2 share checks or the seal; nothing bigger than
 * MIG_PREAUTH_CAP is accepted before the password is proved; no phase past
 * the handshake without it; a guest shell only after it. The seeds
 * (FUZZ_HANDSHAKE_WRITE_SEEDS=DIR writes them) are a source's valid HELLO
 * and KEX for these fixed nonces, with and without its valid CONFIRM, so
 * the fuzzer starts at every step of the exchange. */
#include <hopvm/mig_session.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Alignas(8) uint8_t out[MIG_OUT_CAP], in[MIG_IN_CAP];
static struct mig_session T;
static bool shell;

static int offer(void *c, const struct mig_vmdef *d, char *r, size_t n)
{
    (void)c, (void)d, (void)r, (void)n;
    shell = true;
    return -1; /* the handshake is what is fuzzed: refuse the guest itself */
}
static uint8_t *page(void *c, uint64_t g) { (void)c, (void)g; abort(); }
static int vcpu(void *c, const struct mig_vcpu *v, char *e, size_t n) { (void)c, (void)v, (void)e, (void)n; abort(); }
static int uart(void *c, const struct mig_uart *u, char *e, size_t n) { (void)c, (void)u, (void)e, (void)n; abort(); }
static void commit(void *c) { (void)c; abort(); }
static void abort_shell(void *c, bool in_doubt) { (void)c, (void)in_doubt; }
static const struct mig_target_ops ops = {.offer = offer, .page = page, .vcpu = vcpu, .uart = uart, .commit = commit,
                                          .abort = abort_shell};
static const uint8_t rnd_t[MIG_RANDOM_LEN] = {2};
#define ITERATIONS 2 /* both sides; the KDF's cost is not what is fuzzed */

static void target(void)
{
    mig_target_init(&T, &ops, NULL, &(struct mig_params){.password = "pw", .host = "t", .random = rnd_t,
                                                         .kdf_iterations = ITERATIONS}, out, in);
}

static void save(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
        abort();
}

/* A real source session against the target: its bytes up to and with its
 * CONFIRM. */
static void write_seeds(const char *dir)
{
    static struct mig_session S;
    static _Alignas(8) uint8_t sout[MIG_OUT_CAP], sin[MIG_IN_CAP];
    static const uint8_t rnd_s[MIG_RANDOM_LEN] = {1};
    static uint8_t seed[4096];
    static const struct mig_source_ops sops;
    mig_source_init(&S, &sops, NULL, &(struct mig_params){.password = "pw", .host = "s", .random = rnd_s,
                                                          .kdf_iterations = ITERATIONS}, sout, sin);
    target();
    size_t len = 0;
    for (int i = 0; i < 100 && !T.peer_authed; i++) {
        const uint8_t *p;
        size_t n = mig_peek(&S, &p);
        if (len + n > sizeof(seed))
            abort();
        memcpy(seed + len, p, n), len += n;
        mig_consume(&T, p, n);
        mig_advance(&S, n);
        n = mig_peek(&T, &p);
        mig_consume(&S, p, n);
        mig_advance(&T, n);
    }
    if (!T.peer_authed)
        abort();
    save(dir, "valid-handshake", seed, len);
    save(dir, "hello-and-kex", seed, len - REC_HDR_LEN - CONFIRM_LEN); /* all but the CONFIRM */
    printf("wrote %zu bytes to %s\n", len, dir);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *dir = getenv("FUZZ_HANDSHAKE_WRITE_SEEDS");
    if (dir)
        write_seeds(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shell = false;
    target();
    /* In three pieces, so records cross feeds. */
    size_t a = size / 3, b = 2 * size / 3;
    const uint8_t *cuts[] = {data, data + a, data + b, data + size};
    for (int i = 0; i < 3; i++) {
        mig_consume(&T, cuts[i], (size_t)(cuts[i + 1] - cuts[i]));
        if (!T.peer_authed && T.rd.cap > MIG_PREAUTH_CAP)
            abort(); /* a stranger may make this host hold a big record */
        if (!T.peer_authed && T.phase != MIG_HANDSHAKE && T.phase != MIG_FAILED)
            abort(); /* past the handshake without the password */
        if (T.peer_authed && (!T.rx_sealed || !T.tx_sealed))
            abort(); /* version 2 authenticated, yet not sealed */
    }
    if (shell && !T.peer_authed)
        abort();
    const uint8_t *p;
    mig_advance(&T, mig_peek(&T, &p));
    return 0;
}
