/* lwIP on hopvm's NIC interface: one lwIP netif per struct nic. Frames
 * from the driver go into pool pbufs and ethernet_input(); frames from
 * lwIP are gathered from their pbuf chain into the driver's ring. */
#include <hopvm/config.h>
#include <hopvm/inet.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/net.h>
#include <hopvm/nic.h>
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define ETHERTYPE_TEST 0x88b5

static struct netif netifs[NIC_MAX];
static bool started;

/* ---- the netif ----------------------------------------------------------- */

/* The frame goes from lwIP's pbuf chain (headers, then the data that
 * tcp_write copied) straight into the driver's transmit buffer. */
static err_t linkoutput(struct netif *ni, struct pbuf *p)
{
    struct nic *n = ni->state;
    struct nic_frag f[NIC_MAX_FRAGS];
    unsigned nf = 0;
    if (p->tot_len > ETH_MAX_FRAME)
        return ERR_BUF;
    struct pbuf *q = p;
    for (; q && nf < NIC_MAX_FRAGS; q = q->next)
        if (q->len)
            f[nf++] = (struct nic_frag){q->payload, q->len};
    int r;
    if (!q) {
        r = n->ops->sendv(n, f, nf);
    } else { /* a longer chain: gather it here first */
        uint8_t frame[ETH_MAX_FRAME];
        pbuf_copy_partial(p, frame, p->tot_len, 0);
        r = n->ops->send(n, frame, p->tot_len);
    }
    return r == 0 ? ERR_OK : ERR_MEM;
}

static err_t netif_setup(struct netif *ni)
{
    struct nic *n = ni->state;
    ni->name[0] = 'e';
    ni->name[1] = (char)('0' + (ni - netifs));
    ni->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(ni->hwaddr, n->mac, ETH_HWADDR_LEN);
    ni->mtu = 1500;
    ni->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    ni->output = etharp_output;
    ni->linkoutput = linkoutput;
    return ERR_OK;
}

static void rx(struct nic *n, const uint8_t *frame, size_t len, void *ctx)
{
    struct netif *ni = ctx;
    if (len >= 14 && ((frame[12] << 8) | frame[13]) == ETHERTYPE_TEST) {
        n->stats.test_rx++; /* `net txtest` frames stop here */
        return;
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (!p) {
        n->stats.rx_drops++;
        return;
    }
    pbuf_take(p, frame, (u16_t)len);
    if (ni->input(p, ni) != ERR_OK)
        pbuf_free(p);
}

void net_start(void)
{
    if (!nic_count())
        return; /* no NIC: no stack, no 16 MiB heap */
    /* lwIP's heap: the arena lwip_port_malloc carves (heap.c). */
    uint8_t *arena = page_alloc(MEM_SIZE / PAGE_SIZE, 0);
    if (!arena) {
        kprintf("net: out of memory for the TCP/IP heap; networking is off\n");
        return;
    }
    lwip_port_heap(arena, MEM_SIZE);
    lwip_init();
    struct nic *n;
    for (unsigned i = 0; (n = nic_at(i)); i++) {
        struct netif *ni = &netifs[i];
        if (!netif_add(ni, NULL, NULL, NULL, n, netif_setup, ethernet_input))
            continue;
        n->rx = rx;
        n->rx_ctx = ni;
        if (i == 0)
            netif_set_default(ni);
        netif_set_up(ni);
        if (n->ops->link_up(n))
            netif_set_link_up(ni);
        dhcp_start(ni); /* DHCP by default (the config can set a static address later) */
    }
    started = true;
}

void net_poll(void)
{
    if (started)
        sys_check_timeouts();
}

struct netif *net_netif(unsigned i)
{
    return started && i < nic_count() ? &netifs[i] : NULL;
}

void net_print_addr(unsigned i)
{
    struct netif *ni = net_netif(i);
    if (!ni)
        return;
    const struct dhcp *d = netif_dhcp_data(ni);
    if (ip4_addr_isany_val(*netif_ip4_addr(ni))) {
        kprintf("    inet: none yet (DHCP %s)\n", d ? "waiting for an offer" : "off");
        return;
    }
    char a[16], g[16];
    ip4addr_ntoa_r(netif_ip4_addr(ni), a, sizeof(a));
    ip4addr_ntoa_r(netif_ip4_gw(ni), g, sizeof(g));
    unsigned prefix = 0;
    for (u32_t m = lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(ni))); m & 0x80000000u; m <<= 1)
        prefix++;
    kprintf("    inet %s/%u gw %s (%s)\n", a, prefix, g, dhcp_supplied_address(ni) ? "DHCP" : "static");
}

int net_set_static(unsigned i, uint32_t addr, unsigned prefix, uint32_t gw)
{
    struct netif *ni = net_netif(i);
    if (!ni)
        return -1;
    ip4_addr_t ip, mask, g;
    ip4_addr_set_u32(&ip, lwip_htonl(addr));
    ip4_addr_set_u32(&mask, lwip_htonl(inet_prefix_mask(prefix)));
    ip4_addr_set_u32(&g, lwip_htonl(gw));
    dhcp_release_and_stop(ni); /* a static address replaces DHCP */
    netif_set_addr(ni, &ip, &mask, &g);
    return 0;
}

void net_apply_config(const struct config *cfg)
{
    for (unsigned i = 0; i < cfg->nnets; i++) {
        const struct cfg_net *c = &cfg->nets[i];
        struct nic *n = nic_find(c->ifname);
        unsigned idx = 0;
        while (n && nic_at(idx) != n)
            idx++;
        if (!n || !net_netif(idx)) {
            kprintf("config: [net %s]: no such interface (see 'ip'); ignored\n", c->ifname);
            continue;
        }
        if (c->is_static && net_set_static(idx, c->addr, c->prefix, c->gw) == 0) {
            kprintf("config: %s: static address\n", c->ifname);
            net_print_addr(idx);
        }
    }
}
