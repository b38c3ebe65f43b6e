/* nettest-host: hopvm's `nettest` on Linux, for tools/bench-net's loopback
 * ceiling and for talking to a hopvm from a lab machine. It shares the
 * pattern code with hopvm (vmm/nettest_pattern.c) and speaks the format in
 * include/hopvm/nettest.h.
 *   nettest-host listen [PORT]           one transfer, then exits
 *   nettest-host send HOST [PORT] [MIB]
 * Prints the same result line as hopvm; exit status 0 if the data was
 * verified. */
#define _POSIX_C_SOURCE 200809L
#include <hopvm/nettest.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)

static uint8_t buf[BUF];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r, n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r <= 0)
            return -1;
        p += r, n -= (size_t)r;
    }
    return 0;
}

static void result(const char *verb, uint64_t total, double s)
{
    printf("nettest: %s %.2f MiB in %.2f s: %.2f MB/s, data verified\n", verb, (double)total / 1048576, s,
           (double)total / s / 1e6);
}

static int do_listen(uint16_t port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1)) {
        fprintf(stderr, "nettest-host: cannot listen on port %u: %s\n", port, strerror(errno));
        return 1;
    }
    printf("nettest: listening on TCP port %u\n", port);
    fflush(stdout);
    int fd = accept(ls, NULL, NULL);
    close(ls);
    uint8_t hdr[NETTEST_HDR_LEN], reply[NETTEST_REPLY_LEN];
    double t0 = now();
    if (fd < 0 || read_full(fd, hdr, sizeof(hdr)) || memcmp(hdr, NETTEST_MAGIC, 8)) {
        fprintf(stderr, "nettest-host: not a nettest stream\n");
        return 1;
    }
    uint64_t total = nettest_get_be64(hdr + 8), seed = nettest_get_be64(hdr + 16), done = 0;
    while (done < total) {
        size_t want = total - done < BUF ? (size_t)(total - done) : BUF;
        ssize_t r = read(fd, buf, want);
        if (r <= 0) {
            fprintf(stderr, "nettest-host: the peer closed after %llu of %llu bytes\n",
                    (unsigned long long)done, (unsigned long long)total);
            return 1;
        }
        size_t ok = nettest_check(seed, done, buf, (size_t)r);
        if (ok != (size_t)r) {
            memcpy(reply, NETTEST_BAD, 8);
            nettest_put_be64(reply + 8, done + ok);
            write_full(fd, reply, sizeof(reply));
            fprintf(stderr, "nettest-host: data mismatch at byte %llu\n", (unsigned long long)(done + ok));
            return 1;
        }
        done += (uint64_t)r;
    }
    memcpy(reply, NETTEST_OK, 8);
    nettest_put_be64(reply + 8, total);
    write_full(fd, reply, sizeof(reply));
    result("received", total, now() - t0);
    close(fd);
    return 0;
}

static int do_send(const char *host, uint16_t port, uint64_t mib)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "nettest-host: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        fprintf(stderr, "nettest-host: cannot connect to %s:%u: %s\n", host, port, strerror(errno));
        return 1;
    }
    uint64_t total = mib << 20, seed = (uint64_t)(now() * 1e9), done = 0;
    uint8_t hdr[NETTEST_HDR_LEN], reply[NETTEST_REPLY_LEN];
    memcpy(hdr, NETTEST_MAGIC, 8);
    nettest_put_be64(hdr + 8, total);
    nettest_put_be64(hdr + 16, seed);
    double t0 = now();
    if (write_full(fd, hdr, sizeof(hdr)))
        return 1;
    while (done < total) {
        size_t n = total - done < BUF ? (size_t)(total - done) : BUF;
        nettest_fill(seed, done, buf, n);
        if (write_full(fd, buf, n)) {
            fprintf(stderr, "nettest-host: write failed after %llu bytes\n", (unsigned long long)done);
            return 1;
        }
        done += n;
    }
    if (read_full(fd, reply, sizeof(reply)) || memcmp(reply, NETTEST_OK, 8) ||
        nettest_get_be64(reply + 8) != total) {
        fprintf(stderr, "nettest-host: the peer did not verify the data\n");
        return 1;
    }
    result("sent", total, now() - t0);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long port = NETTEST_PORT, mib = 64;
    if (argc >= 2 && !strcmp(argv[1], "listen") && argc <= 3) {
        if (argc == 3)
            port = strtoul(argv[2], NULL, 10);
        return do_listen((uint16_t)port);
    }
    if (argc >= 3 && !strcmp(argv[1], "send") && argc <= 5) {
        if (argc >= 4)
            port = strtoul(argv[3], NULL, 10);
        if (argc == 5)
            mib = strtoul(argv[4], NULL, 10);
        return do_send(argv[2], (uint16_t)port, mib);
    }
    fprintf(stderr, "usage: nettest-host listen [PORT] | nettest-host send HOST [PORT] [MIB]\n");
    return 2;
}
