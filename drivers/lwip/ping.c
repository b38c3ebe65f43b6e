/* `ping HOST [-c N]`: ICMP echo (RFC 792) through an lwIP raw PCB. The
 * command waits up to a second per request, polling the NICs itself. */
#include <hopvm/inet.h>
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include <hopvm/nic.h>
#include <hopvm/time.h>
#include "lwip/icmp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/prot/ip4.h"
#include "lwip/raw.h"
#include "lwip/timeouts.h"

#define PING_ID 0x4856 /* "HV" */
#define PING_DATA 56   /* the classic 64-byte ICMP message */
#define PING_WAIT_MS 1000

static uint16_t want_seq;
static bool got_reply;

static u8_t on_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
    (void)arg, (void)pcb, (void)addr;
    struct ip_hdr iph;
    struct icmp_echo_hdr e;
    if (pbuf_copy_partial(p, &iph, sizeof(iph), 0) != sizeof(iph))
        return 0;
    u16_t hl = (u16_t)IPH_HL_BYTES(&iph);
    if (pbuf_copy_partial(p, &e, sizeof(e), hl) != sizeof(e))
        return 0;
    if (e.type != ICMP_ER || e.id != lwip_htons(PING_ID) || e.seqno != lwip_htons(want_seq))
        return 0; /* not ours: let lwIP see it */
    got_reply = true;
    pbuf_free(p);
    return 1;
}

int net_ping(const char *host, unsigned count)
{
    ip_addr_t dst;
    uint32_t a;
    if (!inet_parse4(host, &a)) {
        kprintf("error: '%s' is not an IPv4 address\n", host);
        return -1;
    }
    ip_addr_set_ip4_u32(&dst, lwip_htonl(a));
    if (!net_netif(0)) {
        kprintf("error: no network interface\n");
        return -1;
    }
    struct raw_pcb *pcb = raw_new(IP_PROTO_ICMP);
    if (!pcb) {
        kprintf("error: out of memory for a raw PCB\n");
        return -1;
    }
    raw_recv(pcb, on_recv, NULL);
    unsigned received = 0;
    for (unsigned i = 1; i <= count; i++) {
        struct pbuf *p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + PING_DATA, PBUF_RAM);
        if (!p) {
            kprintf("error: out of memory for a packet\n");
            break;
        }
        struct icmp_echo_hdr *e = p->payload;
        e->type = ICMP_ECHO;
        e->code = 0;
        e->id = lwip_htons(PING_ID);
        e->seqno = lwip_htons((u16_t)i);
        e->chksum = 0;
        for (int k = 0; k < PING_DATA; k++)
            ((u8_t *)p->payload)[sizeof(*e) + k] = (u8_t)k;
        e->chksum = inet_chksum(p->payload, p->len);
        want_seq = (uint16_t)i;
        got_reply = false;
        uint64_t t0 = time_ns();
        raw_sendto(pcb, p, &dst);
        pbuf_free(p);
        while (!got_reply && time_ns() - t0 < (uint64_t)PING_WAIT_MS * 1000000) {
            nic_poll_all();
            net_poll();
        }
        uint64_t us = (time_ns() - t0) / 1000;
        if (got_reply) {
            received++;
            kprintf("%u bytes from %s: seq=%u time=%lu.%03lu ms\n", (unsigned)(sizeof(*e) + PING_DATA), host, i,
                    us / 1000, us % 1000);
        } else {
            kprintf("no reply from %s: seq=%u (timeout %d ms)\n", host, i, PING_WAIT_MS);
        }
    }
    raw_remove(pcb);
    kprintf("%u transmitted, %u received\n", count, received);
    return received ? 0 : -1;
}
