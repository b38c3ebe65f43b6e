/* The KVM paravirtual clock, which Linux (CONFIG_KVM_GUEST, in every
 * distribution kernel), FreeBSD and others read instead of calibrating
 * their TSC against the PIT — calibration that fails under emulation and
 * costs a real boot tens of milliseconds (Documentation/virt/kvm/x86/
 * msr.rst, MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_WALL_CLOCK_NEW; cpuid.rst,
 * KVM_FEATURE_CLOCKSOURCE2 and KVM_FEATURE_CLOCKSOURCE_STABLE_BIT).
 *
 * A vCPU's pvclock area (struct pvclock_vcpu_time_info, 32 bytes, in guest
 * RAM) says: at guest TSC tsc_timestamp the clock read system_time ns; it
 * advances by ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >>
 * 32. hopvm's clock is the guest's device clock (vm_clock_ns), so the
 * pvclock, the APIC timer, the PIT and the PM timer all agree. The area is
 * written when the guest enables it and again whenever the TSC's rate
 * changes under the guest (a teleport to a host with another TSC rate:
 * kvmclock_update), with the version odd while it changes. */
#include <hopvm/lib.h>
#include <hopvm/time.h>
#include <hopvm/vm.h>
#include <hopvm/x86.h>

#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_SYSTEM_TIME_ENABLE  1ull
#define PVCLOCK_TSC_STABLE_BIT  0x01 /* every vCPU's TSC agrees: no per-CPU maximum needed */
#define PVTI_SIZE               32
#define PVTI_VERSION            0
#define PVTI_TSC_TIMESTAMP      8
#define PVTI_SYSTEM_TIME        16
#define PVTI_MUL                24
#define PVTI_SHIFT              28
#define PVTI_FLAGS              29
#define WALL_SIZE               12  /* struct pvclock_wall_clock: version, sec, nsec */
#define NS_PER_S                1000000000ull

/* Guest RAM at gpa, or NULL if [gpa, gpa + len) is not all RAM. */
static uint8_t *ram_at(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa > vm->ram_size || len > vm->ram_size - gpa)
        return NULL;
    return vm->ram + gpa;
}

/* ns = ((tsc << shift) * mul) >> 32 with mul < 2^32: the TSC rate scaled
 * into (1, 2] GHz by a power of two, mul the fraction 1 GHz / that. */
static void scale(uint64_t hz, uint32_t *mul, int8_t *shift)
{
    int s = 0;
    if (!hz)
        hz = NS_PER_S; /* never used so (write_pvti wants a rate), but never a loop */
    while (hz <= NS_PER_S)
        hz <<= 1, s++;
    while (hz > 2 * NS_PER_S)
        hz >>= 1, s--;
    *mul = (uint32_t)((NS_PER_S << 32) / hz);
    *shift = (int8_t)s;
}

/* host_tsc: one sample of the host's TSC, from which both the guest's TSC
 * and the device clock are worked out, so the pair is exact; every vCPU
 * gets the pair of the same sample (their TSC offsets are equal), as
 * PVCLOCK_TSC_STABLE_BIT promises. */
static void write_pvti(struct vcpu *v, uint64_t host_tsc)
{
    struct vm *vm = v->vm;
    uint64_t gpa = v->kvmclock & ~KVM_SYSTEM_TIME_ENABLE;
    uint8_t *p = ram_at(vm, gpa, PVTI_SIZE);
    if (!(v->kvmclock & KVM_SYSTEM_TIME_ENABLE) || !p || !tsc_hz())
        return;
    uint32_t version, mul;
    int8_t shift;
    scale(tsc_hz(), &mul, &shift);
    uint64_t tsc = host_tsc + vcpu_tsc_offset(v);
    uint64_t now = (uint64_t)((int64_t)time_ns_at(host_tsc) + vm->clock_offset);
    uint8_t flags = PVCLOCK_TSC_STABLE_BIT;
    memcpy(&version, p + PVTI_VERSION, 4);
    version |= 1; /* odd: an update is under way */
    memcpy(p + PVTI_VERSION, &version, 4);
    __asm__ volatile("" ::: "memory");
    memcpy(p + PVTI_TSC_TIMESTAMP, &tsc, 8);
    memcpy(p + PVTI_SYSTEM_TIME, &now, 8);
    memcpy(p + PVTI_MUL, &mul, 4);
    memcpy(p + PVTI_SHIFT, &shift, 1);
    memcpy(p + PVTI_FLAGS, &flags, 1);
    __asm__ volatile("" ::: "memory");
    version++; /* even again */
    memcpy(p + PVTI_VERSION, &version, 4);
    dirty_mark(vm, gpa, PVTI_SIZE);
}

/* The wall-clock time at which the clock read zero. */
static bool write_wall(struct vcpu *v, uint64_t gpa)
{
    struct vm *vm = v->vm;
    uint8_t *p = ram_at(vm, gpa, WALL_SIZE);
    if (!p)
        return false;
    uint64_t boot = wall_ns() - vm_clock_ns(vm);
    uint32_t version, sec = (uint32_t)(boot / NS_PER_S), nsec = (uint32_t)(boot % NS_PER_S);
    memcpy(&version, p, 4);
    version = (version | 1) + 1;
    memcpy(p + 4, &sec, 4);
    memcpy(p + 8, &nsec, 4);
    memcpy(p, &version, 4);
    dirty_mark(vm, gpa, WALL_SIZE);
    return true;
}

bool kvmclock_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
    if (!kvmclock_available())
        return false;
    if (msr == MSR_KVM_SYSTEM_TIME_NEW) {
        *val = v->kvmclock;
        return true;
    }
    if (msr == MSR_KVM_WALL_CLOCK_NEW) {
        *val = 0; /* write-only in KVM's ABI, reads 0 */
        return true;
    }
    return false;
}

bool kvmclock_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
    if (!kvmclock_available())
        return false;
    if (msr == MSR_KVM_WALL_CLOCK_NEW)
        return write_wall(v, val);
    if (msr != MSR_KVM_SYSTEM_TIME_NEW)
        return false;
    v->kvmclock = val;
    write_pvti(v, rdtsc()); /* an address outside RAM: the clock simply never updates */
    return true;
}

void kvmclock_update(struct vm *vm)
{
    uint64_t host_tsc = rdtsc();
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i])
            write_pvti(vm->vcpus[i], host_tsc);
}

/* The clock needs a calibrated TSC: without one (time_init failed) the
 * KVM leaves are not offered and the MSRs are #GP (vmm/cpuid.c, msr.c). */
bool kvmclock_available(void) { return tsc_hz() != 0; }
