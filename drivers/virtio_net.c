/* virtio-net over PCI, virtio 1.x (the "modern" interface): capabilities
 * locate the common, notify, ISR and device configuration (virtio 1.1
 * 4.1.4); split virtqueues (2.6); receive queue 0, transmit queue 1 (5.1).
 * Polled, like the e1000 driver, behind the same struct nic. */
#include <hopvm/cpu.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nic.h>
#include <hopvm/paging.h>
#include <hopvm/pci.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define VIRTIO_VENDOR 0x1af4
#define PCI_CAP_VENDOR 0x09
#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_DEVICE 4
/* common configuration (virtio 1.1 4.1.4.3) */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define F_NET_MAC (1ull << 5)
#define F_NET_STATUS (1ull << 16)
#define F_VERSION_1 (1ull << 32)
#define NET_S_LINK_UP 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTIO_MSI_NO_VECTOR 0xffff
#define NET_HDR_LEN 12 /* struct virtio_net_hdr with VERSION_1 (5.1.6) */
#define QSIZE 256
#define BUF_SIZE 2048
#define TX_WAIT_US 5000 /* a full ring waits this long for the device before a drop */
#define RXQ 0
#define TXQ 1

struct vq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
struct vq {
    volatile struct vq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[QSIZE] */
    volatile uint32_t *used;  /* flags|idx, then {id, len} pairs */
    uint8_t *buf;
    uint16_t size, last_used, avail_idx, pending;
    uint16_t free_ids[QSIZE], nfree; /* transmit: descriptors not in flight */
    uint64_t notify;
};

struct vnet {
    struct nic nic;
    uint64_t common, notify_base, device;
    uint32_t notify_mult;
    bool has_status;
    struct vq q[2];
    bool used;
};

static struct vnet vnets[NIC_MAX];

static uint8_t r8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static uint16_t r16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
static void w8(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static void w16(uint64_t a, uint16_t v) { *(volatile uint16_t *)(uintptr_t)a = v; }

static uint16_t used_idx(const struct vq *q) { return (uint16_t)(q->used[0] >> 16); }

static void publish(struct vq *q, uint16_t desc)
{
    q->avail[2 + (q->avail_idx % q->size)] = desc;
    q->avail_idx++;
    q->pending++;
}

static int setup_queue(struct vnet *v, uint16_t idx)
{
    struct vq *q = &v->q[idx];
    w16(v->common + CC_Q_SELECT, idx);
    uint16_t max = r16(v->common + CC_Q_SIZE);
    if (!max)
        return -1;
    q->size = max < QSIZE ? max : QSIZE;
    w16(v->common + CC_Q_SIZE, q->size);
    q->desc = page_alloc(1, 0);     /* 256 * 16 = 4 KiB */
    q->avail = page_alloc(1, 0);
    q->used = page_alloc(1, 0);
    q->buf = page_alloc((uint64_t)q->size * BUF_SIZE / PAGE_SIZE, 0);
    if (!q->desc || !q->avail || !q->used || !q->buf)
        return -1;
    for (uint16_t i = 0; i < q->size; i++) {
        q->desc[i].addr = (uint64_t)(uintptr_t)(q->buf + (size_t)i * BUF_SIZE);
        q->desc[i].len = BUF_SIZE;
        q->desc[i].flags = idx == RXQ ? VIRTQ_DESC_F_WRITE : 0;
        q->free_ids[i] = i;
    }
    q->nfree = idx == TXQ ? q->size : 0;
    /* Received frames raise MSI-X entry 0 (virtio 1.1 4.1.5.1.2); sent
     * ones are reaped without interrupts. A device that cannot map the
     * vector reads back NO_VECTOR (4.1.4.3): then it is polled only. */
    uint16_t vec = idx == RXQ && v->nic.irq ? 0 : VIRTIO_MSI_NO_VECTOR;
    w16(v->common + CC_Q_MSIX, vec);
    if (r16(v->common + CC_Q_MSIX) != vec)
        v->nic.irq = NULL;
    mmio_write64(v->common + CC_Q_DESC, (uint64_t)(uintptr_t)q->desc);
    mmio_write64(v->common + CC_Q_DRIVER, (uint64_t)(uintptr_t)q->avail);
    mmio_write64(v->common + CC_Q_DEVICE, (uint64_t)(uintptr_t)q->used);
    q->notify = v->notify_base + (uint64_t)r16(v->common + CC_Q_NOTIFY_OFF) * v->notify_mult;
    w16(v->common + CC_Q_ENABLE, 1);
    return 0;
}

static void notify(struct vq *q, uint16_t idx)
{
    if (!q->pending)
        return;
    __asm__ volatile("sfence" ::: "memory"); /* ring entries before the index (2.6.13) */
    q->avail[1] = q->avail_idx;
    __asm__ volatile("mfence" ::: "memory");
    w16(q->notify, idx);
    q->pending = 0;
}

/* Reaps what the device has sent: completions may come in any order
 * (virtio 1.1 2.6.8), so freed ids go back on a free list. */
static void tx_reap(struct vq *q)
{
    while (q->last_used != used_idx(q)) {
        uint32_t id = q->used[1 + 2 * (q->last_used % q->size)];
        q->last_used++;
        if (id < q->size && q->nfree < q->size)
            q->free_ids[q->nfree++] = (uint16_t)id;
    }
}

static int vnet_sendv(struct nic *n, const struct nic_frag *frags, unsigned nfrags)
{
    struct vnet *v = n->priv;
    struct vq *q = &v->q[TXQ];
    size_t len = 0;
    for (unsigned k = 0; k < nfrags; k++)
        len += frags[k].len;
    tx_reap(q);
    if (q->nfree == 0) {
        /* A full ring under a bulk send: notify the device and give it up
         * to TX_WAIT_US to use some buffers, rather than drop. */
        notify(q, TXQ);
        uint64_t end = time_ns() + TX_WAIT_US * 1000ull;
        do
            tx_reap(q);
        while (q->nfree == 0 && time_ns() < end);
    }
    if (len > ETH_MAX_FRAME || q->nfree == 0) {
        n->stats.tx_drops++;
        return -1;
    }
    uint16_t d = q->free_ids[--q->nfree];
    uint8_t *b = q->buf + (size_t)d * BUF_SIZE;
    memset(b, 0, NET_HDR_LEN);
    b += NET_HDR_LEN;
    for (unsigned k = 0; k < nfrags; b += frags[k].len, k++)
        memcpy(b, frags[k].data, frags[k].len);
    q->desc[d].len = (uint32_t)(NET_HDR_LEN + len);
    publish(q, d);
    n->stats.tx_frames++;
    n->stats.tx_bytes += len;
    return 0;
}

static int vnet_send(struct nic *n, const void *frame, size_t len)
{
    const struct nic_frag f = {frame, len};
    return vnet_sendv(n, &f, 1);
}

static void vnet_flush(struct nic *n)
{
    struct vnet *v = n->priv;
    notify(&v->q[TXQ], TXQ);
    notify(&v->q[RXQ], RXQ);
}

static unsigned vnet_poll(struct nic *n)
{
    struct vnet *v = n->priv;
    struct vq *q = &v->q[RXQ];
    unsigned got = 0;
    while (q->last_used != used_idx(q)) {
        const volatile uint32_t *e = &q->used[1 + 2 * (q->last_used % q->size)];
        uint32_t id = e[0], len = e[1];
        q->last_used++;
        if (id >= q->size || len < NET_HDR_LEN + 14 || len > NET_HDR_LEN + ETH_MAX_FRAME) {
            n->stats.rx_errors++; /* a device bug or a runt: counted, dropped */
        } else {
            n->stats.rx_frames++;
            n->stats.rx_bytes += len - NET_HDR_LEN;
            if (n->rx)
                n->rx(n, q->buf + (size_t)id * BUF_SIZE + NET_HDR_LEN, len - NET_HDR_LEN, n->rx_ctx);
            got++;
        }
        if (id < q->size)
            publish(q, (uint16_t)id); /* the buffer goes straight back */
    }
    return got;
}

static bool vnet_link_up(struct nic *n)
{
    struct vnet *v = n->priv;
    return !v->has_status || (r16(v->device + 6) & NET_S_LINK_UP);
}

static const struct nic_ops vnet_ops = {
    .send = vnet_send, .sendv = vnet_sendv, .flush = vnet_flush, .poll = vnet_poll, .link_up = vnet_link_up,
};

static int find_cfg(struct pci_dev *d, uint8_t type, uint64_t *addr, uint32_t *extra)
{
    for (unsigned c = 0; c < d->ncaps; c++) {
        if (d->cap_id[c] != PCI_CAP_VENDOR)
            continue;
        uint8_t off = d->cap_off[c];
        uint32_t w0 = pci_read32(d, off), w1 = pci_read32(d, off + 4);
        if ((uint8_t)(w0 >> 24) != type)
            continue;
        uint8_t bar = (uint8_t)w1;
        if (bar > 5 || d->bar[bar].kind == BAR_NONE || d->bar[bar].kind == BAR_IO)
            continue;
        uint32_t boff = pci_read32(d, off + 8), blen = pci_read32(d, off + 12);
        if ((uint64_t)boff + blen > d->bar[bar].size || paging_map_mmio(d->bar[bar].base, d->bar[bar].size))
            return -1;
        *addr = d->bar[bar].base + boff;
        if (extra)
            *extra = pci_read32(d, off + 16);
        return 0;
    }
    return -1;
}

static int vnet_start(struct vnet *v, struct pci_dev *d)
{
    if (find_cfg(d, CFG_COMMON, &v->common, NULL) || find_cfg(d, CFG_NOTIFY, &v->notify_base, &v->notify_mult) ||
        find_cfg(d, CFG_DEVICE, &v->device, NULL)) {
        kprintf("virtio-net: %02x:%02x.%u: no usable virtio 1.x capabilities\n", d->bus, d->dev, d->fn);
        return -1;
    }
    pci_write16(d, 0x04, pci_read16(d, 0x04) | 0x6); /* memory space, bus master */
    /* virtio 1.1 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. */
    w8(v->common + CC_STATUS, 0);
    while (r8(v->common + CC_STATUS))
        pause();
    w8(v->common + CC_STATUS, ST_ACK | ST_DRIVER);
    mmio_write32(v->common + CC_DFSELECT, 0);
    uint64_t feat = mmio_read32(v->common + CC_DF);
    mmio_write32(v->common + CC_DFSELECT, 1);
    feat |= (uint64_t)mmio_read32(v->common + CC_DF) << 32;
    if (!(feat & F_VERSION_1)) {
        kprintf("virtio-net: device does not offer VIRTIO_F_VERSION_1\n");
        return -1;
    }
    uint64_t want = feat & (F_VERSION_1 | F_NET_MAC | F_NET_STATUS);
    mmio_write32(v->common + CC_GFSELECT, 0);
    mmio_write32(v->common + CC_GF, (uint32_t)want);
    mmio_write32(v->common + CC_GFSELECT, 1);
    mmio_write32(v->common + CC_GF, (uint32_t)(want >> 32));
    w8(v->common + CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    if (!(r8(v->common + CC_STATUS) & ST_FEATURES_OK)) {
        kprintf("virtio-net: device refused the features\n");
        return -1;
    }
    v->has_status = want & F_NET_STATUS;
    if (pci_msix_enable(d, 0, VEC_NIC) == 0) {
        v->nic.irq = "MSI-X";
        w16(v->common + CC_MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
    }
    for (int i = 0; i < 6; i++)
        v->nic.mac[i] = (want & F_NET_MAC) ? r8(v->device + i) : (uint8_t)(i == 0 ? 0x02 : i);
    if (setup_queue(v, RXQ) || setup_queue(v, TXQ)) {
        kprintf("virtio-net: cannot set up the virtqueues\n");
        return -1;
    }
    for (uint16_t i = 0; i < v->q[RXQ].size; i++)
        publish(&v->q[RXQ], i);
    w8(v->common + CC_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
    notify(&v->q[RXQ], RXQ);
    v->nic.driver = "virtio-net";
    v->nic.ops = &vnet_ops;
    v->nic.priv = v;
    v->used = true;
    d->driver = "virtio-net";
    return nic_register(&v->nic);
}

void virtio_net_probe_all(void)
{
    struct pci_dev *d;
    for (unsigned i = 0; (d = pci_at(i)); i++) {
        if (d->vendor != VIRTIO_VENDOR || (d->device != 0x1000 && d->device != 0x1041))
            continue;
        struct vnet *v = NULL;
        for (unsigned c = 0; c < NIC_MAX && !v; c++)
            if (!vnets[c].used)
                v = &vnets[c];
        if (v)
            vnet_start(v, d);
    }
}
