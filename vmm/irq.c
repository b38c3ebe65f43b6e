/* Interrupt routing and delivery for a guest: the PC's wiring between the
 * devices' lines, the 8259 pair (vmm/i8259.c), the I/O APIC (vmm/ioapic.c)
 * and each vCPU's local APIC (vmm/lapic.c), and the one place that decides,
 * before each entry, which event the vCPU takes next.
 *
 * The wiring is the PC/AT's and the MADT's (vmm/acpi_guest.c): ISA IRQ n
 * drives 8259 input n and I/O APIC pin n, except IRQ 0 (the PIT), which
 * drives pin 2 (the MADT's interrupt source override, as on every chipset
 * since the PIIX). The master 8259's INT output reaches the CPU through the
 * BSP's LINT0 when it is programmed for ExtINT (the "virtual wire" mode of
 * MP spec 1.4 3.6.2.2), or directly while the local APIC is disabled.
 *
 * Delivery (SDM Vol.3A 6.8.1, 11.8.4; APM Vol.2 15.20): an NMI first, then
 * an ExtINT from the 8259, then the local APIC's highest IRR vector above
 * the PPR. A maskable one is injected only when the guest can take it
 * (RFLAGS.IF and no STI/MOV SS shadow, asked of the backend); otherwise the
 * backend is told to exit when it can (interrupt-window exiting, VINTR) and
 * the choice is made again then, so a vector is acknowledged (IRR -> ISR)
 * only at the entry that delivers it. An event whose delivery an exit cut
 * short comes back from the backend in v->pending and goes first. */
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define ISA_IRQS      16
#define IRQ_PIT       0
#define GSI_PIT       2  /* the MADT's override for IRQ 0 */

uint64_t vm_clock_ns(const struct vm *vm) { return (uint64_t)((int64_t)time_ns() + vm->clock_offset); }

/* The guest's TSC on this vCPU: the host's plus the backend's offset. */
uint64_t vcpu_tsc_offset(struct vcpu *v)
{
    if (hv()->tsc_offset)
        return hv()->tsc_offset(v);
    struct vcpu_state s;
    hv()->get_state(v, &s);
    return s.tsc_offset;
}

uint64_t vcpu_tsc(struct vcpu *v) { return rdtsc() + vcpu_tsc_offset(v); }

/* ------------------------------------------------------------ messages */

bool sched_kick;

/* An event for a vCPU that is not running: a halted one should get the CPU
 * soon (the sender's slice ends at its next exit, so an IPI costs the
 * target at most one exit's wait, not a 10 ms slice). With host SMP a vCPU
 * running on another CPU needs an IPI here to exit and look again. */
static void wake(struct vcpu *v)
{
    if (v->halted)
        sched_kick = true;
}

static bool dest_match(struct vcpu *t, struct vcpu *src, uint8_t shorthand, uint32_t dest, bool logical)
{
    switch (shorthand) {
    case APIC_SH_SELF: return t == src;
    case APIC_SH_ALL: return true;
    case APIC_SH_ALL_BUT: return t != src;
    default: return lapic_match(&t->lapic, dest, logical);
    }
}

/* A start-up IPI: the AP begins in real mode at vector * 4 KiB (SDM
 * Vol.3A 9.4.4.1, 11.6.1 "Start-Up"). */
static void start_ap(struct vcpu *t, uint8_t vector)
{
    struct vcpu_state s;
    vcpu_sipi_state(t, vector, &s);
    hv()->set_state(t, &s);
    t->wait_sipi = false;
    t->halted = false;
}

static void deliver_one(struct vcpu *t, const struct lapic_ipi *m)
{
    switch (m->delivery) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        lapic_accept(&t->lapic, m->vector, m->level_trig);
        break;
    case APIC_DM_NMI:
        t->nmi_pending = true;
        break;
    case APIC_DM_INIT:
        /* A level de-assert INIT (xAPIC "INIT level de-assert") only
         * resets arbitration IDs: nothing here (SDM 11.6.1). */
        if (m->level_trig && !m->assert)
            return;
        lapic_init(&t->lapic);
        t->pending.type = EVENT_NONE;
        t->nmi_pending = false;
        t->wait_sipi = true;
        t->halted = true;
        break;
    case APIC_DM_SIPI:
        if (t->wait_sipi)
            start_ap(t, m->vector); /* a SIPI to a running CPU is ignored */
        break;
    default:
        return; /* SMI, ExtINT by message, reserved: not on this platform */
    }
    wake(t);
}

/* Routes an interrupt message to every local APIC it names; lowest
 * priority goes to the one with the lowest PPR among them (SDM 11.6.2.4,
 * ties to the lowest vCPU index). */
void irq_message(struct vm *vm, struct vcpu *src, const struct lapic_ipi *m)
{
    struct vcpu *lowest = NULL;
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        struct vcpu *t = vm->vcpus[i];
        if (!t || !lapic_hw_enabled(&t->lapic) || !dest_match(t, src, m->shorthand, m->dest, m->logical))
            continue;
        if (m->delivery != APIC_DM_LOWEST)
            deliver_one(t, m);
        else if (lapic_sw_enabled(&t->lapic) && (!lowest || lapic_ppr(&t->lapic) < lapic_ppr(&lowest->lapic)))
            lowest = t; /* a software-disabled APIC would drop it (SDM 11.4.7.2) */
    }
    if (lowest)
        deliver_one(lowest, m);
}

static void ioapic_send(void *ctx, const struct ioapic_msg *m)
{
    struct lapic_ipi ipi = {.vector = m->vector, .delivery = m->delivery, .shorthand = APIC_SH_NONE,
                            .logical = m->logical, .assert = true, .level_trig = m->level_trig, .dest = m->dest};
    /* An 8-bit physical 0xff is a broadcast to x2APIC destinations too
     * (SDM 11.12.9). */
    if (!m->logical && m->dest == 0xff)
        ipi.shorthand = APIC_SH_ALL;
    irq_message(ctx, NULL, &ipi);
}

/* What a local APIC register write asked for. */
void irq_lapic_out(struct vcpu *v, const struct lapic_out *out)
{
    if (out->ipi)
        irq_message(v->vm, v, &out->ipi_msg);
    if (out->eoi_level)
        ioapic_eoi(&v->vm->ioapic, out->eoi_vector, ioapic_send, v->vm);
}

/* ---------------------------------------------------------------- lines */

void irq_line(struct vm *vm, unsigned irq, bool level)
{
    if (irq >= ISA_IRQS)
        return;
    uint32_t bit = 1u << irq;
    vm->isa_irq_level = level ? vm->isa_irq_level | bit : vm->isa_irq_level & ~bit;
    i8259_set_irq(&vm->pic, irq, level);
    ioapic_set_irq(&vm->ioapic, irq == IRQ_PIT ? GSI_PIT : irq, level, ioapic_send, vm);
}

void irq_pulse(struct vm *vm, unsigned irq)
{
    irq_line(vm, irq, true);
    irq_line(vm, irq, false);
}

void irq_ioapic_write(struct vm *vm, unsigned off, uint32_t val)
{
    ioapic_write(&vm->ioapic, off, val, ioapic_send, vm);
}

/* ------------------------------------------------------------- delivery */

/* The 8259's INT reaches this vCPU: through LINT0 in ExtINT mode, or as
 * the CPU's INTR pin while its local APIC is globally disabled (SDM
 * 11.4.3). Only the BSP's LINT0 is wired, as on a PC. */
static bool extint_pending(struct vcpu *v)
{
    if (v->id != 0 || !i8259_int(&v->vm->pic))
        return false;
    if (!lapic_hw_enabled(&v->lapic))
        return true;
    return lapic_lint_mode(&v->lapic, 0) == APIC_DM_EXTINT;
}

/* Time-driven sources: the PIT's channel 0 and this vCPU's APIC timer. */
static void poll_timers(struct vcpu *v)
{
    pit_dev_poll(v->vm);
    /* The guest's TSC only matters to an armed TSC deadline. */
    uint64_t tsc = lapic_tsc_deadline(&v->lapic) ? vcpu_tsc(v) : 0;
    lapic_timer_poll(&v->lapic, vm_clock_ns(v->vm), tsc);
}

/* True if v has something to take now that would end a HLT: an NMI, or a
 * maskable interrupt while RFLAGS.IF is set (SDM Vol.2A HLT). */
bool irq_wake(struct vcpu *v)
{
    if (v->wait_sipi)
        return false;
    poll_timers(v);
    if (v->nmi_pending || v->pending.type != EVENT_NONE)
        return true;
    if (!(v->rflags & RFLAGS_IF))
        return false;
    return extint_pending(v) || lapic_pending(&v->lapic) >= 0;
}

void irq_before_entry(struct vcpu *v)
{
    v->irq_window = false;
    poll_timers(v);
    if (v->pending.type != EVENT_NONE) {
        /* An exception, or an event an exit interrupted, goes first; an
         * interrupt waiting behind it asks for the exit that lets it in
         * right after (the CPU opens the window once the event is in). */
        v->irq_window = v->nmi_pending || extint_pending(v) || lapic_pending(&v->lapic) >= 0;
        return;
    }
    if (v->nmi_pending && (!hv()->nmi_allowed || hv()->nmi_allowed(v))) {
        /* hopvm's NMI sources are IPIs (Linux's backtraces and stops); one
         * that finds the guest in its NMI handler waits for the next entry
         * after the handler's IRET. */
        v->nmi_pending = false;
        v->pending = (struct vcpu_event){.type = EVENT_NMI, .vector = EXC_NMI};
        return;
    }
    bool ext = extint_pending(v);
    int vec = ext ? 0 : lapic_pending(&v->lapic);
    if (!ext && vec < 0)
        return;
    if (!hv()->irq_allowed(v)) {
        v->irq_window = true;
        return;
    }
    if (ext)
        vec = i8259_ack(&v->vm->pic);
    else
        lapic_ack(&v->lapic, (uint8_t)vec);
    v->pending = (struct vcpu_event){.type = EVENT_EXTINT, .vector = (uint8_t)vec};
}

/* -------------------------------------------------------------- set-up */

/* The state a PC BIOS hands an OS (what SeaBIOS and OVMF leave): the
 * local APIC software-enabled, the BSP's LINT0 in ExtINT mode so the 8259
 * reaches it, LINT1 as NMI on every CPU (MP spec 1.4 3.6.2.2, the MADT's
 * local APIC NMI entry). */
void irq_vcpu_reset(struct vcpu *v)
{
    struct lapic_out out;
    uint64_t now = vm_clock_ns(v->vm);
    lapic_reset(&v->lapic, v->id, v->id == 0);
    memset(&out, 0, sizeof(out));
    lapic_write(&v->lapic, APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_DEFAULT, now, &out);
    if (v->id == 0)
        lapic_write(&v->lapic, APIC_LVT_LINT0, APIC_DM_EXTINT << APIC_LVT_DM_SHIFT, now, &out);
    lapic_write(&v->lapic, APIC_LVT_LINT1, APIC_DM_NMI << APIC_LVT_DM_SHIFT, now, &out);
    v->wait_sipi = v->id != 0;
    v->nmi_pending = false;
    v->irq_window = false;
}

void irq_attach(struct vm *vm)
{
    i8259_reset(&vm->pic);
    ioapic_reset(&vm->ioapic, (uint8_t)vm->nvcpus);
    vm->isa_irq_level = 0;
}
