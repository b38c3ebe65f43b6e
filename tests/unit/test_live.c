/* Live (pre-copy) teleport end to end in memory: a source session whose
 * fake guest keeps writing pages while rounds go out, a target session,
 * and a simulated clock and link (migrate/source.c, target.c,
 * converge.c). Checks that the target ends with exactly the source's
 * memory however the rounds fall, that rounds shrink and the final one
 * runs paused, that a guest faster than the link is throttled (or, with
 * no_throttle, the teleport gives up and nothing moves), and that cutting
 * the link anywhere inside every round loses nothing and runs nothing
 * twice. */
#include "check.h"
#include <hopvm/bitmap.h>
#include <hopvm/mig_session.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 512 /* 2 MiB */
#define NS_PER_BYTE 100 /* the simulated link: 10 MB/s */

struct guest {
    uint8_t ram[PAGES * 4096];
    uint64_t dirty[BITMAP_WORDS(PAGES)];
    bool logging, paused, handed_over;
    unsigned throttle, throttle_calls, pauses;
    uint64_t now;          /* ns */
    uint64_t last_write;   /* ns: writes happen at the guest's rate up to now */
    uint64_t pages_per_s;  /* the guest's dirty rate */
    uint64_t writes, rng;
};
struct shell {
    uint8_t ram[PAGES * 4096];
    bool shell, committed, in_doubt, final_seen;
};

static struct guest G;
static struct shell H;

/* The guest runs until the clock's now: it rewrites pages at its rate,
 * slowed by the throttle, and never while paused. */
static void guest_run(void)
{
    if (G.paused || !G.pages_per_s) {
        G.last_write = G.now;
        return;
    }
    uint64_t rate = G.pages_per_s * (100 - G.throttle) / 100;
    uint64_t due = (G.now - G.last_write) * rate / 1000000000ull;
    if (!due)
        return;
    G.last_write = G.now;
    while (due--) {
        G.rng = G.rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t g = (G.rng >> 33) % PAGES;
        memset(G.ram + g * 4096, (int)(G.writes++ & 0xff) | 1, 4096);
        if (G.logging)
            bitmap_set(G.dirty, g);
    }
}

static void describe(void *ctx, struct mig_vmdef *d)
{
    (void)ctx;
    memset(d, 0, sizeof(*d));
    strcpy(d->name, "memtouch");
    d->memory = PAGES * 4096;
    d->vcpus = 1;
    strcpy(d->kernel, "memtouch.elf");
    strcpy(d->source_host, "a");
    strcpy(d->backend, "svm");
}
static const uint8_t *src_page(void *ctx, uint64_t g) { (void)ctx; return G.ram + g * 4096; }
static void src_vcpu(void *ctx, unsigned i, struct mig_vcpu *v)
{
    (void)ctx;
    memset(v, 0, sizeof(*v));
    v->index = i;
    v->s.cr0 = 0x11;
}
static void src_uart(void *ctx, struct mig_uart *u) { (void)ctx; memset(u, 0, sizeof(*u)); }
static void src_handed_over(void *ctx) { (void)ctx; G.handed_over = true; }
static void src_pause(void *ctx) { (void)ctx; guest_run(); G.paused = true; G.pauses++; }
static int src_log_start(void *ctx, char *e, size_t n) { (void)ctx, (void)e, (void)n; G.logging = true; return 0; }
static uint64_t src_harvest(void *ctx, uint64_t *bm)
{
    (void)ctx;
    guest_run();
    return bitmap_fetch_clear(bm, G.dirty, PAGES);
}
static void src_throttle(void *ctx, unsigned pct) { (void)ctx; guest_run(); G.throttle = pct; G.throttle_calls++; }
static uint64_t src_now(void *ctx) { (void)ctx; return G.now; }
static const struct mig_source_ops sops = {
    .describe = describe, .page = src_page, .vcpu = src_vcpu, .uart = src_uart, .handed_over = src_handed_over,
    .pause = src_pause, .log_start = src_log_start, .harvest = src_harvest, .throttle = src_throttle,
    .now_ns = src_now,
};

static int tgt_offer(void *ctx, const struct mig_vmdef *d, char *r, size_t n)
{
    (void)d, (void)r, (void)n;
    ((struct shell *)ctx)->shell = true;
    return 0;
}
static uint8_t *tgt_page(void *ctx, uint64_t g) { return ((struct shell *)ctx)->ram + g * 4096; }
static int tgt_vcpu(void *ctx, const struct mig_vcpu *v, char *e, size_t n) { (void)ctx, (void)v, (void)e, (void)n; return 0; }
static int tgt_uart(void *ctx, const struct mig_uart *u, char *e, size_t n) { (void)ctx, (void)u, (void)e, (void)n; return 0; }
static void tgt_final(void *ctx) { ((struct shell *)ctx)->final_seen = true; }
static void tgt_commit(void *ctx) { ((struct shell *)ctx)->committed = true; }
static void tgt_abort(void *ctx, bool in_doubt)
{
    struct shell *h = ctx;
    h->in_doubt = in_doubt;
    h->shell = in_doubt;
}
static const struct mig_target_ops tops = {.offer = tgt_offer, .page = tgt_page, .vcpu = tgt_vcpu, .uart = tgt_uart,
                                           .final_round = tgt_final, .commit = tgt_commit, .abort = tgt_abort};

static _Alignas(8) uint8_t sout[MIG_OUT_CAP], sin[MIG_IN_CAP], tout[MIG_OUT_CAP], tin[MIG_IN_CAP];
static struct mig_session S, T;
static uint64_t send_map[BITMAP_WORDS(PAGES)];
/* Source->target bytes at which each round began (ROUND records seen). */
static uint64_t round_at[64];
static unsigned nround_at;

/* Runs a live teleport with the guest dirtying rate pages/s; cuts the link
 * after `cut` bytes source->target (0: never). */
static void run(uint64_t rate, bool no_throttle, uint32_t max_rounds, uint64_t cut)
{
    memset(&G.dirty, 0, sizeof(G.dirty));
    G.logging = G.paused = G.handed_over = false;
    G.throttle = G.throttle_calls = G.pauses = 0;
    G.now = G.last_write = 1000000000ull;
    G.pages_per_s = rate;
    memset(&H, 0, sizeof(H));
    memset(send_map, 0, sizeof(send_map));
    nround_at = 0;
    static uint8_t rs[MIG_RANDOM_LEN] = {1}, rt[MIG_RANDOM_LEN] = {2};
    rs[40]++, rt[40]++;
    mig_source_init(&S, &sops, NULL, &(struct mig_params){.password = "pw", .host = "a", .random = rs,
                                                          .kdf_iterations = 2}, sout, sin);
    mig_source_live(&S, &(struct mig_live_params){.downtime_ns = 20000000, .max_rounds = max_rounds,
                                                  .no_throttle = no_throttle}, send_map);
    mig_target_init(&T, &tops, &H, &(struct mig_params){.password = "pw", .host = "b", .random = rt,
                                                         .kdf_iterations = 2}, tout, tin);
    uint64_t sent = 0;
    uint32_t rounds_seen = 0;
    for (int i = 0; i < 10000000; i++) {
        const uint8_t *p;
        size_t n = mig_peek(&S, &p), m;
        n = n > 1500 ? 1500 : n; /* a segment at a time */
        if (cut && sent + n > cut)
            n = (size_t)(cut - sent);
        if (n) {
            static _Alignas(8) uint8_t tmp[MIG_OUT_CAP];
            memcpy(tmp, p, n);
            mig_consume(&T, tmp, n);
            mig_advance(&S, n);
            sent += n;
            G.now += n * NS_PER_BYTE;
            guest_run();
        }
        if (T.st.rounds != rounds_seen && nround_at < 64) {
            rounds_seen = T.st.rounds;
            round_at[nround_at++] = sent;
        }
        m = mig_peek(&T, &p);
        if (m) {
            mig_consume(&S, p, m);
            mig_advance(&T, m);
        }
        if (cut && sent == cut) {
            mig_fail(&S, MIG_ERR_INTERNAL, "link lost");
            mig_fail(&T, MIG_ERR_INTERNAL, "link lost");
            return;
        }
        if (mig_finished(&S) && mig_finished(&T))
            return;
        if (!n && !m)
            return;
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof(G.ram); i++)
        G.ram[i] = (i / 4096) % 4 ? (uint8_t)(i * 13 + 5) : 0;

    /* A guest that dirties 200 pages/s (0.8 MB/s) on a 10 MB/s link:
     * converges in a few rounds, the copy is exact, the final round ran
     * paused and the target knew it. */
    run(200, false, 30, 0);
    if (S.phase != MIG_DONE)
        fprintf(stderr, "source %s: %s; target %s: %s\n", mig_phase_name(S.phase), S.error, mig_phase_name(T.phase),
                T.error);
    CHECK(S.phase == MIG_DONE && T.phase == MIG_DONE && G.handed_over && H.committed);
    CHECK(!memcmp(G.ram, H.ram, sizeof(G.ram)));
    CHECK(S.st.rounds >= 2 && S.st.rounds == T.st.rounds);
    CHECK(G.pauses == 1 && H.final_seen && S.st.final_round);
    CHECK(G.writes > 0);
    CHECK_U64(S.st.round_pages[0], PAGES);
    for (uint32_t r = 0; r < S.st.rounds && r < MIG_ROUND_LOG; r++)
        CHECK_U64(S.st.round_pages[r], T.st.round_pages[r]);
    CHECK(S.st.round_pages[S.st.rounds - 1] < PAGES / 4); /* the pause moved little */
    CHECK(G.throttle == 0);
    CHECK(S.st.expected_downtime_ns <= 20000000);
    uint64_t total = S.st.bytes_out;
    unsigned good_rounds = S.st.rounds;
    uint64_t bounds[64];
    unsigned nb = nround_at;
    memcpy(bounds, round_at, sizeof(bounds));

    /* A guest still; nothing dirty after round 0: two rounds, the second empty. */
    run(0, false, 30, 0);
    CHECK(S.phase == MIG_DONE && !memcmp(G.ram, H.ram, sizeof(G.ram)));
    CHECK_U64(S.st.rounds, 2);
    CHECK_U64(S.st.round_pages[1], 0);

    /* Faster than the link (20000 pages/s = 80 MB/s): throttled step by
     * step until it converges; the copy is still exact. */
    run(20000, false, 30, 0);
    CHECK(S.phase == MIG_DONE && !memcmp(G.ram, H.ram, sizeof(G.ram)));
    CHECK(G.throttle_calls >= 1 && G.throttle >= 20 && S.st.throttle_pct == G.throttle);

    /* The same with no_throttle: gives up after max_rounds, says why in
     * numbers, nothing was handed over, the target freed its shell. */
    run(20000, true, 5, 0);
    CHECK(S.phase == MIG_FAILED && S.error_code == MIG_ERR_CONVERGE);
    CHECK(strstr(S.error, "MB/s") && strstr(S.error, "--offline"));
    CHECK(!G.handed_over && !G.paused && G.throttle_calls == 0 && !H.shell && !H.committed);
    CHECK(T.phase == MIG_FAILED && T.error_code == MIG_ERR_CONVERGE);
    CHECK_U64(S.st.rounds, 5);

    /* Cuts: around every round boundary of the first run and at steps
     * through every round, the guest is never lost and never runs twice;
     * before the final round the source guest was never paused. */
    CHECK(nb == good_rounds);
    unsigned lost = 0, twice = 0, cuts = 0, paused_early = 0;
    for (unsigned r = 0; r < nb; r++) {
        uint64_t from = bounds[r] > 64 ? bounds[r] - 64 : 1;
        uint64_t to = r + 1 < nb ? bounds[r + 1] : total;
        for (uint64_t cut = from; cut <= to; cut += cut < bounds[r] + 64 ? 7 : 997) {
            run(200, false, 30, cut);
            bool source_runs = !G.handed_over, target_runs = H.committed, target_holds = H.committed || H.in_doubt;
            lost += !source_runs && !target_holds;
            twice += source_runs && target_runs;
            paused_early += G.paused && T.st.rounds < good_rounds && !H.final_seen && r + 1 < nb && cut < bounds[nb - 1];
            CHECK(!(source_runs && H.shell && !H.in_doubt));
            cuts++;
        }
    }
    CHECK(cuts > 100);
    CHECK_U64(lost, 0);
    CHECK_U64(twice, 0);
    CHECK_U64(paused_early, 0);
    printf("live: %u rounds, %lu bytes; %u cuts\n", good_rounds, (unsigned long)total, cuts);
    return check_report("test_live");
}
