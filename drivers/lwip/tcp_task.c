/* A TCP connection as a console task: see hopvm/tcp_task.h. */
#include <hopvm/lib.h>
#include <hopvm/tcp_task.h>
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

/* Once a second: the idle limit (a peer that vanished), then the user's tick. */
static void tick(void *arg)
{
    struct tcp_task *t = arg;
    uint64_t now = t->ops->progress(), per_s = now - t->last;
    t->idle_s = per_s ? 0 : t->idle_s + 1;
    if (t->idle_s >= TCP_TASK_IDLE_S) {
        t->ops->failed(ERR_TIMEOUT); /* which ends the task: not re-armed */
        return;
    }
    t->last = now;
    sys_timeout(1000, tick, t); /* before the user's tick, which may end the task (and untimeout it) */
    t->ops->tick(per_s);
}

/* After a user's op: ERR_ABRT if it aborted the PCB (the raw API's rule). */
static err_t status(const struct tcp_task *t) { return t->aborted ? ERR_ABRT : ERR_OK; }

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    /* Consumed first: lwIP resets a connection closed with unread data
     * (tcp_close_shutdown), losing what went just before (nettest's verdict). */
    if (p)
        tcp_recved(pcb, p->tot_len);
    (void)err, ((struct tcp_task *)arg)->ops->recv(p);
    if (p)
        pbuf_free(p);
    return status(arg);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)pcb, ((struct tcp_task *)arg)->ops->sent(len);
    return status(arg);
}

static void on_err(void *arg, err_t err)
{
    struct tcp_task *t = arg;
    t->pcb = NULL; /* lwIP has freed it */
    t->ops->failed(err);
}

/* lwIP 2.1.3 calls it with ERR_OK only (tcp_in.c, SYN_SENT). */
static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)pcb, (void)err, ((struct tcp_task *)arg)->ops->connected();
    return status(arg);
}

/* The connection, and the ticks from now on. */
static void attach(struct tcp_task *t, struct tcp_pcb *pcb)
{
    t->pcb = pcb;
    t->aborted = false;
    if (t->ops->no_nagle)
        tcp_nagle_disable(pcb);
    tcp_arg(pcb, t);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    t->last = t->idle_s = 0;
    sys_timeout(1000, tick, t);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct tcp_task *t = arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL; /* lwIP had no PCB for it */
    if (t->pcb)
        return tcp_abort(pcb), ERR_ABRT; /* one connection a task */
    tcp_close(t->lpcb);
    t->lpcb = NULL;
    attach(t, pcb);
    t->ops->connected();
    return status(t);
}

int tcp_task_listen(struct tcp_task *t, const struct tcp_task_ops *ops, uint16_t port)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb)
        return kprintf("error: out of memory for a TCP PCB\n"), -1;
    t->ops = ops;
    ip_set_option(pcb, SOF_REUSEADDR); /* the last connection may be in TIME_WAIT */
    err_t e = tcp_bind(pcb, IP4_ADDR_ANY, port);
    if (e != ERR_OK || !(t->lpcb = tcp_listen_with_backlog(pcb, 1))) {
        tcp_close(pcb);
        if (e == ERR_OK)
            return kprintf("error: out of memory for a listening PCB\n"), -1;
        return kprintf("error: cannot listen on port %u: %s\n", port, e == ERR_USE ? "in use" : lwip_strerr(e)), -1;
    }
    tcp_arg(t->lpcb, t); /* accepted PCBs inherit it */
    tcp_accept(t->lpcb, on_accept);
    console_task_begin(&ops->console);
    return 0;
}

int tcp_task_connect(struct tcp_task *t, const struct tcp_task_ops *ops, uint32_t addr, uint16_t port, int *err)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb)
        return kprintf("error: out of memory for a TCP PCB\n"), -1;
    t->ops = ops;
    ip_addr_t dst;
    ip_addr_set_ip4_u32(&dst, lwip_htonl(addr));
    attach(t, pcb);
    if ((*err = tcp_connect(pcb, &dst, port, on_connected)) != ERR_OK)
        tcp_task_close(t, true); /* no task began: the console has none to end */
    else
        console_task_begin(&ops->console);
    return 0;
}

size_t tcp_task_room(const struct tcp_task *t)
{
    /* Stop a few segments short of TCP_SND_QUEUELEN, where tcp_write fails; it takes a u16 length. */
    if (!t->pcb || tcp_sndqueuelen(t->pcb) > TCP_SND_QUEUELEN - 8)
        return 0;
    return MIN(tcp_sndbuf(t->pcb), 0xffff);
}

bool tcp_task_write(struct tcp_task *t, const void *p, size_t n, bool more)
{
    return tcp_write(t->pcb, p, (u16_t)n, TCP_WRITE_FLAG_COPY | (more ? TCP_WRITE_FLAG_MORE : 0)) == ERR_OK;
}

void tcp_task_output(struct tcp_task *t) { if (t->pcb) tcp_output(t->pcb); }

void tcp_task_close(struct tcp_task *t, bool abort)
{
    if (t->pcb) {
        tcp_arg(t->pcb, NULL); /* callbacks off first: tcp_abort calls the err one */
        tcp_recv(t->pcb, NULL);
        tcp_sent(t->pcb, NULL);
        tcp_err(t->pcb, NULL);
        if (abort || tcp_close(t->pcb) != ERR_OK)
            tcp_abort(t->pcb), t->aborted = true;
        t->pcb = NULL;
    }
    if (t->lpcb)
        tcp_close(t->lpcb), t->lpcb = NULL; /* a listening PCB always closes */
    sys_untimeout(tick, t);
    console_task_end(); /* last: it prints the prompt */
}
