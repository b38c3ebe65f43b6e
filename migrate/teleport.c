/* A teleport in hopvm: the session (migrate/session.c) on an lwIP TCP
 * connection, driven from the host loop so other guests keep running, and
 * the guest reached through vmm/vm_migrate.c. One teleport at a time, as
 * a console task (Ctrl-C cancels). Protocol: docs/migration-protocol.md. */
#include <hopvm/bitmap.h>
#include <hopvm/inet.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/mig_compat.h>
#include <hopvm/random.h>
#include <hopvm/teleport.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#define BW_BURST  (64 * 1024) /* --bandwidth: bytes that may go at once */
#define BW_WAIT_MS 5          /* --bandwidth: how soon to try again when over */

struct teleport tp;

static void cancel(void) { mig_fail(&tp.s, MIG_ERR_CANCELLED, "cancelled from the console"); teleport_pump(); }

/* ---- the guest, as the session sees it ---------------------------------- */

static void src_describe(void *ctx, struct mig_vmdef *d) { vm_describe(ctx, d); }
static const uint8_t *src_page(void *ctx, uint64_t gfn) { return vm_mig_page(ctx, gfn); }
static void src_vcpu(void *ctx, unsigned i, struct mig_vcpu *v) { vm_save_vcpu(ctx, i, v); }
static void src_uart(void *ctx, struct mig_uart *u) { vm_save_uart(ctx, u); }
static int src_device(void *ctx, unsigned i, struct mig_dev *d) { return vm_save_device(ctx, i, d); }
static void src_handed_over(void *ctx)
{
    char why[160];
    tp.t_handover = time_ns();
    ksnprintf(why, sizeof(why), "teleported to %s:%u", tp.peer, tp.port);
    vm_retire(ctx, why);
    tp.vm = NULL;
}
static void src_pause(void *ctx)
{
    tp.t_pause = time_ns(); /* the downtime begins */
    vm_mig_pause(ctx);
    if (tp.s.live) /* said at once: the operator (and the tests) see the pause begin */
        kprintf("\r\x1b[K  round %u: '%s' paused for the final round", tp.s.st.rounds, tp.name);
}
static int src_log_start(void *ctx, char *err, size_t n)
{
    if (vm_mig_log_start(ctx, err, n) != 0)
        return -1;
    tp.dirty_mode = vm_mig_dirty_mode(ctx);
    return 0;
}
static uint64_t src_harvest(void *ctx, uint64_t *bitmap) { return vm_mig_harvest(ctx, bitmap); }
static void src_throttle(void *ctx, unsigned pct) { vm_mig_throttle(ctx, pct); }
static uint64_t src_now(void *ctx) { (void)ctx; return time_ns(); }
/* Everything sent so far has been acknowledged. */
static bool src_link_idle(void *ctx)
{
    (void)ctx;
    return !tp.tcp.pcb || (!tp.tcp.pcb->unsent && !tp.tcp.pcb->unacked);
}
static const struct mig_source_ops src_ops = {
    .describe = src_describe, .page = src_page, .vcpu = src_vcpu, .uart = src_uart, .device = src_device,
    .handed_over = src_handed_over, .pause = src_pause, .log_start = src_log_start,
    .harvest = src_harvest, .throttle = src_throttle, .now_ns = src_now, .link_idle = src_link_idle,
};

static int tgt_offer(void *ctx, const struct mig_vmdef *d, char *reason, size_t n)
{
    (void)ctx;
    struct mig_cpuid_leaf here[MIG_FEATURE_LEAVES];
    unsigned nhere = vm_cpuid_features(here, MIG_FEATURE_LEAVES);
    if (mig_cpuid_compatible(d->cpuid, d->ncpuid, here, nhere, reason, n) != 0)
        return -1;
    struct mem_stats ms;
    mem_get_stats(&ms);
    if (ms.largest < d->memory) {
        ksnprintf(reason, n, "target has %lu MiB free in one range, guest '%s' needs %lu MiB", ms.largest >> 20,
                  d->name, d->memory >> 20);
        return -1;
    }
    if (!(tp.vm = vm_incoming(d, reason, n)))
        return -1;
    /* A source without CAP_LIVE paused the guest before it connected; a
     * live one says when with the final ROUND (tgt_final). */
    tp.t_pause = time_ns();
    kprintf("teleport: receiving '%s' (%lu MiB, %u vCPU) from %s\n", d->name, d->memory >> 20, d->vcpus,
            d->source_host);
    return 0;
}
static uint8_t *tgt_page(void *ctx, uint64_t gfn) { (void)ctx; return tp.vm->ram + gfn * PAGE_SIZE; }
static int tgt_vcpu(void *ctx, const struct mig_vcpu *v, char *e, size_t n) { (void)ctx; return vm_load_vcpu(tp.vm, v, e, n); }
static int tgt_uart(void *ctx, const struct mig_uart *u, char *e, size_t n)
{
    (void)ctx, (void)e, (void)n;
    vm_load_uart(tp.vm, u);
    return 0;
}
static int tgt_device(void *ctx, const struct mig_dev *d, char *e, size_t n)
{
    (void)ctx;
    return vm_load_device(tp.vm, d, e, n);
}
static int tgt_ready(void *ctx, char *e, size_t n)
{
    (void)ctx;
    return vm_incoming_check(tp.vm, e, n);
}
static void tgt_final(void *ctx)
{
    (void)ctx;
    tp.t_pause = time_ns(); /* the source paused the guest: downtime from here to the commit */
}
static void tgt_commit(void *ctx)
{
    (void)ctx;
    vm_incoming_commit(tp.vm);
    tp.t_handover = time_ns();
}
static void tgt_abort(void *ctx, bool in_doubt)
{
    (void)ctx;
    if (tp.vm)
        vm_incoming_abort(tp.vm, in_doubt);
    if (!in_doubt)
        tp.vm = NULL;
}
static const struct mig_target_ops tgt_ops = {
    .offer = tgt_offer, .page = tgt_page, .vcpu = tgt_vcpu, .uart = tgt_uart, .device = tgt_device,
    .ready = tgt_ready, .final_round = tgt_final,
    .commit = tgt_commit, .abort = tgt_abort,
};

/* ---- the end of a teleport ---------------------------------------------- */


static void report(bool lost)
{
    const struct mig_session *s = &tp.s;
    uint64_t ns = time_ns() - tp.t0, bytes = s->st.bytes_out + s->st.bytes_in;
    kprintf("\r\x1b[K");
    if (s->phase == MIG_DONE) {
        kprintf("teleport: '%s' %s %s in ", s->def.name, tp.source ? "handed over to" : "arrived from", tp.peer);
        kprint_x100(ns / 10000000);
        kprintf(" s: %lu MiB RAM (%lu zero pages), %lu KB on the wire, ", s->st.ram_pages >> 8, s->st.zero_pages,
                bytes / 1000);
        kprint_x100(ns ? bytes * 100000 / ns : 0);
        kprintf(" MB/s, downtime %lu ms%s\n", (tp.t_handover - tp.t_pause) / 1000000,
                tp.source ? "" : "; it runs here");
    } else if (s->phase == MIG_IN_DOUBT) {
        kprintf("teleport: the link failed after this host held all of '%s' (%s). It is here, paused. If the "
                "source's console says 'handed over', run it here with 'vm resume %s'; otherwise it still runs "
                "there\n", s->def.name, s->error, s->def.name);
    } else {
        kprintf("teleport: failed: %s%s", s->error_from_peer ? "the peer says: " : "", s->error);
        kprintf(!tp.source ? "; nothing was kept\n" : lost ? "; '%s' is not running here either\n"
                                                          : "; '%s' runs on here\n",
                s->def.name[0] ? s->def.name : tp.name);
    }
}

static void finish(void)
{
    bool lost = tp.source && tp.vm && vm_mig_lost(tp.vm);
    if (tp.source && tp.vm) /* not handed over: the guest is ours again, at full speed */
        vm_mig_end(tp.vm);
    if (tp.bitmap) {
        page_free(tp.bitmap, tp.bitmap_pages);
        tp.bitmap = NULL;
    }
    tp.t_end = time_ns();
    report(lost);
    tp.vm = NULL;
    tp.active = false;
    tcp_task_close(&tp.tcp, false); /* last: it gives the prompt back */
}

static void bw_wake(void *arg)
{
    (void)arg;
    tp.bw_timer = false;
    teleport_pump();
}

/* How many bytes --bandwidth lets out now: the rate times the time since
 * the teleport began, less what went, plus a burst of BW_BURST. When none,
 * a short timer calls the pump again. */
static size_t bw_budget(void)
{
    /* The final round goes at link speed: the guest is paused and every
     * millisecond is downtime (QEMU lifts max-bandwidth there too). */
    if (!tp.bw_Bps || tp.s.st.final_round)
        return SIZE_MAX;
    uint64_t allowed = (time_ns() - tp.t0) / 1000 * tp.bw_Bps / 1000000 + BW_BURST;
    if (allowed > tp.s.st.bytes_out)
        return (size_t)MIN(allowed - tp.s.st.bytes_out, (uint64_t)SIZE_MAX);
    if (!tp.bw_timer) {
        tp.bw_timer = true;
        sys_timeout(BW_WAIT_MS, bw_wake, NULL);
    }
    return 0;
}

/* Once the handshake is over, one line says what protects this teleport. */
static void say_auth(void)
{
    const struct mig_session *s = &tp.s;
    if (tp.said_auth || !s->peer_authed)
        return;
    tp.said_auth = true;
    if (s->version == STREAM_V1)
        kprintf("teleport: stream version 1 (--v1): %s, records NOT encrypted\n",
                s->password[0] ? "peer proved the password" : "no password: peer NOT authenticated");
    else if (!s->password[0])
        kprintf("teleport: encrypted, but the peer is NOT authenticated (no password): use --password\n");
    else
        kprintf("teleport: peer proved the password; every record is encrypted and authenticated\n");
}

/* Moves what the session has to say into TCP, and ends the teleport when
 * the session is over and its last bytes are queued. */
void teleport_pump(void)
{
    if (!tp.active)
        return;
    const char *gone = tp.source && tp.vm ? vm_mig_lost(tp.vm) : NULL;
    if (gone)
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "'%s' stopped during the teleport: %s", tp.name, gone);
    const uint8_t *p;
    size_t n;
    while (tp.tcp.pcb && (n = mig_peek(&tp.s, &p)) > 0) {
        size_t room = tcp_task_room(&tp.tcp), budget = bw_budget();
        n = MIN(n, MIN(room, budget));
        if (!n || !tcp_task_write(&tp.tcp, p, n, true))
            break; /* the next ACK (or the bandwidth timer) calls us again */
        mig_advance(&tp.s, n);
    }
    tcp_task_output(&tp.tcp);
    say_auth();
    if (!tp.t_sent && tp.s.phase >= MIG_COMMIT && tp.s.out_off == tp.s.out_len && tp.s.phase != MIG_FAILED)
        tp.t_sent = time_ns(); /* where the downtime splits: sending, then the peer's answer */
    if (!tp.t_stream && tp.s.phase >= MIG_STREAM)
        tp.t_stream = time_ns(); /* set-up (connect, handshake, offer) is over */
    if (mig_finished(&tp.s) || (!tp.tcp.pcb && tp.s.phase >= MIG_DONE))
        finish();
}

/* One progress line, rewritten in place. */
static void progress(uint64_t wire, uint64_t per_s)
{
    const struct mig_stats *st = &tp.s.st;
    kprintf("\r\x1b[K  round %u  %lu MB sent  ", st->rounds ? st->rounds - 1 : 0, wire / 1000000);
    if (tp.s.live && st->rounds > 1) {
        kprintf("%lu dirty pages  dirtied ", st->dirty_pages);
        kprint_x100(st->dirty_rate / 10000);
        kprintf(" MB/s  ");
    } else {
        kprintf("%lu / %lu MiB  ", (st->ram_pages - st->round_left) >> 8, st->ram_pages >> 8);
    }
    kprint_x100(per_s / 10000);
    kprintf(" MB/s");
    if (tp.s.live && st->rounds > 1 && st->expected_downtime_ns != UINT64_MAX)
        kprintf("  expected downtime %lu ms", st->expected_downtime_ns / 1000000);
    if (st->throttle_pct)
        kprintf("  throttle %u %%", st->throttle_pct);
}

/* ---- the connection (hopvm/tcp_task.h) ---------------------------------- */

static uint64_t wire(void) { return tp.s.st.bytes_out + tp.s.st.bytes_in; }

static void on_tick(uint64_t per_s)
{
    /* A stranger that connects and says nothing (or trickles bytes) must
     * not hold the one teleport slot: the password is proved quickly. */
    if (tp.s.phase == MIG_HANDSHAKE && time_ns() - tp.t0 > TELEPORT_HANDSHAKE_S * 1000000000ull)
        mig_fail(&tp.s, MIG_ERR_TIMEOUT, "the peer did not complete the handshake within %d s",
                 TELEPORT_HANDSHAKE_S);
    if (tp.s.st.ram_pages && tp.s.phase == MIG_STREAM && tp.source)
        progress(wire(), per_s);
    teleport_pump(); /* a guest that stopped by itself fails the teleport now */
}

static void on_failed(int err)
{
    if (err == ERR_TIMEOUT)
        mig_fail(&tp.s, MIG_ERR_TIMEOUT, "no progress for %d s", TCP_TASK_IDLE_S);
    else if (err == ERR_RST && tp.source && !tp.s.st.bytes_in) /* a listener takes one connection at a time */
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "%s:%u refused the connection: no teleport listener there, or it is "
                 "busy with another teleport", tp.peer, tp.port);
    else
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "connection %s", err == ERR_RST ? "reset by the peer" : "lost");
    teleport_pump();
    if (tp.active) /* the link is given up */
        finish();
}

static void on_recv(struct pbuf *p)
{
    if (!p)
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "the peer closed the connection");
    for (struct pbuf *q = p; q; q = q->next)
        mig_consume(&tp.s, q->payload, q->len);
    teleport_pump();
}

static void on_sent(uint16_t len) { (void)len, teleport_pump(); }

static int buffers(void)
{
    if (!tp.out)
        tp.out = page_alloc((MIG_OUT_CAP + PAGE_SIZE - 1) / PAGE_SIZE, 0);
    if (!tp.in)
        tp.in = page_alloc((MIG_IN_CAP + PAGE_SIZE - 1) / PAGE_SIZE, 0);
    return tp.out && tp.in ? 0 : -1;
}

static void start(bool source, const char *password, bool v1)
{
    uint8_t rnd[MIG_RANDOM_LEN];
    random_bytes(rnd, sizeof(rnd));
    /* --v1: a listener also accepts a version-1 source; a source speaks
     * version 1, for a target that has nothing newer. */
    const struct mig_params p = {.password = password, .host = host_name(), .random = rnd, .allow_v1 = v1,
                                 .max_version = source && v1 ? STREAM_V1 : 0, .kdf_slice = KDF_ITER_SLICE};
    if (source)
        mig_source_init(&tp.s, &src_ops, tp.vm, &p, tp.out, tp.in);
    else
        mig_target_init(&tp.s, &tgt_ops, NULL, &p, tp.out, tp.in);
    memset(rnd, 0, sizeof(rnd));
    tp.t0 = time_ns();
    tp.t_pause = tp.t_handover = tp.t_stream = tp.t_sent = tp.t_kdf = 0;
    tp.dirty_mode = NULL;
    tp.said_auth = false;
}


/* Accepted (target), or connected (source). */
static void on_connected(void)
{
    if (!tp.source) {
        ip4addr_ntoa_r(ip_2_ip4(&tp.tcp.pcb->remote_ip), tp.peer, sizeof(tp.peer));
        kprintf("teleport: connection from %s\n", tp.peer);
        start(false, tp.password, tp.listen_v1);
    }
    teleport_pump();
}

/* The password's key derivation (PBKDF2: about 12 ms on a real CPU, 60-130
 * ms under QEMU's TCG, seconds under Bochs) runs between the guests' time
 * slices, KDF_SLICE_NS at a time, so no guest stalls for it. Should it
 * take longer than KDF_SPREAD_NS that way (a slow or emulated CPU), the rest
 * runs at once: the handshake must end within TELEPORT_HANDSHAKE_S, and
 * the peer's idle limit counts while this side says nothing. */
static bool on_poll(void)
{
    if (!tp.active || !tp.s.kdf_running)
        return false;
    uint64_t t0 = time_ns();
    if (!tp.t_kdf)
        tp.t_kdf = t0;
    bool at_once = t0 - tp.t_kdf > KDF_SPREAD_NS, more;
    do
        more = mig_work(&tp.s);
    while (more && (at_once || time_ns() - t0 < KDF_SLICE_NS));
    if (!more)
        teleport_pump(); /* this side's KEX */
    return more;
}

/* Nagle off: it would hold each small hand-over record behind a delayed ACK. */
static const struct tcp_task_ops tcp_ops = {
    .console = {.name = "teleport", .cancel = cancel, .poll = on_poll}, .no_nagle = true,
    .connected = on_connected,
    .recv = on_recv, .sent = on_sent, .failed = on_failed, .progress = wire, .tick = on_tick,
};

/* ---- target ------------------------------------------------------------- */

int teleport_listen(uint16_t port, const char *password, bool v1)
{
    if (buffers() != 0)
        return kprintf("error: out of memory for the teleport buffers\n"), -1;
    if (tcp_task_listen(&tp.tcp, &tcp_ops, port) != 0)
        return -1;
    memset(&tp.s, 0, sizeof(tp.s));
    ksnprintf(tp.password, sizeof(tp.password), "%s", password);
    tp.listen_v1 = v1;
    tp.active = true;
    tp.source = false;
    tp.port = port;
    tp.name[0] = 0;
    kprintf("teleport: waiting for a guest on TCP port %u%s%s (Ctrl-C stops)\n", port,
            password[0] ? ", password required" : ", no password: any peer may send (encrypted, unauthenticated)",
            v1 ? ", version 1 accepted" : "");
    return 0;
}

/* ---- source ------------------------------------------------------------- */

int teleport_send(struct vm *vm, const char *host, const struct teleport_opts *o)
{
    uint32_t a;
    int e;
    if (!inet_parse4(host, &a))
        return kprintf("error: '%s' is not an IPv4 address\n", host), -1;
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED)
        return kprintf("error: '%s' is %s: only a running or paused guest can be teleported\n", vm->name,
                       vm_state_name(vm->state)), -1;
    if (buffers() != 0)
        return kprintf("error: out of memory for the teleport buffers\n"), -1;
    uint64_t pages = vm->ram_size / PAGE_SIZE;
    tp.bitmap_pages = (BITMAP_WORDS(pages) * sizeof(uint64_t) + PAGE_SIZE - 1) / PAGE_SIZE;
    if (!o->offline && !(tp.bitmap = page_alloc(tp.bitmap_pages, 0)))
        return kprintf("error: out of memory for the dirty bitmap (%lu KiB)\n", tp.bitmap_pages * 4), -1;
    if (tcp_task_connect(&tp.tcp, &tcp_ops, a, o->port, &e) != 0) {
        if (tp.bitmap)
            page_free(tp.bitmap, tp.bitmap_pages), tp.bitmap = NULL;
        return -1;
    }
    tp.vm = vm;
    tp.source = true;
    tp.opts = *o;
    tp.bw_Bps = o->bandwidth_Bps;
    tp.bw_timer = false;
    ksnprintf(tp.peer, sizeof(tp.peer), "%s", host);
    ksnprintf(tp.name, sizeof(tp.name), "%s", vm->name);
    tp.port = o->port;
    vm_mig_begin(vm);
    tp.active = true;
    start(true, o->password, o->v1);
    if (!o->offline)
        mig_source_live(&tp.s, &(struct mig_live_params){o->downtime_ns, o->max_rounds, o->no_throttle},
                        tp.bitmap);
    kprintf("teleport: sending '%s' (%lu MiB) to %s:%u, %s\n", vm->name, vm->ram_size >> 20, host, o->port,
            o->offline ? "offline (paused for the whole transfer)" : "live");
    if (e != ERR_OK) /* nothing runs: the session fails, and the pump ends the teleport */
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "cannot connect: %s", lwip_strerr(e));
    teleport_pump();
    return 0;
}
