/* libnodelay.so: preloaded into the QEMUs the tests and benchmarks start
 * (tests/conftest.py), it turns Nagle's algorithm off on their TCP sockets.
 *
 * Why: two hopvm instances are joined by QEMU's stream socket netdev
 * (-netdev socket,listen=/connect=), one Ethernet frame per write to a TCP
 * socket that QEMU 7.2 leaves with Nagle on. A small frame written while an
 * earlier one is unacknowledged then waits for the other QEMU's delayed ACK
 * (Linux: 40 ms at least). Measured with a packet dump of a live teleport:
 * every burst of a few frames, the final round's among them, waited 43-45 ms,
 * so every pause had that floor; with this library, 3-7 ms. A real wire has
 * no such wait, so the benchmarks would otherwise measure the emulator.
 * (UDP, -netdev socket,udp=, has no Nagle but drops frames when a receiving
 * QEMU is busy: nettest fell from 54 to 14 MB/s on e1000.) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void no_nagle(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on non-TCP */
}

int connect(int fd, const struct sockaddr *a, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    int r = real(fd, a, len);
    if (a && (a->sa_family == AF_INET || a->sa_family == AF_INET6))
        no_nagle(fd); /* also when r < 0 with EINPROGRESS: the option holds for the socket */
    return r;
}

int accept4(int fd, struct sockaddr *a, socklen_t *len, int flags)
{
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real)
        real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    int r = real(fd, a, len, flags);
    if (r >= 0)
        no_nagle(r);
    return r;
}

int accept(int fd, struct sockaddr *a, socklen_t *len)
{
    return accept4(fd, a, len, 0);
}
