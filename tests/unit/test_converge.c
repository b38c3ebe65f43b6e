/* The live-migration convergence model (migrate/converge.c): the rules of
 * include/hopvm/mig_converge.h as properties over many inputs — random
 * streams of rounds, extreme values, and a simulated guest and link over a
 * grid of speeds and working sets — rather than a few samples. */
#include "check.h"
#include <hopvm/lib.h>
#include <hopvm/mig_converge.h>
#include <hopvm/stream.h>

#define MS 1000000ull
#define SEC 1000000000ull
#define PAGE MIG_CONV_PAGE_SIZE
#define STATE_BYTES (128 * 1024ull)
#define RTT_NS (1 * MS)

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
/* Mostly ordinary values, often the edges. */
static uint64_t rnd_val(uint64_t typical)
{
    switch (rnd() % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT64_MAX;
    case 3: return rnd();
    default: return rnd() % (typical + 1);
    }
}

static struct mig_conv conv(uint64_t downtime_ns, uint32_t max_rounds, bool no_throttle)
{
    struct mig_conv c;
    mig_conv_init(&c, &(struct mig_conv_params){downtime_ns, max_rounds, no_throttle}, STATE_BYTES, RTT_NS);
    return c;
}

static void test_defaults(void)
{
    struct mig_conv c;
    mig_conv_init(&c, NULL, 0, 0);
    CHECK_U64(c.p.downtime_ns, 300 * MS);
    CHECK_U64(c.p.max_rounds, 30);
    CHECK(!c.p.no_throttle && c.round == 0 && c.link_Bps == 0 && c.throttle_pct == 0);
    CHECK_U64(c.expected_downtime_ns, UINT64_MAX);
    c = conv(0, 0, true);
    CHECK(c.p.downtime_ns == 300 * MS && c.p.max_rounds == 30 && c.p.no_throttle);
    c = conv(5 * MS, UINT32_MAX, true);
    CHECK(c.p.downtime_ns == 5 * MS && c.p.max_rounds == MIG_CONV_HARD_ROUNDS);
}

/* A link of link_Bps measured by one long round (nothing dirty is no
 * use here: that finishes). */
static void measure(struct mig_conv *c, uint64_t link_Bps, uint64_t dirty)
{
    mig_conv_round_end(c, link_Bps, SEC, dirty, SEC);
}

static void test_link_estimate(void)
{
    struct mig_conv c = conv(0, 0, false);
    /* Rounds with no time or no bytes, alone or pooled: nothing measured,
     * nothing divided by zero, no FINISH. */
    const uint64_t zeros[][2] = {{0, 0}, {0, SEC}, {1000, 0}, {0, UINT64_MAX}};
    for (size_t i = 0; i < ARRAY_SIZE(zeros); i++) {
        CHECK(mig_conv_round_end(&c, zeros[i][0], zeros[i][1], 1000, 0) != CONV_FINISH);
        CHECK_U64(c.link_Bps, 0);
    }
    c = conv(0, 0, false);
    measure(&c, 30000000, 1000);
    CHECK_U64(c.link_Bps, 30000000);
    /* A short round (< 5 ms) is no sample on its own... */
    mig_conv_round_end(&c, 1000000, MIG_CONV_SAMPLE_MIN_NS - 1, 1000, SEC);
    CHECK_U64(c.link_Bps, 30000000);
    /* ...but pooled with the next, 2 MB in 5 ms is; the estimate moves
     * halfway to it. */
    mig_conv_round_end(&c, 1000000, 1, 1000, SEC);
    uint64_t want = (30000000 + 2000000 * SEC / MIG_CONV_SAMPLE_MIN_NS) / 2;
    CHECK_U64(c.link_Bps, want);
    CHECK(c.pool_bytes == 0 && c.pool_ns == 0);
    /* Likewise a small round (< 64 KiB) and the byte that completes it. */
    mig_conv_round_end(&c, MIG_CONV_SAMPLE_MIN_BYTES - 1, SEC, 1000, SEC);
    CHECK_U64(c.link_Bps, want);
    mig_conv_round_end(&c, 1, MS, 1000, SEC);
    CHECK_U64(c.link_Bps, (want + MIG_CONV_SAMPLE_MIN_BYTES * SEC / (SEC + MS)) / 2);
    /* Each sample moves the estimate halfway: it reaches a new rate. */
    for (int i = 0; i < 64; i++)
        measure(&c, 80000000, 1000);
    CHECK(c.link_Bps >= 80000000 - 1 && c.link_Bps <= 80000000 + 1);
    for (int i = 0; i < 64; i++)
        measure(&c, 20000000, 1000);
    CHECK(c.link_Bps >= 20000000 - 1 && c.link_Bps <= 20000000 + 1);
    /* Extremes saturate: 2^64-1 bytes in 5 ms. */
    c = conv(0, 0, false);
    mig_conv_round_end(&c, UINT64_MAX, MIG_CONV_SAMPLE_MIN_NS, 1, 1);
    CHECK_U64(c.link_Bps, UINT64_MAX);
    CHECK_U64(c.dirty_Bps, (uint64_t)PAGE * SEC);
    mig_conv_round_end(&c, UINT64_MAX, UINT64_MAX, UINT64_MAX, 1);
    CHECK(c.link_Bps > 0 && c.dirty_Bps == UINT64_MAX);
    CHECK_U64(c.total_bytes, UINT64_MAX);
    CHECK_U64(c.total_ns, UINT64_MAX);
}

static void test_dirty_rate(void)
{
    struct mig_conv c = conv(0, 0, false);
    mig_conv_round_end(&c, 30000000, SEC, 20000, 1024 * MS);
    CHECK_U64(c.dirty_Bps, 80000000);
    /* A zero window keeps the rate it had. */
    mig_conv_round_end(&c, 30000000, SEC, 50000, 0);
    CHECK_U64(c.dirty_Bps, 80000000);
    CHECK_U64(c.dirty_pages, 50000);
}

/* Nothing dirty finishes in every state; before the link is measured,
 * nothing else does (the hard cap aside). */
static void test_zero_dirty_finishes(void)
{
    struct mig_conv c = conv(0, 0, false);
    CHECK(mig_conv_round_end(&c, 0, 0, 0, 0) == CONV_FINISH);
    c = conv(1, 1, true); /* a 1 ns target, the last round allowed */
    CHECK(mig_conv_round_end(&c, 100, 100, 0, 100) == CONV_FINISH);
    /* Throttled to the maximum, at the last round but one before the cap. */
    c = conv(1, 0, false);
    for (unsigned i = 0; i + 1 < MIG_CONV_HARD_ROUNDS; i++)
        mig_conv_round_end(&c, 1000000, SEC, 100, SEC);
    CHECK_U64(c.throttle_pct, MIG_CONV_THROTTLE_MAX);
    CHECK(mig_conv_round_end(&c, 1000000, SEC, 0, SEC) == CONV_FINISH && !c.capped);
    /* Nothing dirty but state and round trip over the target: pre-copy
     * cannot shorten the pause further, so it finishes all the same. */
    c = conv(1, 0, true);
    measure(&c, 100000, 5);
    CHECK(c.link_Bps == 100000 && c.expected_downtime_ns > 1);
    CHECK(mig_conv_round_end(&c, 100000, SEC, 0, SEC) == CONV_FINISH);
}

static void test_expected_downtime(void)
{
    struct mig_conv c = conv(0, 0, false);
    CHECK_U64(mig_conv_expected_downtime_ns(&c, 0), UINT64_MAX); /* link unknown */
    const uint64_t links[] = {1, 4096, 1000000, 125000000, 12500000000ull, UINT64_MAX / 3, UINT64_MAX};
    const uint64_t states[] = {0, 1, STATE_BYTES, UINT64_MAX};
    const uint64_t rtts[] = {0, RTT_NS, UINT64_MAX};
    for (size_t l = 0; l < ARRAY_SIZE(links); l++)
        for (size_t s = 0; s < ARRAY_SIZE(states); s++)
            for (size_t r = 0; r < ARRAY_SIZE(rtts); r++) {
                mig_conv_init(&c, NULL, states[s], rtts[r]);
                c.link_Bps = links[l];
                uint64_t prev = 0, d = 0;
                bool mono = true;
                /* 0, 1, 2, 3, then growing by about a third up to 2^64-1. */
                for (int i = 0; i < 200; i++) {
                    uint64_t t = mig_conv_expected_downtime_ns(&c, d);
                    mono &= t >= prev && t >= rtts[r];
                    prev = t;
                    if (d == UINT64_MAX)
                        break;
                    d = d > UINT64_MAX - d / 3 - 1 ? UINT64_MAX : d + d / 3 + 1;
                }
                CHECK(mono);
            }
    /* Never below the exact figure, at most 1 ns above. */
    bool close = true;
    for (int i = 0; i < 100000; i++) {
        mig_conv_init(&c, NULL, rnd_val(1ull << 40), rnd_val(SEC));
        c.link_Bps = rnd_val(1ull << 34) | 1;
        uint64_t d = rnd_val(1ull << 40);
        unsigned __int128 bytes = (unsigned __int128)d * PAGE + c.state_bytes;
        unsigned __int128 exact = (bytes * SEC + c.link_Bps - 1) / c.link_Bps + c.rtt_ns;
        uint64_t t = mig_conv_expected_downtime_ns(&c, d);
        close &= exact >= UINT64_MAX ? t == UINT64_MAX : t >= exact && t <= exact + 1;
    }
    CHECK(close);
    /* The formula, rounded up: (100 pages + 128 KiB) at 1 MB/s + 1 ms. */
    c = conv(0, 0, false);
    c.link_Bps = 1000000;
    CHECK_U64(mig_conv_expected_downtime_ns(&c, 100), (100 * PAGE + STATE_BYTES) * 1000 + RTT_NS);
    c.link_Bps = 3;
    CHECK_U64(mig_conv_expected_downtime_ns(&c, 0), (STATE_BYTES * SEC + 2) / 3 + RTT_NS);
}

/* A guest that rewrites the same working set every round, on a link too
 * slow to ever fit it in the target: three rounds without progress, then
 * a throttle step, 20, 30, ... 90, 99; then rounds until the hard cap. */
static void test_throttle_steps(void)
{
    const uint64_t sets[] = {1000, 65536, 1u << 22};
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
        struct mig_conv c = conv(1 * MS, 0, false);
        uint32_t want_pct = 0, since_step = 0;
        bool ok = true;
        for (unsigned i = 0; i < MIG_CONV_HARD_ROUNDS; i++) {
            enum mig_conv_decision d = mig_conv_round_end(&c, 10000000, SEC, sets[s], SEC);
            ok &= c.round == i + 1;
            if (i + 1 == MIG_CONV_HARD_ROUNDS) {
                ok &= d == CONV_FINISH && c.capped;
                break;
            }
            /* Round 0 is progress (nothing to compare with); every later
             * round is not. */
            bool step = i > 0 && since_step == MIG_CONV_STALL_ROUNDS - 1 && want_pct < MIG_CONV_THROTTLE_MAX;
            if (step) {
                want_pct = want_pct ? MIN(want_pct + MIG_CONV_THROTTLE_STEP, MIG_CONV_THROTTLE_MAX)
                                    : MIG_CONV_THROTTLE_INITIAL;
                since_step = 0;
            } else if (i > 0) {
                since_step++;
            }
            ok &= d == (step ? CONV_THROTTLE : CONV_NEXT_ROUND) && c.throttle_pct == want_pct && !c.capped;
        }
        CHECK(ok);
        CHECK_U64(c.throttle_pct, 99);
    }
    /* The first steps, spelled out. */
    struct mig_conv c = conv(1 * MS, 0, false);
    enum mig_conv_decision d[8];
    for (int i = 0; i < 8; i++)
        d[i] = mig_conv_round_end(&c, 10000000, SEC, 5000, SEC);
    CHECK(d[0] == CONV_NEXT_ROUND && d[1] == CONV_NEXT_ROUND && d[2] == CONV_NEXT_ROUND);
    CHECK(d[3] == CONV_THROTTLE && d[4] == CONV_NEXT_ROUND && d[5] == CONV_NEXT_ROUND && d[6] == CONV_THROTTLE);
    CHECK_U64(c.throttle_pct, 30);
    /* Progress (below 90 % of the best) resets the count: of 100, 95, 90,
     * 80 only 80 (< 0.9 * 90) is progress, then three more stalls. */
    c = conv(1 * MS, 0, false);
    const uint64_t seq[] = {100, 95, 90, 80, 80, 79, 78};
    const enum mig_conv_decision want[] = {CONV_NEXT_ROUND, CONV_NEXT_ROUND, CONV_NEXT_ROUND, CONV_NEXT_ROUND,
                                           CONV_NEXT_ROUND, CONV_NEXT_ROUND, CONV_THROTTLE};
    for (size_t i = 0; i < ARRAY_SIZE(seq); i++)
        CHECK(mig_conv_round_end(&c, 1000, SEC, seq[i], SEC) == want[i]);
}

/* With no_throttle: never a throttle, GIVE_UP exactly when max_rounds
 * rounds have ended, and a reason in numbers. */
static void test_give_up(void)
{
    const uint32_t maxes[] = {1, 2, 3, 5, 30, 0 /* default 30 */, 5000 /* the hard cap */};
    for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
        struct mig_conv c = conv(0, maxes[m], true);
        uint32_t want = maxes[m] ? MIN(maxes[m], MIG_CONV_HARD_ROUNDS) : 30;
        bool ok = true;
        for (uint32_t i = 1; i <= want; i++) {
            /* 30 MB/s link, guest 80 MB/s (20000 pages per 1.024 s). */
            enum mig_conv_decision d = mig_conv_round_end(&c, 30000000, SEC, 20000, 1024 * MS);
            ok &= d == (i == want ? CONV_GIVE_UP : CONV_NEXT_ROUND) && c.throttle_pct == 0;
        }
        CHECK(ok);
        CHECK_U64(c.round, want);
    }
    struct mig_conv c = conv(0, 3, true);
    for (int i = 0; i < 3; i++)
        mig_conv_round_end(&c, 30000000, SEC, 20000, 1024 * MS);
    char why[ERROR_REASON_MAX + 1];
    mig_conv_give_up_reason(&c, why, sizeof(why));
    CHECK(strstr(why, "guest dirties 80.0 MB/s") && strstr(why, "link moves 30.0 MB/s"));
    CHECK(strstr(why, "(target 300)") && strstr(why, "--offline") && !strchr(why, '\n'));
    /* Unmeasured link, saturated numbers, tiny buffers: still one line
     * that fits an ERROR record. */
    c = conv(UINT64_MAX, 1, true);
    mig_conv_round_end(&c, 0, 0, UINT64_MAX, 1);
    mig_conv_give_up_reason(&c, why, sizeof(why));
    CHECK(strstr(why, "guest dirties 18446744073709.6 MB/s") && strstr(why, "not measured"));
    c.link_Bps = UINT64_MAX;
    c.expected_downtime_ns = UINT64_MAX;
    mig_conv_give_up_reason(&c, why, sizeof(why));
    CHECK(strlen(why) <= ERROR_REASON_MAX && strstr(why, "link moves 18446744073709.6 MB/s"));
    why[0] = 'x';
    mig_conv_give_up_reason(&c, why, 0);
    CHECK(why[0] == 'x');
    mig_conv_give_up_reason(&c, why, 5);
    CHECK_STR(why, "gues");
    c.dirty_Bps = 49999; /* rounds to the nearest tenth */
    c.link_Bps = 50000;
    mig_conv_give_up_reason(&c, why, sizeof(why));
    CHECK(strstr(why, "dirties 0.0 MB/s") && strstr(why, "moves 0.1 MB/s"));
}

/* Random streams of rounds, edges included: whatever comes in, the
 * counters only move forward, the decisions keep their promises. */
static void test_random_streams(void)
{
    bool ok = true;
    for (int s = 0; s < 3000; s++) {
        bool nt = rnd() & 1;
        struct mig_conv c = conv(rnd_val(SEC), (uint32_t)rnd_val(40), nt);
        for (unsigned i = 0; i <= MIG_CONV_HARD_ROUNDS; i++) {
            struct mig_conv o = c;
            uint64_t dirty = rnd_val(1u << 20);
            enum mig_conv_decision d = mig_conv_round_end(&c, rnd_val(1u << 30), rnd_val(SEC), dirty, rnd_val(SEC));
            ok &= c.round == o.round + 1 && c.throttle_pct >= o.throttle_pct &&
                  c.throttle_pct <= MIG_CONV_THROTTLE_MAX && c.total_bytes >= o.total_bytes &&
                  c.total_ns >= o.total_ns && c.best_dirty <= o.best_dirty;
            ok &= (d == CONV_THROTTLE) == (c.throttle_pct != o.throttle_pct);
            ok &= !(nt && d == CONV_THROTTLE) && !(!nt && d == CONV_GIVE_UP);
            ok &= !(nt && c.round > c.p.max_rounds);
            if (d == CONV_FINISH && !c.capped)
                ok &= !dirty || (c.link_Bps && c.expected_downtime_ns <= c.p.downtime_ns);
            if (d == CONV_FINISH || d == CONV_GIVE_UP)
                break;
        }
        ok &= c.round <= MIG_CONV_HARD_ROUNDS;
    }
    CHECK(ok);
}

/* A simulated migration: a link of B bytes/s; a guest of ram pages that
 * dirties D pages/s (less the throttle) within a working set of W pages.
 * Round 0 sends all of RAM, each later round what the previous one left
 * dirty, each taking its bytes / B. */
struct sim {
    enum mig_conv_decision end;
    unsigned rounds;
    struct mig_conv c;
};

static struct sim simulate(double B, double D, uint64_t W, bool no_throttle)
{
    struct sim r = {.c = conv(0, 0, no_throttle)};
    uint64_t send = W + 16384; /* RAM: the working set and more */
    for (;;) {
        double t = (double)send * PAGE / B;
        double rate = D * (100 - r.c.throttle_pct) / 100;
        double want = rate * t; /* pages dirtied, rounded up (no libm here) */
        uint64_t dirty = want >= (double)W ? W : (uint64_t)want + ((double)(uint64_t)want < want);
        uint64_t ns = (uint64_t)(t * SEC);
        r.end = mig_conv_round_end(&r.c, send * PAGE, ns, dirty, ns);
        r.rounds++;
        if (r.end == CONV_FINISH || r.end == CONV_GIVE_UP || r.rounds > MIG_CONV_HARD_ROUNDS)
            return r;
        send = dirty;
    }
}

static void test_simulated_grid(void)
{
    const double links[] = {1e6, 1e7, 1.25e8, 1e9, 1.25e10};
    const double rates[] = {0, 10, 100, 1000, 10000, 30000, 100000, 1e6, 1e7}; /* pages/s */
    const uint64_t sets[] = {1, 256, 4096, 65536, 262144, 1u << 22};
    unsigned runs = 0, converged = 0, capped = 0, gave_up = 0, bad = 0;
    for (size_t b = 0; b < ARRAY_SIZE(links); b++)
        for (size_t d = 0; d < ARRAY_SIZE(rates); d++)
            for (size_t w = 0; w < ARRAY_SIZE(sets); w++)
                for (int nt = 0; nt < 2; nt++) {
                    struct sim r = simulate(links[b], rates[d], sets[w], nt);
                    double ratio = rates[d] * PAGE / links[b];
                    bool fin = r.end == CONV_FINISH && !r.c.capped;
                    bool good = r.rounds <= MIG_CONV_HARD_ROUNDS;
                    /* It converges when the guest dirties slower than the
                     * link: by throttling if it must, or on its own when
                     * twice as slow. */
                    if (ratio < 1 && !nt)
                        good &= fin;
                    /* Throttling makes any guest converge whose rate at
                     * the throttle's maximum is well below the link. */
                    if (ratio * (100 - MIG_CONV_THROTTLE_MAX) / 100 < 0.5 && !nt)
                        good &= fin;
                    if (ratio <= 0.5 && nt)
                        good &= fin && r.rounds <= 30;
                    /* A model FINISH keeps the promise. */
                    if (fin)
                        good &= r.c.dirty_pages == 0 || r.c.expected_downtime_ns <= r.c.p.downtime_ns;
                    if (!good) {
                        bad++;
                        fprintf(stderr, "B %.3g D %.3g W %" PRIu64 " nt %d: end %d after %u rounds, capped %d\n",
                                links[b], rates[d], sets[w], nt, r.end, r.rounds, r.c.capped);
                    }
                    runs++;
                    converged += fin;
                    capped += r.c.capped;
                    gave_up += r.end == CONV_GIVE_UP;
                }
    CHECK_U64(bad, 0);
    printf("simulated %u migrations: %u converged, %u hit the hard cap, %u gave up\n", runs, converged, capped,
           gave_up);
    /* The grid is not trivial: some runs give up, some converge. */
    CHECK(gave_up > 0 && converged > runs / 2);
    /* A guest at a fifth of the link converges within a few rounds, plus
     * at most MIG_CONV_POLISH_ROUNDS that each at least halved the rest. */
    struct sim r = simulate(1.25e8, 1.25e8 / 5 / PAGE, 65536, true);
    CHECK(r.end == CONV_FINISH && !r.c.capped && r.rounds <= 4 + MIG_CONV_POLISH_ROUNDS);
    CHECK(r.c.polish <= MIG_CONV_POLISH_ROUNDS);
    r = simulate(1.25e8, 1.25e8 / 5 / PAGE, 65536, false);
    CHECK(r.end == CONV_FINISH && r.rounds <= 4 + MIG_CONV_POLISH_ROUNDS && r.c.throttle_pct == 0);
    /* Three times the link: throttled until it fits. */
    r = simulate(1.25e8, 3 * 1.25e8 / PAGE, 65536, false);
    CHECK(r.end == CONV_FINISH && !r.c.capped && r.c.throttle_pct >= 70);
}

/* Rule 3a: under the target, another round while the rest still halves;
 * FINISH once it does not, or after MIG_CONV_POLISH_ROUNDS such rounds. */
static void test_polish(void)
{
    struct mig_conv c;
    /* 10 MB/s link, 300 ms target: 1000 dirty pages (4 MB, 400 ms) is over,
     * 100 pages (41 ms) under. */
    mig_conv_init(&c, NULL, 0, 0);
    CHECK(mig_conv_round_end(&c, 10000000, SEC, 1000, SEC) == CONV_NEXT_ROUND);
    /* 1000 pages carried, 100 dirtied: halves, so once more. */
    CHECK(mig_conv_round_end(&c, 1000 * PAGE, 1000 * PAGE * SEC / 10000000, 100, SEC / 2) == CONV_NEXT_ROUND);
    CHECK_U64(c.polish, 1);
    /* 100 carried, 60 dirtied: no longer halves: finish. */
    CHECK(mig_conv_round_end(&c, 100 * PAGE, 100 * PAGE * SEC / 10000000, 60, SEC / 10) == CONV_FINISH);
    /* Always halving: capped at MIG_CONV_POLISH_ROUNDS. */
    mig_conv_init(&c, NULL, 0, 0);
    CHECK(mig_conv_round_end(&c, 10000000, SEC, 4096, SEC) == CONV_NEXT_ROUND);
    uint64_t pages = 4096, rounds = 0;
    enum mig_conv_decision d;
    do {
        uint64_t next = pages / 3 + 1;
        d = mig_conv_round_end(&c, pages * PAGE, pages * PAGE * SEC / 10000000, next, SEC / 10);
        pages = next;
        rounds++;
    } while (d == CONV_NEXT_ROUND && rounds < 50);
    CHECK(d == CONV_FINISH && c.polish == MIG_CONV_POLISH_ROUNDS && !c.capped);
    CHECK(c.expected_downtime_ns <= c.p.downtime_ns);
}

int main(void)
{
    test_polish();
    test_defaults();
    test_link_estimate();
    test_dirty_rate();
    test_zero_dirty_finishes();
    test_expected_downtime();
    test_throttle_steps();
    test_give_up();
    test_random_streams();
    test_simulated_grid();
    return check_report("test_converge");
}
