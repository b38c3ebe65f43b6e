/* Guest x87/SSE state. The host core never touches vector registers
 * (-mgeneral-regs-only), so a vCPU's state can stay in the registers
 * across exits and is swapped with FXSAVE/FXRSTOR only when another vCPU
 * runs (SDM Vol.1 10.5). Both backends call this before entering a guest. */
#include <hopvm/lib.h>
#include <hopvm/vm.h>

#define FXSAVE_FCW_OFF 0
#define FXSAVE_MXCSR_OFF 24
#define FXSAVE_MXCSR_MASK_OFF 28
#define MXCSR_MASK_DEFAULT 0xffbf /* SDM Vol.1 11.6.6: when FXSAVE stores 0 */

static struct vcpu *owner;

void fpu_init(struct vcpu *v)
{
    /* The state after FNINIT and reset: FCW 0x37f, MXCSR 0x1f80. */
    memset(v->fpu, 0, sizeof(v->fpu));
    uint16_t fcw = 0x037f;
    uint32_t mxcsr = 0x1f80;
    memcpy(v->fpu + FXSAVE_FCW_OFF, &fcw, sizeof(fcw));
    memcpy(v->fpu + FXSAVE_MXCSR_OFF, &mxcsr, sizeof(mxcsr));
}

void fpu_switch(struct vcpu *v)
{
    if (owner == v)
        return;
    if (owner)
        __asm__ volatile("fxsave64 %0" : "=m"(owner->fpu));
    __asm__ volatile("fxrstor64 %0" ::"m"(v->fpu));
    owner = v;
}

void fpu_forget(struct vcpu *v)
{
    if (owner == v)
        owner = NULL;
}

/* The vCPU's state into v->fpu, if it is still in the registers. */
void fpu_sync(struct vcpu *v)
{
    if (owner == v)
        __asm__ volatile("fxsave64 %0" : "=m"(v->fpu));
}

/* An FXSAVE image from elsewhere (a teleport) is loaded with FXRSTOR in
 * the host: an MXCSR bit this CPU does not have would #GP the host (SDM
 * Vol.1 11.6.6), so it is checked against this CPU's MXCSR_MASK. */
bool fpu_image_ok(const uint8_t img[512])
{
    static uint8_t probe[512] __attribute__((aligned(16)));
    __asm__ volatile("fxsave64 %0" : "=m"(probe));
    uint32_t mask, mxcsr;
    memcpy(&mask, probe + FXSAVE_MXCSR_MASK_OFF, sizeof(mask));
    memcpy(&mxcsr, img + FXSAVE_MXCSR_OFF, sizeof(mxcsr));
    return !(mxcsr & ~(mask ? mask : MXCSR_MASK_DEFAULT));
}
