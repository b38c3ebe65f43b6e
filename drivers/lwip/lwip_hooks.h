/* lwIP hooks (LWIP_HOOK_FILENAME, lwIP 2.1 opt.h "Hooks").
 *
 * lwIP 2.1 counts only fast retransmissions (MIB2 tcpretranssegs), not
 * those after a retransmission timeout. Every outgoing TCP segment passes
 * the options hook before it is sent; one whose sequence number lies below
 * the PCB's snd_nxt is being sent again (lwIP does not rewind snd_nxt on a
 * timeout: tcp_rexmit_rto_prepare records rto_end instead), so counting
 * those counts both kinds. */
#ifndef HOPVM_LWIP_HOOKS_H
#define HOPVM_LWIP_HOOKS_H

void hopvm_tcp_out_seen(unsigned seqno, unsigned snd_nxt, int has_pcb);

#define LWIP_HOOK_TCP_OUT_ADD_TCPOPTS(p, hdr, pcb, opts)                                  \
    (hopvm_tcp_out_seen(lwip_ntohl((hdr)->seqno), (pcb) ? (pcb)->snd_nxt : 0, (pcb) != NULL), \
     (opts))

#endif
