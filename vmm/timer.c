/* The host tick: a periodic local APIC timer interrupt. It wakes the
 * console loop from HLT and, later, preempts running guests. */
#include <hopvm/console.h>
#include <hopvm/cpu.h>
#include <hopvm/lib.h>
#include <hopvm/time.h>

static volatile uint64_t ticks;
static unsigned tick_hz;

static void on_tick(struct trap_frame *tf)
{
    (void)tf;
    ticks++;
    console_poll_input();
    host_lapic_eoi();
}

int timer_init(unsigned hz)
{
    pic_disable();
    if (!tsc_hz()) {
        /* Without a calibrated TSC the APIC timer cannot be measured;
         * the console then polls instead of sleeping. */
        kprintf("timer: no calibrated clock; running without a tick\n");
        return -1;
    }
    host_lapic_init();
    irq_register(VEC_TIMER, on_tick);
    uint64_t rate = host_lapic_timer_start(VEC_TIMER, hz);
    tick_hz = hz;
    kprintf("timer: local APIC timer %lu.%03lu MHz, tick %u Hz\n",
            rate / 1000000, rate / 1000 % 1000, hz);
    return 0;
}

uint64_t timer_ticks(void) { return ticks; }
unsigned timer_hz(void) { return tick_hz; }
