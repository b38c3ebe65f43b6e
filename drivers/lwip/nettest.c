/* `nettest listen [PORT]` and `nettest send HOST [PORT] [MIB]`: a bulk TCP
 * transfer over lwIP's raw API with every byte checked by the receiver
 * (format in hopvm/nettest.h). It is our measure of the raw link, which
 * migration throughput is compared with.
 *
 * Everything runs from lwIP callbacks, which the host loop drives while
 * guests keep their slices; the command only starts the transfer and holds
 * the prompt (a console task, hopvm/tcp_task.h) until it ends. Ctrl-C
 * cancels. A peer that resets gives an error at once; one that vanishes
 * gives an error after 10 s without progress; nothing waits for ever. */
#include <hopvm/cmd.h>
#include <hopvm/inet.h>
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include <hopvm/nettest.h>
#include <hopvm/tcp_task.h>
#include <hopvm/time.h>
#include "lwip/tcp.h"

#define DEFAULT_MIB 64
#define CHUNK       (32 * 1024)

enum nt_state { NT_IDLE, NT_LISTEN, NT_RECV, NT_CONNECT, NT_SEND };

static struct {
    enum nt_state st;
    struct tcp_task tcp;
    uint64_t total, seed;
    uint64_t hdr_done, data_done; /* sent, or received and checked */
    uint64_t acked;               /* sender: bytes the peer has ACKed */
    uint8_t hdr[NETTEST_HDR_LEN], reply[NETTEST_REPLY_LEN];
    unsigned reply_got;
    uint64_t t0;
} nt;

static uint8_t chunk[CHUNK];

/* Stops everything and gives the prompt back. With abort, the connection
 * is reset (the peer learns at once). */
static void finish(bool abort) { nt.st = NT_IDLE, tcp_task_close(&nt.tcp, abort); }

static void fail(bool abort, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(bool abort, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kprintf("\r\x1b[Knettest: error: %s (after %lu of %lu bytes)\n", msg, nt.data_done, nt.total);
    finish(abort);
}

static void cancel(void) { fail(true, "cancelled"); }

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

static uint64_t progress(void) { return nt.st == NT_SEND ? nt.acked : nt.hdr_done + nt.data_done; }

static void on_tick(uint64_t per_s)
{
    if (nt.st != NT_SEND && nt.st != NT_RECV)
        return;
    kprintf("\r\x1b[K  %lu / %lu MiB  ", nt.data_done >> 20, nt.total >> 20);
    kprint_x100(per_s / 10000);
    kprintf(" MB/s");
}

static void on_failed(int err)
{
    if (err == ERR_TIMEOUT)
        fail(true, nt.st == NT_CONNECT ? "no answer from the peer for %d s" : "no progress for %d s; peer gone?",
             TCP_TASK_IDLE_S);
    else
        fail(false, "%s", err == ERR_RST ? "connection reset by the peer" : err == ERR_ABRT ? "connection aborted"
                                                                                        : lwip_strerr(err));
}

/* ---- receiver ---------------------------------------------------------- */

/* The receiver's answer; a graceful close follows, so that it arrives. */
static void verdict(const char *magic, uint64_t v)
{
    uint8_t r[NETTEST_REPLY_LEN];
    memcpy(r, magic, 8);
    nettest_put_be64(r + 8, v);
    tcp_task_write(&nt.tcp, r, sizeof(r), false);
    tcp_task_output(&nt.tcp);
}

static void recv_bytes(const uint8_t *p, size_t n)
{
    while (n && nt.hdr_done < NETTEST_HDR_LEN) {
        nt.hdr[nt.hdr_done++] = *p++;
        n--;
        if (nt.hdr_done < NETTEST_HDR_LEN)
            continue;
        nt.total = nettest_get_be64(nt.hdr + 8);
        nt.seed = nettest_get_be64(nt.hdr + 16);
        if (memcmp(nt.hdr, NETTEST_MAGIC, 8) || nt.total > (uint64_t)NETTEST_MAX_MIB << 20) {
            fail(true, "not a nettest stream (bad magic or length)");
            return;
        }
        kprintf("nettest: receiving %lu bytes\n", nt.total);
    }
    size_t ok;
    if (n > nt.total - nt.data_done) {
        fail(true, "the peer sent more than the %lu bytes it announced", nt.total);
    } else if ((ok = nettest_check(nt.seed, nt.data_done, p, n)) != n) {
        verdict(NETTEST_BAD, nt.data_done + ok);
        fail(false, "data mismatch at byte %lu", nt.data_done + ok);
    } else {
        nt.data_done += n;
    }
}

static void receive(struct pbuf *p)
{
    if (!p)
        fail(false, "the peer closed the connection early");
    for (struct pbuf *q = p; q && nt.st == NT_RECV; q = q->next)
        recv_bytes(q->payload, q->len);
    if (nt.st == NT_RECV && nt.hdr_done == NETTEST_HDR_LEN && nt.data_done == nt.total) {
        verdict(NETTEST_OK, nt.total);
        print_rate("received");
        finish(false);
    }
}

/* ---- sender ------------------------------------------------------------ */

/* Fills the send buffer: lwIP copies, so one chunk buffer serves. */
static void pump(void)
{
    while (nt.hdr_done < NETTEST_HDR_LEN || nt.data_done < nt.total) {
        const uint8_t *src = nt.hdr + nt.hdr_done;
        uint64_t left = NETTEST_HDR_LEN - nt.hdr_done;
        if (!left)
            left = MIN(nt.total - nt.data_done, CHUNK);
        uint64_t room = tcp_task_room(&nt.tcp);
        left = MIN(left, room);
        if (!left)
            break; /* on_sent calls again when the peer ACKs */
        if (nt.hdr_done == NETTEST_HDR_LEN) {
            nettest_fill(nt.seed, nt.data_done, chunk, left);
            src = chunk;
        }
        bool more = nt.hdr_done + nt.data_done + left < NETTEST_HDR_LEN + nt.total;
        if (!tcp_task_write(&nt.tcp, src, left, more))
            break;
        if (nt.hdr_done < NETTEST_HDR_LEN)
            nt.hdr_done += left;
        else
            nt.data_done += left;
    }
    tcp_task_output(&nt.tcp);
}

/* The receiver writes only its verdict, and closes after it. */
static void on_sent(uint16_t len) { if (nt.st == NT_SEND) nt.acked += len, pump(); }

static void reply(struct pbuf *p)
{
    if (!p)
        fail(false, "the peer closed the connection without a verdict");
    for (struct pbuf *q = p; q; q = q->next)
        for (u16_t i = 0; i < q->len && nt.reply_got < NETTEST_REPLY_LEN; i++)
            nt.reply[nt.reply_got++] = ((const uint8_t *)q->payload)[i];
    if (nt.st != NT_SEND || nt.reply_got < NETTEST_REPLY_LEN)
        return;
    uint64_t v = nettest_get_be64(nt.reply + 8);
    if (!memcmp(nt.reply, NETTEST_OK, 8) && v == nt.total)
        print_rate("sent"), finish(false);
    else if (!memcmp(nt.reply, NETTEST_BAD, 8))
        fail(true, "the peer found wrong data at byte %lu", v);
    else
        fail(true, "the peer's verdict is garbled");
}

static void on_recv(struct pbuf *p) { nt.st == NT_RECV ? receive(p) : reply(p); }

static void on_connected(void)
{
    nt.t0 = time_ns();
    if (nt.st == NT_LISTEN) {
        nt.st = NT_RECV;
        char a[16];
        ip4addr_ntoa_r(ip_2_ip4(&nt.tcp.pcb->remote_ip), a, sizeof(a));
        kprintf("nettest: connection from %s:%u\n", a, nt.tcp.pcb->remote_port);
        return;
    }
    nt.st = NT_SEND;
    kprintf("nettest: connected; sending %lu MiB\n", nt.total >> 20);
    pump();
}

static const struct tcp_task_ops ops = {
    .console = {.name = "nettest", .cancel = cancel}, .connected = on_connected, .recv = on_recv,
    .sent = on_sent, .failed = on_failed, .progress = progress, .tick = on_tick,
};

static enum cmd_status send(const char *host, uint16_t port, uint64_t mib)
{
    uint32_t a;
    int e;
    if (!inet_parse4(host, &a)) {
        kprintf("error: '%s' is not an IPv4 address\n", host);
        return CMD_USAGE;
    }
    if (tcp_task_connect(&nt.tcp, &ops, a, port, &e) != 0)
        return CMD_FAIL;
    if (e != ERR_OK) {
        kprintf("error: cannot connect to %s:%u: %s\n", host, port, e == ERR_RTE ? "no route" : lwip_strerr(e));
        return CMD_FAIL;
    }
    nt.st = NT_CONNECT;
    nt.total = mib << 20;
    nt.seed = time_ns();
    memcpy(nt.hdr, NETTEST_MAGIC, 8);
    nettest_put_be64(nt.hdr + 8, nt.total);
    nettest_put_be64(nt.hdr + 16, nt.seed);
    kprintf("nettest: connecting to %s:%u (Ctrl-C stops)\n", host, port);
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
    if (is_listen) {
        if (argc == 3 && !parse_port(argv[2], &port))
            return CMD_USAGE;
        if (tcp_task_listen(&nt.tcp, &ops, port) != 0)
            return CMD_FAIL;
        nt.st = NT_LISTEN;
        kprintf("nettest: listening on TCP port %u (Ctrl-C stops)\n", port);
        return CMD_OK;
    }
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
