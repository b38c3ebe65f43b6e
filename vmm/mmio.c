/* Guest MMIO: a nested page fault outside guest RAM lands here. The range
 * is looked up (none: the unassigned space of a PC), the faulting MOV is
 * fetched through the guest's paging and decoded (vmm/insn.c), the device
 * is called, and the register or memory side of the MOV is completed. */
#include <hopvm/guest_mem.h>
#include <hopvm/hv.h>
#include <hopvm/insn.h>
#include <hopvm/lib.h>
#include <hopvm/mmio.h>

int mmio_register(struct vm *vm, uint64_t base, uint64_t len, mmio_fn fn, void *ctx, const char *name)
{
    if (vm->nmmio == VM_MAX_MMIO || len == 0 || base + len < base || base < vm->ram_size)
        return -1; /* MMIO never overlays RAM: NPT maps all of RAM */
    for (unsigned i = 0; i < vm->nmmio; i++) {
        const struct mmio_range *r = &vm->mmio[i];
        if (base < r->base + r->len && r->base < base + len)
            return -1;
    }
    vm->mmio[vm->nmmio++] = (struct mmio_range){base, len, fn, ctx, name};
    return 0;
}

static enum cpu_mode mode_of(const struct vcpu_state *s)
{
    if ((s->efer & EFER_LMA) && (s->cs.attr & SEG_ATTR_L))
        return MODE_64;
    return (s->cs.attr & SEG_ATTR_DB) ? MODE_32 : MODE_16;
}

/* Register write-back with the architectural width rules (SDM Vol.1
 * 3.4.1.1: a 32-bit result zero-extends in 64-bit mode; 8/16 merge). */
static void set_reg(struct vcpu *v, const struct mmio_insn *in, uint64_t val)
{
    if (in->high8) {
        uint64_t *r = &v->gpr[in->reg - 4];
        *r = (*r & ~0xff00ull) | ((val & 0xff) << 8);
        return;
    }
    uint64_t *r = &v->gpr[in->reg];
    switch (in->dst_size) {
    case 1: *r = (*r & ~0xffull) | (val & 0xff); break;
    case 2: *r = (*r & ~0xffffull) | (val & 0xffff); break;
    case 4: *r = (uint32_t)val; break;
    default: *r = val; break;
    }
}

static uint64_t get_reg(const struct vcpu *v, const struct mmio_insn *in)
{
    if (in->high8)
        return (v->gpr[in->reg - 4] >> 8) & 0xff;
    return v->gpr[in->reg];
}

/* Nothing at that address: as on a PC, where such a read ends in a master
 * abort, reads return all ones and writes go nowhere (PCI Local Bus 3.0
 * 6.6; kernels probe for devices this way). Counted for `vm info`. */
static void unassigned(struct vcpu *v, void *ctx, uint64_t off, unsigned size, bool write, uint64_t *val)
{
    (void)ctx, (void)off, (void)size;
    v->vm->mmio_unassigned++;
    if (!write)
        *val = ~0ull;
}

bool mmio_handle(struct vcpu *v, uint64_t gpa, const char **why)
{
    static char msg[128];
    static const struct mmio_range none = {0, 0, unassigned, NULL, "unassigned"};
    struct vm *vm = v->vm;
    const struct mmio_range *r = NULL;
    for (unsigned i = 0; i < vm->nmmio && !r; i++)
        if (gpa >= vm->mmio[i].base && gpa - vm->mmio[i].base < vm->mmio[i].len)
            r = &vm->mmio[i];
    if (!r)
        r = &none;
    struct vcpu_state s;
    hv()->get_state(v, &s);
    uint8_t bytes[15];
    uint64_t la = (mode_of(&s) == MODE_64 ? 0 : s.cs.base) + v->rip;
    /* The instruction may end on the next page, which need not be mapped
     * when it is shorter than 15 bytes: fetch what is there. */
    size_t in_page = MIN(sizeof(bytes), (size_t)(PAGE_SIZE - (la & (PAGE_SIZE - 1))));
    size_t got = in_page;
    if (guest_peek(v, &s, la, bytes, in_page) != 0) {
        ksnprintf(msg, sizeof(msg), "cannot fetch the instruction at 0x%lx that touched MMIO", la);
        *why = msg;
        return false;
    }
    if (in_page < sizeof(bytes) && guest_peek(v, &s, la + in_page, bytes + in_page, sizeof(bytes) - in_page) == 0)
        got = sizeof(bytes);
    struct mmio_insn in;
    const char *err;
    if (insn_decode_mmio(bytes, got, mode_of(&s), &in, &err) != 0) {
        ksnprintf(msg, sizeof(msg), "MMIO at 0x%lx by an instruction hopvm cannot emulate (%s, bytes %02x %02x %02x)",
                  gpa, err, bytes[0], bytes[1], bytes[2]);
        *why = msg;
        return false;
    }
    uint64_t val = 0;
    if (in.write)
        val = in.has_imm ? in.imm : get_reg(v, &in);
    if (in.size < 8)
        val &= (1ull << (8 * in.size)) - 1;
    r->fn(v, r->ctx, gpa - r->base, in.size, in.write, &val);
    if (!in.write) {
        if (in.size < 8) /* a device answers in.size bytes; MOVZX widens only those */
            val &= (1ull << (8 * in.size)) - 1;
        set_reg(v, &in, val);
    }
    v->rip += in.len;
    return true;
}
