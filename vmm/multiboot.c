/* Multiboot v1 (Multiboot Specification 0.6.96): the header in the
 * kernel image (3.1), the a.out kludge, and the information structure with
 * memory map, command line and modules (3.3). Also used, unchanged, as
 * the boot information of ELF64 guests. */
#include <hopvm/lib.h>
#include "loader_internal.h"

#define MB_HEADER_MAGIC  0x1badb002u
#define MB_SEARCH_BYTES  8192
#define MB_FLAG_ALIGN    (1u << 0)
#define MB_FLAG_MEMINFO  (1u << 1)
#define MB_FLAG_VIDEO    (1u << 2)
#define MB_FLAG_AOUT     (1u << 16)
#define MB_FLAGS_KNOWN   (MB_FLAG_ALIGN | MB_FLAG_MEMINFO)
#define MB_INFO_MEM      (1u << 0)
#define MB_INFO_CMDLINE  (1u << 2)
#define MB_INFO_MODS     (1u << 3)
#define MB_INFO_MMAP     (1u << 6)
#define MB_INFO_LOADER   (1u << 9)
#define MB_MEM_AVAILABLE 1
#define MB_MEM_RESERVED  2
#define EBDA_START       0x9fc00ull
#define BIOS_END         0x100000ull

struct mb_header {
    uint32_t magic, flags, checksum;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; /* a.out kludge */
};

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
    uint32_t boot_loader_name;
};

struct __attribute__((packed)) mb_mmap {
    uint32_t size;
    uint64_t addr, len;
    uint32_t type;
};

struct mb_mod {
    uint32_t start, end, string, reserved;
};

long multiboot_header_find(const uint8_t *f, uint64_t size)
{
    uint64_t lim = MIN(size, (uint64_t)MB_SEARCH_BYTES);
    for (uint64_t off = 0; off + 12 <= lim; off += 4) {
        uint32_t w[3];
        memcpy(w, f + off, sizeof(w));
        if (w[0] == MB_HEADER_MAGIC && (uint32_t)(w[0] + w[1] + w[2]) == 0)
            return (long)off;
    }
    return -1;
}

static int aout_load(const struct guest_ram *ram, const uint8_t *f, uint64_t size, uint64_t hoff,
                     const struct mb_header *h, uint64_t *entry, uint64_t *end, char *err, size_t n)
{
    if (hoff + sizeof(*h) > size)
        return load_fail(err, n, "multiboot a.out header truncated");
    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > hoff)
        return load_fail(err, n, "multiboot header_addr/load_addr are inconsistent");
    uint64_t foff = hoff - (h->header_addr - h->load_addr);
    uint64_t fend = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr + foff : size;
    if (h->load_end_addr && h->load_end_addr < h->load_addr)
        return load_fail(err, n, "multiboot load_end_addr is below load_addr");
    if (fend > size)
        return load_fail(err, n, "multiboot image runs past the end of the file (truncated?)");
    uint64_t memsz = fend - foff;
    if (h->bss_end_addr) {
        if (h->bss_end_addr < h->load_addr + memsz)
            return load_fail(err, n, "multiboot bss_end_addr is below the loaded image");
        memsz = h->bss_end_addr - h->load_addr;
    }
    if (place(ram, h->load_addr, f + foff, fend - foff, memsz, err, n) != 0)
        return -1;
    if (h->entry_addr < h->load_addr || h->entry_addr >= h->load_addr + memsz)
        return load_fail(err, n, "multiboot entry 0x%x is outside the loaded image", h->entry_addr);
    *entry = h->entry_addr;
    *end = h->load_addr + memsz;
    return 0;
}

int multiboot_load(const struct guest_ram *ram, const uint8_t *f, uint64_t size, uint64_t *entry,
                   uint64_t *end, char *err, size_t n)
{
    long hoff = multiboot_header_find(f, size);
    struct mb_header h;
    memset(&h, 0, sizeof(h));
    memcpy(&h, f + hoff, MIN(sizeof(h), size - (uint64_t)hoff));
    uint32_t required = h.flags & 0xffff;
    if (required & MB_FLAG_VIDEO)
        return load_fail(err, n, "multiboot kernel requires a video mode; hopvm guests have none");
    if (required & ~MB_FLAGS_KNOWN)
        return load_fail(err, n, "multiboot kernel requires unknown features (flags 0x%x)", h.flags);
    if (h.flags & MB_FLAG_AOUT)
        return aout_load(ram, f, size, (uint64_t)hoff, &h, entry, end, err, n);
    if (elf_load(ram, f, size, 1, entry, end, err, n) != 0)
        return -1;
    if (*entry >= (1ull << 32) || *end > (1ull << 32))
        return load_fail(err, n, "multiboot kernel must lie below 4 GiB");
    return 0;
}

/* A bump allocator for strings in the information area. */
struct strpool {
    uint8_t *host;
    uint64_t next, end;
};

static uint32_t pool_str(struct strpool *p, const char *a, const char *b)
{
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    uint64_t need = la + (lb ? lb + 1 : 0) + 1;
    if (p->next + need > p->end)
        return 0;
    uint64_t at = p->next;
    memcpy(p->host + at, a, la);
    if (lb) {
        p->host[at + la] = ' ';
        memcpy(p->host + at + la + 1, b, lb);
    }
    p->host[at + need - 1] = 0;
    p->next += need;
    return (uint32_t)at;
}

int multiboot_info(const struct guest_ram *ram, const struct load_req *req, struct load_result *res,
                   char *err, size_t n)
{
    uint8_t *h = ram->host;
    struct mb_info info;
    memset(&info, 0, sizeof(info));
    /* Modules go after the kernel, each on a page boundary (flag 0 asks for it;
     * doing it always costs little). */
    uint64_t at = ALIGN_UP(res->image_end, PAGE_SIZE);
    struct mb_mod mods[LOADER_MAX_MODULES];
    uint64_t mmap_at = GUEST_INFO + 0x100, mods_at = GUEST_INFO + 0x200;
    struct strpool pool = {h, GUEST_INFO + 0x400, GUEST_INFO_END};
    for (unsigned i = 0; i < req->nmods; i++) {
        const struct load_file *m = &req->mods[i];
        if (m->size > ram->size || at > ram->size - m->size)
            return load_fail(err, n, "module '%s' (%lu KiB) does not fit in guest RAM", m->name, m->size >> 10);
        memcpy(h + at, m->data, m->size);
        mods[i].start = (uint32_t)at;
        mods[i].end = (uint32_t)(at + m->size);
        mods[i].string = pool_str(&pool, m->name, m->args && *m->args ? m->args : NULL);
        mods[i].reserved = 0;
        if (!mods[i].string)
            return load_fail(err, n, "module strings do not fit the information area");
        at = ALIGN_UP(at + m->size, PAGE_SIZE);
        if (at >= (1ull << 32))
            return load_fail(err, n, "modules must lie below 4 GiB");
    }
    res->image_end = at;
    memcpy(h + mods_at, mods, sizeof(mods[0]) * req->nmods);

    struct mb_mmap map[3] = {
        {20, 0, EBDA_START, MB_MEM_AVAILABLE},
        {20, EBDA_START, BIOS_END - EBDA_START, MB_MEM_RESERVED},
        {20, BIOS_END, ram->size - BIOS_END, MB_MEM_AVAILABLE},
    };
    memcpy(h + mmap_at, map, sizeof(map));

    info.flags = MB_INFO_MEM | MB_INFO_CMDLINE | MB_INFO_MMAP | MB_INFO_LOADER;
    info.mem_lower = EBDA_START >> 10;
    info.mem_upper = (uint32_t)MIN((ram->size - BIOS_END) >> 10, 0xffffffffull);
    info.cmdline = pool_str(&pool, req->cmdline ? req->cmdline : "", NULL);
    info.boot_loader_name = pool_str(&pool, "hopvm", NULL);
    if (!info.cmdline || !info.boot_loader_name)
        return load_fail(err, n, "command line does not fit the information area");
    info.mmap_addr = (uint32_t)mmap_at;
    info.mmap_length = sizeof(map);
    if (req->nmods) {
        info.flags |= MB_INFO_MODS;
        info.mods_count = req->nmods;
        info.mods_addr = (uint32_t)mods_at;
    }
    memcpy(h + GUEST_INFO, &info, sizeof(info));
    return 0;
}
