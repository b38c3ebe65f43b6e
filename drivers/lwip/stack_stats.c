/* The TCP/IP half of `net stats`: what lwIP dropped and why (malformed
 * frames and packets are dropped and counted, never fatal), and TCP
 * retransmissions, counted by the hook in lwip_hooks.h. */
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include "lwip/stats.h"

static uint64_t tcp_retransmits;

void hopvm_tcp_out_seen(unsigned seqno, unsigned snd_nxt, int has_pcb)
{
    if (has_pcb && (int)(seqno - snd_nxt) < 0) /* TCP_SEQ_LT: modulo 2^32 */
        tcp_retransmits++;
}

uint64_t net_tcp_retransmits(void) { return tcp_retransmits; }

static void row(const char *name, const struct stats_proto *s)
{
    kprintf("%-6s %12u %12u %8u %8u %8u %8u %8u\n", name, s->recv, s->xmit, s->drop, s->chkerr, s->lenerr,
            s->proterr, s->memerr);
}

void net_print_stack_stats(void)
{
    kprintf("%-6s %12s %12s %8s %8s %8s %8s %8s\n", "proto", "received", "sent", "dropped", "checksum",
            "length", "protocol", "memory");
    row("link", &lwip_stats.link);
    row("arp", &lwip_stats.etharp);
    row("ip", &lwip_stats.ip);
    row("icmp", &lwip_stats.icmp);
    row("udp", &lwip_stats.udp);
    row("tcp", &lwip_stats.tcp);
    kprintf("TCP retransmitted segments: %lu\n", tcp_retransmits);
}
