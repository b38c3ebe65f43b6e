/* Page-modification logging (SDM Vol.3C 29.3.6): with EPT A/D on and the
 * "enable PML" control set, each time the CPU sets a leaf's dirty bit it
 * also writes the page's guest-physical address into a 512-entry log page
 * (at PML index, which counts down), and exits with "PML full" when the
 * index has run out. The dirty log (vmm/dirty.c) turns it on while it runs
 * and drains the logs at each harvest, instead of scanning the dirty bit of
 * every leaf; it still clears the D bits of the pages it took, so their
 * next write is logged again. */
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include "vmcs.h"
#include "vmx_internal.h"

#define PML_ENTRIES 512
#define PML_LAST    (PML_ENTRIES - 1)   /* the index starts here and counts down */
#define PML_GPA     0x000ffffffffff000ull

void vmx_pml_drain_vcpu(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (!x || !x->pml)
        return;
    vmx_load(v);
    /* Entries index + 1 .. 511 are filled; an index past 511 (it wrapped
     * below 0) means all of them. */
    uint64_t index = vmx_read(VMCS_PML_INDEX) & 0xffff;
    for (uint64_t i = index >= PML_ENTRIES ? 0 : index + 1; i < PML_ENTRIES; i++)
        dirty_mark(v->vm, x->pml[i] & PML_GPA, PAGE_SIZE);
    vmx_write(VMCS_PML_INDEX, PML_LAST);
}

void vmx_pml_drain(struct vm *vm)
{
    for (unsigned i = 0; i < vm->nvcpus; i++)
        if (vm->vcpus[i])
            vmx_pml_drain_vcpu(vm->vcpus[i]);
}

void vmx_pml_free(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (x && x->pml) {
        page_free(x->pml, 1);
        x->pml = NULL;
    }
}

static void pml_off(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (!x || !x->pml)
        return;
    vmx_load(v);
    vmx_write(VMCS_PROC_CTLS2, vmx_read(VMCS_PROC_CTLS2) & ~(uint64_t)PROC2_PML);
    vmx_pml_free(v);
}

bool vmx_pml(struct vm *vm, bool on)
{
    if (!on || !vmx_caps()->pml) {
        for (unsigned i = 0; i < vm->nvcpus; i++)
            if (vm->vcpus[i])
                pml_off(vm->vcpus[i]);
        return false;
    }
    for (unsigned i = 0; i < vm->nvcpus; i++) {
        struct vcpu *v = vm->vcpus[i];
        struct vmx_vcpu *x = v ? v->hw : NULL;
        if (!x)
            continue;
        if (!x->pml && !(x->pml = page_alloc(1, 0))) {
            vmx_pml(vm, false); /* all or none: the log falls back to scanning D bits */
            return false;
        }
        vmx_load(v);
        vmx_write(VMCS_PML_ADDRESS, (uint64_t)(uintptr_t)x->pml);
        vmx_write(VMCS_PML_INDEX, PML_LAST);
        vmx_write(VMCS_PROC_CTLS2, vmx_read(VMCS_PROC_CTLS2) | PROC2_PML);
    }
    return true;
}
