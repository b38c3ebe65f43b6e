/* The teleport protocol end to end in memory (migrate/session.c, source.c,
 * target.c): a source and a target session joined by a byte pipe, with
 * fake guests. Checks the hand-over invariant at every cut of the link:
 * the guest is never lost and never runs twice. */
#include "check.h"
#include <hopvm/mig_session.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 256 /* 1 MiB: the smallest guest hopvm.cfg allows */

struct fake_src {
    uint8_t ram[PAGES * 4096];
    bool handed_over;
};
struct fake_tgt {
    uint8_t ram[PAGES * 4096];
    bool shell, committed, in_doubt, aborted;
    bool refuse_ready; /* as hopvm-save with a full disk */
    struct mig_vcpu vcpu;
    struct mig_uart uart;
    uint64_t want_mem;
};

static void describe(void *ctx, struct mig_vmdef *d)
{
    (void)ctx;
    memset(d, 0, sizeof(*d));
    strcpy(d->name, "counter");
    d->memory = PAGES * 4096;
    d->vcpus = 1;
    strcpy(d->kernel, "counter.elf");
    strcpy(d->source_host, "a");
    strcpy(d->backend, "svm");
}
static const uint8_t *src_page(void *ctx, uint64_t g) { return ((struct fake_src *)ctx)->ram + g * 4096; }
static void src_vcpu(void *ctx, unsigned i, struct mig_vcpu *v)
{
    (void)ctx;
    memset(v, 0, sizeof(*v));
    v->index = i;
    v->s.rip = 0x100123;
    v->s.cr0 = 0x11;
    v->s.gpr[GPR_RBX] = 0xdeadbeef;
    v->tsc = 123456789;
    v->fxsave[7] = 7;
}
static void src_uart(void *ctx, struct mig_uart *u)
{
    (void)ctx;
    memset(u, 0, sizeof(*u));
    u->lcr = 3;
    u->log_total = u->log_count = 5;
    memcpy(u->log, "hello", 5);
}
static void src_handed_over(void *ctx) { ((struct fake_src *)ctx)->handed_over = true; }
static const struct mig_source_ops sops = {.describe = describe, .page = src_page, .vcpu = src_vcpu, .uart = src_uart,
                                           .handed_over = src_handed_over};

static int tgt_offer(void *ctx, const struct mig_vmdef *d, char *r, size_t n)
{
    struct fake_tgt *t = ctx;
    if (d->memory > t->want_mem) {
        snprintf(r, n, "target has %lu KiB free, guest needs %lu KiB", (unsigned long)(t->want_mem >> 10),
                 (unsigned long)(d->memory >> 10));
        return -1;
    }
    t->shell = true;
    return 0;
}
static uint8_t *tgt_page(void *ctx, uint64_t g) { return ((struct fake_tgt *)ctx)->ram + g * 4096; }
static int tgt_vcpu(void *ctx, const struct mig_vcpu *v, char *e, size_t n)
{
    (void)e, (void)n;
    ((struct fake_tgt *)ctx)->vcpu = *v;
    return 0;
}
static int tgt_uart(void *ctx, const struct mig_uart *u, char *e, size_t n)
{
    (void)e, (void)n;
    ((struct fake_tgt *)ctx)->uart = *u;
    return 0;
}
static int tgt_ready(void *ctx, char *e, size_t n)
{
    if (!((struct fake_tgt *)ctx)->refuse_ready)
        return 0;
    snprintf(e, n, "the target cannot save the guest: No space left on device");
    return -1;
}
static void tgt_commit(void *ctx) { ((struct fake_tgt *)ctx)->committed = true; }
static void tgt_abort(void *ctx, bool in_doubt)
{
    struct fake_tgt *t = ctx;
    t->in_doubt = in_doubt;
    t->aborted = !in_doubt;
    t->shell = in_doubt;
}
static const struct mig_target_ops tops = {.offer = tgt_offer, .page = tgt_page, .vcpu = tgt_vcpu, .uart = tgt_uart,
                                           .ready = tgt_ready, .commit = tgt_commit, .abort = tgt_abort};

static _Alignas(8) uint8_t sout[MIG_OUT_CAP], sin[MIG_IN_CAP], tout[MIG_OUT_CAP], tin[MIG_IN_CAP];
static struct mig_session S, T;
static struct fake_src fs;
static struct fake_tgt ft;

/* Extra faults for run(): cut the link after this many bytes
 * target->source (0: never); fail the target locally (its Ctrl-C) the
 * moment it enters this phase (MIG_HANDSHAKE: never). */
static uint64_t cut_back;
static enum mig_phase fail_target_in = MIG_HANDSHAKE;
/* Everything the source put on the wire in the last run(). */
static uint8_t wire[2 << 20];
static size_t wire_len;

/* Moves bytes both ways in chunks of up to `chunk`; cuts the link after
 * `cut` bytes source->target (0: never), corrupts byte `flip` (0: none). */
/* Both sessions' parameters: fixed random bytes, few KDF rounds (both
 * sides agree), version 1 only if asked. */
static bool allow_v1_s, allow_v1_t, v1_source;
static uint32_t kdf_iter = 2, slice_s, slice_t; /* PBKDF2 rounds; iterations per mig_work (0: at once) */
static void start(const char *spw, const char *tpw)
{
    static uint8_t rnd_s[MIG_RANDOM_LEN] = {1}, rnd_t[MIG_RANDOM_LEN] = {2};
    rnd_s[40]++, rnd_t[40]++; /* fresh secrets each session */
    mig_source_init(&S, &sops, &fs, &(struct mig_params){.password = spw, .host = "a", .random = rnd_s,
                                                         .allow_v1 = allow_v1_s, .kdf_iterations = kdf_iter,
                                                         .max_version = v1_source ? STREAM_V1 : 0,
                                                         .kdf_slice = slice_s}, sout, sin);
    mig_target_init(&T, &tops, &ft, &(struct mig_params){.password = tpw, .host = "b", .random = rnd_t,
                                                         .allow_v1 = allow_v1_t, .kdf_iterations = kdf_iter,
                                                         .kdf_slice = slice_t}, tout, tin);
}

static void run(const char *spw, const char *tpw, size_t chunk, uint64_t cut, uint64_t flip)
{
    memset(&fs.handed_over, 0, sizeof(fs.handed_over));
    memset(&ft, 0, sizeof(ft));
    ft.want_mem = 4 << 20;
    start(spw, tpw);
    uint64_t sent = 0, back = 0;
    wire_len = 0;
    for (int rounds = 0; rounds < 1000000; rounds++) {
        const uint8_t *p;
        bool working = mig_work(&S) | mig_work(&T); /* both: a sliced key derivation goes on */
        size_t n = mig_peek(&S, &p), m;
        if (n > chunk)
            n = chunk;
        if (cut && sent + n > cut)
            n = cut - sent;
        if (n) {
            static _Alignas(8) uint8_t tmp[MIG_OUT_CAP];
            memcpy(tmp, p, n);
            if (wire_len + n <= sizeof(wire))
                memcpy(wire + wire_len, p, n), wire_len += n;
            if (flip > sent && flip <= sent + n)
                tmp[flip - sent - 1] ^= 0x40;
            mig_consume(&T, tmp, n);
            mig_advance(&S, n);
            sent += n;
        }
        if (fail_target_in != MIG_HANDSHAKE && T.phase == fail_target_in)
            mig_fail(&T, MIG_ERR_CANCELLED, "cancelled from the console");
        m = mig_peek(&T, &p);
        if (cut_back && back + m > cut_back)
            m = cut_back - back;
        if (m) {
            mig_consume(&S, p, m);
            mig_advance(&T, m);
            back += m;
        }
        if ((cut && sent == cut) || (cut_back && back == cut_back)) { /* the link is gone: both sides notice */
            mig_fail(&S, MIG_ERR_INTERNAL, "link lost");
            mig_fail(&T, MIG_ERR_INTERNAL, "link lost");
            return;
        }
        if (mig_finished(&S) && mig_finished(&T))
            return;
        if (!n && !m && !working)
            return; /* stalled: a bug, checked by the caller */
    }
}

/* After a run: the guest exists exactly once, or in doubt (paused on the
 * target while the source may have retired it) but never nowhere; never
 * running twice. Tallies the outcomes. */
static unsigned lost, twice, doubt, done, failed;
static void tally(void)
{
    bool source_runs = !fs.handed_over;
    bool target_runs = ft.committed;
    bool target_holds = ft.committed || ft.in_doubt;
    lost += !source_runs && !target_holds;
    twice += source_runs && target_runs;
    doubt += ft.in_doubt;
    done += target_runs;
    failed += source_runs && !ft.shell;
    CHECK(source_runs || target_holds);
    CHECK(!(source_runs && (target_runs || ft.shell) && !ft.in_doubt));
}

/* The hand-over (docs/migration-protocol.md): the link cut at every byte
 * of the source's last 600 and of everything the target sends (so inside
 * END -> COMMIT_READY -> COMMIT in both directions), and at steps before;
 * the target failing locally in every phase; the target unable to keep
 * the copy (hopvm-save's full disk). */
static void handover(uint64_t total)
{
    lost = twice = doubt = done = failed = 0;
    for (uint64_t cut = 1; cut <= total; cut += cut < 400 || cut + 600 >= total ? 1 : 3001) {
        run("pw", "pw", 1500, cut, 0);
        tally();
    }
    run("pw", "pw", 1500, 0, 0);
    uint64_t back_total = T.st.bytes_out;
    for (cut_back = 1; cut_back <= back_total; cut_back++) {
        run("pw", "pw", 1500, 0, 0);
        tally();
    }
    cut_back = 0;
    for (enum mig_phase ph = MIG_OFFER; ph <= MIG_COMMIT; ph++) {
        fail_target_in = ph;
        run("pw", "pw", 1500, 0, 0);
        tally();
        CHECK(ph != MIG_COMMIT || (ft.in_doubt && fs.handed_over)); /* COMMIT_READY was queued: kept */
        CHECK(ph == MIG_COMMIT || (!fs.handed_over && !ft.shell));
    }
    fail_target_in = MIG_HANDSHAKE;
    ft.refuse_ready = true;
    memset(&fs.handed_over, 0, sizeof(fs.handed_over));
    start("pw", "pw");
    ft.refuse_ready = true;
    ft.want_mem = 4 << 20;
    for (int i = 0; i < 100000 && !(mig_finished(&S) && mig_finished(&T)); i++) {
        const uint8_t *p;
        size_t n = mig_peek(&S, &p);
        mig_consume(&T, p, n), mig_advance(&S, n);
        n = mig_peek(&T, &p);
        mig_consume(&S, p, n), mig_advance(&T, n);
    }
    CHECK(S.phase == MIG_FAILED && T.phase == MIG_FAILED && !fs.handed_over && !ft.shell);
    CHECK(strstr(S.error, "No space left on device") != NULL);
    ft.refuse_ready = false;
    CHECK_U64(lost, 0);
    CHECK_U64(twice, 0);
    CHECK(doubt > 0 && failed > 0); /* both outcomes were reached: the window was hit */
    printf("hand-over: %u in doubt, %u committed, %u failed cleanly, 0 lost, 0 twice\n", doubt, done, failed);
}

/* Version 2: guest RAM is not readable on the wire; version 1 only when
 * both sides allow it; a version-1-only peer is refused with the way out;
 * a stranger cannot make a listener buffer more than MIG_PREAUTH_CAP. */
static void version2(void)
{
    run("pw", "pw", 1500, 0, 0);
    CHECK(S.phase == MIG_DONE && S.version == 2 && T.version == 2 && S.rx_sealed && T.rx_sealed);
    uint8_t page[4096];
    memcpy(page, fs.ram + 4096, sizeof(page)); /* a data page */
    bool seen = false;
    for (size_t i = 0; i + 64 <= wire_len && !seen; i++)
        seen = !memcmp(wire + i, page, 64);
    CHECK(!seen);
    /* No password: still sealed; both sides know nobody proved anything. */
    run("", "", 1500, 0, 0);
    CHECK(S.phase == MIG_DONE && S.rx_sealed && !S.password[0]);
    /* Both allow version 1, but both have 2: version 2. A host of version 1
     * (the source here) and a target that allows it: version 1. */
    allow_v1_s = allow_v1_t = true;
    run("pw", "pw", 1500, 0, 0);
    CHECK(S.phase == MIG_DONE && S.version == 2);
    v1_source = true;
    run("pw", "pw", 1500, 0, 0);
    CHECK(S.phase == MIG_DONE && S.version == 1 && !S.rx_sealed);
    CHECK(!memcmp(fs.ram, ft.ram, sizeof(fs.ram)));
    seen = false;
    for (size_t i = 0; i + 64 <= wire_len && !seen; i++)
        seen = !memcmp(wire + i, page, 64);
    CHECK(seen); /* unsealed, as documented */
    run("pw", "nope", 1500, 0, 0);
    CHECK(S.phase == MIG_FAILED && S.error_code == MIG_ERR_AUTH);
    /* The version-1 host and a target that does not allow it: refused. */
    allow_v1_t = false;
    run("pw", "pw", 1500, 0, 0);
    CHECK(S.phase == MIG_FAILED && T.error_code == MIG_ERR_VERSION && strstr(T.error, "--v1"));
    v1_source = allow_v1_s = false;
    /* A peer that speaks only version 1 (its HELLO says 1..1). */
    memset(&ft, 0, sizeof(ft));
    start("pw", "pw");
    struct stream_hello h = {.version = 1, .min_version = 1, .caps = STREAM_CAPS, .role = ROLE_SOURCE};
    strcpy(h.host, "old");
    uint8_t msg[256];
    memcpy(msg, STREAM_MAGIC, STREAM_MAGIC_LEN);
    size_t hl = rec_put_hello(msg + STREAM_MAGIC_LEN + REC_HDR_LEN, &h);
    rec_put_hdr(msg + STREAM_MAGIC_LEN, REC_HELLO, (uint32_t)hl);
    memset(msg + STREAM_MAGIC_LEN + REC_HDR_LEN + hl, 0, rec_pad((uint32_t)hl));
    mig_consume(&T, msg, STREAM_MAGIC_LEN + REC_HDR_LEN + hl + rec_pad((uint32_t)hl));
    CHECK(T.phase == MIG_FAILED && T.error_code == MIG_ERR_VERSION && strstr(T.error, "--v1"));
    /* Before the password is proved: a record longer than MIG_PREAUTH_CAP
     * is refused at its header (nothing buffered); so is an unknown optional
     * one; a second HELLO is out of order. */
    uint8_t big[REC_HDR_LEN];
    start("pw", "pw");
    mig_consume(&T, (const uint8_t *)STREAM_MAGIC, STREAM_MAGIC_LEN);
    rec_put_hdr(big, REC_ERROR, MIG_PREAUTH_CAP + 8);
    mig_consume(&T, big, sizeof(big));
    CHECK(T.phase == MIG_FAILED && strstr(T.error, "limit") && T.st.bytes_in == STREAM_MAGIC_LEN + REC_HDR_LEN);
    start("pw", "pw");
    mig_consume(&T, (const uint8_t *)STREAM_MAGIC, STREAM_MAGIC_LEN);
    rec_put_hdr(big, 0x7777 | REC_OPTIONAL, 0);
    mig_consume(&T, big, sizeof(big));
    CHECK(T.phase == MIG_FAILED && strstr(T.error, "before the peer proved"));
    /* A flipped bit in any sealed record (the source's stream after its
     * CONFIRM): refused as changed on the way, nothing committed. */
    run("pw", "pw", 1500, 0, 0);
    uint64_t total = S.st.bytes_out;
    unsigned caught = 0, runs = 0;
    for (uint64_t flip = 400; flip < total; flip += 4099, runs++) {
        run("pw", "pw", 1500, 0, flip);
        caught += T.phase == MIG_FAILED && strstr(T.error, "failed authentication") != NULL;
        CHECK(!ft.committed && !fs.handed_over);
    }
    CHECK_U64(caught, runs);
}

/* The key derivation in slices (mig_work), as hopvm runs it between its
 * guests' time slices: either side slower, or both; the slower side meets
 * the peer's KEX before its own exists and takes it once it does. The
 * keys come out as when derived at once: the teleport commits, and a wrong
 * password is still caught. */
static void sliced_kdf(void)
{
    kdf_iter = 50;
    static const uint32_t slices[][2] = {{3, 0}, {0, 7}, {1, 1}, {49, 50}, {1000, 2}};
    for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
        slice_s = slices[i][0], slice_t = slices[i][1];
        run("pw", "pw", 1500, 0, 0);
        CHECK(S.phase == MIG_DONE && T.phase == MIG_DONE && ft.committed && !S.kdf_running && !T.kdf_running);
        run("pw", "wrong", 1500, 0, 0);
        CHECK(S.phase == MIG_FAILED && T.phase == MIG_FAILED && !ft.committed);
        CHECK(S.error_code == MIG_ERR_AUTH || T.error_code == MIG_ERR_AUTH);
    }
    /* While its derivation runs, a target holds one KEX; a second record
     * before its own KEX went out is a protocol error. */
    slice_s = 0, slice_t = 1;
    start("pw", "pw");
    const uint8_t *p;
    size_t n = mig_peek(&S, &p); /* magic and HELLO */
    mig_consume(&T, p, n);
    CHECK(T.kdf_running && T.phase == MIG_HANDSHAKE);
    uint8_t kex[REC_HDR_LEN + SPAKE2_SHARE_LEN + 7] = {0};
    rec_put_hdr(kex, REC_KEX, SPAKE2_SHARE_LEN);
    mig_consume(&T, kex, sizeof(kex));
    CHECK(T.peer_kex_waiting && T.phase == MIG_HANDSHAKE);
    mig_consume(&T, kex, sizeof(kex));
    CHECK(T.phase == MIG_FAILED && strstr(T.error, "expected nothing, got KEX"));
    CHECK(!mig_work(&T)); /* a failed session derives nothing more */
    kdf_iter = 2, slice_s = slice_t = 0;
}

int main(void)
{
    sliced_kdf();
    for (size_t i = 0; i < sizeof(fs.ram); i++)
        fs.ram[i] = (i / 4096) % 3 ? (uint8_t)(i * 7 + 1) : 0; /* every third page zero */

    /* A full teleport, in odd chunks. */
    run("pw", "pw", 777, 0, 0);
    if (S.phase != MIG_DONE)
        fprintf(stderr, "source %s: %s; target %s: %s\n", mig_phase_name(S.phase), S.error,
                mig_phase_name(T.phase), T.error);
    CHECK(S.phase == MIG_DONE && T.phase == MIG_DONE);
    CHECK(fs.handed_over && ft.committed && !ft.aborted);
    CHECK(!memcmp(fs.ram, ft.ram, sizeof(fs.ram)));
    CHECK_U64(ft.vcpu.s.rip, 0x100123);
    CHECK_U64(ft.vcpu.s.gpr[GPR_RBX], 0xdeadbeef);
    CHECK_U64(ft.vcpu.tsc, 123456789);
    CHECK(ft.vcpu.fxsave[7] == 7);
    CHECK(ft.uart.lcr == 3 && ft.uart.log_count == 5 && !memcmp(ft.uart.log, "hello", 5));
    CHECK_U64(T.st.zero_pages, PAGES / 3 + 1);
    CHECK_U64(S.st.pages_done, PAGES);
    uint64_t total = S.st.bytes_out;
    CHECK(total > 170 * 4096 && total < 175 * 4096); /* zero pages cost nothing */

    /* A wrong password: both fail, nothing moved, the source guest runs on. */
    run("pw", "other", 4096, 0, 0);
    CHECK(S.phase == MIG_FAILED && T.phase == MIG_FAILED);
    CHECK(!fs.handed_over && !ft.shell && !ft.committed);
    CHECK_U64(S.error_code, MIG_ERR_AUTH);
    CHECK(strstr(S.error, "wrong password") != NULL);
    CHECK(T.st.bytes_in < 512); /* no RAM crossed */

    /* The target refuses: too little memory; the reason reaches the source. */
    memset(&ft, 0, sizeof(ft));
    start("", "");
    ft.want_mem = 128 * 4096;
    for (int i = 0; i < 100; i++) {
        const uint8_t *p;
        size_t n = mig_peek(&S, &p);
        mig_consume(&T, p, n);
        mig_advance(&S, n);
        n = mig_peek(&T, &p);
        mig_consume(&S, p, n);
        mig_advance(&T, n);
    }
    CHECK(S.phase == MIG_FAILED && S.error_code == MIG_ERR_REFUSED);
    CHECK(strstr(S.error, "guest needs 1024 KiB") != NULL);
    CHECK(!fs.handed_over && !ft.shell);

    /* A flipped byte anywhere after the handshake fails the teleport; the
     * source guest runs on, the target frees its shell. */
    for (uint64_t flip = 300; flip < total; flip += 9973) {
        run("pw", "pw", 1500, 0, flip);
        CHECK(!fs.handed_over && !ft.committed);
        CHECK(S.phase == MIG_FAILED && T.phase == MIG_FAILED);
        CHECK(!ft.shell);
    }

    version2();
    handover(total);
    return check_report("test_session");
}
