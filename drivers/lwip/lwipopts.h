/* lwIP configuration for hopvm (lwIP 2.1 src/include/lwip/opt.h has every
 * option and its meaning). NO_SYS with the raw API: one thread, the host
 * loop, drives the stack. Tuned for bulk TCP transfer (migration). */
#ifndef HOPVM_LWIPOPTS_H
#define HOPVM_LWIPOPTS_H

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_PROVIDE_ERRNO 1
#define SYS_LIGHTWEIGHT_PROT 0
#define MEM_ALIGNMENT 8
/* The heap and every pool live in pages from hopvm's allocator (set up by
 * net_start before lwip_init), not in the image: the gnu-efi linker
 * script stores .bss as zeros in the file. The heap is the port's
 * (heap.c: a free list per power-of-two size, O(1)), not mem.c's,
 * whose first-fit walk over every block took a quarter of a bulk sender's
 * time with hundreds of TCP segments queued. MEM_SIZE is its arena. */
#include <stddef.h>
#define MEM_SIZE (16 * 1024 * 1024)
#define MEMP_MEM_MALLOC 1
#define MEM_LIBC_MALLOC 1
void *lwip_port_malloc(size_t size);
void *lwip_port_calloc(size_t count, size_t size);
void lwip_port_free(void *p);
void lwip_port_heap(unsigned char *arena, size_t size); /* heap.c: the arena to carve */
#define mem_clib_malloc lwip_port_malloc
#define mem_clib_calloc lwip_port_calloc
#define mem_clib_free lwip_port_free
/* The Internet checksum 32 bits at a time (chksum.c); lwIP's default
 * sums 16-bit words. */
unsigned short lwip_port_chksum(const void *data, int len);
#define LWIP_CHKSUM lwip_port_chksum
#define MEMP_NUM_PBUF 1024
#define MEMP_NUM_TCP_PCB 16
#define MEMP_NUM_TCP_SEG 2048
#define PBUF_POOL_SIZE 2048
#define PBUF_POOL_BUFSIZE 1536
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define LWIP_DHCP 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define SO_REUSE 1 /* a listener may bind while old connections sit in TIME_WAIT */
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_AUTOIP 0
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define TCP_MSS 1460
/* tcp_tmr every 50 ms: the slow timer (RTO, in its ticks) runs every 100 ms
 * instead of 500, so a lost segment on a LAN costs a fraction of a second
 * rather than seconds (lwIP has no SACK-based recovery). */
#define TCP_TMR_INTERVAL 50
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 4
#define TCP_WND (512 * 1024)
#define TCP_SND_BUF (512 * 1024)
#define TCP_SND_QUEUELEN 2048
#define TCP_OVERSIZE TCP_MSS
#define TCP_SNDLOWAT (16 * TCP_MSS)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_STATS 1
#define LWIP_STATS_LARGE 1 /* 32-bit counters: a 64 MiB transfer is 46k segments */
#define LWIP_HOOK_FILENAME "lwip_hooks.h" /* counts TCP retransmissions */
#define LWIP_STATS_DISPLAY 0
#define LWIP_CHECKSUM_ON_COPY 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_UDP 1

#endif
