/* `nettest listen [PORT]` and `nettest send HOST [PORT] [MIB]`: a bulk TCP
 * transfer over lwIP's raw API with every byte checked by the receiver
 * (format in hopvm/nettest.h). It is our measure of the raw link, which
 * migration throughput is compared with.
 *
 * Everything runs from lwIP callbacks, which the host loop drives while
 * guests keep their slices; the command only starts the transfer and holds
 * the prompt (a console task) until it ends. Ctrl-C cancels. A peer that
 * resets gives an error at once; one that vanishes gives an error after
 * IDLE_S seconds without progress; nothing waits for ever. */
#include <hopvm/cmd.h>
#include <hopvm/console.h>
#include <hopvm/inet.h>
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include <hopvm/nettest.h>
#include <hopvm/time.h>
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#define DEFAULT_MIB 64
#define IDLE_S      10
#define CHUNK       (32 * 1024)
#define TICK_MS     1000

enum nt_state { NT_IDLE, NT_LISTEN, NT_RECV, NT_CONNECT, NT_SEND };

static struct {
    enum nt_state st;
    struct tcp_pcb *lpcb, *pcb;
    uint64_t total, seed;
    uint64_t hdr_done, data_done; /* sent, or received and checked */
    uint64_t acked;               /* sender: bytes the peer has ACKed */
    uint8_t hdr[NETTEST_HDR_LEN], reply[NETTEST_REPLY_LEN];
    unsigned reply_got;
    uint64_t t0, last_ns, last_bytes;
    unsigned idle_s;
} nt;

static uint8_t chunk[CHUNK];

static void tick(void *arg);
static void cancel(void);
static const struct console_task task = {.name = "nettest", .cancel = cancel};

/* Stops everything, frees the PCBs, gives the prompt back. With abort, the
 * connection is reset (the peer learns at once). Returns ERR_ABRT if the
 * PCB was aborted, which a callback must then return to lwIP (the raw
 * API's rule), else ERR_OK. */
static err_t finish(bool abort)
{
    err_t ret = ERR_OK;
    if (nt.pcb) {
        tcp_arg(nt.pcb, NULL);
        tcp_recv(nt.pcb, NULL);
        tcp_sent(nt.pcb, NULL);
        tcp_err(nt.pcb, NULL);
        if (abort || tcp_close(nt.pcb) != ERR_OK) {
            tcp_abort(nt.pcb);
            ret = ERR_ABRT;
        }
        nt.pcb = NULL;
    }
    if (nt.lpcb) {
        tcp_close(nt.lpcb); /* a listening PCB always closes */
        nt.lpcb = NULL;
    }
    sys_untimeout(tick, NULL);
    nt.st = NT_IDLE;
    console_task_end();
    return ret;
}

static err_t fail(bool abort, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static err_t fail(bool abort, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kprintf("\r\x1b[Knettest: error: %s (after %lu of %lu bytes)\n", msg, nt.data_done, nt.total);
    return finish(abort);
}

static void cancel(void) { fail(true, "cancelled"); }


static uint64_t progress(void) { return nt.st == NT_SEND ? nt.acked : nt.hdr_done + nt.data_done; }

/* "received 64.00 MiB in 5.21 s: 12.88 MB/s, data verified" (MB = 10^6). */
static void print_rate(const char *verb)
{
    uint64_t ns = time_ns() - nt.t0;
    kprintf("\r\x1b[Knettest: %s ", verb);
    kprint_x100(nt.total * 100 >> 20);
    kprintf(" MiB in ");
    kprint_x100(ns / 10000000);
    kprintf(" s: ");
    kprint_x100(ns ? nt.total * 100000 / ns : 0); /* bytes/ns * 1000 = MB/s */
    kprintf(" MB/s, data verified\n");
}

/* Once a second: a progress line, and the idle check that turns a peer
 * that vanished into an error. */
static void tick(void *arg)
{
    (void)arg;
    uint64_t now = progress();
    nt.idle_s = now == nt.last_bytes ? nt.idle_s + 1 : 0;
    if (nt.idle_s >= IDLE_S) {
        fail(true, nt.st == NT_CONNECT ? "no answer from the peer for %d s" : "no progress for %d s; peer gone?",
             IDLE_S);
        return; /* not re-armed */
    }
    if (nt.st == NT_SEND || nt.st == NT_RECV) {
        uint64_t rate = (now - nt.last_bytes) * 1000 / TICK_MS; /* bytes/s */
        kprintf("\r\x1b[K  %lu / %lu MiB  ", nt.data_done >> 20, nt.total >> 20);
        kprint_x100(rate / 10000);
        kprintf(" MB/s");
    }
    nt.last_bytes = now;
    sys_timeout(TICK_MS, tick, NULL);
}

static void start_ticks(void)
{
    nt.last_bytes = 0;
    nt.idle_s = 0;
    sys_timeout(TICK_MS, tick, NULL);
}

static void on_err(void *arg, err_t err)
{
    (void)arg;
    nt.pcb = NULL; /* lwIP has freed it */
    (void)fail(false, "%s", err == ERR_RST ? "connection reset by the peer" : err == ERR_ABRT ? "connection aborted"
                                                                                          : lwip_strerr(err));
}

/* ---- receiver ---------------------------------------------------------- */

static err_t recv_bytes(struct tcp_pcb *pcb, const uint8_t *p, size_t n)
{
    while (n && nt.hdr_done < NETTEST_HDR_LEN) {
        nt.hdr[nt.hdr_done++] = *p++;
        n--;
        if (nt.hdr_done < NETTEST_HDR_LEN)
            continue;
        nt.total = nettest_get_be64(nt.hdr + 8);
        nt.seed = nettest_get_be64(nt.hdr + 16);
        if (memcmp(nt.hdr, NETTEST_MAGIC, 8) || nt.total > (uint64_t)NETTEST_MAX_MIB << 20) {
            return fail(true, "not a nettest stream (bad magic or length)");
        }
        kprintf("nettest: receiving %lu bytes\n", nt.total);
    }
    if (!n)
        return ERR_OK;
    if (n > nt.total - nt.data_done) {
        return fail(true, "the peer sent more than the %lu bytes it announced", nt.total);
    }
    size_t ok = nettest_check(nt.seed, nt.data_done, p, n);
    if (ok != n) {
        uint8_t bad[NETTEST_REPLY_LEN];
        memcpy(bad, NETTEST_BAD, 8);
        nettest_put_be64(bad + 8, nt.data_done + ok);
        tcp_write(pcb, bad, sizeof(bad), TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
        /* A graceful close, so the verdict reaches the sender. */
        return fail(false, "data mismatch at byte %lu", nt.data_done + ok);
    }
    nt.data_done += n;
    return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p)
        return fail(false, "the peer closed the connection early");
    /* Consumed whatever the verdict: a close with unread data would be a
     * reset (lwIP tcp_close_shutdown), and the reset would lose the
     * HOPVMBAD verdict the sender is waiting for. */
    tcp_recved(pcb, p->tot_len);
    for (struct pbuf *q = p; q; q = q->next) {
        bool was_running = nt.st == NT_RECV;
        err_t e = recv_bytes(pcb, q->payload, q->len);
        if (was_running && nt.st != NT_RECV) {
            pbuf_free(p); /* the transfer failed; e says whether pcb lives */
            return e;
        }
    }
    pbuf_free(p);
    if (nt.hdr_done == NETTEST_HDR_LEN && nt.data_done == nt.total) {
        uint8_t ok[NETTEST_REPLY_LEN];
        memcpy(ok, NETTEST_OK, 8);
        nettest_put_be64(ok + 8, nt.total);
        tcp_write(pcb, ok, sizeof(ok), TCP_WRITE_FLAG_COPY);
        tcp_output(pcb);
        print_rate("received");
        return finish(false); /* a graceful close: the verdict goes out first */
    }
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    if (nt.st != NT_LISTEN) {
        tcp_abort(pcb); /* one transfer at a time */
        return ERR_ABRT;
    }
    tcp_close(nt.lpcb);
    nt.lpcb = NULL;
    nt.pcb = pcb;
    nt.st = NT_RECV;
    nt.t0 = time_ns();
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    char a[16];
    ip4addr_ntoa_r(ip_2_ip4(&pcb->remote_ip), a, sizeof(a));
    kprintf("nettest: connection from %s:%u\n", a, pcb->remote_port);
    start_ticks();
    return ERR_OK;
}

static enum cmd_status listen(uint16_t port)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) {
        kprintf("error: out of memory for a TCP PCB\n");
        return CMD_FAIL;
    }
    ip_set_option(pcb, SOF_REUSEADDR); /* the last transfer may be in TIME_WAIT */
    err_t e = tcp_bind(pcb, IP4_ADDR_ANY, port);
    if (e != ERR_OK) {
        tcp_close(pcb);
        kprintf("error: cannot listen on port %u: %s\n", port, e == ERR_USE ? "in use" : lwip_strerr(e));
        return CMD_FAIL;
    }
    nt.lpcb = tcp_listen_with_backlog(pcb, 1);
    if (!nt.lpcb) {
        tcp_close(pcb);
        kprintf("error: out of memory for a listening PCB\n");
        return CMD_FAIL;
    }
    tcp_accept(nt.lpcb, on_accept);
    nt.st = NT_LISTEN;
    kprintf("nettest: listening on TCP port %u (Ctrl-C stops)\n", port);
    console_task_begin(&task);
    return CMD_OK;
}

/* ---- sender ------------------------------------------------------------ */

/* Fills the send buffer: lwIP copies, so one chunk buffer serves. */
static void pump(struct tcp_pcb *pcb)
{
    while (nt.hdr_done < NETTEST_HDR_LEN || nt.data_done < nt.total) {
        const uint8_t *src = nt.hdr + nt.hdr_done;
        uint64_t left = NETTEST_HDR_LEN - nt.hdr_done;
        if (!left) {
            left = nt.total - nt.data_done;
            if (left > CHUNK)
                left = CHUNK;
        }
        if (left > tcp_sndbuf(pcb))
            left = tcp_sndbuf(pcb);
        if (!left || tcp_sndqueuelen(pcb) > TCP_SND_QUEUELEN - 8)
            break; /* on_sent calls again when the peer ACKs */
        if (nt.hdr_done == NETTEST_HDR_LEN) {
            nettest_fill(nt.seed, nt.data_done, chunk, left);
            src = chunk;
        }
        bool more = nt.hdr_done + nt.data_done + left < NETTEST_HDR_LEN + nt.total;
        if (tcp_write(pcb, src, (u16_t)left, TCP_WRITE_FLAG_COPY | (more ? TCP_WRITE_FLAG_MORE : 0)) != ERR_OK)
            break;
        if (nt.hdr_done < NETTEST_HDR_LEN)
            nt.hdr_done += left;
        else
            nt.data_done += left;
    }
    tcp_output(pcb);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    nt.acked += len;
    pump(pcb);
    return ERR_OK;
}

static err_t on_reply(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p)
        return fail(false, "the peer closed the connection without a verdict");
    for (struct pbuf *q = p; q; q = q->next)
        for (u16_t i = 0; i < q->len && nt.reply_got < NETTEST_REPLY_LEN; i++)
            nt.reply[nt.reply_got++] = ((const uint8_t *)q->payload)[i];
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if (nt.reply_got < NETTEST_REPLY_LEN)
        return ERR_OK;
    uint64_t v = nettest_get_be64(nt.reply + 8);
    if (!memcmp(nt.reply, NETTEST_OK, 8) && v == nt.total) {
        print_rate("sent");
        return finish(false);
    }
    if (!memcmp(nt.reply, NETTEST_BAD, 8))
        return fail(true, "the peer found wrong data at byte %lu", v);
    return fail(true, "the peer's verdict is garbled");
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK)
        return err;
    nt.st = NT_SEND;
    nt.t0 = time_ns();
    kprintf("nettest: connected; sending %lu MiB\n", nt.total >> 20);
    pump(pcb);
    return ERR_OK;
}

static enum cmd_status send(const char *host, uint16_t port, uint64_t mib)
{
    uint32_t a;
    if (!inet_parse4(host, &a)) {
        kprintf("error: '%s' is not an IPv4 address\n", host);
        return CMD_USAGE;
    }
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb) {
        kprintf("error: out of memory for a TCP PCB\n");
        return CMD_FAIL;
    }
    ip_addr_t dst;
    ip_addr_set_ip4_u32(&dst, lwip_htonl(a));
    nt.pcb = pcb;
    nt.total = mib << 20;
    nt.seed = time_ns();
    memcpy(nt.hdr, NETTEST_MAGIC, 8);
    nettest_put_be64(nt.hdr + 8, nt.total);
    nettest_put_be64(nt.hdr + 16, nt.seed);
    tcp_sent(pcb, on_sent);
    tcp_recv(pcb, on_reply);
    tcp_err(pcb, on_err);
    nt.st = NT_CONNECT;
    err_t e = tcp_connect(pcb, &dst, port, on_connected);
    if (e != ERR_OK) {
        nt.pcb = NULL;
        nt.st = NT_IDLE;
        tcp_abort(pcb);
        kprintf("error: cannot connect to %s:%u: %s\n", host, port, e == ERR_RTE ? "no route" : lwip_strerr(e));
        return CMD_FAIL;
    }
    kprintf("nettest: connecting to %s:%u (Ctrl-C stops)\n", host, port);
    start_ticks();
    console_task_begin(&task);
    return CMD_OK;
}

/* ---- the command ------------------------------------------------------- */

static bool parse_port(const char *s, uint16_t *port)
{
    uint64_t v;
    if (parse_u64(s, &v) != 0 || v == 0 || v > 65535) {
        kprintf("error: bad port '%s' (1 to 65535)\n", s);
        return false;
    }
    *port = (uint16_t)v;
    return true;
}

static enum cmd_status cmd_nettest(int argc, char **argv)
{
    uint16_t port = NETTEST_PORT;
    bool is_listen = argc >= 2 && !strcmp(argv[1], "listen");
    bool is_send = argc >= 3 && !strcmp(argv[1], "send");
    if (!(is_listen && argc <= 3) && !(is_send && argc <= 5)) {
        kprintf("error: nettest listen [PORT] | nettest send HOST [PORT] [MIB]\n");
        return CMD_USAGE;
    }
    if (!net_netif(0)) {
        kprintf("error: no network interface\n");
        return CMD_FAIL;
    }
    if (nt.st != NT_IDLE) {
        kprintf("error: a nettest is already running\n");
        return CMD_FAIL;
    }
    memset(&nt, 0, sizeof(nt));
    if (is_listen)
        return argc == 3 && !parse_port(argv[2], &port) ? CMD_USAGE : listen(port);
    uint64_t mib = DEFAULT_MIB;
    if (argc >= 4 && !parse_port(argv[3], &port))
        return CMD_USAGE;
    if (argc == 5 && (parse_u64(argv[4], &mib) != 0 || mib == 0 || mib > NETTEST_MAX_MIB)) {
        kprintf("error: bad size '%s' MiB (1 to %d)\n", argv[4], NETTEST_MAX_MIB);
        return CMD_USAGE;
    }
    return send(argv[2], port, mib);
}

static const struct cmd nettest_cmds[] = {
    {.name = "nettest", .usage = "listen [PORT] | send HOST [PORT] [MIB]",
     .help = "bulk TCP transfer with every byte checked, in MB/s (port 5001, 64 MiB by default)",
     .run = cmd_nettest},
};

void nettest_cmds_register(void) { cmd_register(nettest_cmds, ARRAY_SIZE(nettest_cmds)); }
