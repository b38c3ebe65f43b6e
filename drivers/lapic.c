/* Local APIC of the boot CPU (SDM Vol.3A ch. 11): xAPIC through MMIO, or
 * x2APIC through MSRs if the firmware left it in that mode. */
#include <hopvm/lib.h>
#include <hopvm/paging.h>
#include <hopvm/time.h>
#include <hopvm/x86.h>

/* SDM Vol.3A table 11-1: register offsets (x2APIC MSR = 0x800 + off/16). */
#define APIC_ID       0x020
#define APIC_TPR      0x080
#define APIC_EOI      0x0b0
#define APIC_SVR      0x0f0
#define APIC_LVT_TIMER 0x320
#define APIC_TMR_INIT 0x380
#define APIC_TMR_CUR  0x390
#define APIC_TMR_DIV  0x3e0
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2APIC (1ull << 10)
#define SVR_ENABLE    (1u << 8)
#define LVT_MASKED    (1u << 16)
#define LVT_PERIODIC  (1u << 17)
#define TMR_DIV_16    0x3
#define CALIBRATE_US  10000

static uint64_t mmio;
static int x2apic;

static uint32_t apic_read(uint32_t reg)
{
    return x2apic ? (uint32_t)rdmsr(0x800 + reg / 16) : mmio_read32(mmio + reg);
}

static void apic_write(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + reg / 16, v);
    else
        mmio_write32(mmio + reg, v);
}

int host_lapic_init(void)
{
    uint64_t b = rdmsr(MSR_IA32_APIC_BASE);
    if (!(b & APIC_BASE_ENABLE))
        wrmsr(MSR_IA32_APIC_BASE, b |= APIC_BASE_ENABLE);
    x2apic = (b & APIC_BASE_X2APIC) != 0;
    mmio = b & ~0xfffull & ((1ull << 52) - 1);
    if (!x2apic)
        paging_make_uncached(mmio, PAGE_SIZE);
    apic_write(APIC_TPR, 0);
    apic_write(APIC_SVR, SVR_ENABLE | 0xff);
    return 0;
}

void host_lapic_eoi(void) { apic_write(APIC_EOI, 0); }

/* SDM Vol.3A 11.4.6: xAPIC IDs are bits 31:24; x2APIC IDs are 32 bits. */
uint32_t host_lapic_id(void) { return x2apic ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24; }

uint64_t host_lapic_timer_start(uint8_t vector, unsigned hz)
{
    /* Measure the APIC timer against the calibrated TSC, one-shot and masked. */
    apic_write(APIC_TMR_DIV, TMR_DIV_16);
    apic_write(APIC_LVT_TIMER, LVT_MASKED | vector);
    apic_write(APIC_TMR_INIT, 0xffffffffu);
    udelay(CALIBRATE_US);
    uint32_t elapsed = 0xffffffffu - apic_read(APIC_TMR_CUR);
    uint64_t rate = (uint64_t)elapsed * (1000000 / CALIBRATE_US);
    uint64_t count = rate / hz;
    if (count == 0)
        count = 1;
    if (count > 0xffffffffu)
        count = 0xffffffffu;
    apic_write(APIC_LVT_TIMER, LVT_PERIODIC | vector);
    apic_write(APIC_TMR_INIT, (uint32_t)count);
    return rate;
}
