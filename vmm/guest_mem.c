/* Guest linear -> guest physical -> host. Permissions other than presence
 * are not checked: hopvm reads instructions and string-I/O buffers, which
 * the guest itself just used. Not present: the guest gets its #PF. Every
 * write hopvm makes into guest RAM for a running guest goes through copy()
 * below, which marks the pages in the dirty log (vmm/dirty.c). */
#include <hopvm/guest_mem.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>

#define PTE_P  (1ull << 0)
#define PTE_PS (1ull << 7)
#define PF_WRITE (1u << 1)
#define ADDR_4K  0x000ffffffffff000ull
#define EXC_PF 14
#define CR4_PSE (1ull << 4)

void *gpa_to_host(const struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (!vm->ram || len > vm->ram_size || gpa > vm->ram_size - len)
        return NULL;
    return vm->ram + gpa;
}

static int entry(const struct vm *vm, uint64_t gpa, unsigned width, uint64_t *e)
{
    const void *p = gpa_to_host(vm, gpa, width);
    if (!p)
        return -1;
    if (width == 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        *e = v;
    } else {
        memcpy(e, p, 8);
    }
    return 0;
}

int gva_to_gpa(const struct vm *vm, const struct vcpu_state *s, uint64_t la, bool write,
               uint64_t *gpa, uint32_t *fault)
{
    *fault = write ? PF_WRITE : 0;
    if (!(s->cr0 & CR0_PG)) {
        *gpa = (s->efer & EFER_LMA) ? la : (uint32_t)la;
        return 0;
    }
    uint64_t e;
    if (!(s->cr4 & CR4_PAE)) { /* 32-bit paging, SDM 4.3 */
        la = (uint32_t)la;
        if (entry(vm, (s->cr3 & 0xfffff000u) + ((la >> 22) << 2), 4, &e) || !(e & PTE_P))
            return -1;
        if ((e & PTE_PS) && (s->cr4 & CR4_PSE)) {
            *gpa = (e & 0xffc00000u) | (la & 0x3fffff);
            return 0;
        }
        if (entry(vm, (e & 0xfffff000u) + (((la >> 12) & 0x3ff) << 2), 4, &e) || !(e & PTE_P))
            return -1;
        *gpa = (e & 0xfffff000u) | (la & 0xfff);
        return 0;
    }
    int levels;
    uint64_t table;
    if (s->efer & EFER_LMA) { /* 4-level paging, SDM 4.5 */
        levels = 4;
        table = s->cr3 & ADDR_4K;
    } else { /* PAE, SDM 4.4: the PDPTE from a 32-byte aligned CR3 */
        la = (uint32_t)la;
        if (entry(vm, (s->cr3 & 0xffffffe0u) + ((la >> 30) << 3), 8, &e) || !(e & PTE_P))
            return -1;
        levels = 2;
        table = e & ADDR_4K;
    }
    for (int l = levels; l >= 1; l--) {
        unsigned shift = 12 + 9 * (l - 1);
        if (entry(vm, table + (((la >> shift) & 511) << 3), 8, &e) || !(e & PTE_P))
            return -1;
        if (l > 1 && l < 4 && (e & PTE_PS)) { /* 1 GiB or 2 MiB page */
            uint64_t mask = (1ull << shift) - 1;
            *gpa = (e & ADDR_4K & ~mask) | (la & mask);
            return 0;
        }
        table = e & ADDR_4K;
    }
    *gpa = table | (la & 0xfff);
    return 0;
}

static int copy(struct vcpu *v, const struct vcpu_state *s, uint64_t la, uint8_t *buf, size_t n, bool write,
                bool fault_guest)
{
    while (n) {
        size_t chunk = MIN(n, (size_t)(PAGE_SIZE - (la & (PAGE_SIZE - 1))));
        uint64_t gpa;
        uint32_t fault;
        uint8_t *h = NULL;
        if (gva_to_gpa(v->vm, s, la, write, &gpa, &fault) == 0)
            h = gpa_to_host(v->vm, gpa, chunk);
        if (!h && !fault_guest)
            return -1;
        if (!h) {
            /* SDM 4.7: the fault the access would have raised; CR2 = address. */
            struct vcpu_state st;
            hv()->get_state(v, &st);
            st.cr2 = la;
            hv()->set_state(v, &st);
            v->pending = (struct vcpu_event){.type = EVENT_EXCEPTION, .vector = EXC_PF,
                                             .has_error = 1, .error = fault};
            return -1;
        }
        if (write) {
            memcpy(h, buf, chunk);
            dirty_mark(v->vm, gpa, chunk); /* hopvm wrote it: the dirty log must know */
        } else
            memcpy(buf, h, chunk);
        la += chunk;
        buf += chunk;
        n -= chunk;
    }
    return 0;
}

int guest_read(struct vcpu *v, const struct vcpu_state *s, uint64_t la, void *buf, size_t n)
{
    return copy(v, s, la, buf, n, false, true);
}

int guest_write(struct vcpu *v, const struct vcpu_state *s, uint64_t la, const void *buf, size_t n)
{
    return copy(v, s, la, (uint8_t *)(uintptr_t)buf, n, true, true);
}

int guest_peek(struct vcpu *v, const struct vcpu_state *s, uint64_t la, void *buf, size_t n)
{
    return copy(v, s, la, buf, n, false, false);
}
