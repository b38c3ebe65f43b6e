/* lwIP port: compiler and platform definitions (lwIP 2.1 doc/sys_arch.txt,
 * "Compiler/platform abstraction"). The host core is freestanding. */
#ifndef HOPVM_LWIP_ARCH_CC_H
#define HOPVM_LWIP_ARCH_CC_H
#include <stddef.h>
#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_INTTYPES_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
uint32_t lwip_port_rand(void);

#define LWIP_PLATFORM_DIAG(x) do { kprintf x; } while (0)
/* An assertion in the stack is a bug in hopvm or lwIP: stop loudly. */
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert(x, __FILE__, __LINE__)
#define LWIP_RAND() lwip_port_rand()

#endif
