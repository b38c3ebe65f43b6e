/* What lwIP wants from <stdlib.h> (netif.c: atoi), served by the port, so
 * the host C library's header is never used in the freestanding core. */
#ifndef HOPVM_LWIP_STDLIB_H
#define HOPVM_LWIP_STDLIB_H
int atoi(const char *s);
#endif
