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
static void tgt_commit(void *ctx) { ((struct fake_tgt *)ctx)->committed = true; }
static void tgt_abort(void *ctx, bool in_doubt)
{
    struct fake_tgt *t = ctx;
    t->in_doubt = in_doubt;
    t->aborted = !in_doubt;
    t->shell = in_doubt;
}
static const struct mig_target_ops tops = {.offer = tgt_offer, .page = tgt_page, .vcpu = tgt_vcpu, .uart = tgt_uart,
                                           .commit = tgt_commit, .abort = tgt_abort};

static _Alignas(8) uint8_t sout[MIG_OUT_CAP], sin[MIG_IN_CAP], tout[MIG_OUT_CAP], tin[MIG_IN_CAP];
static struct mig_session S, T;
static struct fake_src fs;
static struct fake_tgt ft;

/* Moves bytes both ways in chunks of up to `chunk`; cuts the link after
 * `cut` bytes source->target (0: never), corrupts byte `flip` (0: none). */
static void run(const char *spw, const char *tpw, size_t chunk, uint64_t cut, uint64_t flip)
{
    uint8_t nonce_s[32] = {1}, nonce_t[32] = {2};
    memset(&fs.handed_over, 0, sizeof(fs.handed_over));
    memset(&ft, 0, sizeof(ft));
    ft.want_mem = 4 << 20;
    mig_source_init(&S, &sops, &fs, spw, "a", nonce_s, sout, sin);
    mig_target_init(&T, &tops, &ft, tpw, "b", nonce_t, tout, tin);
    uint64_t sent = 0;
    for (int rounds = 0; rounds < 1000000; rounds++) {
        const uint8_t *p;
        size_t n = mig_peek(&S, &p), m;
        if (n > chunk)
            n = chunk;
        if (cut && sent + n > cut)
            n = cut - sent;
        if (n) {
            static _Alignas(8) uint8_t tmp[MIG_OUT_CAP];
            memcpy(tmp, p, n);
            if (flip > sent && flip <= sent + n)
                tmp[flip - sent - 1] ^= 0x40;
            mig_consume(&T, tmp, n);
            mig_advance(&S, n);
            sent += n;
        }
        m = mig_peek(&T, &p);
        if (m) {
            mig_consume(&S, p, m);
            mig_advance(&T, m);
        }
        if (cut && sent == cut) { /* the link is gone: both sides notice */
            mig_fail(&S, MIG_ERR_INTERNAL, "link lost");
            mig_fail(&T, MIG_ERR_INTERNAL, "link lost");
            return;
        }
        if (mig_finished(&S) && mig_finished(&T))
            return;
        if (!n && !m)
            return; /* stalled: a bug, checked by the caller */
    }
}

int main(void)
{
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
    uint8_t n1[32] = {1}, n2[32] = {2};
    mig_source_init(&S, &sops, &fs, "", "a", n1, sout, sin);
    mig_target_init(&T, &tops, &ft, "", "b", n2, tout, tin);
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

    /* The link cut at every offset (in steps): never lost, never twice. */
    unsigned lost = 0, twice = 0, doubt = 0, done = 0;
    for (uint64_t cut = 1; cut <= total; cut += cut < 400 ? 1 : 3001) {
        run("pw", "pw", 1500, cut, 0);
        bool source_runs = !fs.handed_over;
        bool target_runs = ft.committed;
        bool target_holds = ft.committed || ft.in_doubt;
        if (!source_runs && !target_holds)
            lost++;
        if (source_runs && target_runs)
            twice++;
        if (source_runs && ft.in_doubt)
            doubt++;
        done += target_runs;
        CHECK(source_runs || target_holds);
        CHECK(!(source_runs && (target_runs || ft.shell) && !ft.in_doubt));
    }
    CHECK_U64(lost, 0);
    CHECK_U64(twice, 0);
    (void)doubt;
    (void)done;
    return check_report("test_session");
}
