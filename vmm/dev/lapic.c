/* Each vCPU's local APIC (vmm/lapic.c) where the guest reaches it: the
 * xAPIC page at 0xfee00000 (one MMIO range for every vCPU; the access goes
 * to the APIC of the vCPU that made it, as on hardware, SDM Vol.3A 11.4.1)
 * and, in vmm/msr.c, IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC
 * MSRs. Messages a register write sends (IPIs, EOIs of level-triggered
 * vectors) go to vmm/irq.c. The page stays at the default address: a
 * guest that moves IA32_APIC_BASE finds nothing at the new one (no OS in
 * use does; KVM refuses the move too). */
#include <hopvm/lib.h>
#include <hopvm/mmio.h>
#include <hopvm/vm.h>

#define LAPIC_PAGE 0x1000
#define REG_ALIGN  0x10 /* registers sit on 16-byte boundaries, accessed as dwords (SDM 11.4.1) */

static void lapic_mmio(struct vcpu *v, void *ctx, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    (void)ctx;
    struct lapic *l = &v->lapic;
    /* SDM 11.4.1: the page exists while the APIC is globally enabled in
     * xAPIC mode; in x2APIC mode or disabled it is ordinary (absent)
     * memory space. */
    if (!lapic_hw_enabled(l) || lapic_x2apic(l)) {
        v->vm->mmio_unassigned++;
        if (!write)
            *val = ~0ull;
        return;
    }
    unsigned reg = (unsigned)off & ~(REG_ALIGN - 1u), shift = ((unsigned)off & 3) * 8;
    uint64_t now = vm_clock_ns(v->vm);
    if (!write) {
        /* Narrower or unaligned reads see the dword's bytes (what a CPU
         * does; the SDM leaves them undefined). */
        *val = (off & (REG_ALIGN - 1)) >= 4 ? 0 : (uint64_t)lapic_read(l, reg, now) >> shift;
        return;
    }
    if ((off & (REG_ALIGN - 1)) || size != 4)
        return; /* SDM 11.4.1: only aligned 32-bit writes are defined */
    struct lapic_out out;
    memset(&out, 0, sizeof(out));
    lapic_write(l, reg, (uint32_t)*val, now, &out);
    irq_lapic_out(v, &out);
}

void lapic_dev_attach(struct vm *vm)
{
    mmio_register(vm, LAPIC_DEFAULT_BASE, LAPIC_PAGE, lapic_mmio, NULL, "lapic");
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i])
            irq_vcpu_reset(vm->vcpus[i]);
}
