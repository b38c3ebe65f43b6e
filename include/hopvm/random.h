/* Random bytes for protocol nonces (vmm/random.c in hopvm; the host tools
 * use getrandom). Not for long-term keys: nonces only need to be
 * unpredictable and never repeat. */
#ifndef HOPVM_RANDOM_H
#define HOPVM_RANDOM_H
#include <stddef.h>

void random_bytes(void *buf, size_t n);

#endif
