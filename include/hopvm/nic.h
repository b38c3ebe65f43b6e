/* The one NIC interface (after BitVisor's): every driver fills a struct
 * nic, and the network stack and the migration engine use only this. */
#ifndef HOPVM_NIC_H
#define HOPVM_NIC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NIC_MAX 4
#define ETH_MIN_FRAME 60    /* without FCS */
#define ETH_MAX_FRAME 1514

struct nic;

/* A piece of a frame: the network stack's buffers are chains, and the
 * driver gathers them straight into its transmit buffer (one copy). */
struct nic_frag {
    const void *data;
    size_t len;
};
#define NIC_MAX_FRAGS 16

struct nic_ops {
    /* Queues one frame (copied); -1 if the transmit ring is full. */
    int (*send)(struct nic *n, const void *frame, size_t len);
    /* The same for a frame in nfrags pieces (at most NIC_MAX_FRAGS). */
    int (*sendv)(struct nic *n, const struct nic_frag *frags, unsigned nfrags);
    /* Hands queued frames to the hardware (one doorbell for a batch). */
    void (*flush)(struct nic *n);
    /* Reaps finished transmits, delivers received frames to n->rx, and
     * refills the receive ring. Returns the frames received. */
    unsigned (*poll)(struct nic *n);
    bool (*link_up)(struct nic *n);
};

struct nic_stats {
    uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
    uint64_t rx_errors, rx_drops, tx_drops;
    uint64_t test_rx;      /* `net txtest` frames received (EtherType 0x88b5) */
};

typedef void (*nic_rx_fn)(struct nic *n, const uint8_t *frame, size_t len, void *ctx);

struct nic {
    char name[8];          /* eth0, eth1, ... */
    const char *driver;
    const char *irq;       /* "MSI-X", "MSI", or NULL: polled only */
    uint8_t mac[6];
    const struct nic_ops *ops;
    void *priv;
    nic_rx_fn rx;          /* NULL: frames are counted and dropped */
    void *rx_ctx;
    struct nic_stats stats;
};

/* drivers/nic.c */
/* Every NIC's MSI or MSI-X arrives on VEC_NIC and only sets this flag: the
 * host loop polls the NICs, and a guest's slice ends early, so traffic is
 * served within an interrupt's latency instead of a slice (10 ms). The
 * drivers stay polled; the interrupt is a doorbell for the host loop. */
extern volatile bool nic_irq_pending;
void nic_irq_init(void);
uint64_t nic_irq_count(void);
int nic_register(struct nic *n); /* names it; -1 if NIC_MAX are taken */
unsigned nic_count(void);
struct nic *nic_at(unsigned i);
struct nic *nic_find(const char *name);
/* Polls every NIC; returns frames received. Called from the host loop. */
unsigned nic_poll_all(void);
void net_cmds_register(void);

/* Drivers: probe the PCI devices they know. */
void e1000_probe_all(void);
void virtio_net_probe_all(void);

#endif
