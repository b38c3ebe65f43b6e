/* Host time: the TSC, calibrated at start-up, and the periodic tick. */
#ifndef HOPVM_TIME_H
#define HOPVM_TIME_H
#include <stdint.h>

/* A reference clock that counts at a known rate (ACPI PM timer, HPET). */
struct refclock {
    const char *name;
    uint64_t hz;
    uint64_t mask;            /* counter width */
    uint64_t (*read)(void);
};

int pmtimer_probe(struct refclock *rc);   /* drivers/pmtimer.c */
int hpet_probe(struct refclock *rc);      /* drivers/hpet.c */
int pit_probe(struct refclock *rc);       /* drivers/pit.c */

/* Calibrates the TSC against the best reference clock. Returns 0 or -1. */
int time_init(void);
uint64_t tsc_hz(void);
const char *time_source(void);
uint64_t time_ns(void);          /* since time_init */
uint64_t time_ns_at(uint64_t tsc); /* time_ns() when the TSC read tsc */
void udelay(uint64_t us);

/* Local APIC (drivers/lapic.c). */
int host_lapic_init(void);
void host_lapic_eoi(void);
uint32_t host_lapic_id(void);
/* Periodic timer at hz on vector; returns the measured APIC timer rate. */
uint64_t host_lapic_timer_start(uint8_t vector, unsigned hz);
void pic_disable(void);          /* drivers/pic.c */
/* The host's wall clock (drivers/rtc.c): its RTC read at start-up (0, or
 * -1 if it reads no plausible date: then the wall clock starts at 1970). */
int host_rtc_init(void);
uint64_t wall_ns(void);          /* ns since 1970-01-01 UTC */

/* The tick (vmm/timer.c). */
int timer_init(unsigned hz);
uint64_t timer_ticks(void);
unsigned timer_hz(void);

#endif
