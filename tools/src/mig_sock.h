/* A teleport session (hopvm/mig_session.h) on a Linux TCP socket, for the
 * host tools hopvm-save and hopvm-restore: connecting, listening, the
 * poll() pump that moves the session's bytes, and what a session needs
 * from the host (a nonce, a host name) and from the command line (a port,
 * a password). */
#ifndef HOPVM_TOOLS_MIG_SOCK_H
#define HOPVM_TOOLS_MIG_SOCK_H
#include <hopvm/mig_session.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIG_SOCK_IDLE_S 10 /* as hopvm: give up after this long without a byte either way */
#define MIG_SOCK_HANDSHAKE_S 9 /* as hopvm: the peer proves the password within this */

/* The session's buffers, 8-byte aligned (libfdt reads bodies in place). */
extern uint8_t mig_sock_out[MIG_OUT_CAP];
extern uint8_t mig_sock_in[MIG_IN_CAP];

/* SIGINT and SIGTERM cancel the teleport the way Ctrl-C on hopvm's console
 * does (an ERROR goes to the peer); a second one ends the program. SIGPIPE
 * is ignored: a lost peer is a failed write. */
void mig_sock_catch_signals(void);
bool mig_sock_cancelled(void);

/* Each returns a socket, or -1 with a one-line reason in err. */
int mig_sock_listen(uint16_t port, char *err, size_t n);
/* Waits for one connection; peer gets its address. */
int mig_sock_accept(int listener, char *peer, size_t peer_n, char *err, size_t n);
/* HOST is a name or an address; gives up after MIG_SOCK_IDLE_S. */
int mig_sock_connect(const char *host, uint16_t port, char *err, size_t n);

struct mig_sock_hooks {
    void *ctx;
    const char *progress; /* if set and stdout is a terminal: a progress line per second, so prefixed */
};

/* Runs the session on fd until it is finished (or the link is gone and it
 * has ended), then closes fd. Returns 0 if everything the session queued
 * reached the socket, -1 if the link failed with bytes unsent. */
int mig_sock_run(int fd, struct mig_session *s, const struct mig_sock_hooks *h);

/* A session's random bytes (struct mig_params) from the kernel; 0, or -1
 * with the reason. */
int mig_sock_random(uint8_t rnd[MIG_RANDOM_LEN], char *err, size_t n);
/* This machine's name in the characters a stream carries ([A-Za-z0-9._-],
 * others become '-'), "linux" if it has none. */
void mig_sock_host_name(char *out, size_t n);

/* The options both tools take, as hopvm's `teleport`: --port P,
 * --password X, --password-file F (the first line of a local file), --v1
 * (also speak the unsealed stream version 1). */
struct mig_sock_opts {
    uint16_t port;                          /* STREAM_PORT unless given */
    char password[MIG_PASSWORD_MAX + 1];    /* "" unless given */
    bool have_password;
    bool v1;
};
void mig_sock_opts_init(struct mig_sock_opts *o);
/* If argv[*i] is one of the options: takes it and its value (advancing *i)
 * and returns 1, or -1 with the reason in err; 0 if it is none of them. */
int mig_sock_option(int argc, char **argv, int *i, struct mig_sock_opts *o, char *err, size_t n);

#endif
