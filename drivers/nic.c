/* NIC registry: names interfaces and polls them from the host loop. */
#include <hopvm/cpu.h>
#include <hopvm/lib.h>
#include <hopvm/nic.h>
#include <hopvm/time.h>

volatile bool nic_irq_pending;
static volatile uint64_t irqs;

static void on_nic_irq(struct trap_frame *tf)
{
    (void)tf;
    nic_irq_pending = true;
    irqs++;
    host_lapic_eoi();
}

void nic_irq_init(void) { irq_register(VEC_NIC, on_nic_irq); }
uint64_t nic_irq_count(void) { return irqs; }

static struct nic *nics[NIC_MAX];
static unsigned nnics;

int nic_register(struct nic *n)
{
    if (nnics == NIC_MAX)
        return -1;
    ksnprintf(n->name, sizeof(n->name), "eth%u", nnics);
    nics[nnics++] = n;
    kprintf("net: %s: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s, %s\n", n->name, n->driver, n->mac[0],
            n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->ops->link_up(n) ? "up" : "down",
            n->irq ? n->irq : "polled");
    return 0;
}

unsigned nic_count(void) { return nnics; }
struct nic *nic_at(unsigned i) { return i < nnics ? nics[i] : NULL; }

struct nic *nic_find(const char *name)
{
    for (unsigned i = 0; i < nnics; i++)
        if (!strcmp(nics[i]->name, name))
            return nics[i];
    return NULL;
}

unsigned nic_poll_all(void)
{
    unsigned got = 0;
    for (unsigned i = 0; i < nnics; i++) {
        got += nics[i]->ops->poll(nics[i]);
        nics[i]->ops->flush(nics[i]);
    }
    return got;
}
