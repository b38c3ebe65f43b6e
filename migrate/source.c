/* The source side of a teleport session: VM_DEF, then on ACCEPT the RAM in
 * rounds, every vCPU, the devices and END; on COMMIT_READY the guest is
 * retired and COMMIT goes out (docs/migration-protocol.md). Pure.
 *
 * Stop-and-copy: the guest is paused, round 0 describes every page (data
 * or zero runs) and is the final round. Live pre-copy (mig_source_live and
 * a peer with CAP_LIVE): dirty logging starts, round 0 describes every
 * page while the guest runs, and each later round the pages it dirtied
 * meanwhile; after each round the convergence model (migrate/converge.c)
 * says whether the rest fits the downtime target — then the guest pauses
 * and the final round, vCPUs, devices and END follow — or to go on, slow
 * the guest down, or give up (the guest runs on, unharmed). */
#include <hopvm/bitmap.h>
#include <hopvm/lib.h>
#include <hopvm/mig_session.h>

bool mig_page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < RAM_PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

/* The next page the current round describes at or after gfn, or
 * BITMAP_NONE: every page in round 0, the dirty ones later. */
static uint64_t next_page(const struct mig_session *s, uint64_t gfn)
{
    if (s->round == 0)
        return gfn < s->st.ram_pages ? gfn : BITMAP_NONE;
    return bitmap_next(s->send, s->st.ram_pages, gfn);
}

static const uint8_t *page(struct mig_session *s, uint64_t gfn)
{
    const uint8_t *p = s->sops->page(s->ctx, gfn);
    if (!p)
        mig_fail(s, MIG_ERR_INTERNAL, "the guest stopped during the teleport");
    return p;
}

/* Data records of at most this many pages (the stream allows up to
 * RAM_MAX_DATA_PAGES): the target digests a record before its TCP window
 * opens again, so 64 KiB records keep both sides busy where 1 MiB ones made
 * each wait on the other (measured under QEMU TCG: 16.2-17.3 MB/s with
 * 256-page records, 19.3 with 16). */
#define DATA_RECORD_PAGES 16

/* One RAM record from the next page of the round on: a run of zero pages,
 * or up to DATA_RECORD_PAGES consecutive pages with data. */
static void ram_record(struct mig_session *s)
{
    uint8_t *b = mig_queue_begin(s, RAM_HDR_LEN + DATA_RECORD_PAGES * RAM_PAGE_SIZE);
    if (!b) {
        mig_fail(s, MIG_ERR_INTERNAL, "output buffer full");
        return;
    }
    uint64_t g = next_page(s, s->next_gfn);
    if (g == BITMAP_NONE) { /* the bitmap and the announced count disagree: a bug */
        mig_fail(s, MIG_ERR_INTERNAL, "round %u ran out of pages with %lu to go", s->round, s->st.round_left);
        return;
    }
    struct stream_ram r = {.first_gfn = g};
    const uint8_t *p = page(s, g);
    if (!p)
        return;
    bool zero = (s->caps & CAP_ZERO_RUNS) && mig_page_is_zero(p);
    uint64_t limit = zero ? MIN(s->st.round_left, (uint64_t)UINT32_MAX) : MIN(s->st.round_left, DATA_RECORD_PAGES);
    uint8_t *data = b + RAM_HDR_LEN;
    /* Consecutive pages of this round, all zero or all with data. */
    while (r.count < limit && next_page(s, g) == g) {
        if (r.count && !(p = page(s, g)))
            return;
        bool z = (s->caps & CAP_ZERO_RUNS) && (r.count == 0 ? zero : mig_page_is_zero(p));
        if (z != zero)
            break;
        if (!zero)
            memcpy(data + (size_t)r.count * RAM_PAGE_SIZE, p, RAM_PAGE_SIZE);
        g++, r.count++;
    }
    r.kind = zero ? RAM_KIND_ZERO : RAM_KIND_DATA;
    rec_put_ram(b, &r);
    mig_queue_end(s, REC_RAM, RAM_HDR_LEN + (zero ? 0 : (size_t)r.count * RAM_PAGE_SIZE), true);
    s->next_gfn = g;
    s->st.pages_done += r.count;
    s->st.round_left -= r.count;
    s->st.round_pages[MIN(s->round, MIG_ROUND_LOG - 1)] += r.count;
    if (zero)
        s->st.zero_pages += r.count;
}

static void begin_round(struct mig_session *s, uint32_t round, bool final, uint64_t pages)
{
    uint8_t b[ROUND_LEN];
    struct stream_round r = {.round = round, .pages = pages};
    if (final && (s->caps & CAP_LIVE))
        r.flags = ROUND_FINAL;
    mig_queue(s, REC_ROUND, b, rec_put_round(b, &r), true);
    s->round = round;
    s->round_begun = true;
    s->st.rounds = round + 1;
    s->st.round_left = pages;
    s->st.final_round = final;
    s->next_gfn = 0;
    if (s->live) {
        s->round_t0 = s->sops->now_ns(s->ctx);
        s->round_bytes0 = s->st.bytes_queued;
    }
}

/* Round 0: live, with dirty logging on from before the first page is
 * read; or paused, as the one and final round. */
static void first_round(struct mig_session *s)
{
    if (s->live) {
        char why[ERROR_REASON_MAX + 1];
        if (s->sops->log_start(s->ctx, why, sizeof(why)) != 0) {
            mig_fail(s, MIG_ERR_INTERNAL, "%s", why);
            return;
        }
        s->harvest_t = s->sops->now_ns(s->ctx);
        begin_round(s, 0, false, s->st.ram_pages);
        return;
    }
    if (s->sops->pause)
        s->sops->pause(s->ctx);
    begin_round(s, 0, true, s->st.ram_pages);
}

/* A live round has gone into the queue: harvest what the guest dirtied
 * meanwhile and let the model decide what comes next. */
static void end_round(struct mig_session *s)
{
    uint64_t now = s->sops->now_ns(s->ctx);
    memset(s->send, 0, BITMAP_WORDS(s->st.ram_pages) * sizeof(uint64_t));
    uint64_t dirty = s->sops->harvest(s->ctx, s->send);
    enum mig_conv_decision d = mig_conv_round_end(&s->conv, s->st.bytes_queued - s->round_bytes0,
                                                  now - s->round_t0, dirty, now - s->harvest_t);
    s->harvest_t = now;
    s->st.dirty_pages = dirty;
    s->st.dirty_rate = s->conv.dirty_Bps;
    s->st.link_rate = s->conv.link_Bps;
    s->st.expected_downtime_ns = mig_conv_expected_downtime_ns(&s->conv, dirty);
    switch (d) {
    case CONV_FINISH:
        /* Pause, then take what was dirtied since the harvest above. */
        s->sops->pause(s->ctx);
        s->sops->harvest(s->ctx, s->send);
        begin_round(s, s->round + 1, true, bitmap_count(s->send, s->st.ram_pages));
        break;
    case CONV_THROTTLE:
        s->st.throttle_pct = s->conv.throttle_pct;
        s->sops->throttle(s->ctx, s->conv.throttle_pct);
        begin_round(s, s->round + 1, false, dirty);
        break;
    case CONV_NEXT_ROUND:
        begin_round(s, s->round + 1, false, dirty);
        break;
    case CONV_GIVE_UP: {
        char why[ERROR_REASON_MAX + 1];
        mig_conv_give_up_reason(&s->conv, why, sizeof(why));
        mig_fail(s, MIG_ERR_CONVERGE, "%s", why);
        break;
    }
    }
}

static void fdt_record(struct mig_session *s, uint32_t type, int (*enc)(const void *, void *, size_t, size_t *),
                       const void *what, size_t max)
{
    uint8_t *b = mig_queue_begin(s, max);
    size_t len;
    if (!b || enc(what, b, max, &len) != 0) {
        mig_fail(s, MIG_ERR_INTERNAL, "cannot encode a %s record", rec_name(type));
        return;
    }
    mig_queue_end(s, type, len, true);
}

static int enc_vmdef(const void *w, void *b, size_t c, size_t *l) { return mig_vmdef_encode(w, b, c, l); }
static int enc_vcpu(const void *w, void *b, size_t c, size_t *l) { return mig_vcpu_encode(w, b, c, l); }
static int enc_uart(const void *w, void *b, size_t c, size_t *l) { return mig_uart_encode(w, b, c, l); }
static int enc_dev(const void *w, void *b, size_t c, size_t *l) { return mig_dev_encode(w, b, c, l); }

/* The next generic DEVICE record, if the guest has one left. */
static bool device_record(struct mig_session *s)
{
    static struct mig_dev d; /* 19 KiB */
    int r = s->sops->device ? s->sops->device(s->ctx, s->next_dev, &d) : 1;
    if (r > 0)
        return false;
    if (r < 0) {
        mig_fail(s, MIG_ERR_INTERNAL, "cannot save the guest's device %u", s->next_dev);
        return true;
    }
    s->next_dev++;
    fdt_record(s, REC_DEVICE, enc_dev, &d, MIG_DEV_MAX);
    return true;
}

void mig_source_live(struct mig_session *s, const struct mig_live_params *p, uint64_t *bitmap)
{
    s->live = true;
    s->send = bitmap;
    s->lp = *p;
}

/* Called when everything queued has gone out: the next record. */
void mig_source_fill(struct mig_session *s)
{
    if (s->phase == MIG_OFFER && !s->offered) {
        s->sops->describe(s->ctx, &s->def);
        s->st.ram_pages = s->def.memory / RAM_PAGE_SIZE;
        fdt_record(s, REC_VM_DEF, enc_vmdef, &s->def, MIG_VMDEF_MAX);
        s->offered = true;
        if (s->live)
            s->round_t0 = s->sops->now_ns(s->ctx); /* VM_DEF to ACCEPT: a round trip, at most */
        return;
    }
    if (s->phase != MIG_STREAM)
        return; /* waiting for the target */
    if (!s->round_begun) {
        first_round(s);
    } else if (s->st.round_left) {
        ram_record(s);
    } else if (!s->st.final_round) {
        if (s->sops->link_idle && !s->sops->link_idle(s->ctx))
            return; /* the peer's acknowledgements call us again */
        end_round(s);
    } else if (s->next_vcpu < s->def.vcpus) {
        static struct mig_vcpu v; /* 1 KiB: not on the stack */
        s->sops->vcpu(s->ctx, s->next_vcpu++, &v);
        fdt_record(s, REC_VCPU, enc_vcpu, &v, MIG_VCPU_MAX);
    } else if (!s->uart_done) {
        static struct mig_uart u; /* 65 KiB */
        s->sops->uart(s->ctx, &u);
        fdt_record(s, REC_DEVICE, enc_uart, &u, MIG_UART_MAX);
        s->uart_done = true;
    } else if (!device_record(s)) {
        uint8_t b[END_LEN];
        struct stream_end e = {.records = s->st.records, .pages = s->st.pages_done};
        if (s->version == STREAM_V1) /* version 2: zero, every record is sealed */
            mig_digest_final(&s->digest, e.digest);
        mig_queue(s, REC_END, b, rec_put_end(b, &e), false);
        s->phase = MIG_COMMIT; /* now the target checks everything */
    }
}

void mig_source_record(struct mig_session *s)
{
    uint32_t t = s->rd.type;
    if (s->phase == MIG_OFFER && s->offered && t == REC_ACCEPT && s->rd.len == 0) {
        s->phase = MIG_STREAM;
        /* A peer without CAP_LIVE gets stop-and-copy. */
        if (s->live && !(s->caps & CAP_LIVE))
            s->live = false;
        if (s->live) {
            /* State records are small next to RAM; 64 KiB per vCPU covers
             * them and the UART log in the downtime estimate. The round
             * trip is VM_DEF to ACCEPT, which also holds the target's
             * allocation of the guest's RAM: counted up to a tenth of the
             * downtime target, so a big guest does not look like a slow link. */
            uint64_t rtt = MIN(s->sops->now_ns(s->ctx) - s->round_t0, s->lp.downtime_ns / 10);
            mig_conv_init(&s->conv, &(struct mig_conv_params){s->lp.downtime_ns, s->lp.max_rounds,
                                                              s->lp.no_throttle},
                          (uint64_t)(s->def.vcpus + 1) * 65536, rtt);
        }
    } else if (s->phase == MIG_COMMIT && t == REC_COMMIT_READY && s->rd.len == 0) {
        /* The point of no return: the target holds a complete copy. The
         * guest is retired here before COMMIT lets the target run it, so
         * two copies never run. */
        s->sops->handed_over(s->ctx);
        s->phase = MIG_DONE;
        mig_queue(s, REC_COMMIT, NULL, 0, false);
    } else {
        mig_fail(s, MIG_ERR_PROTOCOL, "unexpected %s record (%u bytes) while %s", rec_name(t), s->rd.len,
                 mig_phase_name(s->phase));
    }
}
