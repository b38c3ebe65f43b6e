/* The source side of a teleport session: VM_DEF, then on ACCEPT the RAM
 * (one round, zero pages as runs), every vCPU, the devices and END; on
 * COMMIT_READY the guest is retired and COMMIT goes out
 * (docs/migration-protocol.md, "The hand-over"). Pure. */
#include <hopvm/lib.h>
#include <hopvm/mig_session.h>

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < RAM_PAGE_SIZE / 8; i++)
        if (w[i])
            return false;
    return true;
}

/* One RAM record from next_gfn: a run of zero pages, or up to
 * RAM_MAX_DATA_PAGES pages with data. */
static void ram_record(struct mig_session *s)
{
    uint8_t *b = mig_queue_begin(s, RAM_MAX_LEN);
    if (!b) {
        mig_fail(s, MIG_ERR_INTERNAL, "output buffer full");
        return;
    }
    uint64_t total = s->st.ram_pages, g = s->next_gfn;
    struct stream_ram r = {.first_gfn = g};
    bool zero = (s->caps & CAP_ZERO_RUNS) && page_is_zero(s->sops->page(s->ctx, g));
    if (zero) {
        while (g < total && r.count < UINT32_MAX && page_is_zero(s->sops->page(s->ctx, g)))
            g++, r.count++;
        r.kind = RAM_KIND_ZERO;
        s->st.zero_pages += r.count;
    } else {
        uint8_t *data = b + RAM_HDR_LEN;
        while (g < total && r.count < RAM_MAX_DATA_PAGES) {
            const uint8_t *p = s->sops->page(s->ctx, g);
            if ((s->caps & CAP_ZERO_RUNS) && r.count && page_is_zero(p))
                break; /* a zero run starts here */
            memcpy(data + (size_t)r.count * RAM_PAGE_SIZE, p, RAM_PAGE_SIZE);
            g++, r.count++;
        }
        r.kind = RAM_KIND_DATA;
    }
    rec_put_ram(b, &r);
    mig_queue_end(s, REC_RAM, RAM_HDR_LEN + (zero ? 0 : (size_t)r.count * RAM_PAGE_SIZE), true);
    s->next_gfn = g;
    s->st.pages_done += r.count;
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

/* Called when everything queued has gone out: the next record. */
void mig_source_fill(struct mig_session *s)
{
    if (s->phase == MIG_OFFER && !s->offered) {
        s->sops->describe(s->ctx, &s->def);
        s->st.ram_pages = s->def.memory / RAM_PAGE_SIZE;
        fdt_record(s, REC_VM_DEF, enc_vmdef, &s->def, MIG_VMDEF_MAX);
        s->offered = true;
        return;
    }
    if (s->phase != MIG_STREAM)
        return; /* waiting for the target */
    if (!s->round_begun) {
        uint8_t b[ROUND_LEN];
        struct stream_round r = {.round = 0, .pages = s->st.ram_pages};
        mig_queue(s, REC_ROUND, b, rec_put_round(b, &r), true);
        s->round_begun = true;
    } else if (s->next_gfn < s->st.ram_pages) {
        ram_record(s);
    } else if (s->next_vcpu < s->def.vcpus) {
        static struct mig_vcpu v; /* 1 KiB: not on the stack */
        s->sops->vcpu(s->ctx, s->next_vcpu++, &v);
        fdt_record(s, REC_VCPU, enc_vcpu, &v, MIG_VCPU_MAX);
    } else if (!s->uart_done) {
        static struct mig_uart u; /* 16 KiB */
        s->sops->uart(s->ctx, &u);
        fdt_record(s, REC_DEVICE, enc_uart, &u, MIG_UART_MAX);
        s->uart_done = true;
    } else {
        uint8_t b[END_LEN];
        struct stream_end e = {.records = s->st.records, .pages = s->st.pages_done};
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
