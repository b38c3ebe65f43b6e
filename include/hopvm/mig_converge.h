/* The convergence model of live (pre-copy) migration (migrate/converge.c):
 * after each pre-copy round the source tells it what the round sent and
 * what the guest dirtied meanwhile, and it answers: another round, pause
 * and finish, slow the guest down, or give up. Pure decision logic, the
 * part of QEMU's migration/ram.c and auto-converge that decides: no I/O,
 * no clock (every time is passed in, in nanoseconds); unit-tested with a
 * simulated guest and link (tests/unit/test_converge.c).
 *
 * The rules, in the order round_end applies them:
 *
 *  1. Link rate (link_Bps): measured from the rounds themselves, bytes over
 *     time. A round shorter than MIG_CONV_SAMPLE_MIN_NS or smaller than
 *     MIG_CONV_SAMPLE_MIN_BYTES is mostly latency and timer granularity:
 *     it is not a sample on its own but pooled with the next rounds until
 *     the pool is big enough (so zero-length rounds divide nothing). Each
 *     sample moves the estimate halfway (an EWMA), since the link's rate
 *     shifts as rounds shrink. Until the first sample link_Bps is 0 and
 *     the expected downtime unknown (UINT64_MAX): the model then never
 *     finishes, except with nothing dirty. QEMU likewise measures the
 *     bandwidth it decides with from the migration itself.
 *  2. Dirty rate (dirty_Bps) = dirty_pages * 4096 / dirty_window_ns; a zero
 *     window leaves it as it was.
 *  3. FINISH when nothing is dirty, or when the expected final pause
 *     (mig_conv_expected_downtime_ns) is within downtime_ns: QEMU's
 *     "pending size <= bandwidth * downtime-limit" test.
 *  3a. Polish: under the target, another round is run while the guest
 *     dirtied at most half of what the round that just ended carried
 *     (the set still halves, so a round costs little and the pause
 *     shrinks), at most MIG_CONV_POLISH_ROUNDS times. QEMU stops at the
 *     first round under its threshold but then sends the rest with no
 *     bandwidth limit; hopvm's link is the limit, so a smaller final
 *     round is the way to a shorter pause.
 *  4. Progress: a round makes progress if its dirty count is below
 *     MIG_CONV_PROGRESS_PCT of the lowest count so far (the first round
 *     always does). After MIG_CONV_STALL_ROUNDS rounds in a row without,
 *     the guest dirties as fast as the link moves — QEMU's auto-converge
 *     counts periods in which the guest dirtied more than half of what
 *     was transferred, and throttles on the second.
 *  5. no_throttle: GIVE_UP once round + 1 >= max_rounds, however the
 *     rounds went (the guest runs on, unharmed; the reason line names the
 *     two rates). Otherwise, when stalled: THROTTLE, as QEMU's
 *     auto-converge steps (cpu-throttle-initial 20 %, +10 % per step,
 *     at most 99 %), and the stall count starts again. The throttle only
 *     ever rises.
 *  6. At MIG_CONV_HARD_ROUNDS rounds: FINISH anyway, with capped set. A
 *     guest at 99 % barely runs and converges long before, so this only
 *     guards against a livelock (a link that never yields a sample, a
 *     round trip above the target); the final round is still complete and
 *     correct, only the pause is longer than the target.
 *
 * Counters (round, throttle_pct, total_bytes, total_ns) never go backwards
 * and saturate instead of wrapping; products that can pass 2^64 (bytes *
 * 10^9) have a 128-bit intermediate, and every result saturates at
 * UINT64_MAX. */
#ifndef HOPVM_MIG_CONVERGE_H
#define HOPVM_MIG_CONVERGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_CONV_PAGE_SIZE 4096u
#define MIG_CONV_DEFAULT_DOWNTIME_NS 300000000ull /* 300 ms */
#define MIG_CONV_DEFAULT_MAX_ROUNDS 30u
#define MIG_CONV_HARD_ROUNDS 1000u                /* rule 6 */
#define MIG_CONV_SAMPLE_MIN_NS 5000000ull         /* 5 ms: rule 1 */
#define MIG_CONV_SAMPLE_MIN_BYTES 65536ull        /* 64 KiB: rule 1 */
#define MIG_CONV_POLISH_ROUNDS 5u                 /* rule 3a */
#define MIG_CONV_PROGRESS_PCT 90u                 /* rule 4 */
#define MIG_CONV_STALL_ROUNDS 3u                  /* rule 4 */
#define MIG_CONV_THROTTLE_INITIAL 20u             /* rule 5, QEMU's defaults */
#define MIG_CONV_THROTTLE_STEP 10u
#define MIG_CONV_THROTTLE_MAX 99u

struct mig_conv_params {
    uint64_t downtime_ns;     /* target for the final pause; 0: the default, 300 ms */
    uint32_t max_rounds;      /* with no_throttle: give up after this many rounds; 0: 30 */
    bool no_throttle;         /* never slow the guest; give up instead */
};

enum mig_conv_decision { CONV_NEXT_ROUND, CONV_FINISH, CONV_THROTTLE, CONV_GIVE_UP };

struct mig_conv {
    struct mig_conv_params p;     /* defaults filled in; max_rounds <= MIG_CONV_HARD_ROUNDS */
    uint64_t state_bytes;         /* vCPU and device state sent during the pause */
    uint64_t rtt_ns;              /* one round trip, added to every pause */
    uint32_t round;               /* the round whose end is reported next (rounds ended so far) */
    uint64_t link_Bps;            /* link estimate, bytes/s; 0: not measured yet */
    uint64_t dirty_Bps;           /* guest dirty rate at the latest harvest, bytes/s */
    uint64_t expected_downtime_ns; /* the pause if it had stopped at the latest harvest */
    uint64_t dirty_pages;         /* dirty at the latest harvest */
    uint64_t best_dirty;          /* lowest dirty count so far; UINT64_MAX before any */
    uint32_t stalled;             /* rounds in a row without progress */
    uint32_t throttle_pct;        /* 0..MIG_CONV_THROTTLE_MAX, never decreases */
    bool capped;                  /* the latest FINISH came from MIG_CONV_HARD_ROUNDS */
    uint32_t polish;              /* rounds run under the target by rule 3a */
    uint64_t total_bytes, total_ns; /* all rounds, saturating */
    uint64_t pool_bytes, pool_ns; /* rounds too short to be a link sample yet */
};

/* p may be NULL (all defaults). state_bytes and rtt_ns go into every
 * expected downtime. */
void mig_conv_init(struct mig_conv *c, const struct mig_conv_params *p, uint64_t state_bytes, uint64_t rtt_ns);

/* Round c->round ended: it put round_bytes on the wire in round_ns; the
 * harvest at its end found dirty_pages pages (4 KiB each) dirtied during
 * dirty_window_ns (the time since the previous harvest). Returns what to
 * do; CONV_THROTTLE means raise the throttle to c->throttle_pct and run
 * another round. */
enum mig_conv_decision mig_conv_round_end(struct mig_conv *c, uint64_t round_bytes, uint64_t round_ns,
                                          uint64_t dirty_pages, uint64_t dirty_window_ns);

/* The final pause if we stopped now: dirty_pages * 4096 / link rate +
 * state_bytes / link rate + rtt, each quotient rounded up (never below the
 * exact figure, at most 1 ns above); UINT64_MAX while the link is
 * unmeasured. Non-decreasing in dirty_pages; saturates. */
uint64_t mig_conv_expected_downtime_ns(const struct mig_conv *c, uint64_t dirty_pages);

/* One line for the operator when CONV_GIVE_UP, in numbers, e.g. "guest
 * dirties 80.0 MB/s, link moves 30.0 MB/s, pause would be 2400 ms (target
 * 300): use --downtime, throttling or --offline". MB = 10^6 bytes. */
void mig_conv_give_up_reason(const struct mig_conv *c, char *buf, size_t n);

#endif
