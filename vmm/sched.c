/* Scheduling on the boot CPU: the host loop serves the console, then runs
 * the next runnable vCPU for a slice. The host tick (1 ms) forces an exit
 * from the guest, so a spinning guest gives the CPU back within a slice
 * and the console answers at once when a key arrives. */
#include <hopvm/console.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/net.h>
#include <hopvm/nic.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define SLICE_MS 10

static unsigned next_vm, next_vcpu;

/* A halted vCPU becomes runnable when an event ends its HLT (vmm/irq.c
 * polls its timers for that), so an idle guest costs a check per pass. */
static bool runnable(const struct vm *vm, unsigned i)
{
    if (vm->state != VM_RUNNING || i >= vm->nvcpus || !vm->vcpus[i])
        return false;
    struct vcpu *v = vm->vcpus[i];
    if (v->wait_sipi)
        return false; /* an AP after INIT: only a start-up IPI runs it */
    if (v->halted) {
        if (!irq_wake(v))
            return false;
        v->halted = false;
    }
    return !vm->throttle_pct || time_ns() >= vm->vcpus[i]->throttled_until;
}

/* Round-robin over every (VM, vCPU) pair, starting after the last one. */
struct vcpu *sched_pick(void)
{
    for (unsigned tries = 0; tries < CFG_MAX_VMS * CFG_MAX_VCPUS; tries++) {
        struct vm *vm = vm_at(next_vm);
        unsigned i = next_vcpu;
        if (++next_vcpu >= CFG_MAX_VCPUS) {
            next_vcpu = 0;
            next_vm = vm_at(next_vm + 1) ? next_vm + 1 : 0;
        }
        if (!vm) {
            next_vm = 0;
            next_vcpu = 0;
            continue;
        }
        if (runnable(vm, i))
            return vm->vcpus[i];
    }
    return NULL;
}

void vcpu_run_slice(struct vcpu *v)
{
    struct vm *vm = v->vm;
    const struct hv_backend *b = hv();
    uint64_t end = timer_ticks() + (uint64_t)SLICE_MS * timer_hz() / 1000;
    uint64_t t0 = time_ns();
    struct vm_exit e;
    while (vm->state == VM_RUNNING && !v->halted) {
        irq_before_entry(v);
        b->vcpu_run(v, &e);
        if (!vcpu_handle_exit(v, &e)) {
            vm_crash(vm, v, "%s", v->fail); /* frees v */
            break;
        }
        if (vm->state == VM_EXITED) {
            vm_exited(vm);
            break;
        }
        if (vm->reset_pending) {
            vm_reboot(vm); /* frees v */
            return;
        }
        if (sched_kick) { /* an interrupt for a halted vCPU: let it run */
            sched_kick = false;
            break;
        }
        if (timer_ticks() >= end || console_input_pending() || nic_irq_pending)
            break;
    }
    uint64_t ran = time_ns() - t0;
    vm->run_ns += ran;
    /* Throttled (a live teleport that does not converge): after running
     * for `ran` the vCPU sits out ran * pct / (100 - pct), so it gets
     * (100 - pct) % of the CPU, as QEMU's auto-converge does with sleeps
     * in each vCPU thread. */
    if (vm->throttle_pct && vm->state == VM_RUNNING)
        v->throttled_until = time_ns() + ran * vm->throttle_pct / (100 - vm->throttle_pct);
}

__attribute__((noreturn)) void host_loop(void)
{
    console_start();
    for (;;) {
        bool busy = console_service();
        nic_irq_pending = false; /* this poll serves what it announced */
        busy |= nic_poll_all() > 0;
        net_poll();
        struct vcpu *v = sched_pick();
        if (v) {
            vcpu_run_slice(v);
            continue;
        }
        if (!busy) {
            cli();
            if (nic_irq_pending)
                sti(); /* a frame came in since the poll: go round again */
            else if (timer_hz())
                sti_hlt(); /* the next tick, key or NIC interrupt wakes us */
            else {
                sti();
                pause();
            }
        }
    }
}
