/* Teleport in hopvm (migrate/teleport.c, migrate/teleport_cmds.c): one
 * teleport at a time, in or out, over lwIP. */
#ifndef HOPVM_TELEPORT_H
#define HOPVM_TELEPORT_H
#include <hopvm/mig_session.h>
#include <hopvm/tcp_task.h>

#define TELEPORT_PORT STREAM_PORT

struct vm;

/* `teleport NAME --host H ...`: how to send. */
struct teleport_opts {
    uint16_t port;
    char password[MIG_PASSWORD_MAX + 1];
    bool offline;              /* stop-and-copy: paused for the whole transfer */
    bool no_throttle;          /* live: give up after max_rounds rather than slow the guest */
    uint64_t downtime_ns;      /* live: the final pause to aim for */
    uint32_t max_rounds;
    uint64_t bandwidth_Bps;    /* 0: as fast as the link goes */
    bool v1;                   /* also speak stream version 1 (unsealed): only with --v1 */
};
#define TELEPORT_DOWNTIME_MS   300 /* QEMU's default downtime-limit */
#define TELEPORT_MAX_ROUNDS    30
#define KDF_SLICE_NS   2000000ull     /* the key derivation's share of one host-loop pass */
#define KDF_SPREAD_NS  2000000000ull  /* then it runs at once (migrate/teleport.c on_poll) */
#define KDF_ITER_SLICE 32             /* PBKDF2 iterations between two looks at the clock */
#define TELEPORT_HANDSHAKE_S   9   /* a peer that has not proved the password by then is dropped: below the 10 s idle limit, above the ~5 s Bochs needs */

struct teleport {
    bool active, source;
    struct tcp_task tcp;         /* the connection (drivers/lwip/tcp_task.c) */
    struct mig_session s;
    struct vm *vm;               /* source: the guest until handed over; target: the shell */
    uint8_t *out, *in;           /* MIG_OUT_CAP and MIG_IN_CAP, allocated on first use */
    char password[MIG_PASSWORD_MAX + 1];
    bool listen_v1;              /* target: `teleport listen --v1` */
    bool said_auth;              /* the console was told how the peer is authenticated */
    char peer[16], name[CFG_NAME_MAX];
    uint16_t port;
    struct teleport_opts opts;   /* source */
    uint64_t *bitmap;            /* source, live: the session's round bitmap */
    const char *dirty_mode;      /* source, live: how the dirty log tracks writes, once on */
    uint64_t bitmap_pages;
    uint64_t bw_Bps;
    bool bw_timer;
    uint64_t t0, t_stream, t_pause, t_handover, t_end;
    uint64_t t_sent; /* source: the final round's last byte went to TCP; target: COMMIT_READY did */
    uint64_t t_kdf;  /* when the key derivation began (0: not yet) */
};
extern struct teleport tp;      /* the current or last teleport (`info migrate`) */

int teleport_listen(uint16_t port, const char *password, bool v1);
int teleport_send(struct vm *vm, const char *host, const struct teleport_opts *o);
void teleport_pump(void);
void teleport_cmds_register(void);

#endif
