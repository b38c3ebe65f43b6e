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

#endif
