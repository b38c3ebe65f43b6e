/* Teleport in hopvm (migrate/teleport.c, migrate/teleport_cmds.c): one
 * teleport at a time, in or out, over lwIP. */
#ifndef HOPVM_TELEPORT_H
#define HOPVM_TELEPORT_H
#include <hopvm/mig_session.h>

#define TELEPORT_PORT STREAM_PORT

struct vm;
struct tcp_pcb;

struct teleport {
    bool active, source, was_running;
    struct tcp_pcb *lpcb, *pcb;
    struct mig_session s;
    struct vm *vm;               /* source: the guest until handed over; target: the shell */
    uint8_t *out, *in;           /* MIG_OUT_CAP and MIG_IN_CAP, allocated on first use */
    char password[MIG_PASSWORD_MAX + 1];
    char peer[16], name[CFG_NAME_MAX];
    uint16_t port;
    uint64_t t0, t_pause, t_handover, t_end;
    uint64_t last_bytes;
    unsigned idle_s;
};
extern struct teleport tp;      /* the current or last teleport (`info migrate`) */

int teleport_listen(uint16_t port, const char *password);
int teleport_send(struct vm *vm, const char *host, uint16_t port, const char *password);
void teleport_pump(void);
void teleport_cmds_register(void);

#endif
