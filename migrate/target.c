/* The target side of a teleport session: checks VM_DEF and answers ACCEPT
 * or ERROR before any RAM moves, fills the paused shell from RAM, VCPU and
 * DEVICE records, checks END (counts, and in version 1 the keyed digest), sends
 * COMMIT_READY, and runs the guest on COMMIT (docs/migration-protocol.md).
 * Every record is untrusted: sizes, ranges and order are checked. Pure. */
#include <hopvm/lib.h>
#include <hopvm/mig_session.h>

static void unexpected(struct mig_session *s)
{
    mig_fail(s, MIG_ERR_PROTOCOL, "unexpected %s record (%u bytes) while %s", rec_name(s->rd.type), s->rd.len,
             mig_phase_name(s->phase));
}

static void offer(struct mig_session *s)
{
    char why[ERROR_REASON_MAX + 1];
    if (mig_vmdef_decode(s->rd.body, s->rd.len, &s->def, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", why);
        return;
    }
    mig_digest_record(s, REC_VM_DEF, s->rd.body, s->rd.len);
    if (s->def.vcpus > CFG_MAX_VCPUS || s->tops->offer(s->ctx, &s->def, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_REFUSED, "%s", why);
        return;
    }
    s->st.ram_pages = s->def.memory / RAM_PAGE_SIZE;
    s->phase = MIG_STREAM; /* the shell exists from here: a failure frees it */
    mig_queue(s, REC_ACCEPT, NULL, 0, false);
}

/* Every page of the guest is described in round 0, in order, so no bitmap
 * is needed to know the copy is complete; a later round describes the
 * pages dirtied meanwhile, in increasing order, each at most once. Every
 * round describes exactly the pages its ROUND announced. */
static void ram(struct mig_session *s)
{
    struct stream_ram r;
    char why[REC_ERR_LEN];
    if (rec_get_ram(s->rd.body, s->rd.len, &r, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", why);
        return;
    }
    if (!s->round_begun || r.first_gfn >= s->st.ram_pages || r.count > s->st.ram_pages - r.first_gfn) {
        mig_fail(s, MIG_ERR_PROTOCOL, "RAM record for pages %#lx+%u outside the guest's %lu pages or before ROUND",
                 r.first_gfn, r.count, s->st.ram_pages);
        return;
    }
    if (r.count > s->st.round_left) {
        mig_fail(s, MIG_ERR_PROTOCOL, "round %u: RAM record of %u pages where %lu were left of the %lu announced",
                 s->round, r.count, s->st.round_left, s->st.round_pages[MIN(s->round, MIG_ROUND_LOG - 1)] +
                 s->st.round_left);
        return;
    }
    if (s->round == 0 ? r.first_gfn != s->next_gfn : r.first_gfn < s->next_gfn) {
        mig_fail(s, MIG_ERR_PROTOCOL, "round %u: pages out of order (%#lx where %#lx or later was due)", s->round,
                 r.first_gfn, s->next_gfn);
        return;
    }
    for (uint32_t i = 0; i < r.count; i++) {
        uint8_t *dst = s->tops->page(s->ctx, r.first_gfn + i);
        if (r.kind == RAM_KIND_ZERO)
            memset(dst, 0, RAM_PAGE_SIZE);
        else
            memcpy(dst, r.data + (size_t)i * RAM_PAGE_SIZE, RAM_PAGE_SIZE);
    }
    s->next_gfn = r.first_gfn + r.count;
    s->st.round_left -= r.count;
    s->st.round_pages[MIN(s->round, MIG_ROUND_LOG - 1)] += r.count;
    s->st.pages_done += r.count;
    if (r.kind == RAM_KIND_ZERO)
        s->st.zero_pages += r.count;
}

/* ROUND n + 1 follows a complete round n; round 0 covers the guest; with
 * CAP_LIVE the final round is flagged, and nothing but state follows it. */
static void round_record(struct mig_session *s)
{
    struct stream_round r;
    char why[REC_ERR_LEN];
    if (rec_get_round(s->rd.body, s->rd.len, &r, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", why);
        return;
    }
    uint32_t want = s->round_begun ? s->round + 1 : 0;
    if (r.round != want || s->st.round_left || s->st.final_round || s->next_vcpu || s->uart_done) {
        mig_fail(s, MIG_ERR_PROTOCOL, "ROUND %u where %s", r.round,
                 s->st.final_round || s->next_vcpu || s->uart_done ? "the final round was over"
                 : s->st.round_left ? "the current round was not complete" : "another number was due");
        return;
    }
    if (r.round != 0 && !(s->caps & CAP_MULTI_ROUND)) {
        mig_fail(s, MIG_ERR_PROTOCOL, "ROUND %u without the MULTI_ROUND capability", r.round);
        return;
    }
    if ((r.flags & ROUND_FINAL) && !(s->caps & CAP_LIVE)) {
        mig_fail(s, MIG_ERR_PROTOCOL, "ROUND %u flagged final without the LIVE capability", r.round);
        return;
    }
    if (r.round == 0 ? r.pages != s->st.ram_pages : r.pages > s->st.ram_pages) {
        mig_fail(s, MIG_ERR_PROTOCOL, "ROUND %u announces %lu pages for a guest of %lu", r.round, r.pages,
                 s->st.ram_pages);
        return;
    }
    s->round = r.round;
    s->round_begun = true;
    s->next_gfn = 0;
    s->st.rounds = r.round + 1;
    s->st.round_left = r.pages;
    if (r.flags & ROUND_FINAL) {
        s->st.final_round = true;
        if (s->tops->final_round)
            s->tops->final_round(s->ctx);
    }
}

static void vcpu(struct mig_session *s)
{
    static struct mig_vcpu v;
    char why[ERROR_REASON_MAX + 1];
    if (mig_vcpu_decode(s->rd.body, s->rd.len, &v, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", why);
        return;
    }
    if (!s->round_begun || s->st.round_left || ((s->caps & CAP_LIVE) && !s->st.final_round)) {
        mig_fail(s, MIG_ERR_PROTOCOL, "VCPU %u before the final round was complete", v.index);
        return;
    }
    if (v.index >= s->def.vcpus || s->vcpu_seen[v.index]) {
        mig_fail(s, MIG_ERR_PROTOCOL, "VCPU %u: not in the guest, or sent twice", v.index);
        return;
    }
    if (s->tops->vcpu(s->ctx, &v, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "VCPU %u: %s", v.index, why);
        return;
    }
    s->vcpu_seen[v.index] = true;
    s->next_vcpu++;
}

/* A platform device other than the UART: decoded here, checked and
 * loaded by the host's device (tops->device). */
static void generic_device(struct mig_session *s)
{
    static struct mig_dev d;
    char why[ERROR_REASON_MAX + 1];
    if (!s->tops->device) {
        mig_fail(s, MIG_ERR_PROTOCOL, "DEVICE record of a type this host does not emulate");
        return;
    }
    if (mig_dev_decode(s->rd.body, s->rd.len, &d, why, sizeof(why)) != 0 ||
        s->tops->device(s->ctx, &d, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", why);
        return;
    }
}

static void device(struct mig_session *s)
{
    static struct mig_uart u;
    char type[CFG_NAME_MAX], why[ERROR_REASON_MAX + 1];
    if (mig_device_type(s->rd.body, s->rd.len, type, sizeof(type)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "DEVICE record without a valid type");
        return;
    }
    if (!s->round_begun || s->st.round_left || ((s->caps & CAP_LIVE) && !s->st.final_round)) {
        mig_fail(s, MIG_ERR_PROTOCOL, "DEVICE before the final round was complete");
        return;
    }
    if (strcmp(type, MIG_UART_TYPE)) {
        generic_device(s);
        return;
    }
    if (s->uart_done || mig_uart_decode(s->rd.body, s->rd.len, &u, why, sizeof(why)) != 0 ||
        s->tops->uart(s->ctx, &u, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", s->uart_done ? "a second uart16550 DEVICE record" : why);
        return;
    }
    s->uart_done = true;
}

static void end(struct mig_session *s)
{
    struct stream_end e;
    char why[REC_ERR_LEN];
    uint8_t want[MIG_HASH_LEN];
    if (rec_get_end(s->rd.body, s->rd.len, &e, why, sizeof(why)) != 0) {
        mig_fail(s, MIG_ERR_PROTOCOL, "%s", why);
        return;
    }
    memset(want, 0, sizeof(want)); /* version 2: each record was opened, in order; END's digest is zero */
    if (s->version == STREAM_V1)
        mig_digest_final(&s->digest, want);
    if (e.records != s->st.records || e.pages != s->st.pages_done || !mig_equal(want, e.digest, MIG_HASH_LEN)) {
        mig_fail(s, MIG_ERR_DIGEST, "END does not match what arrived (%lu records, %lu pages received; "
                 "%lu and %lu announced, digest %s)", s->st.records, s->st.pages_done, e.records, e.pages,
                 mig_equal(want, e.digest, MIG_HASH_LEN) ? "good" : "wrong");
        return;
    }
    if (!s->round_begun || s->st.round_left || s->next_vcpu != s->def.vcpus || !s->uart_done) {
        mig_fail(s, MIG_ERR_PROTOCOL, "END before the whole guest: round %u %s, %u of %u vCPUs, uart %s", s->round,
                 !s->round_begun ? "not begun" : s->st.round_left ? "incomplete" : "complete", s->next_vcpu,
                 s->def.vcpus, s->uart_done ? "yes" : "no");
        return;
    }
    char err[ERROR_REASON_MAX + 1];
    if (s->tops->ready && s->tops->ready(s->ctx, err, sizeof(err)) != 0) {
        mig_fail(s, MIG_ERR_INTERNAL, "%s", err); /* before COMMIT_READY exists: the source runs on */
        return;
    }
    s->phase = MIG_COMMIT; /* "the commit": the source may retire its copy, so this copy is never freed */
    mig_queue(s, REC_COMMIT_READY, NULL, 0, false);
}

void mig_target_record(struct mig_session *s)
{
    uint32_t t = s->rd.type;
    if (s->phase == MIG_OFFER) {
        if (t == REC_VM_DEF)
            offer(s);
        else
            unexpected(s);
        return;
    }
    if (s->phase == MIG_COMMIT) {
        if (t == REC_COMMIT && s->rd.len == 0) {
            s->phase = MIG_DONE;
            s->tops->commit(s->ctx);
        } else {
            unexpected(s);
        }
        return;
    }
    if (t != REC_END)
        mig_digest_record(s, t, s->rd.body, s->rd.len);
    switch (t) {
    case REC_ROUND: round_record(s); break;
    case REC_RAM: ram(s); break;
    case REC_VCPU: vcpu(s); break;
    case REC_DEVICE: device(s); break;
    case REC_END: end(s); break;
    default: unexpected(s); break;
    }
}
