/* Intel 8254x/8257x Gigabit Ethernet (QEMU e1000 = 82540EM, e1000e =
 * 82574L), legacy descriptors, polled. Register and descriptor layouts
 * from the PCI/PCI-X Family of Gigabit Ethernet Controllers Software
 * Developer's Manual (8254x SDM) ch. 3 and 13; the 82574 keeps them. */
#include <hopvm/cpu.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nic.h>
#include <hopvm/paging.h>
#include <hopvm/pci.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

#define REG_CTRL   0x0000
#define REG_STATUS 0x0008
#define REG_EERD   0x0014
#define REG_ICR    0x00c0
#define REG_IMS    0x00d0
#define REG_IMC    0x00d8
#define REG_RCTL   0x0100
#define REG_TCTL   0x0400
#define REG_TIPG   0x0410
#define REG_RDBAL  0x2800
#define REG_RDBAH  0x2804
#define REG_RDLEN  0x2808
#define REG_RDH    0x2810
#define REG_RDT    0x2818
#define REG_TDBAL  0x3800
#define REG_TDBAH  0x3804
#define REG_TDLEN  0x3808
#define REG_TDH    0x3810
#define REG_TDT    0x3818
#define REG_MTA    0x5200
#define REG_RAL0   0x5400
#define REG_RAH0   0x5404
#define REG_MPC    0x4010 /* missed packets: the receive ring was full */

#define CTRL_ASDE  (1u << 5)
#define CTRL_SLU   (1u << 6)
#define CTRL_RST   (1u << 26)
#define STATUS_LU  (1u << 1)
#define RCTL_EN    (1u << 1)
#define RCTL_BAM   (1u << 15)  /* accept broadcast */
#define RCTL_SECRC (1u << 26)  /* strip the FCS */
#define TCTL_EN    (1u << 1)
#define TCTL_PSP   (1u << 3)
#define TCTL_CT    (0x10u << 4)
#define TCTL_COLD  (0x40u << 12)
#define TIPG_DEFAULT 0x0060200a /* IPGT 10, IPGR1 8, IPGR2 6 (8254x SDM 13.4.34) */
#define RAH_AV     (1u << 31)
/* EEPROM read register: 8254x SDM 13.4.4 (start bit 0, done bit 4, address
 * bits 15:8); the 8257x moved done to bit 1 and the address to bits 15:2. */
#define EERD_START     1u
#define EERD_DONE_8254 (1u << 4)
#define EERD_DONE_8257 (1u << 1)
#define EERD_TRIES     10000
#define ICR_LSC    (1u << 2)   /* link status change */
#define ICR_RXT0   (1u << 7)   /* receive timer: frames are in (8254x SDM 13.4.17) */
#define TXD_CMD_EOP  (1u << 0)
#define TXD_CMD_IFCS (1u << 1)
#define TXD_CMD_RS   (1u << 3)
#define DESC_DD    (1u << 0)
#define RXD_EOP    (1u << 1)
#define RXD_ERR_MASK 0x97 /* CE, SE, SEQ, CXE, RXE (8254x SDM 3.2.3.2) */
#define PCI_CMD_MEM (1u << 1)
#define PCI_CMD_MASTER (1u << 2)

#define RX_RING 256 /* a multiple of 8: RDLEN must be 128-byte aligned */
#define TX_RING 256
#define BUF_SIZE 2048
#define TX_WAIT_US 5000 /* a full ring waits this long for the device before a drop */

struct rx_desc {
    uint64_t addr;
    uint16_t length, csum;
    uint8_t status, errors;
    uint16_t special;
};
struct tx_desc {
    uint64_t addr;
    uint16_t length;
    uint8_t cso, cmd, status, css;
    uint16_t special;
};
_Static_assert(sizeof(struct rx_desc) == 16 && sizeof(struct tx_desc) == 16, "descriptor layout");

struct e1000 {
    struct nic nic;
    uint64_t mmio;
    volatile struct rx_desc *rx;
    volatile struct tx_desc *tx;
    uint8_t *rx_buf, *tx_buf;
    unsigned rx_next;            /* next descriptor the hardware fills */
    unsigned tx_tail, tx_clean;  /* next free; oldest not yet reaped */
    unsigned tx_queued;          /* queued since the last doorbell */
    bool used;
};

static struct e1000 cards[NIC_MAX];

static const struct { uint16_t device; const char *name; } ids[] = {
    {0x100e, "e1000 (82540EM)"}, {0x100f, "e1000 (82545EM)"}, {0x1004, "e1000 (82543GC)"},
    {0x10d3, "e1000e (82574L)"}, {0x10f5, "e1000e (82567LM)"}, {0x153a, "e1000e (I217-LM)"},
    {0x15b7, "e1000e (I219-LM)"},
};

static uint32_t rd(struct e1000 *e, uint32_t r) { return mmio_read32(e->mmio + r); }
static void wr(struct e1000 *e, uint32_t r, uint32_t v) { mmio_write32(e->mmio + r, v); }

static void tx_reap(struct e1000 *e)
{
    while (e->tx_clean != e->tx_tail && (e->tx[e->tx_clean].status & DESC_DD))
        e->tx_clean = (e->tx_clean + 1) % TX_RING;
}

static bool tx_full(struct e1000 *e) { return (e->tx_tail + 1) % TX_RING == e->tx_clean; }

static void e1000_flush(struct nic *n);

static int e1000_sendv(struct nic *n, const struct nic_frag *frags, unsigned nfrags)
{
    struct e1000 *e = n->priv;
    size_t len = 0;
    for (unsigned k = 0; k < nfrags; k++)
        len += frags[k].len;
    if (tx_full(e)) {
        /* A full ring under a bulk send: ring the doorbell and give the
         * device up to TX_WAIT_US to free a slot, rather than drop. */
        e1000_flush(n);
        uint64_t end = time_ns() + TX_WAIT_US * 1000ull;
        do
            tx_reap(e);
        while (tx_full(e) && time_ns() < end);
    }
    if (len > ETH_MAX_FRAME || tx_full(e)) {
        n->stats.tx_drops++;
        return -1;
    }
    unsigned i = e->tx_tail;
    uint8_t *b = e->tx_buf + (size_t)i * BUF_SIZE;
    for (unsigned k = 0; k < nfrags; b += frags[k].len, k++)
        memcpy(b, frags[k].data, frags[k].len);
    size_t padded = len < ETH_MIN_FRAME ? ETH_MIN_FRAME : len;
    if (padded > len)
        memset(e->tx_buf + (size_t)i * BUF_SIZE + len, 0, padded - len);
    e->tx[i].addr = (uint64_t)(uintptr_t)(e->tx_buf + (size_t)i * BUF_SIZE);
    e->tx[i].length = (uint16_t)padded;
    e->tx[i].status = 0;
    e->tx[i].cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
    e->tx_tail = (i + 1) % TX_RING;
    e->tx_queued++;
    n->stats.tx_frames++;
    n->stats.tx_bytes += len;
    return 0;
}

static int e1000_send(struct nic *n, const void *frame, size_t len)
{
    const struct nic_frag f = {frame, len};
    return e1000_sendv(n, &f, 1);
}

static void e1000_flush(struct nic *n)
{
    struct e1000 *e = n->priv;
    if (!e->tx_queued)
        return;
    __asm__ volatile("sfence" ::: "memory"); /* descriptors before the doorbell */
    wr(e, REG_TDT, e->tx_tail);
    e->tx_queued = 0;
}

static unsigned e1000_poll(struct nic *n)
{
    struct e1000 *e = n->priv;
    if (n->irq)
        (void)rd(e, REG_ICR); /* read-to-clear: the next frame interrupts again */
    tx_reap(e);
    unsigned got = 0, last = RX_RING;
    while (e->rx[e->rx_next].status & DESC_DD) {
        volatile struct rx_desc *d = &e->rx[e->rx_next];
        size_t len = d->length;
        if (!(d->status & RXD_EOP) || (d->errors & RXD_ERR_MASK) || len > ETH_MAX_FRAME || len < 14) {
            n->stats.rx_errors++; /* malformed or multi-buffer: counted, dropped */
        } else {
            n->stats.rx_frames++;
            n->stats.rx_bytes += len;
            if (n->rx)
                n->rx(n, e->rx_buf + (size_t)e->rx_next * BUF_SIZE, len, n->rx_ctx);
            got++;
        }
        d->status = 0;
        last = e->rx_next;
        e->rx_next = (e->rx_next + 1) % RX_RING;
    }
    if (last != RX_RING) /* hand the consumed buffers back in one write */
        wr(e, REG_RDT, last);
    n->stats.rx_drops = rd(e, REG_MPC) + n->stats.rx_drops; /* MPC clears on read */
    return got;
}

static bool e1000_link_up(struct nic *n)
{
    return rd(n->priv, REG_STATUS) & STATUS_LU;
}

static const struct nic_ops e1000_ops = {
    .send = e1000_send, .sendv = e1000_sendv, .flush = e1000_flush, .poll = e1000_poll, .link_up = e1000_link_up,
};

/* One word of the EEPROM, or -1. */
static int eeprom_word(struct e1000 *e, bool is_8257x, unsigned addr)
{
    uint32_t done = is_8257x ? EERD_DONE_8257 : EERD_DONE_8254;
    wr(e, REG_EERD, (is_8257x ? addr << 2 : addr << 8) | EERD_START);
    for (int i = 0; i < EERD_TRIES; i++) {
        uint32_t v = rd(e, REG_EERD);
        if (v & done)
            return (int)(v >> 16);
        udelay(1);
    }
    return -1;
}

/* The MAC: RAL0/RAH0, which the device loads from its EEPROM at reset
 * (8254x SDM 5.6.1); where that left them empty (Bochs), words 0-2 of
 * the EEPROM itself. */
static void read_mac(struct e1000 *e, const struct pci_dev *d)
{
    uint32_t ral = rd(e, REG_RAL0), rah = rd(e, REG_RAH0);
    if ((rah & RAH_AV) && (ral || (rah & 0xffff))) {
        for (int i = 0; i < 4; i++)
            e->nic.mac[i] = (uint8_t)(ral >> (8 * i));
        e->nic.mac[4] = (uint8_t)rah, e->nic.mac[5] = (uint8_t)(rah >> 8);
        return;
    }
    bool is_8257x = d->device == 0x10d3 || d->device == 0x10f5 || d->device >= 0x1500;
    for (unsigned w = 0; w < 3; w++) {
        int v = eeprom_word(e, is_8257x, w);
        if (v < 0)
            return; /* no EEPROM answer: the MAC stays as RAL/RAH had it */
        e->nic.mac[2 * w] = (uint8_t)v;
        e->nic.mac[2 * w + 1] = (uint8_t)(v >> 8);
    }
    ral = e->nic.mac[0] | e->nic.mac[1] << 8 | (uint32_t)e->nic.mac[2] << 16 | (uint32_t)e->nic.mac[3] << 24;
    wr(e, REG_RAL0, ral);
    wr(e, REG_RAH0, e->nic.mac[4] | e->nic.mac[5] << 8);
}

static int e1000_start(struct e1000 *e, struct pci_dev *d, const char *name)
{
    const struct pci_bar *bar = &d->bar[0];
    if ((bar->kind != BAR_MEM32 && bar->kind != BAR_MEM64) || bar->base + bar->size > GiB(4)) {
        kprintf("e1000: %02x:%02x.%u: BAR0 is not a memory BAR below 4 GiB\n", d->bus, d->dev, d->fn);
        return -1;
    }
    e->mmio = bar->base;
    paging_make_uncached(e->mmio, bar->size);
    pci_write16(d, 0x04, pci_read16(d, 0x04) | PCI_CMD_MEM | PCI_CMD_MASTER);
    wr(e, REG_IMC, 0xffffffffu);
    wr(e, REG_CTRL, rd(e, REG_CTRL) | CTRL_RST);
    udelay(10000); /* 8254x SDM 14.5: software reset settles within ~1 us; be generous */
    wr(e, REG_IMC, 0xffffffffu);
    (void)rd(e, REG_ICR);
    wr(e, REG_CTRL, (rd(e, REG_CTRL) | CTRL_SLU | CTRL_ASDE) & ~CTRL_RST);
    read_mac(e, d);
    wr(e, REG_RAH0, rd(e, REG_RAH0) | RAH_AV);
    for (int i = 0; i < 128; i++)
        wr(e, REG_MTA + 4 * i, 0);
    e->rx = page_alloc(1, 0);
    e->tx = page_alloc(1, 0);
    e->rx_buf = page_alloc(RX_RING * BUF_SIZE / PAGE_SIZE, 0);
    e->tx_buf = page_alloc(TX_RING * BUF_SIZE / PAGE_SIZE, 0);
    if (!e->rx || !e->tx || !e->rx_buf || !e->tx_buf) {
        kprintf("e1000: out of memory for rings\n");
        return -1;
    }
    for (unsigned i = 0; i < RX_RING; i++)
        e->rx[i].addr = (uint64_t)(uintptr_t)(e->rx_buf + (size_t)i * BUF_SIZE);
    uint64_t rxp = (uint64_t)(uintptr_t)e->rx, txp = (uint64_t)(uintptr_t)e->tx;
    wr(e, REG_RDBAL, (uint32_t)rxp), wr(e, REG_RDBAH, (uint32_t)(rxp >> 32));
    wr(e, REG_RDLEN, RX_RING * sizeof(struct rx_desc));
    wr(e, REG_RDH, 0);
    wr(e, REG_RDT, RX_RING - 1); /* all but one buffer to the hardware */
    wr(e, REG_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC); /* BSIZE 00: 2048-byte buffers */
    wr(e, REG_TDBAL, (uint32_t)txp), wr(e, REG_TDBAH, (uint32_t)(txp >> 32));
    wr(e, REG_TDLEN, TX_RING * sizeof(struct tx_desc));
    wr(e, REG_TDH, 0);
    wr(e, REG_TDT, 0);
    wr(e, REG_TIPG, TIPG_DEFAULT);
    wr(e, REG_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
    /* MSI where the device has it (the 82574L; QEMU's 82540EM has none):
     * receive and link causes, acknowledged by the ICR read in poll. */
    if (pci_msi_enable(d, VEC_NIC) == 0) {
        e->nic.irq = "MSI";
        wr(e, REG_IMS, ICR_RXT0 | ICR_LSC);
    }
    e->nic.driver = name;
    e->nic.ops = &e1000_ops;
    e->nic.priv = e;
    e->used = true;
    d->driver = "e1000";
    return nic_register(&e->nic);
}

void e1000_probe_all(void)
{
    struct pci_dev *d;
    for (unsigned i = 0; (d = pci_at(i)); i++) {
        if (d->vendor != 0x8086 || d->class_code != 0x02)
            continue;
        for (size_t k = 0; k < ARRAY_SIZE(ids); k++) {
            if (ids[k].device != d->device)
                continue;
            struct e1000 *e = NULL;
            for (unsigned c = 0; c < NIC_MAX && !e; c++)
                if (!cards[c].used)
                    e = &cards[c];
            if (e)
                e1000_start(e, d, ids[k].name);
        }
    }
}
