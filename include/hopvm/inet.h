/* IPv4 text forms typed by operators or read from hopvm.cfg. Pure:
 * unit-tested and fuzzed through the config parser. */
#ifndef HOPVM_INET_H
#define HOPVM_INET_H
#include <stdbool.h>
#include <stdint.h>

/* "a.b.c.d": exactly four decimal parts 0..255 of one to three digits,
 * nothing else. (inet_aton would take "1.2.3" as 1.2.0.3, which is never
 * what an operator meant.) The result is in host order. */
bool inet_parse4(const char *s, uint32_t *addr);
/* "a.b.c.d/N" with N in 1..32. */
bool inet_parse4_prefix(const char *s, uint32_t *addr, unsigned *prefix);
/* The netmask of a prefix length, host order. */
uint32_t inet_prefix_mask(unsigned prefix);

#endif
