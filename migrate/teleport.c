/* A teleport in hopvm: the session (migrate/session.c) on an lwIP TCP
 * connection, driven from the host loop so other guests keep running, and
 * the guest reached through vmm/vm_migrate.c. One teleport at a time, as
 * a console task (Ctrl-C cancels). Protocol: docs/migration-protocol.md. */
#include <hopvm/console.h>
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

#define IDLE_S   10
#define TICK_MS  1000
#define WRITE_MAX 0xffff /* tcp_write takes a u16 length */

struct teleport tp;

static void tick(void *arg);
static void cancel(void) { mig_fail(&tp.s, MIG_ERR_CANCELLED, "cancelled from the console"); teleport_pump(); }
static const struct console_task task = {.name = "teleport", .cancel = cancel};

/* ---- the guest, as the session sees it ---------------------------------- */

static void src_describe(void *ctx, struct mig_vmdef *d) { vm_describe(ctx, d); }
static const uint8_t *src_page(void *ctx, uint64_t gfn) { return ((struct vm *)ctx)->ram + gfn * PAGE_SIZE; }
static void src_vcpu(void *ctx, unsigned i, struct mig_vcpu *v) { vm_save_vcpu(ctx, i, v); }
static void src_uart(void *ctx, struct mig_uart *u) { vm_save_uart(ctx, u); }
static void src_handed_over(void *ctx)
{
    char why[160];
    tp.t_handover = time_ns();
    ksnprintf(why, sizeof(why), "teleported to %s:%u", tp.peer, tp.port);
    vm_retire(ctx, why);
    tp.vm = NULL;
}
static const struct mig_source_ops src_ops = {src_describe, src_page, src_vcpu, src_uart, src_handed_over};

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
    tp.t_pause = time_ns(); /* the guest is stopped from here until the commit */
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
static const struct mig_target_ops tgt_ops = {tgt_offer, tgt_page, tgt_vcpu, tgt_uart, tgt_commit, tgt_abort};

/* ---- the end of a teleport ---------------------------------------------- */


static void report(void)
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
        kprintf(tp.source ? "; '%s' runs on here\n" : "; nothing was kept\n", s->def.name[0] ? s->def.name : tp.name);
    }
}

static void finish(void)
{
    if (tp.pcb) {
        tcp_arg(tp.pcb, NULL);
        tcp_recv(tp.pcb, NULL);
        tcp_sent(tp.pcb, NULL);
        tcp_err(tp.pcb, NULL);
        if (tcp_close(tp.pcb) != ERR_OK)
            tcp_abort(tp.pcb);
        tp.pcb = NULL;
    }
    if (tp.lpcb) {
        tcp_close(tp.lpcb);
        tp.lpcb = NULL;
    }
    sys_untimeout(tick, NULL);
    if (tp.source && tp.vm) { /* not handed over: the guest is ours again */
        tp.vm->migrating = false;
        if (tp.was_running)
            tp.vm->state = VM_RUNNING;
    }
    tp.t_end = time_ns();
    report();
    tp.vm = NULL;
    tp.active = false;
    console_task_end();
}

/* Moves what the session has to say into TCP, and ends the teleport when
 * the session is over and its last bytes are queued. */
void teleport_pump(void)
{
    if (!tp.active)
        return;
    const uint8_t *p;
    size_t n;
    while (tp.pcb && (n = mig_peek(&tp.s, &p)) > 0) {
        size_t room = tcp_sndbuf(tp.pcb);
        if (n > room)
            n = room;
        if (n > WRITE_MAX)
            n = WRITE_MAX;
        if (!n || tcp_sndqueuelen(tp.pcb) > TCP_SND_QUEUELEN - 8 ||
            tcp_write(tp.pcb, p, (u16_t)n, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE) != ERR_OK)
            break; /* the next ACK calls us again */
        mig_advance(&tp.s, n);
    }
    if (tp.pcb)
        tcp_output(tp.pcb);
    if (mig_finished(&tp.s) || (!tp.pcb && tp.s.phase >= MIG_DONE))
        finish();
}

/* ---- lwIP callbacks ----------------------------------------------------- */

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg, (void)pcb, (void)len;
    teleport_pump();
    return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg, (void)err;
    if (!p) {
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "the peer closed the connection");
        teleport_pump();
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    for (struct pbuf *q = p; q; q = q->next)
        mig_consume(&tp.s, q->payload, q->len);
    pbuf_free(p);
    teleport_pump();
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    (void)arg;
    tp.pcb = NULL; /* lwIP freed it */
    mig_fail(&tp.s, MIG_ERR_INTERNAL, "connection %s", err == ERR_RST ? "reset by the peer" : "lost");
    teleport_pump();
    if (tp.active) /* nothing can be sent any more */
        finish();
}

static void attach(struct tcp_pcb *pcb)
{
    tp.pcb = pcb;
    /* The hand-over is a few small records each way: Nagle would hold
     * each behind the peer's delayed ACK. */
    tcp_nagle_disable(pcb);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
}

/* Once a second: progress, and the idle limit that turns a vanished peer
 * into a failure. */
static void tick(void *arg)
{
    (void)arg;
    uint64_t now = tp.s.st.bytes_out + tp.s.st.bytes_in;
    tp.idle_s = now == tp.last_bytes ? tp.idle_s + 1 : 0;
    if (tp.idle_s >= IDLE_S && (tp.pcb || tp.source)) {
        mig_fail(&tp.s, MIG_ERR_TIMEOUT, "no progress for %d s", IDLE_S);
        teleport_pump();
        if (tp.active)
            finish();
        return;
    }
    if (tp.s.st.ram_pages && tp.s.phase == MIG_STREAM) {
        kprintf("\r\x1b[K  %lu%%  %lu / %lu MiB RAM  %lu KB on the wire  ", tp.s.st.pages_done * 100 / tp.s.st.ram_pages,
                tp.s.st.pages_done >> 8, tp.s.st.ram_pages >> 8, now / 1000);
        kprint_x100((now - tp.last_bytes) / 10000);
        kprintf(" MB/s");
    }
    tp.last_bytes = now;
    sys_timeout(TICK_MS, tick, NULL);
}

static int buffers(void)
{
    if (!tp.out)
        tp.out = page_alloc((MIG_OUT_CAP + PAGE_SIZE - 1) / PAGE_SIZE, 0);
    if (!tp.in)
        tp.in = page_alloc((MIG_IN_CAP + PAGE_SIZE - 1) / PAGE_SIZE, 0);
    return tp.out && tp.in ? 0 : -1;
}

static void start(bool source, const char *password)
{
    uint8_t nonce[STREAM_NONCE_LEN];
    random_bytes(nonce, sizeof(nonce));
    if (source)
        mig_source_init(&tp.s, &src_ops, tp.vm, password, host_name(), nonce, tp.out, tp.in);
    else
        mig_target_init(&tp.s, &tgt_ops, NULL, password, host_name(), nonce, tp.out, tp.in);
    tp.t0 = time_ns();
    tp.last_bytes = 0;
    tp.idle_s = 0;
    sys_timeout(TICK_MS, tick, NULL);
}

/* ---- target ------------------------------------------------------------- */

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)err;
    if (!pcb || !tp.active || tp.pcb) {
        if (pcb)
            tcp_abort(pcb); /* one guest at a time */
        return ERR_ABRT;
    }
    tcp_close(tp.lpcb);
    tp.lpcb = NULL;
    ip4addr_ntoa_r(ip_2_ip4(&pcb->remote_ip), tp.peer, sizeof(tp.peer));
    kprintf("teleport: connection from %s\n", tp.peer);
    attach(pcb);
    start(false, arg);
    teleport_pump();
    return ERR_OK;
}

int teleport_listen(uint16_t port, const char *password)
{
    if (buffers() != 0)
        return kprintf("error: out of memory for the teleport buffers\n"), -1;
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb)
        return kprintf("error: out of memory for a TCP PCB\n"), -1;
    ip_set_option(pcb, SOF_REUSEADDR);
    err_t e = tcp_bind(pcb, IP4_ADDR_ANY, port);
    if (e != ERR_OK || !(tp.lpcb = tcp_listen_with_backlog(pcb, 1))) {
        tcp_close(pcb);
        return kprintf("error: cannot listen on port %u: %s\n", port, e == ERR_USE ? "in use" : lwip_strerr(e)), -1;
    }
    memset(&tp.s, 0, sizeof(tp.s));
    ksnprintf(tp.password, sizeof(tp.password), "%s", password);
    tcp_arg(tp.lpcb, tp.password);
    tcp_accept(tp.lpcb, on_accept);
    tp.active = true;
    tp.source = false;
    tp.port = port;
    tp.name[0] = 0;
    kprintf("teleport: waiting for a guest on TCP port %u%s (Ctrl-C stops)\n", port,
            password[0] ? ", password required" : "");
    console_task_begin(&task);
    return 0;
}

/* ---- source ------------------------------------------------------------- */

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg, (void)pcb;
    if (err == ERR_OK)
        teleport_pump();
    return ERR_OK;
}

int teleport_send(struct vm *vm, const char *host, uint16_t port, const char *password)
{
    uint32_t a;
    if (!inet_parse4(host, &a))
        return kprintf("error: '%s' is not an IPv4 address\n", host), -1;
    if (vm->state != VM_RUNNING && vm->state != VM_PAUSED)
        return kprintf("error: '%s' is %s: only a running or paused guest can be teleported\n", vm->name,
                       vm_state_name(vm->state)), -1;
    if (buffers() != 0)
        return kprintf("error: out of memory for the teleport buffers\n"), -1;
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb)
        return kprintf("error: out of memory for a TCP PCB\n"), -1;
    ip_addr_t dst;
    ip_addr_set_ip4_u32(&dst, lwip_htonl(a));
    tp.vm = vm;
    tp.source = true;
    tp.was_running = vm->state == VM_RUNNING;
    ksnprintf(tp.peer, sizeof(tp.peer), "%s", host);
    ksnprintf(tp.name, sizeof(tp.name), "%s", vm->name);
    tp.port = port;
    /* Stop-and-copy: the guest is paused for the whole teleport. */
    vm->state = VM_PAUSED;
    vm->migrating = true;
    tp.t_pause = time_ns();
    tp.active = true;
    start(true, password);
    attach(pcb);
    err_t e = tcp_connect(pcb, &dst, port, on_connected);
    kprintf("teleport: sending '%s' (%lu MiB) to %s:%u\n", vm->name, vm->ram_size >> 20, host, port);
    console_task_begin(&task);
    if (e != ERR_OK)
        mig_fail(&tp.s, MIG_ERR_INTERNAL, "cannot connect: %s", lwip_strerr(e));
    teleport_pump();
    return 0;
}
