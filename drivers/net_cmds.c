/* Console commands for the NICs: `ip` (interfaces), `net stats` and
 * `net txtest IF N`, a link-level check that needs no IP: N broadcast
 * frames of the IEEE local experimental EtherType 0x88b5, counted by every
 * hopvm that receives them. */
#include <hopvm/cmd.h>
#include <hopvm/inet.h>
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include <hopvm/nic.h>

#define ETHERTYPE_TEST 0x88b5
#define TXTEST_MAX 1000000

static void count_test_frames(struct nic *n, const uint8_t *f, size_t len, void *ctx)
{
    (void)ctx;
    if (len >= 14 && ((f[12] << 8) | f[13]) == ETHERTYPE_TEST)
        n->stats.test_rx++;
}

static enum cmd_status cmd_ip(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "set")) {
        if (!(argc == 4 || (argc == 6 && !strcmp(argv[4], "gw")))) {
            kprintf("error: ip set IF ADDR/PREFIX [gw GW]\n");
            return CMD_USAGE;
        }
        struct nic *n = nic_find(argv[2]);
        if (!n) {
            kprintf("error: no interface '%s' (see 'ip')\n", argv[2]);
            return CMD_FAIL;
        }
        unsigned idx = 0, prefix;
        while (nic_at(idx) != n)
            idx++;
        uint32_t addr, gw = 0;
        if (!inet_parse4_prefix(argv[3], &addr, &prefix)) {
            kprintf("error: '%s' is not ADDR/PREFIX (e.g. 192.168.7.2/24)\n", argv[3]);
            return CMD_USAGE;
        }
        if (argc == 6 && !inet_parse4(argv[5], &gw)) {
            kprintf("error: gateway '%s' is not an IPv4 address\n", argv[5]);
            return CMD_USAGE;
        }
        if (net_set_static(idx, addr, prefix, gw) != 0) {
            kprintf("error: %s has no TCP/IP interface\n", n->name);
            return CMD_FAIL;
        }
        net_print_addr(idx);
        return CMD_OK;
    }
    if (argc != 1) {
        kprintf("error: unknown ip subcommand '%s'\n", argv[1]);
        return CMD_USAGE;
    }
    if (!nic_count())
        kprintf("(no network interfaces: no supported NIC found; see 'pci')\n");
    struct nic *n;
    for (unsigned i = 0; (n = nic_at(i)); i++)
    {
        kprintf("%s: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s, %s\n", n->name, n->driver, n->mac[0],
                n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->ops->link_up(n) ? "up" : "down",
                n->irq ? n->irq : "polled");
        net_print_addr(i);
    }
    return CMD_OK;
}

static enum cmd_status net_stats(void)
{
    kprintf("%-6s %12s %14s %12s %14s %8s %8s %8s %10s\n", "IF", "RX frames", "RX bytes", "TX frames",
            "TX bytes", "RX err", "RX drop", "TX drop", "test RX");
    struct nic *n;
    for (unsigned i = 0; (n = nic_at(i)); i++) {
        const struct nic_stats *s = &n->stats;
        kprintf("%-6s %12lu %14lu %12lu %14lu %8lu %8lu %8lu %10lu\n", n->name, s->rx_frames, s->rx_bytes,
                s->tx_frames, s->tx_bytes, s->rx_errors, s->rx_drops, s->tx_drops, s->test_rx);
    }
    kprintf("NIC interrupts (MSI/MSI-X): %lu\n", nic_irq_count());
    if (net_netif(0))
        net_print_stack_stats();
    return CMD_OK;
}

static enum cmd_status net_txtest(const char *ifname, const char *count)
{
    struct nic *n = nic_find(ifname);
    uint64_t want;
    if (!n) {
        kprintf("error: no interface '%s' (see 'ip')\n", ifname);
        return CMD_FAIL;
    }
    if (parse_u64(count, &want) != 0 || want == 0 || want > TXTEST_MAX) {
        kprintf("error: bad frame count '%s' (1 to %d)\n", count, TXTEST_MAX);
        return CMD_USAGE;
    }
    uint8_t f[ETH_MIN_FRAME] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memcpy(f + 6, n->mac, 6);
    f[12] = ETHERTYPE_TEST >> 8, f[13] = ETHERTYPE_TEST & 0xff;
    uint64_t sent = 0;
    for (uint64_t tries = 0; sent < want && tries < want * 1000; tries++) {
        memcpy(f + 14, &sent, sizeof(sent));
        if (n->ops->send(n, f, sizeof(f)) == 0) {
            sent++;
            continue;
        }
        n->stats.tx_drops--; /* a full ring here is back-pressure, not a drop */
        n->ops->flush(n);
        n->ops->poll(n);
    }
    n->ops->flush(n);
    kprintf("net: %s: sent %lu test frame(s)\n", n->name, sent);
    return sent == want ? CMD_OK : CMD_FAIL;
}

static enum cmd_status cmd_net(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "stats"))
        return net_stats();
    if (argc == 4 && !strcmp(argv[1], "txtest"))
        return net_txtest(argv[2], argv[3]);
    kprintf("error: net stats | net txtest IF N\n");
    return CMD_USAGE;
}

static enum cmd_status cmd_ping(int argc, char **argv)
{
    uint64_t count = 4;
    if (!(argc == 2 || (argc == 4 && !strcmp(argv[2], "-c")))) {
        kprintf("error: ping HOST [-c N]\n");
        return CMD_USAGE;
    }
    if (argc == 4 && (parse_u64(argv[3], &count) != 0 || count == 0 || count > 1000)) {
        kprintf("error: bad count '%s' (1 to 1000)\n", argv[3]);
        return CMD_USAGE;
    }
    return net_ping(argv[1], (unsigned)count) == 0 ? CMD_OK : CMD_FAIL;
}

static const struct cmd net_cmds[] = {
    {.name = "ip", .usage = "[set IF ADDR/PREFIX [gw GW]]",
     .help = "network interfaces: driver, MAC, link, IPv4 address; set a static address", .run = cmd_ip},
    {.name = "ping", .usage = "HOST [-c N]", .help = "ICMP echo to an IPv4 address (default 4 times)",
     .run = cmd_ping},
    {.name = "net", .usage = "stats | txtest IF N", .help = "per-NIC counters; send N link-level test frames",
     .run = cmd_net},
};

void net_cmds_register(void)
{
    struct nic *n;
    for (unsigned i = 0; (n = nic_at(i)); i++)
        if (!n->rx)
            n->rx = count_test_frames;
    cmd_register(net_cmds, ARRAY_SIZE(net_cmds));
}
