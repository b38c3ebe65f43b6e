/* One TCP connection as a console task over lwIP's raw API, what `nettest`
 * and `teleport` share: accepted (the first closes the listener, others are
 * refused) or connected; a tick a second, TCP_TASK_IDLE_S seconds without
 * progress a failure; Ctrl-C calls the user's cancel. */
#ifndef HOPVM_TCP_TASK_H
#define HOPVM_TCP_TASK_H
#include <stddef.h>
#include <stdint.h>
#include <hopvm/console.h>

#define TCP_TASK_IDLE_S 10

struct tcp_pcb;
struct pbuf;

/* The user's side, from lwIP callbacks and timers; any may call
 * tcp_task_close. No context argument: each user has one task. */
struct tcp_task_ops {
    struct console_task console;  /* its cancel must end the task */
    bool no_nagle;
    void (*connected)(void);      /* accepted, or connected */
    void (*recv)(struct pbuf *p); /* consumed already, freed after; NULL: the peer closed */
    void (*sent)(uint16_t len);   /* the peer ACKed len bytes: room to write */
    /* Must end the task. ERR_TIMEOUT: TCP_TASK_IDLE_S s without progress;
     * else lwIP's err callback's (ERR_RST, ERR_ABRT, ERR_CLSD), PCB freed. */
    void (*failed)(int err);
    uint64_t (*progress)(void);   /* bytes moved so far */
    void (*tick)(uint64_t per_s); /* once a second, with the bytes moved in it */
};

struct tcp_task {
    struct tcp_pcb *pcb;  /* the connection; first (hopvm/teleport.h aliases it) */
    struct tcp_pcb *lpcb; /* listening, until the connection comes */
    const struct tcp_task_ops *ops;
    uint64_t last;        /* progress at the last tick */
    unsigned idle_s;
    bool aborted;         /* the PCB was aborted: its callback must return ERR_ABRT */
};

/* 0, or -1 said on the console. The ticks begin with the connection. */
int tcp_task_listen(struct tcp_task *t, const struct tcp_task_ops *ops, uint16_t port);
/* addr as inet_parse4 gives it. -1: no PCB (said); else 0 and *err is
 * tcp_connect's: ERR_OK, the task runs; else nothing does. */
int tcp_task_connect(struct tcp_task *t, const struct tcp_task_ops *ops, uint32_t addr, uint16_t port, int *err);
/* What tcp_task_write may take now (0: full, sent comes with the next ACK). */
size_t tcp_task_room(const struct tcp_task *t);
/* A copy of n bytes; more: more follows (no PSH). */
bool tcp_task_write(struct tcp_task *t, const void *p, size_t n, bool more);
void tcp_task_output(struct tcp_task *t);
/* Closes (with abort, or if lwIP cannot close, resets) and gives the prompt back. */
void tcp_task_close(struct tcp_task *t, bool abort);

#endif
