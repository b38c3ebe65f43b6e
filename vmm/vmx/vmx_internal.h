/* Shared inside vmm/vmx/ only. */
#ifndef HOPVM_VMX_INTERNAL_H
#define HOPVM_VMX_INTERNAL_H
#include <hopvm/vm.h>
#include <stdbool.h>
#include <stdint.h>

#define LAZY_MSRS 5 /* KernelGSBase, STAR, LSTAR, CSTAR, SFMASK */
/* Their indices in struct vmx_vcpu.msrs, in vmx.c's lazy_msrs order. */
enum { LAZY_KERNEL_GS_BASE, LAZY_STAR, LAZY_LSTAR, LAZY_CSTAR, LAZY_SFMASK };

struct vmx_caps {
    uint32_t pin, proc, proc2, exit, entry;
    bool entry_ia32e_ok, ept_ad;
    bool pml;               /* page-modification logging may be turned on (with EPT A/D) */
    uint32_t preempt_ticks; /* VMX-preemption timer per entry, 0: not used */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
};

struct vmx_vcpu {
    void *vmcs;
    uint16_t vpid;
    bool launched;
    bool used;
    uint64_t cr2;   /* VMX does not switch CR2 (SDM Vol.3C 27.3.1): hopvm does */
    bool flush_ept; /* INVEPT owed before the next entry (flush_nested) */
    bool flush_vpid; /* INVVPID owed before the next entry (an emulated MOV to CR) */
    uint64_t *pml;  /* the page-modification log while the dirty log uses it, else NULL */
    uint64_t msrs[LAZY_MSRS];
    uint64_t dr6;   /* the guest's DR6 while another vCPU's is in the register (vmx_dr6.c) */
    bool dr6_live;  /* the guest's DR6 is in the register now */
    uint64_t proc;  /* the primary processor-based controls as last written */
    uint64_t exit_rip; /* RIP at the last exit (or set_state): moved on means emulated */
};

struct vmx_vm {
    uint64_t eptp;
    bool used;
};

/* The VMX instructions (SDM Vol.3C ch. 31); each reports failure through
 * CF/ZF, returned here as -1. */
static inline int vmx_on(uint64_t pa)
{
    uint8_t fail;
    __asm__ volatile("vmxon %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
    return fail ? -1 : 0;
}
static inline int vmx_clear(uint64_t pa)
{
    uint8_t fail;
    __asm__ volatile("vmclear %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
    return fail ? -1 : 0;
}
static inline int vmx_ptrld(uint64_t pa)
{
    uint8_t fail;
    __asm__ volatile("vmptrld %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
    return fail ? -1 : 0;
}
static inline void vmx_write(uint64_t field, uint64_t val)
{
    __asm__ volatile("vmwrite %1, %0" ::"r"(field), "rm"(val) : "cc", "memory");
}
static inline uint64_t vmx_read(uint64_t field)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
    return v;
}
static inline void vmx_invept_single(uint64_t eptp)
{
    struct { uint64_t eptp, rsvd; } d = {eptp, 0};
    __asm__ volatile("invept %0, %1" ::"m"(d), "r"(1ull) : "cc", "memory");
}
static inline void vmx_invvpid_single(uint16_t vpid)
{
    struct { uint64_t vpid, la; } d = {vpid, 0};
    __asm__ volatile("invvpid %0, %1" ::"m"(d), "r"(1ull) : "cc", "memory");
}

int vmx_enter(uint64_t *gpr, int launched);
void vmx_exit_stub(void);
void vmx_load(const struct vcpu *v);
const struct vmx_caps *vmx_caps(void);
uint64_t vmx_lazy_msr(const struct vcpu *v, int i);
void vmx_set_lazy_msr(struct vcpu *v, int i, uint64_t val);

/* vmx_state.c */
uint64_t vmx_cr0_mask(const struct vmx_caps *c);
uint64_t vmx_cr4_mask(const struct vmx_caps *c);
uint64_t vmx_cr0_real(const struct vmx_caps *c, uint64_t guest);
uint64_t vmx_cr4_real(const struct vmx_caps *c, uint64_t guest);
void vmx_get_state(struct vcpu *v, struct vcpu_state *s);
void vmx_set_state(struct vcpu *v, const struct vcpu_state *s);
/* The CR4 bits a guest can have in VMX operation (hv_backend.guest_cr4_bits). */
uint64_t vmx_guest_cr4_bits(void);
/* vmx_exit.c: true when e holds an exit for the core; false when the
 * backend handled it and the guest just continues. */
bool vmx_decode(struct vcpu *v, struct vm_exit *e, const struct vmx_caps *c);
void vmx_entry_failure(struct vcpu *v, struct vm_exit *e, uint32_t insn_error);
/* vmx_dr6.c: the guest's DR6, which no VMCS field holds. switch: before
 * each entry, puts v's DR6 into the register. */
void vmx_dr6_switch(struct vcpu *v);
uint64_t vmx_dr6_get(const struct vcpu *v);
void vmx_dr6_set(struct vcpu *v, uint64_t dr6);
/* vmx_pml.c */
bool vmx_pml(struct vm *vm, bool on);
void vmx_pml_drain(struct vm *vm);
void vmx_pml_drain_vcpu(struct vcpu *v);
void vmx_pml_free(struct vcpu *v);

#endif
