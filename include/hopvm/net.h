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
/* Static ADDR/PREFIX and optional gateway for interface i (stops DHCP). */
int net_set_addr(unsigned i, const char *addr_prefix, const char *gw);
/* a.b.c.d with four decimal parts of up to three digits. */
#include <stdbool.h>
bool net_ip4_strict(const char *s);
/* ICMP echo; 0 if any reply came. */
int net_ping(const char *host, unsigned count);

#endif
