/* A teleport session on a Linux TCP socket (mig_sock.h). The session is
 * hopvm's own (migrate/session.c): this file only moves its bytes, with the
 * same rules as hopvm's lwIP transport (migrate/teleport.c): a lost link
 * or MIG_SOCK_IDLE_S without progress fails the session, and a cancel
 * sends the peer an ERROR. */
#define _DEFAULT_SOURCE
#include "mig_sock.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECV_CHUNK (256 * 1024)
#define MS_PER_S   1000
#define PORT_MAX   65535
#define HOST_MAX   256   /* gethostname's limit on Linux is 64; leave room */
#define DEFAULT_HOST "linux"

_Alignas(8) uint8_t mig_sock_out[MIG_OUT_CAP];
_Alignas(8) uint8_t mig_sock_in[MIG_IN_CAP];
static uint8_t recv_buf[RECV_CHUNK];
static volatile sig_atomic_t cancelled;

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * MS_PER_S + ts.tv_nsec / 1000000;
}

/* ---- signals ------------------------------------------------------------ */

static void on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

void mig_sock_catch_signals(void)
{
    /* No SA_RESTART: poll(), accept() and connect() return EINTR and the
     * cancel is seen at once. SA_RESETHAND: a second signal ends the
     * program even if the peer never takes the ERROR. */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool mig_sock_cancelled(void) { return cancelled != 0; }

/* ---- connections -------------------------------------------------------- */

static void nodelay(int fd)
{
    /* The hand-over is a few small records each way: Nagle would hold each
     * behind the peer's delayed ACK (as in hopvm). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int mig_sock_listen(uint16_t port, char *err, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return fail(err, n, "cannot create a socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 1) != 0) {
        int e = errno;
        close(fd);
        return fail(err, n, "cannot listen on TCP port %u: %s", port, strerror(e));
    }
    return fd;
}

int mig_sock_accept(int listener, char *peer, size_t peer_n, char *err, size_t n)
{
    for (;;) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);
        int fd = accept(listener, (struct sockaddr *)&a, &len);
        if (fd >= 0) {
            if (!inet_ntop(AF_INET, &a.sin_addr, peer, (socklen_t)peer_n))
                snprintf(peer, peer_n, "?");
            nodelay(fd);
            return fd;
        }
        if (errno == EINTR && cancelled)
            return fail(err, n, "cancelled before a guest arrived");
        if (errno != EINTR && errno != ECONNABORTED)
            return fail(err, n, "accept: %s", strerror(errno));
    }
}

/* One address, with MIG_SOCK_IDLE_S to answer. */
static int connect_one(const struct addrinfo *ai, char *why, size_t n)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return fail(why, n, "%s", strerror(errno));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return fail(why, n, "%s", strerror(e));
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int e = 0;
    socklen_t len = sizeof(e);
    int r = poll(&p, 1, MIG_SOCK_IDLE_S * MS_PER_S);
    if (r == 0)
        e = ETIMEDOUT;
    else if (r < 0)
        e = errno;
    else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    if (e) {
        close(fd);
        return fail(why, n, "%s", cancelled ? "cancelled" : strerror(e));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    nodelay(fd);
    return fd;
}

int mig_sock_connect(const char *host, uint16_t port, char *err, size_t n)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list;
    char service[8], why[128] = "no address";
    snprintf(service, sizeof(service), "%u", port);
    int rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0)
        return fail(err, n, "cannot resolve '%s': %s", host, gai_strerror(rc));
    int fd = -1;
    for (const struct addrinfo *ai = list; ai && fd < 0 && !cancelled; ai = ai->ai_next)
        fd = connect_one(ai, why, sizeof(why));
    freeaddrinfo(list);
    if (fd < 0)
        return fail(err, n, "cannot connect to %s port %u: %s", host, port, why);
    return fd;
}

/* ---- the pump ----------------------------------------------------------- */

static bool ended(const struct mig_session *s)
{
    return s->phase == MIG_DONE || s->phase == MIG_FAILED || s->phase == MIG_IN_DOUBT;
}

static const char *lost(int e) { return e == ECONNRESET || e == EPIPE ? "reset by the peer" : strerror(e); }

static void progress(const struct mig_session *s, const char *label)
{
    if (!label || !isatty(STDOUT_FILENO) || s->phase != MIG_STREAM || !s->st.ram_pages)
        return;
    printf("\r\033[K%s: %llu%%  %llu / %llu MiB RAM  %llu KB on the wire", label,
           (unsigned long long)(s->st.pages_done * 100 / s->st.ram_pages),
           (unsigned long long)(s->st.pages_done * RAM_PAGE_SIZE >> 20),
           (unsigned long long)(s->st.ram_pages * RAM_PAGE_SIZE >> 20),
           (unsigned long long)((s->st.bytes_in + s->st.bytes_out) / 1000));
    fflush(stdout);
}

int mig_sock_run(int fd, struct mig_session *s, const struct mig_sock_hooks *h)
{
    bool link = true, shown = false;
    int64_t last = now_ms(), tick = last + MS_PER_S, start = last;
    for (;;) {
        if (mig_finished(s) || (!link && ended(s)))
            break;
        if (cancelled && !ended(s))
            mig_fail(s, MIG_ERR_CANCELLED, "cancelled on the host");
        if (s->phase == MIG_HANDSHAKE && now_ms() - start > MIG_SOCK_HANDSHAKE_S * MS_PER_S)
            mig_fail(s, MIG_ERR_TIMEOUT, "the peer did not complete the handshake within %d s",
                     MIG_SOCK_HANDSHAKE_S);
        const uint8_t *p;
        size_t want = mig_peek(s, &p);
        struct pollfd pfd = {.fd = fd, .events = (short)(POLLIN | (want ? POLLOUT : 0))};
        int64_t now = now_ms(), wait = tick - now;
        if (wait < 0)
            wait = 0;
        int r = poll(&pfd, 1, (int)wait);
        if (r < 0 && errno != EINTR) {
            mig_fail(s, MIG_ERR_INTERNAL, "poll: %s", strerror(errno));
            link = false;
            continue;
        }
        if (r > 0 && (pfd.revents & POLLOUT) && want) {
            ssize_t w = send(fd, p, want, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                mig_advance(s, (size_t)w);
                last = now_ms();
            } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                link = false;
                mig_fail(s, MIG_ERR_INTERNAL, "connection %s", lost(errno));
                continue;
            }
        }
        if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = recv(fd, recv_buf, sizeof(recv_buf), MSG_DONTWAIT);
            if (got > 0) {
                mig_consume(s, recv_buf, (size_t)got);
                last = now_ms();
            } else if (got == 0) {
                link = false;
                mig_fail(s, MIG_ERR_INTERNAL, "the peer closed the connection");
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                link = false;
                mig_fail(s, MIG_ERR_INTERNAL, "connection %s", lost(errno));
            }
        }
        now = now_ms();
        if (now - last >= MIG_SOCK_IDLE_S * MS_PER_S) {
            if (ended(s))
                break; /* not even the ERROR goes out: the peer is gone */
            mig_fail(s, MIG_ERR_TIMEOUT, "no progress for %d s", MIG_SOCK_IDLE_S);
            last = now;
        }
        if (now >= tick) {
            progress(s, h->progress);
            shown |= h->progress && isatty(STDOUT_FILENO) && s->phase == MIG_STREAM;
            tick = now + MS_PER_S;
        }
    }
    if (shown)
        printf("\r\033[K");
    close(fd);
    const uint8_t *p;
    return mig_peek(s, &p) == 0 ? 0 : -1;
}

/* ---- what a session needs ----------------------------------------------- */

int mig_sock_random(uint8_t rnd[MIG_RANDOM_LEN], char *err, size_t n)
{
    size_t got = 0;
    while (got < MIG_RANDOM_LEN) {
        ssize_t r = getrandom(rnd + got, MIG_RANDOM_LEN - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail(err, n, "getrandom: %s", strerror(errno));
        got += (size_t)r;
    }
    return 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

void mig_sock_host_name(char *out, size_t n)
{
    char raw[HOST_MAX + 1] = "";
    if (gethostname(raw, HOST_MAX) != 0 || !raw[0])
        snprintf(raw, sizeof(raw), "%s", DEFAULT_HOST);
    raw[HOST_MAX] = 0;
    size_t i = 0;
    for (; raw[i] && i + 1 < n; i++)
        out[i] = name_char(raw[i]) ? raw[i] : '-';
    if (n)
        out[i] = 0;
}

static int parse_port(const char *s, uint16_t *port, char *err, size_t n)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || *s == '+' || v == 0 || v > PORT_MAX)
        return fail(err, n, "bad port '%s' (1 to %d)", s, PORT_MAX);
    *port = (uint16_t)v;
    return 0;
}

static int set_password(const char *s, char *out, size_t out_n, char *err, size_t n)
{
    if (strlen(s) > MIG_PASSWORD_MAX || strlen(s) >= out_n)
        return fail(err, n, "password longer than %d bytes", MIG_PASSWORD_MAX);
    snprintf(out, out_n, "%s", s);
    return 0;
}

static int password_file(const char *path, char *out, size_t out_n, char *err, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, n, "password file %s: %s", path, strerror(errno));
    char line[MIG_PASSWORD_MAX + 2]; /* one more byte than allowed, and the NUL */
    if (!fgets(line, sizeof(line), f))
        line[0] = 0;
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    return set_password(line, out, out_n, err, n);
}

void mig_sock_opts_init(struct mig_sock_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port = STREAM_PORT;
}

int mig_sock_option(int argc, char **argv, int *i, struct mig_sock_opts *o, char *err, size_t n)
{
    const char *opt = argv[*i];
    bool port = !strcmp(opt, "--port"), pw = !strcmp(opt, "--password"), file = !strcmp(opt, "--password-file");
    if (!strcmp(opt, "--v1")) {
        o->v1 = true;
        return 1;
    }
    if (!port && !pw && !file)
        return 0;
    if (*i + 1 >= argc)
        return fail(err, n, "'%s' needs a value", opt);
    const char *v = argv[++*i];
    if (port)
        return parse_port(v, &o->port, err, n) == 0 ? 1 : -1;
    if (o->have_password)
        return fail(err, n, "give one of --password and --password-file");
    o->have_password = true;
    int rc = pw ? set_password(v, o->password, sizeof(o->password), err, n)
                : password_file(v, o->password, sizeof(o->password), err, n);
    return rc == 0 ? 1 : -1;
}
