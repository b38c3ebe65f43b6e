/* lwIP port: the few functions the stack needs from its platform with
 * NO_SYS=1 (lwIP 2.1 doc/NO_SYS_SampleCode.c, sys.h: sys_now). */
#include <hopvm/cpu.h>
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>
#include "lwip/sys.h"

u32_t sys_now(void)
{
    return (u32_t)(time_ns() / 1000000); /* milliseconds; lwIP handles the wrap */
}

uint32_t lwip_port_rand(void)
{
    /* Only for initial sequence numbers, ports and DHCP transaction ids:
     * the low TSC bits vary enough between boots and connections. */
    uint64_t t = rdtsc();
    return (uint32_t)(t ^ (t >> 29) ^ (t << 7));
}

void lwip_port_assert(const char *msg, const char *file, int line)
{
    kprintf("\n*** hopvm: lwIP assertion failed: %s (%s:%d) ***\n", msg, file, line);
    cpu_park();
}

int atoi(const char *s)
{
    int v = 0, neg = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    while (*s >= '0' && *s <= '9' && v < 100000000)
        v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}
