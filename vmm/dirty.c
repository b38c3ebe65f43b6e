/* The dirty-page log of a guest: which pages of its RAM were written since
 * the last harvest. Vendor-neutral; the backends give only their leaf
 * format and the flush (struct hv_backend). Two ways to learn of a write:
 *  - write protection: every 4 KiB leaf loses its write bit; the guest's
 *    first write to a page faults (AMD #NPF, APM 15.25.6; Intel EPT
 *    violation, SDM 29.3.3), the core marks the page and gives the write
 *    bit back, so each page costs one exit per round;
 *  - D bits: where the CPU sets a dirty bit in the leaf (Intel EPT A/D,
 *    SDM 29.3.5), the guest runs at full speed and a harvest scans the
 *    leaves, clearing the bits it found;
 *  - a hardware log: where the CPU also logs the pages it sets D for
 *    (Intel PML, SDM 29.3.6), a harvest drains the logs and clears the D
 *    bits of just those pages, so nothing scans all of RAM.
 * Either way the 2 MiB leaves are split into 4 KiB ones while logging, so
 * a page is 4 KiB of traffic, not 2 MiB, and merged back when it stops.
 * Pages hopvm itself writes for the guest (string port input) are marked
 * by the one guest-memory write path (vmm/guest_mem.c: dirty_mark).
 *
 * Flushes: after write-protecting or clearing D bits the guest's cached
 * translations would let writes through unseen (a TLB entry keeps W, or
 * remembers that D is already set), and after reshaping the tables stale
 * 2 MiB entries could outlive their leaf: each such change here is
 * followed by hv()->flush_nested before the guest runs again. */
#include <hopvm/bitmap.h>
#include <hopvm/hv.h>
#include <hopvm/lib.h>
#include <hopvm/mem.h>
#include <hopvm/nested_pt.h>
#include <hopvm/vm.h>

#define NPT_W (1ull << 1) /* write permission: bit 1 of an NPT and of an EPT leaf */

/* The best way the log may use (debug builds can turn it down with the
 * `dirty-mode` command, so tests reach every way on the CPUs they have). */
enum dirty_mode dirty_best = DIRTY_HW_LOG;

const char *dirty_mode_name(enum dirty_mode m)
{
    static const char *const names[] = {
        [DIRTY_WRITE_PROTECT] = "write protection", [DIRTY_D_BITS] = "D bits", [DIRTY_HW_LOG] = "PML",
    };
    return names[m];
}

static uint64_t bitmap_pages(uint64_t npages) { return (BITMAP_WORDS(npages) * 8 + PAGE_SIZE - 1) / PAGE_SIZE; }

int dirty_start(struct vm *vm, char *err, size_t n)
{
    const struct hv_backend *b = hv();
    struct dirty_log *d = &vm->dirty;
    if (d->on)
        return ksnprintf(err, n, "dirty logging is already on for '%s'", vm->name), -1;
    if (!vm->ram || !vm->npt)
        return ksnprintf(err, n, "'%s' has no memory", vm->name), -1;
    d->npages = vm->ram_size / PAGE_SIZE;
    d->bitmap = page_alloc(bitmap_pages(d->npages), 0);
    if (!d->bitmap)
        return ksnprintf(err, n, "out of memory for the dirty bitmap of '%s'", vm->name), -1;
    if (nested_pt_split(vm->npt, vm->ram_size, b->npt_leaf) != 0) {
        nested_pt_merge(vm->npt, (uint64_t)(uintptr_t)vm->ram, vm->ram_size, b->npt_leaf);
        b->flush_nested(vm);
        page_free(d->bitmap, bitmap_pages(d->npages));
        d->bitmap = NULL;
        return ksnprintf(err, n, "out of memory for 4 KiB nested tables of '%s'", vm->name), -1;
    }
    uint64_t dbit = b->npt_dirty_bit && dirty_best != DIRTY_WRITE_PROTECT ? b->npt_dirty_bit() : 0;
    if (!dbit)
        d->mode = DIRTY_WRITE_PROTECT;
    else if (dirty_best == DIRTY_HW_LOG && b->hw_log && b->hw_log(vm, true))
        d->mode = DIRTY_HW_LOG;
    else
        d->mode = DIRTY_D_BITS;
    /* From here every write is seen: a page written before this point is
     * sent by the first round anyway. */
    nested_pt_clear_bits(vm->npt, vm->ram_size, dbit ? dbit : NPT_W);
    b->flush_nested(vm);
    d->faults = d->harvests = 0;
    d->on = true;
    return 0;
}

uint64_t dirty_harvest(struct vm *vm, uint64_t *out)
{
    const struct hv_backend *b = hv();
    struct dirty_log *d = &vm->dirty;
    if (!d->on)
        return 0;
    d->harvests++;
    if (d->mode == DIRTY_D_BITS) {
        nested_pt_collect_dirty(vm->npt, vm->ram_size, b->npt_dirty_bit(), d->bitmap);
        b->flush_nested(vm); /* a cached "D already set" would hide the next write */
        return bitmap_fetch_clear(out, d->bitmap, d->npages);
    }
    /* Write protection: the pages the log holds are writable again; take
     * them and protect them anew. Hardware log: take what the CPU logged,
     * and clear those pages' D bits so their next write is logged again. */
    uint64_t rearm = NPT_W;
    if (d->mode == DIRTY_HW_LOG) {
        b->hw_log_drain(vm);
        rearm = b->npt_dirty_bit();
    }
    uint64_t words = BITMAP_WORDS(d->npages), moved = 0;
    for (uint64_t w = 0; w < words; w++) {
        if (!__atomic_load_n(&d->bitmap[w], __ATOMIC_RELAXED))
            continue;
        uint64_t bits = __atomic_exchange_n(&d->bitmap[w], 0, __ATOMIC_ACQ_REL);
        out[w] |= bits;
        while (bits) {
            uint64_t gfn = w * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            uint64_t *leaf = nested_pt_leaf(vm->npt, gfn * PAGE_SIZE);
            if (leaf)
                __atomic_fetch_and(leaf, ~rearm, __ATOMIC_ACQ_REL);
            moved++;
        }
    }
    if (moved)
        b->flush_nested(vm);
    return moved;
}

void dirty_stop(struct vm *vm)
{
    const struct hv_backend *b = hv();
    struct dirty_log *d = &vm->dirty;
    if (!d->on)
        return;
    d->on = false;
    if (d->mode == DIRTY_HW_LOG)
        b->hw_log(vm, false);
    if (vm->npt) {
        nested_pt_merge(vm->npt, (uint64_t)(uintptr_t)vm->ram, vm->ram_size, b->npt_leaf);
        b->flush_nested(vm);
    }
    page_free(d->bitmap, bitmap_pages(d->npages));
    d->bitmap = NULL;
}

void dirty_mark(struct vm *vm, uint64_t gpa, uint64_t len)
{
    struct dirty_log *d = &vm->dirty;
    if (!d->on || !len || gpa >= vm->ram_size)
        return;
    uint64_t last = MIN(gpa + len - 1, vm->ram_size - 1);
    bitmap_set_range(d->bitmap, gpa / PAGE_SIZE, last / PAGE_SIZE - gpa / PAGE_SIZE + 1);
}

bool dirty_write_fault(struct vm *vm, uint64_t gpa)
{
    struct dirty_log *d = &vm->dirty;
    if (!d->on || d->mode != DIRTY_WRITE_PROTECT || gpa >= vm->ram_size)
        return false;
    uint64_t *leaf = nested_pt_leaf(vm->npt, gpa);
    if (!leaf)
        return false;
    /* Mark first, then allow the write: a harvest between the two finds
     * the page marked and protects it again, so the write faults anew
     * rather than slipping through unlogged. Raising a permission needs
     * no flush: the fault already dropped the stale translation (SDM
     * 29.4.3.3 for EPT violations; the #NPF is retried through the
     * tables on AMD, APM 15.25.6). */
    bitmap_set(d->bitmap, gpa / PAGE_SIZE);
    __atomic_fetch_or(leaf, NPT_W, __ATOMIC_ACQ_REL);
    d->faults++;
    return true;
}
