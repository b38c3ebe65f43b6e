/* `nettest`: a bulk TCP transfer whose every byte the receiver checks.
 *
 * Wire format (all integers big-endian):
 *   sender -> receiver: "HOPVMNT1", u64 length, u64 seed, then `length`
 *                       bytes of the pattern below;
 *   receiver -> sender: "HOPVMOK!", u64 bytes verified   (all correct), or
 *                       "HOPVMBAD", u64 offset of the first wrong byte.
 * Pattern: byte i is byte (i mod 8) of the little-endian 64-bit word
 * splitmix64(seed + i / 8), so a dropped, duplicated or reordered segment
 * that TCP failed to repair shows at once and names its offset. The host
 * side (tests/, tools/bench-net) speaks the same format in Python. */
#ifndef HOPVM_NETTEST_H
#define HOPVM_NETTEST_H
#include <stddef.h>
#include <stdint.h>

#define NETTEST_PORT      5001
#define NETTEST_HDR_LEN   24
#define NETTEST_REPLY_LEN 16
#define NETTEST_MAGIC     "HOPVMNT1"
#define NETTEST_OK        "HOPVMOK!"
#define NETTEST_BAD       "HOPVMBAD"
#define NETTEST_MAX_MIB   65536 /* 64 GiB */

uint64_t nettest_word(uint64_t seed, uint64_t k);
/* Writes pattern bytes [off, off + n) into p. */
void nettest_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n);
/* Checks pattern bytes [off, off + n) in p: the index of the first wrong
 * byte, or n if all are right. */
size_t nettest_check(uint64_t seed, uint64_t off, const uint8_t *p, size_t n);
void nettest_put_be64(uint8_t *p, uint64_t v);
uint64_t nettest_get_be64(const uint8_t *p);

#endif
