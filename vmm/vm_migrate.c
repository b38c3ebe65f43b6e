/* The VM side of a teleport: what the migration engine reads from a guest
 * on the source and builds on the target, in the vendor-neutral mig_*
 * structures (docs/migration-protocol.md). The engine never sees a VMCB,
 * a VMCS or struct vm internals beyond these calls. */
#include <hopvm/config.h>
#include <hopvm/console.h>
#include <hopvm/cpuinfo.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/mig_compat.h>
#include <hopvm/mig_state.h>
#include <hopvm/time.h>
#include <hopvm/vcpu_check.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

void vm_describe(struct vm *vm, struct mig_vmdef *d)
{
    const struct cfg_vm *c = vm->def;
    memset(d, 0, sizeof(*d));
    memcpy(d->name, vm->name, sizeof(d->name));
    d->memory = vm->ram_size;
    d->vcpus = vm->nvcpus;
    memcpy(d->kernel, c->kernel, sizeof(d->kernel));
    memcpy(d->cmdline, c->cmdline, sizeof(d->cmdline));
    /* The feature leaves as this guest sees them (its vCPU 0's policy). */
    for (unsigned i = 0; i < MIG_FEATURE_LEAVES && vm->vcpus[0]; i++) {
        uint32_t r[4];
        cpuid_policy(vm->vcpus[0], mig_feature_leaf[i], 0, r);
        d->cpuid[i] = (struct mig_cpuid_leaf){mig_feature_leaf[i], 0, r[0], r[1], r[2], r[3]};
        d->ncpuid = i + 1;
    }
    /* And the whole table it answers from, so the target answers alike. */
    _Static_assert(VM_CPUID_MAX <= MIG_CPUID_TABLE_MAX, "the CPUID table fits VM_DEF");
    _Static_assert(sizeof(struct cpuid_entry) == sizeof(struct mig_cpuid_leaf), "one layout");
    memcpy(d->table, vm->cpuid, vm->ncpuid * sizeof(vm->cpuid[0]));
    d->ntable = vm->ncpuid;
    ksnprintf(d->source_host, sizeof(d->source_host), "%s", host_name());
    ksnprintf(d->backend, sizeof(d->backend), "%s", hv() == &svm_backend ? "svm" : "vmx");
}

unsigned vm_cpuid_features(struct mig_cpuid_leaf *out, unsigned max)
{
    struct vcpu probe = {.id = 0};
    unsigned n = 0;
    for (unsigned i = 0; i < MIG_FEATURE_LEAVES && n < max; i++) {
        uint32_t r[4];
        cpuid_policy(&probe, mig_feature_leaf[i], 0, r);
        out[n++] = (struct mig_cpuid_leaf){mig_feature_leaf[i], 0, r[0], r[1], r[2], r[3]};
    }
    return n;
}

void vm_save_vcpu(struct vm *vm, unsigned i, struct mig_vcpu *m)
{
    struct vcpu *v = vm->vcpus[i];
    memset(m, 0, sizeof(*m));
    m->index = i;
    hv()->get_state(v, &m->s);
    /* The guest's TSC, not the offset: the target's TSC differs. */
    m->tsc = rdtsc() + m->s.tsc_offset;
    m->s.tsc_offset = 0;
    m->halted = v->halted;
    fpu_get(v, m->fxsave, m->ymmh); /* lazily switched: it may be in the registers */
    m->xcr0 = v->xcr0;
    m->tsc_aux = v->tsc_aux;
}

void vm_save_uart(struct vm *vm, struct mig_uart *u)
{
    const struct uart_dev *d = &vm->uart;
    memset(u, 0, sizeof(*u));
    u->ier = d->ier, u->lcr = d->lcr, u->mcr = d->mcr, u->scr = d->scr;
    u->dll = d->dll, u->dlm = d->dlm, u->fcr = d->fcr;
    u->thre = d->thre_pending;
    for (unsigned i = d->rx_tail; i != d->rx_head && u->rx_count < sizeof(u->rx); i++)
        u->rx[u->rx_count++] = d->rx[i % sizeof(d->rx)];
    mig_uart_log_from_ring(u, vm->log, VM_LOG_SIZE, vm->log_len);
}

/* The platform's devices, in the order of their table (vmm/dev/devices.c),
 * each instance one record. */
int vm_save_device(struct vm *vm, unsigned i, struct mig_dev *d)
{
    for (unsigned k = 0; k < vdev_count; k++) {
        const struct vdev *t = &vdevs[k];
        if (!t->save)
            continue;
        unsigned count = t->instances ? t->instances(vm) : 1;
        if (i < count)
            return t->save(vm, i, d) == 0 ? 0 : -1;
        i -= count;
    }
    return 1;
}

/* ---- the source's guest while a teleport owns it --------------------- */

void vm_mig_begin(struct vm *vm)
{
    vm->mig.migrating = true;
    vm->mig.lost = false;
    vm->mig.was_running = vm->state == VM_RUNNING;
}

const char *vm_mig_lost(const struct vm *vm)
{
    return vm->mig.lost ? (vm->reason[0] ? vm->reason : vm_state_name(vm->state)) : NULL;
}

const uint8_t *vm_mig_page(struct vm *vm, uint64_t gfn)
{
    if (vm->mig.lost || !vm->ram || gfn >= vm->ram_size / PAGE_SIZE)
        return NULL;
    return vm->ram + gfn * PAGE_SIZE;
}

void vm_mig_pause(struct vm *vm)
{
    if (!vm->mig.lost && vm->state == VM_RUNNING)
        vm->state = VM_PAUSED;
}

int vm_mig_log_start(struct vm *vm, char *err, size_t n)
{
    if (vm->mig.lost)
        return ksnprintf(err, n, "'%s' stopped", vm->name), -1;
    return dirty_start(vm, err, n);
}

const char *vm_mig_dirty_mode(const struct vm *vm) { return dirty_mode_name(vm->dirty.mode); }

uint64_t vm_mig_harvest(struct vm *vm, uint64_t *bitmap)
{
    return vm->mig.lost ? 0 : dirty_harvest(vm, bitmap);
}

void vm_mig_throttle(struct vm *vm, unsigned pct)
{
    vm->throttle_pct = MIN(pct, 99u);
}

/* Not handed over: the guest is the operator's again, as it was, at full
 * speed, with its nested tables as fast as before the teleport. */
void vm_mig_end(struct vm *vm)
{
    if (!vm->mig.lost) {
        dirty_stop(vm);
        vm->throttle_pct = 0;
        for (unsigned i = 0; i < vm->nvcpus; i++)
            if (vm->vcpus[i])
                vm->vcpus[i]->throttled_until = 0;
        if (vm->mig.was_running && vm->state == VM_PAUSED)
            vm->state = VM_RUNNING;
    }
    vm->mig.migrating = false;
}

void vm_retire(struct vm *vm, const char *why)
{
    vm_stop(vm);
    vm->mig.migrating = false;
    ksnprintf(vm->reason, sizeof(vm->reason), "%s", why);
}

struct vm *vm_incoming(const struct mig_vmdef *d, char *err, size_t n)
{
    struct vm *vm = vm_find(d->name);
    if (vm && (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->mig.migrating)) {
        ksnprintf(err, n, "a guest named '%s' is already %s here", d->name,
                  vm->mig.migrating ? "being teleported" : vm_state_name(vm->state));
        return NULL;
    }
    bool fresh = !vm;
    if (fresh && !(vm = vm_new_slot(d->name))) {
        ksnprintf(err, n, "this host has %d guests already", CFG_MAX_VMS);
        return NULL;
    }
    struct cfg_vm *c = &vm->own_def;
    memset(c, 0, sizeof(*c));
    memcpy(c->name, d->name, sizeof(c->name));
    c->memory = d->memory;
    c->vcpus = d->vcpus;
    memcpy(c->kernel, d->kernel, sizeof(c->kernel));
    memcpy(c->cmdline, d->cmdline, sizeof(c->cmdline));
    vm->mig.prev_def = fresh ? NULL : vm->def;
    vm->mig.incoming_clock = 0;
    memset(vm->mig.dev_loaded, 0, sizeof(vm->mig.dev_loaded));
    vm->def = c;
    vm->mig.incoming_new = fresh;
    if (vm_prepare(vm, false, err, n) != 0) {
        if (fresh)
            vm_drop_slot(vm);
        return NULL;
    }
    /* The CPUID it started with (tgt_offer checked that this host has
     * every feature it names); a source without the table: this host's. */
    if (d->ntable && d->ntable <= VM_CPUID_MAX) {
        memcpy(vm->cpuid, d->table, d->ntable * sizeof(vm->cpuid[0]));
        vm->ncpuid = d->ntable;
    }
    vm->state = VM_PAUSED;
    vm->mig.migrating = true;
    return vm;
}

/* What this host can give v: the CR4 bits of the features its CPUID
 * offers that the backend can also run, the EFER bits a guest here can
 * write, and this CPU's physical address width. */
static void vcpu_limits(struct vcpu *v, struct vcpu_limits *lim)
{
    lim->cr4 = cpuid_cr4_allowed(v);
    if (hv()->guest_cr4_bits)
        lim->cr4 &= hv()->guest_cr4_bits();
    lim->efer = VCPU_EFER_GUEST;
    lim->phys_bits = cpuinfo()->phys_bits;
}

int vm_load_vcpu(struct vm *vm, const struct mig_vcpu *m, char *err, size_t n)
{
    if (m->index >= vm->nvcpus) {
        ksnprintf(err, n, "vCPU %u of a guest with %u", m->index, vm->nvcpus);
        return -1;
    }
    struct vcpu *v = vm->vcpus[m->index];
    if (!fpu_image_ok(m->fxsave)) {
        ksnprintf(err, n, "MXCSR has bits this CPU lacks");
        return -1;
    }
    /* Bytes from a peer or a file: nothing reaches the backend (whose
     * WRMSRs and VM entry would see it) that the architecture refuses. */
    struct vcpu_limits lim;
    char why[VCPU_WHY_MAX];
    vcpu_limits(v, &lim);
    if (vcpu_check(&m->s, &lim, why, sizeof(why)) || vcpu_check_xcr0(m->xcr0, fpu_xcr0_offered(), why, sizeof(why))) {
        ksnprintf(err, n, "%s", why); /* the target says which VCPU record */
        return -1;
    }
    struct vcpu_state s = m->s;
    s.tsc_offset = 0; /* set at the commit, so the TSC continues from there */
    hv()->set_state(v, &s);
    v->halted = m->halted;
    fpu_set(v, m->fxsave, m->ymmh, m->xcr0);
    v->tsc_aux = m->tsc_aux;
    vm->mig.incoming_tsc[m->index] = m->tsc;
    return 0;
}

void vm_load_uart(struct vm *vm, const struct mig_uart *u)
{
    struct uart_dev *d = &vm->uart;
    d->ier = u->ier, d->lcr = u->lcr, d->mcr = u->mcr, d->scr = u->scr;
    d->dll = u->dll, d->dlm = u->dlm, d->fcr = u->fcr;
    d->thre_pending = u->thre;
    d->rx_head = d->rx_tail = 0;
    for (uint32_t i = 0; i < u->rx_count && i < sizeof(d->rx); i++)
        d->rx[d->rx_head++] = u->rx[i];
    mig_uart_log_to_ring(u, vm->log, VM_LOG_SIZE, &vm->log_len);
}

int vm_load_device(struct vm *vm, const struct mig_dev *d, char *err, size_t n)
{
    for (unsigned k = 0; k < vdev_count; k++) {
        const struct vdev *t = &vdevs[k];
        if (!t->load || strcmp(t->type, d->type))
            continue;
        unsigned count = t->instances ? t->instances(vm) : 1;
        if (d->instance >= count)
            return ksnprintf(err, n, "%s: instance %u, this guest has %u", d->type, d->instance, count), -1;
        uint32_t bit = 1u << d->instance; /* instances < CFG_MAX_VCPUS <= 32 */
        if (vm->mig.dev_loaded[k] & bit)
            return ksnprintf(err, n, "a second %s record for instance %u", d->type, d->instance), -1;
        if (t->load(vm, d, err, n) != 0)
            return -1;
        vm->mig.dev_loaded[k] |= bit;
        return 0;
    }
    return ksnprintf(err, n, "a device of type '%s', which this host does not emulate", d->type), -1;
}

/* END came: the platform's records are all there, or none (a source that
 * predates them: the devices keep their reset state). Half a platform
 * would run the guest on timers of a clock that did not come along. */
int vm_incoming_check(struct vm *vm, char *err, size_t n)
{
    bool any = false;
    for (unsigned k = 0; k < vdev_count; k++)
        any |= vm->mig.dev_loaded[k] != 0;
    if (!any)
        return 0;
    for (unsigned k = 0; k < vdev_count; k++) {
        const struct vdev *t = &vdevs[k];
        if (!t->load)
            continue;
        unsigned count = t->instances ? t->instances(vm) : 1;
        uint32_t all = count >= 32 ? ~0u : (1u << count) - 1;
        if ((vm->mig.dev_loaded[k] & all) != all)
            return ksnprintf(err, n, "the stream has device records but not every '%s' one", t->type), -1;
    }
    return 0;
}

/* Each vCPU's TSC continues from the value the source saved, and the
 * device clock from its own (a stream without it starts the clock at 0:
 * it carried no device that reads it); the KVM clock's areas are written
 * again for this host's TSC rate. */
static void continue_tsc(struct vm *vm)
{
    vm->clock_offset = (int64_t)(vm->mig.incoming_clock - time_ns());
    uint64_t now = rdtsc();
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        struct vcpu_state s;
        hv()->get_state(vm->vcpus[i], &s);
        s.tsc_offset = vm->mig.incoming_tsc[i] - now;
        hv()->set_state(vm->vcpus[i], &s);
    }
    kvmclock_update(vm);
}

void vm_incoming_commit(struct vm *vm)
{
    continue_tsc(vm);
    vm->mig.migrating = false;
    vm->state = VM_RUNNING;
}

void vm_incoming_abort(struct vm *vm, bool in_doubt)
{
    if (in_doubt) {
        /* Complete and paused: the operator decides (docs/migration-protocol.md). */
        continue_tsc(vm);
        vm->mig.migrating = false;
        return;
    }
    vm_stop(vm);
    vm->mig.migrating = false;
    ksnprintf(vm->reason, sizeof(vm->reason), "an incoming teleport failed");
    if (vm->mig.incoming_new)
        vm_drop_slot(vm);
    else if (vm->mig.prev_def)
        vm->def = vm->mig.prev_def; /* hopvm.cfg's guest of that name is as it was */
}
