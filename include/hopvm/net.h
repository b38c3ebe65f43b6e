/* The TCP/IP stack (lwIP) over the NICs (drivers/lwip). */
#ifndef HOPVM_NET_H
#define HOPVM_NET_H

/* Brings up one lwIP interface per NIC, with DHCP. */
void net_start(void);
/* lwIP's timers; called from the host loop. */
void net_poll(void);
struct netif;
struct netif *net_netif(unsigned i);
/* Prints interface i's IPv4 address, prefix, gateway and origin. */
void net_print_addr(unsigned i);
#include <stdint.h>
/* A static address (host order) for interface i; stops DHCP. gw 0: none.
 * -1 if there is no such interface. */
int net_set_static(unsigned i, uint32_t addr, unsigned prefix, uint32_t gw);
struct config;
/* Applies the [net IF] sections of hopvm.cfg (DHCP stays the default). */
void net_apply_config(const struct config *cfg);
/* lwIP's per-protocol counters and TCP retransmissions (`net stats`). */
void net_print_stack_stats(void);
uint64_t net_tcp_retransmits(void);
/* The `nettest` command (drivers/lwip/nettest.c). */
void nettest_cmds_register(void);
/* ICMP echo; 0 if any reply came. */
int net_ping(const char *host, unsigned count);

#endif
