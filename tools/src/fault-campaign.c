/* fault-campaign: hopvm's own teleport sessions (migrate/) joined in
 * memory by a record-aware wire, with one fault injected per run at every
 * record of every phase, in each direction; prints a table of outcomes.
 * The promise checked: whatever the fault, the guest is never lost and
 * never runs twice (docs/migration-protocol.md, "The hand-over").
 *
 * Faults: the link cut before a record or in its middle, a peer reset
 * (cut, and that side's console says so), a corrupted byte, a dropped,
 * replayed or reordered record, Ctrl-C on either side as the record
 * arrives, and either process killed (its memory gone; a killed target
 * still holds a copy it had made durable before COMMIT_READY, as
 * hopvm-save does). The guest is live: it rewrites pages while rounds go
 * out, so the runs cross rounds 0, 1, 2, ... and the final round.
 *
 * Usage: fault-campaign [RUNS_PER_CELL]   (default 3: different guest seeds) */
#define _DEFAULT_SOURCE
#include <hopvm/bitmap.h>
#include <hopvm/mig_session.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 256
#define NS_PER_BYTE 100 /* a 10 MB/s link on a simulated clock */

/* ---- the guest (source) and the shell (target) ---------------------------- */
static struct {
    uint8_t ram[PAGES * 4096];
    uint64_t dirty[BITMAP_WORDS(PAGES)];
    bool logging, paused, handed_over;
    uint64_t now, last, rng;
} G;
static struct {
    uint8_t ram[PAGES * 4096];
    bool shell, committed, in_doubt, durable;
} H;

static void guest_run(void)
{
    uint64_t due = G.paused ? 0 : (G.now - G.last) * 2000 / 1000000000ull; /* 2000 pages/s */
    if (due)
        G.last = G.now;
    while (due--) {
        G.rng = G.rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t g = (G.rng >> 33) % PAGES;
        G.ram[g * 4096 + (G.rng & 4095)]++;
        if (G.logging)
            bitmap_set(G.dirty, g);
    }
}
static void describe(void *c, struct mig_vmdef *d)
{
    (void)c;
    memset(d, 0, sizeof(*d));
    strcpy(d->name, "guest"), strcpy(d->kernel, "memtouch.elf"), strcpy(d->source_host, "a"), strcpy(d->backend, "svm");
    d->memory = PAGES * 4096;
    d->vcpus = 1;
}
static const uint8_t *s_page(void *c, uint64_t g) { (void)c; return G.ram + g * 4096; }
static void s_vcpu(void *c, unsigned i, struct mig_vcpu *v) { (void)c; memset(v, 0, sizeof(*v)); v->index = i; v->s.cr0 = 0x11; }
static void s_uart(void *c, struct mig_uart *u) { (void)c; memset(u, 0, sizeof(*u)); }
static void s_handed(void *c) { (void)c; G.handed_over = true; }
static void s_pause(void *c) { (void)c; guest_run(); G.paused = true; }
static int s_log(void *c, char *e, size_t n) { (void)c, (void)e, (void)n; G.logging = true; return 0; }
static uint64_t s_harvest(void *c, uint64_t *bm) { (void)c; guest_run(); return bitmap_fetch_clear(bm, G.dirty, PAGES); }
static void s_throttle(void *c, unsigned pct) { (void)c, (void)pct; }
static uint64_t s_now(void *c) { (void)c; return G.now; }
static const struct mig_source_ops sops = {.describe = describe, .page = s_page, .vcpu = s_vcpu, .uart = s_uart,
                                           .handed_over = s_handed, .pause = s_pause, .log_start = s_log,
                                           .harvest = s_harvest, .throttle = s_throttle, .now_ns = s_now};
static int t_offer(void *c, const struct mig_vmdef *d, char *r, size_t n) { (void)c, (void)d, (void)r, (void)n; H.shell = true; return 0; }
static uint8_t *t_page(void *c, uint64_t g) { (void)c; return H.ram + g * 4096; }
static int t_vcpu(void *c, const struct mig_vcpu *v, char *e, size_t n) { (void)c, (void)v, (void)e, (void)n; return 0; }
static int t_uart(void *c, const struct mig_uart *u, char *e, size_t n) { (void)c, (void)u, (void)e, (void)n; return 0; }
static int t_ready(void *c, char *e, size_t n) { (void)c, (void)e, (void)n; H.durable = true; return 0; }
static void t_commit(void *c) { (void)c; H.committed = true; }
static void t_abort(void *c, bool in_doubt) { (void)c; H.in_doubt = in_doubt; H.shell = in_doubt; }
static const struct mig_target_ops tops = {.offer = t_offer, .page = t_page, .vcpu = t_vcpu, .uart = t_uart,
                                           .ready = t_ready, .commit = t_commit, .abort = t_abort};

/* ---- the wire: whole records each way, so a fault lands on one ------------- */
enum fault { F_CUT, F_CUT_MID, F_RESET, F_CORRUPT, F_DROP, F_REPLAY, F_REORDER, F_CTRLC_SRC, F_CTRLC_TGT,
             F_KILL_SRC, F_KILL_TGT, F_COUNT };
static const char *const fault_names[F_COUNT] = {"cut", "cut mid", "reset", "corrupt", "drop", "replay",
                                                 "reorder", "^C src", "^C tgt", "kill src", "kill tgt"};
enum phase { P_HANDSHAKE, P_VM_DEF, P_ACCEPT, P_ROUND0, P_ROUNDN, P_FINAL, P_STATE, P_END, P_COMMIT_READY,
             P_COMMIT, P_COUNT };
static const char *const phase_names[P_COUNT] = {"handshake", "VM_DEF", "ACCEPT", "round 0", "rounds 1+",
                                                 "final round", "VCPU/DEVICE", "END", "COMMIT_READY", "COMMIT"};

struct pipe {
    struct mig_session *from, *to;
    uint8_t buf[2 * MIG_OUT_CAP];
    size_t len;
    bool magic_done;
    uint32_t rounds;         /* ROUND records seen (source->target) */
    bool final;              /* the final round began: known from the source's state */
    uint8_t held[REC_HDR_LEN + MIG_OUT_CAP]; /* F_REORDER: a record that goes after the next one */
    size_t held_len;
};
static struct mig_session S, T;
static _Alignas(8) uint8_t sout[MIG_OUT_CAP], sin_[MIG_IN_CAP], tout[MIG_OUT_CAP], tin[MIG_IN_CAP];
static struct pipe to_t, to_s;

/* Which phase a record belongs to, from its plaintext header. */
static enum phase phase_of(const struct pipe *p, uint32_t type)
{
    switch (type & REC_TYPE_MASK) {
    case REC_HELLO: case REC_KEX: case REC_CONFIRM: case REC_AUTH: return P_HANDSHAKE;
    case REC_VM_DEF: return P_VM_DEF;
    case REC_ACCEPT: return P_ACCEPT;
    case REC_ROUND: case REC_RAM: return p->final ? P_FINAL : p->rounds <= 1 ? P_ROUND0 : P_ROUNDN;
    case REC_VCPU: case REC_DEVICE: return P_STATE;
    case REC_END: return P_END;
    case REC_COMMIT_READY: return P_COMMIT_READY;
    case REC_COMMIT: return P_COMMIT;
    default: return P_COUNT; /* ERROR: not a target for faults */
    }
}

static bool dead_src, dead_tgt, link_down;
static uint64_t seen_in_cell;      /* records of the chosen phase seen so far this run */
static uint64_t pick;              /* fault the pick-th record of the phase */
static enum phase want_phase;
static enum fault want_fault;
static bool want_to_target, done_fault;

static void link_lost(bool reset)
{
    link_down = true;
    if (!dead_src)
        mig_fail(&S, MIG_ERR_INTERNAL, reset ? "connection reset by the peer" : "connection lost");
    if (!dead_tgt)
        mig_fail(&T, MIG_ERR_INTERNAL, reset ? "connection reset by the peer" : "connection lost");
}

static void deliver(struct pipe *p, const uint8_t *b, size_t n)
{
    if (!link_down && !(p->to == &S ? dead_src : dead_tgt))
        mig_consume(p->to, b, n);
}

/* One whole record from the pipe's buffer, with the campaign's fault if it
 * is the chosen one. */
static void forward(struct pipe *p, const uint8_t *r, size_t n)
{
    uint32_t type = r[0] | r[1] << 8 | r[2] << 16 | (uint32_t)r[3] << 24;
    if (p == &to_t && (type & REC_TYPE_MASK) == REC_ROUND)
        p->rounds++, p->final = S.st.final_round;
    enum phase ph = phase_of(p, type);
    bool hit = !done_fault && ph == want_phase && (p == &to_t) == want_to_target && seen_in_cell++ == pick;
    if (!hit) {
        if (p->held_len) { /* a reordered record goes after this one */
            deliver(p, r, n), deliver(p, p->held, p->held_len), p->held_len = 0;
            return;
        }
        deliver(p, r, n);
        return;
    }
    done_fault = true;
    static uint8_t tmp[REC_HDR_LEN + MIG_OUT_CAP];
    switch (want_fault) {
    case F_CUT: link_lost(false); break;
    case F_CUT_MID: deliver(p, r, n / 2); link_lost(false); break;
    case F_RESET: link_lost(true); break;
    case F_CORRUPT:
        memcpy(tmp, r, n);
        tmp[n > REC_HDR_LEN ? REC_HDR_LEN + (n - REC_HDR_LEN) / 2 : 4] ^= 0x20;
        deliver(p, tmp, n);
        break;
    case F_DROP: break;
    case F_REPLAY: deliver(p, r, n), deliver(p, r, n); break;
    case F_REORDER: memcpy(p->held, r, n), p->held_len = n; break; /* if nothing follows: a drop */
    case F_CTRLC_SRC: deliver(p, r, n); mig_fail(&S, MIG_ERR_CANCELLED, "cancelled from the console"); break;
    case F_CTRLC_TGT: deliver(p, r, n); mig_fail(&T, MIG_ERR_CANCELLED, "cancelled from the console"); break;
    case F_KILL_SRC: dead_src = true; link_lost(true); break;
    case F_KILL_TGT: dead_tgt = true; link_lost(true); break;
    default: break;
    }
}

/* Moves what `from` has queued into the pipe and forwards whole records. */
static bool pump(struct pipe *p, bool dead)
{
    const uint8_t *b;
    size_t n = dead ? 0 : mig_peek(p->from, &b);
    if (n) {
        memcpy(p->buf + p->len, b, n);
        p->len += n;
        mig_advance(p->from, n);
        G.now += n * NS_PER_BYTE;
    }
    size_t off = 0;
    if (!p->magic_done && p->len >= STREAM_MAGIC_LEN) {
        deliver(p, p->buf, STREAM_MAGIC_LEN);
        off = STREAM_MAGIC_LEN, p->magic_done = true;
    }
    while (p->magic_done && p->len - off >= REC_HDR_LEN) {
        uint32_t len = p->buf[off + 4] | p->buf[off + 5] << 8 | p->buf[off + 6] << 16 | (uint32_t)p->buf[off + 7] << 24;
        size_t whole = REC_HDR_LEN + len + rec_pad(len);
        if (p->len - off < whole)
            break;
        forward(p, p->buf + off, whole);
        off += whole;
    }
    memmove(p->buf, p->buf + off, p->len - off);
    p->len -= off;
    return n > 0;
}

enum outcome { O_MOVED, O_STAYED, O_DOUBT, O_LOST, O_TWICE, O_COUNT };

static enum outcome run(uint64_t seed)
{
    memset(&G, 0, sizeof(G));
    memset(&H, 0, sizeof(H));
    G.rng = seed, G.now = G.last = 1000000000ull;
    for (size_t i = 0; i < sizeof(G.ram); i += 97)
        G.ram[i] = (uint8_t)(i * 7 + seed);
    static uint8_t rs[MIG_RANDOM_LEN], rt[MIG_RANDOM_LEN];
    static uint64_t bitmap[BITMAP_WORDS(PAGES)];
    rs[0] = 1, rt[0] = 2, rs[40] = (uint8_t)seed, rt[40] = (uint8_t)(seed >> 8);
    memset(bitmap, 0, sizeof(bitmap));
    mig_source_init(&S, &sops, NULL, &(struct mig_params){.password = "pw", .host = "a", .random = rs,
                                                          .kdf_iterations = 2}, sout, sin_);
    mig_source_live(&S, &(struct mig_live_params){.downtime_ns = 20000000, .max_rounds = 30}, bitmap);
    mig_target_init(&T, &tops, NULL, &(struct mig_params){.password = "pw", .host = "b", .random = rt,
                                                          .kdf_iterations = 2}, tout, tin);
    memset(&to_t, 0, sizeof(to_t)), memset(&to_s, 0, sizeof(to_s));
    to_t.from = &S, to_t.to = &T, to_s.from = &T, to_s.to = &S;
    dead_src = dead_tgt = link_down = done_fault = false;
    seen_in_cell = 0;
    for (int i = 0; i < 1000000; i++) {
        bool moved = pump(&to_t, dead_src) | pump(&to_s, dead_tgt);
        bool s_end = dead_src || mig_finished(&S), t_end = dead_tgt || mig_finished(&T);
        if (s_end && t_end)
            break;
        if (!moved) { /* nothing moves: a dropped record, or both wait. The idle timeout. */
            G.now += 1000000000ull;
            if (!link_down)
                link_lost(false);
        }
    }
    bool src_runs = !dead_src && !G.handed_over;
    bool tgt_holds = dead_tgt ? H.durable : (H.committed || H.in_doubt);
    bool tgt_runs = !dead_tgt && H.committed;
    if (src_runs && tgt_runs)
        return O_TWICE;
    if (dead_src && !tgt_holds)
        return O_STAYED; /* the source host died with its guest: not the teleport's doing */
    if (!src_runs && !tgt_holds)
        return O_LOST;
    if (tgt_runs && !memcmp(G.ram, H.ram, sizeof(G.ram)))
        return O_MOVED;
    if (tgt_runs)
        return O_LOST; /* it runs there, but not as it was */
    return src_runs ? O_STAYED : O_DOUBT;
}

int main(int argc, char **argv)
{
    unsigned runs = argc > 1 ? (unsigned)atoi(argv[1]) : 3;
    static const char *const out_names[O_COUNT] = {"moved", "stayed", "in doubt", "LOST", "TWICE"};
    unsigned total[O_COUNT] = {0}, faults = 0;
    printf("fault campaign: live teleport (version 2, sealed), %u pages, every record of each phase, %u guest "
           "seeds\n", PAGES, runs);
    printf("cells: moved / stayed on the source / in doubt (paused on the target) / LOST / TWICE\n\n");
    printf("%-13s", "phase");
    for (int f = 0; f < F_COUNT; f++)
        printf(" %12s", fault_names[f]);
    printf("\n");
    for (enum phase ph = 0; ph < P_COUNT; ph++) {
        printf("%-13s", phase_names[ph]);
        for (enum fault f = 0; f < F_COUNT; f++) {
            unsigned c[O_COUNT] = {0}, n = 0;
            want_phase = ph, want_fault = f;
            for (int dir = 0; dir < 2; dir++) {
                want_to_target = dir == 0;
                for (unsigned r = 0; r < runs; r++)
                    for (pick = 0;; pick++) {
                        enum outcome o = run(r + 1);
                        if (!done_fault)
                            break; /* no such record in this direction and phase */
                        c[o]++, n++;
                        if (pick > 40)
                            pick += pick / 4; /* a long round: sample its records */
                    }
            }
            for (int o = 0; o < O_COUNT; o++)
                total[o] += c[o];
            faults += n;
            char cell[32];
            if (!n)
                snprintf(cell, sizeof(cell), "-");
            else
                snprintf(cell, sizeof(cell), "%u/%u/%u/%u/%u", c[O_MOVED], c[O_STAYED], c[O_DOUBT], c[O_LOST],
                         c[O_TWICE]);
            printf(" %12s", cell);
        }
        printf("\n");
    }
    printf("\n%u faulted runs:", faults);
    for (int o = 0; o < O_COUNT; o++)
        printf(" %u %s%s", total[o], out_names[o], o + 1 < O_COUNT ? "," : "\n");
    return total[O_LOST] || total[O_TWICE] ? 1 : 0;
}
