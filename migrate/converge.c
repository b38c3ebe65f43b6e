/* The convergence model of live pre-copy migration: the rules are in
 * include/hopvm/mig_converge.h. Pure: no clock, no I/O, no floating point
 * (the VMM has none). Products that can pass 2^64 (bytes * 10^9) go
 * through mul_div64's 128-bit intermediate, the core having no compiler
 * runtime for a 128-bit division; every result saturates. */
#include <hopvm/lib.h>
#include <hopvm/mig_converge.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define PCT 100u
#define BYTES_PER_TENTH_MB 100000ull /* MB/s in tenths: 10^6 / 10 */
#define TENTHS 10u
#define ROUND_DOWN 0
#define ROUND_UP 1

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

void mig_conv_init(struct mig_conv *c, const struct mig_conv_params *p, uint64_t state_bytes, uint64_t rtt_ns)
{
    memset(c, 0, sizeof(*c));
    if (p)
        c->p = *p;
    if (!c->p.downtime_ns)
        c->p.downtime_ns = MIG_CONV_DEFAULT_DOWNTIME_NS;
    if (!c->p.max_rounds)
        c->p.max_rounds = MIG_CONV_DEFAULT_MAX_ROUNDS;
    /* With no_throttle, GIVE_UP must come before the hard cap's FINISH:
     * the operator asked not to be surprised by a long pause. */
    c->p.max_rounds = MIN(c->p.max_rounds, MIG_CONV_HARD_ROUNDS);
    c->state_bytes = state_bytes;
    c->rtt_ns = rtt_ns;
    c->best_dirty = UINT64_MAX;
    c->expected_downtime_ns = UINT64_MAX;
}

uint64_t mig_conv_expected_downtime_ns(const struct mig_conv *c, uint64_t dirty_pages)
{
    if (!c->link_Bps)
        return UINT64_MAX;
    /* The pages and the state, each rounded up so a pause is never
     * promised shorter than it will be (the sum is at most 1 ns over the
     * exact figure); each is non-decreasing, so their sum is too. */
    uint64_t pages_ns = mul_div64(dirty_pages, (uint64_t)MIG_CONV_PAGE_SIZE * NS_PER_S, c->link_Bps, ROUND_UP);
    uint64_t state_ns = mul_div64(c->state_bytes, NS_PER_S, c->link_Bps, ROUND_UP);
    return add_sat(add_sat(pages_ns, state_ns), c->rtt_ns);
}

/* Rule 1: pool the round; once the pool is a fair sample, fold it in. */
static void measure_link(struct mig_conv *c, uint64_t bytes, uint64_t ns)
{
    c->pool_bytes = add_sat(c->pool_bytes, bytes);
    c->pool_ns = add_sat(c->pool_ns, ns);
    if (c->pool_ns < MIG_CONV_SAMPLE_MIN_NS || c->pool_bytes < MIG_CONV_SAMPLE_MIN_BYTES)
        return;
    uint64_t sample = mul_div64(c->pool_bytes, NS_PER_S, c->pool_ns, ROUND_DOWN);
    c->pool_bytes = c->pool_ns = 0;
    if (!sample) /* under 1 byte/s: below the resolution, not a link */
        return;
    /* Halfway from the estimate to the sample: floor((a + b) / 2) without
     * the sum's overflow. */
    uint64_t old = c->link_Bps ? c->link_Bps : sample;
    c->link_Bps = old / 2 + sample / 2 + (old & sample & 1);
}

/* Rule 4: below MIG_CONV_PROGRESS_PCT of the best so far. */
static bool progress(const struct mig_conv *c, uint64_t dirty)
{
    return (unsigned __int128)dirty * PCT < (unsigned __int128)c->best_dirty * MIG_CONV_PROGRESS_PCT;
}

enum mig_conv_decision mig_conv_round_end(struct mig_conv *c, uint64_t round_bytes, uint64_t round_ns,
                                          uint64_t dirty_pages, uint64_t dirty_window_ns)
{
    uint32_t ended = c->round; /* the round being reported */
    if (c->round < UINT32_MAX)
        c->round++;
    c->total_bytes = add_sat(c->total_bytes, round_bytes);
    c->total_ns = add_sat(c->total_ns, round_ns);
    c->capped = false;

    measure_link(c, round_bytes, round_ns);
    if (dirty_window_ns)
        c->dirty_Bps = mul_div64(dirty_pages, (uint64_t)MIG_CONV_PAGE_SIZE * NS_PER_S, dirty_window_ns, ROUND_DOWN);
    c->dirty_pages = dirty_pages;
    c->expected_downtime_ns = mig_conv_expected_downtime_ns(c, dirty_pages);

    /* Rule 3. An unmeasured link's UINT64_MAX is "unknown", not a
     * number a UINT64_MAX target could accept. Rule 3a: while a round
     * still halves what is left, one more costs little and shortens the
     * pause. */
    if (!dirty_pages)
        return CONV_FINISH;
    if (c->link_Bps && c->expected_downtime_ns <= c->p.downtime_ns) {
        uint64_t sent_pages = round_bytes / MIG_CONV_PAGE_SIZE;
        if (dirty_pages * 2 <= sent_pages && c->polish < MIG_CONV_POLISH_ROUNDS &&
            (uint64_t)ended + 1 < MIG_CONV_HARD_ROUNDS && !(c->p.no_throttle && (uint64_t)ended + 1 >= c->p.max_rounds)) {
            c->polish++;
            c->best_dirty = MIN(c->best_dirty, dirty_pages);
            return CONV_NEXT_ROUND;
        }
        return CONV_FINISH;
    }

    /* Rule 4. */
    if (progress(c, dirty_pages))
        c->stalled = 0;
    else if (c->stalled < UINT32_MAX)
        c->stalled++;
    c->best_dirty = MIN(c->best_dirty, dirty_pages);

    /* Rule 5, without throttling. */
    if (c->p.no_throttle && (uint64_t)ended + 1 >= c->p.max_rounds)
        return CONV_GIVE_UP;
    /* Rule 6. */
    if ((uint64_t)ended + 1 >= MIG_CONV_HARD_ROUNDS) {
        c->capped = true;
        return CONV_FINISH;
    }
    /* Rule 5, throttling. */
    if (!c->p.no_throttle && c->stalled >= MIG_CONV_STALL_ROUNDS && c->throttle_pct < MIG_CONV_THROTTLE_MAX) {
        c->throttle_pct = c->throttle_pct ? MIN(c->throttle_pct + MIG_CONV_THROTTLE_STEP, MIG_CONV_THROTTLE_MAX)
                                          : MIG_CONV_THROTTLE_INITIAL;
        c->stalled = 0;
        return CONV_THROTTLE;
    }
    return CONV_NEXT_ROUND;
}

/* "12.3 MB/s", rounded to the nearest tenth. */
static void fmt_rate(char *buf, size_t n, uint64_t Bps)
{
    uint64_t t = Bps / BYTES_PER_TENTH_MB + (Bps % BYTES_PER_TENTH_MB >= BYTES_PER_TENTH_MB / 2);
    ksnprintf(buf, n, "%llu.%llu MB/s", (unsigned long long)(t / TENTHS), (unsigned long long)(t % TENTHS));
}

#define RATE_LEN 32 /* "18446744073709.6 MB/s" and its NUL, with room */

void mig_conv_give_up_reason(const struct mig_conv *c, char *buf, size_t n)
{
    char dirty[RATE_LEN], link[RATE_LEN];
    if (!n)
        return;
    fmt_rate(dirty, sizeof(dirty), c->dirty_Bps);
    if (!c->link_Bps) {
        ksnprintf(buf, n, "guest dirties %s, link not measured yet: use --downtime, throttling or --offline",
                  dirty);
        return;
    }
    fmt_rate(link, sizeof(link), c->link_Bps);
    ksnprintf(buf, n, "guest dirties %s, link moves %s, pause would be %llu ms (target %llu): "
              "use --downtime, throttling or --offline", dirty, link,
              (unsigned long long)(c->expected_downtime_ns / NS_PER_MS),
              (unsigned long long)(c->p.downtime_ns / NS_PER_MS));
}
