/* Kernel images: format detection, ELF program headers, and the long-mode
 * page tables and GDT. Every offset and size read from the file is checked
 * against the file and against guest RAM before use; the file is whatever
 * somebody copied onto a USB stick. Fuzzed (tests/fuzz/fuzz_loader.c). */
#include <hopvm/elf.h>
#include <hopvm/lib.h>
#include <hopvm/loader.h>
#include "loader_internal.h"
#include <stdbool.h>

int load_fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

int place(const struct guest_ram *ram, uint64_t gpa, const uint8_t *src, uint64_t filesz,
          uint64_t memsz, char *err, size_t n)
{
    if (filesz > memsz)
        return load_fail(err, n, "segment file size 0x%lx exceeds its memory size 0x%lx", filesz, memsz);
    if (gpa < GUEST_KERNEL_MIN)
        return load_fail(err, n, "segment at 0x%lx is below 1 MiB (reserved for the loader)", gpa);
    if (memsz > ram->size || gpa > ram->size - memsz)
        return load_fail(err, n, "segment 0x%lx-0x%lx is outside guest RAM (%lu MiB)", gpa,
                         gpa + memsz, ram->size >> 20);
    memcpy(ram->host + gpa, src, filesz);
    memset(ram->host + gpa + filesz, 0, memsz - filesz);
    return 0;
}

/* Reads the program headers of an ELF file of either class into a common
 * form, checking that they lie inside the file. */
static int elf_segments(const uint8_t *f, uint64_t size, int cls, struct seg *segs, unsigned *nsegs,
                        uint64_t *entry, char *err, size_t n)
{
    uint64_t phoff, phnum, phentsize, want;
    if (cls == ELFCLASS64) {
        struct elf64_ehdr h;
        memcpy(&h, f, sizeof(h));
        if (h.machine != EM_X86_64)
            return load_fail(err, n, "ELF64 machine %u is not x86-64", h.machine);
        phoff = h.phoff, phnum = h.phnum, phentsize = h.phentsize, want = sizeof(struct elf64_phdr);
        *entry = h.entry;
        if (h.type != ET_EXEC)
            return load_fail(err, n, "ELF type %u is not an executable", h.type);
    } else {
        struct elf32_ehdr h;
        memcpy(&h, f, sizeof(h));
        if (h.machine != EM_386)
            return load_fail(err, n, "ELF32 machine %u is not i386", h.machine);
        phoff = h.phoff, phnum = h.phnum, phentsize = h.phentsize, want = sizeof(struct elf32_phdr);
        *entry = h.entry;
        if (h.type != ET_EXEC)
            return load_fail(err, n, "ELF type %u is not an executable", h.type);
    }
    if (phentsize < want)
        return load_fail(err, n, "ELF program header size %lu is too small", phentsize);
    if (phoff > size || phnum > (size - phoff) / phentsize)
        return load_fail(err, n, "ELF program headers run past the end of the file (truncated?)");
    *nsegs = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *p = f + phoff + i * phentsize;
        struct seg s;
        uint32_t type;
        if (cls == ELFCLASS64) {
            struct elf64_phdr ph;
            memcpy(&ph, p, sizeof(ph));
            type = ph.type;
            s = (struct seg){ph.offset, ph.vaddr, ph.paddr, ph.filesz, ph.memsz};
        } else {
            struct elf32_phdr ph;
            memcpy(&ph, p, sizeof(ph));
            type = ph.type;
            s = (struct seg){ph.offset, ph.vaddr, ph.paddr, ph.filesz, ph.memsz};
        }
        if (type != PT_LOAD || s.memsz == 0)
            continue;
        if (*nsegs == MAX_SEGS)
            return load_fail(err, n, "more than %d loadable segments", MAX_SEGS);
        if (s.filesz > s.memsz)
            return load_fail(err, n, "segment %lu file size 0x%lx exceeds its memory size 0x%lx", i,
                             s.filesz, s.memsz);
        if (s.offset > size || s.filesz > size - s.offset)
            return load_fail(err, n, "segment %lu data runs past the end of the file (truncated?)", i);
        segs[(*nsegs)++] = s;
    }
    if (*nsegs == 0)
        return load_fail(err, n, "no loadable segments");
    return 0;
}

int elf_load(const struct guest_ram *ram, const uint8_t *f, uint64_t size, int want_class,
             uint64_t *entry, uint64_t *end, char *err, size_t n)
{
    if (size < 4 || memcmp(f, "\177ELF", 4))
        return load_fail(err, n, "not an ELF file (bad magic)");
    if (size < sizeof(struct elf64_ehdr))
        return load_fail(err, n, "ELF header truncated (%lu bytes)", size);
    if (f[EI_DATA] != ELFDATA2LSB)
        return load_fail(err, n, "ELF file is not little-endian");
    if (f[EI_CLASS] != want_class)
        return load_fail(err, n, "expected an ELF%d file", want_class == ELFCLASS64 ? 64 : 32);
    struct seg segs[MAX_SEGS];
    unsigned nsegs = 0;
    uint64_t vent = 0;
    if (elf_segments(f, size, want_class, segs, &nsegs, &vent, err, n) != 0)
        return -1;
    /* The entry is a virtual address; the guest starts with paging off
     * (multiboot) or identity-mapped (long mode), so use its physical twin. */
    bool found = false;
    *end = 0;
    for (unsigned i = 0; i < nsegs; i++) {
        const struct seg *s = &segs[i];
        if (place(ram, s->paddr, f + s->offset, s->filesz, s->memsz, err, n) != 0)
            return -1;
        if (!found && vent >= s->vaddr && vent - s->vaddr < s->memsz) {
            *entry = vent - s->vaddr + s->paddr;
            found = true;
        }
        *end = MAX(*end, s->paddr + s->memsz);
    }
    if (!found)
        return load_fail(err, n, "entry point 0x%lx is not inside a loaded segment", vent);
    return 0;
}

/* Identity map of 0-4 GiB with 2 MiB pages, and the GDT (SDM Vol.3A 4.5, 3.4.5). */
static void long_mode_tables(const struct guest_ram *ram)
{
    uint64_t *pml4 = (uint64_t *)(ram->host + GUEST_PML4);
    uint64_t *pdpt = (uint64_t *)(ram->host + GUEST_PDPT);
    memset(pml4, 0, PAGE_SIZE);
    memset(pdpt, 0, PAGE_SIZE);
    pml4[0] = GUEST_PDPT | 0x3; /* present, writable */
    for (uint64_t g = 0; g < 4; g++) {
        uint64_t *pd = (uint64_t *)(ram->host + GUEST_PD + g * PAGE_SIZE);
        pdpt[g] = (GUEST_PD + g * PAGE_SIZE) | 0x3;
        for (uint64_t i = 0; i < 512; i++)
            pd[i] = (g << 30) + (i << 21) + 0x83; /* present, writable, 2 MiB */
    }
}

static void write_gdt(const struct guest_ram *ram)
{
    uint64_t gdt[4] = {0, 0x00af9a000000ffffull, 0x00cf92000000ffffull, 0x00cf9a000000ffffull};
    memcpy(ram->host + GUEST_GDT, gdt, sizeof(gdt));
}

/* Linux's 64-bit boot protocol wants its code at 0x10 and data at 0x18
 * (boot.rst, "64-bit BOOT PROTOCOL"). */
void linux_gdt(const struct guest_ram *ram)
{
    uint64_t gdt[4] = {0, 0, 0x00af9a000000ffffull, 0x00cf92000000ffffull};
    memcpy(ram->host + GUEST_GDT, gdt, sizeof(gdt));
}

int loader_load(const struct guest_ram *ram, const struct load_req *req, struct load_result *res,
                char *err, size_t n)
{
    if (ram->size < GUEST_KERNEL_MIN * 2)
        return load_fail(err, n, "guest RAM of %lu KiB is too small (at least 2 MiB)", ram->size >> 10);
    if (req->nmods > LOADER_MAX_MODULES)
        return load_fail(err, n, "too many modules");
    const struct load_file *k = &req->kernel;
    if (k->size > ram->size)
        return load_fail(err, n, "kernel file of %lu KiB is bigger than guest RAM (%lu KiB)",
                         k->size >> 10, ram->size >> 10);
    memset(ram->host, 0, GUEST_KERNEL_MIN);
    write_gdt(ram);
    int r;
    if (bzimage_detect(k->data, k->size)) {
        if (bzimage_load(ram, req, res, err, n) != 0)
            return -1;
        long_mode_tables(ram);
        return 0;
    }
    if (req->initrd.data)
        return load_fail(err, n, "initrd = is for a Linux kernel (bzImage): multiboot kernels take module =");
    if (multiboot_header_find(k->data, k->size) >= 0) {
        res->mode = BOOT_MULTIBOOT32;
        r = multiboot_load(ram, k->data, k->size, &res->entry, &res->image_end, err, n);
    } else if (k->size >= 5 && !memcmp(k->data, "\177ELF", 4) && k->data[EI_CLASS] == ELFCLASS64) {
        res->mode = BOOT_LONG64;
        r = elf_load(ram, k->data, k->size, ELFCLASS64, &res->entry, &res->image_end, err, n);
        long_mode_tables(ram);
    } else {
        return load_fail(err, n, "unknown kernel format: not a Linux bzImage, no multiboot header, not an ELF64 file");
    }
    if (r != 0)
        return -1;
    res->info = GUEST_INFO;
    return multiboot_info(ram, req, res, err, n);
}
